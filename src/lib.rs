//! tmp
pub mod protocol;
