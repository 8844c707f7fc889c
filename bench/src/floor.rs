//! The floor: what it costs to read what splunkd sends, and nothing else.
//!
//! `aidetect-bench floor` is a command that speaks the protocol with the least possible
//! work: it frames the chunks and parses every body with the `csv` crate in a plain
//! `ByteRecord` loop, then answers each request with an empty reply. Run as a child process
//! through the same pipe, on the same core, measured the same way as the contenders.

use crate::scp::{Chunk, read_chunk, write_chunk};
use std::io::{self, Write};

/// Serves stdin/stdout until end of input. The final reply's body is `records,fields` with
/// the totals, so the harness can check that every row was read.
pub fn serve() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut output = io::BufWriter::new(io::stdout().lock());
    let mut chunk = Chunk::default();
    let mut record = csv::ByteRecord::new();
    let (mut records, mut fields) = (0u64, 0u64);
    while read_chunk(&mut input, &mut chunk)? {
        let meta = chunk.json()?;
        match meta["action"].as_str() {
            Some("getinfo") => {
                write_chunk(&mut output, br#"{"type":"reporting"}"#, b"")?;
            }
            Some("execute") => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(chunk.body.as_slice());
                while reader.read_byte_record(&mut record)? {
                    records += 1;
                    fields += record.len() as u64;
                }
                if meta["finished"].as_bool() == Some(true) {
                    let body = format!("records,fields\n{records},{fields}\n");
                    write_chunk(&mut output, br#"{"finished":true}"#, body.as_bytes())?;
                } else {
                    write_chunk(&mut output, br#"{"finished":false}"#, b"")?;
                }
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected action {other:?}"),
                ));
            }
        }
        output.flush()?;
    }
    Ok(())
}
