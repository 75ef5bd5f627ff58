// Package ociregistry embeds the CNCF distribution registry with filesystem
// storage as a firedrill model store. It runs in-process (tests, the local
// sandbox) or as the `recommender modelstore` command, listens on loopback
// only, and has no authentication: it is a drill fixture, not a production
// registry.
package ociregistry
