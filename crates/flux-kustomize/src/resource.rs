//! The resource model: one resource with its id and rename history, the
//! map of a build's resources, and the annotations kustomize keeps on
//! them while building.

use flux_yaml::Value;

use crate::error::Error;
use crate::resid::{self, ResId};
use crate::{fieldspec, generators, vars};

/// One resource, its id and what kustomize remembers about its past (the
/// build annotations it keeps while building and removes from the output).
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The object.
    pub value: Value,
    /// Group, version, kind, namespace and name (current).
    pub id: ResId,
    /// Kind, name and effective namespace before each rename (oldest
    /// first): patch targets and name references match them.
    pub previous: Vec<PreviousId>,
    /// `namePrefix`es applied, innermost kustomization first.
    pub prefixes: Vec<String>,
    /// `nameSuffix`es applied, innermost kustomization first.
    pub suffixes: Vec<String>,
    /// Made by a generator: how it combines with others, and whether its
    /// name gets the content hash.
    pub generated: Option<generators::Generated>,
    /// Names of the `vars` whose value this object holds.
    pub ref_vars: Vec<String>,
    /// Fields whose null was written as nothing (`a:`): a strategic-merge
    /// patch clears them (kyaml keeps `~` and `null`).
    pub empty_fields: Vec<flux_yaml::EmptyField>,
    /// The text each label, annotation and `data` entry that is not a
    /// string was written with (`1.50`, `0755`, `~`), and the value it read
    /// as: kustomize reads those as strings, the text, unless the value
    /// changed or went through JSON.
    pub texts: Vec<(Vec<flux_yaml::Step>, String, Value)>,
    /// Fields that are one YAML node in kustomize (label and annotation
    /// entries its transformers created together): changing one in place
    /// changes all of a group.
    pub aliases: Vec<(Value, Vec<Vec<flux_yaml::Step>>)>,
    /// Scalars a replacement created: kyaml nodes without a tag, written
    /// plain and typed by their text, whose text a later replacement
    /// replaces whatever it reads as. A strategic-merge walk makes them
    /// strings (kyaml's `FieldSetter` double-quotes a YAML 1.1 non-string
    /// as it sets it); text or JSON types them.
    /// Each with its node's text.
    pub untyped: Vec<(Vec<flux_yaml::Step>, String)>,
}

/// An id a resource had before a rename.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousId {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Effective namespace (`default` for none, `_non_namespaceable_` for
    /// cluster-scoped kinds).
    pub namespace: String,
}

impl Resource {
    /// A resource as loaded, with no past.
    pub fn new(value: Value, id: ResId) -> Self {
        Self {
            value,
            id,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            generated: None,
            ref_vars: Vec::new(),
            empty_fields: Vec::new(),
            texts: Vec::new(),
            aliases: Vec::new(),
            untyped: Vec::new(),
        }
    }

    /// The resource as kustomize writes it to YAML (or JSON) text and
    /// reads it back: go-yaml writes an empty null inside a flow
    /// collection (`{a: }`) as `''`, an empty string; every other null is
    /// a written `null` afterwards.
    pub fn through_text(&mut self) {
        self.texts.clear();
        self.aliases.clear();
        self.untyped.clear();
        for field in std::mem::take(&mut self.empty_fields) {
            if field.in_flow
                && let Some(v @ Value::Null) = crate::smp::at_path(&mut self.value, &field.path)
            {
                *v = Value::String(String::new());
            }
        }
    }

    /// After a strategic-merge walk: the untyped scalars it passed whose
    /// text YAML 1.1 reads as no string are strings now (kyaml's
    /// `FieldSetter` double-quotes them as it sets them); the others stay
    /// untyped (see [`Resource::untyped`]).
    pub fn untyped_through_merge(&mut self) {
        let value = &mut self.value;
        self.untyped.retain(|(path, text)| {
            if !flux_yaml::resolves_non_string_v2(text) {
                return true;
            }
            if let Some(v) = crate::smp::at_path(value, path)
                && !matches!(v, Value::Map(_) | Value::Seq(_) | Value::String(_))
                && *v == flux_yaml::resolve_plain(text)
            {
                *v = Value::String(text.clone());
            }
            false
        });
    }

    /// Makes the string scalar at `path` (map keys) a node without a tag:
    /// it reads as its text (`1` a number), as a node kyaml sets with
    /// `NewScalarRNode` does. Text that reads as null stays a string, and
    /// so does one YAML 1.1 reads as no string when `quoted` (set through
    /// kyaml's `FieldSetter`, which double-quotes it).
    pub fn mark_untyped(&mut self, keys: &[&str], quoted: bool) {
        let path: Vec<flux_yaml::Step> = keys
            .iter()
            .map(|k| flux_yaml::Step::Key((*k).to_string()))
            .collect();
        let Some(v) = crate::smp::at_path(&mut self.value, &path) else {
            return;
        };
        let Value::String(text) = v else { return };
        let text = text.clone();
        if quoted && flux_yaml::resolves_non_string_v2(&text) {
            return;
        }
        let typed = flux_yaml::resolve_plain(&text);
        if matches!(typed, Value::Null) {
            return;
        }
        *v = typed;
        self.untyped.retain(|(p, _)| *p != path);
        self.untyped.push((path, text));
    }

    /// After a strategic-merge patch: kyaml copies a patched scalar into
    /// the existing node, so a value the patch set in one field of a group
    /// is the value of every field of it; a deleted field leaves its group.
    pub fn sync_aliases(&mut self) {
        let value = &mut self.value;
        for (shared, paths) in &mut self.aliases {
            paths.retain(|p| crate::smp::at_path(value, p).is_some());
            let changed = paths
                .iter()
                .filter_map(|p| crate::smp::at_path(value, p).map(|v| v.clone()))
                .rfind(|v| v != shared);
            if let Some(new) = changed {
                *shared = new;
                for p in paths.iter() {
                    if let Some(slot) = crate::smp::at_path(value, p) {
                        *slot = shared.clone();
                    }
                }
            }
        }
        self.aliases.retain(|(_, paths)| paths.len() > 1);
    }

    /// The text kustomize reads for the scalar `v` at `path` (its node's
    /// text): as written when it was not changed, nothing for a null
    /// written as nothing, `null` for one that went through JSON; a mapping
    /// or a sequence has none.
    pub fn text_at(&self, path: &[flux_yaml::Step], v: &Value) -> String {
        if let Value::String(s) = v {
            return s.clone();
        }
        if let Some((_, text, _)) = self
            .texts
            .iter()
            .rfind(|(p, _, read)| p.as_slice() == path && read == v)
            && !(matches!(v, Value::Null) && self.is_empty_field(path))
        {
            return text.clone();
        }
        match v {
            Value::Null if self.is_empty_field(path) => String::new(),
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::String(s) => s.clone(),
            Value::Map(_) | Value::Seq(_) => String::new(),
        }
    }

    fn is_empty_field(&self, path: &[flux_yaml::Step]) -> bool {
        self.empty_fields.iter().any(|f| f.path.as_slice() == path)
    }

    /// Records the current id as a previous one (before a rename).
    pub fn store_previous_id(&mut self) {
        self.previous.push(PreviousId {
            kind: self.id.kind.clone(),
            name: self.id.name.clone(),
            namespace: self.id.effective_namespace(),
        });
    }

    /// The previous ids, with the current group and version.
    pub fn previous_ids(&self) -> Vec<ResId> {
        self.previous
            .iter()
            .map(|p| ResId {
                group: self.id.group.clone(),
                version: self.id.version.clone(),
                kind: p.kind.clone(),
                namespace: p.namespace.clone(),
                name: p.name.clone(),
            })
            .collect()
    }

    /// The original id: the first previous one, or the current one.
    pub fn org_id(&self) -> ResId {
        self.previous_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.id.clone())
    }
}

/// How the output is ordered (`sortOptions` of the root kustomization).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// kustomize's default: kinds by priority lists, then ids.
    Legacy {
        /// Kinds first, in this order.
        first: Vec<String>,
        /// Kinds last, in this order.
        last: Vec<String>,
    },
    /// Accumulation order.
    Fifo,
}

impl Default for SortOrder {
    fn default() -> Self {
        let (first, last) = resid::default_orders();
        SortOrder::Legacy { first, last }
    }
}

/// The resources of a build, in accumulation order.
#[derive(Clone, Debug, Default)]
pub struct ResMap {
    /// The resources.
    pub resources: Vec<Resource>,
    /// The output order.
    pub sort: SortOrder,
    pub(crate) ids: std::collections::HashSet<ResId>,
    pub(crate) vars: Vec<vars::Var>,
    pub(crate) config: fieldspec::Config,
    pub(crate) build_metadata: Vec<String>,
}

impl ResMap {
    /// Rebuilds the id index after transformations that rename or remove.
    pub(crate) fn reindex(&mut self) {
        self.ids = self.resources.iter().map(|r| r.id.key()).collect();
    }

    /// Re-reads every id from its object and refuses two objects with the
    /// same one (kustomize's final resource map does; a replacement can
    /// rename an object onto another).
    pub(crate) fn reindex_checked(&mut self) -> Result<(), Error> {
        self.ids.clear();
        for r in &mut self.resources {
            if let Ok(id) = ResId::of(&r.value) {
                r.id = id;
            }
            if !self.ids.insert(r.id.key()) {
                return Err(Error::IdConflict(r.id.to_string()));
            }
        }
        Ok(())
    }

    pub(crate) fn append(&mut self, resource: Resource) -> Result<(), Error> {
        if !self.ids.insert(resource.id.key()) {
            return Err(Error::IdConflict(resource.id.to_string()));
        }
        self.resources.push(resource);
        Ok(())
    }

    /// What `kustomize build` prints: resources in kustomize's legacy order,
    /// `---` between them.
    pub fn to_yaml(&self) -> Result<String, flux_yaml::Error> {
        let mut sorted: Vec<&Resource> = self.resources.iter().collect();
        if let SortOrder::Legacy { first, last } = &self.sort {
            sorted.sort_by(|a, b| resid::legacy_order(&a.id, &b.id, first, last));
        }
        let docs = sorted
            .into_iter()
            .map(|r| Ok(flux_yaml::emit(&r.value.json_round_trip()?)))
            .collect::<Result<Vec<_>, flux_yaml::Error>>()?;
        Ok(docs.join("---\n"))
    }
}

/// The annotation `buildMetadata: [originAnnotations]` writes.
pub(crate) const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

pub(crate) fn set_annotation(value: &mut Value, key: &str, text: &str) {
    let Value::Map(object) = value else { return };
    if !object.iter().any(|(k, _)| k == "metadata") {
        object.push(("metadata".to_string(), Value::Map(Vec::new())));
    }
    let Some((_, metadata)) = object.iter_mut().find(|(k, _)| k == "metadata") else {
        return;
    };
    if matches!(metadata, Value::Null) {
        *metadata = Value::Map(Vec::new());
    }
    let Value::Map(metadata) = metadata else {
        return;
    };
    if !metadata.iter().any(|(k, _)| k == "annotations") {
        metadata.push(("annotations".to_string(), Value::Map(Vec::new())));
    }
    let Some((_, annotations)) = metadata.iter_mut().find(|(k, _)| k == "annotations") else {
        return;
    };
    if matches!(annotations, Value::Null) {
        *annotations = Value::Map(Vec::new());
    }
    if let Value::Map(entries) = annotations {
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = Value::String(text.to_string()),
            None => entries.push((key.to_string(), Value::String(text.to_string()))),
        }
    }
}

pub(crate) fn remove_annotation(value: &mut Value, key: &str) {
    if let Value::Map(object) = value
        && let Some((_, Value::Map(metadata))) = object.iter_mut().find(|(k, _)| k == "metadata")
        && let Some((_, Value::Map(annotations))) =
            metadata.iter_mut().find(|(k, _)| k == "annotations")
    {
        annotations.retain(|(k, _)| k != key);
    }
}

/// Objects annotated `config.kubernetes.io/local-config: "true"` are for
/// the build only.
pub(crate) fn is_local_config(value: &Value) -> bool {
    value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("config.kubernetes.io/local-config"))
        .and_then(Value::as_str)
        == Some("true")
}

/// kustomize rewrites every resource's annotations at the end of a build
/// (removing its own bookkeeping ones), which drops an empty or null
/// `metadata.annotations`, and writes every value as the text of its node.
pub(crate) fn drop_empty_annotations(resource: &mut Resource) {
    // What the texts are read from (the value itself is rewritten below).
    let probe = Resource {
        value: Value::Null,
        texts: resource.texts.clone(),
        empty_fields: resource.empty_fields.clone(),
        ..Resource::new(Value::Null, resource.id.clone())
    };
    let Value::Map(entries) = &mut resource.value else {
        return;
    };
    let Some((_, Value::Map(metadata))) = entries.iter_mut().find(|(k, _)| k == "metadata") else {
        return;
    };
    metadata.retain(|(k, v)| {
        k != "annotations" || !matches!(v, Value::Null) && *v != Value::Map(Vec::new())
    });
    let Some((_, Value::Map(annotations))) = metadata.iter_mut().find(|(k, _)| k == "annotations")
    else {
        return;
    };
    let texts: Vec<(usize, String)> = annotations
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| !matches!(v, Value::String(_)))
        .map(|(i, (key, v))| {
            let path = [
                flux_yaml::Step::Key("metadata".to_string()),
                flux_yaml::Step::Key("annotations".to_string()),
                flux_yaml::Step::Key(key.clone()),
            ];
            (i, probe.text_at(&path, v))
        })
        .collect();
    for (i, text) in texts {
        annotations[i].1 = Value::String(text);
    }
}
