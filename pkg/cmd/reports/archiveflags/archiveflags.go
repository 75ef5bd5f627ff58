package archiveflags

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/oci"
)

// The keys of the archive settings: flag names, keys of firedrill.yaml,
// and, upper-cased with FIREDRILL_ and underscores, environment variables.
const (
	// KeyArchive is where reports are archived (FIREDRILL_ARCHIVE).
	KeyArchive = "archive"
	// KeyUsername is the registry user (FIREDRILL_ARCHIVE_USERNAME).
	KeyUsername = "archive-username"
	// KeyPassword is the registry password. It has no flag, so it never
	// shows in a process list, and so no firedrill.yaml key (the file's
	// keys are the flags): FIREDRILL_ARCHIVE_PASSWORD only.
	KeyPassword = "archive-password"
	// KeyPlainHTTP forces plain HTTP (true) or HTTPS (false) to the
	// registry (FIREDRILL_ARCHIVE_PLAIN_HTTP).
	KeyPlainHTTP = "archive-plain-http"
	// KeyCredentials is a Docker config.json to read registry credentials
	// from (FIREDRILL_ARCHIVE_CREDENTIALS).
	KeyCredentials = "archive-credentials"
	// KeyReportDir is the old name of KeyArchive.
	KeyReportDir = "report-dir"
)

// DefaultDir is the default archive: $XDG_DATA_HOME/firedrill/reports, or
// ~/.local/share/firedrill/reports. Reports are data a team keeps, not
// state, and one place per user means drill reports finds every run
// whatever directory drill run ran in.
func DefaultDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "firedrill", "reports")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "firedrill", "reports")
	}
	return filepath.Join(os.TempDir(), "firedrill-reports")
}

// AddFlags adds the archive flags to a command.
func AddFlags(f *pflag.FlagSet) {
	f.String(KeyArchive, DefaultDir(), "where reports are archived: a directory (<dir>/<plan>/<run-id>/) or oci://host/repository (one artifact per run)")
	f.String(KeyUsername, "", "registry user for an oci:// archive; the password comes from FIREDRILL_ARCHIVE_PASSWORD (default: docker login's credentials)")
	f.String(KeyCredentials, "", "Docker config.json with registry credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
	f.Bool(KeyPlainHTTP, false, "speak plain HTTP to the registry (default: only to loopback registries)")
}

// AddReportDirAlias adds --report-dir, the old name of --archive, hidden
// and marked deprecated, for commands that had it (drill run).
func AddReportDirAlias(f *pflag.FlagSet) {
	f.String(KeyReportDir, "", "old name of --archive")
	_ = f.MarkHidden(KeyReportDir)
	_ = f.MarkDeprecated(KeyReportDir, "use --archive")
}

// Options are the archive settings.
type Options struct {
	// Location is a directory or oci://host/repository.
	Location string
	// Username and Password authenticate to a registry.
	Username string
	Password action.Secret
	// Credentials is a Docker config.json; empty means Docker's default.
	Credentials string
	// PlainHTTP is nil unless set: then plain HTTP for loopback only.
	PlainHTTP *bool
}

// FromViper reads the archive settings bound into v (flags, environment,
// firedrill.yaml). --report-dir is accepted for --archive; giving both is
// an error.
func FromViper(v *viper.Viper) (Options, error) {
	o := Options{
		Location: v.GetString(KeyArchive), Username: v.GetString(KeyUsername),
		Password: action.NewSecret(v.GetString(KeyPassword)), Credentials: v.GetString(KeyCredentials),
	}
	if v.IsSet(KeyReportDir) && v.GetString(KeyReportDir) != "" {
		if v.IsSet(KeyArchive) {
			return o, errors.New("give --archive or its old name --report-dir, not both")
		}
		o.Location = v.GetString(KeyReportDir)
	}
	if o.Location == "" {
		o.Location = DefaultDir()
	}
	if v.IsSet(KeyPlainHTTP) {
		b := v.GetBool(KeyPlainHTTP)
		o.PlainHTTP = &b
	}
	return o, nil
}

// Open opens the archive the options name; it touches nothing.
func (o Options) Open() (archive.Archive, error) {
	return archive.Open(o.Location, archive.Options{OCI: oci.Options{
		Username: o.Username, Password: o.Password, CredentialsFile: o.Credentials, PlainHTTP: o.PlainHTTP,
	}})
}
