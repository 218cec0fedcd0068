// Command helm-oracle answers with Helm's own packages (helm.sh/helm/v3,
// the version tools/versions.env pins) for the differential tests of
// crates/flux-helm.
//
//	helm-oracle strvals   JSON lines {"mode": "set|set-string|set-json|
//	                      set-literal", "exprs": [...]} on stdin; prints
//	                      the values each line produces (or "ERR …"), in
//	                      the canonical typed form below.
//
// Canonical form: nil, bool(true), int64(5), float64(1.5), "string" (Go
// quoted), [a, b], {"k": v} with sorted keys.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/strvals"
)

func canon(v interface{}) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case bool:
		return fmt.Sprintf("bool(%v)", v)
	case int64:
		return fmt.Sprintf("int64(%d)", v)
	case int:
		return fmt.Sprintf("int(%d)", v)
	case float64:
		return "float64(" + strconv.FormatFloat(v, 'g', -1, 64) + ")"
	case string:
		return strconv.Quote(v)
	case []interface{}:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = canon(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]interface{}:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ": " + canon(v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

type request struct {
	Mode  string   `json:"mode"`
	Exprs []string `json:"exprs"`
}

func strvalsCmd() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var r request
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			fmt.Fprintln(out, "ERR bad request:", err)
			continue
		}
		vals := map[string]interface{}{}
		var err error
		for _, e := range r.Exprs {
			switch r.Mode {
			case "set":
				err = strvals.ParseInto(e, vals)
			case "set-string":
				err = strvals.ParseIntoString(e, vals)
			case "set-json":
				err = strvals.ParseJSON(e, vals)
			case "set-literal":
				err = strvals.ParseLiteralInto(e, vals)
			default:
				err = fmt.Errorf("unknown mode %q", r.Mode)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			fmt.Fprintln(out, "ERR", err)
			continue
		}
		fmt.Fprintln(out, canon(vals))
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "strvals" {
		strvalsCmd()
		return
	}
	fmt.Fprintln(os.Stderr, "usage: helm-oracle strvals")
	os.Exit(2)
}
