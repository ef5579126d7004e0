{{/* Names, labels and computed values shared by the templates. */}}

{{- define "celigo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "celigo-operator.fullname" -}}
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

{{- define "celigo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "celigo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "celigo-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "celigo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "celigo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "celigo-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "celigo-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- if .Values.image.tag }}
{{- printf "%s:%s@%s" .Values.image.repository .Values.image.tag .Values.image.digest }}
{{- else }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- end }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches when not cluster-wide; fails early on an empty list. */}}
{{- define "celigo-operator.watchNamespaces" -}}
{{- if not .Values.watch.namespaces }}
{{- fail "watch.namespaces must list at least one namespace when watch.clusterWide is false" }}
{{- end }}
{{- toJson .Values.watch.namespaces }}
{{- end }}

{{/* The rules for a namespace whose CeligoConnectors the operator serves (ClusterRole or Role). */}}
{{- define "celigo-operator.connectorRules" -}}
# The resources it serves: watch them, re-read the latest before a reconcile, (kopf) patch progress annotations.
- apiGroups: ["celigo-operator.io"]
  resources: ["celigoconnectors"]
  verbs: ["get", "list", "watch", "patch"]
# Conditions, inventory and credential versions go to the status subresource.
- apiGroups: ["celigo-operator.io"]
  resources: ["celigoconnectors/status"]
  verbs: ["patch"]
# Exactly the Secret verbs the operator uses, in the connector's namespace (README, "Secrets, cluster-wide:
# why each verb"): get (a named credentials Secret the opted-in cache lacks), list/watch (opted-in source
# Secrets by label; its own credentials Secrets to prune), create (each immutable credentials version),
# delete (old versions once no pod uses them). No update/patch: its Secrets are immutable.
- apiGroups: [""]
  resources: ["secrets"]
  # watch: the operator lists and watches only Secrets labelled celigo-operator.io/credentials=true (a
  # server-side selector), but RBAC cannot limit list/watch to a label: this grant allows reading every
  # Secret in scope. The namespaced install is the least-privilege choice.
  verbs: ["get", "list", "watch", "create", "delete"]
# The connector's Deployment: read, create, replace to repair drift or roll new credentials.
- apiGroups: ["apps"]
  resources: ["deployments"]
  # list/watch (its own, by label): a rollout is followed by Deployment events, never by polling.
  verbs: ["get", "list", "watch", "create", "update"]
# Pod states explain an unavailable connector (CrashLoopBackOff, ImagePullBackOff).
- apiGroups: [""]
  resources: ["pods"]
  # watch (its connectors' pods, by label): pod events wake the connector they belong to.
  verbs: ["list", "watch"]
# Events on the CeligoConnector.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
