//! Properties over the corpus inputs: what we emit reads back as the same
//! value, and no mutation of an input makes the parser or the emitter
//! panic (a deterministic stand-in for fuzzing; crashes found here become
//! corpus cases).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

fn inputs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    cases.sort();
    cases
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p.join("input.yaml")).unwrap(),
            )
        })
        .collect()
}

/// The value with every mapping's keys sorted (mappings are unordered).
fn canonical(value: &flux_yaml::Value) -> flux_yaml::Value {
    use flux_yaml::Value;
    match value {
        Value::Map(entries) => {
            let mut entries: Vec<_> = entries
                .iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Map(entries)
        }
        Value::Seq(items) => Value::Seq(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[test]
fn emitted_yaml_reads_back_as_the_same_value() {
    let mut checked = 0;
    for (name, input) in inputs() {
        let Ok(docs) = flux_yaml::parse(&input) else {
            continue;
        };
        for doc in docs {
            let Ok(value) = doc.json_round_trip() else {
                continue;
            };
            let text = flux_yaml::emit(&value);
            // U+2028/U+2029 are line breaks to go-yaml (YAML 1.1) but content
            // to our YAML 1.2 parser: the emitter's folding of them (identical
            // to kustomize's, see the corpus) does not read back the same here.
            if text.contains(['\u{2028}', '\u{2029}']) {
                continue;
            }
            let back = flux_yaml::parse(&text)
                .unwrap_or_else(|e| panic!("{name}: our output does not parse: {e}\n{text}"));
            assert_eq!(back.len(), 1, "{name}: {text}");
            let back = back[0].json_round_trip().unwrap();
            assert_eq!(
                canonical(&back),
                canonical(&value),
                "{name}: value changed through\n{text}"
            );
            // Emitting is a fixed point.
            assert_eq!(flux_yaml::emit(&back), text, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 90, "only {checked} documents checked");
}

#[test]
fn mutated_inputs_never_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b" \n\t:-?[]{},#&*!|>'\"%@`0123456789.~<=abyn\\";
    let inputs = inputs();
    for round in 0..4000 {
        let (_, input) = &inputs[(next() as usize) % inputs.len()];
        let mut bytes = input.as_bytes().to_vec();
        for _ in 0..(1 + next() % 4) {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let result = std::panic::catch_unwind(|| {
            if let Ok(docs) = flux_yaml::parse(&text) {
                for doc in docs {
                    if let Ok(v) = doc.json_round_trip() {
                        let _ = flux_yaml::parse(&flux_yaml::emit(&v));
                    }
                }
            }
        });
        assert!(result.is_ok(), "round {round}: panic on input:\n{text}");
    }
}
