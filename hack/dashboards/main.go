// Command dashboards writes firedrill's Grafana dashboard, built as code
// in pkg/dashboards, to a JSON file: `make dashboards` writes
// charts/firedrill/dashboards/firedrill.json.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/dashboards"
)

func main() {
	out := flag.String("o", "charts/firedrill/dashboards/firedrill.json", "where to write the dashboard JSON")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	b, err := dashboards.JSON()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}
