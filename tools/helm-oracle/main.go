// Command helm-oracle answers with Helm's own packages (helm.sh/helm/v3,
// the version tools/versions.env pins) for the differential tests of
// crates/flux-helm.
//
//	helm-oracle ignore    JSON lines {"rules": TEXT, "defaults": BOOL,
//	                      "paths": [[PATH, ISDIR], ...]} on stdin; prints
//	                      whether .helmignore ignores each path ("ERR …"
//	                      when the rules do not parse)
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
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/ignore"
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

type fakeInfo struct {
	name string
	dir  bool
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return 0 }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() interface{}   { return nil }

type ignoreRequest struct {
	Rules    string          `json:"rules"`
	Defaults bool            `json:"defaults"`
	Paths    [][]interface{} `json:"paths"`
}

func ignoreCmd() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var r ignoreRequest
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			fmt.Fprintln(out, "ERR bad request:", err)
			continue
		}
		rules, err := ignore.Parse(strings.NewReader(r.Rules))
		if err != nil {
			fmt.Fprintln(out, "ERR", err)
			continue
		}
		if r.Defaults {
			rules.AddDefaults()
		}
		answers := make([]string, len(r.Paths))
		for i, p := range r.Paths {
			path, _ := p[0].(string)
			dir, _ := p[1].(bool)
			answers[i] = strconv.FormatBool(rules.Ignore(path, fakeInfo{name: path, dir: dir}))
		}
		fmt.Fprintln(out, strings.Join(answers, " "))
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "ignore" {
		ignoreCmd()
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "strvals" {
		strvalsCmd()
		return
	}
	fmt.Fprintln(os.Stderr, "usage: helm-oracle strvals|ignore")
	os.Exit(2)
}
