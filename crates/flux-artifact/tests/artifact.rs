//! Archives, storage and extraction, including hostile inputs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;
use flux_artifact::{
    Digest, Error, Limits, Owner, Retention, SourceIgnore, Storage, archive, extract,
    verify_and_extract,
};

fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(file, text).unwrap();
}

fn archive_bytes(
    dir: &Path,
    limits: &Limits,
) -> Result<(Vec<u8>, flux_artifact::ArchiveSummary), Error> {
    let ignore = SourceIgnore::load(dir, None)?;
    let mut out = Vec::new();
    let summary = archive(dir, &ignore, limits, &mut out)?;
    Ok((out, summary))
}

fn list(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn archives_depend_only_on_content() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Same content, written in a different order at different times.
    write(a.path(), "deploy/app.yaml", "kind: Deployment\n");
    write(a.path(), "README.md", "hello\n");
    write(b.path(), "README.md", "hello\n");
    std::thread::sleep(Duration::from_millis(20));
    write(b.path(), "deploy/app.yaml", "kind: Deployment\n");
    let (bytes_a, summary_a) = archive_bytes(a.path(), &Limits::default()).unwrap();
    let (bytes_b, summary_b) = archive_bytes(b.path(), &Limits::default()).unwrap();
    assert_eq!(bytes_a, bytes_b);
    assert_eq!(summary_a.digest, summary_b.digest);
    assert_eq!(summary_a.digest, Digest::of(&bytes_a));
    assert_eq!(summary_a.size, bytes_a.len() as u64);
    write(b.path(), "README.md", "changed\n");
    let (_, changed) = archive_bytes(b.path(), &Limits::default()).unwrap();
    assert_ne!(changed.digest, summary_a.digest);
}

#[test]
fn round_trip_keeps_files_and_drops_links_and_ignored_files() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "apps/cm.yaml", "kind: ConfigMap\n");
    write(src.path(), "scripts/run.sh", "#!/bin/sh\n");
    write(src.path(), ".git/HEAD", "ref: refs/heads/main\n");
    write(src.path(), "docs/logo.png", "png");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            src.path().join("scripts/run.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", src.path().join("etc-link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.path().join("apps/passwd")).unwrap();
        std::os::unix::fs::symlink("../../outside", src.path().join("apps/up")).unwrap();
    }
    let (bytes, summary) = archive_bytes(src.path(), &Limits::default()).unwrap();
    assert_eq!(summary.files, 2);
    let dest = tempfile::tempdir().unwrap();
    extract(&bytes[..], dest.path(), &Limits::default()).unwrap();
    assert_eq!(list(dest.path()), ["apps/cm.yaml", "scripts/run.sh"]);
    assert_eq!(
        fs::read_to_string(dest.path().join("apps/cm.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dest.path().join("scripts/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}

#[test]
fn a_huge_sparse_file_hits_the_size_limit_without_being_read() {
    let src = tempfile::tempdir().unwrap();
    let file = fs::File::create(src.path().join("huge.bin")).unwrap();
    file.set_len(2 << 30).unwrap(); // 2 GiB, sparse
    let err = archive_bytes(src.path(), &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "tar \"huge.bin\" is bigger than max archive size of 104857600 bytes"
    );
}

/// A gzipped tar built by hand, entry by entry, to hold what our own
/// archiver never writes.
fn hostile(build: impl FnOnce(&mut tar::Builder<GzEncoder<Vec<u8>>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    build(&mut builder);
    builder.into_inner().unwrap().finish().unwrap()
}

fn raw_entry(
    builder: &mut tar::Builder<GzEncoder<Vec<u8>>>,
    name: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut header = tar::Header::new_gnu();
    // Write the name bytes directly: `set_path` refuses `..` itself.
    let bytes = name.as_bytes();
    header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    if let Some(link) = link {
        header.set_link_name(link).unwrap();
    }
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[test]
fn hostile_archives_are_refused_and_write_nothing_outside() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "parent traversal",
            hostile(|b| raw_entry(b, "../evil.yaml", tar::EntryType::Regular, None, b"x")),
            "tar contained invalid name error \"../evil.yaml\"",
        ),
        (
            "nested traversal",
            hostile(|b| {
                raw_entry(
                    b,
                    "apps/../../evil.yaml",
                    tar::EntryType::Regular,
                    None,
                    b"x",
                )
            }),
            "tar contained invalid name error \"apps/../../evil.yaml\"",
        ),
        (
            "absolute path",
            hostile(|b| raw_entry(b, "/tmp/evil.yaml", tar::EntryType::Regular, None, b"x")),
            "tar contained invalid name error \"/tmp/evil.yaml\"",
        ),
        (
            "symlink",
            hostile(|b| raw_entry(b, "etc", tar::EntryType::Symlink, Some("/etc"), b"")),
            "tar file entry etc is a symlink, which is not allowed in this context",
        ),
        (
            "hard link",
            hostile(|b| raw_entry(b, "passwd", tar::EntryType::Link, Some("/etc/passwd"), b"")),
            "tar file entry passwd is a symlink, which is not allowed in this context",
        ),
        (
            "device",
            hostile(|b| raw_entry(b, "dev", tar::EntryType::Char, None, b"")),
            "tar file entry dev contained unsupported file type Char",
        ),
    ];
    let parent = tempfile::tempdir().unwrap();
    let dest = parent.path().join("dest");
    for (what, bytes, message) in cases {
        fs::create_dir_all(&dest).unwrap();
        let err = extract(&bytes[..], &dest, &Limits::default()).unwrap_err();
        assert_eq!(err.to_string(), message, "{what}");
        assert!(list(&dest).is_empty(), "{what}: wrote {:?}", list(&dest));
        fs::remove_dir_all(&dest).unwrap();
    }
    assert_eq!(list(parent.path()), Vec::<String>::new());
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    // 64 MiB of zeros compress to ~64 KiB.
    let zeros = vec![0u8; 64 << 20];
    let bytes = hostile(|b| raw_entry(b, "bomb", tar::EntryType::Regular, None, &zeros));
    assert!(bytes.len() < 1 << 20);
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = extract(&bytes[..], dest.path(), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tar \"bomb\" is bigger than max archive size of 1048576 bytes"
    );
    assert!(list(dest.path()).is_empty(), "the partial file is removed");
}

#[test]
fn too_many_entries_are_refused() {
    let bytes = hostile(|b| {
        for i in 0..20 {
            raw_entry(b, &format!("f{i}"), tar::EntryType::Regular, None, b"");
        }
    });
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let err = extract(&bytes[..], dest.path(), &limits).unwrap_err();
    assert_eq!(err.to_string(), "tar has more than 10 entries");
}

#[test]
fn digests_are_verified_before_anything_is_extracted() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "a.yaml", "a: 1\n");
    let (bytes, summary) = archive_bytes(src.path(), &Limits::default()).unwrap();
    let parent = tempfile::tempdir().unwrap();
    let dest = parent.path().join("out");
    fs::create_dir(&dest).unwrap();
    let wrong = Digest::of(b"something else");
    let err = verify_and_extract(&bytes[..], &wrong, &dest, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("failed to verify artifact: computed digest doesn't match '{wrong}'")
    );
    assert!(list(&dest).is_empty());
    verify_and_extract(&bytes[..], &summary.digest, &dest, &Limits::default()).unwrap();
    assert_eq!(list(&dest), ["a.yaml"]);
    assert_eq!(
        list(parent.path()),
        ["out/a.yaml"],
        "no temporary file is left"
    );
}

#[test]
fn storage_layout_latest_link_and_retention() {
    let root = tempfile::tempdir().unwrap();
    let storage = Storage::new(
        root.path(),
        "source-controller.flux-system.svc.cluster.local.",
        Retention::default(),
    )
    .unwrap();
    let src = tempfile::tempdir().unwrap();
    let ignore = SourceIgnore::load(src.path(), None).unwrap();
    let owner = Owner {
        kind: "GitRepository",
        namespace: "flux-system",
        name: "podinfo",
    };
    let mut stored = Vec::new();
    for i in 0..4 {
        write(src.path(), "app.yaml", &format!("revision: {i}\n"));
        let file = format!("commit{i}.tar.gz");
        let artifact = storage
            .archive(owner, &file, src.path(), &ignore, &Limits::default())
            .unwrap();
        stored.push(artifact);
    }
    let current = stored.last().unwrap();
    assert_eq!(
        current.path,
        "gitrepository/flux-system/podinfo/commit3.tar.gz"
    );
    assert_eq!(
        current.url,
        "http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/podinfo/commit3.tar.gz"
    );
    let dir = root.path().join("gitrepository/flux-system/podinfo");
    assert_eq!(
        fs::read_link(dir.join("latest.tar.gz")).unwrap(),
        Path::new("commit3.tar.gz")
    );
    let bytes = fs::read(storage.local_path(&current.path)).unwrap();
    assert_eq!(Digest::of(&bytes), current.summary.digest);

    // Within the TTL nothing goes; after it, only the current one and the
    // newest other remain (retention records: 2).
    let now = SystemTime::now();
    assert!(
        storage
            .garbage_collect(owner, &current.path, now)
            .unwrap()
            .is_empty()
    );
    let later = now + Duration::from_secs(120);
    let deleted = storage
        .garbage_collect(owner, &current.path, later)
        .unwrap();
    assert_eq!(deleted.len(), 2);
    let mut left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["commit2.tar.gz", "commit3.tar.gz", "latest.tar.gz"]);

    storage.remove_all(owner).unwrap();
    assert!(!dir.exists());
    let escaping = Owner {
        namespace: "..",
        ..owner
    };
    assert!(escaping.path("f").is_err());
    assert!(owner.path("../f").is_err());
}
