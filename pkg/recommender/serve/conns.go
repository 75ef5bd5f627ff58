package serve

import (
	"net"
	"net/http"
	"sync"
)

// newConns tracks connections that have not yet sent a request.
// http.Server.Shutdown waits up to five seconds for such connections (a
// client may have dialled ahead and never used the connection), which would
// stretch every drain; Stop closes them at once instead, since no request is
// in flight on them.
type newConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (c *newConns) track(conn net.Conn, state http.ConnState) {
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

func (c *newConns) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		_ = conn.Close()
		delete(c.conns, conn)
	}
}
