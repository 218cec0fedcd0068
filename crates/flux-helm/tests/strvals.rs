//! Differential test: `--set`, `--set-string`, `--set-json` and `--set-literal` expressions
//! parsed by us and by Helm's own `pkg/strvals` (`tools/helm-oracle`,
//! built by `scripts/install-deps.sh`); the typed results (int64 vs
//! float64 vs string) and the error messages must be identical.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use flux_gotemplate::Value;
use flux_helm::strvals::{self, Mode};

/// The oracle's canonical typed form.
fn canon(v: &Value) -> String {
    match v {
        Value::Missing | Value::Nil => "nil".into(),
        Value::Bool(b) => format!("bool({b})"),
        Value::Int64(i) => format!("int64({i})"),
        Value::Int(i) => format!("int({i})"),
        Value::Float(f) => format!(
            "float64({})",
            flux_gotemplate::gofmt::sprintf("%v", &[Value::Float(*f)])
        ),
        Value::Str(s) => flux_gotemplate::gofmt::quote(s),
        Value::List(l) => format!(
            "[{}]",
            l.items.iter().map(canon).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.borrow()
                .entries
                .iter()
                .map(|(k, v)| format!("{}: {}", flux_gotemplate::gofmt::quote(k), canon(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{}({other})", other.type_name()),
    }
}

const SET: &[&[&str]] = &[
    &["name=value"],
    &["a=1,b=2"],
    &["a=true,b=false,c=TRUE,d=False,e=null,f=NULL,g=Null"],
    &[
        "a=0,b=00,c=01,d=-1,e=+5,f=1.0,g=1e3,h=0x10,i=9223372036854775807,j=9223372036854775808,k=-0",
    ],
    &["a="],
    &["a=,b=c"],
    &["a=b=c"],
    &["a.b.c=d"],
    &["a.b=1,a.c=2"],
    &["a.b=1", "a.c=2", "a.b=3"],
    &["list={a,b,c}"],
    &["list={}"],
    &["list={a}"],
    &["list={1,true,null,x}"],
    &["list={a,b"],
    &["list={a,b},x=y"],
    &["a[0]=x"],
    &["a[2]=x"],
    &["a[0]=x,a[1]=y"],
    &["a[0]=x", "a[3]=z"],
    &["a[0].b=1,a[0].c=2"],
    &["a[0][1]=x"],
    &["a[0][0][0]=deep"],
    &["a[1].b.c=d"],
    &["a[0]={x,y}"],
    &["a[0]="],
    &["a[-1]=x"],
    &["a[x]=1"],
    &["a[1"],
    &["a[1]x=2"],
    &["a[65536]=x"],
    &["a[65537]=x"],
    &["a[0]"],
    &["a"],
    &["a,b=c"],
    &["a."],
    &["a.=x"],
    &[".a=x"],
    &["=x"],
    &["a..b=x"],
    &["a=b", "a.c=d"],
    &["a.c=d", "a=b"],
    &["a=b", "a[0]=c"],
    &["a[0]=c", "a.b=d"],
    &["a[0]=c", "a[0].b=d"],
    &["a[0].b=d", "a[0][0]=e"],
    &["esc\\.aped=1"],
    &["a=with\\,comma"],
    &["a=back\\\\slash"],
    &["a=x\\"],
    &["a\\=b=c"],
    &["a=spaces are kept"],
    &["  a  =  b  "],
    &["a=\"quoted\""],
    &["a='single'"],
    &["a=é,ü=ß"],
    &["a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a1.b1.c1.d1=deep"],
    &["a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a1.b1.c1.d1.e1=deep"],
    &["image.tag=1.2.3,image.repository=nginx,replicaCount=3"],
    &["ingress.hosts[0].host=a.example.com,ingress.hosts[0].paths[0]=/"],
    &["env[0].name=A,env[0].value=1,env[1].name=B,env[1].value=x"],
    &["a=1,", "b=2"],
    &["a=1,,b=2"],
    &[",a=1"],
    &["a=1", ""],
    &[""],
    &["nodeSelector.kubernetes\\.io/os=linux"],
    &["a={b,c}", "a[0]=z"],
    &["a[0]=z", "a={b,c}"],
    &["a.b={1,2}", "a.b[1]=3"],
];

fn run_oracle(lines: &[String]) -> Vec<String> {
    flux_testenv::oracle_lines("helm-oracle", &["strvals"], lines).expect("helm-oracle strvals")
}

fn ours(mode: Mode, exprs: &[&str]) -> String {
    let mut m = Default::default();
    for e in exprs {
        if let Err(e) = strvals::parse_into(e, &mut m, mode) {
            return format!("ERR {e}");
        }
    }
    canon(&Value::dict(m))
}

#[test]
fn strvals_match_helm() {
    let mut cases: Vec<(Mode, &str, Vec<&str>)> = Vec::new();
    for exprs in SET {
        cases.push((Mode::Typed, "set", exprs.to_vec()));
        cases.push((Mode::String, "set-string", exprs.to_vec()));
        cases.push((Mode::Literal, "set-literal", exprs.to_vec()));
    }
    for exprs in [
        &["a=x,y=z"][..],
        &["a.b=c\\d,e"],
        &["a[0]=1,2", "a[2]=three"],
        &["a[0].b=x=y"],
        &["a[0][1]=z"],
        &["a.b.c"],
        &["a=1", "a.b=2"],
        &["a[0]=1", "a.b=2"],
        &["a[x]=1"],
        &["a[0]y=1"],
        &["a[-1]=1"],
        &["a[0]"],
        &["a=", "b=\n"],
    ] {
        cases.push((Mode::Literal, "set-literal", exprs.to_vec()));
    }
    for exprs in [
        &["a={\"x\":[1,2,{\"y\":null}]}"][..],
        &["a=1,b=\"s\""],
        &["a=[1, 2.5, true]"],
        &["a="],
        &["a=,b=2"],
        &["a[0]={\"k\":1}"],
        &["a.b=1e3"],
        &["a=  {\"spaced\": 1}  ,b=2"],
        &["a=not json"],
        &["a={\"x\":"],
        &["a=1 2"],
        &["a=\"\\u00e9\""],
        &["a=null"],
        &["a[1]=2"],
        &["a.b.c=true"],
        &["a=tru"],
        &["a=1e"],
        &["a=[1,"],
        &["a={\"a\" 1}"],
        &["a=[1 2]"],
        &["a=\"x\\q\""],
        &["a=-"],
        &["a={}x"],
    ] {
        cases.push((Mode::Json, "set-json", exprs.to_vec()));
    }
    let requests: Vec<String> = cases
        .iter()
        .map(|(_, m, e)| serde_json::json!({"mode": m, "exprs": e}).to_string())
        .collect();
    let go = run_oracle(&requests);
    assert_eq!(go.len(), cases.len());
    let mut diffs = Vec::new();
    for ((mode, name, exprs), want) in cases.iter().zip(&go) {
        let got = ours(*mode, exprs);
        if &got != want {
            diffs.push(format!(
                "--{name} {exprs:?}\n    helm: {want}\n    ours: {got}"
            ));
        }
    }
    let total = cases.len();
    println!("strvals: {}/{total} identical to Helm", total - diffs.len());
    for d in &diffs {
        println!("{d}");
    }
    assert!(
        diffs.is_empty(),
        "{} of {total} differ from Helm",
        diffs.len()
    );
}

#[test]
fn set_file_reads_values_through_the_reader() {
    let mut m = Default::default();
    let reader = |name: &str| -> Result<Value, String> {
        match name {
            "cert.pem" => Ok(Value::str("-----BEGIN-----\n")),
            other => Err(format!("open {other}: no such file or directory")),
        }
    };
    strvals::parse_file_into("tls.cert=cert.pem", &mut m, &reader).unwrap();
    assert_eq!(
        canon(&Value::dict(m.clone())),
        r#"{"tls": {"cert": "-----BEGIN-----\n"}}"#
    );
    let e = strvals::parse_file_into("tls.key=missing.pem", &mut m, &reader).unwrap_err();
    assert_eq!(e.0, "open missing.pem: no such file or directory");
}
