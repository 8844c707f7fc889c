//! The splunkd side of the protocol, for replaying recordings, the demo, `run` and tests:
//! encode requests, decode replies.

use super::body::{Records, Value};
use super::chunk::{ChunkReader, encode_chunk};
use serde_json::json;

/// A getinfo request carrying `args` (and a session key, as splunkd always sends one).
pub fn getinfo(args: &[String], extra: serde_json::Value) -> Vec<u8> {
    let mut searchinfo = json!({
        "args": args,
        "raw_args": args,
        "command": "aidetect",
        "search": "%7C%20aidetect",
        "app": "aidetect",
        "owner": "admin",
        "username": "admin",
        "session_key": "local-session-key",
        "sid": "local",
        "dispatch_dir": "",
        "splunk_version": "9.3.0",
        "maxresultrows": 50000,
        "earliest_time": "0",
        "latest_time": "0",
    });
    if let (Some(map), serde_json::Value::Object(more)) = (searchinfo.as_object_mut(), extra) {
        map.extend(more);
    }
    let meta = json!({"action": "getinfo", "preview": false, "searchinfo": searchinfo});
    encode_chunk(meta.to_string().as_bytes(), b"")
}

/// An execute request with a CSV body.
pub fn execute(finished: bool, body: &[u8]) -> Vec<u8> {
    let meta = if finished {
        &br#"{"action":"execute","finished":true}"#[..]
    } else {
        &br#"{"action":"execute","finished":false}"#[..]
    };
    encode_chunk(meta, body)
}

/// Rows of string lists (one list per field; empty = null) as the CSV splunkd sends: every
/// field with its `__mv_` companion, plain fields first.
pub fn splunkd_body(fields: &[String], rows: &[Vec<Vec<String>>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::NonNumeric)
        .from_writer(Vec::new());
    let header: Vec<String> = fields
        .iter()
        .cloned()
        .chain(fields.iter().map(|f| format!("__mv_{f}")))
        .collect();
    w.write_record(&header).expect("Vec write");
    for row in rows {
        let mut plain = Vec::with_capacity(fields.len());
        let mut mv = Vec::with_capacity(fields.len());
        for i in 0..fields.len() {
            let values = row.get(i).map(|v| v.as_slice()).unwrap_or(&[]);
            match values {
                [] => {
                    plain.push(String::new());
                    mv.push(String::new());
                }
                [one] => {
                    plain.push(one.clone());
                    mv.push(String::new());
                }
                many => {
                    let (display, cell) = super::body::encode_mv(many);
                    plain.push(display);
                    mv.push(cell);
                }
            }
        }
        w.write_record(plain.iter().chain(mv.iter()))
            .expect("Vec write");
    }
    w.into_inner().expect("Vec write")
}

/// One decoded reply.
#[derive(Debug, Clone)]
pub struct DecodedReply {
    pub metadata: serde_json::Value,
    pub body: Vec<u8>,
}

impl DecodedReply {
    /// The body's records as (field names, rows of value lists).
    pub fn table(&self) -> Result<Table, String> {
        let mut records = Records::new(&self.body).map_err(|e| e.to_string())?;
        let fields = records.fields().names().to_vec();
        let ids: Vec<_> = fields
            .iter()
            .map(|f| records.fields().id(f).expect("own field"))
            .collect();
        let mut rows = Vec::new();
        while let Some(r) = records.next().map_err(|e| e.to_string())? {
            rows.push(
                ids.iter()
                    .map(|&id| match r.get(id) {
                        Value::Null => Vec::new(),
                        v => v
                            .iter()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect(),
                    })
                    .collect(),
            );
        }
        Ok(Table { fields, rows })
    }
}

/// Field names and rows; each cell is a list of values (empty = null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub fields: Vec<String>,
    pub rows: Vec<Vec<Vec<String>>>,
}

impl Table {
    /// The cell of `field` in `row`.
    pub fn get(&self, row: usize, field: &str) -> Option<&[String]> {
        let i = self.fields.iter().position(|f| f == field)?;
        self.rows.get(row)?.get(i).map(|v| v.as_slice())
    }
}

/// Splits a reply stream into chunks and parses each one's JSON metadata.
pub fn decode_replies(bytes: &[u8]) -> Result<Vec<DecodedReply>, String> {
    let mut reader = ChunkReader::new(bytes);
    let mut out = Vec::new();
    loop {
        match reader.read_chunk() {
            Ok(Some(chunk)) => {
                let metadata = serde_json::from_slice(&chunk.metadata).map_err(|e| {
                    format!("reply {} has invalid JSON metadata: {e}", out.len() + 1)
                })?;
                out.push(DecodedReply {
                    metadata,
                    body: chunk.body,
                });
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
    }
}
