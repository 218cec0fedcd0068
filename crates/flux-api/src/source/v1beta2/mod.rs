//! `source.toolkit.fluxcd.io/v1beta2`: served for manifests still written
//! against it (upstream removed it in source-controller 1.8). The API server
//! stores these objects as v1 (`conversion: None`: only `apiVersion`
//! changes); controllers read the v1 storage version.

mod bucket;
mod gitrepository;
mod helmchart;
mod helmrepository;
mod ocirepository;

pub use bucket::*;
pub use gitrepository::*;
pub use helmchart::*;
pub use helmrepository::*;
pub use ocirepository::*;
