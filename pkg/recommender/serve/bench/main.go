package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, w io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: bench startup|load [flags]")
	}
	switch args[0] {
	case "startup":
		return startup(ctx, args[1:], w)
	case "load":
		return load(ctx, args[1:], w)
	default:
		return fmt.Errorf("unknown subcommand %q (want startup or load)", args[0])
	}
}

// startup starts the command after "--" n times, measures the time from
// exec to the first 200 from /readyz, reads VmRSS once /v1/model answers,
// then sends SIGTERM and waits for a clean exit.
func startup(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("startup", flag.ContinueOnError)
	n := fs.Int("n", 5, "number of starts")
	addr := fs.String("addr", "127.0.0.1:8080", "address the command listens on")
	poll := fs.Duration("poll", 5*time.Millisecond, "readiness poll interval")
	settle := fs.Duration("settle", time.Second, "time to run after ready before reading RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmdArgs := fs.Args()
	if len(cmdArgs) == 0 {
		return errors.New("startup: give the command after --")
	}
	client := &http.Client{Timeout: time.Second}
	var ready []time.Duration
	for i := range *n {
		cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", cmdArgs[0], err)
		}
		var took time.Duration
		for {
			resp, err := client.Get("http://" + *addr + "/readyz")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					took = time.Since(start)
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				_ = cmd.Process.Kill()
				return errors.New("startup: not ready within 30s")
			}
			time.Sleep(*poll)
		}
		var info map[string]any
		if resp, err := client.Get("http://" + *addr + "/v1/model"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&info)
			_ = resp.Body.Close()
		}
		time.Sleep(*settle)
		rss := readRSS(cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		fmt.Fprintf(w, "run %d: ready in %s, source=%v version=%v degraded=%v, RSS %s, exit err=%v\n",
			i+1, took.Round(time.Millisecond), info["source"], info["version"], info["degraded"], rss, err)
		ready = append(ready, took)
	}
	slices.Sort(ready)
	fmt.Fprintf(w, "ready: min %s median %s max %s over %d starts\n",
		ready[0].Round(time.Millisecond), ready[len(ready)/2].Round(time.Millisecond), ready[len(ready)-1].Round(time.Millisecond), len(ready))
	return nil
}

func readRSS(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(strings.TrimPrefix(line, "VmRSS:")), " ")
		}
	}
	return "?"
}

type sample struct {
	Users   []string `json:"users"`
	Items   []string `json:"items"`
	Queries []string `json:"queries"`
}

// load drives one route at a constant rate with request parameters drawn
// from /v1/sample.
func load(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server address")
	route := fs.String("route", "recommendations", "recommendations, search or similar")
	rate := fs.Int("rate", 2000, "requests per second")
	duration := fs.Duration("duration", 30*time.Second, "attack duration")
	k := fs.Int("k", 10, "k of every request")
	n := fs.Int("sample", 5000, "how many users/items/queries to draw from /v1/sample")
	unknown := fs.Float64("unknown-users", 0, "fraction of requests for users the model does not know")
	static := fs.String("static", "", "request only this path (no /v1/sample); for calibrating the machine against a trivial server")
	warmup := fs.Duration("warmup", 0, "attack this long first at the same rate and discard the results (warms the response cache)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *static != "" {
		return attack(ctx, w, []string{"http://" + *addr + *static}, *route, *rate, *duration, *warmup)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/v1/sample?n=%d", *addr, *n))
	if err != nil {
		return fmt.Errorf("fetching sample: %w", err)
	}
	var s sample
	err = json.NewDecoder(resp.Body).Decode(&s)
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("decoding sample: %w", err)
	}
	var urls []string
	base := "http://" + *addr
	switch *route {
	case "recommendations":
		for i, u := range s.Users {
			if *unknown > 0 && float64(i%100) < *unknown*100 {
				u = "unknown-" + strconv.Itoa(i)
			}
			urls = append(urls, fmt.Sprintf("%s/v1/recommendations?user=%s&k=%d", base, url.QueryEscape(u), *k))
		}
	case "search":
		for i, q := range s.Queries {
			u := ""
			if len(s.Users) > 0 {
				u = s.Users[i%len(s.Users)]
			}
			urls = append(urls, fmt.Sprintf("%s/v1/search?q=%s&user=%s&k=%d", base, url.QueryEscape(q), url.QueryEscape(u), *k))
		}
	case "similar":
		for _, it := range s.Items {
			urls = append(urls, fmt.Sprintf("%s/v1/similar?item=%s&k=%d", base, url.QueryEscape(it), *k))
		}
	default:
		return fmt.Errorf("unknown route %q", *route)
	}
	if len(urls) == 0 {
		return fmt.Errorf("the sample has nothing for route %s", *route)
	}
	return attack(ctx, w, urls, *route, *rate, *duration, *warmup)
}

// attack sends GETs to urls, round robin, at rate for duration after an
// optional discarded warm-up, and prints vegeta's metrics.
func attack(ctx context.Context, w io.Writer, urls []string, route string, rate int, duration, warmup time.Duration) error {
	var next atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		t.Method = http.MethodGet
		t.URL = urls[next.Add(1)%uint64(len(urls))]
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true), vegeta.Connections(256))
	var m vegeta.Metrics
	pacer := vegeta.ConstantPacer{Freq: rate, Per: time.Second}
	if warmup > 0 {
		// A finished attacker cannot attack again; warm up with its own.
		wa := vegeta.NewAttacker(vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true), vegeta.Connections(256))
		for range wa.Attack(targeter, pacer, warmup, "warmup") {
		}
	}
	results := attacker.Attack(targeter, pacer, duration, route)
	for {
		select {
		case <-ctx.Done():
			attacker.Stop()
		case r, ok := <-results:
			if !ok {
				m.Close()
				fmt.Fprintf(w, "route=%s rate=%d/s duration=%s targets=%d\n", route, rate, duration, len(urls))
				fmt.Fprintf(w, "requests %d, achieved rate %.1f/s, throughput %.1f/s, success %.2f%%\n",
					m.Requests, m.Rate, m.Throughput, 100*m.Success)
				fmt.Fprintf(w, "latency p50 %s p90 %s p95 %s p99 %s max %s\n",
					m.Latencies.P50, m.Latencies.P90, m.Latencies.P95, m.Latencies.P99, m.Latencies.Max)
				if len(m.Errors) > 0 {
					fmt.Fprintf(w, "%d distinct errors, first: %s\n", len(m.Errors), m.Errors[0])
				}
				fmt.Fprintf(w, "status codes: %v\n", m.StatusCodes)
				return nil
			}
			m.Add(r)
		}
	}
}
