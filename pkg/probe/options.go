package probe

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for zero Options fields.
const (
	// DefaultRate is the request rate per second.
	DefaultRate = 50
	// DefaultTimeout bounds every request.
	DefaultTimeout = time.Second
)

// maxTemplates bounds the number of templates (routes are stored in 16 bits, one value means unknown).
const maxTemplates = 1<<16 - 1

// Template is one kind of request the probe sends.
type Template struct {
	// Name names the route in samples, e.g. "recommend".
	Name string
	// Method is the HTTP method; empty means GET.
	Method string
	// Path is appended to the endpoint. It may contain {user}, {query} and
	// {item}, each replaced by a value from the matching pool, path- or
	// query-escaped depending on where it appears.
	Path string
	// Weight is the relative share of requests; zero means 1.
	Weight int
}

// Pools are the values templates are filled with.
type Pools struct {
	Users, Items, Queries []string
}

// Options configure a Prober. Zero values are documented per field.
type Options struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:8080. Required.
	Endpoint string
	// Rate is requests per second; zero means DefaultRate.
	Rate int
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// Templates are the requests to send, picked by weight. At least one.
	Templates []Template
	// Pools fill the templates' placeholders.
	Pools Pools
	// Seed seeds the template and value picks; the same seed gives the same
	// sequence of requests.
	Seed int64
	// Header is added to every request.
	Header http.Header
	// MaxWorkers bounds concurrent requests; zero means enough never to
	// block the schedule: 2 × Rate × Timeout (in seconds) + 16. A smaller
	// value trades memory for coordinated omission when the service hangs.
	MaxWorkers int
}

var placeholders = [...]string{"{user}", "{query}", "{item}"}

// withDefaults returns a copy of o with defaults applied, or every problem.
func (o Options) withDefaults() (Options, error) {
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	var errs []error
	u, err := url.Parse(o.Endpoint)
	switch {
	case o.Endpoint == "":
		errs = append(errs, errors.New("endpoint: required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("endpoint: scheme must be http or https, got %q", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("endpoint: missing host"))
	}
	o.Endpoint = strings.TrimSuffix(o.Endpoint, "/")
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate: must be positive, got %d", o.Rate))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", o.Timeout))
	}
	if o.MaxWorkers < 0 {
		errs = append(errs, fmt.Errorf("maxWorkers: must not be negative, got %d", o.MaxWorkers))
	}
	if o.MaxWorkers == 0 && o.Rate > 0 && o.Timeout > 0 {
		o.MaxWorkers = int(2*float64(o.Rate)*o.Timeout.Seconds()) + 16
	}
	if len(o.Templates) == 0 {
		errs = append(errs, errors.New("templates: at least one is required"))
	}
	if len(o.Templates) > maxTemplates {
		errs = append(errs, fmt.Errorf("templates: at most %d, got %d", maxTemplates, len(o.Templates)))
	}
	tmpls := make([]Template, len(o.Templates))
	for i, t := range o.Templates {
		field := fmt.Sprintf("templates[%d]", i)
		if t.Method == "" {
			t.Method = http.MethodGet
		}
		if t.Weight == 0 {
			t.Weight = 1
		}
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", field))
		}
		if t.Weight < 0 {
			errs = append(errs, fmt.Errorf("%s.weight: must not be negative, got %d", field, t.Weight))
		}
		if !strings.HasPrefix(t.Path, "/") {
			errs = append(errs, fmt.Errorf("%s.path: must start with /, got %q", field, t.Path))
		}
		for _, ph := range placeholders {
			if strings.Contains(t.Path, ph) && len(o.Pools.pool(ph)) == 0 {
				errs = append(errs, fmt.Errorf("%s.path: uses %s but the pool is empty", field, ph))
			}
		}
		tmpls[i] = t
	}
	o.Templates = tmpls
	o.Header = o.Header.Clone()
	return o, errors.Join(errs...)
}

func (p Pools) pool(placeholder string) []string {
	switch placeholder {
	case "{user}":
		return p.Users
	case "{query}":
		return p.Queries
	case "{item}":
		return p.Items
	}
	return nil
}
