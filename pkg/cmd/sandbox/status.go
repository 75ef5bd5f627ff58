package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
)

// Status is the document `drill sandbox status -o json|yaml` prints.
type Status struct {
	// ID is the sandbox's id; PID the drill process that runs it.
	ID  string `json:"id"`
	PID int    `json:"pid"`
	// Ready is false while the sandbox is still starting.
	Ready bool `json:"ready"`
	// Endpoints are where to reach the sandbox.
	Endpoints Endpoints `json:"endpoints"`
	// Model is the version of the model the replicas serve.
	Model string `json:"model"`
	// Logs is the directory of every process's log.
	Logs string `json:"logs"`
	// Traffic is where the front door sends requests; absent when its
	// state is unavailable (Error says why).
	Traffic *Traffic `json:"traffic,omitempty"`
	// Regions in the front door's failover order, each with its store
	// and replicas.
	Regions []Region `json:"regions"`
	// Error says why the front door's state (traffic, replicas) is
	// missing.
	Error string `json:"error,omitempty"`
}

// Endpoints are the sandbox's URLs.
type Endpoints struct {
	// FrontDoor is the URL requests go to.
	FrontDoor string `json:"frontDoor"`
	// Control is the front door's control API (GET /v1/state, POST
	// /v1/switch).
	Control string `json:"control"`
}

// Traffic is the front door's routing.
type Traffic struct {
	// Active is the region receiving traffic; empty when none is ready.
	Active string `json:"active"`
	// Mode is auto (failover by health) or manual (pinned).
	Mode string `json:"mode"`
	// Primary is the preferred region; Pinned the region of manual mode.
	Primary string `json:"primary"`
	Pinned  string `json:"pinned,omitempty"`
}

// Region is one region of the sandbox.
type Region struct {
	// Name of the region.
	Name string `json:"name"`
	// Store is the address of the region's model store.
	Store string `json:"store,omitempty"`
	// Replicas are the region's recommender replicas behind the front
	// door.
	Replicas []Replica `json:"replicas"`
}

// The phases of a replica.
const (
	// PhaseReady: the front door's last health check passed.
	PhaseReady = "Ready"
	// PhaseNotReady: it failed; the front door sends the replica nothing.
	PhaseNotReady = "NotReady"
)

// Replica is one recommender replica.
type Replica struct {
	// Name of the replica (recommender-<region>-<n>).
	Name string `json:"name"`
	// URL is its base URL.
	URL string `json:"url"`
	// Phase is Ready or NotReady.
	Phase string `json:"phase"`
}

func newStatusCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running sandbox's endpoints and replicas",
		Long: `Show the running sandbox: its front door and control API, the model, the
log directory, where traffic goes, and each region's store and replicas
with their phase (Ready or NotReady). With -o json or -o yaml it is one
document: id, pid, ready, endpoints (frontDoor, control), model, logs,
traffic (active, mode, primary, pinned), regions (name, store, replicas
with name, url, phase) and error, set when the front door could not be
asked.

--endpoint prints only the front door's URL: a bare line, or with -o json
or yaml that URL as a JSON or YAML string.`,
		Example: `  drill sandbox status
  drill sandbox status -o json | jq '.regions[].replicas[] | select(.phase != "Ready")'
  curl "$(drill sandbox status --endpoint)/v1/sample?n=3"`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			o := fromViper(v, c)
			st, ok := running(o)
			if !ok {
				return errors.New("no sandbox is running (start one with drill sandbox up)")
			}
			if v.GetBool("endpoint") {
				return output.Write(o.stdout, format, st.Endpoint, func(w io.Writer) error {
					_, err := fmt.Fprintln(w, st.Endpoint)
					return err
				})
			}
			s := status(c.Context(), st)
			return output.Write(o.stdout, format, s, s.writeText)
		},
	}
	cmd.Flags().Bool("endpoint", false, "print only the front door's URL")
	output.AddFlag(cmd.Flags())
	return cmd
}

// status describes a sandbox from its state file and its front door's
// state.
func status(ctx context.Context, st local.State) Status {
	s := Status{
		ID: st.ID, PID: st.Pid, Ready: st.Ready, Model: st.Model, Logs: st.Logs,
		Endpoints: Endpoints{FrontDoor: st.Endpoint, Control: st.Control}, Regions: []Region{},
	}
	if st.Control == "" {
		s.Error = "the front door has no control API yet"
	} else {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		fs, err := (&frontdoor.Client{Base: st.Control}).State(cctx)
		if err != nil {
			s.Error = err.Error()
		} else {
			s.Traffic = &Traffic{Active: fs.Active, Mode: string(fs.Mode), Primary: fs.Primary, Pinned: fs.Pinned}
			for _, r := range fs.Regions {
				reg := Region{Name: r.Name, Store: st.Stores[r.Name], Replicas: []Replica{}}
				for _, b := range r.Backends {
					phase := PhaseNotReady
					if b.Healthy {
						phase = PhaseReady
					}
					reg.Replicas = append(reg.Replicas, Replica{Name: b.Name, URL: b.URL, Phase: phase})
				}
				s.Regions = append(s.Regions, reg)
			}
		}
	}
	// Regions the front door does not know (yet) still have a store.
	names := make([]string, 0, len(st.Stores))
	for r := range st.Stores {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		if !slices.ContainsFunc(s.Regions, func(reg Region) bool { return reg.Name == r }) {
			s.Regions = append(s.Regions, Region{Name: r, Store: st.Stores[r], Replicas: []Replica{}})
		}
	}
	return s
}

// writeText writes the status for people.
func (s Status) writeText(w io.Writer) error {
	fmt.Fprintf(w, "sandbox %s (pid %d)", s.ID, s.PID)
	if !s.Ready {
		fmt.Fprint(w, ", starting")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  front door   %s\n", s.Endpoints.FrontDoor)
	fmt.Fprintf(w, "  control API  %s\n", s.Endpoints.Control)
	for _, r := range s.Regions {
		if r.Store != "" {
			fmt.Fprintf(w, "  store %-7s  %s\n", r.Name, r.Store)
		}
	}
	fmt.Fprintf(w, "  model        %s\n", s.Model)
	fmt.Fprintf(w, "  logs         %s\n", s.Logs)
	if s.Error != "" {
		fmt.Fprintf(w, "  front door state unavailable: %s\n", s.Error)
	}
	if s.Traffic != nil {
		fmt.Fprintf(w, "  traffic      %s (mode %s, primary %s", orNone(s.Traffic.Active), s.Traffic.Mode, s.Traffic.Primary)
		if s.Traffic.Pinned != "" {
			fmt.Fprintf(w, ", pinned %s", s.Traffic.Pinned)
		}
		fmt.Fprintln(w, ")")
	}
	for _, r := range s.Regions {
		if s.Traffic == nil {
			break // without the front door's state there are no replicas to list
		}
		fmt.Fprintf(w, "  region %s\n", r.Name)
		for _, b := range r.Replicas {
			h := "not ready"
			if b.Phase == PhaseReady {
				h = "ready"
			}
			fmt.Fprintf(w, "    %-28s %-24s %s\n", b.Name, b.URL, h)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
