package slo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// t0 anchors every synthetic drill; scenarios speak in offsets from it. It is
// never written.
var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// dur is a time.Duration that reads and writes "1.5s" in scenario files.
type dur time.Duration

func (d *dur) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parsing duration %q: %w", s, err)
	}
	*d = dur(v)
	return nil
}

func (d dur) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// phase is a stretch of synthetic behaviour that lasts until an offset.
type phase struct {
	// Until ends the phase (offset from t0).
	Until dur `json:"until"`
	// Latency is the base latency of a successful request; Jitter adds a
	// uniform [0, Jitter) on top.
	Latency dur `json:"latency"`
	Jitter  dur `json:"jitter,omitempty"`
	// FailRate is the fraction of requests that fail, drawn at random.
	FailRate float64 `json:"failRate,omitempty"`
	// FailEvery makes every n-th request fail deterministically (a dead
	// backend behind a round-robin balancer when n is its count).
	FailEvery int `json:"failEvery,omitempty"`
	// Code is the status of failed requests that got a response (e.g. 503);
	// zero with Err set means no response.
	Code int `json:"code,omitempty"`
	// Err is the error class of failed requests.
	Err evidence.ErrorClass `json:"err,omitempty"`
	// FailLatency is the latency of failed requests (a timeout: the timeout).
	FailLatency dur `json:"failLatency,omitempty"`
	// SlowRate and SlowLatency add a slow tail to successful requests.
	SlowRate    float64 `json:"slowRate,omitempty"`
	SlowLatency dur     `json:"slowLatency,omitempty"`
}

// capPoint and modelObs are the scenario-file forms of the platform series.
type capPoint struct {
	At       dur    `json:"at"`
	Workload string `json:"workload"`
	Desired  int    `json:"desired"`
	Ready    int    `json:"ready"`
}

type modelObs struct {
	At        dur    `json:"at"`
	Replica   string `json:"replica"`
	Version   string `json:"version"`
	CreatedAt dur    `json:"createdAt"`
	Fallback  bool   `json:"fallback,omitempty"`
}

type criteriaSpec struct {
	SuccessRate float64 `json:"successRate"`
	LatencyP99  dur     `json:"latencyP99"`
	For         dur     `json:"for"`
}

type objectivesSpec struct {
	RTO          dur          `json:"rto,omitempty"`
	RPO          *dur         `json:"rpo,omitempty"`
	Availability float64      `json:"availability,omitempty"`
	LatencyP99   dur          `json:"latencyP99,omitempty"`
	Recovered    criteriaSpec `json:"recovered"`
}

// scenario is a recorded drill described compactly enough to commit; its
// samples are generated deterministically from the seed.
type scenario struct {
	Description string         `json:"description"`
	Rate        int            `json:"rate"`
	Seed        uint64         `json:"seed"`
	Injected    dur            `json:"injected"`
	End         dur            `json:"end"`
	Replaced    *dur           `json:"replaced,omitempty"`
	Objectives  objectivesSpec `json:"objectives"`
	Phases      []phase        `json:"phases"`
	Capacity    []capPoint     `json:"capacity,omitempty"`
	Models      []modelObs     `json:"models,omitempty"`
	Newest      *modelObs      `json:"newestPublishedBefore,omitempty"`
}

func at(d dur) time.Time { return t0.Add(time.Duration(d)) }

// generate returns the samples of phases sent at rate per second from t0
// until the last phase ends.
func generate(rate int, seed uint64, phases []phase) []evidence.Sample {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	interval := time.Second / time.Duration(rate)
	var out []evidence.Sample
	p, inPhase := 0, 0
	for i := 0; p < len(phases); i++ {
		off := time.Duration(i) * interval
		for p < len(phases) && off >= time.Duration(phases[p].Until) {
			p, inPhase = p+1, 0
		}
		if p == len(phases) {
			break
		}
		ph := phases[p]
		inPhase++
		s := evidence.Sample{At: t0.Add(off), Code: 200, Route: "recommend"}
		fail := ph.FailRate > 0 && rng.Float64() < ph.FailRate
		if ph.FailEvery > 0 {
			fail = inPhase%ph.FailEvery == 0
		}
		jitter := time.Duration(0)
		if ph.Jitter > 0 {
			jitter = time.Duration(rng.Int64N(int64(ph.Jitter)))
		}
		switch {
		case fail:
			s.Code, s.Err = ph.Code, ph.Err
			s.Latency = time.Duration(ph.FailLatency)
			if s.Latency == 0 {
				s.Latency = time.Millisecond
			}
		case ph.SlowRate > 0 && rng.Float64() < ph.SlowRate:
			s.Latency = time.Duration(ph.SlowLatency) + jitter
		default:
			s.Latency = time.Duration(ph.Latency) + jitter
		}
		out = append(out, s)
	}
	return out
}

func (sc scenario) objectives() Objectives {
	o := Objectives{
		RTO:          time.Duration(sc.Objectives.RTO),
		Availability: sc.Objectives.Availability,
		LatencyP99:   time.Duration(sc.Objectives.LatencyP99),
		Recovered: Criteria{
			SuccessRate: sc.Objectives.Recovered.SuccessRate,
			LatencyP99:  time.Duration(sc.Objectives.Recovered.LatencyP99),
			For:         time.Duration(sc.Objectives.Recovered.For),
		},
	}
	if sc.Objectives.RPO != nil {
		o.RPO = durPtr(time.Duration(*sc.Objectives.RPO))
	}
	return o
}

func (sc scenario) input(name string) FaultInput {
	in := FaultInput{
		Name:    name,
		Start:   at(sc.Injected),
		End:     at(sc.End),
		Samples: generate(sc.Rate, sc.Seed, sc.Phases),
	}
	if sc.Replaced != nil {
		in.Replaced = timePtr(at(*sc.Replaced))
	}
	for _, c := range sc.Capacity {
		in.Capacity = append(in.Capacity, evidence.CapacityPoint{At: at(c.At), Workload: c.Workload, Desired: c.Desired, Ready: c.Ready})
	}
	conv := func(m modelObs) evidence.ModelObservation {
		return evidence.ModelObservation{At: at(m.At), Replica: m.Replica, Version: m.Version, CreatedAt: at(m.CreatedAt), Fallback: m.Fallback}
	}
	for _, m := range sc.Models {
		in.Models = append(in.Models, conv(m))
	}
	if sc.Newest != nil {
		n := conv(*sc.Newest)
		in.NewestPublishedBefore = &n
	}
	return in
}
