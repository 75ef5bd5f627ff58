package index

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Duration is a duration written as a Go duration string ("1.397266083s"),
// as report.json writes its durations. Unlike metav1.Duration it is a text
// marshaler, which JSON encodes and decodes without a nested JSON call: an
// index of ten thousand runs holds hundreds of thousands of durations, and
// listing it must take milliseconds.
type Duration struct {
	time.Duration
}

// Dur wraps d.
func Dur(d time.Duration) Duration { return Duration{d} }

func durOf(d *metav1.Duration) *Duration {
	if d == nil {
		return nil
	}
	return &Duration{d.Duration}
}

// MarshalText implements encoding.TextMarshaler: JSON writes it as a
// string without validating it again, as it must a MarshalJSON result.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parsing duration: %w", err)
	}
	d.Duration = v
	return nil
}
