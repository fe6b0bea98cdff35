{{/* The services, their binaries, and who may call them (for NetworkPolicy). */}}
{{- define "boomerang.services" -}}
gateway: {binary: gateway, env: GATEWAY, callers: []}
wallet: {binary: wallet-svc, env: WALLET, callers: [gateway, accrual, referral, notify]}
accrual: {binary: accrual-svc, env: ACCRUAL, callers: [gateway, notify]}
campaign: {binary: campaign-svc, env: CAMPAIGN, callers: [gateway, accrual, notify]}
referral: {binary: referral-svc, env: REFERRAL, callers: [gateway, accrual, notify]}
notify: {binary: notify-svc, env: NOTIFY, callers: [gateway]}
{{- end -}}

{{- define "boomerang.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "boomerang.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A service's resource name: <fullname>-<service>. Call with (list $ "wallet"). */}}
{{- define "boomerang.component" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "boomerang.fullname" $root | trunc 54 | trimSuffix "-") (index . 1) -}}
{{- end -}}

{{- define "boomerang.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: {{ include "boomerang.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service. Call with (list $ "wallet"). */}}
{{- define "boomerang.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "boomerang.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "boomerang.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "boomerang.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image of one service. Call with (list $ $svc). */}}
{{- define "boomerang.image" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $g := $root.Values.global.image -}}
{{- $repo := default $g.repository $svc.image.repository -}}
{{- $ref := printf "%s/%s" $g.registry $repo | trimPrefix "/" -}}
{{- if $g.digest -}}
{{- printf "%s@%s" $ref $g.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default $root.Chart.AppVersion (default $g.tag $svc.image.tag)) -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding database URLs. */}}
{{- define "boomerang.databaseSecret" -}}
{{- default (include "boomerang.fullname" .) .Values.database.existingSecret -}}
{{- end -}}

{{/* Name of the Secret holding the admin key. */}}
{{- define "boomerang.adminKeySecret" -}}
{{- default (include "boomerang.fullname" .) .Values.adminKey.existingSecret -}}
{{- end -}}

{{/* Name of the Secret holding the platform key. */}}
{{- define "boomerang.internalAuthSecret" -}}
{{- default (printf "%s-internal-auth" (include "boomerang.fullname" .)) .Values.internalAuth.existingSecret -}}
{{- end -}}

{{/* The boomerang.json every service reads (its own key): the values' config
blocks. JSON, not TOML: Helm's toToml writes every integer as a float. */}}
{{- define "boomerang.configJson" -}}
{{- $tables := dict -}}
{{- range $name, $_ := include "boomerang.services" . | fromYaml -}}
{{- $svc := index $.Values $name -}}
{{- if and $svc.enabled $svc.config -}}
{{- $_ := set $tables $name $svc.config -}}
{{- end -}}
{{- end -}}
{{- toPrettyJson $tables -}}
{{- end -}}

{{/* The host name callers use for a service (and its certificate names):
the headless Service, or the gateway's own. Call with (list $ "wallet"). */}}
{{- define "boomerang.callHost" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $host := include "boomerang.component" (list $root $name) -}}
{{- if ne $name "gateway" }}{{ $host = printf "%s-headless" $host }}{{ end -}}
{{- $host -}}
{{- end -}}

{{/* The URL callers use for a service: its headless Service (one address per
ready pod, which callers spread over; the gateway's own Service for the
gateway), https:// with tls.enabled, or externalUrl when it is not run by
this release. Call with (list $ "wallet"). */}}
{{- define "boomerang.url" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $svc := index $root.Values $name -}}
{{- if $svc.enabled -}}
{{- $scheme := ternary "https" "http" $root.Values.tls.enabled -}}
{{- printf "%s://%s:%v" $scheme (include "boomerang.callHost" (list $root $name)) $svc.port -}}
{{- else -}}
{{- required (printf "%s.externalUrl is required when %s.enabled is false" $name $name) $svc.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* The accepted keys' paths, quoted and comma-separated, for a figment array. */}}
{{- define "boomerang.acceptedKeyFiles" -}}
{{- $paths := list -}}
{{- range . -}}
{{- $paths = append $paths (printf "%q" (printf "/var/run/secrets/boomerang/%s" .)) -}}
{{- end -}}
{{- join ", " $paths -}}
{{- end -}}

{{/* A probe asking health `service` of the container on `port`: gRPC, or
`boomerang health` over TLS (kubelet's gRPC probes are plaintext only).
Call with (list $ port service name). */}}
{{- define "boomerang.probe" -}}
{{- $root := index . 0 -}}
{{- $port := index . 1 -}}
{{- $service := index . 2 -}}
{{- $name := index . 3 -}}
{{- if $root.Values.tls.enabled -}}
exec: {command: ["/usr/local/bin/boomerang", "health", "--addr", "https://127.0.0.1:{{ $port }}", "--ca-file", "/var/run/secrets/boomerang-tls/ca.crt", "--server-name", {{ include "boomerang.callHost" (list $root $name) | quote }}, "--service", {{ $service | quote }}]}
{{- else if $service -}}
grpc: {port: {{ $port }}, service: {{ $service }}}
{{- else -}}
grpc: {port: {{ $port }}}
{{- end -}}
{{- end -}}
