package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/firedrill/firedrill/pkg/report"
)

// PushJob is the job label of pushed runs.
const PushJob = "firedrill"

// PushOptions say where a one-shot run's metrics go.
type PushOptions struct {
	// URL is the Pushgateway's base URL (http://pushgateway:9091).
	// Required.
	URL string
	// Client sends the push; nil means a client with a 30 s timeout.
	Client *http.Client
}

func (o *PushOptions) validate() error {
	if o.URL == "" {
		return errors.New("a Pushgateway URL is required")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return fmt.Errorf("pushgateway URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("pushgateway URL %s: want http://host:port or https://host:port", u.Redacted())
	}
	return nil
}

// Push sends the metrics of one finished run to a Pushgateway: the same
// metrics drill serve exposes, from a registry that saw only this run
// (SetPlan, then RunFinished). They replace the group job="firedrill",
// instance=<plan> (the series carry the plan label already, which a
// grouping label may not repeat), so the group always holds the plan's
// latest pushed run and its counters and histograms count that one run.
func Push(ctx context.Context, opts PushOptions, rep *report.Report) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if rep == nil || rep.Plan.Name == "" {
		return errors.New("pushing metrics: the report names no plan")
	}
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		return err
	}
	m.SetPlan(rep.Plan.Name, &rep.Plan.Spec, time.Time{})
	m.RunFinished(rep)
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	err = push.New(opts.URL, PushJob).Grouping("instance", rep.Plan.Name).Gatherer(reg).Client(client).PushContext(ctx)
	if err != nil {
		return fmt.Errorf("pushing metrics to %s: %w", redacted(opts.URL), err)
	}
	return nil
}

// redacted is a URL without its password, for messages.
func redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the Pushgateway"
	}
	return u.Redacted()
}
