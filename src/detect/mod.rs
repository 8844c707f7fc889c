//! The detection domain: AI services, clients, scores and groups. Knows nothing about
//! chunks or CSV: events come in through the [`event::Event`] view.

pub mod event;
pub mod group;
pub mod seed;

pub use event::{Event, Field, OwnedEvent};
pub use group::{SeedGroups, SeedRow};
pub use seed::{SeedParams, score_event};
