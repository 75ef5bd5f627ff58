package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
)

// ID is the id of the sandbox `drill sandbox up` runs; there is one at a
// time per state directory.
const ID = "up"

// options are the flags of the sandbox commands.
type options struct {
	stateDir   string
	background bool
	keepState  bool
	timeout    time.Duration
}

func (o *options) dir() string { return filepath.Join(o.stateDir, "sandbox", ID) }

// NewCommand returns `drill sandbox`.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run the local sandbox by hand: up, status, down",
		Long: `Keep one local sandbox running to explore it: the reference recommender as
real processes on simulated nodes in two regions, a model store per region
and a front door. drill run starts and stops its own sandbox; these commands
are for poking at one by hand (curl the front door, kill a replica, watch it
come back).`,
		Example: `  # Run a sandbox in the foreground until Ctrl-C
  drill sandbox up

  # ...or in the background, with the topology of a plan
  drill sandbox up --background drills/quickstart.yaml
  drill sandbox status
  curl "$(drill sandbox status --endpoint)/v1/recommendations?user=u1&k=5"
  drill sandbox down`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.stateDir, "state-dir", platforms.DefaultStateDir(), "directory for sandbox state and logs")
	cmd.AddCommand(newUpCommand(o), newStatusCommand(o), newDownCommand(o))
	return cmd
}

func newUpCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up [PLAN]",
		Short: "Start a sandbox (the topology of PLAN's target.local, or the defaults)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			if o.background {
				return upBackground(c.Context(), o, file, c.OutOrStdout())
			}
			return up(c.Context(), o, file, c.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.background, "background", false, "start the sandbox in a background process and return once it is ready")
	cmd.Flags().BoolVar(&o.keepState, "keep-state", false, "keep the stores' data and node caches after the sandbox stops")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long to wait for the sandbox to be ready (includes a first model build)")
	return cmd
}

// sandboxSpec reads target.local from a plan, or returns the defaults.
func sandboxSpec(ctx context.Context, file string) (*v1alpha1.LocalSandbox, error) {
	if file == "" {
		spec := &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformLocal}}
		v1alpha1.SetDefaults_DrillPlanSpec(spec)
		return spec.Target.Local, nil
	}
	plans, err := (&plan.Loader{}).Load(ctx, []string{file})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", file, err)
	}
	if len(plans) != 1 || plans[0].Spec.Target.Local == nil {
		return nil, fmt.Errorf("%s must hold one plan with target.platform local", file)
	}
	return plans[0].Spec.Target.Local, nil
}

// running returns the state of the sandbox when its process is alive.
func running(o *options) (local.State, bool) {
	st, err := local.ReadState(o.dir())
	if err != nil || st.Pid <= 0 || syscall.Kill(st.Pid, 0) != nil {
		return local.State{}, false
	}
	return st, true
}

func up(ctx context.Context, o *options, file string, w io.Writer) error {
	if st, ok := running(o); ok {
		return fmt.Errorf("a sandbox is already running (pid %d, %s); stop it with drill sandbox down", st.Pid, st.Endpoint)
	}
	if _, err := local.KillLeftovers(o.stateDir); err != nil {
		return err
	}
	sb, err := sandboxSpec(ctx, file)
	if err != nil {
		return err
	}
	p, err := local.New(local.Options{Sandbox: sb, StateDir: o.stateDir, ID: ID, KeepState: o.keepState, StartTimeout: o.timeout})
	if err != nil {
		return err
	}
	info, err := p.Start(ctx, evidence.Discard)
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if serr := p.Stop(stopCtx); serr != nil {
			log.FromContext(ctx).Error("stopping the sandbox", "err", serr)
		}
	}()
	if err != nil {
		return err
	}
	printInfo(w, info.Details)
	fmt.Fprintln(w, "sandbox ready; Ctrl-C (or drill sandbox down) stops it")
	<-ctx.Done()
	fmt.Fprintln(w, "stopping the sandbox")
	return nil
}

func printInfo(w io.Writer, d map[string]string) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-18s %s\n", k, d[k])
	}
}

// upBackground re-runs `drill sandbox up` detached and waits for it to be
// ready.
func upBackground(ctx context.Context, o *options, file string, w io.Writer) error {
	if st, ok := running(o); ok {
		return fmt.Errorf("a sandbox is already running (pid %d, %s); stop it with drill sandbox down", st.Pid, st.Endpoint)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable: %w", err)
	}
	if err := os.MkdirAll(o.dir(), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", o.dir(), err)
	}
	logPath := filepath.Join(o.stateDir, "sandbox", "up.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", logPath, err)
	}
	defer func() { _ = logf.Close() }()
	args := []string{"sandbox", "up", "--state-dir", o.stateDir, "--timeout", o.timeout.String()}
	if o.keepState {
		args = append(args, "--keep-state")
	}
	if file != "" {
		args = append(args, file)
	}
	cmd := exec.Command(exe, args...) //nolint:gosec // re-runs this binary.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the background sandbox: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(w, "starting a sandbox in the background (pid %d, log %s)\n", cmd.Process.Pid, logPath)
	deadline := time.Now().Add(o.timeout + 30*time.Second)
	for {
		if st, err := local.ReadState(o.dir()); err == nil && st.Ready && st.Pid == cmd.Process.Pid {
			printState(ctx, w, st)
			return nil
		}
		select {
		case err := <-exited:
			data, _ := os.ReadFile(logPath) //nolint:gosec // our log.
			return fmt.Errorf("the background sandbox exited (%w):\n%s", err, data)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("waiting for the background sandbox: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return errors.New("the background sandbox did not become ready in time; see " + logPath)
		}
	}
}

func printState(ctx context.Context, w io.Writer, st local.State) {
	fmt.Fprintf(w, "sandbox %s (pid %d)\n", st.ID, st.Pid)
	fmt.Fprintf(w, "  front door   %s\n", st.Endpoint)
	fmt.Fprintf(w, "  control API  %s\n", st.Control)
	regions := make([]string, 0, len(st.Stores))
	for r := range st.Stores {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		fmt.Fprintf(w, "  store %-7s  %s\n", r, st.Stores[r])
	}
	fmt.Fprintf(w, "  model        %s\n", st.Model)
	fmt.Fprintf(w, "  logs         %s\n", st.Logs)
	if st.Control == "" {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	fs, err := (&frontdoor.Client{Base: st.Control}).State(cctx)
	if err != nil {
		fmt.Fprintf(w, "  front door state unavailable: %v\n", err)
		return
	}
	fmt.Fprintf(w, "  traffic      %s (mode %s, primary %s)\n", orNone(fs.Active), fs.Mode, fs.Primary)
	for _, r := range fs.Regions {
		fmt.Fprintf(w, "  region %s\n", r.Name)
		for _, b := range r.Backends {
			h := "not ready"
			if b.Healthy {
				h = "ready"
			}
			fmt.Fprintf(w, "    %-28s %-24s %s\n", b.Name, b.URL, h)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func newStatusCommand(o *options) *cobra.Command {
	var endpointOnly bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running sandbox's endpoints and replicas",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, ok := running(o)
			if !ok {
				return errors.New("no sandbox is running (start one with drill sandbox up)")
			}
			if endpointOnly {
				fmt.Fprintln(c.OutOrStdout(), st.Endpoint)
				return nil
			}
			printState(c.Context(), c.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&endpointOnly, "endpoint", false, "print only the front door's URL")
	return cmd
}

func newDownCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the running sandbox",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, ok := running(o)
			if !ok {
				if _, err := local.KillLeftovers(o.stateDir); err != nil {
					return err
				}
				fmt.Fprintln(c.OutOrStdout(), "no sandbox is running")
				return nil
			}
			if err := syscall.Kill(st.Pid, syscall.SIGTERM); err != nil {
				return fmt.Errorf("stopping the sandbox (pid %d): %w", st.Pid, err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for syscall.Kill(st.Pid, 0) == nil {
				if time.Now().After(deadline) {
					_ = syscall.Kill(st.Pid, syscall.SIGKILL)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := local.KillLeftovers(o.stateDir); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "sandbox %s (pid %d) stopped\n", st.ID, st.Pid)
			return nil
		},
	}
}
