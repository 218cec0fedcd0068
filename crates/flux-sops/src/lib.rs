//! SOPS decryption of YAML, JSON, dotenv, INI and binary files with age
//! keys, as `sops --decrypt` does it:
//!
//! - the data key is the first `sops.age[].enc` (age) or `sops.pgp[].enc`
//!   (OpenPGP) stanza one of the given keys opens;
//! - every value SOPS encrypted (`ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`,
//!   AES-256-GCM with SOPS's 32-byte IVs, the value's key path as
//!   additional data) is decrypted back to its type (`str`, `int`, `float`,
//!   `bool`, `bytes`);
//! - which values are encrypted follows the document's
//!   `unencrypted_suffix`/`encrypted_suffix`/`unencrypted_regex`/
//!   `encrypted_regex`;
//! - the MAC — SHA-512 over every value in document order (only encrypted
//!   ones with `mac_only_encrypted`), itself encrypted with the
//!   `lastmodified` time as additional data — must match, or nothing is
//!   returned.
//!
//! Plaintext never appears in errors.

use std::io::Read;

mod flat;

pub use flat::{Format, decrypt_binary, decrypt_dotenv, decrypt_ini};

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use base64::Engine as _;
use flux_yaml::Value;
use sha2::{Digest, Sha512};

type SopsCipher = AesGcm<Aes256, U32>;

/// Why a document could not be decrypted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is not SOPS-encrypted YAML or JSON.
    #[error("failed to load encrypted data: {0}")]
    Load(String),
    /// No identity opens any of the document's data key stanzas.
    #[error("cannot get sops data key: {0}")]
    DataKey(String),
    /// A value could not be decrypted.
    #[error("error decrypting sops tree: {0}")]
    Decrypt(String),
    /// The MAC does not match: the document was changed after encryption.
    #[error("failed to verify sops data integrity: expected mac '{expected}', got '{actual}'")]
    Mac {
        /// The MAC the document carries.
        expected: String,
        /// The MAC of its values.
        actual: String,
    },
}

/// A private key that does not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An `*.asc` file that holds no valid OpenPGP secret key.
    #[error("invalid OpenPGP secret key: {0}")]
    Pgp(String),
    /// An `*.asc` file without any secret key block.
    #[error("no OpenPGP secret key found")]
    NoPgpKey,
    /// An `*.agekey` line that is not an age identity.
    #[error("invalid age key: {0}")]
    Age(String),
}

/// Whether a parsed document carries SOPS metadata.
pub fn is_encrypted(doc: &Value) -> bool {
    doc.get("sops")
        .is_some_and(|s| s.get("mac").is_some() || s.get("lastmodified").is_some())
}

/// The private keys a document's data key may be opened with.
pub trait KeySource {
    /// age identities (`*.agekey`).
    fn age(&self) -> &[age::x25519::Identity];
    /// OpenPGP secret keys (`*.asc`).
    fn pgp(&self) -> &[pgp::composed::SignedSecretKey] {
        &[]
    }
}

impl KeySource for [age::x25519::Identity] {
    fn age(&self) -> &[age::x25519::Identity] {
        self
    }
}

impl KeySource for Vec<age::x25519::Identity> {
    fn age(&self) -> &[age::x25519::Identity] {
        self
    }
}

/// age identities and OpenPGP secret keys together.
#[derive(Default)]
pub struct Keys {
    /// age identities.
    pub age: Vec<age::x25519::Identity>,
    /// OpenPGP secret keys (without passphrase, as Flux requires).
    pub pgp: Vec<pgp::composed::SignedSecretKey>,
}

impl KeySource for Keys {
    fn age(&self) -> &[age::x25519::Identity] {
        &self.age
    }
    fn pgp(&self) -> &[pgp::composed::SignedSecretKey] {
        &self.pgp
    }
}

/// OpenPGP secret keys from the text of an `*.asc` file (one or more
/// armored secret key blocks, as `gpg --export-secret-keys --armor` writes).
pub fn pgp_keys(text: &str) -> Result<Vec<pgp::composed::SignedSecretKey>, KeyError> {
    use pgp::composed::Deserializable as _;
    let (keys, _) = pgp::composed::SignedSecretKey::from_string_many(text)
        .map_err(|e| KeyError::Pgp(e.to_string()))?;
    let keys = keys
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KeyError::Pgp(e.to_string()))?;
    if keys.is_empty() {
        return Err(KeyError::NoPgpKey);
    }
    Ok(keys)
}

/// Age identities from the text of `*.agekey` files (`AGE-SECRET-KEY-1…`
/// lines; comments and blank lines ignored).
pub fn age_identities(text: &str) -> Result<Vec<age::x25519::Identity>, KeyError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.parse::<age::x25519::Identity>()
                .map_err(|e| KeyError::Age(e.to_string()))
        })
        .collect()
}

/// Decrypts every SOPS-encrypted document of a YAML (or JSON) file;
/// documents without SOPS metadata are returned as they are.
pub fn decrypt_documents(
    text: &str,
    identities: &(impl KeySource + ?Sized),
) -> Result<Vec<Value>, Error> {
    let docs = flux_yaml::parse(text).map_err(|e| Error::Load(e.to_string()))?;
    docs.into_iter()
        .map(|doc| {
            if is_encrypted(&doc) {
                decrypt(doc, identities)
            } else {
                Ok(doc)
            }
        })
        .collect()
}

struct Rules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<regex::Regex>,
    encrypted_regex: Option<regex::Regex>,
}

impl Rules {
    /// SOPS's `shouldBeEncrypted` over a key path.
    fn encrypted(&self, path: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        encrypted
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The names of SOPS metadata fields (and of its key stanzas' fields).
const METADATA_FIELDS: &[&str] = &[
    "shamir_threshold",
    "key_groups",
    "kms",
    "gcp_kms",
    "hckms",
    "azure_kv",
    "hc_vault",
    "age",
    "lastmodified",
    "mac",
    "pgp",
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
    "mac_only_encrypted",
    "version",
];
const STANZA_FIELDS: &[&str] = &["recipient", "enc", "fp", "created_at"];

/// SOPS reads its metadata with mapstructure, which matches a key to a
/// field name exactly or else case-insensitively (`MAC:`, `Age:`, `Enc:`
/// all work): the metadata with every such key spelled as the field is.
fn canonical_metadata(metadata: Value) -> Value {
    fn rename(value: Value, names: &[&'static str]) -> Value {
        let Value::Map(entries) = value else {
            return value;
        };
        let exact: Vec<bool> = entries
            .iter()
            .map(|(k, _)| names.contains(&k.as_str()))
            .collect();
        let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        for ((key, v), is_exact) in entries.into_iter().zip(exact) {
            let name = if is_exact {
                Some(key.clone())
            } else {
                names
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(&key))
                    .map(|n| n.to_string())
            };
            match name {
                // An exact key wins over another spelling of it.
                Some(name) if !out.iter().any(|(k, _)| *k == name) => out.push((name, v)),
                Some(name) if is_exact => {
                    if let Some(slot) = out.iter_mut().find(|(k, _)| *k == name) {
                        slot.1 = v;
                    }
                }
                Some(_) => {}
                None => out.push((key, v)),
            }
        }
        Value::Map(out)
    }
    let mut metadata = rename(metadata, METADATA_FIELDS);
    if let Value::Map(entries) = &mut metadata {
        for (k, v) in entries.iter_mut() {
            if let ("age" | "pgp", Value::Seq(items)) = (k.as_str(), v) {
                for item in items.iter_mut() {
                    *item = rename(std::mem::replace(item, Value::Null), STANZA_FIELDS);
                }
            }
        }
    }
    metadata
}

/// Decrypts one document with SOPS metadata.
pub fn decrypt(mut doc: Value, identities: &(impl KeySource + ?Sized)) -> Result<Value, Error> {
    let Value::Map(entries) = &mut doc else {
        return Err(Error::Load("the document is not a mapping".to_string()));
    };
    let Some(position) = entries.iter().position(|(k, _)| k == "sops") else {
        return Err(Error::Load("sops metadata not found".to_string()));
    };
    let metadata = canonical_metadata(entries.remove(position).1);
    for unsupported in ["unencrypted_comment_regex", "encrypted_comment_regex"] {
        if text(metadata.get(unsupported)).is_some() {
            return Err(Error::Load(format!("'{unsupported}' is not supported")));
        }
    }
    let regex = |key: &str| -> Result<Option<regex::Regex>, Error> {
        text(metadata.get(key))
            .map(|r| {
                // SOPS is written in Go: its rules are Go regular expressions.
                flux_go::regexp::translate(&r)
                    .map_err(|e| format!("error parsing regexp: {e}"))
                    .and_then(|go| regex::Regex::new(&go).map_err(|e| e.to_string()))
                    .map_err(|e| Error::Load(format!("{key}: {e}")))
            })
            .transpose()
    };
    let rules = Rules {
        unencrypted_suffix: text(metadata.get("unencrypted_suffix")),
        encrypted_suffix: text(metadata.get("encrypted_suffix")),
        unencrypted_regex: regex("unencrypted_regex")?,
        encrypted_regex: regex("encrypted_regex")?,
    };
    let key = data_key(&metadata, identities)?;
    let mac_only_encrypted = matches!(metadata.get("mac_only_encrypted"), Some(Value::Bool(true)));
    let mut hash = Sha512::new();
    if mac_only_encrypted {
        // SOPS's fixed prefix, so that such a MAC never equals a full one.
        hash.update([
            0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47,
            0xbe, 0x0b, 0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81,
            0x76, 0xf2, 0x7d, 0x69,
        ]);
    }
    let mut path = Vec::new();
    walk(
        &mut doc,
        &mut path,
        &key,
        &rules,
        mac_only_encrypted,
        &mut hash,
    )?;
    let actual: String = hash.finalize().iter().map(|b| format!("{b:02X}")).collect();
    let last_modified = text(metadata.get("lastmodified"))
        .ok_or_else(|| Error::Load("sops metadata has no lastmodified".to_string()))?;
    let expected = match text(metadata.get("mac")) {
        Some(mac) => match decrypt_value(&mac, &key, &last_modified)? {
            Value::String(s) => s,
            other => format!("{other:?}"),
        },
        None => "no MAC".to_string(),
    };
    if expected != actual {
        return Err(Error::Mac { expected, actual });
    }
    Ok(doc)
}

/// The data key: the first age or OpenPGP stanza one of the keys opens.
fn data_key(metadata: &Value, keys: &(impl KeySource + ?Sized)) -> Result<Vec<u8>, Error> {
    let stanzas = |name: &str| match metadata.get(name) {
        Some(Value::Seq(items)) => items.clone(),
        _ => Vec::new(),
    };
    let (age_stanzas, pgp_stanzas) = (stanzas("age"), stanzas("pgp"));
    if age_stanzas.is_empty() && pgp_stanzas.is_empty() {
        return Err(Error::DataKey(
            "the document has no age or OpenPGP recipients (KMS and Vault keys are not supported)"
                .to_string(),
        ));
    }
    let mut failures = Vec::new();
    for stanza in &age_stanzas {
        let Some(enc) = text(stanza.get("enc")) else {
            continue;
        };
        let recipient = text(stanza.get("recipient")).unwrap_or_default();
        if keys.age().is_empty() {
            failures.push(format!("{recipient}: no age key given"));
            continue;
        }
        let reader = age::armor::ArmoredReader::new(enc.as_bytes());
        let opened = age::Decryptor::new(reader)
            .and_then(|d| d.decrypt(keys.age().iter().map(|i| i as &dyn age::Identity)));
        match opened {
            Ok(mut stream) => {
                let mut key = Vec::new();
                if stream.read_to_end(&mut key).is_ok() && key.len() == 32 {
                    return Ok(key);
                }
                failures.push(format!("{recipient}: the data key is malformed"));
            }
            Err(e) => failures.push(format!("{recipient}: {e}")),
        }
    }
    for stanza in &pgp_stanzas {
        let Some(enc) = text(stanza.get("enc")) else {
            continue;
        };
        let fingerprint = text(stanza.get("fp")).unwrap_or_default();
        if keys.pgp().is_empty() {
            failures.push(format!("{fingerprint}: no OpenPGP key given"));
            continue;
        }
        match open_pgp(&enc, keys.pgp()) {
            Ok(key) if key.len() == 32 => return Ok(key),
            Ok(_) => failures.push(format!("{fingerprint}: the data key is malformed")),
            Err(e) => failures.push(format!("{fingerprint}: {e}")),
        }
    }
    Err(Error::DataKey(format!(
        "no key could decrypt the data key: {}",
        failures.join("; ")
    )))
}

/// The plaintext of an armored OpenPGP message for one of `keys`.
fn open_pgp(armored: &str, keys: &[pgp::composed::SignedSecretKey]) -> Result<Vec<u8>, String> {
    let (message, _) = pgp::composed::Message::from_string(armored)
        .map_err(|e| format!("invalid OpenPGP message: {e}"))?;
    let empty = pgp::types::Password::empty();
    let passwords = keys.iter().map(|_| &empty).collect();
    let mut message = message
        .decrypt_with_keys(passwords, keys.iter().collect())
        .map_err(|e| format!("cannot decrypt: {e}"))?;
    if message.is_compressed() {
        message = message
            .decompress()
            .map_err(|e| format!("cannot decompress: {e}"))?;
    }
    message
        .as_data_vec()
        .map_err(|e| format!("cannot read: {e}"))
}

/// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` decrypted.
fn decrypt_value(encrypted: &str, key: &[u8], additional: &str) -> Result<Value, Error> {
    let bad = || Error::Decrypt("a value is not in SOPS's encrypted format".to_string());
    let inner = encrypted
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?;
    let (mut data, mut iv, mut tag, mut kind) = (None, None, None, None);
    for part in inner.split(',') {
        let (k, v) = part.split_once(':').ok_or_else(bad)?;
        match k {
            "data" => data = Some(v),
            "iv" => iv = Some(v),
            "tag" => tag = Some(v),
            "type" => kind = Some(v),
            _ => {}
        }
    }
    let decode = |s: Option<&str>| {
        base64::engine::general_purpose::STANDARD
            .decode(s.unwrap_or_default())
            .map_err(|_| bad())
    };
    let (mut message, iv, tag) = (decode(data)?, decode(iv)?, decode(tag)?);
    if iv.len() != 32 || tag.len() != 16 {
        return Err(bad());
    }
    message.extend_from_slice(&tag);
    let cipher = SopsCipher::new_from_slice(key)
        .map_err(|_| Error::Decrypt("the data key has the wrong length".to_string()))?;
    let nonce = aes_gcm::aead::Nonce::<SopsCipher>::try_from(iv.as_slice()).map_err(|_| bad())?;
    let plain = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &message,
                aad: additional.as_bytes(),
            },
        )
        .map_err(|_| {
            Error::Decrypt(format!(
                "could not decrypt the value at '{additional}': wrong key or tampered data"
            ))
        })?;
    let text = String::from_utf8(plain)
        .map_err(|_| Error::Decrypt(format!("the value at '{additional}' is not UTF-8")))?;
    let typed =
        |what: &str| Error::Decrypt(format!("the value at '{additional}' is not a valid {what}"));
    Ok(match kind.unwrap_or("str") {
        "int" => Value::Int(text.parse().map_err(|_| typed("int"))?),
        "float" => Value::Float(text.parse().map_err(|_| typed("float"))?),
        "bool" => Value::Bool(match text.as_str() {
            "True" | "true" => true,
            "False" | "false" => false,
            _ => return Err(typed("bool")),
        }),
        _ => Value::String(text),
    })
}

/// SOPS's `ToBytes`: what the MAC hashes for a value.
fn mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Uint(u) => u.to_string().into_bytes(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e21 {
                format!("{f:.0}").into_bytes()
            } else {
                f.to_string().into_bytes()
            }
        }
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Null | Value::Seq(_) | Value::Map(_) => Vec::new(),
    }
}

fn walk(
    node: &mut Value,
    path: &mut Vec<String>,
    key: &[u8],
    rules: &Rules,
    mac_only_encrypted: bool,
    hash: &mut Sha512,
) -> Result<(), Error> {
    match node {
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(k.clone());
                walk(v, path, key, rules, mac_only_encrypted, hash)?;
                path.pop();
            }
        }
        Value::Seq(items) => {
            for item in items.iter_mut() {
                walk(item, path, key, rules, mac_only_encrypted, hash)?;
            }
        }
        Value::Null => {}
        leaf => {
            let encrypted = rules.encrypted(path);
            if encrypted {
                let Value::String(s) = &*leaf else {
                    return Err(Error::Decrypt(format!(
                        "expected an encrypted value at '{}'",
                        path.join(":")
                    )));
                };
                let additional = format!("{}:", path.join(":"));
                *leaf = decrypt_value(s, key, &additional)?;
            }
            if !mac_only_encrypted || encrypted {
                hash.update(mac_bytes(leaf));
            }
        }
    }
    Ok(())
}
