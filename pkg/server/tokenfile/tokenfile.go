package tokenfile

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode"

	yaml "go.yaml.in/yaml/v3"

	"github.com/firedrill/firedrill/pkg/server"
)

// Right is what a token lets its user do.
type Right string

// The rights.
const (
	// RightRead lists and gets plans and runs and their reports (get and
	// list on drillplans and drillruns).
	RightRead Right = "read"
	// RightTrigger starts a run (create on drillruns).
	RightTrigger Right = "trigger"
	// RightAbort aborts a run (update on drillruns).
	RightAbort Right = "abort"
	// RightMetrics scrapes /metrics (get on the path /metrics).
	RightMetrics Right = "metrics"
)

// Rights are every right, in the order they are documented.
var Rights = []Right{RightRead, RightTrigger, RightAbort, RightMetrics}

// MaxFileSize bounds a token file.
const MaxFileSize = 1 << 20

// Entry is one token of a file.
type Entry struct {
	// User is who the token stands for; unique in a file.
	User string
	// Token is the token; zero when the file holds its digest only.
	Token Token
	// Rights are what it may do; none means it authenticates and may do
	// nothing.
	Rights []Right
	// sum is the token's SHA-256.
	sum [sha256.Size]byte
}

// File is a loaded token file: the API's Authenticator and Authorizer.
type File struct {
	entries []Entry
}

var (
	_ server.Authenticator = (*File)(nil)
	_ server.Authorizer    = (*File)(nil)
)

// New returns a File of the given entries, as if read from a file: for the
// token drill serve makes for itself on loopback.
func New(entries ...Entry) (*File, error) {
	f := &File{}
	for i, e := range entries {
		if len(e.Token.value) < MinTokenLength {
			return nil, fmt.Errorf("token of user %q: at least %d characters", e.User, MinTokenLength)
		}
		e.sum = sha256.Sum256([]byte(e.Token.value))
		for _, o := range entries[:i] {
			if o.User == e.User {
				return nil, fmt.Errorf("user %q has two tokens", e.User)
			}
		}
		f.entries = append(f.entries, e)
	}
	return f, nil
}

// Load reads a token file. It refuses a file that holds tokens in the
// clear and that other users can read or write, and reports every
// problem of its content as file:line:column: field: message.
func Load(path string) (*File, error) {
	fh, err := os.Open(path) //nolint:gosec // the operator's token file.
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	defer fh.Close() //nolint:errcheck // read-only.
	info, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the token file %s is larger than %d bytes", path, MaxFileSize)
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && f.clear() {
		return nil, fmt.Errorf("the token file %s holds tokens in the clear and is open to other users (mode %04o): chmod 600 %s, or keep only sha256 digests in it", path, perm, path)
	}
	return f, nil
}

// clear says whether any token is held in the clear.
func (f *File) clear() bool {
	return slices.ContainsFunc(f.entries, func(e Entry) bool { return e.Token.value != "" })
}

// Problems are what is wrong with a token file, one per line.
type Problems []string

// Error implements error.
func (p Problems) Error() string {
	return "the token file is invalid:\n  " + strings.Join(p, "\n  ")
}

// Parse reads a token file's content; name is the file's name in problems.
// No problem quotes a token.
func Parse(name string, data []byte) (*File, error) {
	p := parser{name: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		// yaml.v3's messages quote no input beyond a token.
		return nil, Problems{name + ": not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Problems{name + ": only one YAML document is allowed"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	f := p.file(root)
	if len(p.problems) > 0 {
		return nil, p.sorted()
	}
	return f, nil
}

type parser struct {
	name     string
	problems []problem
}

// problem is one problem and where it is.
type problem struct {
	line, column int
	text         string
}

func (p *parser) add(n *yaml.Node, field, format string, args ...any) {
	at, pr := p.name, problem{}
	if n != nil && n.Line > 0 {
		at, pr.line, pr.column = fmt.Sprintf("%s:%d:%d", p.name, n.Line, n.Column), n.Line, n.Column
	}
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	pr.text = at + ": " + msg
	p.problems = append(p.problems, pr)
}

// sorted lists the problems in file order.
func (p *parser) sorted() Problems {
	slices.SortStableFunc(p.problems, func(a, b problem) int { return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.column, b.column)) })
	out := make(Problems, len(p.problems))
	for i, pr := range p.problems {
		out[i] = pr.text
	}
	return out
}

// mapping returns the keys of a mapping node and refuses keys not in
// known and keys given twice.
func (p *parser) mapping(n *yaml.Node, field string, known ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a mapping")
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := k.Value
		if field != "" {
			sub = field + "." + k.Value
		}
		switch {
		case !slices.Contains(known, k.Value):
			p.add(k, sub, "unknown field; known are %s", strings.Join(known, ", "))
		case out[k.Value] != nil:
			p.add(k, sub, "given twice")
		default:
			out[k.Value] = v
		}
	}
	return out
}

func (p *parser) file(root *yaml.Node) *File {
	if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		p.add(nil, "", "empty: it must list tokens")
		return nil
	}
	top := p.mapping(root, "", "tokens")
	if top == nil {
		return nil
	}
	list := top["tokens"]
	if list == nil {
		if len(p.problems) == 0 {
			p.add(root, "tokens", "required")
		}
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.add(list, "tokens", "must be a list")
		return nil
	}
	f := &File{}
	users, sums := map[string]string{}, map[[sha256.Size]byte]string{}
	for i, item := range list.Content {
		field := fmt.Sprintf("tokens[%d]", i)
		e, ok := p.entry(item, field)
		if !ok {
			continue
		}
		if first, dup := users[e.User]; dup {
			p.add(item, field+".user", "%q is also the user of %s; give each token its own user", e.User, first)
			continue
		}
		if first, dup := sums[e.sum]; dup {
			p.add(item, field, "the same token as %s", first)
			continue
		}
		users[e.User], sums[e.sum] = field, field
		f.entries = append(f.entries, e)
	}
	return f
}

func (p *parser) entry(n *yaml.Node, field string) (Entry, bool) {
	before := len(p.problems)
	m := p.mapping(n, field, "user", "token", "sha256", "rights")
	if m == nil {
		return Entry{}, false
	}
	var e Entry
	if u := p.scalar(n, m["user"], field+".user"); u != "" {
		if len(u) > 253 || strings.ContainsFunc(u, func(c rune) bool { return !unicode.IsPrint(c) || unicode.IsSpace(c) }) {
			p.add(m["user"], field+".user", "at most 253 printable characters without spaces")
		}
		e.User = u
	}
	tok, sum := m["token"], m["sha256"]
	switch {
	case tok == nil && sum == nil:
		p.add(n, field, "give token or sha256")
	case tok != nil && sum != nil:
		p.add(sum, field+".sha256", "give token or sha256, not both")
	case tok != nil:
		if v := p.scalar(n, tok, field+".token"); v != "" {
			if len(v) < MinTokenLength || strings.ContainsAny(v, " \t\r\n") {
				p.add(tok, field+".token", "at least %d characters, without spaces", MinTokenLength)
			}
			e.Token, e.sum = Token{value: v}, sha256.Sum256([]byte(v))
		}
	default:
		if v := p.scalar(n, sum, field+".sha256"); v != "" {
			raw, err := hex.DecodeString(v)
			if err != nil || len(raw) != sha256.Size {
				p.add(sum, field+".sha256", "must be 64 hexadecimal digits (sha256sum of the token)")
			} else {
				copy(e.sum[:], raw)
			}
		}
	}
	e.Rights = p.rights(n, m["rights"], field+".rights")
	return e, len(p.problems) == before
}

// scalar returns a required string value.
func (p *parser) scalar(parent, n *yaml.Node, field string) string {
	switch {
	case n == nil:
		p.add(parent, field, "required")
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || n.Value == "":
		p.add(n, field, "must be a non-empty string")
	default:
		return n.Value
	}
	return ""
}

func (p *parser) rights(parent, n *yaml.Node, field string) []Right {
	if n == nil {
		p.add(parent, field, "required: list what the token may do (%s), or [] for nothing", words(Rights))
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list of %s", words(Rights))
		return nil
	}
	out := []Right{}
	for i, item := range n.Content {
		r := Right(item.Value)
		sub := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case item.Kind != yaml.ScalarNode || !slices.Contains(Rights, r):
			p.add(item, sub, "must be one of %s; got %q", words(Rights), item.Value)
		case slices.Contains(out, r):
			p.add(item, sub, "%q is listed twice", item.Value)
		default:
			out = append(out, r)
		}
	}
	return out
}

func words(rs []Right) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ", ")
}

// Authenticate implements server.Authenticator: the request's bearer token
// must be one of the file's. Every token is compared, in constant time.
func (f *File) Authenticate(_ context.Context, r *http.Request) (server.User, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return server.User{}, fmt.Errorf("%w: send the header Authorization: Bearer TOKEN", server.ErrUnauthenticated)
	}
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	if !strings.EqualFold(scheme, "Bearer") || value == "" {
		return server.User{}, fmt.Errorf("%w: the Authorization header is not a bearer token", server.ErrUnauthenticated)
	}
	sum := sha256.Sum256([]byte(value))
	found := -1
	for i := range f.entries {
		if subtle.ConstantTimeCompare(sum[:], f.entries[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return server.User{}, fmt.Errorf("%w: the bearer token is not valid", server.ErrUnauthenticated)
	}
	return server.User{Name: f.entries[found].User}, nil
}

// Authorize implements server.Authorizer: the user's token must give the
// right the request needs.
func (f *File) Authorize(_ context.Context, u server.User, a server.Attributes) (bool, string, error) {
	need, ok := needs(a)
	if !ok {
		return false, "no right of a token file allows it", nil
	}
	for _, e := range f.entries {
		if e.User != u.Name {
			continue
		}
		if slices.Contains(e.Rights, need) {
			return true, "", nil
		}
		if len(e.Rights) == 0 {
			return false, fmt.Sprintf("it needs the right %s; the token file gives this user none", need), nil
		}
		return false, fmt.Sprintf("it needs the right %s; the token file gives this user %s", need, words(e.Rights)), nil
	}
	return false, "the user is not in the token file", nil
}

// needs is the right a request needs.
func needs(a server.Attributes) (Right, bool) {
	switch {
	case a.Resource == "" && a.Path == server.PathMetrics && a.Verb == server.VerbGet:
		return RightMetrics, true
	case a.Resource != server.ResourcePlans && a.Resource != server.ResourceRuns:
		return "", false
	case a.Verb == server.VerbGet || a.Verb == server.VerbList:
		return RightRead, true
	case a.Resource == server.ResourceRuns && a.Verb == server.VerbCreate:
		return RightTrigger, true
	case a.Resource == server.ResourceRuns && a.Verb == server.VerbUpdate:
		return RightAbort, true
	}
	return "", false
}
