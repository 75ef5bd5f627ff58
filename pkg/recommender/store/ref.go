package store

import (
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// Reference is a parsed artifact reference such as
// "127.0.0.1:5000/recommender:prod" or "127.0.0.1:5000/recommender@sha256:...".
type Reference struct {
	registry.Reference
}

// ParseReference parses an artifact reference. A reference must name a
// registry, a repository and either a tag or a digest.
func ParseReference(s string) (Reference, error) {
	s = strings.TrimPrefix(s, "oci://")
	r, err := registry.ParseReference(s)
	if err != nil {
		return Reference{}, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	if r.Reference == "" {
		return Reference{}, fmt.Errorf("parsing reference %q: a tag or digest is required", s)
	}
	return Reference{Reference: r}, nil
}

// IsDigest reports whether the reference pins a manifest digest.
func (r Reference) IsDigest() bool {
	return r.ValidateReferenceAsDigest() == nil
}
