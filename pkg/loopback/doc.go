// Package loopback answers one question two ways: does an address stay on
// this machine? Host says whether a host (a name or an IP, with or without
// a port) names this machine, as a client decides to speak plain HTTP to a
// local registry or to skip compression to a local API server. Listen says
// whether a listen address binds loopback only, as a server decides it may
// run without credentials: only a literal loopback IP does, since a name
// (localhost included) resolves as the system says.
package loopback
