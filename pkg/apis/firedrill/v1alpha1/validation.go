package v1alpha1

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
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
func ValidateDrillPlan(p *DrillPlan) field.ErrorList {
	var errs field.ErrorList
	md := field.NewPath("metadata")
	if p.Name == "" {
		errs = append(errs, field.Required(md.Child("name"), "every plan needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(p.Name) {
			errs = append(errs, field.Invalid(md.Child("name"), p.Name, msg))
		}
	}
	if p.Spec.Schedule != "" && len(p.Name) > MaxScheduledPlanName {
		errs = append(errs, field.Invalid(md.Child("name"), p.Name, fmt.Sprintf(
			"a plan with a schedule has a name of at most %d characters: its runs are named <plan>-<yyyymmdd>-<hhmmss>, which must fit a label value (63)", MaxScheduledPlanName)))
	}
	errs = append(errs, ValidateDrillPlanSpec(&p.Spec, field.NewPath("spec"))...)
	return errs
}

// ValidateDrillRun returns every problem of a defaulted run at once.
func ValidateDrillRun(r *DrillRun) field.ErrorList {
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
	case TriggerManual, TriggerSchedule, TriggerAPI:
	default:
		errs = append(errs, field.NotSupported(sp.Child("trigger"), r.Spec.Trigger, []Trigger{TriggerManual, TriggerSchedule, TriggerAPI}))
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
func ValidateDrillPlanSpec(s *DrillPlanSpec, path *field.Path) field.ErrorList {
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
	spec *DrillPlanSpec
	errs field.ErrorList
}

func (v *validator) add(errs ...*field.Error) { v.errs = append(v.errs, errs...) }

func (v *validator) local() *LocalSandbox {
	if v.spec.Target.Platform == PlatformLocal {
		return v.spec.Target.Local
	}
	return nil
}

func (v *validator) region(name string) *LocalRegion {
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
	if t.Platform != PlatformKubernetes {
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
	case PlatformLocal, PlatformKubernetes, PlatformNone:
	default:
		v.add(field.NotSupported(p.Child("platform"), t.Platform, []PlatformType{PlatformLocal, PlatformKubernetes, PlatformNone}))
	}
	if t.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(t.Namespace) {
			v.add(field.Invalid(p.Child("namespace"), t.Namespace, msg))
		}
	}
	if t.Platform != PlatformLocal && t.Local != nil {
		v.add(field.Forbidden(p.Child("local"), "only allowed when platform is local"))
	}
	if t.Platform != PlatformKubernetes && t.Context != "" {
		v.add(field.Forbidden(p.Child("context"), "only allowed when platform is kubernetes"))
	}
	v.clusters(p.Child("clusters"))
	if l := v.local(); l != nil {
		v.localSandbox(p.Child("local"), l)
	}
}

func (v *validator) localSandbox(p *field.Path, l *LocalSandbox) {
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
		if v.spec.Target.Platform != PlatformLocal {
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
			v.add(field.Duplicate(wp, w.Kind+" "+WorkloadKind(w.Name)))
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

func (v *validator) workload(p *field.Path, w *WorkloadRef) {
	if v.spec.Target.Platform == PlatformNone {
		v.add(field.Forbidden(p, "platform none manages no workloads; its capacity cannot be watched"))
		return
	}
	switch w.Kind {
	case WorkloadDeployment, WorkloadStatefulSet:
		if v.spec.Target.Platform == PlatformLocal {
			v.add(field.Invalid(p.Child("kind"), w.Kind, "the local sandbox only has workloads of kind Region"))
		}
	case WorkloadRegion:
		if v.spec.Target.Platform == PlatformKubernetes {
			v.add(field.Invalid(p.Child("kind"), w.Kind, "kind Region only exists in the local sandbox"))
		}
	default:
		v.add(field.NotSupported(p.Child("kind"), w.Kind, []WorkloadKind{WorkloadDeployment, WorkloadStatefulSet, WorkloadRegion}))
	}
	if w.Name == "" {
		v.add(field.Required(p.Child("name"), ""))
	} else if w.Kind == WorkloadRegion {
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

// ParsePercent parses a Percent. It returns an error naming the rule when
// the value is not a number between 0 and 100.
func ParsePercent(p Percent) (float64, error) {
	if !percentRx.MatchString(string(p)) {
		return 0, fmt.Errorf("must be a percentage between 0 and 100")
	}
	f, err := strconv.ParseFloat(string(p), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("must be a percentage between 0 and 100")
	}
	if f < 0 || f > 100 {
		return 0, fmt.Errorf("must be a percentage between 0 and 100")
	}
	return f, nil
}

func (v *validator) percent(p *field.Path, val Percent) (float64, bool) {
	if val == "" {
		return 0, false
	}
	f, err := ParsePercent(val)
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

func (v *validator) percentOf(val Percent) (float64, bool) {
	if val == "" {
		return 0, false
	}
	f, err := ParsePercent(val)
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
	if t := v.spec.Target; t.Platform == PlatformKubernetes && len(s.Namespaces) > 0 && !seen.Has(t.Namespace) {
		v.add(field.Forbidden(p.Child("namespaces"), fmt.Sprintf("must include the target namespace %q", t.Namespace)))
	}
}

func (v *validator) steps(p *field.Path) {
	v.maxItems(p, len(v.spec.Steps), 100)
	if len(v.spec.Steps) == 0 {
		v.add(field.Required(p, "a plan needs at least one step"))
		return
	}
	seen := map[string]int{}
	for i := range v.spec.Steps {
		st := &v.spec.Steps[i]
		sp := p.Index(i)
		if st.Name == "" {
			v.add(field.Required(sp.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(st.Name) {
				v.add(field.Invalid(sp.Child("name"), st.Name, msg))
			}
			if j, ok := seen[st.Name]; ok {
				v.add(field.Invalid(sp.Child("name"), st.Name, fmt.Sprintf("must be unique, but steps[%d] has the same name", j)))
			} else {
				seen[st.Name] = i
			}
		}
		if i == 0 && st.Concurrent {
			v.add(field.Invalid(sp.Child("concurrent"), true, "the first step has no step before it to run with"))
		}
		switch {
		case st.Wait == nil && st.Fault == nil:
			v.add(field.Required(sp, "a step needs a wait or a fault"))
		case st.Wait != nil && st.Fault != nil:
			v.add(field.Forbidden(sp.Child("wait"), "a step is either a wait or a fault, not both"))
		case st.Wait != nil:
			v.durationRange(sp.Child("wait"), st.Wait, time.Millisecond, MaxStepDuration)
			if st.Timeout != nil {
				v.add(field.Forbidden(sp.Child("timeout"), "only fault steps have a timeout"))
			}
		default:
			if st.Timeout != nil {
				v.durationRange(sp.Child("timeout"), st.Timeout, time.Second, MaxStepDuration)
			}
			v.fault(sp.Child("fault"), st.Fault)
		}
	}
}

func (v *validator) fault(p *field.Path, f *Fault) {
	var set []string
	if f.PodKill != nil {
		set = append(set, "podKill")
		v.podKill(p.Child("podKill"), f.PodKill)
	}
	if f.NodeDrain != nil {
		set = append(set, "nodeDrain")
		v.nodeDrain(p.Child("nodeDrain"), f.NodeDrain)
	}
	if f.RegionCutover != nil {
		set = append(set, "regionCutover")
		v.regionCutover(p.Child("regionCutover"), f.RegionCutover)
	}
	if f.ModelStoreOutage != nil {
		set = append(set, "modelStoreOutage")
		v.modelStoreOutage(p.Child("modelStoreOutage"), f.ModelStoreOutage)
	}
	if f.Exec != nil {
		set = append(set, "exec")
		ep := p.Child("exec")
		v.action(ep.Child("inject"), &f.Exec.Inject)
		if f.Exec.Revert != nil {
			v.action(ep.Child("revert"), f.Exec.Revert)
		}
	}
	if f.ChaosMesh != nil {
		set = append(set, "chaosMesh")
		v.chaosMesh(p.Child("chaosMesh"), f.ChaosMesh)
	}
	if v.spec.Target.Platform == PlatformNone && len(set) == 1 && set[0] != "exec" {
		v.add(field.Forbidden(p.Child(set[0]), "platform none only runs exec faults; choose platform local or kubernetes for "+set[0]))
	}
	switch len(set) {
	case 0:
		v.add(field.Required(p, "must set exactly one fault type: podKill, nodeDrain, regionCutover, modelStoreOutage, exec or chaosMesh"))
	case 1:
	default:
		v.add(field.Invalid(p, strings.Join(set, ", "), "must set exactly one fault type"))
	}
	if f.Duration != nil {
		v.durationRange(p.Child("duration"), f.Duration, time.Millisecond, MaxStepDuration)
	}
	switch f.Revert {
	case RevertAuto, RevertNever:
	default:
		v.add(field.NotSupported(p.Child("revert"), f.Revert, []RevertPolicy{RevertAuto, RevertNever}))
	}
}

// selection validates a selection and returns how many of n targets it
// picks, or -1 when n is unknown.
func (v *validator) selection(p *field.Path, s *Selection, n int) int {
	switch s.Mode {
	case SelectOne, SelectAll:
		if s.Value != nil {
			v.add(field.Forbidden(p.Child("value"), fmt.Sprintf("only allowed with mode count or percent, not %s", s.Mode)))
		}
	case SelectCount:
		if s.Value == nil {
			v.add(field.Required(p.Child("value"), "the number of targets for mode count"))
		} else if *s.Value < 1 {
			v.add(field.Invalid(p.Child("value"), *s.Value, "must be at least 1"))
		}
	case SelectPercent:
		if s.Value == nil {
			v.add(field.Required(p.Child("value"), "the percentage of targets for mode percent"))
		} else if *s.Value < 1 || *s.Value > 100 {
			v.add(field.Invalid(p.Child("value"), *s.Value, "must be between 1 and 100"))
		}
	default:
		v.add(field.NotSupported(p.Child("mode"), s.Mode, []SelectionMode{SelectOne, SelectCount, SelectPercent, SelectAll}))
	}
	if n < 0 {
		return -1
	}
	return SelectCountOf(*s, n)
}

// SelectCountOf returns how many of n targets a selection picks.
func SelectCountOf(s Selection, n int) int {
	switch s.Mode {
	case SelectOne:
		return min(1, n)
	case SelectAll:
		return n
	case SelectCount:
		if s.Value == nil {
			return 0
		}
		return min(int(*s.Value), n)
	case SelectPercent:
		if s.Value == nil {
			return 0
		}
		return min(n, int(math.Ceil(float64(n)*float64(*s.Value)/100)))
	}
	return 0
}

func (v *validator) podKill(p *field.Path, k *PodKill) {
	v.selector(p.Child("selector"), k.Selector)
	v.checkRegion(p.Child("region"), k.Region)
	if k.Namespace != "" {
		if v.local() != nil {
			v.add(field.Forbidden(p.Child("namespace"), "the local sandbox has no namespaces"))
		} else {
			v.namespace(p.Child("namespace"), k.Namespace)
		}
	}
	if k.GracePeriod != nil {
		v.durationRange(p.Child("gracePeriod"), k.GracePeriod, 0, time.Hour)
	}
	maxPct := int32(100)
	if v.spec.Safety.MaxPodsPercent != nil {
		maxPct = *v.spec.Safety.MaxPodsPercent
	}
	n := -1
	if l := v.local(); l != nil {
		n = 0
		for _, r := range l.Regions {
			if (k.Region == "" || r.Name == k.Region) && r.Replicas != nil {
				n += int(*r.Replicas)
			}
		}
	}
	before := len(v.errs)
	picked := v.selection(p, &k.Selection, n)
	if len(v.errs) > before {
		return // the selection itself is wrong; safety checks would only repeat it
	}
	switch {
	case k.Mode == SelectPercent && k.Value != nil && *k.Value > maxPct && *k.Value <= 100:
		v.add(field.Invalid(p.Child("value"), *k.Value, fmt.Sprintf("exceeds safety.maxPodsPercent (%d)", maxPct)))
	case k.Mode == SelectAll && maxPct < 100:
		v.add(field.Invalid(p.Child("mode"), k.Mode, fmt.Sprintf("kills every pod, which exceeds safety.maxPodsPercent (%d)", maxPct)))
	case n > 0 && picked > 0 && picked*100 > int(maxPct)*n:
		v.add(field.Invalid(p.Child("value"), picked,
			fmt.Sprintf("kills %d of %d replicas (%d%%), which exceeds safety.maxPodsPercent (%d)", picked, n, picked*100/n, maxPct)))
	case k.Mode == SelectCount && k.Value != nil && n >= 0 && int(*k.Value) > n:
		v.add(field.Invalid(p.Child("value"), *k.Value, fmt.Sprintf("only %d replicas exist", n)))
	}
}

func (v *validator) nodeDrain(p *field.Path, d *NodeDrain) {
	v.selector(p.Child("selector"), d.Selector)
	v.checkRegion(p.Child("region"), d.Region)
	if d.GracePeriod != nil {
		v.durationRange(p.Child("gracePeriod"), d.GracePeriod, 0, time.Hour)
	}
	if d.Timeout != nil {
		v.durationRange(p.Child("timeout"), d.Timeout, time.Second, time.Hour)
	}
	switch d.OnInsufficientCapacity {
	case CapacityRefuse, CapacityWarn:
	default:
		v.add(field.NotSupported(p.Child("onInsufficientCapacity"), d.OnInsufficientCapacity, []CapacityPolicy{CapacityRefuse, CapacityWarn}))
	}
	n := -1
	if l := v.local(); l != nil {
		n = 0
		for _, r := range l.Regions {
			if (d.Region == "" || r.Name == d.Region) && r.Nodes != nil {
				nodes := int(*r.Nodes)
				if d.GPUOnly && r.GPUNodes != nil {
					nodes = int(*r.GPUNodes)
				}
				n += nodes
			}
		}
	}
	picked := v.selection(p, &d.Selection, n)
	if d.Mode == SelectCount && d.Value != nil && n >= 0 && int(*d.Value) > n {
		v.add(field.Invalid(p.Child("value"), *d.Value, fmt.Sprintf("only %d matching nodes exist", n)))
		return
	}
	maxNodes := int32(math.MaxInt32)
	if v.spec.Safety.MaxNodes != nil {
		maxNodes = *v.spec.Safety.MaxNodes
	}
	want := picked
	if want < 0 {
		switch d.Mode {
		case SelectOne:
			want = 1
		case SelectCount:
			if d.Value != nil {
				want = int(*d.Value)
			}
		}
	}
	if want > int(maxNodes) {
		fp := p.Child("value")
		if d.Mode != SelectCount {
			fp = p.Child("mode")
		}
		v.add(field.Invalid(fp, want, fmt.Sprintf("drains %d nodes, which exceeds safety.maxNodes (%d)", want, maxNodes)))
	}
	if d.Mode == SelectAll && n < 0 && maxNodes < math.MaxInt32 {
		v.add(field.Invalid(p.Child("mode"), d.Mode, fmt.Sprintf("drains every matching node; set a count within safety.maxNodes (%d)", maxNodes)))
	}
}

func (v *validator) regionCutover(p *field.Path, c *RegionCutover) {
	if c.From == "" {
		v.add(field.Required(p.Child("from"), "the region that is lost"))
	}
	if c.To == "" {
		v.add(field.Required(p.Child("to"), "the region that takes over"))
	}
	if c.From != "" && c.From == c.To {
		v.add(field.Invalid(p.Child("to"), c.To, "must differ from from"))
	}
	v.checkRegion(p.Child("from"), c.From)
	v.checkRegion(p.Child("to"), c.To)
	switch c.Traffic {
	case TrafficAuto, TrafficManual:
	default:
		v.add(field.NotSupported(p.Child("traffic"), c.Traffic, []TrafficSwitch{TrafficAuto, TrafficManual}))
	}
	switch c.Method {
	case CutoverDrain, CutoverScaleToZero:
	default:
		v.add(field.NotSupported(p.Child("method"), c.Method, []CutoverMethod{CutoverDrain, CutoverScaleToZero}))
	}
	if c.Switch != nil {
		if v.local() != nil {
			v.add(field.Forbidden(p.Child("switch"), "the local front door is switched by firedrill itself; set traffic: manual instead"))
		} else {
			v.cutoverSwitch(p, c)
		}
	}
	if v.spec.Target.Platform == PlatformKubernetes && c.Traffic == TrafficManual && c.Switch == nil {
		v.add(field.Required(p.Child("switch"), "manual traffic on kubernetes needs the action that switches it"))
	}
	if l := v.local(); l != nil && len(l.Regions) < 2 {
		v.add(field.Invalid(p, c.From, "a cutover needs at least two regions in target.local.regions"))
	}
}

func (v *validator) cutoverSwitch(cp *field.Path, c *RegionCutover) {
	p, sw := cp.Child("switch"), c.Switch
	var set []string
	if len(sw.Command) > 0 {
		set = append(set, "command")
	}
	if sw.Webhook != nil {
		set = append(set, "webhook")
	}
	if sw.Service != nil {
		set = append(set, "service")
	}
	if sw.HTTPRoute != nil {
		set = append(set, "httpRoute")
	}
	switch {
	case len(set) == 0:
		v.add(field.Required(p, "set one of command, webhook, service or httpRoute"))
		return
	case len(set) > 1:
		v.add(field.Forbidden(p.Child(set[1]), fmt.Sprintf("set one of command, webhook, service or httpRoute, not %s", strings.Join(set, " and "))))
		return
	}
	if sw.Service == nil && sw.HTTPRoute == nil {
		v.action(p, &sw.Action)
		return
	}
	if len(sw.Env) > 0 {
		v.add(field.Forbidden(p.Child("env"), "only allowed with command"))
	}
	if len(v.spec.Target.Clusters) > 0 {
		v.add(field.Forbidden(p.Child(set[0]), "with target.clusters, traffic between clusters is switched by a command or webhook"))
	}
	if s := sw.Service; s != nil {
		sp := p.Child("service")
		v.objectName(sp.Child("name"), s.Name)
		if s.Namespace != "" {
			v.namespace(sp.Child("namespace"), s.Namespace)
		}
		if s.SelectorKey != "" {
			for _, msg := range validation.IsQualifiedName(s.SelectorKey) {
				v.add(field.Invalid(sp.Child("selectorKey"), s.SelectorKey, msg))
			}
		}
		for _, r := range []struct{ name, value string }{{"from", c.From}, {"to", c.To}} {
			for _, msg := range validation.IsValidLabelValue(r.value) {
				v.add(field.Invalid(cp.Child(r.name), r.value, "a region switched by a Service selector must be a label value: "+msg))
			}
		}
	}
	if h := sw.HTTPRoute; h != nil {
		hp := p.Child("httpRoute")
		v.objectName(hp.Child("name"), h.Name)
		if h.Namespace != "" {
			v.namespace(hp.Child("namespace"), h.Namespace)
		}
		bp := hp.Child("backends")
		v.maxItems(bp, len(h.Backends), 10)
		seen := map[string]bool{}
		for i, b := range h.Backends {
			if b.Region == "" {
				v.add(field.Required(bp.Index(i).Child("region"), ""))
			} else if seen[b.Region] {
				v.add(field.Duplicate(bp.Index(i).Child("region"), b.Region))
			}
			seen[b.Region] = true
			v.objectName(bp.Index(i).Child("service"), b.Service)
		}
		for _, r := range []string{c.From, c.To} {
			if r != "" && !seen[r] {
				v.add(field.Required(bp, fmt.Sprintf("no backend for region %s", r)))
			}
		}
	}
}

// objectName checks a Kubernetes object name (a DNS subdomain).
func (v *validator) objectName(p *field.Path, name string) {
	if name == "" {
		v.add(field.Required(p, ""))
		return
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		v.add(field.Invalid(p, name, msg))
	}
}

func (v *validator) modelStoreOutage(p *field.Path, o *ModelStoreOutage) {
	switch o.Mode {
	case OutageUnavailable, OutageHang:
		if o.Latency != nil {
			v.add(field.Forbidden(p.Child("latency"), "only allowed with mode slow"))
		}
	case OutageSlow:
		if o.Latency != nil {
			v.durationRange(p.Child("latency"), o.Latency, time.Millisecond, 10*time.Minute)
		}
	default:
		v.add(field.NotSupported(p.Child("mode"), o.Mode, []OutageMode{OutageUnavailable, OutageSlow, OutageHang}))
	}
	switch {
	case o.Method == "":
	case v.spec.Target.Platform != PlatformKubernetes:
		v.add(field.Forbidden(p.Child("method"), "only allowed when platform is kubernetes"))
	case o.Method == OutageChaosMesh:
	case o.Method == OutageScaleToZero || o.Method == OutageNetworkPolicy:
		if o.Mode == OutageSlow || o.Mode == OutageHang {
			v.add(field.Invalid(p.Child("method"), o.Method, fmt.Sprintf("mode %s needs method chaosMesh (a NetworkChaos delay or packet loss)", o.Mode)))
		}
	default:
		v.add(field.NotSupported(p.Child("method"), o.Method, []OutageMethod{OutageScaleToZero, OutageNetworkPolicy, OutageChaosMesh}))
	}
	v.checkRegion(p.Child("region"), o.Region)
	if o.RestartReplicas < 0 {
		v.add(field.Invalid(p.Child("restartReplicas"), o.RestartReplicas, "must not be negative"))
	}
	if l := v.local(); l != nil && o.RestartReplicas > 0 {
		n := 0
		for _, r := range l.Regions {
			if (o.Region == "" || r.Name == o.Region) && r.Replicas != nil {
				n += int(*r.Replicas)
			}
		}
		if int(o.RestartReplicas) > n {
			v.add(field.Invalid(p.Child("restartReplicas"), o.RestartReplicas, fmt.Sprintf("only %d replicas exist", n)))
		}
	}
	if v.spec.Target.Platform == PlatformKubernetes && (v.spec.System.ModelStore == nil || v.spec.System.ModelStore.Workload == nil) {
		v.add(field.Required(field.NewPath("spec", "system", "modelStore", "workload"), "a model-store outage on kubernetes needs the store's workload"))
	}
}

func (v *validator) action(p *field.Path, a *Action) {
	switch {
	case len(a.Command) == 0 && a.Webhook == nil:
		v.add(field.Required(p, "set command or webhook"))
	case len(a.Command) > 0 && a.Webhook != nil:
		v.add(field.Forbidden(p.Child("webhook"), "set command or webhook, not both"))
	case len(a.Command) > 0 && strings.TrimSpace(a.Command[0]) == "":
		v.add(field.Invalid(p.Child("command").Index(0), a.Command[0], "the program must not be empty"))
	}
	for i, e := range a.Env {
		v.envVar(p.Child("env").Index(i), e, true)
	}
	if w := a.Webhook; w != nil {
		wp := p.Child("webhook")
		v.httpURL(wp.Child("url"), w.URL)
		switch w.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			v.add(field.NotSupported(wp.Child("method"), w.Method, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}))
		}
		for i, h := range w.Headers {
			v.envVar(wp.Child("headers").Index(i), h, false)
		}
	}
	if a.Timeout != nil {
		v.durationRange(p.Child("timeout"), a.Timeout, time.Millisecond, time.Hour)
	}
}

// percentRx is the CRD schema's pattern of a Percent, so that the CLI
// and the API server accept the same texts.
var percentRx = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]+)?$`)

var envNameRx = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (v *validator) envVar(p *field.Path, e EnvVar, isEnv bool) {
	if e.Name == "" {
		v.add(field.Required(p.Child("name"), ""))
	} else if isEnv && !envNameRx.MatchString(e.Name) {
		v.add(field.Invalid(p.Child("name"), e.Name, "must be a valid environment variable name"))
	} else if !isEnv {
		for _, msg := range validation.IsHTTPHeaderName(e.Name) {
			v.add(field.Invalid(p.Child("name"), e.Name, msg))
		}
	}
	if e.Value != "" && e.FromEnv != "" {
		v.add(field.Forbidden(p.Child("fromEnv"), "set value or fromEnv, not both"))
	}
	if e.FromEnv != "" && !envNameRx.MatchString(e.FromEnv) {
		v.add(field.Invalid(p.Child("fromEnv"), e.FromEnv, "must be a valid environment variable name"))
	}
}

func (v *validator) chaosMesh(p *field.Path, c *ChaosMeshFault) {
	if v.spec.Target.Platform != PlatformKubernetes {
		v.add(field.Forbidden(p, "Chaos Mesh faults need platform kubernetes"))
	}
	switch c.Kind {
	case "PodChaos", "NetworkChaos", "IOChaos", "StressChaos":
	default:
		v.add(field.NotSupported(p.Child("kind"), c.Kind, []ChaosKind{"PodChaos", "NetworkChaos", "IOChaos", "StressChaos"}))
	}
	var spec map[string]any
	if len(c.Spec.Raw) == 0 {
		v.add(field.Required(p.Child("spec"), "the Chaos Mesh object's spec"))
	} else if err := json.Unmarshal(c.Spec.Raw, &spec); err != nil || spec == nil {
		v.add(field.Invalid(p.Child("spec"), string(c.Spec.Raw), "must be an object"))
	}
}

// selector validates a label selector and rejects one that cannot match
// any object.
func (v *validator) selector(p *field.Path, s *metav1.LabelSelector) {
	if s == nil {
		return
	}
	errs := metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(errs) > 0 {
		v.add(errs...)
		return
	}
	if reason := unsatisfiable(s); reason != "" {
		v.add(field.Invalid(p, SelectorString(s), "can never match anything: "+reason))
	}
}

// SelectorString renders a selector the way kubectl prints one.
func SelectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return fmt.Sprintf("%v", s)
	}
	return sel.String()
}

// unsatisfiable explains why a syntactically valid selector can match no
// labels, or returns "".
func unsatisfiable(s *metav1.LabelSelector) string {
	// allowed[key] is the set of values the key may take; nil means any.
	allowed := map[string]sets.Set[string]{}
	mustExist := sets.New[string]()
	mustNotExist := sets.New[string]()
	restrict := func(key string, vals sets.Set[string]) {
		if cur, ok := allowed[key]; ok && cur != nil {
			allowed[key] = cur.Intersection(vals)
		} else {
			allowed[key] = vals
		}
	}
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		restrict(k, sets.New(s.MatchLabels[k]))
		mustExist.Insert(k)
	}
	excluded := map[string]sets.Set[string]{}
	for _, e := range s.MatchExpressions {
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			restrict(e.Key, sets.New(e.Values...))
			mustExist.Insert(e.Key)
		case metav1.LabelSelectorOpNotIn:
			if excluded[e.Key] == nil {
				excluded[e.Key] = sets.New[string]()
			}
			excluded[e.Key].Insert(e.Values...)
		case metav1.LabelSelectorOpExists:
			mustExist.Insert(e.Key)
		case metav1.LabelSelectorOpDoesNotExist:
			mustNotExist.Insert(e.Key)
		}
	}
	for _, k := range sets.List(mustExist.Intersection(mustNotExist)) {
		return fmt.Sprintf("label %q is required and also required to be absent", k)
	}
	for _, k := range sets.List(sets.KeySet(allowed)) {
		vals := allowed[k]
		if ex := excluded[k]; ex != nil {
			vals = vals.Difference(ex)
		}
		if vals.Len() == 0 {
			return fmt.Sprintf("no value of label %q satisfies every requirement", k)
		}
	}
	return ""
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
