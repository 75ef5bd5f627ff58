package sums_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/report"
)

func set() []report.File {
	return []report.File{{Name: "report.json", Data: []byte("{}\n")}, {Name: "junit.xml", Data: []byte("<testsuites/>\n")}}
}

func TestComputeIsSha256sumFormatSortedByName(t *testing.T) {
	require.Equal(t, ""+
		"ccacac3cd5303b2f3c2bb26ee0838b3aa409173a473fd700062b1cd787d5d1b8  junit.xml\n"+
		"ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356  report.json\n", string(sums.Compute(set())))
}

func TestSha256sumChecksTheManifest(t *testing.T) {
	bin, err := exec.LookPath("sha256sum")
	require.NoError(t, err, "coreutils' sha256sum is part of every Debian system")
	dir := t.TempDir()
	files := set()
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, sums.FileName), sums.Compute(files), 0o644))
	cmd := exec.Command(bin, "-c", sums.FileName)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "junit.xml: OK\nreport.json: OK\n", string(out))
}

func TestVerify(t *testing.T) {
	manifest := sums.Compute(set())
	tests := []struct {
		name    string
		files   func() []report.File
		wantErr []string
	}{
		{name: "an intact set verifies, the manifest among its files", files: func() []report.File {
			return append(set(), report.File{Name: sums.FileName, Data: manifest})
		}},
		{name: "a changed file is a mismatch naming it", files: func() []report.File {
			fs := set()
			fs[0].Data = []byte("{\"tampered\": true}\n")
			return fs
		}, wantErr: []string{"report.json: checksum mismatch: SHA256SUMS says ca3d163bab05…"}},
		{name: "a missing file is named", files: func() []report.File { return set()[:1] }, wantErr: []string{"junit.xml is missing"}},
		{name: "an extra file is named", files: func() []report.File {
			return append(set(), report.File{Name: "evil.html", Data: []byte("x")})
		}, wantErr: []string{"evil.html is not listed in SHA256SUMS"}},
		{name: "every problem is reported at once", files: func() []report.File {
			fs := set()[:1]
			fs[0].Data = nil
			return fs
		}, wantErr: []string{"report.json: checksum mismatch", "junit.xml is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sums.Verify(manifest, tt.files())
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.wantErr {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestParseRefusesMalformedManifests(t *testing.T) {
	sum := "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"
	tests := []struct {
		name, manifest, wantErr string
	}{
		{"an empty manifest lists nothing", "", "lists no files"},
		{"a line without two spaces", sum + " report.json\n", "line 1: not"},
		{"an upper-case digest", "CA3D163BAB055381827226140568F3BEF7EAAC187CEBD76878E0B63E9E442356  report.json\n", "not a lower-case sha256"},
		{"a path with a directory", sum + "  ../etc/passwd\n", "not a file name"},
		{"a name listed twice", sum + "  a\n" + sum + "  a\n", "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sums.Parse([]byte(tt.manifest))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	got, err := sums.Parse([]byte(sum + " *binary.bin\n"))
	require.NoError(t, err, "sha256sum's binary mode is accepted")
	require.Equal(t, []sums.Sum{{Name: "binary.bin", SHA256: sum}}, got)
}

func TestDigestIsTheManifestsSha256(t *testing.T) {
	require.Equal(t, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sums.Digest(nil))
}
