package action

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// envParent makes the test binary a drill stand-in that runs one command
// through a Runner with a tracker that prints what it records, then waits
// to be killed.
const envParent = "FIREDRILL_ACTION_TEST_PARENT"

func TestMain(m *testing.M) {
	if script := os.Getenv(envParent); script != "" {
		os.Exit(runParent(script))
	}
	os.Exit(m.Run())
}

type printTracker struct{ mu sync.Mutex }

func (p *printTracker) Starting(a InFlight) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, _ := json.Marshal(a)
	fmt.Printf("starting %s\n", data)
	return nil
}

func (p *printTracker) Started(token string, pgid int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Printf("started %s %d\n", token, pgid)
	return nil
}

func (p *printTracker) Finished(string) error { return nil }

func runParent(script string) int {
	ctx := WithTracker(context.Background(), &printTracker{})
	_, err := (&Runner{}).Run(ctx, &v1alpha1.Action{Command: []string{"sh", "-c", script}}, nil)
	fmt.Println("finished", err)
	select {}
}

// recordingTracker keeps what a Runner records.
type recordingTracker struct {
	mu       sync.Mutex
	starting []InFlight
	started  map[string]int
	finished []string
}

func (r *recordingTracker) Starting(a InFlight) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starting = append(r.starting, a)
	return nil
}

func (r *recordingTracker) Started(token string, pgid int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started[token] = pgid
	return nil
}

func (r *recordingTracker) Finished(token string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = append(r.finished, token)
	return nil
}

func TestATrackedCommandIsRecordedBeforeItStartsAndCarriesItsToken(t *testing.T) {
	rec := &recordingTracker{started: map[string]int{}}
	ctx := WithTracker(t.Context(), rec)
	res, err := (&Runner{}).Run(ctx, &v1alpha1.Action{Command: []string{"sh", "-c", "echo $" + EnvToken}}, nil)
	require.NoError(t, err)
	require.Len(t, rec.starting, 1)
	a := rec.starting[0]
	require.Equal(t, "command", a.Kind)
	require.Equal(t, a.Token, strings.TrimSpace(res.Output), "the command carries its token")
	require.Positive(t, rec.started[a.Token], "its process group is recorded")
	require.Equal(t, []string{a.Token}, rec.finished)
	require.Equal(t, 30*time.Second, a.Deadline.Sub(a.Started), "the default timeout")
}

// TestACommandDiesWithItsDrillAndStopEndsWhatItStarted kills a drill
// stand-in with SIGKILL while its runbook command runs. The command dies
// with it (the parent-death signal); a process the command put in the
// background survives its parent, as orphans do, until Stop finds it by
// its token.
func TestACommandDiesWithItsDrillAndStopEndsWhatItStarted(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "switched")
	// The background job would "switch traffic" after 3 s, like an
	// orphaned inject command undoing a cleanup.
	script := fmt.Sprintf("(sleep 3; touch %s) & sleep 60", marker)
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), envParent+"="+script)
	out, err := parent.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, parent.Start())
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })

	lines := bufio.NewScanner(out)
	var a InFlight
	var pgid int
	for lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, "starting "); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), &a))
		}
		if _, err := fmt.Sscanf(line, "started %s %d", new(string), &pgid); err == nil {
			break
		}
	}
	require.Positive(t, pgid)
	require.Eventually(t, func() bool { return len(processesWithToken(a.Token)) >= 2 }, 5*time.Second, 10*time.Millisecond,
		"the command and its background job carry the token")

	require.NoError(t, parent.Process.Signal(syscall.SIGKILL)) // the drill dies
	_ = parent.Wait()
	require.Eventually(t, func() bool {
		return syscall.Kill(pgid, 0) != nil || zombie(pgid)
	}, 5*time.Second, 10*time.Millisecond, "the command itself dies with its drill")
	require.NotEmpty(t, processesWithToken(a.Token), "its background job outlives it, as orphans do")

	a.PGID = pgid
	did, err := Stop(t.Context(), nil, []InFlight{a})
	require.NoError(t, err)
	require.Len(t, did, 1)
	require.Contains(t, did[0], "killed runbook command")
	require.Empty(t, processesWithToken(a.Token))
	time.Sleep(3500 * time.Millisecond)
	require.NoFileExists(t, marker, "the orphaned job never ran its switch")
}

func TestStopWaitsForAWebhookToReachItsTimeout(t *testing.T) {
	start := time.Now()
	did, err := Stop(t.Context(), nil, []InFlight{{Kind: "webhook", What: "POST http://x", Started: start, Deadline: start.Add(300 * time.Millisecond)}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Len(t, did, 1)
	did, err = Stop(t.Context(), nil, []InFlight{{Kind: "webhook", What: "POST http://x", Deadline: start}})
	require.NoError(t, err)
	require.Empty(t, did, "a webhook past its deadline needs nothing")
}
