package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/imagebuild"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		epoch       string
		wantCreated time.Time
		wantPlats   []string
		wantErr     string
	}{
		{
			name:        "binaries for several platforms and an explicit time",
			args:        []string{"--binary", "linux/amd64=a", "--binary", "linux/arm64=b", "--version", "v1", "--revision", "c", "--created", "2026-12-07T14:30:00Z"},
			epoch:       "1",
			wantCreated: time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC),
			wantPlats:   []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:        "SOURCE_DATE_EPOCH when no time is given",
			args:        []string{"--binary", "linux/amd64=a"},
			epoch:       "1796653800",
			wantCreated: time.Unix(1796653800, 0),
			wantPlats:   []string{"linux/amd64"},
		},
		{name: "the epoch when neither is given", args: []string{"--binary", "linux/amd64=a"}, wantPlats: []string{"linux/amd64"}},
		{name: "a binary without a platform is refused", args: []string{"--binary", "bin/drill"}, wantErr: `"bin/drill" is not PLATFORM=PATH`},
		{name: "a malformed time is refused", args: []string{"--created", "yesterday"}, wantErr: "--created"},
		{name: "a malformed SOURCE_DATE_EPOCH is refused", epoch: "soon", wantErr: "SOURCE_DATE_EPOCH"},
		{name: "stray arguments are refused", args: []string{"extra"}, wantErr: `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard, tt.epoch)
			var opts imagebuild.Options
			if err == nil {
				opts, err = o.imageOptions()
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.wantCreated.Equal(opts.Created), "created %s, want %s", opts.Created, tt.wantCreated)
			var plats []string
			for _, b := range opts.Binaries {
				plats = append(plats, b.Platform.String())
			}
			require.Equal(t, tt.wantPlats, plats)
			require.Equal(t, "/etc/ssl/certs/ca-certificates.crt", opts.CACerts, "Debian's bundle by default")
		})
	}
}

// TestRunVerify runs what make image-verify runs, on a stand-in binary:
// build, write the layout, build again, push to the embedded registry, pull
// back and verify.
func TestRunVerify(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "drill")
	require.NoError(t, os.WriteFile(bin, []byte("drill"), 0o755))
	dir := filepath.Join(t.TempDir(), "image")
	o, err := parseFlags([]string{
		"--binary", "linux/amd64=" + bin,
		"--ca-certs", "../../pkg/imagebuild/testdata/ca-certificates.crt",
		"--version", "v0.3.0", "--revision", "4d01b1f", "--created", "2026-12-07T14:30:00Z",
		"--layout", dir, "--verify",
	}, io.Discard, "")
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), o, &out))
	require.Contains(t, out.String(), "reproducible: a second build gives sha256:")
	require.Regexp(t, `pushed 127\.0\.0\.1:\d+/firedrill/drill:v0\.3\.0@sha256:`, out.String())
	require.Contains(t, out.String(), "verified 127.0.0.1:")
	require.Contains(t, out.String(), "linux/amd64 sha256:")
	_, err = layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
}
