package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the server-side apply field manager of everything this
// package applies.
const FieldOwner = client.FieldOwner("firedrill-e2e")

// InstallCRDs applies every CustomResourceDefinition in config/crd/bases
// with server-side apply, waits until each is Established and until the
// client can map its kinds.
func (c *Cluster) InstallCRDs(ctx context.Context, tb testing.TB) {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("installing CRDs: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("installing CRDs: no files in config/crd/bases (err %v)", err)
	}
	c.ApplyCRDs(ctx, tb, files...)
}

// ApplyCRDs applies the CustomResourceDefinitions in files with
// server-side apply, waits until each is Established and until the client
// can map its kinds.
func (c *Cluster) ApplyCRDs(ctx context.Context, tb testing.TB, files ...string) {
	tb.Helper()
	var crds []*unstructured.Unstructured
	for _, f := range files {
		objs, err := ReadObjects(f)
		if err != nil {
			tb.Fatalf("installing CRDs: %v", err)
		}
		crds = append(crds, objs...)
	}
	c.applyCRDObjects(ctx, tb, crds)
}

// applyCRDObjects applies CRDs and waits until each is established and
// every served version maps through discovery.
func (c *Cluster) applyCRDObjects(ctx context.Context, tb testing.TB, crds []*unstructured.Unstructured) {
	tb.Helper()
	for _, u := range crds {
		if err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), FieldOwner, client.ForceOwnership); err != nil {
			tb.Fatalf("applying CRD %s: %v", u.GetName(), err)
		}
	}
	for _, u := range crds {
		name := u.GetName()
		err := poll(ctx, componentTimeout, func(ctx context.Context) (bool, error) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
				return false, err
			}
			if !crdEstablished(&crd) {
				return false, nil
			}
			for _, v := range crd.Spec.Versions {
				if !v.Served {
					continue
				}
				gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
				if _, err := c.Client.RESTMapper().RESTMapping(gk, v.Name); err != nil {
					return false, nil //nolint:nilerr // discovery catches up shortly after Established
				}
			}
			return true, nil
		})
		if err != nil {
			tb.Fatalf("waiting for CRD %s to be established: %v", name, err)
		}
	}
}

// crdEstablished reports whether a CRD's Established condition is True.
func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established {
			return cond.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// ReadObjects decodes every object of a (multi-document) YAML or JSON file,
// skipping empty documents.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading objects: %w", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}
