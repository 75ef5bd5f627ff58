package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// maxOutput bounds the output kept from a command or a webhook response.
const maxOutput = 8 << 10

// Runner runs actions.
type Runner struct {
	// Client makes webhook calls; nil means a client without a timeout of
	// its own (the action's timeout applies).
	Client *http.Client
	// LookupEnv resolves fromEnv references; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Clock timestamps results; nil means the real clock.
	Clock clock.PassiveClock
}

// Result is what one action did.
type Result struct {
	// Started and Finished bound the action.
	Started, Finished time.Time
	// ExitCode of a command; -1 when it did not exit by itself.
	ExitCode int
	// Status of a webhook response.
	Status int
	// Output is the tail of the command's combined output or the response
	// body, with every secret value replaced by Redacted.
	Output string
}

// Duration is how long the action took.
func (r Result) Duration() time.Duration { return r.Finished.Sub(r.Started) }

func (r *Runner) clock() clock.PassiveClock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

func (r *Runner) lookup(name string) (string, bool) {
	if r.LookupEnv == nil {
		return os.LookupEnv(name)
	}
	return r.LookupEnv(name)
}

// resolve returns the value of an env var or header, which is a Secret when
// it comes from the environment.
func (r *Runner) resolve(e v1alpha1.EnvVar) (string, *Secret, error) {
	if e.FromEnv == "" {
		return e.Value, nil, nil
	}
	v, ok := r.lookup(e.FromEnv)
	if !ok {
		return "", nil, fmt.Errorf("%s: environment variable %s is not set", e.Name, e.FromEnv)
	}
	s := NewSecret(v)
	return v, &s, nil
}

// Run runs a. Extra variables (FIREDRILL_RUN_ID, ...) are added to a
// command's environment. A failed command (non-zero exit, timeout) or a
// webhook answered with a non-2xx status is an error.
func (r *Runner) Run(ctx context.Context, a *v1alpha1.Action, extra map[string]string) (Result, error) {
	timeout := v1alpha1.DefaultActionTimeout
	if a.Timeout != nil {
		timeout = a.Timeout.Duration
	}
	tracker := TrackerFrom(ctx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if a.Webhook == nil && len(a.Command) == 0 {
		return Result{}, errors.New("action has neither a command nor a webhook")
	}
	var token string
	if tracker != nil {
		now := r.clock().Now()
		in := InFlight{Token: newToken(), Kind: "command", What: strings.Join(a.Command, " "), Started: now, Deadline: now.Add(timeout)}
		if a.Webhook != nil {
			in.Kind, in.What = "webhook", a.Webhook.Method+" "+a.Webhook.URL
		}
		if err := tracker.Starting(in); err != nil {
			return Result{}, fmt.Errorf("recording the action before it starts: %w", err)
		}
		token = in.Token
		defer func() { _ = tracker.Finished(token) }()
	}
	if a.Webhook != nil {
		return r.webhook(ctx, a.Webhook)
	}
	return r.command(ctx, a, extra, timeout, token, tracker)
}

func (r *Runner) command(ctx context.Context, a *v1alpha1.Action, extra map[string]string, timeout time.Duration, token string, tracker Tracker) (Result, error) {
	env := os.Environ()
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	if token != "" {
		env = append(env, EnvToken+"="+token)
	}
	var secrets []Secret
	for _, e := range a.Env {
		v, s, err := r.resolve(e)
		if err != nil {
			return Result{}, err
		}
		if s != nil {
			secrets = append(secrets, *s)
		}
		env = append(env, e.Name+"="+v)
	}
	cmd := exec.CommandContext(ctx, a.Command[0], a.Command[1:]...) //nolint:gosec // running the plan's command is the point.
	cmd.Env = env
	// Its own process group, so a timeout kills the command's children
	// too; and SIGKILL when the drill dies, so a runbook command never
	// outlives the process that would revert it (drill cleanup kills what
	// the command started, by its token, before it reverts anything).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// On timeout or cancellation kill the whole process group, so a shell
	// script's children do not outlive the action.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out := &tailBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out

	res := Result{Started: r.clock().Now(), ExitCode: -1}
	err := r.start(cmd)
	if err == nil {
		if tracker != nil {
			_ = tracker.Started(token, cmd.Process.Pid) // the token finds it anyway
		}
		err = cmd.Wait()
	}
	res.Finished = r.clock().Now()
	res.Output = redact(out.String(), secrets)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("command %s timed out after %s", a.Command[0], timeout)
	case ctx.Err() != nil:
		return res, fmt.Errorf("command %s: %w", a.Command[0], ctx.Err())
	case err != nil:
		return res, fmt.Errorf("command %s failed (exit code %d): %w%s", a.Command[0], res.ExitCode, err, outputHint(res.Output))
	}
	return res, nil
}

// start starts cmd on a locked OS thread: the parent-death signal is sent
// when the thread that forked the child exits, and a locked thread is never
// one the Go runtime retires while the process lives.
func (r *Runner) start(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	return nil
}

func outputHint(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return ": " + out
}

func (r *Runner) webhook(ctx context.Context, w *v1alpha1.Webhook) (Result, error) {
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, w.URL, strings.NewReader(w.Body))
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: %w", w.URL, err)
	}
	var secrets []Secret
	for _, h := range w.Headers {
		v, s, err := r.resolve(h)
		if err != nil {
			return Result{}, fmt.Errorf("webhook header %w", err)
		}
		if s != nil {
			secrets = append(secrets, *s)
		}
		req.Header.Add(h.Name, v)
	}
	if w.Body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := r.Client
	if client == nil {
		client = &http.Client{}
	}
	res := Result{Started: r.clock().Now(), ExitCode: -1}
	resp, err := client.Do(req)
	if err != nil {
		res.Finished = r.clock().Now()
		return res, fmt.Errorf("webhook %s %s: %w", method, w.URL, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read to the end below.
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	res.Finished = r.clock().Now()
	res.Status = resp.StatusCode
	res.Output = redact(string(body), secrets)
	if readErr != nil {
		return res, fmt.Errorf("webhook %s %s: reading response: %w", method, w.URL, readErr)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, fmt.Errorf("webhook %s %s answered %s%s", method, w.URL, resp.Status, outputHint(res.Output))
	}
	return res, nil
}

func redact(s string, secrets []Secret) string {
	for _, sec := range secrets {
		if v := sec.Reveal(); v != "" {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return n, nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
