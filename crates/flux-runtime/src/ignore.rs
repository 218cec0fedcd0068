//! Ignore rules (`spec.ignore` of Kustomizations, `spec.driftDetection.ignore`
//! of HelmReleases): JSON pointers an object leaves out of drift detection
//! and apply, chosen by target selector.

/// A `spec.ignore` target selector that does not compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("spec.ignore: {0}")]
pub struct IgnoreRuleError(pub String);

/// The JSON pointers each object leaves out of drift
/// detection and apply, by target selector (regular expressions over
/// group, version, kind, name, namespace; label and annotation selectors;
/// no target: every object).
pub struct IgnoreRules {
    rules: Vec<(Option<flux_kustomize::CompiledTarget>, Vec<String>)>,
}

impl IgnoreRules {
    /// Compiles the rules; an invalid expression or selector is an error.
    pub fn new(rules: &[flux_api::kustomize::v1::IgnoreRule]) -> Result<Self, IgnoreRuleError> {
        let mut compiled = Vec::new();
        for rule in rules {
            let target = rule
                .target
                .as_ref()
                .map(|t| {
                    flux_kustomize::Target {
                        group: t.group.clone().unwrap_or_default(),
                        version: t.version.clone().unwrap_or_default(),
                        kind: t.kind.clone().unwrap_or_default(),
                        name: t.name.clone().unwrap_or_default(),
                        namespace: t.namespace.clone().unwrap_or_default(),
                        label_selector: t.label_selector.clone().unwrap_or_default(),
                        annotation_selector: t.annotation_selector.clone().unwrap_or_default(),
                    }
                    .compile()
                })
                .transpose()
                .map_err(|e| IgnoreRuleError(e.to_string()))?;
            compiled.push((target, rule.paths.clone()));
        }
        Ok(Self { rules: compiled })
    }

    /// The pointers that apply to `object`.
    pub fn paths(&self, object: &serde_json::Value) -> Vec<String> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let text = |path: &[&str]| {
            let mut v = object;
            for key in path {
                v = match v.get(key) {
                    Some(next) => next,
                    None => return String::new(),
                };
            }
            v.as_str().unwrap_or_default().to_string()
        };
        let api_version = text(&["apiVersion"]);
        let (group, version) = api_version
            .split_once('/')
            .map_or((String::new(), api_version.clone()), |(g, v)| {
                (g.to_string(), v.to_string())
            });
        let id = flux_kustomize::ResId {
            group,
            version,
            kind: text(&["kind"]),
            namespace: text(&["metadata", "namespace"]),
            name: text(&["metadata", "name"]),
        };
        let metadata = flux_kustomize::objects::json_to_value(object);
        self.rules
            .iter()
            .filter(|(target, _)| {
                target
                    .as_ref()
                    .is_none_or(|t| t.matches_id(&id) && t.matches_metadata(&metadata))
            })
            .flat_map(|(_, paths)| paths.iter().cloned())
            .collect()
    }
}
