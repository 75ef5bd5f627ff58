package promtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// Binary finds a Debian binary on PATH or in /usr/bin; a missing one fails
// the test, naming the Debian package that ships it.
func Binary(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	tb.Fatalf("%s is not installed: apt-get install %s (.ci/run installs it)", name, debianPackage)
	return ""
}

// Target is a scrape target of the test Prometheus.
type Target struct {
	// Job names the scrape job.
	Job string
	// Addr is host:port; /metrics is scraped.
	Addr string
	// HonorLabels keeps the scraped job and instance labels, as a
	// Pushgateway's scrape config must.
	HonorLabels bool
	// BearerToken authenticates the scrape (drill serve's /metrics needs
	// a token with the read right); empty sends none.
	BearerToken string
}

// Prometheus is a real Prometheus server scraping its targets every
// second.
type Prometheus struct {
	// URL is the server's base URL.
	URL string
	api promv1.API
}

// StartPrometheus starts Debian's prometheus on a free loopback port with
// its own storage, scraping targets every second, and waits until it is
// ready. It is stopped when the test ends.
func StartPrometheus(tb testing.TB, targets ...Target) *Prometheus {
	tb.Helper()
	bin := Binary(tb, "prometheus", "prometheus")
	dir := tb.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\nscrape_configs:\n")
	for _, t := range targets {
		fmt.Fprintf(&cfg, "  - job_name: %q\n    honor_labels: %t\n    static_configs:\n      - targets: [%q]\n", t.Job, t.HonorLabels, t.Addr)
		if t.BearerToken != "" {
			fmt.Fprintf(&cfg, "    authorization: {credentials: %q}\n", t.BearerToken)
		}
	}
	config := filepath.Join(dir, "prometheus.yml")
	require.NoError(tb, os.WriteFile(config, []byte(cfg.String()), 0o600))
	addr := start(tb, "prometheus", dir, bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:{port}",
		"--log.level=warn",
	)
	url := "http://" + addr
	client, err := promapi.NewClient(promapi.Config{Address: url})
	require.NoError(tb, err)
	return &Prometheus{URL: url, api: promv1.NewAPI(client)}
}

// Query evaluates an instant query now.
func (p *Prometheus) Query(ctx context.Context, expr string) (model.Value, error) {
	v, warnings, _, err := p.api.Query(ctx, expr, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	if len(warnings) > 0 {
		return v, fmt.Errorf("query %s: warnings %v", expr, warnings)
	}
	return v, nil
}

// QueryRange evaluates a range query over [start, end] at step.
func (p *Prometheus) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Value, error) {
	v, warnings, _, err := p.api.QueryRange(ctx, expr, promv1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	if len(warnings) > 0 {
		return v, fmt.Errorf("query %s: warnings %v", expr, warnings)
	}
	return v, nil
}

// Pushgateway is a real Pushgateway.
type Pushgateway struct {
	// URL is its base URL; Addr its host:port.
	URL, Addr string
}

// StartPushgateway starts Debian's prometheus-pushgateway on a free
// loopback port, without persistence, and waits until it is ready. It is
// stopped when the test ends.
func StartPushgateway(tb testing.TB) *Pushgateway {
	tb.Helper()
	bin := Binary(tb, "prometheus-pushgateway", "prometheus-pushgateway")
	// Debian's default keeps pushes in /var/lib/prometheus: this one keeps
	// them in memory only.
	addr := start(tb, "pushgateway", tb.TempDir(), bin, "--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=warn")
	return &Pushgateway{URL: "http://" + addr, Addr: addr}
}

// CheckMetrics runs promtool check metrics on an exposition and returns
// its output; it fails the test when promtool exits non-zero (a lint
// problem or a parse error).
func CheckMetrics(tb testing.TB, exposition []byte) string {
	tb.Helper()
	bin := Binary(tb, "promtool", "prometheus")
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "promtool check metrics:\n%s", out)
	return string(out)
}

// start runs bin in dir with args, {port} replaced by a free loopback
// port, waits for /-/ready and returns host:port. A port taken between
// choosing and binding is retried.
func start(tb testing.TB, name, dir, bin string, args ...string) string {
	tb.Helper()
	var lastErr error
	for range 3 {
		addr := freeAddr(tb)
		_, port, _ := net.SplitHostPort(addr)
		argv := make([]string, len(args))
		for i, a := range args {
			argv[i] = strings.ReplaceAll(a, "{port}", port)
		}
		logPath := filepath.Join(dir, name+".log")
		logFile, err := os.Create(logPath)
		require.NoError(tb, err)
		cmd := exec.Command(bin, argv...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		require.NoError(tb, cmd.Start())
		// exited closes once the process is reaped; waitErr is then its
		// exit status. A closed channel can be waited on more than once.
		var waitErr error
		exited := make(chan struct{})
		go func() { waitErr = cmd.Wait(); _ = logFile.Close(); close(exited) }()
		if lastErr = waitReady(addr, exited, func() error { return waitErr }); lastErr == nil {
			tb.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
				if tb.Failed() {
					if log, err := os.ReadFile(logPath); err == nil {
						tb.Logf("%s log:\n%s", name, tail(log, 4000))
					}
				}
			})
			return addr
		}
		_ = cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(logPath)
		lastErr = fmt.Errorf("%w\n%s", lastErr, tail(log, 2000))
	}
	tb.Fatalf("%s did not start: %v", name, lastErr)
	return ""
}

// waitReady polls http://addr/-/ready until it answers 200, the process
// exits, or 30 s pass.
func waitReady(addr string, exited <-chan struct{}, exitErr func() error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			err := exitErr()
			if err == nil {
				return errors.New("exited before it was ready")
			}
			return fmt.Errorf("exited before it was ready: %w", err)
		default:
		}
		resp, err := client.Get("http://" + addr + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready on %s after 30s", addr)
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
