package probe

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/evidence"
)

const hourAt50 = 3600 * 50

// fillStore records n synthetic samples, 20 ms apart.
func fillStore(s *store, n int) {
	start := time.Now()
	for i := range n {
		s.add(evidence.Sample{At: start.Add(time.Duration(i) * 20 * time.Millisecond), Latency: 7 * time.Millisecond, Code: 200}, uint16(i%3))
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestStoreHoldsAnHourAt50PerSecondInLittleMemory records the samples of a
// one-hour drill at 50 req/s (180,000) and reports the memory they hold.
func TestStoreHoldsAnHourAt50PerSecondInLittleMemory(t *testing.T) {
	require.Equal(t, uintptr(24), unsafe.Sizeof(record{}))
	before := heapInUse()
	s := newStore([]string{"a", "b", "c"})
	fillStore(s, hourAt50)
	held := heapInUse() - before
	t.Logf("store: %d samples hold %.1f MB (%.1f bytes/sample)", hourAt50, float64(held)/1e6, float64(held)/hourAt50)
	require.Less(t, held, uint64(100<<20))

	snap := s.all()
	withSnapshot := heapInUse() - before
	t.Logf("store + one Samples() snapshot: %.1f MB", float64(withSnapshot)/1e6)
	require.Len(t, snap, hourAt50)
	require.Less(t, withSnapshot, uint64(100<<20))
	require.True(t, slices.IsSortedFunc(snap, func(a, b evidence.Sample) int { return a.At.Compare(b.At) }))
	runtime.KeepAlive(s)
}

// BenchmarkStoreAdd measures the memory and time per recorded sample.
func BenchmarkStoreAdd(b *testing.B) {
	s := newStore([]string{"a"})
	at := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.add(evidence.Sample{At: at.Add(time.Duration(i) * time.Millisecond), Latency: time.Millisecond, Code: 200}, 0)
	}
	b.ReportMetric(float64(len(s.chunks)*chunkLen*int(unsafe.Sizeof(record{})))/float64(s.n), "bytes/sample")
}

// helperEnv makes the test binary serve as the loopback server of
// BenchmarkProbeAt2000PerSecond in its own process.
const helperEnv = "FIREDRILL_PROBE_LOOPBACK_SERVER"

// TestHelperLoopbackServer is not a test: run by BenchmarkProbeAt2000PerSecond
// as a separate process, it serves 204s on 127.0.0.1 until its stdin closes
// (at most five minutes), so that the server does not share the probe's core.
func TestHelperLoopbackServer(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for BenchmarkProbeAt2000PerSecond")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
	}
	_ = srv.Close()
}

// startLoopbackServer runs TestHelperLoopbackServer in a child process and
// returns its URL.
func startLoopbackServer(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLoopbackServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return "http://" + addr
		}
	}
	b.Fatalf("loopback server did not start: %v", sc.Err())
	return ""
}

// BenchmarkProbeAt2000PerSecond runs the probe at 2,000 req/s for one second
// per iteration against a trivial loopback server in another process and
// reports the achieved rate, the latency the probe records, the latency of
// two baselines (one request at a time; a minimal hand-written open loop at
// the same rate) and how late sends were against the fixed schedule. The
// probe's client-side overhead is its latency minus the open-loop baseline. Run it with -cpu 1 for
// the one-core figure.
func BenchmarkProbeAt2000PerSecond(b *testing.B) {
	const rate = 2000
	url := startLoopbackServer(b)
	// Baselines, to separate loopback and server time from the probe's own
	// overhead: the same request sent one at a time by a plain client, and
	// sent open-loop at the same rate by a minimal hand-written loop (a
	// ticker and a goroutine per request, no templating, no classification).
	var seqLat []time.Duration
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	target := url + "/v1/recommendations?user=u1&k=10"
	get := func() time.Duration {
		start := time.Now()
		resp, err := client.Get(target)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return time.Since(start)
	}
	for range 2000 {
		seqLat = append(seqLat, get())
	}
	var rawLat []time.Duration
	var rawMu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	for range rate {
		<-tick.C
		wg.Go(func() {
			d := get()
			rawMu.Lock()
			rawLat = append(rawLat, d)
			rawMu.Unlock()
		})
	}
	tick.Stop()
	wg.Wait()
	client.CloseIdleConnections()
	b.ResetTimer()
	var lat, lag []time.Duration
	sent, elapsed := 0, time.Duration(0)
	for b.Loop() {
		p, err := New(Options{Endpoint: url, Rate: rate, Timeout: time.Second, Templates: oneRoute(), Pools: testPools()})
		require.NoError(b, err)
		stop := runProber(b, p)
		time.Sleep(time.Second)
		stop()
		samples := p.Samples()
		sent += len(samples)
		elapsed += samples[len(samples)-1].At.Sub(samples[0].At)
		for i, s := range samples {
			if s.Failed() {
				b.Fatalf("sample failed: %+v", s)
			}
			lat = append(lat, s.Latency)
			lag = append(lag, s.At.Sub(samples[0].At.Add(time.Duration(i)*time.Second/rate)))
		}
	}
	slices.Sort(lat)
	slices.Sort(lag)
	slices.Sort(seqLat)
	slices.Sort(rawLat)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds())
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(lat, 0.5), "p50-latency-µs")
	b.ReportMetric(pct(lat, 0.99), "p99-latency-µs")
	b.ReportMetric(pct(seqLat, 0.99), "p99-one-at-a-time-µs")
	b.ReportMetric(pct(rawLat, 0.5), "p50-raw-open-loop-µs")
	b.ReportMetric(pct(rawLat, 0.99), "p99-raw-open-loop-µs")
	b.ReportMetric(pct(lag, 0.99), "p99-send-lag-µs")
	b.ReportMetric(float64(lag[len(lag)-1].Microseconds()), "max-send-lag-µs")
}
