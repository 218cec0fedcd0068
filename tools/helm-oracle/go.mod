module flux-rs.invalid/tools/helm-oracle

go 1.26.0

require helm.sh/helm/v3 v3.21.4

require (
	github.com/pkg/errors v0.9.1 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
