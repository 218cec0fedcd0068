//! The errors of the engine's public functions, one type per area. Each
//! carries Helm's own message (the differential tests compare them with
//! the real `helm`), so `Display` is the message as Helm prints it.

macro_rules! message_errors {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        pub struct $name(pub String);

        impl From<String> for $name {
            fn from(message: String) -> Self {
                Self(message)
            }
        }

        impl From<&str> for $name {
            fn from(message: &str) -> Self {
                Self(message.to_string())
            }
        }

        // Internal code composes messages as text.
        impl From<$name> for String {
            fn from(error: $name) -> String {
                error.0
            }
        }
    )*};
}

message_errors!(
    /// Values files, `--set` expressions or values coalescing failed.
    ValuesError,
    /// A template did not parse or execute (`parse error at (…)`,
    /// `execution error at (…)`).
    TemplateError,
    /// Rendered manifests could not be sorted into hooks and resources.
    ManifestError,
    /// A release record could not be encoded or decoded.
    ReleaseError,
    /// YAML or JSON did not read as Helm reads it.
    YamlError,
    /// A `.helmignore` rule or glob pattern is invalid.
    PatternError,
    /// A `--kube-version` that is not a Kubernetes version.
    KubeVersionError,
);
