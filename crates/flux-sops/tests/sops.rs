//! Documents encrypted by the real `sops` (with keys from the real
//! `age-keygen`) decrypt to what was encrypted; a wrong key, a changed
//! value and a changed plaintext field are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::Command;

use flux_yaml::Value;

fn tool(name: &str) -> std::path::PathBuf {
    flux_testenv::tool(name).expect("run scripts/install-deps.sh")
}

/// A fresh age key: (identity file text, recipient).
fn age_key(dir: &std::path::Path, name: &str) -> (String, String) {
    let path = dir.join(format!("{name}.agekey"));
    let out = Command::new(tool("age-keygen"))
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (text, recipient)
}

fn encrypt(dir: &std::path::Path, file: &str, plain: &str, args: &[&str]) -> String {
    let path = dir.join(file);
    std::fs::write(&path, plain).unwrap();
    let out = Command::new(tool("sops"))
        .args(["--encrypt", "--input-type", "yaml", "--output-type", "yaml"])
        .args(args)
        .arg(&path)
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\ntype: Opaque\nstringData:\n  username: admin\n  password: s3cr3t!\n  port: \"5432\"\ndata:\n  token: dG9rZW4=\n";

#[test]
fn real_sops_documents_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_key(dir.path(), "flux");
    let identities = flux_sops::age_identities(&identity).unwrap();
    let plain = flux_yaml::parse(SECRET).unwrap().remove(0);

    // Only the data fields encrypted (the usual Flux setup).
    let encrypted = encrypt(
        dir.path(),
        "secret.yaml",
        SECRET,
        &[
            "--age",
            &recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
        ],
    );
    assert!(encrypted.contains("ENC[AES256_GCM"));
    assert!(!encrypted.contains("s3cr3t"));
    let docs = flux_sops::decrypt_documents(&encrypted, &identities).unwrap();
    assert_eq!(docs, vec![plain.clone()]);

    // Everything encrypted, typed values included.
    let typed =
        "a: 1\nb: 2.5\nc: true\nd: text\nlist:\n- x\n- 7\nnested:\n  deep_unencrypted: plain\n";
    let encrypted_all = encrypt(dir.path(), "typed.yaml", typed, &["--age", &recipient]);
    let docs = flux_sops::decrypt_documents(&encrypted_all, &identities).unwrap();
    assert_eq!(docs, flux_yaml::parse(typed).unwrap());

    // mac_only_encrypted.
    let encrypted_mac_only = encrypt(
        dir.path(),
        "maconly.yaml",
        SECRET,
        &[
            "--age",
            &recipient,
            "--encrypted-regex",
            "^stringData$",
            "--mac-only-encrypted",
        ],
    );
    let docs = flux_sops::decrypt_documents(&encrypted_mac_only, &identities).unwrap();
    assert_eq!(docs, vec![plain.clone()]);

    // A stranger's key opens nothing.
    let (other, _) = age_key(dir.path(), "other");
    let err = flux_sops::decrypt_documents(&encrypted, &flux_sops::age_identities(&other).unwrap())
        .unwrap_err();
    assert!(
        err.to_string().starts_with("cannot get sops data key"),
        "{err}"
    );

    // A changed plaintext field breaks the MAC; the error names no secret.
    let tampered = encrypted.replace("name: db", "name: evil");
    let err = flux_sops::decrypt_documents(&tampered, &identities).unwrap_err();
    assert!(matches!(err, flux_sops::Error::Mac { .. }), "{err}");
    assert!(!err.to_string().contains("s3cr3t"));

    // A value swapped for another one fails to decrypt (its path is bound).
    let lines: Vec<&str> = encrypted.lines().collect();
    let user = lines
        .iter()
        .find(|l| l.trim_start().starts_with("username:"))
        .unwrap();
    let pass = lines
        .iter()
        .find(|l| l.trim_start().starts_with("password:"))
        .unwrap();
    let swapped_value = pass.split_once(':').unwrap().1;
    let swapped = encrypted.replace(user, &format!("    username:{swapped_value}"));
    let err = flux_sops::decrypt_documents(&swapped, &identities).unwrap_err();
    assert!(err.to_string().contains("stringData:username"), "{err}");

    // SOPS matches metadata field names in any case (mapstructure): the
    // real sops and ours both decrypt a file whose metadata keys were
    // re-cased (`mac` stays: Flux finds encrypted documents by it).
    let recased = encrypted
        .replace("\n    age:", "\n    AGE:")
        .replace("recipient:", "Recipient:")
        .replace("enc: |", "ENC: |")
        .replace("lastmodified:", "lastModified:")
        .replace("encrypted_regex:", "Encrypted_Regex:");
    assert_ne!(recased, encrypted);
    std::fs::write(dir.path().join("recased.yaml"), &recased).unwrap();
    std::fs::write(dir.path().join("flux.agekey"), &identity).unwrap();
    let real = Command::new(tool("sops"))
        .args(["--decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(dir.path().join("recased.yaml"))
        .env("SOPS_AGE_KEY_FILE", dir.path().join("flux.agekey"))
        .output()
        .unwrap();
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let docs = flux_sops::decrypt_documents(&recased, &identities).unwrap();
    assert_eq!(docs, vec![plain.clone()]);

    // Unencrypted documents pass through.
    let docs = flux_sops::decrypt_documents(SECRET, &identities).unwrap();
    assert_eq!(docs[0], plain);
    assert!(matches!(docs[0].get("kind"), Some(Value::String(_))));
}

/// `sops` run in `dir` on `file` with `args`; its stdout.
fn sops(dir: &std::path::Path, key_file: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool("sops"))
        .args(args)
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn real_sops_flat_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_key(dir.path(), "flux");
    let key_file = dir.path().join("flux.agekey").display().to_string();
    let identities = flux_sops::age_identities(&identity).unwrap();

    // dotenv: values with escaped newlines, a comment (dropped), an
    // unencrypted key.
    std::fs::write(
        dir.path().join("app.env"),
        "# database\nUSER=admin\nPASSWORD=s3cr3t\nMULTI=line one\\nline two\nMODE_unencrypted=plain\n",
    )
    .unwrap();
    let encrypted = String::from_utf8(sops(
        dir.path(),
        "/nonexistent",
        &["--encrypt", "--age", &recipient, "app.env"],
    ))
    .unwrap();
    assert!(encrypted.contains("sops_mac=ENC[") && !encrypted.contains("s3cr3t"));
    let ours = flux_sops::decrypt_dotenv(&encrypted, &identities).unwrap();
    std::fs::write(dir.path().join("enc.env"), &encrypted).unwrap();
    let theirs = String::from_utf8(sops(dir.path(), &key_file, &["--decrypt", "enc.env"])).unwrap();
    let without_comments: String = theirs
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(ours, without_comments);
    assert!(ours.contains("MULTI=line one\\nline two\n"), "{ours}");
    let tampered = encrypted.replace("MODE_unencrypted=plain", "MODE_unencrypted=evil");
    let err = flux_sops::decrypt_dotenv(&tampered, &identities).unwrap_err();
    assert!(matches!(err, flux_sops::Error::Mac { .. }), "{err}");

    // INI.
    std::fs::write(
        dir.path().join("app.ini"),
        "[db]\nuser = admin\npass = s3cr3t\n\n[cache]\nttl = 60\n",
    )
    .unwrap();
    let encrypted = String::from_utf8(sops(
        dir.path(),
        "/nonexistent",
        &["--encrypt", "--age", &recipient, "app.ini"],
    ))
    .unwrap();
    assert!(!encrypted.contains("s3cr3t"));
    let ours = flux_sops::decrypt_ini(&encrypted, &identities).unwrap();
    assert_eq!(
        ours,
        "[db]\nuser = admin\npass = s3cr3t\n\n[cache]\nttl = 60\n"
    );

    // Binary: any bytes sops can take (here text with a control byte).
    let bytes = b"-----BEGIN KEY-----\nAAAA\x01\n-----END KEY-----\n";
    std::fs::write(dir.path().join("tls.key"), bytes).unwrap();
    let encrypted = String::from_utf8(sops(
        dir.path(),
        "/nonexistent",
        &["--encrypt", "--age", &recipient, "tls.key"],
    ))
    .unwrap();
    assert_eq!(
        flux_sops::decrypt_binary(&encrypted, &identities).unwrap(),
        bytes.to_vec()
    );
    let (other, _) = age_key(dir.path(), "other");
    let err = flux_sops::decrypt_binary(&encrypted, &flux_sops::age_identities(&other).unwrap())
        .unwrap_err();
    assert!(
        err.to_string().starts_with("cannot get sops data key"),
        "{err}"
    );
}

/// A fresh OpenPGP key in its own keyring (real `gpg`, no passphrase):
/// (GNUPGHOME, fingerprint, armored secret key).
fn gpg_key(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String, String) {
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    gpg(&[
        "--quick-gen-key",
        &format!("{name} <{name}@flux.test>"),
        "default",
        "default",
        "never",
    ]);
    let fingerprint = gpg(&["--list-keys", "--with-colons"])
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .unwrap()
        .to_string();
    let secret = gpg(&["--armor", "--export-secret-keys", &fingerprint]);
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "all"])
        .output();
    (home, fingerprint, secret)
}

#[test]
fn real_sops_with_openpgp_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (home, fingerprint, secret) = gpg_key(dir.path(), "flux");
    let path = dir.path().join("secret.yaml");
    std::fs::write(&path, SECRET).unwrap();
    let out = Command::new(tool("sops"))
        .args([
            "--encrypt",
            "--pgp",
            &fingerprint,
            "--encrypted-regex",
            "^(data|stringData)$",
        ])
        .arg(&path)
        .env("GNUPGHOME", &home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let encrypted = String::from_utf8(out.stdout).unwrap();
    assert!(encrypted.contains("BEGIN PGP MESSAGE") && !encrypted.contains("s3cr3t"));

    let keys = flux_sops::Keys {
        age: Vec::new(),
        pgp: flux_sops::pgp_keys(&secret).unwrap(),
    };
    let docs = flux_sops::decrypt_documents(&encrypted, &keys).unwrap();
    assert_eq!(docs, flux_yaml::parse(SECRET).unwrap());

    // Another OpenPGP key (and an age key) cannot open it.
    let (_, _, stranger) = gpg_key(dir.path(), "stranger");
    let (age_identity, _) = age_key(dir.path(), "age");
    let keys = flux_sops::Keys {
        age: flux_sops::age_identities(&age_identity).unwrap(),
        pgp: flux_sops::pgp_keys(&stranger).unwrap(),
    };
    let err = flux_sops::decrypt_documents(&encrypted, &keys).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot get sops data key")
            && err.to_string().contains(&fingerprint),
        "{err}"
    );
    assert!(flux_sops::pgp_keys("not a key").is_err());
}
