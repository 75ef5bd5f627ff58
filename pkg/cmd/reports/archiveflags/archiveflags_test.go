package archiveflags_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/oci"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
)

// parse binds the archive flags, with the --report-dir alias, and the
// FIREDRILL_ environment into a viper, as the root command does.
func parse(t *testing.T, args ...string) (archiveflags.Options, error) {
	t.Helper()
	fs := pflag.NewFlagSet("drill run", pflag.ContinueOnError)
	archiveflags.AddFlags(fs)
	archiveflags.AddReportDirAlias(fs)
	require.NoError(t, fs.Parse(args))
	v := viper.New()
	v.SetEnvPrefix("FIREDRILL")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	require.NoError(t, v.BindPFlags(fs))
	return archiveflags.FromViper(v)
}

func TestDefaultIsAPerUserDataDirectory(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	require.Equal(t, "/data/firedrill/reports", archiveflags.DefaultDir())
	o, err := parse(t)
	require.NoError(t, err)
	require.Equal(t, "/data/firedrill/reports", o.Location)
	a, err := o.Open()
	require.NoError(t, err)
	require.IsType(t, &local.Archive{}, a)
}

func TestArchiveFlagsAndTheirOldName(t *testing.T) {
	o, err := parse(t, "--report-dir", "reports")
	require.NoError(t, err)
	require.Equal(t, "reports", o.Location, "--report-dir still works")
	_, err = parse(t, "--report-dir", "reports", "--archive", "other")
	require.EqualError(t, err, "give --archive or its old name --report-dir, not both")
	o, err = parse(t, "--archive", "oci://127.0.0.1:5000/drills")
	require.NoError(t, err)
	require.Nil(t, o.PlainHTTP, "unset: plain HTTP for loopback only")
	a, err := o.Open()
	require.NoError(t, err)
	require.IsType(t, &oci.Archive{}, a)
	o, err = parse(t, "--archive-plain-http=false")
	require.NoError(t, err)
	require.NotNil(t, o.PlainHTTP)
	require.False(t, *o.PlainHTTP)
}

func TestThePasswordComesFromTheEnvironmentAndNeverPrints(t *testing.T) {
	t.Setenv("FIREDRILL_ARCHIVE_PASSWORD", "s3cret")
	t.Setenv("FIREDRILL_ARCHIVE", filepath.Join("/srv", "reports"))
	o, err := parse(t, "--archive-username", "drill")
	require.NoError(t, err)
	require.Equal(t, "drill", o.Username)
	require.Equal(t, "s3cret", o.Password.Reveal())
	require.Equal(t, "/srv/reports", o.Location)
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", o, o, o), "s3cret")
}
