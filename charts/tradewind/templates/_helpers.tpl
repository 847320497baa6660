{{/* The release's full name, at most 63 characters. */}}
{{- define "tradewind.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tradewind.selectorLabels" -}}
app.kubernetes.io/name: tradewind
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "tradewind.labels" -}}
{{ include "tradewind.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tradewind.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tradewind.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The one image: repository@digest, or repository:tag (appVersion by default). */}}
{{- define "tradewind.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The rules the operator needs (operator/src/controller/mod.rs lists them) in a namespace it watches (or everywhere, when it watches every namespace).
Verbs are listed one by one: never "*".
*/}}
{{- define "tradewind.watchRules" -}}
# The five kinds: read, add and remove the finalizer (metadata only; the operator never writes spec).
- apiGroups: ["tradewind.dev"]
  resources: [marketplaces, channelmappings, ratelimitpolicies, syncschedules, erpconnections]
  verbs: [get, list, watch, patch, update]
- apiGroups: ["tradewind.dev"]
  resources: [marketplaces/status, channelmappings/status, ratelimitpolicies/status, syncschedules/status, erpconnections/status]
  verbs: [get, patch, update]
- apiGroups: ["tradewind.dev"]
  resources: [marketplaces/finalizers, erpconnections/finalizers]
  verbs: [update]
# What it renders for each Marketplace and ErpConnection, applied with server-side apply (create and patch;
# never update) and deleted when out of date.
- apiGroups: ["apps"]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
# Secrets are only read: their resourceVersion goes into the config hash, so a rotation rolls the pods.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
# Kubernetes Events for every transition (kube's recorder writes events.k8s.io/v1).
- apiGroups: ["events.k8s.io"]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
