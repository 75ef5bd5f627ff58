// Package imagebuild assembles firedrill's container image without a Docker
// daemon: a static drill binary on an empty base with a CA bundle, a nonroot
// user (65532) and OCI labels, as an OCI image (one platform) or an image
// index (several). It writes an OCI image layout, pushes to a registry, and
// inspects and verifies an image read back from one.
//
// Images are reproducible: every timestamp in them is Options.Created (the
// commit's time, or SOURCE_DATE_EPOCH), the layer tars are written in a fixed
// order with fixed owners, so one binary and one CA bundle always give one
// digest. `make image` drives it through hack/image.
package imagebuild
