{{/*
Names are fixed, not prefixed by the release: licensegate is one operator per cluster (its
CRDs and admission policies are cluster-scoped), and the operator's configuration names the
Lease and the webhook Service.
*/}}

{{- define "licensegate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "licensegate.selectorLabels" -}}
app.kubernetes.io/name: licensegate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "licensegate.labels" -}}
helm.sh/chart: {{ include "licensegate.chart" . }}
{{ include "licensegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: licensegate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "licensegate.serviceAccountName" -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}

{{/* The user the admission policies exempt: the operator's ServiceAccount. */}}
{{- define "licensegate.operatorUsername" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "licensegate.serviceAccountName" . }}
{{- end -}}

{{- define "licensegate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The registry gate's pods: a different name, so the operator's Services and budget never select them. */}}
{{- define "licensegate.gateSelectorLabels" -}}
app.kubernetes.io/name: licensegate-gate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The gate's TLS Secret: the install's own, or the one the operator issues for gate.tls.hosts. */}}
{{- define "licensegate.gateTlsSecret" -}}
{{- .Values.gate.tls.secretName | default "licensegate-gate-tls" -}}
{{- end -}}
