//! The strategic-merge schema kustomize merges patches with: the OpenAPI
//! document compiled into kustomize's kyaml library (Kubernetes v1.21.2),
//! reduced by `tools/kyaml-schema` to the resource types and the fields that
//! lead to a list with the `merge` patch strategy (`smp_schema.txt`,
//! generated, never edited). A resource type missing from it (a custom
//! resource, or a version newer than the document) has no schema: its
//! mappings merge and its lists are replaced, as kustomize does.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The generated table.
pub const TABLE: &str = include_str!("smp_schema.txt");

/// One field of a schema.
#[derive(Debug)]
pub struct Field {
    /// Field name (`*` for every key of a map).
    pub name: String,
    /// The field holds a list.
    pub list: bool,
    /// The schema of the value (of the items, for a list), when it leads
    /// to merge lists.
    pub target: Option<String>,
    /// The list has the `merge` patch strategy.
    pub merge: bool,
    /// Its merge keys (none for a list of scalars).
    pub keys: Vec<String>,
}

/// The parsed table.
#[derive(Debug, Default)]
pub struct Schemas {
    roots: HashMap<(String, String), String>,
    types: HashMap<String, Vec<Field>>,
}

/// Where a walk is in the schema.
#[derive(Clone, Copy, Debug)]
pub enum Node<'a> {
    /// An object schema.
    Type(&'a [Field]),
    /// A list field.
    List(&'a Field),
}

impl Schemas {
    /// The schemas (parsed once).
    pub fn get() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| Schemas::parse(TABLE))
    }

    fn parse(text: &str) -> Schemas {
        let mut out = Schemas::default();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["R", api_version, kind, ty] => {
                    out.roots
                        .insert((api_version.to_string(), kind.to_string()), ty.to_string());
                }
                ["T", ty] => {
                    out.types.insert(ty.to_string(), Vec::new());
                    current = Some(ty.to_string());
                }
                [name, kind, target, strategy, keys] if line.starts_with("  ") => {
                    let Some(fields) = current.as_ref().and_then(|c| out.types.get_mut(c)) else {
                        continue;
                    };
                    let dash = |s: &str| (s != "-").then(|| s.to_string());
                    fields.push(Field {
                        name: name.to_string(),
                        list: *kind == "list",
                        target: dash(target),
                        merge: *strategy == "merge",
                        keys: dash(keys)
                            .map(|k| k.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                    });
                }
                _ => {}
            }
        }
        out
    }

    /// The schema of a resource type.
    pub fn root(&self, api_version: &str, kind: &str) -> Option<Node<'_>> {
        let ty = self
            .roots
            .get(&(api_version.to_string(), kind.to_string()))?;
        self.types.get(ty).map(|f| Node::Type(f))
    }

    /// The schema of field `name` of an object.
    pub fn field<'a>(&'a self, node: Node<'a>, name: &str) -> Option<Node<'a>> {
        let Node::Type(fields) = node else {
            return None;
        };
        let field = fields
            .iter()
            .find(|f| f.name == name)
            .or_else(|| fields.iter().find(|f| f.name == "*"))?;
        if field.list {
            return Some(Node::List(field));
        }
        self.types
            .get(field.target.as_deref()?)
            .map(|f| Node::Type(f))
    }

    /// The schema of the items of a list.
    pub fn elements<'a>(&'a self, node: Node<'a>) -> Option<Node<'a>> {
        let Node::List(field) = node else {
            return None;
        };
        self.types
            .get(field.target.as_deref()?)
            .map(|f| Node::Type(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_pod_templates() {
        let s = Schemas::get();
        let deployment = s.root("apps/v1", "Deployment").unwrap();
        let pod = ["spec", "template", "spec"]
            .iter()
            .try_fold(deployment, |n, f| s.field(n, f))
            .unwrap();
        let Some(Node::List(containers)) = s.field(pod, "containers") else {
            panic!("containers is a list");
        };
        assert!(containers.merge);
        assert_eq!(containers.keys, ["name"]);
        let container = s.elements(Node::List(containers)).unwrap();
        let Some(Node::List(ports)) = s.field(container, "ports") else {
            panic!("ports is a list");
        };
        assert_eq!(ports.keys, ["containerPort", "protocol"]);
        // Kubernetes 1.21's document has no autoscaling/v2.
        assert!(
            s.root("autoscaling/v2", "HorizontalPodAutoscaler")
                .is_none()
        );
        assert!(s.root("example.com/v1", "Widget").is_none());
    }
}
