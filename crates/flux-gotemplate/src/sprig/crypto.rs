//! sprig's cryptography: bcrypt and htpasswd, the Master Password
//! `derivePassword`, private keys and X.509 certificates (`genCA`,
//! `genSelfSignedCert`, `genSignedCert` and their `WithKey` forms,
//! `buildCustomCert`), AES-256-CBC `encryptAES`/`decryptAES`, and
//! `getHostByName`. Keys and certificates come out in the PEM forms Go
//! writes (PKCS#1 for RSA, SEC1 for ECDSA, PKCS#8 for Ed25519).

use std::rc::Rc;

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use base64::Engine as _;
use sha2::Digest as _;

use super::{F, arg, n, random_bytes, s};
use crate::value::{Object, Value};

/// Go's `sprig.certificate{Cert, Key}`.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// PEM of the certificate.
    pub cert: String,
    /// PEM of its private key.
    pub key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(&self.cert)),
            "Key" => Some(Value::str(&self.key)),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn cert_value(c: Certificate) -> Value {
    Value::Object(Rc::new(c))
}

fn cert_arg(v: &Value) -> Certificate {
    match v {
        Value::Object(o) => {
            o.as_any()
                .downcast_ref::<Certificate>()
                .cloned()
                .unwrap_or(Certificate {
                    cert: String::new(),
                    key: String::new(),
                })
        }
        _ => Certificate {
            cert: String::new(),
            key: String::new(),
        },
    }
}

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("bcrypt", "string", "string", |_, a| {
        Ok(Value::string(bcrypt_or_message(s(&a, 0))?))
    });
    add("htpasswd", "string,string", "string", |_, a| {
        let user = s(&a, 0);
        if user.contains(':') {
            return Ok(Value::string(format!("invalid username: {user}")));
        }
        Ok(Value::string(format!(
            "{user}:{}",
            bcrypt_or_message(s(&a, 1))?
        )))
    });
    add(
        "derivePassword",
        "uint32,string,string,string,string",
        "string",
        |_, a| {
            let counter = match arg(&a, 0) {
                Value::Uint32(c) => *c,
                _ => 0,
            };
            Ok(Value::string(derive_password(
                counter,
                s(&a, 1),
                s(&a, 2),
                s(&a, 3),
                s(&a, 4),
            )))
        },
    );
    add("genPrivateKey", "string", "string", |_, a| {
        Ok(Value::string(gen_private_key(s(&a, 0))))
    });
    add(
        "buildCustomCert",
        "string,string",
        "sprig.certificate,error",
        |_, a| build_custom_cert(s(&a, 0), s(&a, 1)).map(cert_value),
    );
    add("genCA", "string,int", "sprig.certificate,error", |_, a| {
        let key = rsa_2048()?;
        gen_cert(s(&a, 0), &[], &[], n(&a, 1), key, None, true).map(cert_value)
    });
    add(
        "genCAWithKey",
        "string,int,string",
        "sprig.certificate,error",
        |_, a| {
            let key = key_arg(&a, 2)?;
            gen_cert(s(&a, 0), &[], &[], n(&a, 1), key, None, true).map(cert_value)
        },
    );
    add(
        "genSelfSignedCert",
        "string,[]interface {},[]interface {},int",
        "sprig.certificate,error",
        |_, a| leaf_cert(&a, rsa_2048()?, None),
    );
    add(
        "genSelfSignedCertWithKey",
        "string,[]interface {},[]interface {},int,string",
        "sprig.certificate,error",
        |_, a| leaf_cert(&a, key_arg(&a, 4)?, None),
    );
    add(
        "genSignedCert",
        "string,[]interface {},[]interface {},int,sprig.certificate",
        "sprig.certificate,error",
        |_, a| leaf_cert(&a, rsa_2048()?, Some(cert_arg(arg(&a, 4)))),
    );
    add(
        "genSignedCertWithKey",
        "string,[]interface {},[]interface {},int,sprig.certificate,string",
        "sprig.certificate,error",
        |_, a| leaf_cert(&a, key_arg(&a, 5)?, Some(cert_arg(arg(&a, 4)))),
    );
    add("encryptAES", "string,string", "string,error", |_, a| {
        encrypt_aes(s(&a, 0), s(&a, 1)).map(Value::string)
    });
    add("decryptAES", "string,string", "string,error", |_, a| {
        decrypt_aes(s(&a, 0), s(&a, 1)).map(Value::string)
    });
    add("getHostByName", "string", "string", |_, a| {
        use std::net::ToSocketAddrs;
        let addrs: Vec<String> = (s(&a, 0), 0u16)
            .to_socket_addrs()
            .map(|it| it.map(|a| a.ip().to_string()).collect())
            .unwrap_or_default();
        if addrs.is_empty() {
            return Err("invalid argument to Intn".into());
        }
        let r = random_bytes(1)?;
        Ok(Value::string(
            addrs[usize::from(r[0]) % addrs.len()].clone(),
        ))
    });
}

/// A `PRIVATE KEY` PEM argument, with sprig's error wording.
fn key_arg(a: &[Value], i: usize) -> Result<rcgen::KeyPair, String> {
    parse_key(s(a, i)).map_err(|e| format!("parsing private key: {e}"))
}

/// The leaf certificate of the `genSelfSignedCert`/`genSignedCert`
/// family: (cn, ips, dnsNames, days, …) with `key`, signed by `ca` or by
/// itself.
fn leaf_cert(
    a: &[Value],
    key: rcgen::KeyPair,
    ca: Option<Certificate>,
) -> crate::value::FuncResult {
    gen_cert(
        s(a, 0),
        &list(arg(a, 1)),
        &list(arg(a, 2)),
        n(a, 3),
        key,
        ca,
        false,
    )
    .map(cert_value)
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.items.clone(),
        _ => Vec::new(),
    }
}

// ----- bcrypt -----

const BCRYPT_ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn bcrypt_b64(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        let n = chunk.len() + 1;
        for i in 0..n {
            out.push(char::from(
                BCRYPT_ALPHABET[((v >> (18 - 6 * i)) & 63) as usize],
            ));
        }
    }
    out
}

fn bcrypt_b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = BCRYPT_ALPHABET.iter().position(|x| *x == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// The bcrypt hash (`$2a$`, cost 10) of `password` with `salt`.
fn bcrypt_raw(password: &[u8], salt: &[u8; 16], cost: u32) -> [u8; 23] {
    let mut key = password.to_vec();
    key.push(0);
    let mut state = blowfish::Blowfish::bc_init_state();
    state.salted_expand_key(salt, &key);
    for _ in 0..(1u64 << cost) {
        state.bc_expand_key(&key);
        state.bc_expand_key(salt);
    }
    let magic = b"OrpheanBeholderScryDoubt";
    let mut words = [0u32; 6];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u32::from_be_bytes([
            magic[i * 4],
            magic[i * 4 + 1],
            magic[i * 4 + 2],
            magic[i * 4 + 3],
        ]);
    }
    for _ in 0..64 {
        for j in 0..3 {
            let [l, r] = state.bc_encrypt([words[j * 2], words[j * 2 + 1]]);
            words[j * 2] = l;
            words[j * 2 + 1] = r;
        }
    }
    let mut out = [0u8; 24];
    for (i, w) in words.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
    }
    let mut h = [0u8; 23];
    h.copy_from_slice(&out[..23]);
    h
}

/// Why a password could not be hashed, in Go's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BcryptError {
    /// bcrypt reads at most 72 bytes.
    TooLong,
    /// No random salt could be drawn.
    Random(String),
}

impl std::fmt::Display for BcryptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BcryptError::TooLong => f.write_str("bcrypt: password length exceeds 72 bytes"),
            BcryptError::Random(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BcryptError {}

/// `bcrypt.GenerateFromPassword(password, 10)`.
pub fn bcrypt_hash(password: &str) -> Result<String, BcryptError> {
    if password.len() > 72 {
        return Err(BcryptError::TooLong);
    }
    let r = random_bytes(16).map_err(BcryptError::Random)?;
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&r);
    let h = bcrypt_raw(password.as_bytes(), &salt, 10);
    Ok(format!("$2a$10${}{}", bcrypt_b64(&salt), bcrypt_b64(&h)))
}

/// Checks a `$2a$`/`$2b$`/`$2y$` hash.
pub fn bcrypt_verify(password: &str, hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, cost, rest] = parts.as_slice() else {
        return false;
    };
    let (Ok(cost), Some(salt)) = (
        cost.parse::<u32>(),
        rest.get(..22).and_then(bcrypt_b64_decode),
    ) else {
        return false;
    };
    if salt.len() < 16 || !(4..=31).contains(&cost) {
        return false;
    }
    let mut s16 = [0u8; 16];
    s16.copy_from_slice(&salt[..16]);
    let h = bcrypt_raw(password.as_bytes(), &s16, cost);
    rest.get(22..) == Some(bcrypt_b64(&h).as_str())
}

fn bcrypt_or_message(p: &str) -> Result<String, String> {
    Ok(match bcrypt_hash(p) {
        Ok(h) => h,
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    })
}

// ----- Master Password -----

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = sha2::Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let ih = inner.finalize();
    let mut outer = sha2::Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(ih);
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer.finalize());
    out
}

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        b'x' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        _ => b"",
    }
}

/// The Master Password algorithm (v3) as sprig implements it.
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(tpls) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let seed_prefix = b"com.lyndir.masterpassword";
    let mut salt = seed_prefix.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2, 64) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = seed_prefix.to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let seed = hmac_sha256(&key, &msg);
    let tpl = tpls[usize::from(seed[0]) % tpls.len()].as_bytes();
    tpl.iter()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_chars(*c);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

// ----- keys -----

/// A minimal DER reader: (tag, content, rest).
fn der_next(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut l = 0usize;
        for i in 0..n {
            l = (l << 8) | usize::from(*b.get(2 + i)?);
        }
        (l, 2 + n)
    };
    let content = b.get(hdr..hdr + len)?;
    Some((tag, content, &b[hdr + len..]))
}

fn der_write(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The private key octets inside a PKCS#8 PrivateKeyInfo; a key that is
/// not PKCS#8 (PKCS#1, SEC1: what a parsed PEM keeps) is returned whole.
fn pkcs8_inner(der: &[u8]) -> Option<&[u8]> {
    let (_, seq, _) = der_next(der)?;
    let (_, _version, rest) = der_next(seq)?;
    let (alg_tag, _alg, rest) = der_next(rest)?;
    if alg_tag != 0x30 {
        return Some(der);
    }
    let (tag, key, _) = der_next(rest)?;
    (tag == 0x04).then_some(key)
}

const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The PEM Go writes for a key: PKCS#1 RSA, SEC1 EC (with the curve),
/// PKCS#8 v1 Ed25519.
fn key_pem(kp: &rcgen::KeyPair) -> Result<String, String> {
    let der = kp.serialize_der();
    let alg = kp.algorithm();
    let (label, body) = if alg == &rcgen::PKCS_RSA_SHA256 {
        (
            "RSA PRIVATE KEY",
            pkcs8_inner(&der).ok_or("malformed RSA key")?.to_vec(),
        )
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        let inner = pkcs8_inner(&der).ok_or("malformed EC key")?;
        let (_, seq, _) = der_next(inner).ok_or("malformed EC key")?;
        let (_, version, rest) = der_next(seq).ok_or("malformed EC key")?;
        let (_, private, mut rest) = der_next(rest).ok_or("malformed EC key")?;
        let mut params = der_write(0xa0, OID_P256);
        let mut public = Vec::new();
        while let Some((tag, content, r)) = der_next(rest) {
            match tag {
                0xa0 => params = der_write(0xa0, content),
                0xa1 => public = der_write(0xa1, content),
                _ => {}
            }
            rest = r;
        }
        let mut body = der_write(0x02, version);
        body.extend(der_write(0x04, private));
        body.extend(params);
        body.extend(public);
        ("EC PRIVATE KEY", der_write(0x30, &body))
    } else {
        let inner = pkcs8_inner(&der).ok_or("malformed Ed25519 key")?;
        let (_, seed, _) = der_next(inner).ok_or("malformed Ed25519 key")?;
        let mut body = der_write(0x02, &[0]);
        body.extend(der_write(0x30, &[0x06, 0x03, 0x2b, 0x65, 0x70]));
        body.extend(der_write(0x04, &der_write(0x04, seed)));
        ("PRIVATE KEY", der_write(0x30, &body))
    };
    Ok(pem(label, &body))
}

fn pem(label: &str, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn gen_private_key(kind: &str) -> String {
    let kp = match kind {
        "" | "rsa" => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)
        }
        "ecdsa" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        "ed25519" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519),
        "dsa" => return "failed to generate dsa params: DSA keys are not supported".into(),
        other => return format!("Unknown type {other}"),
    };
    match kp.map_err(|e| e.to_string()).and_then(|k| key_pem(&k)) {
        Ok(p) => p,
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

fn rsa_2048() -> Result<rcgen::KeyPair, String> {
    rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| format!("error generating rsa key: {e}"))
}

/// Parses a PEM private key as sprig does (PKCS#8, PKCS#1, SEC1).
fn parse_key(pem_text: &str) -> Result<rcgen::KeyPair, String> {
    let trimmed = pem_text.trim_start();
    let Some(label) = trimmed
        .strip_prefix("-----BEGIN ")
        .and_then(|r| r.split_once("-----"))
        .map(|(l, _)| l.to_string())
    else {
        return Err("no PEM data in input".into());
    };
    if label != "PRIVATE KEY" && !label.ends_with(" PRIVATE KEY") {
        return Err(format!("no private key data in PEM block of type {label}"));
    }
    match label.as_str() {
        "PRIVATE KEY" => {
            rcgen::KeyPair::from_pem(pem_text).map_err(|e| format!("decoding PEM as PKCS#8: {e}"))
        }
        "RSA PRIVATE KEY" => rcgen::KeyPair::from_pem(pem_text)
            .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
        "EC PRIVATE KEY" => rcgen::KeyPair::from_pem(pem_text)
            .map_err(|e| format!("parsing EC private key from PEM: {e}")),
        "DSA PRIVATE KEY" => {
            Err("parsing DSA private key from PEM: DSA keys are not supported".into())
        }
        _ => Err(format!("invalid private key type {label}")),
    }
}

fn strings_of(v: &[Value], what: &str) -> Result<Vec<String>, String> {
    v.iter()
        .map(|x| match x {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(format!(
                "{what}: {} is not a string",
                crate::gofmt::sprint(std::slice::from_ref(other))
            )),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn gen_cert(
    cn: &str,
    ips: &[Value],
    dns: &[Value],
    days: i64,
    key: rcgen::KeyPair,
    ca: Option<Certificate>,
    is_ca: bool,
) -> Result<Certificate, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
        KeyUsagePurpose, SanType,
    };
    let ips = strings_of(ips, "error parsing ip")?;
    let dns = strings_of(dns, "error processing alternate dns name")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    for ip in &ips {
        let addr: std::net::IpAddr = ip.parse().map_err(|_| format!("error parsing ip: {ip}"))?;
        params.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for d in &dns {
        params.subject_alt_names.push(SanType::DnsName(
            d.as_str()
                .try_into()
                .map_err(|e| format!("error creating certificate: {e}"))?,
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    params.not_before =
        time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| e.to_string())?;
    params.not_after =
        time::OffsetDateTime::from_unix_timestamp(now.saturating_add(days.saturating_mul(86400)))
            .map_err(|e| format!("error creating certificate: {e}"))?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_bytes(16)?));
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    if is_ca {
        params.key_usages.push(KeyUsagePurpose::KeyCertSign);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
    }
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = match ca {
        None => params
            .self_signed(&key)
            .map_err(|e| format!("error creating certificate: {e}"))?,
        Some(ca) => {
            if !ca.cert.contains("-----BEGIN") {
                return Err("unable to decode certificate".into());
            }
            let ca_key =
                parse_key(&ca.key).map_err(|e| format!("error parsing private key: {e}"))?;
            let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.cert, ca_key)
                .map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
            params
                .signed_by(&key, &issuer)
                .map_err(|e| format!("error creating certificate: {e}"))?
        }
    };
    Ok(Certificate {
        cert: cert.pem().replace("\r\n", "\n"),
        key: key_pem(&key)?,
    })
}

fn build_custom_cert(b64cert: &str, b64key: &str) -> Result<Certificate, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = b64
        .decode(b64cert)
        .map_err(|_| "unable to decode base64 certificate".to_string())?;
    let key = b64
        .decode(b64key)
        .map_err(|_| "unable to decode base64 private key".to_string())?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    if !cert.contains("-----BEGIN") {
        return Err("unable to decode certificate".into());
    }
    parse_key(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok(Certificate { cert, key })
}

// ----- AES -----

fn aes_key(password: &str) -> aes::Aes256 {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    key[..p.len().min(32)].copy_from_slice(&p[..p.len().min(32)]);
    aes::Aes256::new(&key.into())
}

fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, String> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let cipher = aes_key(password);
    let mut content = plaintext.as_bytes().to_vec();
    let pad = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(pad as u8, pad));
    let iv = random_bytes(16)?;
    let mut out = iv.clone();
    let mut prev: [u8; 16] = iv.try_into().map_err(|_| "iv".to_string())?;
    for chunk in content.chunks(16) {
        let mut block = [0u8; 16];
        for i in 0..16 {
            block[i] = chunk[i] ^ prev[i];
        }
        let mut b = block.into();
        cipher.encrypt_block(&mut b);
        prev.copy_from_slice(&b);
        out.extend_from_slice(&prev);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let cipher = aes_key(password);
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(i, _) => {
                format!("illegal base64 data at input byte {i}")
            }
            _ => format!(
                "illegal base64 data at input byte {}",
                crypt64.len() / 4 * 4
            ),
        })?;
    if crypt.len() < 16 {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt.len()
        ));
    }
    let (iv, body) = crypt.split_at(16);
    if !body.len().is_multiple_of(16) {
        return Err("crypto/cipher: input not full blocks".into());
    }
    if body.is_empty() {
        return Err("runtime error: index out of range [-1]".into());
    }
    let mut prev = [0u8; 16];
    prev.copy_from_slice(iv);
    let mut out = Vec::with_capacity(body.len());
    for chunk in body.chunks(16) {
        let mut b = [0u8; 16];
        b.copy_from_slice(chunk);
        let mut block = b.into();
        cipher.decrypt_block(&mut block);
        for i in 0..16 {
            out.push(block[i] ^ prev[i]);
        }
        prev = b;
    }
    // Go's sprig strips as many bytes as the last one says, unchecked.
    let pad = usize::from(*out.last().unwrap_or(&0));
    if pad > out.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [:{}]",
            out.len() as i64 - pad as i64
        ));
    }
    out.truncate(out.len() - pad);
    Ok(String::from_utf8_lossy(&out).into_owned())
}
