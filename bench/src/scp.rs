//! Just enough of SCP v2 framing for a harness: read a chunk, write a chunk.
//!
//! Deliberately independent of the `aidetect` crate, so that the harness does not check the
//! command with the command's own code.

use std::io::{self, BufRead, Write};

/// One chunk as read from a stream; the buffers are reused from one chunk to the next.
#[derive(Default)]
pub struct Chunk {
    pub metadata: Vec<u8>,
    pub body: Vec<u8>,
    header: Vec<u8>,
}

impl Chunk {
    /// The metadata as JSON.
    pub fn json(&self) -> io::Result<serde_json::Value> {
        serde_json::from_slice(&self.metadata).map_err(|e| invalid(format!("metadata: {e}")))
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads the next chunk into `chunk`; `Ok(false)` at a clean end of stream.
pub fn read_chunk<R: BufRead>(r: &mut R, chunk: &mut Chunk) -> io::Result<bool> {
    chunk.header.clear();
    if r.read_until(b'\n', &mut chunk.header)? == 0 {
        return Ok(false);
    }
    let (m, b) = parse_header(&chunk.header).ok_or_else(|| {
        invalid(format!(
            "bad chunk header {:?}",
            String::from_utf8_lossy(&chunk.header)
        ))
    })?;
    read_exact_into(r, &mut chunk.metadata, m)?;
    read_exact_into(r, &mut chunk.body, b)?;
    Ok(true)
}

fn read_exact_into<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf)
}

/// `chunked 1.0,<M>,<B>\n` (writers are byte-exact; no leniency needed here).
fn parse_header(line: &[u8]) -> Option<(usize, usize)> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("chunked 1.0,")?.trim_end();
    let (m, b) = rest.split_once(',')?;
    Some((m.parse().ok()?, b.parse().ok()?))
}

/// Writes one chunk exactly as splunkd and splunklib do; returns the bytes written.
pub fn write_chunk<W: Write>(w: &mut W, metadata: &[u8], body: &[u8]) -> io::Result<usize> {
    let header = format!("chunked 1.0,{},{}\n", metadata.len(), body.len());
    w.write_all(header.as_bytes())?;
    w.write_all(metadata)?;
    w.write_all(body)?;
    Ok(header.len() + metadata.len() + body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_including_empty_parts() {
        let mut bytes = Vec::new();
        write_chunk(&mut bytes, br#"{"finished":false}"#, b"a,b\n1,2\n").unwrap();
        write_chunk(&mut bytes, br#"{"finished":true}"#, b"").unwrap();
        let mut r = &bytes[..];
        let mut c = Chunk::default();
        assert!(read_chunk(&mut r, &mut c).unwrap());
        assert_eq!(c.body, b"a,b\n1,2\n");
        assert_eq!(c.json().unwrap()["finished"], false);
        assert!(read_chunk(&mut r, &mut c).unwrap());
        assert!(c.body.is_empty());
        assert_eq!(c.metadata, br#"{"finished":true}"#);
        assert!(!read_chunk(&mut r, &mut c).unwrap());
    }

    #[test]
    fn a_truncated_body_is_an_error() {
        let mut r = &b"chunked 1.0,2,10\n{}abc"[..];
        assert!(read_chunk(&mut r, &mut Chunk::default()).is_err());
    }
}
