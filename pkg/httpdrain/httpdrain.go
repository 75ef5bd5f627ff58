package httpdrain

import (
	"net"
	"net/http"
	"sync"
)

// IdleConns tracks the connections of an http.Server that have not yet sent
// a request. The zero value is ready; set Track as the server's ConnState.
type IdleConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Track records a connection state change; use it as http.Server.ConnState.
func (c *IdleConns) Track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns == nil {
		c.conns = map[net.Conn]struct{}{}
	}
	if state == http.StateNew {
		c.conns[conn] = struct{}{}
	} else {
		delete(c.conns, conn)
	}
}

// CloseAll closes every connection that has not sent a request.
func (c *IdleConns) CloseAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		_ = conn.Close()
		delete(c.conns, conn)
	}
}
