//! One module per command family.

pub mod artifact;
pub mod bootstrap;
pub mod build;
pub mod create;
pub mod events;
pub mod get;
pub mod helmrelease;
pub mod image;
pub mod logs;
pub mod manage;
pub mod reconcile;
pub mod system;
pub mod trace;
pub mod tree;
pub mod trigger;
