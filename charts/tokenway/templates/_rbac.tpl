{{/*
The operator's permissions, least privilege.

OPERATOR_RULES in operator/tokenway_operator/rbac.py is the one list: keep these
equal to it (e2e/test_helm.py::test_cluster_role_matches_operator_rules compares
the cluster-wide render with it).

"tokenway.rules.namespaced": rules on namespaced resources. Cluster-wide they go
into the ClusterRole bound by a ClusterRoleBinding; with watchNamespaces they are
granted per namespace by RoleBindings to the same ClusterRole.
*/}}
{{- define "tokenway.rules.namespaced" -}}
# Tokenway's kinds: watch, annotate (kopf's progress), status, and owner-reference
# finalizers (blockOwnerDeletion needs update on <kind>/finalizers).
- apiGroups: ["tokenway.io"]
  resources: ["inferencepools", "routepolicies", "cachepolicies", "inferencegateways"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["tokenway.io"]
  resources: ["inferencepools/status", "routepolicies/status", "cachepolicies/status", "inferencegateways/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["tokenway.io"]
  resources: ["inferencepools/finalizers", "routepolicies/finalizers", "cachepolicies/finalizers", "inferencegateways/finalizers"]
  verbs: ["update"]
# What the operator builds and server-side applies (field manager "tokenway").
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["services", "serviceaccounts", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# The gateway's Role grants get/list/watch on configmaps, which the operator holds itself
# (RBAC forbids granting what you do not have) ...
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# ... and on the one API-key Secret its InferenceGateway names: the operator never reads
# Secrets, so it may write Roles granting more than it holds and bind them (namespaced only).
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles"]
  verbs: ["escalate", "bind"]
# Ready endpoints of the pools.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
# Events on the objects it handles (Tokenway's and kopf's).
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.peering.enabled }}
# kopf peering in a namespace.
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}

{{/*
"tokenway.rules.cluster": rules on cluster-scoped resources (always a ClusterRoleBinding).
*/}}
{{- define "tokenway.rules.cluster" -}}
# kopf discovers and watches the CRDs of the resources it serves.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- if and .Values.peering.enabled (include "tokenway.clusterWide" .) }}
# kopf peering, cluster-wide.
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}
