{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "tokenway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name when it already contains the chart name.
*/}}
{{- define "tokenway.fullname" -}}
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

{{/*
Name of the operator's Deployment, Service and pods.
*/}}
{{- define "tokenway.operatorName" -}}
{{- printf "%s-operator" (include "tokenway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tokenway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
*/}}
{{- define "tokenway.labels" -}}
helm.sh/chart: {{ include "tokenway.chart" . }}
{{ include "tokenway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of the operator pods (immutable once deployed: keep them minimal).
*/}}
{{- define "tokenway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Labels for objects that are not the operator (CRDs, peering objects).
*/}}
{{- define "tokenway.commonLabels" -}}
helm.sh/chart: {{ include "tokenway.chart" . }}
app.kubernetes.io/name: {{ include "tokenway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "tokenway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tokenway.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference from {repository, tag, digest}; the tag defaults to the appVersion.
Usage: include "tokenway.image" (dict "image" .Values.operator.image "context" $)
*/}}
{{- define "tokenway.image" -}}
{{- $img := .image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .context.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{/*
Whether the operator watches the whole cluster.
*/}}
{{- define "tokenway.clusterWide" -}}
{{- if empty .Values.operator.watchNamespaces }}true{{- end }}
{{- end }}
