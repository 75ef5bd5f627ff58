package prune

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/firedrill/firedrill/pkg/report"
)

// Policy says what to keep. At least one limit must be set.
type Policy struct {
	// Keep keeps the Keep newest items of each group; 0 sets no such
	// limit.
	Keep int
	// MaxAge keeps the items younger than MaxAge; 0 sets no such limit.
	MaxAge time.Duration
}

// Validate refuses a policy that would keep everything or that makes no
// sense.
func (p Policy) Validate() error {
	switch {
	case p.Keep < 0:
		return fmt.Errorf("--keep must not be negative, got %d", p.Keep)
	case p.MaxAge < 0:
		return fmt.Errorf("--max-age must not be negative, got %s", p.MaxAge)
	case p.Keep == 0 && p.MaxAge == 0:
		return errors.New("give --keep N, --max-age D or both: prune never removes everything by default")
	}
	return nil
}

// String states the policy for people.
func (p Policy) String() string {
	switch {
	case p.Keep > 0 && p.MaxAge > 0:
		return "remove what is beyond the " + strconv.Itoa(p.Keep) + " newest of its group and older than " + report.FormatDuration(p.MaxAge)
	case p.Keep > 0:
		return "remove what is beyond the " + strconv.Itoa(p.Keep) + " newest of its group"
	}
	return "remove what is older than " + report.FormatDuration(p.MaxAge)
}

// Kind says what an item is.
type Kind string

// The kinds of items prune removes.
const (
	// KindRun is an archived run's report set.
	KindRun Kind = "run"
	// KindJournal is a run's journal.
	KindJournal Kind = "journal"
	// KindSandboxLogs is the logs directory of a sandbox.
	KindSandboxLogs Kind = "sandbox-logs"
)

// Item is something prune may remove.
type Item struct {
	// Kind is what it is.
	Kind Kind `json:"kind"`
	// Group is what Keep counts within: the plan of a run or journal;
	// every sandbox is in one group.
	Group string `json:"group,omitempty"`
	// Name identifies it: a run id, a sandbox id.
	Name string `json:"name"`
	// Path is where it is: a directory, a file, a reference.
	Path string `json:"path"`
	// Time is its age reference: a run's start, a sandbox's last log
	// write.
	Time time.Time `json:"time"`
	// Pinned, when set, says why it is never removed.
	Pinned string `json:"pinned,omitempty"`
}

// Decision is what Decide chose for an item.
type Decision struct {
	Item
	// Remove is true when the item goes.
	Remove bool `json:"remove"`
	// Reason explains the choice.
	Reason string `json:"reason"`
}

// Decide applies the policy to items as of now. Items are ranked within
// their kind and group, newest first; pinned items count towards Keep, so
// a pinned item is never replaced by an older one. The decisions come back
// in the order of the items.
func Decide(items []Item, p Policy, now time.Time) []Decision {
	type key struct {
		kind  Kind
		group string
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := items[a], items[b]
		if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Group, y.Group); c != 0 {
			return c
		}
		return y.Time.Compare(x.Time) // newest first
	})
	rank := make([]int, len(items))
	seen := map[key]int{}
	for _, i := range order {
		k := key{items[i].Kind, items[i].Group}
		rank[i] = seen[k]
		seen[k]++
	}
	out := make([]Decision, len(items))
	for i, it := range items {
		d := Decision{Item: it}
		beyond := p.Keep == 0 || rank[i] >= p.Keep
		old := p.MaxAge == 0 || now.Sub(it.Time) > p.MaxAge
		switch {
		case it.Pinned != "":
			d.Reason = "kept: " + it.Pinned
		case p.Keep > 0 && !beyond:
			d.Reason = fmt.Sprintf("kept: one of the %d newest", p.Keep)
		case p.MaxAge > 0 && !old:
			d.Reason = "kept: younger than " + report.FormatDuration(p.MaxAge)
		default:
			d.Remove = true
			d.Reason = removeReason(p, rank[i], now.Sub(it.Time))
		}
		out[i] = d
	}
	return out
}

func removeReason(p Policy, rank int, age time.Duration) string {
	var why []string
	if p.Keep > 0 {
		why = append(why, fmt.Sprintf("number %d by age, beyond the %d newest", rank+1, p.Keep))
	}
	if p.MaxAge > 0 {
		why = append(why, report.FormatDuration(age.Round(time.Second))+" old, over "+report.FormatDuration(p.MaxAge))
	}
	s := "removed: " + why[0]
	if len(why) > 1 {
		s += ", and " + why[1]
	}
	return s
}
