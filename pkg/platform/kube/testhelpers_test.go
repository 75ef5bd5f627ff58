package kube

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/metadata"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/utils/ptr"
)

// nodeOpt and podOpt adjust test objects.
type (
	nodeOpt func(*corev1.Node)
	podOpt  func(*corev1.Pod)
)

func node(name, region string, cpu, mem string, gpus int64, opts ...nodeOpt) *corev1.Node {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
	}
	lbls := map[string]string{LabelRegion: region}
	if gpus > 0 {
		alloc[ResourceGPU] = *resource.NewQuantity(gpus, resource.DecimalSI)
		lbls[LabelGPUPresent] = "true"
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Status: corev1.NodeStatus{
			Allocatable: alloc, Capacity: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func tainted(key string) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: "fake", Effect: corev1.TaintEffectNoSchedule})
	}
}

func annotatedNode(ann map[string]string) nodeOpt {
	return func(n *corev1.Node) { n.Annotations = ann }
}

func pod(ns, name, nodeName, cpu, mem string, gpus int64, opts ...podOpt) corev1.Pod {
	req := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
	}
	if gpus > 0 {
		req[ResourceGPU] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "recommender"}},
		Spec: corev1.PodSpec{
			NodeName:   nodeName,
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func pinned(region string) podOpt {
	return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{LabelRegion: region} }
}

func tolerating(key string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}

func daemonSetPod(p *corev1.Pod) {
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet", Name: "ds", Controller: ptr.To(true)}}
}

func labelled(k, v string) podOpt {
	return func(p *corev1.Pod) { p.Labels[k] = v }
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }

// fakeMetadata is a metadata client holding the metadata of the pods among
// objs, which the platform deletes pods through.
func fakeMetadata(objs ...runtime.Object) metadata.Interface {
	var pods []runtime.Object
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok {
			pods = append(pods, &metav1.PartialObjectMetadata{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: *pod.ObjectMeta.DeepCopy(),
			})
		}
	}
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		panic(err) // a fixed registration; it cannot fail
	}
	return metadatafake.NewSimpleMetadataClient(scheme, pods...)
}
