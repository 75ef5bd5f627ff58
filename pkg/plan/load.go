package plan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1/validation"
)

// Stdin is the argument that reads a plan from standard input.
const Stdin = "-"

// Limits that keep hostile input cheap to reject.
const (
	DefaultMaxFileSize = 4 << 20
	DefaultMaxNodes    = 100_000
	DefaultMaxDepth    = 64
)

// Plan is a loaded, defaulted and valid DrillPlan with where it came from.
type Plan struct {
	*v1alpha1.DrillPlan
	// Source is the file the plan was read from, or "<stdin>".
	Source string
	// Document is the plan's 0-based index among the documents of Source.
	Document int
}

// Hash is the sha256 of the defaulted spec's canonical JSON: two plans with
// the same hash drill the same way.
func (p *Plan) Hash() string {
	raw, err := json.Marshal(p.Spec)
	if err != nil {
		panic(fmt.Sprintf("marshalling a decoded plan cannot fail: %v", err))
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Loader reads plans. The zero value uses the default limits and reads
// standard input from os.Stdin.
type Loader struct {
	// MaxFileSize is the largest plan file in bytes.
	MaxFileSize int64
	// MaxNodes bounds the YAML nodes of one document, aliases expanded.
	MaxNodes int
	// MaxDepth bounds nesting.
	MaxDepth int
	// Stdin is read for the argument "-".
	Stdin io.Reader
}

func (l *Loader) limits() (int64, int, int) {
	size, nodes, depth := l.MaxFileSize, l.MaxNodes, l.MaxDepth
	if size <= 0 {
		size = DefaultMaxFileSize
	}
	if nodes <= 0 {
		nodes = DefaultMaxNodes
	}
	if depth <= 0 {
		depth = DefaultMaxDepth
	}
	return size, nodes, depth
}

// Load reads every plan from the given files, directories (their *.yaml and
// *.yml files, not recursive) and "-" for standard input. It returns the
// valid plans and, when anything was wrong, a Problems error listing every
// problem in every input.
func (l *Loader) Load(ctx context.Context, args []string) ([]*Plan, error) {
	if len(args) == 0 {
		return nil, errors.New("no plan files given")
	}
	var plans []*Plan
	var problems Problems
	for _, arg := range args {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files, ps := expand(arg)
		problems = append(problems, ps...)
		for _, f := range files {
			data, p := l.read(f)
			if p != nil {
				problems = append(problems, *p)
				continue
			}
			name := f
			if f == Stdin {
				name = "<stdin>"
			}
			got, ps := l.LoadBytes(name, data)
			plans = append(plans, got...)
			problems = append(problems, ps...)
		}
	}
	problems = append(problems, duplicateNames(plans)...)
	if len(problems) > 0 {
		return plans, problems
	}
	return plans, nil
}

// expand turns an argument into the files it names.
func expand(arg string) ([]string, Problems) {
	if arg == Stdin {
		return []string{Stdin}, nil
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, Problems{{File: arg, Message: describeFSError(err)}}
	}
	if !info.IsDir() {
		return []string{arg}, nil
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return nil, Problems{{File: arg, Message: describeFSError(err)}}
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(arg, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, Problems{{File: arg, Message: "directory holds no .yaml or .yml files"}}
	}
	slices.Sort(files)
	return files, nil
}

func describeFSError(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	default:
		return err.Error()
	}
}

func (l *Loader) read(file string) ([]byte, *Problem) {
	maxSize, _, _ := l.limits()
	name := file
	var r io.Reader
	if file == Stdin {
		name = "<stdin>"
		r = l.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, &Problem{File: file, Message: describeFSError(err)}
		}
		defer f.Close() //nolint:errcheck // read-only.
		if info, err := f.Stat(); err == nil && info.Size() > maxSize {
			return nil, &Problem{File: file, Message: fmt.Sprintf("file is %s, larger than the %s limit for a plan", size(info.Size()), size(maxSize))}
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, &Problem{File: name, Message: "reading: " + err.Error()}
	}
	if int64(len(data)) > maxSize {
		return nil, &Problem{File: name, Message: fmt.Sprintf("input is larger than the %s limit for a plan", size(maxSize))}
	}
	return data, nil
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " bytes"
	}
}

var yamlErrRx = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// LoadBytes loads every plan document of one input named name.
func (l *Loader) LoadBytes(name string, data []byte) ([]*Plan, Problems) {
	_, maxNodes, maxDepth := l.limits()
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, Problems{{File: name, Message: fmt.Sprintf("not a YAML text file: binary data (a NUL byte at offset %d)", i)}}
	}
	if !utf8.Valid(data) {
		return nil, Problems{{File: name, Message: "not a YAML text file: the input is not valid UTF-8"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var plans []*Plan
	var problems Problems
	for doc := 0; ; doc++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p := Problem{File: name, Message: "not valid YAML: " + err.Error()}
			if m := yamlErrRx.FindStringSubmatch(err.Error()); m != nil {
				p.Message = "not valid YAML: " + m[2]
				if m[1] != "" {
					p.Line, _ = strconv.Atoi(m[1])
					p.Column = 1
				}
			}
			problems = append(problems, p)
			break
		}
		if len(root.Content) == 0 {
			continue // an empty document between separators
		}
		plan, ps := loadDocument(name, doc, root.Content[0], maxNodes, maxDepth)
		problems = append(problems, ps...)
		if plan != nil {
			plans = append(plans, plan)
		}
	}
	if len(plans) == 0 && len(problems) == 0 {
		problems = append(problems, Problem{File: name, Message: "no DrillPlan documents found"})
	}
	problems.sort()
	return plans, problems
}

func loadDocument(name string, doc int, n *yaml.Node, maxNodes, maxDepth int) (*Plan, Problems) {
	if n.Kind != yaml.MappingNode {
		return nil, Problems{{File: name, Line: n.Line, Column: n.Column, Message: fmt.Sprintf("a plan must be a mapping with apiVersion, kind, metadata and spec, got %s", kindName(n))}}
	}
	var problems Problems
	header := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "apiVersion", "kind", "status":
			header[k] = n.Content[i+1]
		}
	}
	want := map[string]string{"apiVersion": v1alpha1.GroupVersion.String(), "kind": v1alpha1.KindDrillPlan}
	for _, k := range []string{"apiVersion", "kind"} {
		v, ok := header[k]
		switch {
		case !ok:
			problems = append(problems, Problem{File: name, Line: n.Line, Column: n.Column, Field: k, Message: fmt.Sprintf("required: must be %q", want[k])})
		case v.Kind != yaml.ScalarNode || v.Value != want[k]:
			problems = append(problems, Problem{File: name, Line: v.Line, Column: v.Column, Field: k, Message: fmt.Sprintf("must be %q, got %s", want[k], kindName(v))})
		}
	}
	if s, ok := header["status"]; ok {
		problems = append(problems, Problem{File: name, Line: s.Line, Column: s.Column, Field: "status", Message: "is written by firedrill; a plan file sets only metadata and spec"})
	}
	if len(problems) > 0 {
		return nil, problems
	}

	d := newDecoder(name, maxNodes, maxDepth)
	val, _ := d.value(n, typeOfPlan, "", 0)
	if d.exhaust || d.tooDeep {
		return nil, d.problems
	}
	// Values with problems were left out of val, so the rest of the plan can
	// still be validated and every problem reported at once.
	raw, err := json.Marshal(val)
	if err != nil {
		return nil, Problems{{File: name, Line: n.Line, Column: n.Column, Message: "encoding: " + err.Error()}}
	}
	dp := &v1alpha1.DrillPlan{}
	jd := json.NewDecoder(bytes.NewReader(raw))
	jd.DisallowUnknownFields()
	if err := jd.Decode(dp); err != nil {
		return nil, append(d.problems, Problem{File: name, Line: n.Line, Column: n.Column, Message: "decoding: " + err.Error()})
	}
	v1alpha1.SetDefaults_DrillPlan(dp)
	problems = append(d.problems, d.locate(withoutDecoded(validation.ValidateDrillPlan(dp), d.problems))...)
	if len(problems) > 0 {
		problems.sort()
		return nil, problems
	}
	return &Plan{DrillPlan: dp, Source: name, Document: doc}, nil
}

// withoutDecoded drops validation errors about fields that already have a
// decoding problem (a dropped value is then reported as missing).
func withoutDecoded(errs field.ErrorList, decoded Problems) field.ErrorList {
	if len(decoded) == 0 {
		return errs
	}
	out := errs[:0:0]
	for _, e := range errs {
		covered := false
		for _, p := range decoded {
			if p.Field == "" {
				continue
			}
			under := e.Field == p.Field || strings.HasPrefix(e.Field, p.Field+".") || strings.HasPrefix(e.Field, p.Field+"[")
			// A required error on an ancestor is what dropping the bad value caused.
			above := e.Type == field.ErrorTypeRequired && (strings.HasPrefix(p.Field, e.Field+".") || strings.HasPrefix(p.Field, e.Field+"["))
			if under || above {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, e)
		}
	}
	return out
}

// locate turns field errors into problems positioned at the field, or at
// the nearest ancestor present in the file.
func (d *decoder) locate(errs field.ErrorList) Problems {
	out := make(Problems, 0, len(errs))
	for _, e := range errs {
		p := Problem{File: d.file, Field: e.Field, Message: describe(e)}
		for path := e.Field; ; path = parent(path) {
			if pos, ok := d.values[path]; ok {
				p.Line, p.Column = pos.line, pos.col
				break
			}
			if path == "" {
				break
			}
		}
		out = append(out, p)
	}
	out.sort()
	return out
}

// parent drops the last element of a field path.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func duplicateNames(plans []*Plan) Problems {
	var out Problems
	first := map[string]*Plan{}
	for _, p := range plans {
		if prev, ok := first[p.Name]; ok {
			out = append(out, Problem{File: p.Source, Field: "metadata.name",
				Message: fmt.Sprintf("duplicate plan name %q (also in %s)", p.Name, prev.Source)})
			continue
		}
		first[p.Name] = p
	}
	return out
}

// Show renders a plan with its defaults applied, as YAML.
func Show(p *v1alpha1.DrillPlan) ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding plan %s: %w", p.Name, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("encoding plan %s: %w", p.Name, err)
	}
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	out, err := sigsyaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding plan %s: %w", p.Name, err)
	}
	return out, nil
}
