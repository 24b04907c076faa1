{{- define "sealwatch-admission.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sealwatch-admission.labels" -}}
app.kubernetes.io/name: {{ include "sealwatch-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sealwatch-admission.selector" -}}
app.kubernetes.io/name: {{ include "sealwatch-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sealwatch-admission.service" -}}
{{ include "sealwatch-admission.name" . }}.{{ .Release.Namespace }}.svc
{{- end -}}
