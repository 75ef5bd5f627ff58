package version

import (
	"runtime"
	"runtime/debug"
)

// Set at build time with -ldflags "-X github.com/firedrill/firedrill/pkg/version.Version=...".
var (
	// Version is the release version, "dev" for untagged builds.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = ""
	// Date is when the binary was built (RFC 3339).
	Date = ""
)

// Info describes a build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's Info, filling the commit from the Go build
// information when ldflags did not set it.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info.Commit == "" {
		info.Commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && s.Value != "" {
					info.Commit = s.Value
				}
			}
		}
	}
	return info
}
