//! Lexer, parser and executor on arbitrary input: any byte string parsed
//! as a template and executed with fixed data must return a result or an
//! error. Crashes found here are copied to
//! `crates/flux-gotemplate/tests/fuzz-regressions/` (scripts/fuzz.sh).
#![no_main]

use flux_gotemplate::{Template, Value, sprig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut funcs = sprig::functions();
    for slow in [
        "genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert",
        "genSignedCertWithKey", "derivePassword", "bcrypt", "htpasswd", "getHostByName",
    ] {
        funcs.remove(slow);
    }
    let mut t = Template::new("t", funcs);
    t.max_steps = 100_000;
    t.max_output = 1 << 20;
    if t.parse("t", &text).is_ok() {
        let d = Value::from_json(&serde_json::json!({"a": "x", "n": 3, "f": 1.5, "l": [1, "b", null], "m": {"k": "v"}}));
        let _ = t.execute("t", &d);
    }
});
