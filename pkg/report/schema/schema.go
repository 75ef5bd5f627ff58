package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	jsonschemagen "github.com/invopop/jsonschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/firedrill/firedrill/pkg/report"
)

// File is the schema's file name.
const File = "report-v2.schema.json"

// ID is the schema's $id.
const ID = "https://firedrill.dev/schemas/report/v2.json"

//go:embed report-v2.schema.json
var committed []byte

// Module is the import path the source directories are relative to.
const Module = "github.com/firedrill/firedrill"

// Generate reflects the schema from report.Report. dirs are the source
// directories, relative to the module root (the working directory), of
// the packages whose comments describe the fields; nil leaves the
// descriptions out.
func Generate(dirs []string) ([]byte, error) {
	r := &jsonschemagen.Reflector{Mapper: mapType, Namer: nameType}
	for _, dir := range dirs {
		if err := r.AddGoComments(Module, dir); err != nil {
			return nil, fmt.Errorf("reading the comments of %s: %w", dir, err)
		}
	}
	s := r.Reflect(&report.Report{})
	s.ID = ID
	s.Title = "firedrill report.json"
	s.Description = "Everything a drill run measured. schema is " + report.SchemaVersion + "."
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the schema: %w", err)
	}
	return append(data, '\n'), nil
}

// nameType names a type's definition; the vocabulary's types get a prefix,
// as some share a name with an API type (Target).
func nameType(t reflect.Type) string {
	if strings.HasSuffix(t.PkgPath(), "/pkg/evidence") {
		return "Evidence" + t.Name()
	}
	return t.Name()
}

// mapType gives the JSON shape of types with their own JSON encoding.
func mapType(t reflect.Type) *jsonschemagen.Schema {
	switch t {
	case reflect.TypeFor[metav1.Duration]():
		return &jsonschemagen.Schema{Type: "string", Description: "a Go duration string, e.g. 1.5s or 1m2.5s", Pattern: `^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`}
	case reflect.TypeFor[metav1.MicroTime](), reflect.TypeFor[metav1.Time](), reflect.TypeFor[time.Time]():
		return &jsonschemagen.Schema{Type: "string", Format: "date-time"}
	case reflect.TypeFor[time.Duration]():
		return &jsonschemagen.Schema{Type: "integer", Description: "nanoseconds"}
	case reflect.TypeFor[runtime.RawExtension]():
		return &jsonschemagen.Schema{Description: "an embedded object, as written in the plan"}
	case reflect.TypeFor[intstr.IntOrString]():
		return &jsonschemagen.Schema{OneOf: []*jsonschemagen.Schema{{Type: "integer"}, {Type: "string"}}}
	}
	return nil
}

// Validate checks a report.json against the committed schema.
func Validate(data []byte) error {
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(committed))
	if err != nil {
		return fmt.Errorf("reading the report schema: %w", err)
	}
	if err := c.AddResource(ID, doc); err != nil {
		return fmt.Errorf("loading the report schema: %w", err)
	}
	sch, err := c.Compile(ID)
	if err != nil {
		return fmt.Errorf("compiling the report schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decoding the report: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("the report does not match %s: %w", report.SchemaVersion, err)
	}
	return nil
}
