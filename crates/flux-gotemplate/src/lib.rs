//! Go's `text/template` and the sprig v3 function library in Rust, proven
//! identical to Go's own (`tools/gotemplate-oracle`, the corpus under
//! `tests/corpus`). Pure: no I/O, no Kubernetes.
//!
//! ```
//! use flux_gotemplate::{Template, Value, sprig};
//! let mut t = Template::new("t", sprig::functions());
//! t.parse("t", r#"{{ .name | upper | quote }}"#)?;
//! let data = Value::from_json(&serde_json::json!({"name": "flux"}));
//! assert_eq!(t.execute("t", &data)?, r#""FLUX""#);
//! # Ok::<(), flux_gotemplate::Error>(())
//! ```

mod builtins;
mod exec;
pub mod gofmt;
pub mod gojson;
pub mod gostr;
mod parse;
pub mod sprig;
mod value;

pub use exec::{Ctx, DEFAULT_MAX_DEPTH, DEFAULT_MAX_OUTPUT, Error, MissingKey, Template};
pub use value::{Func, FuncResult, List, ListTy, Map, MapTy, Object, Ty, Value};
