//! Differential file edits: upstream's own setter engine
//! (image-automation-controller v1.2.4's `internal/update`, built by
//! `scripts/install-upstream-image-controllers.sh` as `image-setters`) and
//! ours update copies of the same tree with the same policies.
//!
//! - The same files change, with the same changes (file, object, old and
//!   new value, setter).
//! - Each changed file decodes to the same documents from upstream's
//!   output and from ours (the marker-bearing values agree, and nothing
//!   else changed meaning).
//! - Ours differs from the input only on the lines of the changed
//!   scalars; where upstream's bytes differ from ours, upstream
//!   reformatted the file: those files are listed (printed) and must be
//!   the ones expected below.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use flux_image_controller::setters::PolicyRef;
use flux_image_controller::update;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/setters")
}

fn policies() -> Vec<PolicyRef> {
    let raw = std::fs::read(corpus().join("policies.json")).unwrap();
    let list: Vec<BTreeMap<String, String>> = serde_json::from_slice(&raw).unwrap();
    list.into_iter()
        .map(|p| PolicyRef {
            namespace: p["namespace"].clone(),
            name: p["name"].clone(),
            image: p["image"].clone(),
            tag: p["tag"].clone(),
            digest: p["digest"].clone(),
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files_under(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            files_under(&entry.path(), root, out);
        } else {
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            out.insert(rel, std::fs::read(entry.path()).unwrap());
        }
    }
}

/// (file, kind, name, old, new, setter), sorted.
type Changes = Vec<(String, String, String, String, String, String)>;

fn upstream(input: &Path) -> (BTreeMap<String, Vec<u8>>, Changes) {
    let tool =
        flux_testenv::tool("image-setters").expect("image-setters (run scripts/install-deps.sh)");
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(tool)
        .arg(input)
        .arg(out.path())
        .arg(corpus().join("policies.json"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let list: Vec<BTreeMap<String, String>> = serde_json::from_slice(&run.stdout).unwrap();
    let mut changes: Changes = list
        .into_iter()
        .map(|c| {
            (
                c["file"].clone(),
                c["kind"].clone(),
                c["name"].clone(),
                c["old"].clone(),
                c["new"].clone(),
                c["setter"].clone(),
            )
        })
        .collect();
    changes.sort();
    let mut files = BTreeMap::new();
    files_under(out.path(), out.path(), &mut files);
    (files, changes)
}

fn decode(bytes: &[u8]) -> Vec<flux_yaml::Value> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    flux_yaml::parse(&text).unwrap()
}

#[test]
fn our_edits_agree_with_upstream_s_and_keep_every_other_byte() {
    let input = tempfile::tempdir().unwrap();
    copy_dir(&corpus().join("corpus"), input.path());
    let (theirs, their_changes) = upstream(input.path());
    let ours = update::update(input.path(), "", &policies()).unwrap();
    let mut our_changes: Changes = Vec::new();
    for (file, objects) in &ours.file_changes {
        for (object, changes) in objects {
            for c in changes {
                our_changes.push((
                    file.clone(),
                    object.kind.clone(),
                    object.name.clone(),
                    c.old_value.clone(),
                    c.new_value.clone(),
                    c.setter.clone(),
                ));
            }
        }
    }
    our_changes.sort();
    assert_eq!(our_changes, their_changes);
    assert_eq!(
        ours.files.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let mut reformatted = Vec::new();
    for (file, our_bytes) in &ours.files {
        let their_bytes = &theirs[file];
        assert_eq!(decode(our_bytes), decode(their_bytes), "{file}");
        let before = std::fs::read(input.path().join(file)).unwrap();
        let before = String::from_utf8(before).unwrap();
        let after = String::from_utf8(our_bytes.clone()).unwrap();
        // Only lines holding a changed value differ.
        let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        assert_eq!(b.len(), a.len(), "{file}: lines added or removed");
        let olds: Vec<&str> = our_changes
            .iter()
            .filter(|c| c.0 == *file)
            .map(|c| c.3.as_str())
            .collect();
        for (x, y) in b.iter().zip(&a) {
            if x != y {
                assert!(
                    olds.iter().any(|old| x.contains(old)),
                    "{file}: a line without a changed value differs: {x:?} → {y:?}"
                );
            }
        }
        if our_bytes != their_bytes {
            reformatted.push(file.clone());
            println!(
                "upstream reformatted {file}:\n--- ours\n{after}\n--- upstream's\n{}",
                String::from_utf8_lossy(their_bytes)
            );
        }
    }
    println!(
        "{} files changed, upstream reformatted {reformatted:?}",
        ours.files.len()
    );
    // Upstream rewrote every changed file but the one already in kyaml's
    // style: list indentation, quoting, comments, the document markers,
    // the CRLF line ends, a flow scalar it did not even change.
    assert_eq!(
        reformatted,
        [
            "apps/deployment.yaml",
            "apps/kustomization.yaml",
            "clusters/prod/release.yml",
            "edge/crlf.yaml",
            "edge/head-comments.yaml",
            "edge/styles.yaml"
        ]
    );
}

/// Where we deliberately differ: a plain scalar that held a number
/// (`tag: 123`) and is set to a tag that is not one. Upstream keeps the
/// node's `!!int` tag and writes `tag: !!int 1.4.2` (which no Kubernetes
/// object accepts); ours writes the string.
#[test]
fn a_number_set_to_a_tag_becomes_a_string_not_a_tagged_int() {
    let input = tempfile::tempdir().unwrap();
    copy_dir(&corpus().join("deviations"), input.path());
    let (theirs, _) = upstream(input.path());
    assert!(
        String::from_utf8_lossy(&theirs["int-tag.yaml"]).contains("tag: !!int 1.4.2"),
        "upstream changed: {}",
        String::from_utf8_lossy(&theirs["int-tag.yaml"])
    );
    let ours = update::update(input.path(), "", &policies()).unwrap();
    let text = String::from_utf8(ours.files["int-tag.yaml"].clone()).unwrap();
    assert!(
        text.contains("  tag: 1.4.2 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n"),
        "{text}"
    );
}
