package action

import (
	"encoding/json"
	"fmt"
)

// Redacted is what a Secret prints as.
const Redacted = "<redacted>"

// Secret is a value that must not be printed: every formatting path shows
// Redacted. Reveal returns the value for the one place that needs it.
type Secret struct{ value string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer for %#v.
func (Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb can print the value.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// MarshalText implements encoding.TextMarshaler (slog, YAML).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
