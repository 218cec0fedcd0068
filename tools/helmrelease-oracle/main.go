// helmrelease-oracle composes HelmRelease values as upstream's
// helm-controller does (fluxcd/pkg/chartutil: ChartValuesFromReferences
// over ConfigMaps and Secrets, then DigestValues), for flux-rs's
// differential tests. One JSON case per input line, one JSON result per
// output line.
//
// chartutil v1.27.2: helm-controller v1.6.0 requires v1.27.0, which the
// module proxy does not serve here.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/chartutil"
	"github.com/go-logr/logr"
	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

type object struct {
	Kind string            `json:"kind"`
	Name string            `json:"name"`
	Data map[string]string `json:"data"`
}

type request struct {
	Namespace string                 `json:"namespace"`
	Values    json.RawMessage        `json:"values"`
	Refs      []meta.ValuesReference `json:"refs"`
	Objects   []object               `json:"objects"`
}

type response struct {
	Values map[string]interface{} `json:"values,omitempty"`
	Digest string                 `json:"digest,omitempty"`
	Error  string                 `json:"error,omitempty"`
}

func run(req request) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			resp = response{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	var objects []client.Object
	for _, o := range req.Objects {
		m := metav1.ObjectMeta{Name: o.Name, Namespace: req.Namespace}
		switch o.Kind {
		case "Secret":
			data := map[string][]byte{}
			for k, v := range o.Data {
				data[k] = []byte(v)
			}
			objects = append(objects, &corev1.Secret{ObjectMeta: m, Data: data})
		default:
			objects = append(objects, &corev1.ConfigMap{ObjectMeta: m, Data: o.Data})
		}
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build()
	// As the HelmRelease's `GetValues`: the JSON decoded into a map.
	var values map[string]interface{}
	if len(req.Values) > 0 {
		if err := json.Unmarshal(req.Values, &values); err != nil {
			return response{Error: "oracle: " + err.Error()}
		}
	}
	result, err := chartutil.ChartValuesFromReferences(context.Background(), logr.Discard(), c, req.Namespace, values, req.Refs...)
	if err != nil {
		return response{Error: err.Error()}
	}
	return response{Values: result, Digest: chartutil.DigestValues(digest.Canonical, result).String()}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			_ = out.Encode(response{Error: "oracle: " + err.Error()})
			continue
		}
		_ = out.Encode(run(req))
	}
}
