package v1alpha1

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Default values. They are part of the API: docs/spec/v1alpha1 documents
// them and a golden test pins them.
const (
	DefaultNamespace      = "default"
	DefaultRate           = int32(50)
	DefaultTimeout        = time.Second
	DefaultRTO            = 60 * time.Second
	DefaultSuccessRate    = Percent("99")
	DefaultRecoveredP99   = time.Second
	DefaultRecoveredFor   = 5 * time.Second
	DefaultAbortWindow    = 30 * time.Second
	DefaultMaxDuration    = 30 * time.Minute
	DefaultMaxPodsPercent = int32(50)
	DefaultMaxNodes       = int32(1)
	DefaultDrainTimeout   = 2 * time.Minute
	DefaultSlowLatency    = 2 * time.Second
	DefaultActionTimeout  = 30 * time.Second
	DefaultStartDelay     = time.Second
	DefaultRegionNodes    = int32(3)
	DefaultRegionReplicas = int32(3)
	DefaultPodsPerNode    = int32(2)
	DefaultModelUsers     = int32(50000)
	DefaultModelItems     = int32(20000)
	DefaultModelSeed      = int64(1)

	DefaultConcurrencyPolicy          = ConcurrencyForbid
	DefaultSuccessfulRunsHistoryLimit = int32(3)
	DefaultFailedRunsHistoryLimit     = int32(3)
)

// DefaultRegions are the sandbox regions when a plan names none.
var DefaultRegions = []string{"us-east", "us-west"}

// DefaultLocalRequests is the load mix against the embedded recommender.
func DefaultLocalRequests() []RequestTemplate {
	return []RequestTemplate{
		{Name: "recommendations", Path: "/v1/recommendations?user={user}&k=10", Weight: ptr.To[int32](3)},
		{Name: "search", Path: "/v1/search?q={query}&user={user}&k=10", Weight: ptr.To[int32](1)},
		{Name: "similar", Path: "/v1/similar?item={item}&k=10", Weight: ptr.To[int32](1)},
	}
}

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// SetDefaults_DrillPlan fills every unset field of a plan with its default.
// It is idempotent. The CLI and the controller both call it before
// validation.
func SetDefaults_DrillPlan(p *DrillPlan) { //nolint:revive,staticcheck // Kubernetes defaulter naming.
	if p.APIVersion == "" {
		p.APIVersion = GroupVersion.String()
	}
	if p.Kind == "" {
		p.Kind = KindDrillPlan
	}
	SetDefaults_DrillPlanSpec(&p.Spec)
}

// SetDefaults_DrillPlanSpec fills every unset field of a spec.
func SetDefaults_DrillPlanSpec(s *DrillPlanSpec) { //nolint:revive,staticcheck // Kubernetes defaulter naming.
	defaultSchedule(s)
	t := &s.Target
	if t.Platform == "" {
		t.Platform = PlatformLocal
	}
	if t.Platform == PlatformKubernetes && t.Namespace == "" {
		t.Namespace = DefaultNamespace
	}
	if t.Platform == PlatformLocal {
		if t.Local == nil {
			t.Local = &LocalSandbox{}
		}
		defaultLocal(t.Local)
	}

	for i := range s.System.Workloads {
		w := &s.System.Workloads[i]
		if w.Kind == "" {
			w.Kind = WorkloadDeployment
		}
		if w.Namespace == "" && t.Platform == PlatformKubernetes && w.Kind != WorkloadRegion {
			w.Namespace = t.Namespace
		}
	}
	if t.Platform == PlatformLocal && len(s.System.Workloads) == 0 && t.Local != nil {
		for _, r := range t.Local.Regions {
			s.System.Workloads = append(s.System.Workloads, WorkloadRef{Kind: WorkloadRegion, Name: r.Name})
		}
	}
	if ms := s.System.ModelStore; ms != nil && ms.Workload != nil {
		if ms.Workload.Kind == "" {
			ms.Workload.Kind = WorkloadDeployment
		}
		if ms.Workload.Namespace == "" {
			ms.Workload.Namespace = t.Namespace
		}
	}

	defaultLoad(&s.Load, t.Platform)
	defaultObjectives(&s.Objectives, s.Load.Timeout.Duration)

	if s.Abort.Window == nil {
		s.Abort.Window = duration(DefaultAbortWindow)
	}
	if s.Abort.MaxDuration == nil {
		s.Abort.MaxDuration = duration(DefaultMaxDuration)
	}
	if s.Safety.MaxPodsPercent == nil {
		s.Safety.MaxPodsPercent = ptr.To(DefaultMaxPodsPercent)
	}
	if s.Safety.MaxNodes == nil {
		s.Safety.MaxNodes = ptr.To(DefaultMaxNodes)
	}
	if len(s.Safety.Namespaces) == 0 && t.Platform == PlatformKubernetes {
		s.Safety.Namespaces = []string{t.Namespace}
	}

	for i := range s.Steps {
		defaultStep(&s.Steps[i], &s.Objectives, t)
	}
}

// defaultSchedule fills the scheduling fields of a plan with a schedule.
// A plan without one keeps them unset: they mean nothing to it, and
// validation refuses them there.
func defaultSchedule(s *DrillPlanSpec) {
	if s.Schedule == "" {
		return
	}
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = DefaultConcurrencyPolicy
	}
	if s.SuccessfulRunsHistoryLimit == nil {
		s.SuccessfulRunsHistoryLimit = ptr.To(DefaultSuccessfulRunsHistoryLimit)
	}
	if s.FailedRunsHistoryLimit == nil {
		s.FailedRunsHistoryLimit = ptr.To(DefaultFailedRunsHistoryLimit)
	}
}

func defaultLocal(l *LocalSandbox) {
	if len(l.Regions) == 0 {
		for _, name := range DefaultRegions {
			l.Regions = append(l.Regions, LocalRegion{Name: name})
		}
	}
	for i := range l.Regions {
		r := &l.Regions[i]
		if r.Nodes == nil {
			r.Nodes = ptr.To(DefaultRegionNodes)
		}
		if r.GPUNodes == nil {
			r.GPUNodes = ptr.To(*r.Nodes)
		}
		if r.Replicas == nil {
			r.Replicas = ptr.To(DefaultRegionReplicas)
		}
		if r.PodsPerNode == nil {
			r.PodsPerNode = ptr.To(DefaultPodsPerNode)
		}
	}
	if l.PrimaryRegion == "" {
		l.PrimaryRegion = l.Regions[0].Name
	}
	if l.StartDelay == nil {
		l.StartDelay = duration(DefaultStartDelay)
	}
	if l.MaxUnavailable == nil {
		l.MaxUnavailable = ptr.To[int32](1)
	}
	if l.Model == nil {
		l.Model = &LocalModel{}
	}
	if l.Model.Users == nil {
		l.Model.Users = ptr.To(DefaultModelUsers)
	}
	if l.Model.Items == nil {
		l.Model.Items = ptr.To(DefaultModelItems)
	}
	if l.Model.Seed == nil {
		l.Model.Seed = ptr.To(DefaultModelSeed)
	}
}

func defaultLoad(l *Load, platform PlatformType) {
	if l.Rate == nil {
		l.Rate = ptr.To(DefaultRate)
	}
	if l.Timeout == nil {
		l.Timeout = duration(DefaultTimeout)
	}
	if len(l.Requests) == 0 && platform == PlatformLocal {
		l.Requests = DefaultLocalRequests()
	}
	for i := range l.Requests {
		r := &l.Requests[i]
		if r.Method == "" {
			r.Method = "GET"
		}
		if r.Weight == nil {
			r.Weight = ptr.To[int32](1)
		}
		if r.Name == "" {
			r.Name = RequestName(r.Path)
		}
	}
}

// RequestName derives a request template's default name from its path:
// the path without its query, slashes turned into dashes.
func RequestName(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	name := strings.Trim(strings.ReplaceAll(path, "/", "-"), "-")
	if name == "" {
		return "root"
	}
	return name
}

// DefaultStepTimeout is how long a fault step observes its failover, and
// again its fail-back, when the step sets no timeout: the larger of rto and
// failbackRTO, plus that objective again or one minute, whichever is
// longer, plus recovered.for. Observation goes on well past the objective,
// so that a recovery that misses it is measured ("recovered in 1.2s, over
// the 500ms objective") rather than reported as never recovered.
func DefaultStepTimeout(o *Objectives) time.Duration {
	var rto, forDur time.Duration
	if o.RTO != nil {
		rto = o.RTO.Duration
	}
	if o.FailbackRTO != nil {
		rto = max(rto, o.FailbackRTO.Duration)
	}
	if o.Recovered.For != nil {
		forDur = o.Recovered.For.Duration
	}
	return rto + max(rto, time.Minute) + forDur
}

// defaultObjectives fills objectives. The recovered p99 defaults to the
// latency objective, or 1s, but never more than the request timeout, which
// would make it unmeasurable.
func defaultObjectives(o *Objectives, timeout time.Duration) {
	if o.RTO == nil {
		o.RTO = duration(DefaultRTO)
	}
	if o.FailbackRTO == nil {
		o.FailbackRTO = o.RTO.DeepCopy()
	}
	if o.Recovered.SuccessRate == "" {
		o.Recovered.SuccessRate = DefaultSuccessRate
	}
	if o.Recovered.LatencyP99 == nil {
		if o.LatencyP99 != nil {
			o.Recovered.LatencyP99 = o.LatencyP99.DeepCopy()
		} else {
			o.Recovered.LatencyP99 = duration(min(DefaultRecoveredP99, timeout))
		}
	}
	if o.Recovered.For == nil {
		o.Recovered.For = duration(DefaultRecoveredFor)
	}
}

func defaultSelection(s *Selection) {
	if s.Mode == "" {
		s.Mode = SelectOne
	}
}

func defaultAction(a *Action) {
	if a == nil {
		return
	}
	if a.Timeout == nil {
		a.Timeout = duration(DefaultActionTimeout)
	}
	if a.Webhook != nil && a.Webhook.Method == "" {
		a.Webhook.Method = "POST"
	}
}

// DefaultSelectorKey is the Service selector key a traffic switch rewrites.
const DefaultSelectorKey = "region"

func defaultSwitch(sw *CutoverSwitch, namespace string) {
	switch {
	case sw.Service != nil:
		if sw.Service.Namespace == "" {
			sw.Service.Namespace = namespace
		}
		if sw.Service.SelectorKey == "" {
			sw.Service.SelectorKey = DefaultSelectorKey
		}
	case sw.HTTPRoute != nil:
		if sw.HTTPRoute.Namespace == "" {
			sw.HTTPRoute.Namespace = namespace
		}
	default:
		defaultAction(&sw.Action)
	}
}

func defaultStep(st *Step, o *Objectives, t *Target) {
	f := st.Fault
	if f == nil {
		return
	}
	if st.Timeout == nil && o.RTO != nil && o.Recovered.For != nil {
		st.Timeout = duration(DefaultStepTimeout(o))
	}
	if f.Revert == "" {
		f.Revert = RevertAuto
	}
	if f.PodKill != nil {
		defaultSelection(&f.PodKill.Selection)
		if f.PodKill.GracePeriod == nil {
			f.PodKill.GracePeriod = duration(0)
		}
	}
	if f.NodeDrain != nil {
		defaultSelection(&f.NodeDrain.Selection)
		if f.NodeDrain.Timeout == nil {
			f.NodeDrain.Timeout = duration(DefaultDrainTimeout)
		}
		if f.NodeDrain.OnInsufficientCapacity == "" {
			f.NodeDrain.OnInsufficientCapacity = CapacityRefuse
		}
	}
	if g := f.GPUFailure; g != nil {
		defaultSelection(&g.Selection)
		if g.GracePeriod == nil {
			g.GracePeriod = duration(0)
		}
		if g.OnInsufficientCapacity == "" {
			g.OnInsufficientCapacity = CapacityRefuse
		}
		if g.TaintKey == "" && t.Platform == PlatformKubernetes {
			g.TaintKey = DefaultGPUTaintKey
		}
	}
	if f.RegionCutover != nil {
		if f.RegionCutover.Traffic == "" {
			f.RegionCutover.Traffic = TrafficAuto
		}
		if f.RegionCutover.Method == "" {
			f.RegionCutover.Method = CutoverDrain
		}
		if sw := f.RegionCutover.Switch; sw != nil {
			defaultSwitch(sw, t.Namespace)
		}
	}
	if f.ModelStoreOutage != nil {
		if f.ModelStoreOutage.Mode == "" {
			f.ModelStoreOutage.Mode = OutageUnavailable
		}
		if f.ModelStoreOutage.Mode == OutageSlow && f.ModelStoreOutage.Latency == nil {
			f.ModelStoreOutage.Latency = duration(DefaultSlowLatency)
		}
		if f.ModelStoreOutage.Method == "" && t.Platform == PlatformKubernetes {
			f.ModelStoreOutage.Method = OutageScaleToZero
			if f.ModelStoreOutage.Mode != OutageUnavailable {
				f.ModelStoreOutage.Method = OutageChaosMesh
			}
		}
	}
	if f.Exec != nil {
		defaultAction(&f.Exec.Inject)
		defaultAction(f.Exec.Revert)
	}
}

// SetDefaults_DrillRun fills every unset field of a run.
func SetDefaults_DrillRun(r *DrillRun) { //nolint:revive,staticcheck // Kubernetes defaulter naming.
	if r.APIVersion == "" {
		r.APIVersion = GroupVersion.String()
	}
	if r.Kind == "" {
		r.Kind = KindDrillRun
	}
	if r.Spec.Trigger == "" {
		r.Spec.Trigger = TriggerManual
	}
	if r.Spec.Plan != nil {
		SetDefaults_DrillPlanSpec(r.Spec.Plan)
	}
}
