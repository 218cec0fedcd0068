//! `notification.toolkit.fluxcd.io/v1`: Receiver (storage version).

mod receiver;

pub use receiver::*;
