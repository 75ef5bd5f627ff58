package validation

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Limits enforced by validation beyond the schema's own bounds.
const (
	MaxStepDuration  = 24 * time.Hour
	MaxLoadTimeout   = time.Minute
	MaxStartDelay    = 5 * time.Minute
	MaxRecoveredFor  = time.Hour
	maxPlaceholderRx = 8
)

var placeholderRx = regexp.MustCompile(`\{([^{}]*)\}`)

// ValidateDrillPlan returns every problem of a defaulted plan at once, each
// with its field path. Call SetDefaults_DrillPlan first.
func ValidateDrillPlan(p *v1alpha1.DrillPlan) field.ErrorList {
	var errs field.ErrorList
	md := field.NewPath("metadata")
	if p.Name == "" {
		errs = append(errs, field.Required(md.Child("name"), "every plan needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(p.Name) {
			errs = append(errs, field.Invalid(md.Child("name"), p.Name, msg))
		}
	}
	if p.Spec.Schedule != "" && len(p.Name) > v1alpha1.MaxScheduledPlanName {
		errs = append(errs, field.Invalid(md.Child("name"), p.Name, fmt.Sprintf(
			"a plan with a schedule has a name of at most %d characters: its runs are named <plan>-<yyyymmdd>-<hhmmss>, which must fit a label value (63)", v1alpha1.MaxScheduledPlanName)))
	}
	errs = append(errs, ValidateDrillPlanSpec(&p.Spec, field.NewPath("spec"))...)
	return errs
}

// ValidateDrillRun returns every problem of a defaulted run at once.
func ValidateDrillRun(r *v1alpha1.DrillRun) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	switch {
	case r.Spec.PlanRef == nil && r.Spec.Plan == nil:
		errs = append(errs, field.Required(sp, "set planRef or an inline plan"))
	case r.Spec.PlanRef != nil && r.Spec.Plan != nil:
		errs = append(errs, field.Forbidden(sp.Child("plan"), "set planRef or an inline plan, not both"))
	case r.Spec.PlanRef != nil && r.Spec.PlanRef.Name == "":
		errs = append(errs, field.Required(sp.Child("planRef", "name"), ""))
	case r.Spec.Plan != nil:
		errs = append(errs, ValidateDrillPlanSpec(r.Spec.Plan, sp.Child("plan"))...)
	}
	switch r.Spec.Trigger {
	case v1alpha1.TriggerManual, v1alpha1.TriggerSchedule, v1alpha1.TriggerAPI:
	default:
		errs = append(errs, field.NotSupported(sp.Child("trigger"), r.Spec.Trigger, []v1alpha1.Trigger{v1alpha1.TriggerManual, v1alpha1.TriggerSchedule, v1alpha1.TriggerAPI}))
	}
	return append(errs, validateRunOrigin(&r.Spec, sp)...)
}

// maxItems mirrors the schema's list limits so drill validate refuses what
// the API server would.
func (v *validator) maxItems(p *field.Path, n, limit int) {
	if n > limit {
		v.add(field.TooMany(p, n, limit))
	}
}

// ValidateDrillPlanSpec validates a defaulted spec rooted at path.
func ValidateDrillPlanSpec(s *v1alpha1.DrillPlanSpec, path *field.Path) field.ErrorList {
	v := &validator{spec: s}
	v.schedule(path)
	v.target(path.Child("target"))
	v.system(path.Child("system"))
	v.load(path.Child("load"))
	v.objectives(path.Child("objectives"))
	v.abort(path.Child("abort"))
	v.safety(path.Child("safety"))
	v.steps(path.Child("steps"))
	return v.errs
}

type validator struct {
	spec *v1alpha1.DrillPlanSpec
	errs field.ErrorList
}

func (v *validator) add(errs ...*field.Error) { v.errs = append(v.errs, errs...) }

func (v *validator) local() *v1alpha1.LocalSandbox {
	if v.spec.Target.Platform == v1alpha1.PlatformLocal {
		return v.spec.Target.Local
	}
	return nil
}

func (v *validator) region(name string) *v1alpha1.LocalRegion {
	l := v.local()
	if l == nil {
		return nil
	}
	for i := range l.Regions {
		if l.Regions[i].Name == name {
			return &l.Regions[i]
		}
	}
	return nil
}

func (v *validator) regionNames() []string {
	var names []string
	if l := v.local(); l != nil {
		for _, r := range l.Regions {
			names = append(names, r.Name)
		}
	}
	return names
}

// checkRegion validates a reference to a sandbox region or to a cluster
// of a multi-cluster target. On a single cluster a region is a topology
// label value and cannot be checked offline.
func (v *validator) checkRegion(p *field.Path, name string) {
	if name == "" {
		return
	}
	if cl := v.spec.Target.Clusters; len(cl) > 0 {
		names := sets.New[string]()
		for _, c := range cl {
			if c.Region == name {
				return
			}
			names.Insert(c.Region)
		}
		v.add(field.NotSupported(p, name, sets.List(names)))
		return
	}
	if v.local() != nil && v.region(name) == nil {
		v.add(field.NotSupported(p, name, v.regionNames()))
	}
}

// clusters validates a multi-cluster target.
func (v *validator) clusters(p *field.Path) {
	t := &v.spec.Target
	if len(t.Clusters) == 0 {
		return
	}
	if t.Platform != v1alpha1.PlatformKubernetes {
		v.add(field.Forbidden(p, "only allowed when platform is kubernetes"))
		return
	}
	if t.Context != "" {
		v.add(field.Forbidden(field.NewPath("spec", "target", "context"), "set target.clusters or target.context, not both"))
	}
	if len(t.Clusters) < 2 {
		v.add(field.Invalid(p, len(t.Clusters), "a multi-cluster target needs at least two clusters; use target.context for one"))
	}
	v.maxItems(p, len(t.Clusters), 5)
	regions, contexts := map[string]bool{}, map[string]bool{}
	for i, c := range t.Clusters {
		cp := p.Index(i)
		if c.Region == "" {
			v.add(field.Required(cp.Child("region"), ""))
		} else if regions[c.Region] {
			v.add(field.Duplicate(cp.Child("region"), c.Region))
		}
		if c.Context == "" {
			v.add(field.Required(cp.Child("context"), ""))
		} else if contexts[c.Context] {
			v.add(field.Duplicate(cp.Child("context"), c.Context))
		}
		regions[c.Region], contexts[c.Context] = true, true
	}
}

func (v *validator) target(p *field.Path) {
	t := &v.spec.Target
	switch t.Platform {
	case v1alpha1.PlatformLocal, v1alpha1.PlatformKubernetes, v1alpha1.PlatformNone:
	default:
		v.add(field.NotSupported(p.Child("platform"), t.Platform, []v1alpha1.PlatformType{v1alpha1.PlatformLocal, v1alpha1.PlatformKubernetes, v1alpha1.PlatformNone}))
	}
	if t.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(t.Namespace) {
			v.add(field.Invalid(p.Child("namespace"), t.Namespace, msg))
		}
	}
	if t.Platform != v1alpha1.PlatformLocal && t.Local != nil {
		v.add(field.Forbidden(p.Child("local"), "only allowed when platform is local"))
	}
	if t.Platform != v1alpha1.PlatformKubernetes && t.Context != "" {
		v.add(field.Forbidden(p.Child("context"), "only allowed when platform is kubernetes"))
	}
	v.clusters(p.Child("clusters"))
	if l := v.local(); l != nil {
		v.localSandbox(p.Child("local"), l)
	}
}

func (v *validator) localSandbox(p *field.Path, l *v1alpha1.LocalSandbox) {
	rp := p.Child("regions")
	v.maxItems(rp, len(l.Regions), 5)
	if len(l.Regions) == 0 {
		v.add(field.Required(rp, "the sandbox needs at least one region"))
	}
	seen := sets.New[string]()
	for i := range l.Regions {
		r := &l.Regions[i]
		ip := rp.Index(i)
		if r.Name == "" {
			v.add(field.Required(ip.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(r.Name) {
				v.add(field.Invalid(ip.Child("name"), r.Name, msg))
			}
			if seen.Has(r.Name) {
				v.add(field.Duplicate(ip.Child("name"), r.Name))
			}
			seen.Insert(r.Name)
		}
		v.intRange(ip.Child("nodes"), r.Nodes, 1, 50)
		v.intRange(ip.Child("replicas"), r.Replicas, 1, 50)
		v.intRange(ip.Child("podsPerNode"), r.PodsPerNode, 1, 50)
		if r.GPUNodes != nil && r.Nodes != nil && (*r.GPUNodes < 0 || *r.GPUNodes > *r.Nodes) {
			v.add(field.Invalid(ip.Child("gpuNodes"), *r.GPUNodes, fmt.Sprintf("must be between 0 and nodes (%d)", *r.Nodes)))
		}
		if r.Nodes != nil && r.Replicas != nil && r.PodsPerNode != nil && *r.Nodes > 0 && *r.PodsPerNode > 0 &&
			*r.Replicas > *r.Nodes**r.PodsPerNode {
			v.add(field.Invalid(ip.Child("replicas"), *r.Replicas,
				fmt.Sprintf("must fit on the region's nodes: at most nodes × podsPerNode = %d", *r.Nodes**r.PodsPerNode)))
		}
	}
	if l.PrimaryRegion != "" && !seen.Has(l.PrimaryRegion) && len(l.Regions) > 0 {
		v.add(field.NotSupported(p.Child("primaryRegion"), l.PrimaryRegion, v.regionNames()))
	}
	if l.StartDelay != nil {
		v.durationRange(p.Child("startDelay"), l.StartDelay, 0, MaxStartDelay)
	}
	if l.MaxUnavailable != nil && *l.MaxUnavailable < 0 {
		v.add(field.Invalid(p.Child("maxUnavailable"), *l.MaxUnavailable, "must not be negative"))
	}
	if m := l.Model; m != nil {
		v.intRange(p.Child("model", "users"), m.Users, 100, 5_000_000)
		v.intRange(p.Child("model", "items"), m.Items, 100, 1_000_000)
	}
}

func (v *validator) system(p *field.Path) {
	s := &v.spec.System
	if s.Endpoint == "" {
		if v.spec.Target.Platform != v1alpha1.PlatformLocal {
			v.add(field.Required(p.Child("endpoint"), "the URL that synthetic traffic is sent to"))
		}
	} else {
		v.httpURL(p.Child("endpoint"), s.Endpoint)
	}
	v.maxItems(p.Child("workloads"), len(s.Workloads), 50)
	seen := sets.New[string]()
	for i, w := range s.Workloads {
		wp := p.Child("workloads").Index(i)
		v.workload(wp, &w)
		key := string(w.Kind) + "/" + w.Namespace + "/" + w.Name
		if seen.Has(key) {
			v.add(field.Duplicate(wp, w.Kind+" "+v1alpha1.WorkloadKind(w.Name)))
		}
		seen.Insert(key)
	}
	if ms := s.ModelStore; ms != nil {
		mp := p.Child("modelStore")
		if ms.Ref != "" {
			rest, ok := strings.CutPrefix(ms.Ref, "oci://")
			if !ok || !strings.Contains(rest, "/") || strings.ContainsAny(rest, " \t") {
				v.add(field.Invalid(mp.Child("ref"), ms.Ref, "must be an OCI reference like oci://host:port/repository:tag"))
			}
		}
		if ms.Workload != nil {
			v.workload(mp.Child("workload"), ms.Workload)
		}
		if ms.Ref == "" && ms.Workload == nil {
			v.add(field.Required(mp, "set ref, workload or both"))
		}
	}
}

func (v *validator) workload(p *field.Path, w *v1alpha1.WorkloadRef) {
	if v.spec.Target.Platform == v1alpha1.PlatformNone {
		v.add(field.Forbidden(p, "platform none manages no workloads; its capacity cannot be watched"))
		return
	}
	switch w.Kind {
	case v1alpha1.WorkloadDeployment, v1alpha1.WorkloadStatefulSet:
		if v.spec.Target.Platform == v1alpha1.PlatformLocal {
			v.add(field.Invalid(p.Child("kind"), w.Kind, "the local sandbox only has workloads of kind Region"))
		}
	case v1alpha1.WorkloadRegion:
		if v.spec.Target.Platform == v1alpha1.PlatformKubernetes {
			v.add(field.Invalid(p.Child("kind"), w.Kind, "kind Region only exists in the local sandbox"))
		}
	default:
		v.add(field.NotSupported(p.Child("kind"), w.Kind, []v1alpha1.WorkloadKind{v1alpha1.WorkloadDeployment, v1alpha1.WorkloadStatefulSet, v1alpha1.WorkloadRegion}))
	}
	if w.Name == "" {
		v.add(field.Required(p.Child("name"), ""))
	} else if w.Kind == v1alpha1.WorkloadRegion {
		v.checkRegion(p.Child("name"), w.Name)
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(w.Name) {
			v.add(field.Invalid(p.Child("name"), w.Name, msg))
		}
	}
	if w.Namespace != "" {
		v.namespace(p.Child("namespace"), w.Namespace)
	}
}

// namespace checks a namespace against the plan's allow-list.
func (v *validator) namespace(p *field.Path, ns string) {
	for _, msg := range validation.IsDNS1123Label(ns) {
		v.add(field.Invalid(p, ns, msg))
		return
	}
	allowed := v.spec.Safety.Namespaces
	if len(allowed) > 0 && !sets.New(allowed...).Has(ns) {
		v.add(field.Forbidden(p, fmt.Sprintf("namespace %q is not in safety.namespaces %v", ns, allowed)))
	}
}

func (v *validator) httpURL(p *field.Path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field.Invalid(p, raw, "must be an http:// or https:// URL with a host"))
	}
}

func (v *validator) load(p *field.Path) {
	l := &v.spec.Load
	v.intRange(p.Child("rate"), l.Rate, 1, 20000)
	if l.Timeout != nil {
		v.durationRange(p.Child("timeout"), l.Timeout, time.Millisecond, MaxLoadTimeout)
	}
	if len(l.Requests) == 0 {
		v.add(field.Required(p.Child("requests"), "at least one request template"))
	}
	v.maxItems(p.Child("requests"), len(l.Requests), 20)
	names := sets.New[string]()
	for i, r := range l.Requests {
		rp := p.Child("requests").Index(i)
		if !strings.HasPrefix(r.Path, "/") {
			v.add(field.Invalid(rp.Child("path"), r.Path, `must start with "/"`))
		} else {
			for _, m := range placeholderRx.FindAllStringSubmatch(r.Path, maxPlaceholderRx) {
				switch m[1] {
				case "user", "item", "query":
				default:
					v.add(field.Invalid(rp.Child("path"), r.Path, fmt.Sprintf("unknown placeholder {%s}: use {user}, {item} or {query}", m[1])))
				}
			}
			if _, err := url.ParseRequestURI(placeholderRx.ReplaceAllString(r.Path, "x")); err != nil {
				v.add(field.Invalid(rp.Child("path"), r.Path, "must be a URL path with an optional query"))
			}
		}
		switch r.Method {
		case "GET", "HEAD", "POST":
		default:
			v.add(field.NotSupported(rp.Child("method"), r.Method, []string{"GET", "HEAD", "POST"}))
		}
		v.intRange(rp.Child("weight"), r.Weight, 1, 1000)
		if names.Has(r.Name) {
			v.add(field.Duplicate(rp.Child("name"), r.Name))
		}
		names.Insert(r.Name)
	}
}

func (v *validator) percent(p *field.Path, val v1alpha1.Percent) (float64, bool) {
	if val == "" {
		return 0, false
	}
	f, err := v1alpha1.ParsePercent(val)
	if err != nil {
		v.add(field.Invalid(p, string(val), err.Error()))
		return 0, false
	}
	return f, true
}

func (v *validator) objectives(p *field.Path) {
	o := &v.spec.Objectives
	if o.RTO != nil {
		v.durationRange(p.Child("rto"), o.RTO, time.Millisecond, MaxStepDuration)
	}
	if o.RPO != nil {
		v.durationRange(p.Child("rpo"), o.RPO, 0, 365*MaxStepDuration)
	}
	v.percent(p.Child("availability"), o.Availability)
	if o.LatencyP99 != nil {
		v.durationRange(p.Child("latencyP99"), o.LatencyP99, time.Microsecond, MaxLoadTimeout)
	}
	rp := p.Child("recovered")
	v.percent(rp.Child("successRate"), o.Recovered.SuccessRate)
	if o.Recovered.LatencyP99 != nil {
		v.durationRange(rp.Child("latencyP99"), o.Recovered.LatencyP99, time.Microsecond, MaxLoadTimeout)
	}
	if o.Recovered.For != nil {
		if v.durationRange(rp.Child("for"), o.Recovered.For, time.Millisecond, MaxRecoveredFor) && o.RTO != nil &&
			o.Recovered.For.Duration > o.RTO.Duration {
			v.add(field.Invalid(rp.Child("for"), o.Recovered.For.Duration.String(),
				fmt.Sprintf("contradicts objectives.rto: a %s stable window cannot fit in an RTO of %s", o.Recovered.For.Duration, o.RTO.Duration)))
		}
	}
	if l := v.spec.Load.Timeout; l != nil && o.Recovered.LatencyP99 != nil && o.Recovered.LatencyP99.Duration > l.Duration {
		v.add(field.Invalid(rp.Child("latencyP99"), o.Recovered.LatencyP99.Duration.String(),
			fmt.Sprintf("contradicts load.timeout: requests time out after %s, so a p99 of %s can never be measured", l.Duration, o.Recovered.LatencyP99.Duration)))
	}
}

func (v *validator) abort(p *field.Path) {
	a := &v.spec.Abort
	below, ok := v.percent(p.Child("availabilityBelow"), a.AvailabilityBelow)
	if a.Window != nil {
		v.durationRange(p.Child("window"), a.Window, time.Second, MaxStepDuration)
	}
	if a.MaxDuration != nil && v.durationRange(p.Child("maxDuration"), a.MaxDuration, time.Second, 7*MaxStepDuration) {
		if need := v.minimumDuration(); need > a.MaxDuration.Duration {
			v.add(field.Invalid(p.Child("maxDuration"), a.MaxDuration.Duration.String(),
				fmt.Sprintf("the steps' waits and fault durations alone take %s", need)))
		}
	}
	if ok {
		if avail, aok := v.percentOf(v.spec.Objectives.Availability); aok && below > avail {
			v.add(field.Invalid(p.Child("availabilityBelow"), string(a.AvailabilityBelow),
				fmt.Sprintf("contradicts objectives.availability %s: the drill would abort before the objective could fail", v.spec.Objectives.Availability)))
		}
	}
}

func (v *validator) percentOf(val v1alpha1.Percent) (float64, bool) {
	if val == "" {
		return 0, false
	}
	f, err := v1alpha1.ParsePercent(val)
	return f, err == nil
}

// minimumDuration is the least time the steps take: waits and fault
// durations, with concurrent steps overlapping.
func (v *validator) minimumDuration() time.Duration {
	var total, group time.Duration
	for _, st := range v.spec.Steps {
		var d time.Duration
		if st.Wait != nil {
			d = st.Wait.Duration
		}
		if st.Fault != nil && st.Fault.Duration != nil {
			d = st.Fault.Duration.Duration
		}
		if st.Concurrent {
			group = max(group, d)
			continue
		}
		total += group
		group = d
	}
	return total + group
}

func (v *validator) safety(p *field.Path) {
	s := &v.spec.Safety
	v.intRange(p.Child("maxPodsPercent"), s.MaxPodsPercent, 1, 100)
	if s.MaxNodes != nil && *s.MaxNodes < 0 {
		v.add(field.Invalid(p.Child("maxNodes"), *s.MaxNodes, "must not be negative"))
	}
	seen := sets.New[string]()
	for i, ns := range s.Namespaces {
		np := p.Child("namespaces").Index(i)
		for _, msg := range validation.IsDNS1123Label(ns) {
			v.add(field.Invalid(np, ns, msg))
		}
		if seen.Has(ns) {
			v.add(field.Duplicate(np, ns))
		}
		seen.Insert(ns)
	}
	if t := v.spec.Target; t.Platform == v1alpha1.PlatformKubernetes && len(s.Namespaces) > 0 && !seen.Has(t.Namespace) {
		v.add(field.Forbidden(p.Child("namespaces"), fmt.Sprintf("must include the target namespace %q", t.Namespace)))
	}
}

func (v *validator) intRange(p *field.Path, val *int32, lo, hi int32) {
	if val == nil {
		return
	}
	if *val < lo || *val > hi {
		v.add(field.Invalid(p, *val, fmt.Sprintf("must be between %d and %d", lo, hi)))
	}
}

// durationRange reports a duration outside [lo, hi] and says whether it
// was in range.
func (v *validator) durationRange(p *field.Path, d *metav1.Duration, lo, hi time.Duration) bool {
	if d.Duration < lo || d.Duration > hi {
		msg := fmt.Sprintf("must be between %s and %s", lo, hi)
		if lo == 0 {
			msg = fmt.Sprintf("must be between 0s and %s", hi)
		}
		v.add(field.Invalid(p, d.Duration.String(), msg))
		return false
	}
	return true
}
