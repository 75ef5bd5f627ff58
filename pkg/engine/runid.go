package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewRunID names a run of plan started at now: the plan name, the UTC time
// to the millisecond and four random hex digits, so two runs started in
// the same instant, in one process or two, never share a journal or a
// report directory. It is a valid Kubernetes object name when the plan's
// name is: lowercase alphanumerics and dashes.
func NewRunID(plan string, now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux.
	now = now.UTC()
	return fmt.Sprintf("%s-%s-%03d-%s", plan, now.Format("20060102-150405"), now.Nanosecond()/int(time.Millisecond), hex.EncodeToString(b[:]))
}
