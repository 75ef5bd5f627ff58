package tokenfile

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/firedrill/firedrill/pkg/atomicfile"
)

// Redacted is what a Token prints as.
const Redacted = "<redacted>"

// MinTokenLength is the shortest token a file may hold, in bytes.
const MinTokenLength = 16

// Token is a bearer token. Every formatting path (fmt, JSON, text, slog)
// shows Redacted; Reveal returns the value for the one place that needs
// it.
type Token struct{ value string }

// NewToken returns a random token: 32 bytes from crypto/rand, base64url.
func NewToken() Token {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux.
	return Token{value: base64.RawURLEncoding.EncodeToString(b[:])}
}

// Reveal returns the token's value.
func (t Token) Reveal() string { return t.value }

// String implements fmt.Stringer.
func (Token) String() string { return Redacted }

// GoString implements fmt.GoStringer for %#v.
func (Token) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb prints the value.
func (Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler.
func (Token) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// MarshalText implements encoding.TextMarshaler (slog, YAML).
func (Token) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// EnsureToken returns the token kept in path, creating the file with a new
// random token (mode 0600) when there is none. It refuses a file other
// users can read or write, and one that does not hold a token.
func EnsureToken(path string) (Token, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t := NewToken()
		if err := atomicfile.WriteFile(path, []byte(t.value+"\n"), 0o600); err != nil {
			return Token{}, fmt.Errorf("writing the API token: %w", err)
		}
		return t, nil
	case err != nil:
		return Token{}, fmt.Errorf("reading the API token: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return Token{}, fmt.Errorf("the API token file %s is open to other users (mode %04o); chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path) //nolint:gosec // the state directory's own file.
	if err != nil {
		return Token{}, fmt.Errorf("reading the API token: %w", err)
	}
	value := strings.TrimSpace(string(data))
	if len(value) < MinTokenLength || strings.ContainsAny(value, " \t\r\n") {
		return Token{}, fmt.Errorf("the API token file %s does not hold one token of at least %d characters; remove it and a new one is made", path, MinTokenLength)
	}
	return Token{value: value}, nil
}
