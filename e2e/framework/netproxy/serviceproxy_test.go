package netproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestPickBackendFollowsKubeProxy(t *testing.T) {
	ready := backend{addr: "r", ready: true, serving: true}
	term := backend{addr: "t", serving: true, terminating: true}
	dead := backend{addr: "d", terminating: true}
	unready := backend{addr: "u"}
	first := func(int) int { return 0 }
	tests := []struct {
		name string
		bs   []backend
		want string
	}{
		{"a ready endpoint is preferred to a terminating one", []backend{term, ready}, "r"},
		{"with none ready, a serving terminating one takes traffic", []backend{unready, dead, term}, "t"},
		{"with neither, the connection is rejected", []backend{unready, dead}, ""},
		{"no endpoints", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := pickBackend(tt.bs, first)
			require.Equal(t, tt.want != "", ok)
			require.Equal(t, tt.want, b.addr)
		})
	}
}

func TestPickWeighted(t *testing.T) {
	ref := func(name string, w *int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name)}, Weight: w}}
	}
	refs := []gatewayv1.HTTPBackendRef{ref("east", ptr.To[int32](80)), ref("west", ptr.To[int32](20))}
	counts := map[string]int{}
	for n := range 100 {
		r, ok := pickWeighted(refs, func(int) int { return n })
		require.True(t, ok)
		counts[string(r.Name)]++
	}
	require.Equal(t, map[string]int{"east": 80, "west": 20}, counts, "each backend gets its share of the weight")
	_, ok := pickWeighted([]gatewayv1.HTTPBackendRef{ref("east", ptr.To[int32](0)), ref("west", ptr.To[int32](0))}, func(int) int { return 0 })
	require.False(t, ok, "all weights 0: no backend")
	r, ok := pickWeighted([]gatewayv1.HTTPBackendRef{ref("only", nil)}, func(int) int { return 0 })
	require.True(t, ok, "an unset weight is 1")
	require.Equal(t, "only", string(r.Name))
}

func TestMatchRule(t *testing.T) {
	prefix := gatewayv1.PathMatchPathPrefix
	exact := gatewayv1.PathMatchExact
	rt := &gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{
		{Name: ptr.To(gatewayv1.SectionName("model")), Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: ptr.To("/v1/model")}}}},
		{Name: ptr.To(gatewayv1.SectionName("v1")), Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr.To("/v1/")}}}},
	}}}
	tests := []struct{ path, want string }{
		{"/v1/model", "model"},
		{"/v1/recommendations", "v1"},
		{"/v1", "v1"},
		{"/v10", ""},
		{"/healthz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r, ok := matchRule(rt, tt.path)
			require.Equal(t, tt.want != "", ok)
			if ok {
				require.Equal(t, tt.want, string(*r.Name))
			}
		})
	}
	r, ok := matchRule(&gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{}}}}, "/anything")
	require.True(t, ok, "a rule without matches matches every path")
	require.Empty(t, r.Matches)
}

// TestServiceProxyForwardsToTheEndpointSlices runs the proxy against a
// fake API with real sockets: a server on an endpoint's loopback image
// answers through the Service's address, and a Service without ready
// endpoints resets the connection.
func TestServiceProxyForwardsToTheEndpointSlices(t *testing.T) {
	ctx := t.Context()
	// A "pod" at 10.201.7.9, served on its image 127.201.7.9.
	ln, err := net.Listen("tcp", "127.201.7.9:0")
	require.NoError(t, err)
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pod") }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	slice := func(ready bool) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{"10.201.7.9"},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
			}},
		}
	}
	cs := fake.NewClientset(svc, slice(true))
	p, err := NewServiceProxy(ServiceProxyOptions{Clientset: cs})
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })

	addr := p.Addr("ns", "web", 80)
	require.NotEmpty(t, addr)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, "pod", string(body))
	require.Equal(t, "web-1", p.Connections("ns/web")[0].Pod)

	host, hostPort, _ := net.SplitHostPort(addr)
	require.Equal(t, map[string]string{"WEB_SERVICE_HOST": host, "WEB_SERVICE_PORT": hostPort, "WEB_SERVICE_PORT_HTTP": hostPort}, p.ServiceEnv("ns"))
	require.Empty(t, p.ServiceEnv("other"))

	_, err = cs.DiscoveryV1().EndpointSlices("ns").Update(ctx, slice(false), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := hc.Get("http://" + addr + "/")
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "a Service without a ready endpoint rejects connections")

	require.NoError(t, cs.CoreV1().Services("ns").Delete(ctx, "web", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return p.Addr("ns", "web", 80) == "" }, 5*time.Second, 20*time.Millisecond, "a deleted Service loses its listener")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err)
}
