{{/*
Names, labels and shared values of the vigil chart. Every object name is at most 63 characters (DNS label):
"vigil.fullname" is truncated first, and "vigil.child" keeps a component suffix whole by truncating the prefix.
*/}}

{{/* Chart name (nameOverride wins). */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name: the release name when it already contains the chart name ("vigil" -> "vigil"). */}}
{{- define "vigil.fullname" -}}
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

{{/* "<fullname>-<suffix>" in 63 characters, the suffix kept whole. Usage: include "vigil.child" (list . "redis") */}}
{{- define "vigil.child" -}}
{{- $root := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $prefix := include "vigil.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $prefix $suffix }}
{{- end }}

{{- define "vigil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. Usage: include "vigil.labels" (list . "operator") */}}
{{- define "vigil.labels" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
helm.sh/chart: {{ include "vigil.chart" $root }}
{{ include "vigil.selectorLabels" (list $root $component) }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: vigil
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels (immutable on Deployments: never add to these). */}}
{{- define "vigil.selectorLabels" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
app.kubernetes.io/name: {{ include "vigil.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $component }}
{{- end }}

{{/* Labels the chart adds to the CRDs (whose own labels already carry name and component). */}}
{{- define "vigil.crdLabels" -}}
helm.sh/chart: {{ include "vigil.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vigil
{{- end }}

{{/* Object names shared by several templates (and by the operator through its environment). */}}
{{- define "vigil.operatorName" -}}{{ include "vigil.child" (list . "operator") }}{{- end }}
{{- define "vigil.serviceAccountName" -}}{{ include "vigil.child" (list . "operator") }}{{- end }}
{{- define "vigil.webhookServiceName" -}}{{ include "vigil.child" (list . "webhook") }}{{- end }}
{{- define "vigil.webhookConfigurationName" -}}{{ include "vigil.child" (list . "sidecar-injector") }}{{- end }}
{{- define "vigil.webhookTlsSecretName" -}}{{ include "vigil.child" (list . "webhook-tls") }}{{- end }}
{{- define "vigil.injectionConfigName" -}}{{ include "vigil.child" (list . "injection") }}{{- end }}
{{- define "vigil.issuersConfigName" -}}{{ include "vigil.child" (list . "issuers") }}{{- end }}
{{- define "vigil.keyRingSecretName" -}}{{ include "vigil.child" (list . "session-keys") }}{{- end }}
{{- define "vigil.busSigningSecretName" -}}{{ include "vigil.child" (list . "bus-signing") }}{{- end }}
{{- define "vigil.busVerifyConfigName" -}}{{ include "vigil.child" (list . "bus-verify") }}{{- end }}
{{- define "vigil.redisName" -}}{{ include "vigil.child" (list . "redis") }}{{- end }}
{{- define "vigil.leaseName" -}}{{ include "vigil.child" (list . "operator") }}{{- end }}

{{/* Container image reference: repository[:tag][@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "vigil.image" -}}
{{- $image := index . 0 -}}
{{- $appVersion := index . 1 -}}
{{- $ref := printf "%s:%s" $image.repository (default $appVersion $image.tag) -}}
{{- if $image.digest }}{{ $ref = printf "%s@%s" $ref $image.digest }}{{ end -}}
{{- $ref -}}
{{- end }}

{{/* The sidecar's image: each of sidecar.image.repository/tag/digest overrides image.* (one image, two entrypoints). */}}
{{- define "vigil.sidecarImage" -}}
{{- $s := .Values.sidecar.image -}}
{{- $image := dict "repository" (default .Values.image.repository $s.repository) "tag" (default .Values.image.tag $s.tag) "digest" (default .Values.image.digest $s.digest) -}}
{{- include "vigil.image" (list $image .Chart.AppVersion) -}}
{{- end }}

{{/* Namespaces no webhook entry may ever match: the configured system namespaces and the release namespace. */}}
{{- define "vigil.excludedNamespaces" -}}
{{- $list := concat .Values.webhook.excludedNamespaces (list .Release.Namespace) | uniq }}
{{- toJson $list }}
{{- end }}

{{/* "enabled" when the operator manages its own webhook certificate (no cert-manager). */}}
{{- define "vigil.selfManagedCert" -}}
{{- if not .Values.webhook.certManager.enabled }}true{{ end }}
{{- end }}

{{/*
Redis as seen by vigil processes, in the injection config's shape: {"url": …} for a Redis without password, or
{"secretName": …, "secretKey": …} naming a Secret (in the reader's namespace) that holds the full URL with the
password. Sentinel settings, when any, are under a separate "sentinel" key (not part of the injection config).
*/}}
{{- define "vigil.redisConnection" -}}
{{- $out := dict }}
{{- if eq .Values.redis.mode "bundled" }}
{{- $_ := set $out "secretName" (include "vigil.redisName" .) }}
{{- $_ := set $out "secretKey" "url" }}
{{- else }}
{{- $ext := .Values.redis.external }}
{{- if $ext.existingSecret }}
{{- $_ := set $out "secretName" $ext.existingSecret }}
{{- $_ := set $out "secretKey" $ext.existingSecretKey }}
{{- else }}
{{- $_ := set $out "url" (default (printf "redis://%s" $ext.sentinel.masterName) $ext.url) }}
{{- end }}
{{- if $ext.sentinel.masterName }}
{{- $_ := set $out "sentinel" (dict "masterName" $ext.sentinel.masterName "addresses" $ext.sentinel.addresses) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}
