package loopback_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/loopback"
)

func TestHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.1:5000", true},
		{"127.8.9.10:80", true},
		{"localhost", true},
		{"LocalHost:5000", true},
		{"::1", true},
		{"[::1]:5000", true},
		{"[::1]", true},
		{"", false},
		{"0.0.0.0:80", false},
		{"10.0.0.1", false},
		{"registry.example.com:5000", false},
		{"localhost.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			require.Equal(t, tt.want, loopback.Host(tt.host))
		})
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8090", true},
		{"127.0.0.1:0", true},
		{"[::1]:8090", true},
		{":8090", false},
		{"0.0.0.0:8090", false},
		{"localhost:8090", false},
		{"127.0.0.1", false},
		{"10.1.2.3:8090", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			require.Equal(t, tt.want, loopback.Listen(tt.addr))
		})
	}
}
