package podnet_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/e2e/framework/podnet"
)

func TestLoopbackImage(t *testing.T) {
	tests := []struct {
		name, ip, want, err string
	}{
		{name: "a private pod IP maps to 127 with the same low octets", ip: "10.77.12.5", want: "127.77.12.5"},
		{name: "a loopback pod IP has no image", ip: "127.42.0.3", err: "already a loopback address"},
		{name: "IPv6 is not supported", ip: "fd00::1", err: "only IPv4"},
		{name: "garbage is refused", ip: "pod", err: "pod IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := podnet.LoopbackImage(tt.ip)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRandomPodCIDR(t *testing.T) {
	for range 200 {
		cidr, err := podnet.RandomPodCIDR()
		require.NoError(t, err)
		require.NoError(t, podnet.CheckProcessPodCIDR(cidr))
		p := netip.MustParsePrefix(cidr)
		require.Equal(t, 22, p.Bits())
		require.True(t, netip.MustParsePrefix("10.64.0.0/10").Contains(p.Addr()) || netip.MustParsePrefix("10.128.0.0/9").Contains(p.Addr()), cidr)
	}
	require.ErrorContains(t, podnet.CheckProcessPodCIDR(framework.DefaultPodCIDR), "outside 127.0.0.0/8")
	require.ErrorContains(t, podnet.CheckProcessPodCIDR("10.0.3.0/24"), "127.0.0.1")
}
