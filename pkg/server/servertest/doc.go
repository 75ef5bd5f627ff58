// Package servertest holds test doubles of pkg/server's interfaces that
// more than one package's tests use: an Authorizer that keeps what it is
// asked.
package servertest
