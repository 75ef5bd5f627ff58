// Package httpdrain makes http.Server shutdowns fast: it tracks connections
// that have not sent a request yet, which http.Server.Shutdown would wait for
// up to five seconds (a client may dial ahead and never use the connection),
// so that a stopping server can close them at once.
package httpdrain
