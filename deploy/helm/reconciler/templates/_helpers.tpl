{{- define "reconciler.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "reconciler.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "reconciler.labels" -}}
app.kubernetes.io/name: {{ include "reconciler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "reconciler.selector" -}}
app.kubernetes.io/name: {{ include "reconciler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "reconciler.serviceAccount" -}}
{{- default (include "reconciler.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The lease is on with more than one replica, whatever lease.enabled says. */}}
{{- define "reconciler.leaseOn" -}}
{{- if or .Values.lease.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{- define "reconciler.leaseName" -}}
{{- default (include "reconciler.fullname" .) .Values.lease.name -}}
{{- end -}}

{{- define "reconciler.deployNamespaces" -}}
{{- if .Values.rbac.deployNamespaces }}{{ join "," .Values.rbac.deployNamespaces }}{{ else }}{{ .Release.Namespace }}{{ end -}}
{{- end -}}

{{- define "reconciler.jobNamespaces" -}}
{{- if .Values.rbac.jobNamespaces }}{{ join "," .Values.rbac.jobNamespaces }}{{ else }}{{ .Release.Namespace }}{{ end -}}
{{- end -}}

{{/* What the kubernetes target does in a stage namespace: apply (create/patch), undeploy
(list/delete), wait for rollouts (get deployments), scale (deployments/scale). */}}
{{- define "reconciler.deployRules" -}}
{{- range .Values.rbac.applyResources }}
- apiGroups: [{{ .apiGroup | quote }}]
  resources: {{ toJson .resources }}
  verbs: [create, patch, list, delete]
{{- end }}
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get]
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [get, update]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]                     # the inventory of what was applied (<service>-reconciler-inventory), for pruning
{{- end -}}

{{/* What a job/config.yaml task run as a Kubernetes Job needs: the Job, its files in a
ConfigMap owned by it, the Secrets named by `valueFrom: secret`, the pods' logs. */}}
{{- define "reconciler.jobRules" -}}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, get, delete]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
{{- end -}}
