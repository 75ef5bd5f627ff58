package validation

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

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

func (v *validator) fault(p *field.Path, f *v1alpha1.Fault) {
	var set []string
	if f.PodKill != nil {
		set = append(set, "podKill")
		v.podKill(p.Child("podKill"), f.PodKill)
	}
	if f.NodeDrain != nil {
		set = append(set, "nodeDrain")
		v.nodeDrain(p.Child("nodeDrain"), f.NodeDrain)
	}
	if f.GPUFailure != nil {
		set = append(set, "gpuFailure")
		v.gpuFailure(p.Child("gpuFailure"), f.GPUFailure)
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
	if v.spec.Target.Platform == v1alpha1.PlatformNone && len(set) == 1 && set[0] != "exec" {
		v.add(field.Forbidden(p.Child(set[0]), "platform none only runs exec faults; choose platform local or kubernetes for "+set[0]))
	}
	switch len(set) {
	case 0:
		v.add(field.Required(p, "must set exactly one fault type: podKill, nodeDrain, gpuFailure, regionCutover, modelStoreOutage, exec or chaosMesh"))
	case 1:
	default:
		v.add(field.Invalid(p, strings.Join(set, ", "), "must set exactly one fault type"))
	}
	if f.Duration != nil {
		v.durationRange(p.Child("duration"), f.Duration, time.Millisecond, MaxStepDuration)
	}
	switch f.Revert {
	case v1alpha1.RevertAuto, v1alpha1.RevertNever:
	default:
		v.add(field.NotSupported(p.Child("revert"), f.Revert, []v1alpha1.RevertPolicy{v1alpha1.RevertAuto, v1alpha1.RevertNever}))
	}
}

// selection validates a selection and returns how many of n targets it
// picks, or -1 when n is unknown.
func (v *validator) selection(p *field.Path, s *v1alpha1.Selection, n int) int {
	switch s.Mode {
	case v1alpha1.SelectOne, v1alpha1.SelectAll:
		if s.Value != nil {
			v.add(field.Forbidden(p.Child("value"), fmt.Sprintf("only allowed with mode count or percent, not %s", s.Mode)))
		}
	case v1alpha1.SelectCount:
		if s.Value == nil {
			v.add(field.Required(p.Child("value"), "the number of targets for mode count"))
		} else if *s.Value < 1 {
			v.add(field.Invalid(p.Child("value"), *s.Value, "must be at least 1"))
		}
	case v1alpha1.SelectPercent:
		if s.Value == nil {
			v.add(field.Required(p.Child("value"), "the percentage of targets for mode percent"))
		} else if *s.Value < 1 || *s.Value > 100 {
			v.add(field.Invalid(p.Child("value"), *s.Value, "must be between 1 and 100"))
		}
	default:
		v.add(field.NotSupported(p.Child("mode"), s.Mode, []v1alpha1.SelectionMode{v1alpha1.SelectOne, v1alpha1.SelectCount, v1alpha1.SelectPercent, v1alpha1.SelectAll}))
	}
	if n < 0 {
		return -1
	}
	return v1alpha1.SelectCountOf(*s, n)
}

func (v *validator) podKill(p *field.Path, k *v1alpha1.PodKill) {
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
	case k.Mode == v1alpha1.SelectPercent && k.Value != nil && *k.Value > maxPct && *k.Value <= 100:
		v.add(field.Invalid(p.Child("value"), *k.Value, fmt.Sprintf("exceeds safety.maxPodsPercent (%d)", maxPct)))
	case k.Mode == v1alpha1.SelectAll && maxPct < 100:
		v.add(field.Invalid(p.Child("mode"), k.Mode, fmt.Sprintf("kills every pod, which exceeds safety.maxPodsPercent (%d)", maxPct)))
	case n > 0 && picked > 0 && picked*100 > int(maxPct)*n:
		v.add(field.Invalid(p.Child("value"), picked,
			fmt.Sprintf("kills %d of %d replicas (%d%%), which exceeds safety.maxPodsPercent (%d)", picked, n, picked*100/n, maxPct)))
	case k.Mode == v1alpha1.SelectCount && k.Value != nil && n >= 0 && int(*k.Value) > n:
		v.add(field.Invalid(p.Child("value"), *k.Value, fmt.Sprintf("only %d replicas exist", n)))
	}
}

func (v *validator) regionCutover(p *field.Path, c *v1alpha1.RegionCutover) {
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
	case v1alpha1.TrafficAuto, v1alpha1.TrafficManual:
	default:
		v.add(field.NotSupported(p.Child("traffic"), c.Traffic, []v1alpha1.TrafficSwitch{v1alpha1.TrafficAuto, v1alpha1.TrafficManual}))
	}
	switch c.Method {
	case v1alpha1.CutoverDrain, v1alpha1.CutoverScaleToZero:
	default:
		v.add(field.NotSupported(p.Child("method"), c.Method, []v1alpha1.CutoverMethod{v1alpha1.CutoverDrain, v1alpha1.CutoverScaleToZero}))
	}
	if c.Switch != nil {
		if v.local() != nil {
			v.add(field.Forbidden(p.Child("switch"), "the local front door is switched by firedrill itself; set traffic: manual instead"))
		} else {
			v.cutoverSwitch(p, c)
		}
	}
	if v.spec.Target.Platform == v1alpha1.PlatformKubernetes && c.Traffic == v1alpha1.TrafficManual && c.Switch == nil {
		v.add(field.Required(p.Child("switch"), "manual traffic on kubernetes needs the action that switches it"))
	}
	if l := v.local(); l != nil && len(l.Regions) < 2 {
		v.add(field.Invalid(p, c.From, "a cutover needs at least two regions in target.local.regions"))
	}
}

func (v *validator) cutoverSwitch(cp *field.Path, c *v1alpha1.RegionCutover) {
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

func (v *validator) modelStoreOutage(p *field.Path, o *v1alpha1.ModelStoreOutage) {
	switch o.Mode {
	case v1alpha1.OutageUnavailable, v1alpha1.OutageHang:
		if o.Latency != nil {
			v.add(field.Forbidden(p.Child("latency"), "only allowed with mode slow"))
		}
	case v1alpha1.OutageSlow:
		if o.Latency != nil {
			v.durationRange(p.Child("latency"), o.Latency, time.Millisecond, 10*time.Minute)
		}
	default:
		v.add(field.NotSupported(p.Child("mode"), o.Mode, []v1alpha1.OutageMode{v1alpha1.OutageUnavailable, v1alpha1.OutageSlow, v1alpha1.OutageHang}))
	}
	switch {
	case o.Method == "":
	case v.spec.Target.Platform != v1alpha1.PlatformKubernetes:
		v.add(field.Forbidden(p.Child("method"), "only allowed when platform is kubernetes"))
	case o.Method == v1alpha1.OutageChaosMesh:
	case o.Method == v1alpha1.OutageScaleToZero || o.Method == v1alpha1.OutageNetworkPolicy:
		if o.Mode == v1alpha1.OutageSlow || o.Mode == v1alpha1.OutageHang {
			v.add(field.Invalid(p.Child("method"), o.Method, fmt.Sprintf("mode %s needs method chaosMesh (a NetworkChaos delay or packet loss)", o.Mode)))
		}
	default:
		v.add(field.NotSupported(p.Child("method"), o.Method, []v1alpha1.OutageMethod{v1alpha1.OutageScaleToZero, v1alpha1.OutageNetworkPolicy, v1alpha1.OutageChaosMesh}))
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
	if v.spec.Target.Platform == v1alpha1.PlatformKubernetes && (v.spec.System.ModelStore == nil || v.spec.System.ModelStore.Workload == nil) {
		v.add(field.Required(field.NewPath("spec", "system", "modelStore", "workload"), "a model-store outage on kubernetes needs the store's workload"))
	}
}

func (v *validator) action(p *field.Path, a *v1alpha1.Action) {
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

var envNameRx = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (v *validator) envVar(p *field.Path, e v1alpha1.EnvVar, isEnv bool) {
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

func (v *validator) chaosMesh(p *field.Path, c *v1alpha1.ChaosMeshFault) {
	if v.spec.Target.Platform != v1alpha1.PlatformKubernetes {
		v.add(field.Forbidden(p, "Chaos Mesh faults need platform kubernetes"))
	}
	switch c.Kind {
	case "PodChaos", "NetworkChaos", "IOChaos", "StressChaos":
	default:
		v.add(field.NotSupported(p.Child("kind"), c.Kind, []v1alpha1.ChaosKind{"PodChaos", "NetworkChaos", "IOChaos", "StressChaos"}))
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
		v.add(field.Invalid(p, v1alpha1.SelectorString(s), "can never match anything: "+reason))
	}
}

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
