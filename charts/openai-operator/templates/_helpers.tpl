{{/* The chart's name. */}}
{{- define "openai-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: the release name, or <release>-<chart> when the
release name does not contain the chart's name. Suffixes are added to it, so it is kept
short.
*/}}
{{- define "openai-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "openai-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "openai-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The manager's Pods (the same selector as the kustomize install). */}}
{{- define "openai-operator.managerSelectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ include "openai-operator.name" . }}
{{- end }}

{{/* The receiver's Pods (the same selector as the kustomize install). */}}
{{- define "openai-operator.receiverSelectorLabels" -}}
app.kubernetes.io/name: {{ include "openai-operator.name" . }}
app.kubernetes.io/component: webhook-receiver
{{- end }}

{{/* The image of both binaries. */}}
{{- define "openai-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The metrics Service's DNS name, which the metrics certificate names. */}}
{{- define "openai-operator.metricsServiceHost" -}}
{{- printf "%s-controller-manager-metrics-service.%s.svc" (include "openai-operator.fullname" .) .Release.Namespace }}
{{- end }}

{{/* The securityContext of every container: the restricted Pod Security Standard. */}}
{{- define "openai-operator.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop:
  - "ALL"
seccompProfile:
  type: RuntimeDefault
{{- end }}
