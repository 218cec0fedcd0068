//! Proof that every part of the test environment is the real thing: one
//! test binary, one shared control plane, a module per component.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)] // test code
mod control_plane;
mod git_http;
mod git_ssh;
mod helm_repo;
mod oci;

/// The error type of these tests.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;
