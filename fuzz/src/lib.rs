//! What the fuzz targets and the seed generator share: readers that deliver bytes as a pipe
//! does, a strict parser of reply streams, and the reference `__mv_` decoder.

use aidetect::protocol::chunk::{Chunk, ChunkReader};
use std::io::{self, BufReader, Read};
use std::sync::LazyLock;

/// A reader that hands out at most `step` bytes per read, as a pipe does.
pub struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl<'a> Trickle<'a> {
    pub fn new(data: &'a [u8], step: usize) -> Trickle<'a> {
        Trickle {
            data,
            step: step.max(1),
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Everything a `ChunkReader` makes of an input: the chunks, how it stopped (`None` = an
/// orderly end, else the error's text) and the bytes it consumed.
#[derive(Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    pub chunks: Vec<Chunk>,
    pub error: Option<String>,
    pub offset: u64,
}

/// Reads `input` to its end through a buffer of `capacity` bytes filled `step` bytes at a time.
pub fn read_chunks(input: &[u8], capacity: usize, step: usize) -> ReadOutcome {
    let mut reader = ChunkReader::new(BufReader::with_capacity(
        capacity.max(1),
        Trickle::new(input, step),
    ));
    let mut chunks = Vec::new();
    let error = loop {
        match reader.read_chunk() {
            Ok(Some(chunk)) => chunks.push(chunk),
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    ReadOutcome {
        chunks,
        error,
        offset: reader.offset(),
    }
}

/// Splits a reply stream as splunkd's strict reader does: `chunked 1.0,M,B\n` exactly,
/// metadata that is a JSON object, nothing between chunks.
pub fn strict_replies(mut out: &[u8]) -> Result<Vec<(serde_json::Value, Vec<u8>)>, String> {
    let mut replies = Vec::new();
    while !out.is_empty() {
        let nl = out
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("a reply header without a newline")?;
        let header = std::str::from_utf8(&out[..nl]).map_err(|_| "a header that is not text")?;
        let lengths = header
            .strip_prefix("chunked 1.0,")
            .ok_or_else(|| format!("bad reply header {header:?}"))?;
        let (m, b) = lengths
            .split_once(',')
            .ok_or_else(|| format!("bad reply header {header:?}"))?;
        let number = |s: &str| -> Result<usize, String> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("bad length in reply header {header:?}"));
            }
            s.parse().map_err(|_| format!("bad length in {header:?}"))
        };
        let (m, b) = (number(m)?, number(b)?);
        let rest = &out[nl + 1..];
        if rest.len() < m + b {
            return Err(format!("reply {header:?} is cut short"));
        }
        let meta: serde_json::Value = serde_json::from_slice(&rest[..m])
            .map_err(|e| format!("reply metadata is not JSON: {e}"))?;
        if !meta.is_object() {
            return Err(format!("reply metadata is not an object: {meta}"));
        }
        replies.push((meta, rest[m..m + b].to_vec()));
        out = &rest[m + b..];
    }
    Ok(replies)
}

/// splunklib's decoder: `[m.replace('$$', '$') for m in re.findall(r"\$((?:\$\$|[^$])*)\$(?:;|$)", cell)]`.
/// The `regex` crate picks the same match as Python's backtracking engine (leftmost-first);
/// Python's `$` also matches before a final newline, which `\n\z` stands for here (consuming
/// that newline changes nothing: no match can start at it).
pub fn mv_reference(cell: &[u8]) -> Vec<Vec<u8>> {
    static FINDALL: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r"(?s-u)\$((?:\$\$|[^$])*)\$(?:;|\n\z|\z)").expect("valid")
    });
    FINDALL
        .captures_iter(cell)
        .map(|c| {
            let item = &c[1];
            let mut out = Vec::with_capacity(item.len());
            let mut i = 0;
            while i < item.len() {
                out.push(item[i]);
                i += if item[i..].starts_with(b"$$") { 2 } else { 1 };
            }
            out
        })
        .collect()
}

/// Command arguments from fuzz bytes: one argument per NUL-separated piece.
pub fn args_from(bytes: &[u8]) -> Vec<String> {
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}
