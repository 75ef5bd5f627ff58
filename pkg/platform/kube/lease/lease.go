package lease

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// The heartbeat's timing.
const (
	// DefaultInterval is how often a run renews its heartbeat.
	DefaultInterval = 5 * time.Second
	// DefaultGrace is how old a heartbeat may be before its run is taken
	// for dead: three renewals.
	DefaultGrace = 3 * DefaultInterval
	// MinGrace is the shortest grace a reader may use: anything shorter
	// would take a live run that renews every DefaultInterval, a little
	// late, for dead.
	MinGrace = 2 * DefaultInterval
)

// Annotations of a heartbeat Lease, for people: which process runs the run.
const (
	// AnnotationHost is the host name of the machine running the drill.
	AnnotationHost = "firedrill.dev/host"
	// AnnotationPID is the drill process's id on that host.
	AnnotationPID = "firedrill.dev/pid"
)

// Key locates a heartbeat Lease.
type Key struct {
	Namespace, Name string
}

// String is namespace/name, as marks.AnnotationHeartbeat holds it.
func (k Key) String() string { return k.Namespace + "/" + k.Name }

// KeyOf is the Lease of run runID in namespace.
func KeyOf(namespace, runID string) Key {
	return Key{Namespace: namespace, Name: Name(runID)}
}

// ParseKey reads a namespace/name key.
func ParseKey(s string) (Key, error) {
	ns, name, err := objects.SplitKey(s)
	if err != nil {
		return Key{}, fmt.Errorf("heartbeat %w", err)
	}
	return Key{Namespace: ns, Name: name}, nil
}

// Name is the Lease name of a run: firedrill-run-<run id>, made a DNS
// label. Two run ids that differ only in characters a DNS label cannot
// hold share a name; the Lease's holder tells them apart.
func Name(runID string) string { return objects.ShortName("firedrill-run-"+runID, 63) }

// State is what a heartbeat says of its run.
type State string

const (
	// Live is a heartbeat renewed within the grace period.
	Live State = "Live"
	// Stale is a heartbeat last renewed longer ago than the grace period:
	// the run is dead, or cut off from the cluster for that long.
	Stale State = "Stale"
	// Missing is no heartbeat: none recorded on the marks, no Lease, or a
	// Lease another run holds.
	Missing State = "Missing"
)

// Status is a run's heartbeat as judged at one instant.
type Status struct {
	// State is Live, Stale or Missing.
	State State
	// Key is where the run's marks say its heartbeat is; zero when they
	// name none.
	Key Key
	// Renewed is the Lease's last renewal; zero when missing.
	Renewed time.Time
	// Age is how long ago that was; negative when the renewal is in the
	// future by the reader's clock (skew).
	Age time.Duration
	// Grace is the grace period judged against.
	Grace time.Duration
	// Host and PID say which process renews it, when recorded.
	Host string
	PID  int
	// Why says, for a missing heartbeat, what was found instead.
	Why string
}

// Dead says whether the run is taken for dead.
func (s Status) Dead() bool { return s.State != Live }

// String describes the heartbeat for people.
func (s Status) String() string {
	switch s.State {
	case Live:
		return fmt.Sprintf("heartbeat Lease %s renewed %s ago%s", s.Key, s.Age.Round(100*time.Millisecond), s.holder())
	case Stale:
		return fmt.Sprintf("heartbeat Lease %s last renewed %s ago%s, longer than the grace of %s",
			s.Key, s.Age.Round(100*time.Millisecond), s.holder(), s.Grace)
	}
	if s.Key == (Key{}) {
		return "no heartbeat: " + s.Why
	}
	return fmt.Sprintf("no heartbeat: Lease %s %s", s.Key, s.Why)
}

func (s Status) holder() string {
	if s.Host == "" && s.PID == 0 {
		return ""
	}
	return fmt.Sprintf(" by pid %d on host %s", s.PID, s.Host)
}

// Judge says whether l, the Lease found at key (nil when there is none),
// is the live heartbeat of run runID at now, with grace. A renewal in the
// future (the writer's clock is ahead) counts as live.
func Judge(key Key, l *coordinationv1.Lease, runID string, now time.Time, grace time.Duration) Status {
	s := Status{State: Missing, Key: key, Grace: grace}
	switch {
	case key == (Key{}):
		s.Why = "its marks name no heartbeat Lease (they were written by a drill without heartbeats)"
		return s
	case l == nil:
		s.Why = "does not exist"
		return s
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if holder != runID {
		s.Why = fmt.Sprintf("is held by %q, not by run %s", holder, runID)
		return s
	}
	s.Host = l.Annotations[AnnotationHost]
	s.PID, _ = strconv.Atoi(l.Annotations[AnnotationPID])
	switch {
	case l.Spec.RenewTime != nil:
		s.Renewed = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		s.Renewed = l.Spec.AcquireTime.Time
	default:
		s.Renewed = l.CreationTimestamp.Time
	}
	s.Age = now.Sub(s.Renewed)
	s.State = Live
	if s.Age > grace {
		s.State = Stale
	}
	return s
}

// Get reads the Lease at key; nil when there is none.
func Get(ctx context.Context, r client.Reader, key Key) (*coordinationv1.Lease, error) {
	var l coordinationv1.Lease
	err := r.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name}, &l)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading heartbeat Lease %s: %w", key, err)
	}
	return &l, nil
}

// List lists the heartbeat Leases of namespaces ("" is every namespace).
func List(ctx context.Context, r client.Reader, namespaces []string) ([]coordinationv1.Lease, error) {
	var out []coordinationv1.Lease
	for _, ns := range namespaces {
		var list coordinationv1.LeaseList
		if err := r.List(ctx, &list, client.InNamespace(ns), client.HasLabels{marks.LabelRunID}); err != nil {
			return nil, fmt.Errorf("listing heartbeat Leases in %q: %w", ns, err)
		}
		out = append(out, list.Items...)
	}
	return out, nil
}

// RunOf is the run whose heartbeat l is.
func RunOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
		return *l.Spec.HolderIdentity
	}
	return l.Annotations[marks.AnnotationRunID]
}

// ErrRenewed says a Lease was renewed after it was read: its run is alive.
var ErrRenewed = errors.New("the heartbeat was renewed since it was read")

// Delete deletes l as it was read: a Lease renewed since (a live run) or
// replaced is left, with ErrRenewed. One already gone is fine.
func Delete(ctx context.Context, c client.Client, l *coordinationv1.Lease) error {
	rv, uid := l.ResourceVersion, l.UID
	err := c.Delete(ctx, l, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("deleting heartbeat Lease %s/%s: %w", l.Namespace, l.Name, ErrRenewed)
	}
	return fmt.Errorf("deleting heartbeat Lease %s/%s: %w", l.Namespace, l.Name, err)
}

// build is the Lease of a new heartbeat.
func build(key Key, runID string, holder Holder, grace time.Duration, now time.Time) *coordinationv1.Lease {
	t := metav1.NewMicroTime(now)
	secs := int32(grace / time.Second)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{marks.LabelRunID: marks.LabelValue(runID), "app.kubernetes.io/managed-by": "firedrill"},
			Annotations: map[string]string{
				marks.AnnotationRunID: runID, AnnotationHost: holder.Host, AnnotationPID: strconv.Itoa(holder.PID),
			},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &runID, LeaseDurationSeconds: &secs, AcquireTime: &t, RenewTime: &t},
	}
}
