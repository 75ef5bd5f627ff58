package objects

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// WorkloadName names a workload in targets and capacity points:
// Kind/namespace/name.
func WorkloadName(r v1alpha1.WorkloadRef) string {
	return string(r.Kind) + "/" + r.Namespace + "/" + r.Name
}

// ParseWorkload reads a Kind/namespace/name name of a Deployment or
// StatefulSet.
func ParseWorkload(name string) (v1alpha1.WorkloadRef, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return v1alpha1.WorkloadRef{}, fmt.Errorf("workload %q is not Kind/namespace/name", name)
	}
	kind := v1alpha1.WorkloadKind(parts[0])
	if kind != v1alpha1.WorkloadDeployment && kind != v1alpha1.WorkloadStatefulSet {
		return v1alpha1.WorkloadRef{}, fmt.Errorf("workload %q: kind %s cannot be scaled", name, kind)
	}
	return v1alpha1.WorkloadRef{Kind: kind, Namespace: parts[1], Name: parts[2]}, nil
}

// DefaultRef completes a workload reference of a plan: the kind defaults
// to Deployment and the namespace to ns.
func DefaultRef(r v1alpha1.WorkloadRef, ns string) v1alpha1.WorkloadRef {
	if r.Kind == "" {
		r.Kind = v1alpha1.WorkloadDeployment
	}
	if r.Namespace == "" {
		r.Namespace = ns
	}
	return r
}

// SplitKey reads a namespace/name name.
func SplitKey(name string) (string, string, error) {
	ns, n, ok := strings.Cut(name, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("%q is not namespace/name", name)
	}
	return ns, n, nil
}

// PodKey is namespace/name.
func PodKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// SelectorOf converts a label selector; nil selects everything.
func SelectorOf(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return labels.Everything(), nil
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("invalid selector: %w", err)
	}
	return s, nil
}

// NamespaceAllowed checks a namespace against safety.namespaces.
func NamespaceAllowed(allowed []string, ns string) error {
	if slices.Contains(allowed, ns) {
		return nil
	}
	return fmt.Errorf("namespace %s is not in safety.namespaces %v", ns, allowed)
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// ObjectName is the name of an object firedrill creates for a fault:
// firedrill-<run>-<step>, made a DNS label of at most 63 characters. It is
// stable for the run and step, so that a repeated inject finds it.
func ObjectName(runID, step string) string {
	n := nonDNS.ReplaceAllString(strings.ToLower("firedrill-"+runID+"-"+step), "-")
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.Trim(n, "-")
}

// ShortName makes s a DNS label of at most limit characters; a longer one
// is cut and ends with a hash of the whole, so that names stay distinct.
func ShortName(s string, limit int) string {
	n := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(n) <= limit {
		return n
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:8]
	return strings.Trim(n[:limit-len(h)-1], "-") + "-" + h
}
