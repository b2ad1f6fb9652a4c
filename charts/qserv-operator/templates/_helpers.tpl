{{/* Chart name, overridable. */}}
{{- define "qserv-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: <release>-<chart>, or the release name when it contains the chart name. */}}
{{- define "qserv-operator.fullname" -}}
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

{{- define "qserv-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "qserv-operator.labels" -}}
helm.sh/chart: {{ include "qserv-operator.chart" . }}
{{ include "qserv-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: qserv
{{- end }}

{{/* Labels that select the operator pod (immutable in a Deployment: keep them few). */}}
{{- define "qserv-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "qserv-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "qserv-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "qserv-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "qserv-operator.jobServiceAccountName" -}}
{{- default (printf "%s-job" (include "qserv-operator.fullname" .)) .Values.jobServiceAccount.name }}
{{- end }}

{{/* Namespaces of the ingest Jobs' ServiceAccount and Role, as a list. */}}
{{- define "qserv-operator.jobNamespaces" -}}
{{- if .Values.jobServiceAccount.namespaces }}
{{- toJson .Values.jobServiceAccount.namespaces }}
{{- else }}
{{- toJson (list (default .Release.Namespace .Values.watchNamespace)) }}
{{- end }}
{{- end }}

{{- define "qserv-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
