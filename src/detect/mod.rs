//! The detection domain: AI services, clients, scores and groups. Knows nothing about
//! chunks or CSV: events come in through the [`event::Event`] view.

pub mod allowlist;
pub mod byteset;
pub mod catalog;
pub mod client;
pub mod endpoint;
pub mod event;
pub mod group;
pub mod guard;
pub mod keys;
pub mod partial;
pub mod paths;
pub mod seed;
pub mod set;
#[cfg(target_arch = "x86_64")]
pub mod simd;
pub mod standard;
pub mod sum;
pub mod table;
pub mod time;

pub use event::{Event, Field, OwnedEvent};
pub use group::{SeedGroups, SeedRow};
pub use seed::{SeedParams, score_event};
