//! Strict parsing of user manifests: an unknown field is an error that names
//! it with its path, as the API server's strict field validation does.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A manifest that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not YAML.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A field the type does not have.
    #[error("unknown field \"{0}\"")]
    UnknownField(String),
    /// A field of the wrong type or value, or a missing required field.
    #[error("{path}: {message}")]
    Invalid {
        /// Dotted path of the field (`spec.ref.branch`), `.` for the root.
        path: String,
        /// What is wrong.
        message: String,
    },
}

const TOP_LEVEL: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

/// Parses one YAML document into `T`, rejecting unknown fields.
pub fn from_yaml<T: DeserializeOwned>(yaml: &str) -> Result<T, ParseError> {
    let value: Value = serde_saphyr::from_str(yaml).map_err(|e| ParseError::Yaml(e.to_string()))?;
    from_value(value)
}

/// Converts a JSON value into `T`, rejecting unknown fields.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ParseError> {
    if let Value::Object(map) = &value
        && let Some(unknown) = map.keys().find(|k| !TOP_LEVEL.contains(&k.as_str()))
    {
        return Err(ParseError::UnknownField(unknown.clone()));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        match unknown_field_name(&message) {
            Some(field) if path == "." => ParseError::UnknownField(field.to_string()),
            Some(field) => {
                // serde_path_to_error points at the unknown field itself.
                let parent = path.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
                let full = if path.ends_with(field) || parent.is_empty() {
                    path.clone()
                } else {
                    format!("{parent}.{field}")
                };
                ParseError::UnknownField(full)
            }
            None => ParseError::Invalid { path, message },
        }
    })
}

/// `unknown field `x`, expected …` → `x`.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}
