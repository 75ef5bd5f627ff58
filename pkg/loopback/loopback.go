package loopback

import (
	"net"
	"strings"
)

// Host reports whether host, with or without a port, is localhost or a
// loopback IP (127.0.0.0/8, ::1).
func Host(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listen reports whether a listen address (host:port) binds loopback
// only: its host is a literal loopback IP. An empty host (":8090"),
// 0.0.0.0, and any name bind beyond it.
func Listen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
