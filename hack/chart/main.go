// Command chart generates the parts of the Helm chart charts/firedrill that
// come from the code, so that they never drift from it:
//
//	chart rbac --role ROLE.yaml --leader-election-role ROLE.yaml --markers DIR,... --out TEMPLATE
//	    splits the ClusterRole controller-gen generated from the
//	    +kubebuilder:rbac markers into the rule sets the chart's RBAC
//	    templates include (rbac.go);
//	chart values-doc --schema values.schema.json --doc docs/install.md
//	    rewrites the values table of the install guide from the chart's
//	    JSON schema (valuesdoc.go).
//
// `make chart` runs both; `make verify` fails when their output drifts.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: chart rbac|values-doc [flags]")
	}
	fs := flag.NewFlagSet("chart "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "rbac":
		role := fs.String("role", "", "the ClusterRole controller-gen rbac wrote from every marker of drill serve's code")
		leader := fs.String("leader-election-role", "", "the ClusterRole controller-gen rbac wrote from the leader election's markers")
		markers := fs.String("markers", "", "comma-separated directories whose Go files hold +firedrill:rbac:clusterwide markers")
		out := fs.String("out", "charts/firedrill/templates/_rbac.tpl", "the template to write")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return writeRBAC(*role, *leader, splitList(*markers), *out)
	case "values-doc":
		schema := fs.String("schema", "charts/firedrill/values.schema.json", "the chart's values schema")
		doc := fs.String("doc", "docs/install.md", "the document whose values table to rewrite")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return writeValuesDoc(*schema, *doc)
	default:
		return fmt.Errorf("unknown command %q: want rbac or values-doc", args[0])
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
