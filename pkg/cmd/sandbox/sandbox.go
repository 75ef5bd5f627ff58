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
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform/local"
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
	// stdout receives the result, stderr progress.
	stdout, stderr io.Writer
}

func (o *options) dir() string { return filepath.Join(o.stateDir, "sandbox", ID) }

// fromViper reads the flags bound into v.
func fromViper(v *viper.Viper, c *cobra.Command) *options {
	return &options{
		stateDir: v.GetString("state-dir"), background: v.GetBool("background"), keepState: v.GetBool("keep-state"),
		timeout: v.GetDuration("timeout"), stdout: c.OutOrStdout(), stderr: c.ErrOrStderr(),
	}
}

// NewCommand returns `drill sandbox`. Its flags are read through v, so
// firedrill.yaml and FIREDRILL_* apply as to every other command.
func NewCommand(v *viper.Viper) *cobra.Command {
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
  drill sandbox status -o json
  curl "$(drill sandbox status --endpoint)/v1/recommendations?user=u1&k=5"
  drill sandbox down`,
	}
	cmd.PersistentFlags().String("state-dir", platforms.DefaultStateDir(), "directory for sandbox state and logs")
	cmd.AddCommand(newUpCommand(v), newStatusCommand(v), newDownCommand(v))
	return cmd
}

func newUpCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up [PLAN]",
		Short: "Start a sandbox (the topology of PLAN's target.local, or the defaults)",
		Long: `Start a sandbox and print its endpoints on stdout; progress goes to
stderr. In the foreground it runs until Ctrl-C; with --background it
returns once the sandbox is ready, printing what drill sandbox status
prints.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o := fromViper(v, c)
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			if o.background {
				return upBackground(c.Context(), o, file)
			}
			return up(c.Context(), o, file)
		},
	}
	cmd.Flags().Bool("background", false, "start the sandbox in a background process and return once it is ready")
	cmd.Flags().Bool("keep-state", false, "keep the stores' data and node caches after the sandbox stops")
	cmd.Flags().Duration("timeout", 10*time.Minute, "how long to wait for the sandbox to be ready (includes a first model build)")
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

func up(ctx context.Context, o *options, file string) error {
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
	printInfo(o.stdout, info.Details)
	fmt.Fprintln(o.stderr, "sandbox ready; Ctrl-C (or drill sandbox down) stops it")
	<-ctx.Done()
	fmt.Fprintln(o.stderr, "stopping the sandbox")
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
func upBackground(ctx context.Context, o *options, file string) error {
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
	// Every flag explicitly: flags beat firedrill.yaml, which the child
	// reads too (background: true there must not make it detach again).
	args := []string{"sandbox", "up", "--background=false", "--state-dir", o.stateDir, "--timeout", o.timeout.String(),
		fmt.Sprintf("--keep-state=%t", o.keepState)}
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
	fmt.Fprintf(o.stderr, "starting a sandbox in the background (pid %d, log %s)\n", cmd.Process.Pid, logPath)
	deadline := time.Now().Add(o.timeout + 30*time.Second)
	for {
		if st, err := local.ReadState(o.dir()); err == nil && st.Ready && st.Pid == cmd.Process.Pid {
			return status(ctx, st).writeText(o.stdout)
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

func newDownCommand(v *viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the running sandbox",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o := fromViper(v, c)
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
