//! Go standard-library behaviours that several of our crates must
//! reproduce exactly, written once: [`path::clean`] (`path.Clean`),
//! [`duration::parse`] (`time.ParseDuration`), [`duration::format`]
//! (`time.Duration.String`), [`json::quote`] (`encoding/json` strings), [`float::format_g`] (`fmt`'s `%g`,
//! `strconv.FormatFloat` shortest), [`regexp::translate`] (Go's regular
//! expression syntax for the `regex` crate), [`gzip::Writer`] (`compress/gzip`'s
//! exact bytes). A leaf crate: it depends on none of ours, so
//! every engine and controller may use it.
//!
//! ```
//! assert_eq!(flux_go::path::clean("a/../b/./c/"), "b/c");
//! assert_eq!(flux_go::duration::parse("1h30m"), Ok(5_400_000_000_000));
//! assert_eq!(flux_go::duration::format(90_000_000_000), "1m30s");
//! ```

#![deny(missing_docs)]

pub mod duration;
pub mod float;
pub mod gzip;
pub mod json;
pub mod path;
pub mod regexp;
