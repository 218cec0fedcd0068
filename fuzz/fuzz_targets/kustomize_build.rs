//! A tree of files from the input (`\0`-separated: the kustomization,
//! then resources `r0.yaml`…, patches `p0.yaml`… named in it), built in
//! memory: errors are fine, panics are not.
#![no_main]

use std::path::Path;

use flux_kustomize::{MemFs, Options, build};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fs = MemFs::default();
    for (i, part) in data.split(|b| *b == 0).take(8).enumerate() {
        let name = match i {
            0 => "kustomization.yaml".to_string(),
            1 => "base/kustomization.yaml".to_string(),
            n => format!("r{}.yaml", n - 2),
        };
        fs.add(Path::new("/t").join(name), part.to_vec());
    }
    fs.add("/t/base/r.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n".to_vec());
    if let Ok(map) = build(&fs, Path::new("/t"), &Options::default()) {
        let _ = map.to_yaml();
    }
});
