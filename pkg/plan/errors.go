package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Problem is one thing wrong with a plan, located in its source.
type Problem struct {
	// File is the path the plan was read from, or "<stdin>".
	File string `json:"file"`
	// Line and Column are 1-based; 0 when the problem has no position.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Field is the field path (spec.steps[2].fault), empty for file-level
	// problems.
	Field string `json:"field,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String renders the problem as file:line:column: field: message.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a load. It is an error.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// describe turns a field.Error into the message part of a Problem.
func describe(e *field.Error) string {
	switch e.Type {
	case field.ErrorTypeInvalid:
		msg := e.Detail
		if msg == "" {
			msg = "invalid value"
		}
		if e.BadValue == nil {
			return msg
		}
		return msg + ", got " + formatValue(e.BadValue)
	case field.ErrorTypeRequired:
		if e.Detail == "" {
			return "required"
		}
		return "required: " + e.Detail
	case field.ErrorTypeForbidden:
		if e.Detail == "" {
			return "forbidden"
		}
		return e.Detail
	case field.ErrorTypeDuplicate:
		return "duplicate value " + formatValue(e.BadValue)
	case field.ErrorTypeNotSupported:
		return "must be one of " + strings.TrimPrefix(e.Detail, "supported values: ") + ", got " + formatValue(e.BadValue)
	default:
		return e.ErrorBody()
	}
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case fmt.Stringer:
		return fmt.Sprintf("%q", x.String())
	default:
		if s := fmt.Sprint(x); s != "" {
			// Named string types (enums) print quoted like strings.
			if _, isNum := numeric(x); !isNum && fmt.Sprintf("%T", x) != "bool" {
				return fmt.Sprintf("%q", s)
			}
			return s
		}
		return fmt.Sprintf("%v", x)
	}
}

func numeric(v any) (string, bool) {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprint(v), true
	}
	return "", false
}
