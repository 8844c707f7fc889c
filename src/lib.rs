//! aidetect: a Splunk custom search command that finds users and machines calling
//! generative-AI APIs programmatically (MITRE ATT&CK T1588.007).
//!
//! - [`protocol`] speaks Splunk's chunked protocol (SCP v2) and knows nothing about AI.
//! - [`detect`] knows AI services, clients and scores and knows nothing about the wire.
//! - [`aidetect`] is the command that wires the two.

pub mod aidetect;
pub mod cli;
pub mod detect;
pub mod input;
pub mod protocol;
#[cfg(test)]
mod test_rng;
