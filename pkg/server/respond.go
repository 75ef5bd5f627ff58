package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/firedrill/firedrill/pkg/log"
)

// Error is the body of every error response: {"error": {...}}.
type Error struct {
	// Code is the HTTP status code.
	Code int `json:"code"`
	// Reason names the status: BadRequest, Unauthorized, Forbidden,
	// NotFound, MethodNotAllowed, Conflict, RequestEntityTooLarge,
	// UnsupportedMediaType, InternalError.
	Reason string `json:"reason"`
	// Message says what is wrong, for people.
	Message string `json:"message"`
	// Field names the bad input of a 400: a query parameter (verdict), a
	// path parameter (run), a body field (plan), or "body" for a body
	// that is not a JSON object.
	Field string `json:"field,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// errorBody is the JSON document of an error response.
type errorBody struct {
	Error *Error `json:"error"`
}

var reasons = map[int]string{
	http.StatusBadRequest:            "BadRequest",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "NotFound",
	http.StatusMethodNotAllowed:      "MethodNotAllowed",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "RequestEntityTooLarge",
	http.StatusUnsupportedMediaType:  "UnsupportedMediaType",
	http.StatusInternalServerError:   "InternalError",
}

func newError(code int, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reasons[code], Message: fmt.Sprintf(format, args...)}
}

// badInput is a 400 naming field; the message starts with the field.
func badInput(field, format string, args ...any) *Error {
	e := newError(http.StatusBadRequest, "%s: %s", field, fmt.Sprintf(format, args...))
	e.Field = field
	return e
}

// buffers are the encoding buffers of responses, reused: a listing of
// thousands of runs is most of a megabyte.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 8 << 20

// writeJSON writes v as the response body, with its length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONSized(w, status, v, 0)
}

// writeJSONSized is writeJSON for a body of about size bytes.
func writeJSONSized(w http.ResponseWriter, status int, v any, size int) {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Grow(size)
	defer func() {
		if buf.Cap() <= maxPooled {
			buf.Reset()
			buffers.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		// Every body is plain data; this is a bug, said once.
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(buf).Encode(errorBody{newError(status, "encoding the response: %s", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError answers with err: an *Error as it is, ErrNotFound 404,
// ErrConflict 409, anything else 500 with its cause logged, not sent.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, ErrNotFound):
		e = newError(http.StatusNotFound, "%s", err)
	case errors.Is(err, ErrConflict):
		e = newError(http.StatusConflict, "%s", err)
	default:
		log.FromContext(r.Context()).Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = newError(http.StatusInternalServerError, "internal error; the drill serve log says why")
	}
	writeJSON(w, e.Code, errorBody{e})
}

// query is a request's query parameters, checked: each known and given at
// most once.
type query url.Values

// parseQuery reads the query string and refuses parameters not in allowed
// and parameters given twice.
func parseQuery(r *http.Request, allowed ...string) (query, *Error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badInput("query", "not a valid query string: %s", err)
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, badInput(k, "unknown query parameter; this endpoint takes none")
			}
			return nil, badInput(k, "unknown query parameter; this endpoint takes %s", strings.Join(allowed, ", "))
		}
		if len(vals[k]) > 1 {
			return nil, badInput(k, "given %d times; give it once", len(vals[k]))
		}
	}
	return query(vals), nil
}

// get returns a parameter's value, "" when absent.
func (q query) get(k string) string { return url.Values(q).Get(k) }

// CheckName says what is wrong with name, the name of a plan or a run
// given as the parameter or field param: it is required and must be a
// DNS-1123 subdomain, as Kubernetes object names are. The error is an
// *Error, a 400 naming param; nil means name is fine. Every name a
// request gives is checked so before it reaches an Authorizer or a
// Backend (in a cluster: a SubjectAccessReview, the API server).
func CheckName(param, name string) error {
	if bad := checkName(param, name); bad != nil {
		return bad
	}
	return nil
}

// CheckNamespace says what is wrong with ns, the namespace query
// parameter: empty (every namespace, or one machine) or a DNS-1123 label,
// as Kubernetes namespaces are. The error is an *Error, a 400 naming the
// parameter; nil means ns is fine. Checked before ns reaches an
// Authorizer or a Backend, as CheckName.
func CheckNamespace(ns string) error {
	if bad := checkNamespace(ns); bad != nil {
		return bad
	}
	return nil
}

func checkName(field, name string) *Error {
	if name == "" {
		return badInput(field, "required")
	}
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		return badInput(field, "%q is not a valid name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters", name)
	}
	return nil
}

func checkNamespace(ns string) *Error {
	if ns == "" {
		return nil
	}
	if len(validation.IsDNS1123Label(ns)) > 0 {
		return badInput(paramNS, "%q is not a valid namespace: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", ns)
	}
	return nil
}

// oneOf checks that v is one of the allowed values of field.
func oneOf[T ~string](field string, v T, allowed ...T) *Error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = string(a)
	}
	return badInput(field, "must be one of %s; got %q", strings.Join(words, ", "), string(v))
}

// decodeBody decodes a JSON object into v, strictly: unknown fields,
// values of the wrong type, trailing data and bodies over MaxBodyBytes are
// refused. An empty body leaves v as it is.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return newError(http.StatusUnsupportedMediaType, "the body must be application/json, got %q", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return newError(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return badInput("body", "reading: %s", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badInput("body", "trailing data after the JSON object")
	}
	return nil
}

// bodyError names the field a JSON decoding error is about.
func bodyError(err error) *Error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badInput("body", "not valid JSON at byte %d: %s", syntax.Offset, syntax)
	case errors.As(err, &typ) && typ.Field == "":
		return badInput("body", "must be a JSON object, got %s", typ.Value)
	case errors.As(err, &typ):
		return badInput(typ.Field, "must be a %s, got %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badInput("body", "not valid JSON: it ends early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badInput(strings.Trim(name, `"`), "unknown field")
	}
	return badInput("body", "not valid JSON: %s", err)
}
