//! Labels (`commonLabels`, `labels`): kustomize's label transformer over the
//! field specs it is given — for `commonLabels` and `labels` with
//! `includeSelectors`, kustomize's `commonLabels` table (metadata, pod
//! templates, and the selectors that must keep matching them); with
//! `includeTemplates`, its `templateLabels` table; otherwise
//! `metadata/labels` only; plus an entry's own `fields` and the `labels`
//! table of `configurations`.

use crate::fieldspec::{FieldSpec, set_entries};
use crate::resource::Resource;

/// Adds `labels` at every field of `specs` that applies to the resource.
pub fn apply(resource: &mut Resource, labels: &[(String, String)], specs: &[FieldSpec]) {
    set_entries(resource, labels, specs);
}

/// kustomize's `FsSlice.MergeAll`: `incoming` specs not already in
/// `specs` are appended; the same place with a different `create` is an
/// error.
pub fn merge_specs(specs: &mut Vec<FieldSpec>, incoming: Vec<FieldSpec>) -> Result<(), String> {
    for spec in incoming {
        let same = specs.iter().find(|s| {
            s.group == spec.group
                && s.version == spec.version
                && s.kind == spec.kind
                && s.path == spec.path
        });
        match same {
            Some(s) if s.create != spec.create => {
                return Err("failed to merge labels: conflicting fieldspecs".to_string());
            }
            Some(_) => {}
            None => specs.push(spec),
        }
    }
    Ok(())
}
