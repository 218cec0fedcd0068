//! `images`: kustomize's image tag transformer. For each entry, in order:
//! every `containers`/`initContainers` list anywhere in the object (the
//! legacy walk), then kustomize's field specs (pod specs, pod templates,
//! image volumes); CustomResourceDefinitions are left alone.

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, visit};

/// One `images` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// The image name to match (a regular expression, as kustomize uses it).
    pub name: String,
    /// Replacement name.
    pub new_name: String,
    /// Replacement tag.
    pub new_tag: String,
    /// Replacement digest (`sha256:…`).
    pub digest: String,
    /// Suffix added to the tag.
    pub tag_suffix: String,
}

/// Applies `images` to `object` (at the `images` field specs given).
/// kustomize declares its specs with `create: true`, but an image that is
/// not there never matches: nothing is ever created.
pub fn apply(object: &mut Value, images: &[(Image, regex::Regex)], specs: &[FieldSpec]) {
    let (group, version, kind) = crate::fieldspec::gvk(object);
    if object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
        return;
    }
    for (image, matcher) in images {
        legacy_walk(object, &mut |node| update(node, image, matcher));
        for spec in specs.iter().filter(|s| s.matches(&group, &version, &kind)) {
            let spec = FieldSpec {
                create: false,
                ..spec.clone()
            };
            visit(object, &spec, &mut |node| update(node, image, matcher));
        }
    }
}

/// kustomize's `^NAME(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$`
/// (the name is used as a regular expression, unescaped).
/// Each image with the regular expression its name matches (an invalid
/// name matches nothing, as in kustomize).
pub fn compile(images: &[Image]) -> Vec<(Image, regex::Regex)> {
    images
        .iter()
        .filter_map(|i| matcher(&i.name).map(|m| (i.clone(), m)))
        .collect()
}

fn matcher(name: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!(
        "^(?:{name})(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$"
    ))
    .ok()
}

/// Every `containers`/`initContainers` sequence anywhere below `node`:
/// the `image` of each element (not created).
fn legacy_walk(node: &mut Value, apply: &mut dyn FnMut(&mut Value)) {
    match node {
        Value::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                legacy_walk(value, apply);
                if (key == "containers" || key == "initContainers")
                    && let Value::Seq(items) = value
                {
                    for item in items {
                        if let Value::Map(fields) = item
                            && let Some((_, image)) = fields.iter_mut().find(|(k, _)| k == "image")
                        {
                            apply(image);
                        }
                    }
                }
            }
        }
        Value::Seq(items) => {
            for item in items {
                legacy_walk(item, apply);
            }
        }
        _ => {}
    }
}

fn update(node: &mut Value, image: &Image, matcher: &regex::Regex) {
    let current = match node {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        _ => return,
    };
    if !matcher.is_match(&current) {
        return;
    }
    let (mut name, mut tag, mut digest) = split(&current);
    if !image.new_name.is_empty() {
        name = image.new_name.clone();
    }
    if !image.new_tag.is_empty() && !image.digest.is_empty() {
        tag = image.new_tag.clone();
        digest = image.digest.clone();
    } else if !image.new_tag.is_empty() {
        tag = image.new_tag.clone();
        digest.clear();
    } else if !image.digest.is_empty() {
        tag.clear();
        digest = image.digest.clone();
    } else if !image.tag_suffix.is_empty() {
        tag.push_str(&image.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    *node = Value::String(name);
}

/// kustomize's split of `name[:tag][@digest]` (a registry port before the
/// first `/` is part of the name).
fn split(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (colon, at) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => {
            let a = a + slash;
            (
                image[..a].to_string(),
                String::new(),
                image[a + 1..].to_string(),
            )
        }
        (Some(c), Some(a)) => {
            let (c, a) = (c + slash, a + slash);
            (
                image[..c].to_string(),
                image[c + 1..a].to_string(),
                image[a + 1..].to_string(),
            )
        }
        (Some(c), None) => {
            let c = c + slash;
            (
                image[..c].to_string(),
                image[c + 1..].to_string(),
                String::new(),
            )
        }
        (None, Some(_)) => (image.to_string(), String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn image_references_split_like_kustomize() {
        let s = |i: &str| {
            let (n, t, d) = split(i);
            (n, t, d)
        };
        assert_eq!(s("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(s("nginx:1.2"), ("nginx".into(), "1.2".into(), "".into()));
        assert_eq!(
            s("localhost:5000/app:v1@sha256:abc"),
            (
                "localhost:5000/app".into(),
                "v1".into(),
                "sha256:abc".into()
            )
        );
        assert_eq!(
            s("ghcr.io/org/app@sha256:abc"),
            ("ghcr.io/org/app".into(), "".into(), "sha256:abc".into())
        );
    }
}
