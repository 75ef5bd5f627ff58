package apiclient

import (
	"fmt"
	"net/http"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// NewScheme is the scheme of the platform's clients and cache: client-go's
// types, the Chaos Mesh kinds and the Gateway API v1 kinds.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering client-go types: %w", err)
	}
	if err := chaosv1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering Chaos Mesh types: %w", err)
	}
	if err := gatewayv1.Install(s); err != nil {
		return nil, fmt.Errorf("registering Gateway API types: %w", err)
	}
	return s, nil
}

// Clients are the clients of one cluster. They are built from one
// configuration and share one HTTP client (so one connection pool and one
// request counter), one REST mapper and one rate limiter.
type Clients struct {
	// Config is the configuration they were built from, instrumented.
	Config *rest.Config
	// HTTPClient is the HTTP client they share.
	HTTPClient *http.Client
	// Mapper maps kinds to resources, discovering groups as they are used.
	Mapper meta.RESTMapper
	// Scheme knows every type the platform reads or writes.
	Scheme *runtime.Scheme
	// Client is controller-runtime's client without a cache: every read
	// goes to the API server (it is the platform's APIReader) and every
	// write carries the field manager firedrill.
	Client client.Client
	// Clientset serves what only client-go's typed clients can:
	// k8s.io/kubectl/pkg/drain and discovery.
	Clientset kubernetes.Interface
	// Counter counts every request of all of them.
	Counter *Counter
}

// New instruments cfg (request counting and one shared rate limiter of
// cfg.QPS and cfg.Burst, see Counter.Instrument) and builds the clients.
// It does not contact the cluster: the REST mapper discovers groups on
// first use. cfg is modified; pass a copy.
func New(cfg *rest.Config, clk clock.PassiveClock) (*Clients, error) {
	qps, burst := cfg.QPS, cfg.Burst
	if cfg.RateLimiter != nil {
		qps, burst = cfg.RateLimiter.QPS(), 0 // a limiter given by the caller does not tell its burst
	}
	counter := NewCounter(clk, qps, burst)
	counter.Instrument(cfg)
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building HTTP client: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building REST mapper: %w", err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: hc, Scheme: scheme, Mapper: mapper, FieldOwner: marks.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("building controller-runtime client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("building clientset: %w", err)
	}
	return &Clients{Config: cfg, HTTPClient: hc, Mapper: mapper, Scheme: scheme, Client: c, Clientset: cs, Counter: counter}, nil
}
