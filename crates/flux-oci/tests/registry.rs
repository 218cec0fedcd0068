//! The client and the artifact format against a real registry (the
//! Distribution registry, with htpasswd), and against upstream's `flux`
//! CLI: artifacts it pushes are read here, ours are pulled by it, and the
//! layer and manifest are byte for byte the ones it writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Read;
use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use flux_oci::artifact::{self, CONTENT_MEDIA_TYPE, Metadata};
use flux_oci::{Client, ClientOptions, Credentials, Reference};
use flux_testenv::OciRegistry;

fn upstream_flux() -> Command {
    Command::new(
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)"),
    )
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{command:?}: {text}");
    text
}

fn source_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir.join("apps/web")).unwrap();
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(dir.join("apps/web/deploy.yaml"), "kind: Deployment\n").unwrap();
    std::fs::write(dir.join("apps.yaml"), "kind: Kustomization\n").unwrap();
    std::fs::write(dir.join("logo.png"), [0u8; 8]).unwrap();
    std::fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A name USTAR cannot hold in its name field alone.
    let deep = dir.join(format!("{}/{}", "d".repeat(90), "n".repeat(40)));
    std::fs::create_dir_all(deep.parent().unwrap()).unwrap();
    std::fs::write(&deep, "deep\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn client(registry: &OciRegistry, credentials: Option<(&str, &str)>) -> Client {
    let _ = registry;
    Client::new(ClientOptions {
        insecure: true,
        credentials: credentials.map(|(u, p)| Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }),
        ..ClientOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn artifacts_round_trip_with_upstream_flux() {
    let registry = OciRegistry::start_with_basic_auth("flux", "s3cret").unwrap();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    source_tree(&src);
    let ours = client(&registry, Some(("flux", "s3cret")));

    // Upstream pushes; we list, resolve and read it.
    let upstream_ref = format!("oci://{}/fleet/upstream:v1", registry.host());
    run(upstream_flux().args([
        "push",
        "artifact",
        &upstream_ref,
        "--path",
        src.to_str().unwrap(),
        "--source",
        "https://example.com/fleet",
        "--revision",
        "main@sha1:0123456789abcdef",
        "--annotations",
        "team=platform",
        "--reproducible",
        "--insecure-registry",
        "--creds",
        "flux:s3cret",
    ]));
    let reference = Reference::parse_url(&upstream_ref).unwrap();
    let tags = ours.tags(&reference).await.unwrap();
    assert_eq!(tags, vec!["v1".to_string()]);
    let resolved = ours.resolve(&reference).await.unwrap();
    let (manifest, descriptor) = ours.manifest(&reference).await.unwrap();
    assert_eq!(resolved.digest, descriptor.digest);
    let meta = Metadata::from_annotations(&manifest.annotations);
    assert_eq!(meta.source, "https://example.com/fleet");
    assert_eq!(meta.revision, "main@sha1:0123456789abcdef");
    assert_eq!(meta.created, artifact::REPRODUCIBLE_CREATED);
    assert_eq!(manifest.annotations["team"], "platform");
    assert_eq!(manifest.config.media_type, artifact::CONFIG_MEDIA_TYPE);
    let layer = artifact::select_layer(&manifest, None).unwrap();
    assert_eq!(layer.media_type, CONTENT_MEDIA_TYPE);
    let mut upstream_layer = Vec::new();
    ours.blob(&reference, layer, 1 << 20, &mut upstream_layer)
        .await
        .unwrap();

    // Our layer is upstream's, byte for byte (the tarball and Go's gzip
    // encoding of it).
    let mut our_layer = Vec::new();
    artifact::build_layer(&src, &artifact::default_ignore_paths(), &mut our_layer).unwrap();
    assert_eq!(gunzip(&our_layer), gunzip(&upstream_layer));
    assert_eq!(our_layer, upstream_layer);

    // So the same tree and metadata pushed by us is the same artifact: the
    // same manifest digest, hence the same OCIRepository revision.
    let same = Metadata {
        source: "https://example.com/fleet".into(),
        revision: "main@sha1:0123456789abcdef".into(),
        created: artifact::REPRODUCIBLE_CREATED.into(),
        annotations: [("team".to_string(), "platform".to_string())].into(),
    };
    let twin = Reference::parse_url(&format!("oci://{}/fleet/twin:v1", registry.host())).unwrap();
    let twin_digest = artifact::push(
        &ours,
        &twin,
        Bytes::from(our_layer.clone()),
        CONTENT_MEDIA_TYPE,
        &same,
    )
    .await
    .unwrap();
    assert_eq!(twin_digest, descriptor.digest);

    // Our config blob is upstream's, byte for byte.
    let mut config = Vec::new();
    ours.blob(&reference, &manifest.config, 1 << 20, &mut config)
        .await
        .unwrap();
    assert_eq!(config, artifact::CONFIG_BLOB.as_bytes());

    // We push; upstream pulls and extracts it.
    let our_ref =
        Reference::parse_url(&format!("oci://{}/fleet/ours:v2", registry.host())).unwrap();
    let metadata = Metadata {
        source: "https://example.com/fleet".into(),
        revision: "main@sha1:fedcba".into(),
        created: artifact::REPRODUCIBLE_CREATED.into(),
        annotations: Default::default(),
    };
    let digest = artifact::push(
        &ours,
        &our_ref,
        Bytes::from(our_layer.clone()),
        CONTENT_MEDIA_TYPE,
        &metadata,
    )
    .await
    .unwrap();
    let out = work.path().join("pulled");
    std::fs::create_dir_all(&out).unwrap();
    let printed = run(upstream_flux().args([
        "pull",
        "artifact",
        &format!("oci://{our_ref}"),
        "--output",
        out.to_str().unwrap(),
        "--creds",
        "flux:s3cret",
        "--insecure-registry",
    ]));
    assert!(
        printed.contains("source https://example.com/fleet"),
        "{printed}"
    );
    assert!(printed.contains("revision main@sha1:fedcba"), "{printed}");
    assert!(printed.contains(&digest), "{printed}");
    assert_eq!(
        std::fs::read_to_string(out.join("apps/web/deploy.yaml")).unwrap(),
        "kind: Deployment\n"
    );
    assert!(!out.join("logo.png").exists());
    assert!(!out.join("link").exists());
    assert!(!out.join(".git").exists());

    // Pushing the same content again uploads no blob and gives the same
    // manifest digest.
    let again = artifact::push(
        &ours,
        &our_ref,
        Bytes::from(our_layer),
        CONTENT_MEDIA_TYPE,
        &metadata,
    )
    .await
    .unwrap();
    assert_eq!(again, digest);
}

#[tokio::test]
async fn registry_errors_are_precise_and_hold_no_secret() {
    let registry = OciRegistry::start_with_basic_auth("flux", "s3cret").unwrap();
    let reference = Reference::parse_url(&format!("oci://{}/app:v1", registry.host())).unwrap();

    let anonymous = client(&registry, None);
    let e = anonymous.resolve(&reference).await.unwrap_err();
    assert!(e.is_authentication(), "{e}");
    let wrong = client(&registry, Some(("flux", "wrong-password")));
    let e = wrong.tags(&reference).await.unwrap_err();
    assert!(e.is_authentication(), "{e}");
    assert!(!e.to_string().contains("wrong-password"), "{e}");
    assert!(e.to_string().contains("UNAUTHORIZED"), "{e}");

    let ok = client(&registry, Some(("flux", "s3cret")));
    let e = ok.manifest(&reference).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("/v2/app/manifests/v1"), "{e}");

    // A layer over the limit is refused before it is read whole.
    let big = Bytes::from(vec![7u8; 64 << 10]);
    let layer = ok
        .push_blob(&reference, CONTENT_MEDIA_TYPE, big)
        .await
        .unwrap();
    let mut sink = Vec::new();
    let e = ok
        .blob(&reference, &layer, 1024, &mut sink)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("exceeds the limit of 1024 bytes"),
        "{e}"
    );
    assert!(sink.is_empty());

    // A server that does not speak (a closed port) is a transport error.
    let closed = Reference::parse("127.0.0.1:1/app:v1").unwrap();
    let e = ok.resolve(&closed).await.unwrap_err();
    assert!(matches!(e, flux_oci::Error::Transport { .. }), "{e}");
}

/// Random trees (text, repetitive and incompressible files, sizes around
/// the 32 KiB read and 64 KiB window boundaries, long and non-ASCII names)
/// built by upstream's `flux build artifact` and by us: the same bytes,
/// gzip included.
#[test]
fn layers_are_upstream_bytes_on_random_trees() {
    let mut seed: u64 = 0x5eed_1234_abcd_0042;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for case in 0..12 {
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for f in 0..(1 + next() % 6) {
            let dir = match next() % 4 {
                0 => src.clone(),
                1 => src.join("apps"),
                2 => src.join(format!("{}/n", "d".repeat(90 + (next() % 40) as usize))),
                _ => src.join("données"),
            };
            std::fs::create_dir_all(&dir).unwrap();
            let size = match next() % 5 {
                0 => (next() % 600) as usize,
                1 => 32 * 1024 + (next() % 3) as usize - 1,
                2 => 65_536 + (next() % 5_000) as usize,
                3 => (next() % 300_000) as usize,
                _ => 0,
            };
            let kind = next() % 3;
            let content: Vec<u8> = (0..size)
                .map(|i| match kind {
                    0 => b"kind: ConfigMap\nmetadata:\n  name: web\n"[i % 38],
                    1 => (next() >> 24) as u8,
                    _ => b'a' + ((i / 7 + (i % 13)) % 26) as u8,
                })
                .collect();
            std::fs::write(dir.join(format!("f{f}.yaml")), content).unwrap();
        }
        let ours = work.path().join("ours.tgz");
        let mut bytes = Vec::new();
        artifact::build_layer(&src, &artifact::default_ignore_paths(), &mut bytes).unwrap();
        std::fs::write(&ours, &bytes).unwrap();
        let theirs = work.path().join("theirs.tgz");
        run(upstream_flux()
            .args(["build", "artifact", "-p"])
            .arg(&src)
            .arg("-o")
            .arg(&theirs));
        assert!(
            std::fs::read(&theirs).unwrap() == bytes,
            "case {case}: the layers differ"
        );
    }
}

/// Pushes a one-file artifact with `content` as `REPO:tag`; its digest.
async fn push_small(client: &Client, registry: &OciRegistry, tag: &str, content: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cm.yaml"), content).unwrap();
    let mut layer = Vec::new();
    artifact::build_layer(dir.path(), &[], &mut layer).unwrap();
    let reference = Reference::parse(&format!("{}/signed/app:{tag}", registry.host())).unwrap();
    let metadata = Metadata {
        source: "https://example.com/app".into(),
        revision: format!("{tag}@sha1:0123456789abcdef"),
        created: artifact::REPRODUCIBLE_CREATED.into(),
        annotations: Default::default(),
    };
    artifact::push(
        client,
        &reference,
        Bytes::from(layer),
        CONTENT_MEDIA_TYPE,
        &metadata,
    )
    .await
    .unwrap()
}

/// Signatures made by the real `cosign` v3, in both of its formats, verify
/// with the right key only, and only for the artifact they were made for.
#[tokio::test]
async fn cosign_signatures_of_both_formats() {
    use flux_oci::cosign::{self, Format, Outcome, PublicKey};
    use flux_testenv::{CosignFormat, CosignKey};

    let registry = OciRegistry::start().unwrap();
    let ours = client(&registry, None);
    let repository = Reference::parse(&format!("{}/signed/app", registry.host())).unwrap();
    let key = CosignKey::generate().unwrap();
    let other = CosignKey::generate().unwrap();
    let right = PublicKey::from_pem(key.public_pem().as_bytes()).unwrap();
    let wrong = PublicKey::from_pem(other.public_pem().as_bytes()).unwrap();
    assert_eq!(right.kind(), "ECDSA P-256");

    let bundled = push_small(&ours, &registry, "bundled", "a: 1\n").await;
    let simple = push_small(&ours, &registry, "simple", "b: 2\n").await;
    let unsigned = push_small(&ours, &registry, "unsigned", "c: 3\n").await;
    let host = registry.host();
    key.sign(
        &format!("{host}/signed/app@{bundled}"),
        CosignFormat::Bundle,
    )
    .unwrap();
    key.sign(
        &format!("{host}/signed/app@{simple}"),
        CosignFormat::SimpleSigning,
    )
    .unwrap();

    let check = |digest: String, keys: Vec<PublicKey>| {
        let (ours, repository) = (ours.clone(), repository.clone());
        async move {
            cosign::verify(&ours, &repository, &digest, &keys)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        check(bundled.clone(), vec![wrong.clone(), right.clone()]).await,
        Outcome::Verified {
            format: Format::Bundle,
            key: 1
        }
    );
    assert_eq!(
        check(simple.clone(), vec![right.clone()]).await,
        Outcome::Verified {
            format: Format::SimpleSigning,
            key: 0
        }
    );
    for digest in [&bundled, &simple] {
        let Outcome::NoMatch(why) = check(digest.clone(), vec![wrong.clone()]).await else {
            panic!("verified {digest} with the wrong key");
        };
        assert!(why.contains("does not verify with the public key"), "{why}");
    }
    let Outcome::NoMatch(why) = check(unsigned.clone(), vec![right.clone()]).await else {
        panic!("an unsigned artifact verified");
    };
    assert!(why.starts_with("no signature found"), "{why}");

    // Someone with push access moves valid signatures onto the unsigned
    // artifact's tags: both are refused, the signed content names another
    // digest.
    let unsigned_hex = unsigned.trim_start_matches("sha256:");
    for (from, suffix) in [(&simple, ".sig"), (&bundled, "")] {
        let source = repository.with_tag(&format!("{}{suffix}", from.replacen(':', "-", 1)));
        let (media_type, raw, _) = ours.manifest_bytes(&source).await.unwrap();
        let target = repository.with_tag(&format!("sha256-{unsigned_hex}{suffix}"));
        ours.push_manifest(&target, &media_type, raw).await.unwrap();
    }
    let Outcome::NoMatch(why) = check(unsigned.clone(), vec![right.clone()]).await else {
        panic!("a signature of another artifact verified");
    };
    assert!(why.contains("no subject with digest"), "{why}");
    assert!(
        why.contains(&format!("is for {simple}, not {unsigned}")),
        "{why}"
    );
}
