package podnet

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/netip"
)

// The pod network of a process-backed cluster.
//
// The API server refuses an EndpointSlice whose endpoint address is a
// loopback address ("may not be in the loopback range", the same rule as
// for Endpoints), so with kwok's pod IPs in 127.0.0.0/8 the EndpointSlice
// controller writes no slice at all and nothing can follow a Service the
// way kube-proxy does. A process-backed cluster therefore gives its pods
// ordinary private IPs (10.a.b.0/22 by default, picked at random so that
// clusters of test binaries running side by side on one machine do not
// share addresses), and the node agent binds each pod's process to the
// pod IP's loopback image: the same address with its first octet replaced
// by 127 (10.77.12.5 → 127.77.12.5), which Linux serves on lo without any
// configuration. The image plays the part of the pod's network namespace;
// every address a pod's process is given (its own, through the downward
// API) is an image, and the service proxy dials the image of each
// endpoint the EndpointSlice controller reports.

// NodeIP is the InternalIP of every kwok node; it lies outside the pod
// CIDR so that no pod shares its node's address.
const NodeIP = "127.0.0.1"

// LoopbackImage returns the loopback address that stands for ip on this
// machine: ip with its first octet replaced by 127. ip must be IPv4 and
// not already a loopback address.
func LoopbackImage(ip string) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", fmt.Errorf("pod IP %q: %w", ip, err)
	}
	if !a.Is4() {
		return "", fmt.Errorf("pod IP %s: only IPv4 pod IPs have a loopback image", ip)
	}
	if a.IsLoopback() {
		return "", fmt.Errorf("pod IP %s is already a loopback address: a process-backed cluster needs a PodCIDR outside 127.0.0.0/8", ip)
	}
	b := a.As4()
	b[0] = 127
	return netip.AddrFrom4(b).String(), nil
}

// RandomPodCIDR returns a /22 in 10.0.0.0/8 whose loopback image avoids
// 127.0.0.0/16 (where 127.0.0.1, the node IP, and the test servers live).
// Two clusters started with it, in one test binary or in two, almost never
// share addresses (one chance in about 12,000).
func RandomPodCIDR() (string, error) {
	a, err := rand.Int(rand.Reader, big.NewInt(190)) // second octet 64..253
	if err != nil {
		return "", fmt.Errorf("choosing a pod CIDR: %w", err)
	}
	b, err := rand.Int(rand.Reader, big.NewInt(64)) // third octet 0, 4, ..., 252
	if err != nil {
		return "", fmt.Errorf("choosing a pod CIDR: %w", err)
	}
	return fmt.Sprintf("10.%d.%d.0/22", 64+a.Int64(), 4*b.Int64()), nil
}

// CheckProcessPodCIDR checks that the pods of cidr have loopback images.
func CheckProcessPodCIDR(cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("pod CIDR %q: %w", cidr, err)
	}
	if _, err := LoopbackImage(p.Addr().String()); err != nil {
		return err
	}
	if p.Addr().As4()[1] == 0 {
		return fmt.Errorf("pod CIDR %s: its loopback image would hold 127.0.0.1, the node IP", cidr)
	}
	return nil
}
