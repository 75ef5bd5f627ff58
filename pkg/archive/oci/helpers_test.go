package oci_test

import (
	"os/exec"

	specs "github.com/opencontainers/image-spec/specs-go"
)

func ocispecVersioned() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }

func sha256sumCheck(dir string) (string, error) {
	cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
