// Package helmtest runs helm for tests: it finds the helm binaries
// hack/helm.sh builds (Helm v4 and v3, cached) and decodes what helm
// template renders.
package helmtest
