package framework

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

const (
	// nodeReadyTimeout bounds how long kwok may take to make a node Ready.
	nodeReadyTimeout = time.Minute
)

// NodeSpec describes a simulated node.
type NodeSpec struct {
	// Name is the node name. Empty means node-<region>-<n>.
	Name string
	// Region and Zone become topology.kubernetes.io/region and .../zone;
	// an empty one is not set.
	Region, Zone string
	// GPUs is the node's nvidia.com/gpu capacity. With more than zero the
	// node is labelled nvidia.com/gpu.present=true.
	GPUs int
	// CPU and Memory are capacity quantities. Empty means "32" and "256Gi".
	CPU, Memory string
}

// Node returns the Node object for s, before kwok has seen it.
func (s NodeSpec) Node() (*corev1.Node, error) {
	cpu, mem := s.CPU, s.Memory
	if cpu == "" {
		cpu = "32"
	}
	if mem == "" {
		mem = "256Gi"
	}
	capacity := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
	var err error
	if capacity[corev1.ResourceCPU], err = resource.ParseQuantity(cpu); err != nil {
		return nil, fmt.Errorf("node %s: cpu %q: %w", s.Name, cpu, err)
	}
	if capacity[corev1.ResourceMemory], err = resource.ParseQuantity(mem); err != nil {
		return nil, fmt.Errorf("node %s: memory %q: %w", s.Name, mem, err)
	}
	labels := map[string]string{
		corev1.LabelHostname:   s.Name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
		"type":                 "kwok",
	}
	if s.Region != "" {
		labels[corev1.LabelTopologyRegion] = s.Region
	}
	if s.Zone != "" {
		labels[corev1.LabelTopologyZone] = s.Zone
	}
	if s.GPUs < 0 {
		return nil, fmt.Errorf("node %s: negative GPU count %d", s.Name, s.GPUs)
	}
	if s.GPUs > 0 {
		labels[workloads.GPUPresentLabel] = "true"
		capacity[workloads.GPUResource] = *resource.NewQuantity(int64(s.GPUs), resource.DecimalSI)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.Name,
			Labels:      labels,
			Annotations: map[string]string{workloads.KwokNodeAnnotation: "fake"},
		},
		Spec: corev1.NodeSpec{
			Taints: []corev1.Taint{{Key: workloads.KwokNodeAnnotation, Value: "fake", Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Phase:       corev1.NodeRunning,
		},
	}, nil
}

// AddNodes creates one node per spec and waits until kwok reports each
// Ready. It returns the node names in the order of specs.
func (c *Cluster) AddNodes(ctx context.Context, tb testing.TB, specs ...NodeSpec) []string {
	tb.Helper()
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if s.Name == "" {
			c.mu.Lock()
			c.nodeSeq++
			s.Name = "node-" + s.Region + "-" + strconv.Itoa(c.nodeSeq)
			c.mu.Unlock()
		}
		node, err := s.Node()
		if err != nil {
			tb.Fatalf("adding nodes: %v", err)
		}
		status := node.Status
		created, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			tb.Fatalf("creating node %s: %v", s.Name, err)
		}
		// The API server may drop status on create; set capacity
		// explicitly so that the scheduler sees the GPUs.
		if created.Status.Capacity.Name(workloads.GPUResource, resource.DecimalSI).Value() != int64(s.GPUs) {
			created.Status.Capacity, created.Status.Allocatable = status.Capacity, status.Allocatable
			if _, err := c.Clientset.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				tb.Fatalf("setting capacity of node %s: %v", s.Name, err)
			}
		}
		names = append(names, s.Name)
	}
	for _, name := range names {
		err := poll(ctx, nodeReadyTimeout, func(ctx context.Context) (bool, error) {
			n, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return NodeReady(n), nil
		})
		if err != nil {
			tb.Fatalf("waiting for node %s to become Ready: %v\n%s", name, err, c.LogTail(compKwok))
		}
	}
	return names
}

// NodeReady reports whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
