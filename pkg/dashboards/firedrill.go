package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the firedrill dashboard's uid.
const UID = "firedrill-drills"

// Template variables the queries use. Grafana replaces $plan by the
// selected plans as a regular expression (AllValue when All is chosen)
// and $__range by the dashboard's time range.
const (
	// VarDatasource picks the Prometheus data source.
	VarDatasource = "datasource"
	// VarPlan picks the plans; its All value is AllValue.
	VarPlan = "plan"
	// AllValue is what $plan reads when All plans are chosen.
	AllValue = ".*"
)

// sel is the label selector of a query filtered by the plan variable.
const sel = `plan=~"$plan"`

// Firedrill builds the dashboard.
func Firedrill() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("firedrill: disaster-recovery drills").
		Uid(UID).
		Description("Drill runs, recovery times (failover and fail-back), objective verdicts and faults, from the firedrill_ metrics of drill serve or of drill run --pushgateway. docs/metrics.md defines every metric.").
		Tags([]string{"firedrill", "disaster-recovery", "slo"}).
		Editable().
		Refresh("1m").
		Time("now-30d", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder(VarDatasource).Label("Data source").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder(VarPlan).
			Label("Plan").
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(firedrill_run_finished_total, plan)")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(AllValue))

	b.WithRow(dashboard.NewRowBuilder("Runs"))
	b.WithPanel(table.NewPanelBuilder().
		Title("Plans").
		Description("Each plan's last finished run (phase, verdict, completion, duration), its last success, its next scheduled run and its runs in progress.").
		Datasource(datasource()).Span(24).Height(7).
		WithTarget(tableQuery("A", `max by (plan, phase, verdict) (firedrill_run_last_result{`+sel+`})`)).
		WithTarget(tableQuery("B", `max by (plan) (firedrill_run_last_completion_timestamp_seconds{`+sel+`}) * 1000`)).
		WithTarget(tableQuery("C", `max by (plan) (firedrill_run_last_duration_seconds{`+sel+`})`)).
		WithTarget(tableQuery("D", `max by (plan) (firedrill_run_last_success_timestamp_seconds{`+sel+`}) * 1000`)).
		WithTarget(tableQuery("E", `max by (plan) (firedrill_schedule_next_run_timestamp_seconds{`+sel+`}) * 1000`)).
		WithTarget(tableQuery("F", `sum by (plan) (firedrill_run_active{`+sel+`})`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value #A": true},
			"renameByName": map[string]any{
				"plan": "Plan", "phase": "Last phase", "verdict": "Last verdict", "Value #B": "Last completed",
				"Value #C": "Last duration", "Value #D": "Last success", "Value #E": "Next run", "Value #F": "Running",
			},
		}}).
		OverrideByName("Last completed", unit("dateTimeAsIso")).
		OverrideByName("Last success", unit("dateTimeAsIso")).
		OverrideByName("Next run", unit("dateTimeAsIso")).
		OverrideByName("Last duration", unit("s")))
	b.WithPanel(statPanel("Runs in progress", "Drill runs in progress now.", "none",
		instant("A", `sum(firedrill_run_active{`+sel+`})`, "running")).Span(4))
	b.WithPanel(statPanel("Active faults", "Faults injected and not yet reverted now. Outside a drill this must be 0.", "none",
		instant("A", `sum(firedrill_fault_active{`+sel+`})`, "active")).
		Thresholds(redAbove(1)).Span(4))
	b.WithPanel(statPanel("Runs in the range", "Runs finished in the dashboard's time range, by phase and verdict (counted by drill serve; a Pushgateway group holds one run).", "none",
		instant("A", `round(sum by (phase, verdict) (increase(firedrill_run_finished_total{`+sel+`}[$__range])))`, "{{phase}} {{verdict}}")).Span(8))
	b.WithPanel(statPanel("Aborts in the range", "Runs aborted in the time range: condition (an abort condition tripped) or interrupted (stopped on request).", "none",
		instant("A", `round(sum by (cause) (increase(firedrill_run_aborts_total{`+sel+`}[$__range])))`, "{{cause}}")).
		Thresholds(redAbove(1)).Span(4))
	b.WithPanel(statPanel("Failed reverts in the range", "Faults whose revert failed in the time range; drill cleanup retries them.", "none",
		instant("A", `round(sum(increase(firedrill_fault_revert_failures_total{`+sel+`}[$__range])))`, "failed reverts")).
		Thresholds(redAbove(1)).Span(4))
	b.WithPanel(statPanel("Since the last successful drill", "Time since each plan's last Succeeded run completed.", "s",
		instant("A", `time() - max by (plan) (firedrill_run_last_success_timestamp_seconds{`+sel+`})`, "{{plan}}")).Span(12))
	b.WithPanel(statPanel("Next scheduled run in", "Time until each scheduled plan fires next (drill serve only).", "s",
		instant("A", `max by (plan) (firedrill_schedule_next_run_timestamp_seconds{`+sel+`}) - time()`, "{{plan}}")).Span(12))
	b.WithPanel(seriesPanel("Run duration", "Duration of each plan's last finished run, and the p90 of the runs finished in the time range.", "s",
		rangeQuery("A", `max by (plan) (firedrill_run_last_duration_seconds{`+sel+`})`, "{{plan}} last"),
		rangeQuery("B", `histogram_quantile(0.9, sum by (le, plan) (increase(firedrill_run_duration_seconds_bucket{`+sel+`}[$__range])))`, "{{plan}} p90 in range")).Span(24))

	b.WithRow(dashboard.NewRowBuilder("Recovery"))
	b.WithPanel(seriesPanel("Recovery time, last run", "Each fault's recovery time in its plan's last finished run (the larger of service and capacity RTO), failover and fail-back apart, against the plan's rto and failbackRTO objectives (dashed). A fault that did not recover has no point: see Not recovered.", "s",
		rangeQuery("A", `max by (plan, step, recovery) (firedrill_fault_last_recovery_time_seconds{`+sel+`})`, "{{plan}} {{step}} {{recovery}}"),
		rangeQuery("B", `max by (plan, objective) (firedrill_objective_target_seconds{`+sel+`, objective=~"rto|failbackRTO"})`, "{{plan}} {{objective}} objective")).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}}}).
		Span(12))
	b.WithPanel(statPanel("Not recovered, last run", "Recoveries (failover or fail-back) that never recovered in their plan's last finished run.", "none",
		instant("A", `count(max by (plan, step, recovery) (firedrill_fault_last_recovered{`+sel+`}) == 0) or vector(0)`, "not recovered")).
		Thresholds(redAbove(1)).Span(4))
	b.WithPanel(barPanel("Recovery time p90 in the range", "p90 recovery time of the recoveries observed in the time range, by fault type and recovery (failover or fail-back).", "s",
		instant("A", `histogram_quantile(0.9, sum by (le, type, recovery) (increase(firedrill_fault_recovery_time_seconds_bucket{`+sel+`}[$__range])))`, "{{type}} {{recovery}}")).Span(8))
	b.WithPanel(seriesPanel("Service RTO, last run", "Time until the SLIs recovered, per fault of each plan's last finished run.", "s",
		rangeQuery("A", `max by (plan, step, recovery) (firedrill_fault_last_service_rto_seconds{`+sel+`})`, "{{plan}} {{step}} {{recovery}}")).Span(12))
	b.WithPanel(seriesPanel("Capacity RTO, last run", "Time until every target workload was back at its desired ready replicas, per fault of each plan's last finished run (platforms that track capacity).", "s",
		rangeQuery("A", `max by (plan, step, recovery) (firedrill_fault_last_capacity_rto_seconds{`+sel+`})`, "{{plan}} {{step}} {{recovery}}")).Span(12))
	b.WithPanel(barPanel("Service and capacity RTO p90 in the range", "p90 service and capacity RTO of the recoveries observed in the time range, by recovery.", "s",
		instant("A", `histogram_quantile(0.9, sum by (le, recovery) (increase(firedrill_fault_service_rto_seconds_bucket{`+sel+`}[$__range])))`, "service {{recovery}}"),
		instant("B", `histogram_quantile(0.9, sum by (le, recovery) (increase(firedrill_fault_capacity_rto_seconds_bucket{`+sel+`}[$__range])))`, "capacity {{recovery}}")).Span(24))

	b.WithRow(dashboard.NewRowBuilder("Objectives and faults"))
	b.WithPanel(table.NewPanelBuilder().
		Title("Objective verdicts, last run").
		Description("Every objective verdict of each plan's last finished run: the baseline, final and overall windows, and each fault's failover and fail-back.").
		Datasource(datasource()).Span(16).Height(9).
		WithTarget(tableQuery("A", `max by (plan, window, step, type, objective, verdict) (firedrill_objective_last_verdict{`+sel+`})`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value": true},
			"indexByName":   map[string]any{"plan": 0, "window": 1, "step": 2, "type": 3, "objective": 4, "verdict": 5},
		}}))
	b.WithPanel(statPanel("Failing objectives, last run", "Objective verdicts that failed in the plans' last finished runs.", "none",
		instant("A", `count(max by (plan, window, step, objective) (firedrill_objective_last_verdict{`+sel+`, verdict="Fail"})) or vector(0)`, "failing")).
		Thresholds(redAbove(1)).Span(8).Height(9))
	b.WithPanel(seriesPanel("Active faults", "Faults in effect over time, by plan, step and fault type.", "none",
		rangeQuery("A", `sum by (plan, step, type) (firedrill_fault_active{`+sel+`})`, "{{plan}} {{step}} ({{type}})")).Span(24))

	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("building the firedrill dashboard: %w", err)
	}
	return d, nil
}

// JSON is the dashboard as committed: indented JSON ending in a newline.
func JSON() ([]byte, error) {
	d, err := Firedrill()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encoding the firedrill dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + VarDatasource + "}")}
}

func rangeQuery(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(datasource()).Expr(expr).LegendFormat(legend).Range()
}

func instant(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(datasource()).Expr(expr).LegendFormat(legend).Instant()
}

func tableQuery(ref, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(datasource()).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable)
}

func statPanel(title, description, unit string, queries ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().Title(title).Description(description).Datasource(datasource()).Unit(unit).Height(5).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	for _, q := range queries {
		p.WithTarget(q)
	}
	return p
}

func barPanel(title, description, unit string, queries ...*prometheus.DataqueryBuilder) *bargauge.PanelBuilder {
	p := bargauge.NewPanelBuilder().Title(title).Description(description).Datasource(datasource()).Unit(unit).Height(8).
		Min(0).DisplayMode(common.BarGaugeDisplayModeBasic).Orientation(common.VizOrientationHorizontal).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	for _, q := range queries {
		p.WithTarget(q)
	}
	return p
}

func seriesPanel(title, description, unit string, queries ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(description).Datasource(datasource()).Unit(unit).Height(8).
		Min(0).LineInterpolation(common.LineInterpolationStepAfter).ShowPoints(common.VisibilityModeAlways).PointSize(6).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).Calcs([]string{"lastNotNull", "max"}))
	for _, q := range queries {
		p.WithTarget(q)
	}
	return p
}

// unit is a field override setting the unit.
func unit(u string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "unit", Value: u}}
}

// redAbove is green below n, red from n.
func redAbove(n float64) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Value: nil, Color: "green"},
		{Value: cog.ToPtr(n), Color: "red"},
	})
}
