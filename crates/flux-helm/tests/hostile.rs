//! Hostile charts: archives with path traversal, absolute paths, links,
//! oversized files and gzip bombs, folders with escaping links, deep
//! subchart nesting, malformed metadata — each refused with Helm's words
//! (or read as Helm reads it), never a panic, never a write.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write;

use flux_helm::Chart;

fn tgz(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut t = tar::Builder::new(gz);
    for (path, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        // Raw names: the tar crate refuses `..` in set_path.
        let name = h.as_old_mut().name.as_mut();
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        t.append(&h, *data).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

const CHART: &[u8] = b"apiVersion: v2\nname: c\nversion: 1.0.0\n";

fn err(entries: &[(&str, tar::EntryType, &[u8])]) -> String {
    Chart::load_archive(&tgz(entries)).unwrap_err().0
}

#[test]
fn archives_are_checked_as_helm_checks_them() {
    let f = tar::EntryType::Regular;
    assert_eq!(
        err(&[("c/Chart.yaml", f, CHART), ("c/../../evil", f, b"x")]),
        "chart illegally references parent directory"
    );
    assert_eq!(
        err(&[("c/Chart.yaml", f, CHART), ("c//etc/x", f, b"x")]),
        "chart illegally contains absolute paths"
    );
    assert_eq!(
        err(&[("Chart.yaml", f, CHART)]),
        "chart illegally contains content outside the base directory: \"Chart.yaml\""
    );
    assert_eq!(
        err(&[("c/Chart.yaml", f, CHART), ("c/C:/x", f, b"x")]),
        "chart contains illegally named files"
    );
    assert_eq!(err(&[]), "no files in chart archive");
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    assert!(
        err(&[("c/Chart.yaml", f, CHART), ("c/big.txt", f, &big)])
            .contains("is larger than the maximum file size 5242880"),
    );
    // A link is an empty file, never followed.
    let c = Chart::load_archive(&tgz(&[
        ("c/Chart.yaml", f, CHART),
        ("c/files/passwd", tar::EntryType::Symlink, b""),
    ]))
    .unwrap();
    assert_eq!(c.files[0].name, "files/passwd");
    assert!(c.files[0].data.is_empty());
    // Not gzip at all.
    assert!(Chart::load_archive(b"PK\x03\x04zip").is_err());
}

#[test]
fn a_gzip_bomb_stops_at_the_chart_size_limit() {
    // 101 files of 1 MiB of zeros: 101 MiB decompressed from ~100 KiB.
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut t = tar::Builder::new(gz);
    let zeros = vec![0u8; 1 << 20];
    let mut h = tar::Header::new_gnu();
    h.set_path("c/Chart.yaml").unwrap();
    h.set_size(CHART.len() as u64);
    h.set_cksum();
    t.append(&h, CHART).unwrap();
    for i in 0..101 {
        let mut h = tar::Header::new_gnu();
        h.set_path(format!("c/files/z{i}")).unwrap();
        h.set_size(zeros.len() as u64);
        h.set_cksum();
        t.append(&h, zeros.as_slice()).unwrap();
    }
    let data = t.into_inner().unwrap().finish().unwrap();
    assert!(data.len() < 1 << 20);
    let e = Chart::load_archive(&data).unwrap_err().0;
    assert_eq!(
        e,
        "decompressed chart is larger than the maximum file size 104857600"
    );
}

#[test]
fn folders_keep_links_inside_and_metadata_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    std::fs::create_dir_all(c.join("templates")).unwrap();
    std::fs::write(c.join("Chart.yaml"), CHART).unwrap();
    std::os::unix::fs::symlink("/etc", c.join("templates/etc")).unwrap();
    let e = Chart::load(&c).unwrap_err().0;
    assert!(e.contains("symbolic link points outside the chart"), "{e}");
    std::fs::remove_file(c.join("templates/etc")).unwrap();
    std::fs::write(c.join("values.yaml"), "a: [1\n").unwrap();
    let e = Chart::load(&c).unwrap_err().0;
    assert_eq!(
        e,
        "cannot load values.yaml: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"
    );
    std::fs::write(c.join("values.yaml"), "a: 1\n").unwrap();
    std::fs::write(
        c.join("Chart.yaml"),
        "apiVersion: v2\nname: ../x\nversion: 1.0.0\n",
    )
    .unwrap();
    assert_eq!(
        Chart::load(&c).unwrap_err().0,
        "validation: chart.metadata.name \"../x\" is invalid"
    );
    // Not a chart at all.
    let mut f = std::fs::File::create(dir.path().join("values.yaml")).unwrap();
    f.write_all(b"a: 1\n").unwrap();
    assert!(
        Chart::load(&dir.path().join("values.yaml"))
            .unwrap_err()
            .0
            .contains("seems to be a YAML file, but expected a gzipped archive")
    );
}

#[test]
fn subcharts_cannot_nest_without_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = dir.path().join("c");
    for i in 0..80 {
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("Chart.yaml"),
            format!("apiVersion: v2\nname: c{i}\nversion: 1.0.0\n"),
        )
        .unwrap();
        p = p.join("charts").join(format!("c{}", i + 1));
    }
    let e = Chart::load(&dir.path().join("c")).unwrap_err().0;
    assert!(e.contains("subcharts nest deeper than 64 levels"), "{e}");
}

/// A template that makes the values hold themselves (`set` of a map into
/// itself) crashes Helm (a fatal Go stack overflow); ours renders what it
/// can print and refuses the release with an error, never overflowing.
#[test]
fn self_referential_values_are_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("c");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), CHART).unwrap();
    std::fs::write(chart.join("values.yaml"), "map:\n  a: 1\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  \
         set: {{ set .Values.map \"self\" .Values.map | len | quote }}\n  \
         copy: {{ deepCopy .Values.map | len | quote }}\n  \
         equal: {{ deepEqual .Values.map .Values.map | quote }}\n  \
         yaml: {{ toYaml .Values.map | len | quote }}\n  \
         merged: {{ merge .Values.map .Values.map | len | quote }}\n",
    )
    .unwrap();
    let chart = Chart::load(&chart).unwrap();
    let opts = flux_helm::TemplateOptions {
        release_name: "r".to_string(),
        ..flux_helm::TemplateOptions::default()
    };
    let err = flux_helm::template(&chart, &opts).unwrap_err();
    assert!(
        err.message.contains("error calling merge"),
        "{}",
        err.message
    );
}

/// A template that makes the values hold themselves renders in Helm (its
/// templates see a copy of the chart's values), and the release Helm would
/// store keeps the chart's own values and the user's config untouched.
#[test]
fn self_referential_values_render_and_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("c");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), CHART).unwrap();
    std::fs::write(chart.join("values.yaml"), "map:\n  a: 1\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  \
         n: {{ set .Values.map \"ab\" .Values.map | len | quote }}\n",
    )
    .unwrap();
    let chart = Chart::load(&chart).unwrap();
    let opts = flux_helm::TemplateOptions {
        release_name: "r".to_string(),
        values: serde_json::from_str(r#"{"map": {"b": 2}}"#).unwrap(),
        ..flux_helm::TemplateOptions::default()
    };
    let out = flux_helm::template(&chart, &opts).unwrap();
    assert!(out.contains("n: \"3\""), "{out}");
    let rendered = flux_helm::render_release(&chart, &opts, &Default::default()).unwrap();
    let release =
        flux_helm::release::Release::new(&rendered, &opts, 1, "deployed", "Install complete");
    assert_eq!(release.chart["values"]["map"]["a"].as_f64(), Some(1.0));
    assert_eq!(
        release.chart["values"]["map"].as_object().map(|m| m.len()),
        Some(1)
    );
    assert_eq!(
        serde_json::Value::Object(release.config),
        serde_json::json!({"map": {"b": 2}})
    );
}
