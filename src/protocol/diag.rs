//! Diagnostics on stderr, which splunkd copies into the job's search.log. Off below the
//! chosen level; never carries the session key (callers log `SearchInfo` through its
//! redacting `Debug`).

use super::meta::Level;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(2); // WARN

fn rank(level: Level) -> u8 {
    match level {
        Level::Debug => 0,
        Level::Info => 1,
        Level::Warn => 2,
        Level::Error => 3,
    }
}

/// Sets the lowest level written.
pub fn set_level(level: Level) {
    LEVEL.store(rank(level), Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    rank(level) >= LEVEL.load(Ordering::Relaxed)
}

/// Parses `debug`, `info`, `warn`, `error`.
pub fn parse_level(name: &str) -> Option<Level> {
    match name.to_ascii_lowercase().as_str() {
        "debug" => Some(Level::Debug),
        "info" => Some(Level::Info),
        "warn" | "warning" => Some(Level::Warn),
        "error" => Some(Level::Error),
        _ => None,
    }
}

pub fn log(level: Level, message: &str) {
    if enabled(level) {
        let name = match level {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        };
        // stderr may be closed; diagnostics never take the search down.
        let _ = writeln!(std::io::stderr().lock(), "aidetect {name}: {message}");
    }
}
