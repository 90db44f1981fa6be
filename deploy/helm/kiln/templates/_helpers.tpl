{{- define "kiln.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/name: kiln
{{- end }}
