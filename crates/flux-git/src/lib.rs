//! Git for Flux sources, on libgit2: fetch one reference of a remote — a
//! branch, tag, the highest tag in a semver range, full reference name or
//! commit — shallowly, and check it out;
//! ask where a reference points without cloning; authenticate over HTTPS
//! (basic, bearer) and SSH (private key, `known_hosts` enforced).
//!
//! Secrets never appear in `Debug` output or errors.
//!
//! ```no_run
//! use flux_git::{Auth, CheckoutOptions, Reference, checkout};
//!
//! # fn main() -> Result<(), flux_git::Error> {
//! let dir = std::env::temp_dir().join("podinfo");
//! let commit = checkout(
//!     "https://github.com/stefanprodan/podinfo",
//!     &Reference::Branch("master".into()),
//!     &Auth::None,
//!     &dir,
//!     &CheckoutOptions::default(),
//! )?;
//! println!("checked out {}", commit.hash);
//! # Ok(())
//! # }
//! ```

mod auth;
mod checkout;
pub mod deadline;
mod error;
mod keys;
mod known_hosts;
mod proxy_shim;
mod push;
mod sign;
pub mod signature;
mod tls;

pub use auth::{Auth, Proxy, is_ssh, redact};
pub use checkout::{
    CheckoutOptions, Commit, DEFAULT_BRANCH, Reference, Tag, checkout, ls_remote, remote_commit,
    resolve_semver,
};
pub use deadline::Deadline;
pub use error::{Error, Result};
pub use keys::{KeyPair, generate_ssh_key, public_key_of};
pub use known_hosts::KnownHosts;
pub use push::{Author, Change, Pushed, Target, commit_and_push, commit_to, scan_known_hosts};
pub use sign::{KeyError, Signer};
pub use tls::TrustedCa;
