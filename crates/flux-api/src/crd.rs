//! CustomResourceDefinitions assembled from our types: one per kind, with
//! every served version, in the shape of upstream's CRDs.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use crate::schema::structural;

/// The annotation that keeps Flux's post-build substitution off the CRDs themselves.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// An `additionalPrinterColumns` entry.
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    /// Column header.
    pub name: &'static str,
    /// `string`, `date`, `integer`, `boolean`, …
    pub r#type: &'static str,
    /// JSONPath into the object.
    pub json_path: &'static str,
    /// 0 shows by default; higher only with `-o wide`.
    pub priority: Option<i32>,
}

impl PrinterColumn {
    /// A column shown by default.
    pub const fn new(name: &'static str, r#type: &'static str, json_path: &'static str) -> Self {
        Self {
            name,
            r#type,
            json_path,
            priority: None,
        }
    }
}

/// The `Age`, `Ready` and `Status` columns of every Flux kind.
pub const AGE: PrinterColumn = PrinterColumn::new("Age", "date", ".metadata.creationTimestamp");
/// The `Ready` column.
pub const READY: PrinterColumn = PrinterColumn::new(
    "Ready",
    "string",
    ".status.conditions[?(@.type==\"Ready\")].status",
);
/// The `Status` column (the Ready condition's message).
pub const STATUS: PrinterColumn = PrinterColumn::new(
    "Status",
    "string",
    ".status.conditions[?(@.type==\"Ready\")].message",
);

/// One served version of a kind.
#[derive(Clone, Debug)]
pub struct CrdVersion {
    /// `v1`, `v1beta2`, …
    pub name: &'static str,
    /// Whether this is the storage version.
    pub storage: bool,
    /// The `openAPIV3Schema`.
    pub schema: Value,
    /// Whether the `status` subresource is enabled.
    pub status_subresource: bool,
    /// Printer columns.
    pub columns: Vec<PrinterColumn>,
    /// A deprecation warning, for versions upstream deprecated.
    pub deprecation_warning: Option<&'static str>,
}

impl CrdVersion {
    /// A version whose objects have `spec` of type `Spec` and `status` of type
    /// `Status`; `status` defaults to `status_default` when given.
    pub fn new<Spec: JsonSchema, Status: JsonSchema>(
        name: &'static str,
        status_default: Option<Value>,
    ) -> Self {
        let mut status = structural::<Status>();
        if let (Some(default), Value::Object(map)) = (status_default, &mut status) {
            map.insert("default".to_string(), default);
        }
        let schema = json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": structural::<Spec>(),
                "status": status,
            }
        });
        Self {
            name,
            storage: false,
            schema,
            status_subresource: true,
            columns: Vec::new(),
            deprecation_warning: None,
        }
    }

    /// A version without status (Provider and Alert v1beta3).
    pub fn without_status<Spec: JsonSchema>(name: &'static str) -> Self {
        let schema = json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": structural::<Spec>(),
            }
        });
        Self {
            name,
            storage: false,
            schema,
            status_subresource: false,
            columns: Vec::new(),
            deprecation_warning: None,
        }
    }

    /// Marks this the storage version.
    pub fn storage(mut self) -> Self {
        self.storage = true;
        self
    }

    /// Sets the printer columns.
    pub fn columns(mut self, columns: &[PrinterColumn]) -> Self {
        self.columns = columns.to_vec();
        self
    }

    /// Sets a deprecation warning.
    pub fn deprecated(mut self, warning: &'static str) -> Self {
        self.deprecation_warning = Some(warning);
        self
    }
}

/// A kind and all its versions.
#[derive(Clone, Debug)]
pub struct CrdDefinition {
    /// API group.
    pub group: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural resource name.
    pub plural: &'static str,
    /// Short names for kubectl.
    pub short_names: &'static [&'static str],
    /// Categories for kubectl.
    pub categories: &'static [&'static str],
    /// Whether the CRD carries `kustomize.toolkit.fluxcd.io/substitute: disabled`.
    pub substitute_disabled: bool,
    /// Served versions.
    pub versions: Vec<CrdVersion>,
}

impl CrdDefinition {
    /// The CRD's name, `<plural>.<group>`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }

    /// The CRD as JSON, keys sorted.
    pub fn to_value(&self) -> Value {
        let mut names = json!({
            "kind": self.kind,
            "listKind": format!("{}List", self.kind),
            "plural": self.plural,
            "singular": self.kind.to_lowercase(),
        });
        if !self.short_names.is_empty() {
            names["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            names["categories"] = json!(self.categories);
        }
        let versions: Vec<Value> = self
            .versions
            .iter()
            .map(|v| {
                let mut version = json!({
                    "name": v.name,
                    "served": true,
                    "storage": v.storage,
                    "schema": {"openAPIV3Schema": v.schema},
                });
                version["subresources"] = if v.status_subresource {
                    json!({"status": {}})
                } else {
                    json!({})
                };
                if !v.columns.is_empty() {
                    version["additionalPrinterColumns"] = v
                        .columns
                        .iter()
                        .map(|c| {
                            let mut column =
                                json!({"name": c.name, "type": c.r#type, "jsonPath": c.json_path});
                            if let Some(p) = c.priority {
                                column["priority"] = json!(p);
                            }
                            column
                        })
                        .collect();
                }
                if let Some(warning) = v.deprecation_warning {
                    version["deprecated"] = json!(true);
                    version["deprecationWarning"] = json!(warning);
                }
                version
            })
            .collect();
        let mut metadata = json!({"name": self.name()});
        if self.substitute_disabled {
            metadata["annotations"] = json!({SUBSTITUTE_ANNOTATION: "disabled"});
        }
        let mut crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": metadata,
            "spec": {
                "group": self.group,
                "names": names,
                "scope": "Namespaced",
                "versions": versions,
            }
        });
        sort_keys(&mut crd);
        crd
    }

    /// The CRD as the Kubernetes type.
    pub fn to_crd(&self) -> Result<CustomResourceDefinition, serde_json::Error> {
        serde_json::from_value(self.to_value())
    }

    /// The CRD as YAML, as written to `manifests/crds/`.
    pub fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
        Ok(format!(
            "---\n{}",
            serde_saphyr::to_string(&self.to_value())?
        ))
    }
}

/// Sorts every object's keys, as controller-gen writes them.
pub fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut sorted = Map::new();
            for (key, mut child) in entries {
                sort_keys(&mut child);
                sorted.insert(key, child);
            }
            *map = sorted;
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// The file name of a CRD's manifest: `<group>_<plural>.yaml`, as upstream names them.
pub fn manifest_file_name(crd: &CrdDefinition) -> String {
    format!("{}_{}.yaml", crd.group, crd.plural)
}
