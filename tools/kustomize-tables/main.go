// Command kustomize-tables prints the data tables flux-kustomize commits,
// taken from kustomize itself (its test compares the committed files with
// this program's output):
//
//	kustomize-tables smp              -> crates/flux-kustomize/src/smp_schema.txt
//	kustomize-tables fieldspecs DIR   -> crates/flux-kustomize/src/fieldspecs.txt
//	kustomize-tables fields           -> crates/flux-kustomize/src/kustomization_fields.txt
//
// smp: the strategic-merge facts kustomize uses: the OpenAPI document
// compiled into sigs.k8s.io/kustomize/kyaml (the one its patches are merged
// with), reduced to the resource types and the fields that lead to a list
// with the "merge" patch strategy. Output lines (sorted, space-separated):
//
//	R <apiVersion> <kind> <type>          a resource type and its schema
//	T <type>                              a schema; its fields follow
//	  <field> <type|-> <strategy|-> <keys|->
//
// A field named "*" stands for every key of a map (additionalProperties);
// for a list, <type> is the schema of its items; <keys> are the merge keys,
// comma-separated (x-kubernetes-list-map-keys, else x-kubernetes-patch-merge-key).
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

type field struct {
	name     string
	target   string // schema name of the value (for a list: of its items)
	strategy string
	keys     []string
	list     bool
}

type graph struct {
	root   *spec.Schema
	fields map[string][]field
	seen   map[string]bool
}

func resolve(root *spec.Schema, s spec.Schema) (spec.Schema, bool) {
	for s.Ref.String() != "" {
		r, err := openapi.Resolve(&s.Ref, root)
		if err != nil || r == nil {
			return s, false
		}
		s = *r
	}
	return s, true
}

func refName(s spec.Schema) string {
	ref := s.Ref.String()
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// visit records the fields of schema s (named name) and of everything it reaches.
func (g *graph) visit(name string, s spec.Schema) {
	if g.seen[name] {
		return
	}
	g.seen[name] = true
	var out []field
	add := func(fname string, prop spec.Schema) {
		f := field{name: fname}
		if v, ok := prop.Extensions["x-kubernetes-patch-strategy"].(string); ok {
			f.strategy = v
			if list, ok := prop.Extensions["x-kubernetes-list-map-keys"].([]interface{}); ok {
				for _, k := range list {
					f.keys = append(f.keys, fmt.Sprint(k))
				}
			} else if k, ok := prop.Extensions["x-kubernetes-patch-merge-key"].(string); ok {
				f.keys = []string{k}
			}
		}
		target := prop
		targetName := refName(prop)
		if targetName == "" {
			targetName = name + "/" + fname
		}
		resolved, ok := resolve(g.root, target)
		if !ok {
			return
		}
		if len(resolved.Type) == 1 && resolved.Type[0] == "array" && resolved.Items != nil && resolved.Items.Schema != nil {
			f.list = true
			items := *resolved.Items.Schema
			itemName := refName(items)
			if itemName == "" {
				itemName = targetName + "/[]"
			}
			if r, ok := resolve(g.root, items); ok {
				g.visit(itemName, r)
				f.target = itemName
			}
		} else {
			g.visit(targetName, resolved)
			f.target = targetName
		}
		out = append(out, f)
	}
	for fname, prop := range s.Properties {
		add(fname, prop)
	}
	if len(s.Properties) == 0 && s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		add("*", *s.AdditionalProperties.Schema)
	}
	g.fields[name] = out
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "fieldspecs" {
		if err := fieldSpecTables(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "fields" {
		kustomizationFields()
		return
	}
	if len(os.Args) != 2 || os.Args[1] != "smp" {
		fmt.Fprintln(os.Stderr, "usage: kustomize-tables smp | fields | fieldspecs KUSTOMIZE_API_MODULE_DIR")
		os.Exit(2)
	}
	root := openapi.Schema()
	g := &graph{root: root, fields: map[string][]field{}, seen: map[string]bool{}}
	var roots []string
	for name, d := range root.Definitions {
		exts, ok := d.Extensions["x-kubernetes-group-version-kind"].([]interface{})
		if !ok {
			continue
		}
		for _, e := range exts {
			m, ok := e.(map[string]interface{})
			if !ok {
				continue
			}
			group, _ := m["group"].(string)
			version, _ := m["version"].(string)
			kind, _ := m["kind"].(string)
			apiVersion := version
			if group != "" {
				apiVersion = group + "/" + version
			}
			if openapi.SchemaForResourceType(yamlTypeMeta(apiVersion, kind)) == nil {
				continue
			}
			roots = append(roots, fmt.Sprintf("R %s %s %s", apiVersion, kind, name))
			g.visit(name, d)
		}
	}
	// Keep only the schemas that reach a list with the merge strategy.
	relevant := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, fields := range g.fields {
			if relevant[name] {
				continue
			}
			for _, f := range fields {
				if strings.Contains(","+f.strategy+",", ",merge,") || relevant[f.target] {
					relevant[name] = true
					changed = true
					break
				}
			}
		}
	}
	sort.Strings(roots)
	var lines []string
	for _, r := range roots {
		parts := strings.Fields(r)
		if relevant[parts[3]] {
			lines = append(lines, r)
		}
	}
	var names []string
	for name := range relevant {
		names = append(names, name)
	}
	sort.Strings(names)
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, name := range names {
		lines = append(lines, "T "+name)
		fields := g.fields[name]
		sort.Slice(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
		for _, f := range fields {
			merge := strings.Contains(","+f.strategy+",", ",merge,")
			if !merge && !relevant[f.target] {
				continue
			}
			target := f.target
			if !relevant[target] {
				target = ""
			}
			strategy := ""
			if merge && f.list {
				strategy = "merge"
			}
			kind := "field"
			if f.list {
				kind = "list"
			}
			lines = append(lines, fmt.Sprintf("  %s %s %s %s %s", f.name, kind, dash(target), dash(strategy), dash(strings.Join(f.keys, ","))))
		}
	}
	fmt.Fprintf(os.Stdout, "# The strategic-merge schema of kustomize (sigs.k8s.io/kustomize/kyaml, its compiled-in Kubernetes OpenAPI).\n# Generated by tools/kustomize-tables; do not edit.\n%s\n", strings.Join(lines, "\n"))
}

func yamlTypeMeta(apiVersion, kind string) yaml.TypeMeta {
	return yaml.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
