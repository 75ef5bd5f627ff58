// Package pki writes the credentials of one framework cluster: a CA, the
// API server's serving certificate signed by it, the service account
// signing key and the static admin token.
package pki
