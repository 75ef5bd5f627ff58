package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/suggest"
)

// position is where a node starts in its file.
type position struct{ line, col int }

var (
	durationType    = reflect.TypeFor[metav1.Duration]()
	percentType     = reflect.TypeFor[v1alpha1.Percent]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// decoder walks one YAML document against a Go type. It builds a value
// that encoding/json can decode into the type, records the position of
// every field, and collects every problem instead of stopping at the first.
type decoder struct {
	file     string
	problems Problems
	// values maps a field path to the position of its value node.
	values map[string]position
	// budget is how many more nodes may be visited, aliases expanded.
	budget   int
	maxDepth int
	exhaust  bool
	tooDeep  bool
}

func newDecoder(file string, maxNodes, maxDepth int) *decoder {
	return &decoder{file: file, values: map[string]position{}, budget: maxNodes, maxDepth: maxDepth}
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Field: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// visit accounts for one node and resolves aliases. It returns nil when
// the document is too large or too deep.
func (d *decoder) visit(n *yaml.Node, path string, depth int) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
		d.budget--
	}
	d.budget--
	if d.budget < 0 {
		if !d.exhaust {
			d.exhaust = true
			d.problem(n, path, "document has too many nodes once aliases are expanded (a YAML alias bomb?)")
		}
		return nil
	}
	if depth > d.maxDepth {
		if !d.tooDeep {
			d.tooDeep = true
			d.problem(n, path, "nested more than %d levels deep", d.maxDepth)
		}
		return nil
	}
	return n
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "number " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		case "!!null":
			return "null"
		default:
			return strconv.Quote(n.Value)
		}
	}
	return "an unknown node"
}

// value decodes n as type t at path. ok is false when a problem was
// recorded for n or below it.
func (d *decoder) value(n *yaml.Node, t reflect.Type, path string, depth int) (any, bool) {
	if n = d.visit(n, path, depth); n == nil {
		return nil, false
	}
	d.values[path] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return d.duration(n, path)
	case t == percentType:
		if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!bool" {
			d.problem(n, path, "must be a percentage like \"99.9\", got %s", kindName(n))
			return nil, false
		}
		if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
			// kubectl apply would send a number, which the CRD's string
			// schema refuses: one file must mean the same to both.
			d.problem(n, path, "must be a quoted percentage like \"%s\" (the API server refuses an unquoted number)", n.Value)
			return nil, false
		}
		return n.Value, true
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return d.opaque(n, t, path, depth)
	}
	switch t.Kind() {
	case reflect.Struct:
		return d.object(n, t, path, depth)
	case reflect.Map:
		return d.mapping(n, t, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(n, path, "must be a list, got %s", kindName(n))
			return nil, false
		}
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, cok := d.value(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && cok
			out = append(out, v)
		}
		return out, ok
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = " (quote it to make it a string)"
			}
			d.problem(n, path, "must be a string, got %s%s", kindName(n), hint)
			return nil, false
		}
		return n.Value, true
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.problem(n, path, "must be true or false, got %s", kindName(n))
			return nil, false
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.problem(n, path, "must be an integer, got %s", kindName(n))
			return nil, false
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits())
		if err != nil {
			d.problem(n, path, "must be an integer that fits in %d bits, got %s", t.Bits(), n.Value)
			return nil, false
		}
		return i, true
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			d.problem(n, path, "must be a number, got %s", kindName(n))
			return nil, false
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.problem(n, path, "must be a finite number, got %s", n.Value)
			return nil, false
		}
		return f, true
	case reflect.Interface:
		return d.generic(n, path, depth)
	}
	d.problem(n, path, "cannot decode into %s", t)
	return nil, false
}

func (d *decoder) duration(n *yaml.Node, path string) (any, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.problem(n, path, "must be a duration such as 500ms, 30s or 2m, got %s", kindName(n))
		return nil, false
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.problem(n, path, "must be a duration such as 500ms, 30s or 2m, got %q", n.Value)
		return nil, false
	}
	if dur < 0 {
		d.problem(n, path, "must not be negative, got %q", n.Value)
		return nil, false
	}
	return n.Value, true
}

// opaque decodes a type with its own JSON decoding (times, raw objects) by
// letting that decoding judge the generic value.
func (d *decoder) opaque(n *yaml.Node, t reflect.Type, path string, depth int) (any, bool) {
	v, ok := d.generic(n, path, depth)
	if !ok {
		return nil, false
	}
	raw, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(raw, reflect.New(t).Interface())
	}
	if err != nil {
		d.problem(n, path, "invalid value: %s", strings.TrimPrefix(err.Error(), "json: "))
		return nil, false
	}
	return v, true
}

type fieldInfo struct {
	name string
	typ  reflect.Type
}

// fieldsOf lists the JSON fields of a struct, inline fields flattened.
func fieldsOf(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range fieldsOf(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = fieldInfo{name: name, typ: f.Type}
	}
	return out
}

func (d *decoder) object(n *yaml.Node, t reflect.Type, path string, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "must be a mapping of fields, got %s", kindName(n))
		return nil, false
	}
	fields := fieldsOf(t)
	out := make(map[string]any, len(n.Content)/2)
	seen := map[string]int{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.problem(k, path, "keys must be plain field names (YAML merge keys are not supported)")
			ok = false
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.problem(k, join(path, k.Value), "duplicate key %q (first set on line %d)", k.Value, first)
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		f, known := fields[k.Value]
		if !known {
			d.problem(k, join(path, k.Value), "unknown field %q%s", k.Value, suggest.DidYouMean(k.Value, maps.Keys(fields)))
			ok = false
			continue
		}
		val, vok := d.value(v, f.typ, join(path, k.Value), depth+1)
		ok = ok && vok
		if val != nil {
			out[k.Value] = val
		}
	}
	return out, ok
}

func (d *decoder) mapping(n *yaml.Node, t reflect.Type, path string, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "must be a mapping, got %s", kindName(n))
		return nil, false
	}
	if t.Key().Kind() != reflect.String {
		d.problem(n, path, "cannot decode a mapping with %s keys", t.Key())
		return nil, false
	}
	out := make(map[string]any, len(n.Content)/2)
	seen := map[string]int{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.problem(k, path, "keys must be strings (YAML merge keys are not supported)")
			ok = false
			continue
		}
		kp := fmt.Sprintf("%s[%s]", path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.problem(k, kp, "duplicate key %q (first set on line %d)", k.Value, first)
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		val, vok := d.value(v, t.Elem(), kp, depth+1)
		ok = ok && vok
		out[k.Value] = val
	}
	return out, ok
}

// generic decodes any YAML into JSON-compatible values.
func (d *decoder) generic(n *yaml.Node, path string, depth int) (any, bool) {
	if n = d.visit(n, path, depth); n == nil {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				d.problem(k, path, "keys must be strings (YAML merge keys are not supported)")
				ok = false
				continue
			}
			kp := join(path, k.Value)
			if _, dup := out[k.Value]; dup {
				d.problem(k, kp, "duplicate key %q", k.Value)
				ok = false
				continue
			}
			val, vok := d.generic(v, kp, depth+1)
			ok = ok && vok
			out[k.Value] = val
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			val, vok := d.generic(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && vok
			out = append(out, val)
		}
		return out, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			b, _ := strconv.ParseBool(strings.ToLower(n.Value))
			return b, true
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return i, true
			}
			fallthrough
		case "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				d.problem(n, path, "must be a finite number, got %s", n.Value)
				return nil, false
			}
			return f, true
		default:
			return n.Value, true
		}
	}
	d.problem(n, path, "unsupported YAML node")
	return nil, false
}

var typeOfPlan = reflect.TypeFor[v1alpha1.DrillPlan]()
