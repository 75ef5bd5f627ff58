package oci_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/oci"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func drill(plan string, i int) *report.Report {
	return archivetest.Drill(archivetest.DrillOptions{
		Plan: plan, RunID: fmt.Sprintf("%s-2026120%d-030000-000-%04x", plan, 1+i, i), Start: t0.Add(time.Duration(i) * 24 * time.Hour),
		Duration: 2 * time.Minute, Rate: 20, Faults: 2, Seed: uint64(i),
	})
}

func set(t *testing.T, r *report.Report) (index.Entry, []report.File) {
	t.Helper()
	files, err := archive.Files(r, nil)
	require.NoError(t, err)
	return index.FromReport(r), files
}

// fast retries, so the tests of a registry that goes away take
// milliseconds.
func fast(o oci.Options) oci.Options {
	o.Backoff = 20 * time.Millisecond
	o.AttemptTimeout = 10 * time.Second
	return o
}

func open(t *testing.T, loc string, o oci.Options) *oci.Archive {
	t.Helper()
	a, err := oci.New(loc, fast(o))
	require.NoError(t, err)
	return a
}

func TestPushOneArtifactPerRunWithAnnotations(t *testing.T) {
	ctx := context.Background()
	reg := archivetest.Registry(t)
	a := open(t, "oci://"+reg.Addr()+"/firedrill/reports", oci.Options{})
	require.Equal(t, "oci://"+reg.Addr()+"/firedrill/reports", a.String())
	require.NoError(t, a.Check(ctx))

	r := drill("nightly", 1)
	e, files := set(t, r)
	got, err := a.Put(ctx, e, files)
	require.NoError(t, err)
	require.Equal(t, reg.Addr()+"/firedrill/reports:"+r.RunID, got.Path)
	require.True(t, strings.HasPrefix(got.Digest, "sha256:"))

	// Read it back with oras alone, as an auditor would.
	repo, err := remote.NewRepository(reg.Addr() + "/firedrill/reports")
	require.NoError(t, err)
	repo.PlainHTTP = true
	desc, rc, err := repo.FetchReference(ctx, r.RunID)
	require.NoError(t, err)
	data, err := content.ReadAll(rc, desc)
	require.NoError(t, rc.Close())
	require.NoError(t, err)
	require.Equal(t, got.Digest, desc.Digest.String(), "the recorded digest is the manifest's")
	var m ocispec.Manifest
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, oci.ArtifactType, m.ArtifactType)
	require.Equal(t, map[string]string{
		oci.AnnotationPlan: "nightly", oci.AnnotationRunID: r.RunID, oci.AnnotationPhase: string(r.Phase), oci.AnnotationVerdict: string(r.Verdict),
		oci.AnnotationStartTime: "2026-12-02T03:00:00Z", ocispec.AnnotationCreated: "2026-12-02T03:00:00Z",
	}, m.Annotations)
	var titles []string
	for _, l := range m.Layers {
		titles = append(titles, l.Annotations[ocispec.AnnotationTitle])
	}
	require.Equal(t, []string{"report.md", "junit.xml", "report.json", "report.html", "SHA256SUMS"}, titles)
	require.Equal(t, oci.EntryMediaType, m.Config.MediaType)

	back, err := a.Get(ctx, got)
	require.NoError(t, err)
	require.Equal(t, files, back)
	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Equal(t, []index.Entry{got}, idx.Runs)
}

func TestPutIsIdempotentAndEvidenceIsNeverOverwritten(t *testing.T) {
	ctx := context.Background()
	reg := archivetest.Registry(t)
	a := open(t, "oci://"+reg.Addr()+"/drills", oci.Options{})
	r := drill("nightly", 1)
	e, files := set(t, r)
	first, err := a.Put(ctx, e, files)
	require.NoError(t, err)
	again, err := a.Put(ctx, e, files)
	require.NoError(t, err)
	require.Equal(t, first, again)

	forged := *r
	forged.Verdict = "Pass"
	forged.Phase = "Succeeded"
	forged.Message = "nothing to see here"
	fe, ffiles := set(t, &forged)
	_, err = a.Put(ctx, fe, ffiles)
	require.ErrorIs(t, err, oci.ErrExists)
	require.ErrorContains(t, err, "archived evidence is never overwritten")
}

func TestGetDetectsReplacedEvidence(t *testing.T) {
	ctx := context.Background()
	reg := archivetest.Registry(t)
	loc := "oci://" + reg.Addr() + "/drills"
	a := open(t, loc, oci.Options{})
	r := drill("nightly", 1)
	e, files := set(t, r)
	stored, err := a.Put(ctx, e, files)
	require.NoError(t, err)

	// Someone with push rights deletes the artifact and pushes another
	// under the same tag.
	require.NoError(t, a.Delete(ctx, []index.Entry{stored}))
	forged := *r
	forged.Message = "rewritten"
	fe, ffiles := set(t, &forged)
	_, err = a.Put(ctx, fe, ffiles)
	require.NoError(t, err)

	_, err = a.Get(ctx, stored)
	require.ErrorContains(t, err, "the tag now names sha256:")
	require.ErrorContains(t, err, "not the archived "+stored.Digest+": the evidence was replaced")
	var pr index.Problem
	require.ErrorAs(t, err, &pr)
}

func TestIndexSelectAndProblems(t *testing.T) {
	ctx := context.Background()
	reg := archivetest.Registry(t)
	loc := "oci://" + reg.Addr() + "/drills"
	a := open(t, loc, oci.Options{})
	for i := range 6 {
		plan := []string{"nightly", "quarterly"}[i%2]
		e, files := set(t, drill(plan, i))
		_, err := a.Put(ctx, e, files)
		require.NoError(t, err)
	}
	// Other artifacts in the repository are ignored; a report artifact
	// whose config is not an index entry is a problem.
	repo, err := remote.NewRepository(reg.Addr() + "/drills")
	require.NoError(t, err)
	repo.PlainHTTP = true
	pushRaw(ctx, t, repo, "model-v1", "application/vnd.firedrill.model.v1", "application/vnd.firedrill.model.config.v1+json", []byte(`{}`))
	pushRaw(ctx, t, repo, "nightly-broken", oci.ArtifactType, "application/json", []byte(`{}`))

	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 6)
	require.Equal(t, []index.Problem{{Path: reg.Addr() + "/drills:nightly-broken", Reason: "corrupt report: its config is application/json, not an index entry"}}, idx.Problems)

	got, err := a.Select(ctx, index.Query{Plan: "nightly", Last: 2})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, drill("nightly", 2).RunID, got[0].RunID)
	require.Equal(t, drill("nightly", 4).RunID, got[1].RunID)
	got, err = a.Select(ctx, index.Query{Plan: "nightly", Last: 1, Before: drill("nightly", 4).StartTime.Time})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, drill("nightly", 2).RunID, got[0].RunID, "the newest run that started before")

	// drill serve's runs in a cluster are run <namespace>.<name>: a query
	// for the plan finds them beside the others.
	for i, ns := range []string{"recsys", "search"} {
		r := drill("nightly", 10+i)
		r.RunID = ns + "." + r.RunID
		e, files := set(t, r)
		_, err := a.Put(ctx, e, files)
		require.NoError(t, err)
	}
	got, err = a.Select(ctx, index.Query{Plan: "nightly", Last: 3})
	require.NoError(t, err)
	require.Equal(t, []string{drill("nightly", 4).RunID, "recsys." + drill("nightly", 10).RunID, "search." + drill("nightly", 11).RunID},
		[]string{got[0].RunID, got[1].RunID, got[2].RunID})
	got, err = a.Select(ctx, index.Query{Plan: "nightly", Last: 1, Before: drill("nightly", 11).StartTime.Time})
	require.NoError(t, err)
	require.Equal(t, "recsys."+drill("nightly", 10).RunID, got[0].RunID)
}

func pushRaw(ctx context.Context, t *testing.T, repo *remote.Repository, tag, artifactType, configType string, config []byte) {
	t.Helper()
	cd := content.NewDescriptorFromBytes(configType, config)
	require.NoError(t, repo.Push(ctx, cd, bytes.NewReader(config)))
	m, err := json.Marshal(ocispec.Manifest{
		Versioned: ocispecVersioned(), MediaType: ocispec.MediaTypeImageManifest, ArtifactType: artifactType,
		Config: cd, Layers: []ocispec.Descriptor{},
	})
	require.NoError(t, err)
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m)
	require.NoError(t, repo.PushReference(ctx, md, bytes.NewReader(m), tag))
}

func TestTagKeepsAnyRunIDValidAndUnique(t *testing.T) {
	require.Equal(t, "quickstart-20261207-120101-123-7f3a", oci.Tag("quickstart-20261207-120101-123-7f3a"))
	long := strings.Repeat("a", 140)
	require.Len(t, oci.Tag(long), 127)
	require.NotEqual(t, oci.Tag(long), oci.Tag(long+"b"))
	require.Regexp(t, `^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`, oci.Tag("-weird/run:id"))
}

func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	addr := archivetest.AuthRegistry(t, "drill", "s3cret")
	loc := "oci://" + addr + "/drills"
	e, files := set(t, drill("nightly", 1))

	t.Run("without credentials the check fails before anything is touched, and says what to do", func(t *testing.T) {
		a := open(t, loc, oci.Options{CredentialsFile: filepath.Join(t.TempDir(), "none.json")})
		err := a.Check(ctx)
		require.EqualError(t, err, "archive "+loc+": the registry asks for credentials and none were given: "+
			"give --archive-username and FIREDRILL_ARCHIVE_PASSWORD, or log in with `docker login "+addr+"`")
		_, err = a.Put(ctx, e, files)
		require.ErrorContains(t, err, "failed after 1 attempts")
		require.ErrorContains(t, err, "basic credential not found")
	})
	t.Run("a wrong password fails the check and a push is not retried", func(t *testing.T) {
		a := open(t, loc, oci.Options{Username: "drill", Password: action.NewSecret("guess"), Attempts: 5, Backoff: time.Hour})
		require.ErrorContains(t, a.Check(ctx), "refused the credentials (401 Unauthorized): check --archive-username and the password")
		start := time.Now()
		_, err := a.Put(ctx, e, files)
		require.ErrorContains(t, err, "failed after 1 attempts")
		require.ErrorContains(t, err, "401")
		require.Less(t, time.Since(start), time.Minute, "a refusal is not retried")
	})
	t.Run("the right password pushes and reads", func(t *testing.T) {
		a := open(t, loc, oci.Options{Username: "drill", Password: action.NewSecret("s3cret")})
		require.NoError(t, a.Check(ctx))
		got, err := a.Put(ctx, e, files)
		require.NoError(t, err)
		back, err := a.Get(ctx, got)
		require.NoError(t, err)
		require.Equal(t, files, back)
	})
	t.Run("credentials from a docker config.json, as docker login writes them", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte("drill:s3cret"))
		require.NoError(t, os.WriteFile(cfg, []byte(`{"auths":{"`+addr+`":{"auth":"`+auth+`"}}}`), 0o600))
		a := open(t, loc, oci.Options{CredentialsFile: cfg})
		require.NoError(t, a.Check(ctx))
		idx, err := a.Index(ctx)
		require.NoError(t, err)
		require.Len(t, idx.Runs, 1)
	})
	t.Run("the password never prints", func(t *testing.T) {
		o := oci.Options{Username: "drill", Password: action.NewSecret("s3cret")}
		require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", o, o, o, o.Password), "s3cret")
	})
}

// logs captures the warnings Put logs between attempts.
func logs(ctx context.Context) (context.Context, *bytes.Buffer) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return log.IntoContext(ctx, l), &buf
}

func TestARegistryThatGoesAwayMidUploadIsRetriedThenTheReportIsKeptLocally(t *testing.T) {
	ctx, buf := logs(context.Background())
	reg := archivetest.Registry(t)
	proxy := archivetest.NewProxy(t, reg.Addr())
	a := open(t, "oci://"+proxy.Addr()+"/drills", oci.Options{PlainHTTP: ptrTo(true), Attempts: 3})
	require.NoError(t, a.Check(ctx))

	r := drill("nightly", 1)
	// The registry dies 40 kB into the upload: inside report.html or
	// report.json, whichever goes first.
	proxy.CutAfter(40<<10, func() { _ = reg.Stop(context.Background()) })
	keep := filepath.Join(t.TempDir(), "state", "reports")
	st, err := archive.Store(ctx, a, r, archive.StoreOptions{KeepDir: keep})

	var kept *archive.KeptError
	require.ErrorAs(t, err, &kept)
	dir := filepath.Join(keep, "nightly", r.RunID)
	require.Equal(t, dir, kept.Dir)
	require.Contains(t, err.Error(), "the report could not be stored in oci://"+proxy.Addr()+"/drills: pushing the report to oci://"+proxy.Addr()+"/drills failed after 3 attempts:")
	require.True(t, strings.HasSuffix(err.Error(), "; it is kept at "+dir), err.Error())
	require.True(t, st.Kept)
	require.Equal(t, filepath.Join(dir, "report.html"), st.HTML)
	require.Equal(t, 1, proxy.Cuts())
	require.GreaterOrEqual(t, proxy.Sent(), int64(40<<10))
	require.Equal(t, 2, strings.Count(buf.String(), "pushing the report failed; retrying"), buf.String())

	// The kept set is complete and verifies.
	for _, name := range []string{"report.json", "report.md", "junit.xml", "report.html", sums.FileName} {
		require.FileExists(t, filepath.Join(dir, name))
	}
	cmdOut, err := sha256sumCheck(dir)
	require.NoError(t, err, cmdOut)
}

func TestARegistryThatComesBackGetsTheWholeReport(t *testing.T) {
	ctx, buf := logs(context.Background())
	reg := archivetest.Registry(t)
	proxy := archivetest.NewProxy(t, reg.Addr())
	a := open(t, "oci://"+proxy.Addr()+"/drills", oci.Options{PlainHTTP: ptrTo(true), Attempts: 6})
	e, files := set(t, drill("nightly", 1))
	proxy.CutAfter(40<<10, func() {
		time.Sleep(100 * time.Millisecond)
		proxy.Resume(t)
	})
	got, err := a.Put(ctx, e, files)
	require.NoError(t, err)
	require.Equal(t, 1, proxy.Cuts())
	require.Contains(t, buf.String(), "pushing the report failed; retrying")
	back, err := a.Get(ctx, got)
	require.NoError(t, err, "the artifact is complete: every layer verifies")
	require.Equal(t, files, back)
}

func ptrTo[T any](v T) *T { return &v }
