//! The commit message: `spec.git.commit.messageTemplate` rendered with Go's
//! `text/template` and sprig's hermetic functions (`flux-gotemplate`) over
//! upstream's data model: `.AutomationObject` (prints `namespace/name`),
//! `.Changed` (`.FileChanges`, `.Objects`, `.Changes`) and `.Values`.

use std::any::Any;
use std::collections::BTreeMap;
use std::rc::Rc;

use flux_gotemplate::{ListTy, MapTy, Object, Template, Value};

use crate::setters::{Change, ObjectId};
use crate::update;

/// Upstream's default message.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

/// A template that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// It uses a field upstream removed (`.Updated`,
    /// `.Changed.ImageResult`): `RemovedTemplateField`.
    Removed(String),
    /// It does not parse or run.
    Other(String),
}

#[derive(Debug)]
struct NamespacedName {
    namespace: String,
    name: String,
}

impl Object for NamespacedName {
    fn type_name(&self) -> String {
        "types.NamespacedName".to_string()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Namespace" => Some(Value::str(&self.namespace)),
            "Name" => Some(Value::str(&self.name)),
            "String" => Some(Value::string(self.display())),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct Identifier(ObjectId);

impl Object for Identifier {
    fn type_name(&self) -> String {
        "update.ObjectIdentifier".to_string()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let o = &self.0;
        match name {
            "Kind" => Some(Value::str(&o.kind)),
            "APIVersion" => Some(Value::str(&o.api_version)),
            "Name" => Some(Value::str(&o.name)),
            "Namespace" => Some(Value::str(&o.namespace)),
            _ => None,
        }
    }
    fn display(&self) -> String {
        let o = &self.0;
        format!(
            "{{{{{{{} {}}} {{{} {}}}}}}}",
            o.api_version, o.kind, o.name, o.namespace
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct ChangeObject(Change);

impl Object for ChangeObject {
    fn type_name(&self) -> String {
        "update.Change".to_string()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let c = &self.0;
        match name {
            "OldValue" => Some(Value::str(&c.old_value)),
            "NewValue" => Some(Value::str(&c.new_value)),
            "Setter" => Some(Value::str(&c.setter)),
            _ => None,
        }
    }
    fn display(&self) -> String {
        let c = &self.0;
        format!("{{{} {} {}}}", c.old_value, c.new_value, c.setter)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn changes_list(changes: &[Change]) -> Value {
    Value::list(
        ListTy::Iface,
        changes
            .iter()
            .map(|c| Value::Object(Rc::new(ChangeObject(c.clone()))))
            .collect(),
    )
}

/// `update.ObjectChanges`: a map keyed by object identifiers, ranged in
/// Go's key order (API version, kind, name, namespace).
#[derive(Debug)]
struct ObjectChanges(BTreeMap<ObjectId, Vec<Change>>);

impl Object for ObjectChanges {
    fn type_name(&self) -> String {
        "update.ObjectChanges".to_string()
    }
    fn map_entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(id, changes)| {
                    (
                        Value::Object(Rc::new(Identifier(id.clone()))),
                        changes_list(changes),
                    )
                })
                .collect(),
        )
    }
    fn display(&self) -> String {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(id, changes)| {
                let changes: Vec<String> = changes
                    .iter()
                    .map(|c| ChangeObject(c.clone()).display())
                    .collect();
                format!(
                    "{}:[{}]",
                    Identifier(id.clone()).display(),
                    changes.join(" ")
                )
            })
            .collect();
        format!("map[{}]", entries.join(" "))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct ResultObject(BTreeMap<String, BTreeMap<ObjectId, Vec<Change>>>);

impl Object for ResultObject {
    fn type_name(&self) -> String {
        "update.Result".to_string()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "FileChanges" => Some(Value::dict(
                self.0
                    .iter()
                    .map(|(file, objects)| {
                        (
                            file.clone(),
                            Value::Object(Rc::new(ObjectChanges(objects.clone()))),
                        )
                    })
                    .collect(),
            )),
            "Objects" => {
                let mut merged: BTreeMap<ObjectId, Vec<Change>> = BTreeMap::new();
                for objects in self.0.values() {
                    for (id, changes) in objects {
                        merged
                            .entry(id.clone())
                            .or_default()
                            .extend(changes.iter().cloned());
                    }
                }
                Some(Value::Object(Rc::new(ObjectChanges(merged))))
            }
            "Changes" => {
                let mut unique: Vec<Change> = Vec::new();
                for change in self.0.values().flat_map(|o| o.values()).flatten() {
                    if !unique.contains(change) {
                        unique.push(change.clone());
                    }
                }
                Some(changes_list(&unique))
            }
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!(
            "{{map[{}]}}",
            self.0.keys().cloned().collect::<Vec<_>>().join(" ")
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct TemplateData {
    automation: NamespacedName,
    changed: Rc<ResultObject>,
    values: BTreeMap<String, String>,
}

impl Object for TemplateData {
    fn type_name(&self) -> String {
        "source.TemplateData".to_string()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AutomationObject" => Some(Value::Object(Rc::new(NamespacedName {
                namespace: self.automation.namespace.clone(),
                name: self.automation.name.clone(),
            }))),
            "Changed" => Some(Value::Object(self.changed.clone())),
            "Values" => Some(Value::map(
                MapTy::Str,
                self.values
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::str(v)))
                    .collect(),
            )),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!(
            "{{{} {}}}",
            self.automation.display(),
            self.changed.display()
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Renders `template` (upstream's default when empty) for the automation
/// `(namespace, name)` and what the run changed.
pub fn render(
    template: &str,
    automation: &(String, String),
    result: &update::Result,
    values: &BTreeMap<String, String>,
) -> Result<String, Error> {
    let text = if template.is_empty() {
        DEFAULT_MESSAGE
    } else {
        template
    };
    let mut t = Template::new(
        "commit message",
        flux_gotemplate::sprig::hermetic_functions(),
    );
    t.parse("commit message", text).map_err(|e| {
        Error::Other(format!(
            "unable to create commit message template from spec: {e}"
        ))
    })?;
    let data = Value::Object(Rc::new(TemplateData {
        automation: NamespacedName {
            namespace: automation.0.clone(),
            name: automation.1.clone(),
        },
        changed: Rc::new(ResultObject(result.file_changes.clone())),
        values: values.clone(),
    }));
    t.execute("commit message", &data).map_err(|e| {
        let text = e.to_string();
        let docs = "See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template";
        if text.contains("can't evaluate field Updated in type source.TemplateData") {
            Error::Removed(format!(
                "template uses removed '.Updated' field. Please use '.Changed' instead. {docs}"
            ))
        } else if text.contains("can't evaluate field ImageResult in type update.Result") {
            Error::Removed(format!("template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or '.Changed.Objects' instead. {docs}"))
        } else {
            Error::Other(format!("failed to run template from spec: {text}"))
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn result() -> update::Result {
        let mut r = update::Result::default();
        let id = |kind: &str, name: &str| ObjectId {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            namespace: "apps".into(),
        };
        let change = |old: &str, new: &str| Change {
            old_value: old.into(),
            new_value: new.into(),
            setter: "flux-system:app".into(),
        };
        r.file_changes.insert(
            "apps/web.yaml".into(),
            BTreeMap::from([
                (id("Deployment", "web"), vec![change("app:1.0", "app:1.1")]),
                (id("Deployment", "api"), vec![change("app:1.0", "app:1.1")]),
            ]),
        );
        r
    }

    #[test]
    fn upstream_s_documented_template() {
        let template = "Automated image update\n\nAutomation name: {{ .AutomationObject }}\n\nFiles:\n{{ range $filename, $_ := .Changed.FileChanges -}}\n- {{ $filename }}\n{{ end -}}\n\nObjects:\n{{ range $resource, $changes := .Changed.Objects -}}\n- {{ $resource.Kind }} {{ $resource.Name }}\n  Changes:\n{{- range $_, $change := $changes }}\n    - {{ $change.OldValue }} -> {{ $change.NewValue }}\n{{ end -}}\n{{ end -}}\n{{ .Values.env }}";
        let out = render(
            template,
            &("flux-system".into(), "auto".into()),
            &result(),
            &BTreeMap::from([("env".to_string(), "prod".to_string())]),
        )
        .unwrap();
        assert_eq!(
            out,
            "Automated image update\n\nAutomation name: flux-system/auto\n\nFiles:\n- apps/web.yaml\nObjects:\n- Deployment api\n  Changes:\n    - app:1.0 -> app:1.1\n- Deployment web\n  Changes:\n    - app:1.0 -> app:1.1\nprod"
        );
        assert_eq!(
            render("", &("a".into(), "b".into()), &result(), &BTreeMap::new()).unwrap(),
            DEFAULT_MESSAGE
        );
        assert_eq!(
            render(
                "{{ len .Changed.Changes }}",
                &("a".into(), "b".into()),
                &result(),
                &BTreeMap::new()
            )
            .unwrap(),
            "1"
        );
    }

    #[test]
    fn removed_fields_are_named() {
        let e = render(
            "{{ .Updated }}",
            &("a".into(), "b".into()),
            &result(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::Removed(m) if m.starts_with("template uses removed '.Updated' field"))
        );
        let e = render(
            "{{ .Changed.ImageResult }}",
            &("a".into(), "b".into()),
            &result(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Removed(m) if m.contains("'.Changed.ImageResult'")));
        let e = render(
            "{{ .Nope",
            &("a".into(), "b".into()),
            &result(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::Other(m) if m.starts_with("unable to create commit message template from spec: "))
        );
    }
}
