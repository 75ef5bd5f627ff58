package follow

import (
	"fmt"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/apiclient"
)

// Cluster says how to reach the cluster and which namespace to use.
type Cluster struct {
	// Kubeconfig and Context select the cluster as for platform
	// kubernetes: empty means $KUBECONFIG, ~/.kube/config, then in-cluster.
	Kubeconfig, Context string
	// Namespace holds the plans and runs; empty means the context's
	// namespace, else "default".
	Namespace string
}

// AddFlags adds the cluster flags.
func AddFlags(f *pflag.FlagSet) {
	f.String("kubeconfig", "", "kubeconfig of the cluster drill serve runs in (default $KUBECONFIG, ~/.kube/config, then in-cluster)")
	f.String("context", "", "kubeconfig context")
	f.StringP("namespace", "n", "", "namespace of the plan and its runs (default the context's namespace, else default)")
}

// FromViper reads the cluster flags bound into v.
func FromViper(v *viper.Viper) Cluster {
	return Cluster{Kubeconfig: v.GetString("kubeconfig"), Context: v.GetString("context"), Namespace: v.GetString("namespace")}
}

// Connect builds a client for DrillPlans and DrillRuns and resolves the
// namespace.
func Connect(c Cluster) (client.Client, string, error) {
	cfg, err := apiclient.RESTConfig(c.Kubeconfig, c.Context, 0, 0)
	if err != nil {
		return nil, "", err
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", fmt.Errorf("building the scheme: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	ns := c.Namespace
	if ns == "" {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = c.Kubeconfig
		ns, _, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.Context}).Namespace()
		if err != nil || ns == "" {
			ns = "default"
		}
	}
	return cl, ns, nil
}
