// Command gotemplate-oracle executes templates with Go's own text/template
// and the Masterminds/sprig v3 function library, as Helm configures them
// (sprig's TxtFuncMap without env and expandenv). It writes the expected
// outputs of crates/flux-gotemplate's differential corpus and is the "Go"
// side of its benchmark.
//
//	gotemplate-oracle corpus FILE...   case files -> JSON lines on stdout
//	gotemplate-oracle signatures       every function's Go signature
//	gotemplate-oracle verify           checks bcrypt hashes, keys and
//	                                   certificates (JSON lines) with Go's
//	                                   crypto packages
//	gotemplate-oracle bench DIR N      parse DIR/*.tpl, execute "main.tpl" N
//	                                   times with DIR/data.json (with Helm's
//	                                   include); prints ns/op
//
// Case files: one template per line; "#" comments; "@data JSON" sets the
// data of the cases after it; "@missingkey=V", "@delims L R" and
// "@nosprig" (Go's builtins only; "@sprig" switches back) set options;
// "<<<" ... ">>>" wraps a multi-line template (joined with "\n").
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"golang.org/x/crypto/bcrypt"
)

type result struct {
	File       string          `json:"file"`
	Line       int             `json:"line"`
	Template   string          `json:"template"`
	Data       json.RawMessage `json:"data"`
	MissingKey string          `json:"missingkey,omitempty"`
	Delims     []string        `json:"delims,omitempty"`
	NoSprig    bool            `json:"nosprig,omitempty"`
	Output     *string         `json:"output,omitempty"`
	Error      *string         `json:"error,omitempty"`
}

func funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	return f
}

func run(r *result) {
	var data interface{}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		fmt.Fprintf(os.Stderr, "%s:%d: bad data: %v\n", r.File, r.Line, err)
		os.Exit(2)
	}
	t := template.New("t")
	if !r.NoSprig {
		t = t.Funcs(funcs())
	}
	if r.MissingKey != "" {
		t = t.Option("missingkey=" + r.MissingKey)
	}
	if len(r.Delims) == 2 {
		t = t.Delims(r.Delims[0], r.Delims[1])
	}
	var out bytes.Buffer
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		if t, err = t.Parse(r.Template); err != nil {
			return
		}
		err = t.Execute(&out, data)
	}()
	if err != nil {
		s := err.Error()
		r.Error = &s
		return
	}
	s := out.String()
	r.Output = &s
}

func corpus(files []string) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		data := json.RawMessage("{}")
		missing := ""
		var delims []string
		nosprig := false
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			start := i + 1
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
				continue
			case strings.HasPrefix(line, "@data "):
				data = json.RawMessage(strings.TrimPrefix(line, "@data "))
				continue
			case strings.HasPrefix(line, "@missingkey="):
				missing = strings.TrimPrefix(line, "@missingkey=")
				if missing == "default" {
					missing = ""
				}
				continue
			case line == "@nosprig" || line == "@sprig":
				nosprig = line == "@nosprig"
				continue
			case strings.HasPrefix(line, "@delims"):
				delims = strings.Fields(line)[1:]
				continue
			case line == "<<<":
				var body []string
				for i++; i < len(lines) && lines[i] != ">>>"; i++ {
					body = append(body, lines[i])
				}
				line = strings.Join(body, "\n")
			}
			r := result{File: filepath.Base(file), Line: start, Template: line, Data: data, MissingKey: missing, Delims: delims, NoSprig: nosprig}
			run(&r)
			if err := enc.Encode(&r); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
}

func bench(dir string, n int) {
	raw, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var data interface{}
	if err := json.Unmarshal(raw, &data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	start := time.Now()
	// Helm's include: execute a named template into a string.
	var t *template.Template
	f := funcs()
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	// Parse as often as we render (at most 50 times); report the mean.
	parses := n
	if parses > 50 {
		parses = 50
	}
	for i := 0; i < parses; i++ {
		t, err = template.New("main.tpl").Funcs(f).ParseGlob(filepath.Join(dir, "*.tpl"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	parse := time.Since(start) / time.Duration(parses)
	var size int
	start = time.Now()
	for i := 0; i < n; i++ {
		var out bytes.Buffer
		if err := t.ExecuteTemplate(&out, "main.tpl", data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		size = out.Len()
	}
	exec := time.Since(start)
	fmt.Printf("parse_ns %d\nexec_ns_per_op %d\noutput_bytes %d\n", parse.Nanoseconds(), exec.Nanoseconds()/int64(n), size)
	if out := os.Getenv("ORACLE_BENCH_OUTPUT"); out != "" {
		var buf bytes.Buffer
		_ = t.ExecuteTemplate(&buf, "main.tpl", data)
		_ = os.WriteFile(out, buf.Bytes(), 0o644)
	}
}

// signatures prints every function's Go signature, one per line:
// NAME<TAB>PARAMS<TAB>RESULTS ("..." marks a variadic last parameter).
func signatures() {
	f := funcs()
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := reflect.TypeOf(f[n])
		var in, out []string
		for i := 0; i < t.NumIn(); i++ {
			s := t.In(i).String()
			if t.IsVariadic() && i == t.NumIn()-1 {
				s = "..." + t.In(i).Elem().String()
			}
			in = append(in, s)
		}
		for i := 0; i < t.NumOut(); i++ {
			out = append(out, t.Out(i).String())
		}
		fmt.Printf("%s\t%s\t%s\n", n, strings.Join(in, ","), strings.Join(out, ","))
	}
}

type check struct {
	Kind     string `json:"kind"`
	Hash     string `json:"hash"`
	Password string `json:"password"`
	PEM      string `json:"pem"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
	CA       string `json:"ca"`
}

func describeKey(k interface{}) string {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("rsa %d", k.N.BitLen())
	case *ecdsa.PrivateKey:
		return "ecdsa " + k.Curve.Params().Name
	case ed25519.PrivateKey:
		return "ed25519"
	}
	return fmt.Sprintf("%T", k)
}

func parseKey(p string) (interface{}, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, fmt.Errorf("no PEM data")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("PEM type %s", block.Type)
}

func verify() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		var c check
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Println("ERR", err)
			continue
		}
		switch c.Kind {
		case "bcrypt":
			if err := bcrypt.CompareHashAndPassword([]byte(c.Hash), []byte(c.Password)); err != nil {
				fmt.Println("ERR", err)
			} else {
				fmt.Println("ok")
			}
		case "key":
			k, err := parseKey(c.PEM)
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			fmt.Println(describeKey(k))
		case "cert":
			if _, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key)); err != nil {
				fmt.Println("ERR key pair:", err)
				continue
			}
			block, _ := pem.Decode([]byte(c.Cert))
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				fmt.Println("ERR", err)
				continue
			}
			signed := "self"
			if c.CA != "" {
				cb, _ := pem.Decode([]byte(c.CA))
				ca, err := x509.ParseCertificate(cb.Bytes)
				if err != nil {
					fmt.Println("ERR ca:", err)
					continue
				}
				if err := cert.CheckSignatureFrom(ca); err != nil {
					fmt.Println("ERR signature:", err)
					continue
				}
				signed = "by " + ca.Subject.CommonName
			} else if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				fmt.Println("ERR self signature:", err)
				continue
			}
			k, _ := parseKey(c.Key)
			days := int(cert.NotAfter.Sub(cert.NotBefore).Hours()/24 + 0.5)
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			fmt.Printf("cn=%s ca=%v dns=%v ips=%v days=%d ku=%d eku=%v serialbits<=%v signed %s key %s\n",
				cert.Subject.CommonName, cert.IsCA, cert.DNSNames, ips, days, cert.KeyUsage, cert.ExtKeyUsage,
				cert.SerialNumber.BitLen() <= 128, signed, describeKey(k))
		default:
			fmt.Println("ERR unknown kind", c.Kind)
		}
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "verify" {
		verify()
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "signatures" {
		signatures()
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "corpus" {
		corpus(os.Args[2:])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "bench" {
		var n int
		fmt.Sscan(os.Args[3], &n)
		bench(os.Args[2], n)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: gotemplate-oracle corpus FILE... | bench DIR N")
	os.Exit(2)
}
