//! The kustomize build engine, written to produce exactly what
//! `kustomize build` (v5.8.1) produces: resource accumulation (files,
//! folders, nested kustomizations, components) with kustomize's id-conflict,
//! cycle and load-restriction checks; generators and their content hashes;
//! every built-in transformer in kustomize's order (strategic-merge and
//! JSON 6902 patches, namespace, prefix/suffix, labels, annotations,
//! replicas, images, replacements); and, at the end, hash suffixes,
//! name-reference updates, vars, and kustomize's output (legacy or fifo
//! order, its YAML via `flux-yaml`). The field specs and the merge schema
//! come from kustomize itself (generated tables). Plugins, Helm inflation
//! and custom merge schemas are refused with an error naming the field,
//! never built half-way. See `docs/kustomize.md`.
//!
//! ```no_run
//! use flux_kustomize::{DiskFs, Options, build};
//!
//! let resources = build(&DiskFs, std::path::Path::new("clusters/prod"), &Options::default()).unwrap();
//! print!("{}", resources.to_yaml().unwrap());
//! ```

mod annotations;
mod build;
mod error;
mod fields;
mod fieldspec;
pub mod flux;
mod fs;
mod generators;
mod images;
mod kustomization;
mod labels;
mod load;
mod nameref;
mod namespace;
pub mod objects;
mod patch;
mod plugins;
mod replacements;
mod replicas;
mod resid;
mod resource;
mod schema;
mod smp;
pub mod substitute;
mod vars;

pub use build::{Options, build};
pub use error::Error;
pub use fs::{DiskFs, FileSystem, MemFs, clean};
pub use kustomization::KUSTOMIZATION_FILE_NAMES;
pub use load::generated_resources;
pub use patch::{Compiled as CompiledTarget, Target};
pub use resid::ResId;
pub use resource::{PreviousId, ResMap, Resource, SortOrder};
