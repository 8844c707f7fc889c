//! Splunk's chunked custom search command protocol, version 2 (SCP v2).
//!
//! Knows nothing about what a command computes: bytes → chunks → requests → records →
//! a [`Command`] → records → replies → bytes.

pub mod body;
pub mod chunk;
pub mod csvscan;
pub mod diag;
pub mod driver;
pub mod meta;
pub mod options;
pub mod session;

pub use body::{
    Cell, Columns, CsvRows, FieldId, Fields, Layout, Record, RecordSet, Records, StreamedRows,
    Value,
};
pub use meta::{CommandType, Level, SearchInfo};
pub use session::{Command, CommandError, Declaration, Ending, Output, Settings, serve};
