//! `notification.toolkit.fluxcd.io/v1beta3`: Provider and Alert (storage version).

mod alert;
mod provider;

pub use alert::*;
pub use provider::*;
