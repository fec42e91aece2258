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
{{- define "vigil.signalsName" -}}{{ include "vigil.child" (list . "signals") }}{{- end }}
{{- define "vigil.signalsTlsSecretName" -}}{{ default (include "vigil.child" (list . "signals-tls")) .Values.signals.tls.existingSecret }}{{- end }}
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

{{/*
A memory quantity ("128Mi", "1Gi", "134217728" or the number 134217728, "500M") in whole MiB, rounded down; 0 when absent.
Usage: include "vigil.quantityMiB" "128Mi"
*/}}
{{- define "vigil.quantityMiB" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{- /* a plain number of bytes (YAML numbers reach templates as float64, printed as 1.34217728e+08) */ -}}
{{- divf (float64 .) 1048576.0 | floor | int -}}
{{- else -}}
{{- $q := toString (default "0" .) -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $unit := trimPrefix $number $q -}}
{{- $factors := dict "" 1.0 "m" 0.001 "k" 1000.0 "Ki" 1024.0 "M" 1000000.0 "Mi" 1048576.0 "G" 1000000000.0 "Gi" 1073741824.0 "T" 1e12 "Ti" 1099511627776.0 "P" 1e15 "Pi" 1125899906842624.0 "E" 1e18 "Ei" 1152921504606846976.0 -}}
{{- if not (hasKey $factors $unit) }}{{ fail (printf "memory quantity %q: unsupported unit %q" $q $unit) }}{{ end -}}
{{- divf (mulf (float64 $number) (get $factors $unit)) 1048576.0 | floor | int -}}
{{- end -}}
{{- end }}

{{/*
V8 flags of a Vigil program's Node process (docs/decisions/perf-0002): the young generation's semi-space, and the
old generation sized from the container's memory limit (node.heapPercentOfLimit of resources.limits.memory) unless
node.maxOldSpaceSizeMb sets it. JSON list. Usage: include "vigil.nodeFlags" (list .Values.sidecar.node .Values.sidecar.resources)
*/}}
{{- define "vigil.nodeFlags" -}}
{{- $node := index . 0 -}}
{{- $resources := index . 1 -}}
{{- $flags := list -}}
{{- if $node.maxSemiSpaceSizeMb }}
{{- $flags = append $flags (printf "--max-semi-space-size=%d" (int $node.maxSemiSpaceSizeMb)) -}}
{{- end }}
{{- $old := int $node.maxOldSpaceSizeMb -}}
{{- if eq $old 0 -}}
{{- $limit := int (include "vigil.quantityMiB" (dig "limits" "memory" "0" $resources)) -}}
{{- $old = div (mul $limit (int $node.heapPercentOfLimit)) 100 -}}
{{- end }}
{{- if gt $old 0 }}
{{- $flags = append $flags (printf "--max-old-space-size=%d" $old) -}}
{{- end }}
{{- toJson $flags -}}
{{- end }}

{{/* The receivers' configuration file (operator/signals/config.ts), as YAML. */}}
{{- define "vigil.signalsConfig" -}}
{{- toYaml (dict "backChannelLogout" .Values.signals.backChannelLogout "ssf" .Values.signals.ssf) }}
{{- end }}
