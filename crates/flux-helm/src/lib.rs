//! Helm in Rust, built on `flux-gotemplate`. So far: Helm's values syntax
//! (`strvals`): `--set`, `--set-string`, `--set-json` and `--set-file`,
//! which HelmRelease's `valuesFrom[].targetPath` also uses; and
//! `.helmignore` rules (`ignore`).
//! Values are template values: integers from `--set` are `int64`, JSON
//! numbers `float64`, exactly as Helm's parsers produce them.

pub mod ignore;
pub mod strvals;
