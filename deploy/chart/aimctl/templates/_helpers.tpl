{{/* The operator's namespace: namespace.name, else the release namespace. */}}
{{- define "aimctl.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/* Helm's standard labels; the selector labels stay those of deploy/ (app.kubernetes.io/name, component). */}}
{{- define "aimctl.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "aimctl.labels" -}}
app.kubernetes.io/name: aimctl
{{ include "aimctl.helmLabels" . }}
{{- end -}}

{{/* repository@digest, else repository:tag (tag defaults to the appVersion). */}}
{{- define "aimctl.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* A generated manifest of files/ with the release's namespace (if namespaced) and labels. */}}
{{- define "aimctl.fromFile" -}}
{{- $doc := .root.Files.Get .path | fromYaml -}}
{{- $meta := $doc.metadata -}}
{{- if .namespaced }}{{ $_ := set $meta "namespace" (include "aimctl.namespace" .root) }}{{ end -}}
{{- $_ := set $meta "labels" (merge (dict) (.labels | default dict) ($meta.labels | default dict) (include "aimctl.helmLabels" .root | fromYaml)) -}}
{{- toYaml $doc -}}
{{- end -}}
