//! HelmRelease values composed here and by upstream's own package
//! (`fluxcd/pkg/chartutil` `ChartValuesFromReferences` + `DigestValues`,
//! built as `tools/helmrelease-oracle` by `scripts/install-deps.sh`, over
//! controller-runtime's fake client) on generated cases: inline values,
//! ConfigMap and Secret references with and without `targetPath`,
//! `literal`, `optional`, missing objects and keys, quoted and unreadable
//! data. The composed values, their digest and every error message must
//! be the same.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use flux_helm_controller::values::{Fetched, compose, digest};
use serde_json::{Value as Json, json};

use flux_testenv::Rng;

const KEYS: [&str; 8] = ["a", "b", "c", "a10", "a9", "image", "tag", "B"];

fn scalar(rng: &mut Rng) -> Json {
    match rng.below(7) {
        0 => json!(rng.below(2000) as i64 - 1000),
        1 => json!(rng.below(100) as f64 / 8.0),
        2 => json!(rng.chance(50)),
        3 => Json::Null,
        4 => json!(1_000_000),
        _ => json!(*rng.pick(&["x", "y", "1.2.3", "true", "", "a b", "0x1F"])),
    }
}

fn tree(rng: &mut Rng, depth: usize) -> Json {
    if depth == 0 || rng.chance(35) {
        return scalar(rng);
    }
    if rng.chance(15) {
        let n = rng.below(3);
        return Json::Array((0..n).map(|_| tree(rng, depth - 1)).collect());
    }
    let mut m = serde_json::Map::new();
    for _ in 0..rng.below(4) {
        m.insert(rng.pick(&KEYS).to_string(), tree(rng, depth - 1));
    }
    Json::Object(m)
}

fn values_map(rng: &mut Rng) -> serde_json::Map<String, Json> {
    match tree(rng, 4) {
        Json::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn yaml(j: &Json) -> flux_yaml::Value {
    use flux_yaml::Value as Y;
    match j {
        Json::Null => Y::Null,
        Json::Bool(b) => Y::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Y::Int(i),
            None => Y::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Y::String(s.clone()),
        Json::Array(a) => Y::Seq(a.iter().map(yaml).collect()),
        Json::Object(m) => Y::Map(m.iter().map(|(k, v)| (k.clone(), yaml(v))).collect()),
    }
}

/// What a ConfigMap or Secret key holds.
fn data(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => flux_yaml::emit(&yaml(&Json::Object(values_map(rng)))),
        4 => rng
            .pick(&[
                "x",
                "'quoted'",
                "\"dq\"",
                "a,b=c",
                "[1,2]",
                "{x}",
                "'",
                "back\\slash",
                "1",
                "true",
                "null",
                "v1.2",
                "é",
            ])
            .to_string(),
        5 => rng
            .pick(&[
                "a: [unclosed",
                "a: 1\nb: 'x",
                "a: 'x\nb: y\n",
                "\n\n'",
                // (Tabs are left out: go-yaml v2 refuses some that the
                // YAML reader here accepts — docs/helm-controller.md.)
                "a: {b: 1",
                "a: 1\n  b: 2\n",
            ])
            .to_string(),
        6 => "- a list".to_string(),
        7 => String::new(),
        _ => format!("{}: {}", rng.pick(&KEYS), rng.below(10)),
    }
}

fn case(rng: &mut Rng) -> (Json, Vec<flux_api::helm::v2::ValuesReference>) {
    let mut objects = Vec::new();
    let names = ["one", "two", "three"];
    for name in names {
        if rng.chance(80) {
            let mut d = serde_json::Map::new();
            for key in ["values.yaml", "extra", "v"] {
                if rng.chance(70) {
                    d.insert(key.to_string(), json!(data(rng)));
                }
            }
            let kind = if rng.chance(50) {
                "ConfigMap"
            } else {
                "Secret"
            };
            objects.push(json!({"kind": kind, "name": name, "data": d}));
        }
    }
    let mut refs = Vec::new();
    for _ in 0..rng.below(5) {
        let mut r = serde_json::Map::new();
        r.insert(
            "kind".into(),
            json!(if rng.chance(50) {
                "ConfigMap"
            } else {
                "Secret"
            }),
        );
        r.insert("name".into(), json!(rng.pick(&names)));
        if rng.chance(50) {
            r.insert(
                "valuesKey".into(),
                json!(rng.pick(&["values.yaml", "extra", "v", "missing"])),
            );
        }
        if rng.chance(45) {
            r.insert(
                "targetPath".into(),
                json!(rng.pick(&[
                    "a",
                    "a.b",
                    "a.b.c",
                    "b.c",
                    "image.tag",
                    "a10",
                    "c.a9",
                    "list[0]",
                    "a.list[1]"
                ])),
            );
            if rng.chance(30) {
                r.insert("literal".into(), json!(true));
            }
        }
        if rng.chance(30) {
            r.insert("optional".into(), json!(true));
        }
        refs.push(Json::Object(r));
    }
    let values = if rng.chance(80) {
        Json::Object(values_map(rng))
    } else {
        Json::Null
    };
    let request = json!({"namespace": "apps", "values": values, "refs": refs, "objects": objects});
    let refs = serde_json::from_value(Json::Array(refs)).unwrap();
    (request, refs)
}

/// 3,000 cases (`VALUES_ORACLE_CASES` for more).
#[test]
fn values_compose_as_upstream_composes_them() {
    let mut rng = Rng::new(20_261_207);
    let count: usize = std::env::var("VALUES_ORACLE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let cases: Vec<_> = (0..count).map(|_| case(&mut rng)).collect();
    let lines: Vec<String> = cases.iter().map(|(r, _)| r.to_string()).collect();
    let answers = flux_testenv::oracle_lines("helmrelease-oracle", &[], &lines)
        .expect("run scripts/install-deps.sh (tools/helmrelease-oracle)");
    assert_eq!(answers.len(), cases.len());
    let mut differences = Vec::new();
    let mut errors = 0;
    for ((request, refs), answer) in cases.iter().zip(&answers) {
        let answer: Json = serde_json::from_str(answer).unwrap();
        let objects: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> = request["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let data = o["data"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().as_bytes().to_vec()))
                    .collect();
                (
                    (
                        o["kind"].as_str().unwrap().to_string(),
                        o["name"].as_str().unwrap().to_string(),
                    ),
                    data,
                )
            })
            .collect();
        let mut fetch =
            |kind: &str, name: &str| match objects.get(&(kind.to_string(), name.to_string())) {
                Some(data) => Fetched::Found(data.clone()),
                None => Fetched::NotFound(format!("{}s \"{name}\" not found", kind.to_lowercase())),
            };
        let ours = compose("apps", request["values"].as_object(), refs, &mut fetch);
        let same = match (&ours, answer.get("error").and_then(Json::as_str)) {
            (Err(a), Some(b)) => {
                errors += 1;
                a == b
            }
            (Ok(values), None) => {
                let theirs = answer.get("values").cloned().unwrap_or(json!({}));
                // Go's JSON of the values: numbers compared by value.
                let ours_json: Json =
                    serde_json::from_str(&Json::Object(values.clone()).to_string()).unwrap();
                numbers_equal(&ours_json, &theirs)
                    && digest(values) == answer["digest"].as_str().unwrap_or_default()
            }
            _ => false,
        };
        if !same {
            differences.push(format!("{request}\n  ours:   {ours:?}\n  theirs: {answer}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ ({} errors compared); first:\n{}",
        differences.len(),
        cases.len(),
        errors,
        differences
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The generator reaches both outcomes.
    assert!(
        errors > count / 30 && errors < count - count / 30,
        "{errors} errors in {count} cases"
    );
}

fn numbers_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| numbers_equal(v, w)))
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| numbers_equal(v, w))
        }
        _ => a == b,
    }
}
