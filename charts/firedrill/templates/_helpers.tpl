{{/* The chart's name, or nameOverride. */}}
{{- define "firedrill.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects: fullnameOverride, or release-chart (once when the release name holds the chart's). */}}
{{- define "firedrill.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version for the helm.sh/chart label. */}}
{{- define "firedrill.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "firedrill.labels" -}}
helm.sh/chart: {{ include "firedrill.chart" . }}
{{ include "firedrill.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: firedrill
{{- end }}

{{/* Labels that select drill serve's pods. */}}
{{- define "firedrill.selectorLabels" -}}
app.kubernetes.io/name: {{ include "firedrill.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: drill-serve
{{- end }}

{{/* The ServiceAccount drill serve runs as. */}}
{{- define "firedrill.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "firedrill.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: digest wins over tag, which defaults to appVersion. */}}
{{- define "firedrill.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The namespace of the system under test. */}}
{{- define "firedrill.recommenderNamespace" -}}
{{- default .Release.Namespace .Values.recommender.namespace }}
{{- end }}

{{/* The restricted Pod Security Standard, for every container. */}}
{{- define "firedrill.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The restricted Pod Security Standard, for every pod: the image's nonroot user. */}}
{{- define "firedrill.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* seconds of a Go duration of hours, minutes and seconds (3m, 1h30m, 90s). */}}
{{- define "firedrill.seconds" -}}
{{- $d := . | toString }}
{{- $total := 0 }}
{{- range $m := regexFindAll "[0-9]+(h|m|s)" $d -1 }}
{{- $n := int (trimSuffix "h" (trimSuffix "m" (trimSuffix "s" $m))) }}
{{- if hasSuffix "h" $m }}{{ $total = add $total (mul $n 3600) }}{{ else if hasSuffix "m" $m }}{{ $total = add $total (mul $n 60) }}{{ else }}{{ $total = add $total $n }}{{ end }}
{{- end }}
{{- $total }}
{{- end }}
