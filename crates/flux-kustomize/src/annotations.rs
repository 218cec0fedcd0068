//! `commonAnnotations`: kustomize's annotations transformer over its
//! `commonAnnotations` field specs (object metadata and pod templates, plus
//! what `configurations` add).

use crate::fieldspec::{FieldSpec, set_entries};
use crate::resource::Resource;

/// Adds `annotations` at every field of `specs` that applies to the
/// resource.
pub fn apply(resource: &mut Resource, annotations: &[(String, String)], specs: &[FieldSpec]) {
    set_entries(resource, annotations, specs);
}
