//! Any text: parsing, the JSON round trip and emitting must not panic, and
//! what we emit must parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = flux_yaml::parse(text) else {
        return;
    };
    for doc in docs {
        if let Ok(value) = doc.json_round_trip() {
            let out = flux_yaml::emit(&value);
            assert!(
                flux_yaml::parse(&out).is_ok(),
                "emitted YAML does not parse:\n{out}"
            );
        }
    }
});
