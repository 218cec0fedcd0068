//! The public API as the Helm layer uses it: host objects with fields and
//! methods, functions that call back into the engine (`include`, `tpl`),
//! limits, and hostile input (no panic, no stack overflow).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use flux_gotemplate::{Func, Object, Template, Value, sprig};

#[derive(Debug)]
struct Files(BTreeMap<String, String>);

impl Object for Files {
    fn type_name(&self) -> String {
        "chart.Files".into()
    }
    fn method(&self, name: &str) -> Option<Func> {
        let files = self.0.clone();
        match name {
            "Get" => Some(Func::new("string", "string", move |_, a| {
                Ok(Value::str(
                    files
                        .get(a[0].as_str().unwrap_or(""))
                        .map_or("", String::as_str),
                ))
            })),
            "Glob" => Some(Func::new("string", "[]string", move |_, a| {
                let p = a[0]
                    .as_str()
                    .unwrap_or("")
                    .trim_end_matches('*')
                    .to_string();
                Ok(Value::list(
                    flux_gotemplate::ListTy::Str,
                    files
                        .keys()
                        .filter(|k| k.starts_with(&p))
                        .map(|k| Value::str(k))
                        .collect(),
                ))
            })),
            _ => None,
        }
    }
    fn display(&self) -> String {
        "map[...]".into()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[derive(Debug)]
struct Capabilities;

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*chartutil.Capabilities".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "APIVersions" => Some(Value::Object(Rc::new(ApiVersions))),
            "KubeVersion" => Some(Value::dict(
                [
                    ("Version".to_string(), Value::str("v1.36.3")),
                    ("Major".to_string(), Value::str("1")),
                ]
                .into(),
            )),
            _ => None,
        }
    }
    fn display(&self) -> String {
        "&{...}".into()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[derive(Debug)]
struct ApiVersions;

impl Object for ApiVersions {
    fn type_name(&self) -> String {
        "chartutil.VersionSet".into()
    }
    fn method(&self, name: &str) -> Option<Func> {
        (name == "Has").then(|| {
            Func::new("string", "bool", |_, a| {
                Ok(Value::Bool(matches!(a[0].as_str(), Some("apps/v1" | "v1"))))
            })
        })
    }
    fn display(&self) -> String {
        "[apps/v1 v1]".into()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A Helm-like function map: sprig plus `include` and `tpl`, which call
/// back into the running template set.
fn helm_funcs() -> HashMap<String, Func> {
    let mut f = sprig::functions();
    f.insert(
        "include".into(),
        Func::new("string,interface {}", "string,error", |ctx, a| {
            ctx.execute(a[0].as_str().unwrap_or(""), &a[1])
                .map(Value::string)
                .map_err(|e| e.to_string())
        }),
    );
    f.insert(
        "tpl".into(),
        Func::new("string,interface {}", "string,error", |ctx, a| {
            ctx.execute_text("tpl", a[0].as_str().unwrap_or(""), &a[1])
                .map(Value::string)
                .map_err(|e| e.to_string())
        }),
    );
    f
}

fn data() -> Value {
    let files = Files(
        [
            ("config/a.yaml".to_string(), "a: 1".to_string()),
            ("config/b.yaml".to_string(), "b: 2".to_string()),
        ]
        .into(),
    );
    let mut m = BTreeMap::new();
    m.insert("Files".into(), Value::Object(Rc::new(files)));
    m.insert("Capabilities".into(), Value::Object(Rc::new(Capabilities)));
    m.insert(
        "Values".into(),
        Value::from_json(
            &serde_json::json!({"name": "web", "greeting": "hello {{ .Values.name }}", "n": 3}),
        ),
    );
    Value::dict(m)
}

#[test]
fn host_objects_fields_and_methods() {
    let mut t = Template::new("t", helm_funcs());
    t.parse("t", r#"{{ .Files.Get "config/a.yaml" }}|{{ .Files.Get "none" | quote }}|{{ range .Files.Glob "config/*" }}{{ . }};{{ end }}|{{ .Capabilities.APIVersions.Has "apps/v1" }}|{{ .Capabilities.APIVersions.Has "x/v9" }}|{{ .Capabilities.KubeVersion.Version }}|{{ if .Capabilities.APIVersions.Has "v1" }}yes{{ end }}"#).unwrap();
    assert_eq!(
        t.execute("t", &data()).unwrap(),
        r#"a: 1|""|config/a.yaml;config/b.yaml;|true|false|v1.36.3|yes"#
    );
    // Method argument errors read as Go's.
    t.parse("bad", r#"{{ .Files.Get 1 }}"#).unwrap();
    assert_eq!(
        t.execute("bad", &data()).unwrap_err().0,
        r#"template: bad:1:14: executing "bad" at <1>: expected string; found 1"#
    );
    t.parse("bad2", r#"{{ .Capabilities.Nope }}"#).unwrap();
    assert_eq!(
        t.execute("bad2", &data()).unwrap_err().0,
        r#"template: bad2:1:16: executing "bad2" at <.Capabilities.Nope>: can't evaluate field Nope in type interface {}"#
    );
}

#[test]
fn include_and_tpl_call_back_into_the_engine() {
    let mut t = Template::new("chart", helm_funcs());
    t.parse("_helpers.tpl", r#"{{- define "name" -}}{{ .Values.name | upper }}{{- end -}}{{- define "labels" -}}app: {{ include "name" . }}{{- end -}}"#).unwrap();
    t.parse("deploy.yaml", "metadata:\n  labels:\n{{ include \"labels\" . | indent 4 }}\n  greeting: {{ tpl .Values.greeting . }}\n").unwrap();
    let out = t.execute("deploy.yaml", &data()).unwrap();
    assert_eq!(
        out,
        "metadata:\n  labels:\n    app: WEB\n  greeting: hello web\n"
    );
    // The set is parsed once and executed many times with other data.
    let other = Value::from_json(
        &serde_json::json!({"Values": {"name": "api", "greeting": "{{ .Values.name }}!"}}),
    );
    assert_eq!(
        t.execute("deploy.yaml", &other).unwrap(),
        "metadata:\n  labels:\n    app: API\n  greeting: api!\n"
    );
    // A tpl error names the tpl template.
    let bad = Value::from_json(
        &serde_json::json!({"Values": {"name": "x", "greeting": "{{ .Values.name | nosuch }}"}}),
    );
    let e = t.execute("deploy.yaml", &bad).unwrap_err().0;
    assert!(
        e.contains(r#"error calling tpl: template: tpl:1: function "nosuch" not defined"#),
        "{e}"
    );
}

#[test]
fn runaway_recursion_ends_with_an_error() {
    let mut t = Template::new("t", helm_funcs());
    t.parse(
        "t",
        r#"{{ define "loop" }}{{ include "loop" . }}{{ end }}{{ include "loop" . }}"#,
    )
    .unwrap();
    let e = t.execute("t", &Value::Missing).unwrap_err().0;
    assert!(e.contains("exceeded maximum template depth"), "{e}");
    let mut t = Template::new("t", HashMap::new());
    t.parse(
        "t",
        r#"{{ define "T" }}{{ template "T" . }}{{ end }}{{ template "T" 1 }}"#,
    )
    .unwrap();
    let e = t.execute("t", &Value::Missing).unwrap_err().0;
    assert!(
        e.contains(r#"executing "T" at <{{template "T" .}}>: exceeded maximum template depth"#),
        "{e}"
    );
    // tpl re-parsing itself recursively.
    let e = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut t = Template::new("t", helm_funcs());
            t.parse(
                "t",
                r#"{{ tpl "{{ tpl .s . }}" (dict "s" "{{ tpl .s . }}") }}"#,
            )
            .unwrap();
            t.execute("t", &Value::Missing).unwrap_err().0
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(e.contains("exceeded maximum template depth"), "{e}");
}

#[test]
fn output_is_limited() {
    let mut t = Template::new("t", sprig::functions());
    t.max_output = 1000;
    t.parse("t", r#"{{ range until 100 }}{{ repeat 100 "x" }}{{ end }}"#)
        .unwrap();
    let e = t.execute("t", &Value::Missing).unwrap_err().0;
    assert!(
        e.contains("template output exceeds the limit of 1000 bytes"),
        "{e}"
    );
}

#[test]
fn functions_are_extensible_and_override() {
    let mut f = sprig::functions();
    f.insert(
        "shout".into(),
        Func::new("string", "string", |_, a| {
            Ok(Value::string(format!("{}!", a[0].as_str().unwrap_or(""))))
        }),
    );
    f.insert(
        "len".into(),
        Func::new("interface {}", "int", |_, _| Ok(Value::Int(42))),
    );
    let mut t = Template::new("t", f);
    t.parse("t", r#"{{ "hi" | shout }} {{ len "abc" }}"#)
        .unwrap();
    assert_eq!(t.execute("t", &Value::Missing).unwrap(), "hi! 42");
}

/// Deeply nested input must end with an error, never a crash, on a 2 MiB
/// thread (the size of test and tokio worker threads).
#[test]
fn hostile_nesting_is_refused() {
    let cases = [
        format!("{{{{ {}1{} }}}}", "(".repeat(20_000), ")".repeat(20_000)),
        format!(
            "{}x{}",
            "{{ if true }}".repeat(5_000),
            "{{ end }}".repeat(5_000)
        ),
        format!(
            "{}x{}",
            "{{ range until 1 }}".repeat(5_000),
            "{{ end }}".repeat(5_000)
        ),
        format!("{{{{ {} }}}}", "print (".repeat(5_000) + &")".repeat(5_000)),
    ];
    for (i, text) in cases.into_iter().enumerate() {
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let mut t = Template::new("t", sprig::functions());
                match t.parse("t", &text) {
                    Err(e) => Err(e.0),
                    Ok(()) => t.execute("t", &Value::Missing).map_err(|e| e.0),
                }
            })
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("case {i} panicked"));
        println!(
            "case {i}: {:?}",
            r.as_ref()
                .map(|s| s.len())
                .map_err(|e| e.chars().take(120).collect::<String>())
        );
    }
}

#[test]
fn execution_steps_are_limited() {
    let mut t = Template::new("t", sprig::functions());
    t.max_steps = 10_000;
    t.parse(
        "t",
        r#"{{ range 1000000000 }}{{ range until 1000 }}{{ end }}{{ end }}"#,
    )
    .unwrap();
    let e = t.execute("t", &Value::Missing).unwrap_err().0;
    assert!(
        e.ends_with("template execution exceeds the limit of 10000 steps"),
        "{e}"
    );
    // The budget is per execution, not per template set.
    t.parse("small", r#"{{ range until 10 }}{{ . }}{{ end }}"#)
        .unwrap();
    for _ in 0..3 {
        assert_eq!(t.execute("small", &Value::Missing).unwrap(), "0123456789");
    }
}

#[test]
fn call_invokes_host_functions() {
    let f = Func::new("string,int", "string", |_, a| {
        Ok(Value::string(
            a[0].as_str().unwrap_or("").repeat(
                usize::try_from(match a[1] {
                    Value::Int(n) => n,
                    _ => 0,
                })
                .unwrap_or(0),
            ),
        ))
    });
    let data = Value::dict([("fn".to_string(), Value::Func(f))].into());
    let mut t = Template::new("t", HashMap::new());
    for (text, want) in [
        (r#"{{ call .fn "ab" 3 }}"#, Ok("ababab")),
        (
            r#"{{ call .fn "ab" }}"#,
            Err(
                r#"template: t:1:3: executing "t" at <call .fn "ab">: error calling call: wrong number of args for .fn: got 1 want 2"#,
            ),
        ),
        (
            r#"{{ call .fn 1 2 }}"#,
            Err(
                r#"template: t:1:3: executing "t" at <call .fn 1 2>: error calling call: arg 0: value has type int; should be string"#,
            ),
        ),
        (
            r#"{{ call .nothing }}"#,
            Err(
                r#"template: t:1:3: executing "t" at <call .nothing>: error calling call: call of nil"#,
            ),
        ),
    ] {
        t.parse("t", text).unwrap();
        let got = t.execute("t", &data).map_err(|e| e.0);
        assert_eq!(got.as_deref().map_err(String::as_str), want, "{text}");
    }
}

#[test]
fn hermetic_functions_leave_out_clock_randomness_and_network() {
    let h = sprig::hermetic_functions();
    let all = sprig::functions();
    assert_eq!(all.len() - h.len(), sprig::NON_HERMETIC.len());
    for name in ["now", "date", "uuidv4", "randAlphaNum", "getHostByName"] {
        assert!(!h.contains_key(name), "{name}");
    }
    let mut t = Template::new("t", h);
    assert_eq!(
        t.parse("t", "{{ now }}").unwrap_err().0,
        r#"template: t:1: function "now" not defined"#
    );
    t.parse("t", r#"{{ "x" | upper }} {{ sha256sum "a" | trunc 8 }}"#)
        .unwrap();
    assert_eq!(t.execute("t", &Value::Missing).unwrap(), "X ca978112");
}
