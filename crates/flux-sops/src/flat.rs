//! SOPS's flat formats: dotenv (`KEY=value` lines, metadata as `sops_*`
//! keys), INI (sections of `key = value`, metadata in a `[sops]` section)
//! and binary (a JSON document whose `data` holds the whole file). Each is
//! read into the same tree the YAML path decrypts — so key paths, the
//! encryption rules and the MAC are SOPS's — and written back in its own
//! format. Comments (encrypted by SOPS, never part of the MAC) are dropped.

use flux_yaml::Value;

use crate::{Error, decrypt, is_encrypted};

/// The file formats SOPS encrypts, chosen by file name as `sops` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.yaml`, `.yml`.
    Yaml,
    /// `.json`.
    Json,
    /// `.env`.
    Dotenv,
    /// `.ini`.
    Ini,
    /// Anything else: the whole file is one value.
    Binary,
}

impl Format {
    /// The format `sops` uses for a file name.
    pub fn for_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }
}

/// Rebuilds the metadata tree from SOPS's flattened keys
/// (`age__list_0__map_enc` → `age[0].enc`).
fn unflatten(entries: Vec<(String, String)>) -> Result<Value, Error> {
    let mut root = Value::Map(Vec::new());
    for (key, value) in entries {
        let value = match (key.as_str(), value.as_str()) {
            ("mac_only_encrypted", "true") => Value::Bool(true),
            ("mac_only_encrypted", "false") => Value::Bool(false),
            _ => Value::String(value),
        };
        let mut tokens: Vec<Token> = Vec::new();
        let mut rest = key.as_str();
        let first_end = rest.find("__").unwrap_or(rest.len());
        tokens.push(Token::Key(rest[..first_end].to_string()));
        rest = &rest[first_end..];
        while !rest.is_empty() {
            let (token, tail) = if let Some(tail) = rest.strip_prefix("__map_") {
                let end = tail.find("__").unwrap_or(tail.len());
                (Token::Key(tail[..end].to_string()), &tail[end..])
            } else if let Some(tail) = rest.strip_prefix("__list_") {
                let end = tail.find("__").unwrap_or(tail.len());
                let index = tail[..end]
                    .parse::<usize>()
                    .map_err(|_| Error::Load(format!("invalid flattened metadata key '{key}'")))?;
                (Token::Index(index), &tail[end..])
            } else {
                return Err(Error::Load(format!(
                    "invalid flattened metadata key '{key}'"
                )));
            };
            tokens.push(token);
            rest = tail;
        }
        insert(&mut root, &tokens, value, &key)?;
    }
    Ok(root)
}

enum Token {
    Key(String),
    Index(usize),
}

fn insert(node: &mut Value, tokens: &[Token], value: Value, key: &str) -> Result<(), Error> {
    let Some((first, rest)) = tokens.split_first() else {
        *node = value;
        return Ok(());
    };
    let bad = || Error::Load(format!("invalid flattened metadata key '{key}'"));
    let empty = |next: Option<&Token>| match next {
        Some(Token::Index(_)) => Value::Seq(Vec::new()),
        _ => Value::Map(Vec::new()),
    };
    match first {
        Token::Key(name) => {
            let Value::Map(entries) = node else {
                return Err(bad());
            };
            let position = match entries.iter().position(|(k, _)| k == name) {
                Some(p) => p,
                None => {
                    entries.push((name.clone(), empty(rest.first())));
                    entries.len() - 1
                }
            };
            insert(&mut entries[position].1, rest, value, key)
        }
        Token::Index(index) => {
            let Value::Seq(items) = node else {
                return Err(bad());
            };
            // A bounded gap: indexes come in order from SOPS.
            if *index > items.len() + 1024 {
                return Err(bad());
            }
            while items.len() <= *index {
                items.push(empty(rest.first()));
            }
            insert(&mut items[*index], rest, value, key)
        }
    }
}

fn plain_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Seq(_) | Value::Map(_) => String::new(),
    }
}

/// Decrypts a SOPS-encrypted dotenv file to plain dotenv text.
pub fn decrypt_dotenv(
    text: &str,
    identities: &(impl crate::KeySource + ?Sized),
) -> Result<String, Error> {
    let mut data = Vec::new();
    let mut metadata = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| Error::Load("a dotenv line has no '='".to_string()))?;
        let value = value.replace("\\n", "\n");
        match key.strip_prefix("sops_") {
            Some(flat) => metadata.push((flat.to_string(), value)),
            None => data.push((key.to_string(), Value::String(value))),
        }
    }
    data.push(("sops".to_string(), unflatten(metadata)?));
    let doc = Value::Map(data);
    if !is_encrypted(&doc) {
        return Err(Error::Load("sops metadata not found".to_string()));
    }
    let Value::Map(entries) = decrypt(doc, identities)? else {
        return Err(Error::Load("the document is not a mapping".to_string()));
    };
    Ok(entries
        .iter()
        .map(|(k, v)| format!("{k}={}\n", plain_string(v).replace('\n', "\\n")))
        .collect())
}

/// Decrypts a SOPS-encrypted INI file to plain INI text.
pub fn decrypt_ini(
    text: &str,
    identities: &(impl crate::KeySource + ?Sized),
) -> Result<String, Error> {
    let mut sections: Vec<(String, Value)> = Vec::new();
    let mut metadata = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            if name != "sops" {
                sections.push((name.to_string(), Value::Map(Vec::new())));
            }
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| Error::Load("an INI line has no '='".to_string()))?;
        let (key, value) = (key.trim().to_string(), value.trim().replace("\\n", "\n"));
        match current.as_deref() {
            Some("sops") => metadata.push((key, value)),
            Some(_) => {
                if let Some((_, Value::Map(entries))) = sections.last_mut() {
                    entries.push((key, Value::String(value)));
                }
            }
            None => {
                return Err(Error::Load(
                    "a key outside any INI section is not supported".to_string(),
                ));
            }
        }
    }
    sections.push(("sops".to_string(), unflatten(metadata)?));
    let doc = Value::Map(sections);
    if !is_encrypted(&doc) {
        return Err(Error::Load("sops metadata not found".to_string()));
    }
    let Value::Map(sections) = decrypt(doc, identities)? else {
        return Err(Error::Load("the document is not a mapping".to_string()));
    };
    let mut out = String::new();
    for (name, entries) in &sections {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("[{name}]\n"));
        if let Value::Map(entries) = entries {
            for (k, v) in entries {
                out.push_str(&format!("{k} = {}\n", plain_string(v).replace('\n', "\\n")));
            }
        }
    }
    Ok(out)
}

/// Decrypts a SOPS-encrypted binary file (JSON with `data` and `sops`) to
/// the bytes it encrypted.
pub fn decrypt_binary(
    text: &str,
    identities: &(impl crate::KeySource + ?Sized),
) -> Result<Vec<u8>, Error> {
    let mut docs = crate::decrypt_documents(text, identities)?;
    let doc = (docs.len() == 1)
        .then(|| docs.remove(0))
        .ok_or_else(|| Error::Load("a binary file is one JSON document".to_string()))?;
    match doc.get("data") {
        Some(Value::String(data)) => Ok(data.clone().into_bytes()),
        _ => Err(Error::Load(
            "a binary file's document has no string 'data'".to_string(),
        )),
    }
}
