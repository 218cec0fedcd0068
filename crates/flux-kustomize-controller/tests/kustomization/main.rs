//! The full GitOps loop against a real API server and a real git server:
//! GitRepository (the real source controller and artifact server) →
//! Kustomization (this controller) → objects in the cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod support;

mod bucket;
mod drift;
mod generator;
mod gitops_loop;
mod health;
mod identity;
mod oci;
mod seed;
mod sops;
