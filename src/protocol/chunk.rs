//! Framing: one chunk is `chunked 1.0,<M>,<B>\n` followed by exactly M bytes of metadata
//! and B bytes of body. This module turns bytes into chunks and back, nothing more.

use std::io::{self, BufRead, Read, Write};

/// Longest header line accepted (splunkd writes about 20 bytes; other readers cap at 128).
pub const MAX_HEADER_LEN: usize = 256;

/// Default cap on the metadata of one chunk (getinfo is a few KiB).
pub const DEFAULT_MAX_METADATA: u64 = 64 * 1024 * 1024;

/// Default cap on the body of one chunk. splunkd sends at most `maxresultrows` rows per
/// chunk (16 MB at 50,000 rows of 48 fields has been recorded); 2 GiB leaves headroom for
/// very wide events without letting a corrupt header claim unbounded memory.
pub const DEFAULT_MAX_BODY: u64 = 2 * 1024 * 1024 * 1024;

/// One chunk as read from or written to the pipe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    pub metadata: Vec<u8>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error(
        "malformed chunk header at byte {offset}: {detail} (expected `chunked 1.0,<metadata bytes>,<body bytes>`)"
    )]
    BadHeader { offset: u64, detail: String },
    #[error(
        "input ended inside a chunk at byte {offset}: expected {expected} more bytes of {part}"
    )]
    Truncated {
        offset: u64,
        part: &'static str,
        expected: u64,
    },
    #[error("chunk {part} of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        part: &'static str,
        len: u64,
        limit: u64,
    },
    #[error("reading the input failed: {0}")]
    Io(#[from] io::Error),
}

/// Reads chunks from a byte stream, across partial reads, with a tolerant header parser.
pub struct ChunkReader<R> {
    inner: R,
    offset: u64,
    max_metadata: u64,
    max_body: u64,
    /// The buffer of the bodies read with `body`, reused for each: one allocation for a
    /// whole search instead of one per chunk (and no heap left fragmented by them).
    spare: Vec<u8>,
}

impl<R: BufRead> ChunkReader<R> {
    pub fn new(inner: R) -> Self {
        ChunkReader {
            inner,
            offset: 0,
            max_metadata: DEFAULT_MAX_METADATA,
            max_body: DEFAULT_MAX_BODY,
            spare: Vec::new(),
        }
    }

    /// Sets the largest body accepted; a larger declared length is an error, not an allocation.
    pub fn with_max_body(mut self, max_body: u64) -> Self {
        self.max_body = max_body;
        self
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next chunk. `Ok(None)` is an orderly end: the input ended before a header
    /// (only whitespace may precede it).
    pub fn read_chunk(&mut self) -> Result<Option<Chunk>, ChunkError> {
        let Some((metadata, body_len)) = self.read_head()? else {
            return Ok(None);
        };
        let body = self.read_exact_vec(body_len, "body", Vec::new())?;
        Ok(Some(Chunk { metadata, body }))
    }

    /// Reads the next chunk's header and metadata, and leaves its body (of the length
    /// returned) to be read with [`ChunkReader::body`], which must come next. `Ok(None)` as
    /// for `read_chunk`.
    pub fn read_head(&mut self) -> Result<Option<(Vec<u8>, u64)>, ChunkError> {
        let Some((meta_len, body_len)) = self.read_header()? else {
            return Ok(None);
        };
        if meta_len > self.max_metadata {
            return Err(ChunkError::TooLarge {
                part: "metadata",
                len: meta_len,
                limit: self.max_metadata,
            });
        }
        if body_len > self.max_body {
            return Err(ChunkError::TooLarge {
                part: "body",
                len: body_len,
                limit: self.max_body,
            });
        }
        let metadata = self.read_exact_vec(meta_len, "metadata", Vec::new())?;
        Ok(Some((metadata, body_len)))
    }

    /// The body of `len` bytes that `read_head` announced, as a [`BodyFeed`]: its bytes are
    /// read as the reader of the feed asks for them, so that a body is parsed while the rest
    /// of it is still arriving (splunkd writes a whole chunk at once; a body read whole
    /// before parsing would leave the pipe idle, and the body out of the CPU's cache, by the
    /// time its rows are read). The feed's buffer is reused from chunk to chunk.
    pub fn body(&mut self, len: u64) -> Result<BodyFeed<'_>, ChunkError> {
        if len > STREAMED_BODY_MAX {
            // Grown with the data, as `read_exact_vec` does: a huge length followed by EOF
            // fails as truncated before it is allocated.
            let spare = std::mem::take(&mut self.spare);
            self.spare = self.read_exact_vec(len, "body", spare)?;
            let whole = self.spare.len();
            return Ok(BodyFeed::new(
                &mut self.spare,
                whole,
                &mut self.inner,
                &mut self.offset,
            ));
        }
        let len = len as usize;
        if self.spare.len() < len {
            // Zeroed once, when the buffer first grows to this size; then reused as it is.
            self.spare.resize(len, 0);
        }
        Ok(BodyFeed::new(
            &mut self.spare[..len],
            0,
            &mut self.inner,
            &mut self.offset,
        ))
    }

    /// Reads past a body of `len` bytes that `read_head` announced, without keeping it.
    pub fn skip_body(&mut self, len: u64) -> Result<(), ChunkError> {
        let got = io::copy(&mut (&mut self.inner).take(len), &mut io::sink())?;
        self.consumed(got, len, "body")
    }

    /// Counts `got` bytes read of the `len` that `part` has; fewer is `Truncated`.
    fn consumed(&mut self, got: u64, len: u64, part: &'static str) -> Result<(), ChunkError> {
        self.offset += got;
        if got < len {
            return Err(ChunkError::Truncated {
                offset: self.offset,
                part,
                expected: len - got,
            });
        }
        Ok(())
    }

    /// Frees the body buffer (after the last body, before the final reply is built).
    pub fn release_body(&mut self) {
        self.spare = Vec::new();
    }

    fn read_exact_vec(
        &mut self,
        len: u64,
        part: &'static str,
        mut buf: Vec<u8>,
    ) -> Result<Vec<u8>, ChunkError> {
        // Reserve the declared length up to 256 MiB at once (splunkd's chunks are far smaller),
        // and beyond that grow with the data actually received: a header that claims 10 GB
        // followed by EOF must fail as truncated, not allocate 10 GB first.
        buf.clear();
        buf.reserve(len.min(256 << 20) as usize);
        let got = (&mut self.inner).take(len).read_to_end(&mut buf)? as u64;
        self.consumed(got, len, part)?;
        Ok(buf)
    }

    /// Skips leading ASCII whitespace (a stray newline between chunks is tolerated, as
    /// splunkd tolerates it), then reads one header line of at most `MAX_HEADER_LEN` bytes.
    fn read_header(&mut self) -> Result<Option<(u64, u64)>, ChunkError> {
        loop {
            let buf = fill_buf(&mut self.inner)?;
            if buf.is_empty() {
                return Ok(None);
            }
            let skip = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let done = skip < buf.len();
            self.inner.consume(skip);
            self.offset += skip as u64;
            if done {
                break;
            }
        }
        let start = self.offset;
        let mut line = Vec::with_capacity(32);
        loop {
            let buf = fill_buf(&mut self.inner)?;
            if buf.is_empty() {
                return Err(ChunkError::BadHeader {
                    offset: start,
                    detail: format!(
                        "input ended inside the header {:?}",
                        String::from_utf8_lossy(&line)
                    ),
                });
            }
            let room = MAX_HEADER_LEN - line.len();
            let window = &buf[..buf.len().min(room + 1)];
            if let Some(pos) = window.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&window[..pos]);
                self.inner.consume(pos + 1);
                self.offset += pos as u64 + 1;
                break;
            }
            if window.len() > room {
                return Err(ChunkError::BadHeader {
                    offset: start,
                    detail: format!("no newline within {MAX_HEADER_LEN} bytes"),
                });
            }
            let n = window.len();
            line.extend_from_slice(window);
            self.inner.consume(n);
            self.offset += n as u64;
        }
        parse_header(&line)
            .map(Some)
            .map_err(|detail| ChunkError::BadHeader {
                offset: start,
                detail,
            })
    }
}

/// `fill_buf`, retried when a signal interrupts it.
fn fill_buf<R: BufRead>(inner: &mut R) -> io::Result<&[u8]> {
    // Asked again once it succeeds (then it returns the buffered bytes without a read): the
    // borrow of a call inside the loop cannot be returned from it.
    while let Err(e) = inner.fill_buf() {
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    inner.fill_buf()
}

/// Largest body read as it is parsed; a larger one (far beyond what splunkd sends) is read
/// whole first, so that its length is never allocated before its bytes have arrived.
const STREAMED_BODY_MAX: u64 = 256 << 20;

/// Bytes asked of the input per read while a body streams in: enough for few system calls,
/// little enough that what was read is still in the CPU's cache when it is parsed. A
/// `BufReader` under the `ChunkReader` should be smaller: a read at least as large as its
/// buffer bypasses it, and the bytes are copied once, not twice.
pub const FEED_READ: usize = 256 * 1024;

/// One chunk body, read from the input on demand: [`BodyFeed::fill_to`] reads until a given
/// number of bytes has arrived and returns every byte received so far. Received bytes are
/// never written again, so the slices it returns stay valid while the rest arrives.
pub struct BodyFeed<'a> {
    /// The body's buffer (`len` initialised bytes, owned by the `ChunkReader`).
    buf: *mut u8,
    len: usize,
    /// Bytes received: `buf[..filled]` is final.
    filled: usize,
    input: &'a mut dyn Read,
    offset: &'a mut u64,
    /// The buffer is borrowed for `'a`: nothing else reads or writes it meanwhile.
    _buf: std::marker::PhantomData<&'a mut [u8]>,
}

impl<'a> BodyFeed<'a> {
    fn new(
        buf: &'a mut [u8],
        filled: usize,
        input: &'a mut dyn Read,
        offset: &'a mut u64,
    ) -> BodyFeed<'a> {
        debug_assert!(filled <= buf.len());
        BodyFeed {
            len: buf.len(),
            buf: buf.as_mut_ptr(),
            filled,
            input,
            offset,
            _buf: std::marker::PhantomData,
        }
    }

    /// The body's length.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes received so far.
    pub fn received(&self) -> &'a [u8] {
        // SAFETY: `buf[..filled]` is initialised, lies in the buffer borrowed for `'a`, and
        // is never written again (reads only write `buf[filled..len]`).
        unsafe { std::slice::from_raw_parts(self.buf, self.filled) }
    }

    /// Reads until at least `want` bytes (at most the body's length) have arrived; returns
    /// all the bytes received. An input that ends first is `ChunkError::Truncated`.
    pub fn fill_to(&mut self, want: usize) -> Result<&'a [u8], ChunkError> {
        let want = want.min(self.len);
        while self.filled < want {
            let room = (self.len - self.filled).min(FEED_READ.max(want - self.filled));
            // SAFETY: `buf[filled..filled + room]` is initialised, inside the buffer, and not
            // covered by any slice handed out (those end at `filled`).
            let target = unsafe { std::slice::from_raw_parts_mut(self.buf.add(self.filled), room) };
            match self.input.read(target) {
                Ok(0) => {
                    return Err(ChunkError::Truncated {
                        offset: *self.offset,
                        part: "body",
                        expected: (self.len - self.filled) as u64,
                    });
                }
                // `Read` is a safe trait: a count beyond the buffer given must not be trusted.
                Ok(n) if n > room => {
                    return Err(ChunkError::Io(io::Error::other(format!(
                        "the input reported {n} bytes read into a buffer of {room}"
                    ))));
                }
                Ok(n) => {
                    self.filled += n;
                    *self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ChunkError::Io(e)),
            }
        }
        Ok(self.received())
    }

    /// Reads the rest of the body (what its reader did not ask for) and returns it all.
    pub fn fill_all(&mut self) -> Result<&'a [u8], ChunkError> {
        self.fill_to(self.len)
    }
}

impl std::fmt::Debug for BodyFeed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyFeed")
            .field("len", &self.len)
            .field("filled", &self.filled)
            .finish()
    }
}

/// Parses `chunked 1.0,M,B` (without the newline): spaces after `chunked` and around the
/// commas, and a trailing `\r`, are accepted.
pub fn parse_header(line: &[u8]) -> Result<(u64, u64), String> {
    let text = std::str::from_utf8(line)
        .map_err(|_| format!("header is not text: {:?}", String::from_utf8_lossy(line)))?;
    let shown = || format!("got {text:?}");
    let rest = text
        .strip_prefix("chunked")
        .ok_or_else(|| format!("header does not start with `chunked`: {}", shown()))?;
    let trimmed = rest.trim_start_matches([' ', '\t']);
    if trimmed.len() == rest.len() {
        return Err(format!("expected a space after `chunked`: {}", shown()));
    }
    let rest = trimmed
        .strip_prefix("1.0")
        .ok_or_else(|| format!("unsupported protocol version (only 1.0): {}", shown()))?;
    let rest = rest.trim_end_matches(['\r', ' ', '\t']);
    let mut parts = rest.split(',');
    let (Some(empty), Some(m), Some(b), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("expected two comma-separated lengths: {}", shown()));
    };
    if !empty.trim_matches([' ', '\t']).is_empty() {
        return Err(format!("unexpected text after `1.0`: {}", shown()));
    }
    let number = |s: &str, what: &str| -> Result<u64, String> {
        let s = s.trim_matches([' ', '\t']);
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{what} length {s:?} is not a decimal byte count: {}",
                shown()
            ));
        }
        s.parse::<u64>()
            .map_err(|_| format!("{what} length {s} is out of range: {}", shown()))
    };
    Ok((number(m, "metadata")?, number(b, "body")?))
}

/// Writes one chunk byte-exactly (`chunked 1.0,M,B\n`, metadata, body) and flushes.
pub fn write_chunk<W: Write>(out: &mut W, metadata: &[u8], body: &[u8]) -> io::Result<()> {
    let header = format!("chunked 1.0,{},{}\n", metadata.len(), body.len());
    out.write_all(header.as_bytes())?;
    out.write_all(metadata)?;
    out.write_all(body)?;
    out.flush()
}

/// Encodes one chunk into bytes (for tests and recordings).
pub fn encode_chunk(metadata: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(metadata.len() + body.len() + 32);
    write_chunk(&mut out, metadata, body).expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read, to exercise partial reads.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Honest through the header and metadata, but from byte `.2` on, `read` claims more
    /// than the buffer it was given, as a safe `Read` may.
    struct Overclaim(Vec<u8>, usize, usize);
    impl Read for Overclaim {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(if self.1 > self.2 { buf.len() + 4096 } else { n })
        }
    }
    impl BufRead for Overclaim {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            // One line at a time, so that the body is left to `read`.
            let rest = &self.0[self.1..];
            let line = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            Ok(&rest[..line])
        }
        fn consume(&mut self, amt: usize) {
            self.1 += amt;
        }
    }

    #[test]
    fn a_reader_that_overclaims_is_an_error_not_a_longer_body() {
        let chunk = encode_chunk(b"{}\n", b"a\n1\n2\n");
        let body_at = chunk.len() - 6;
        let mut reader = ChunkReader::new(Overclaim(chunk, 0, body_at));
        let (meta, len) = reader.read_head().unwrap().unwrap();
        assert_eq!((meta.as_slice(), len), (&b"{}\n"[..], 6));
        match reader.body(len).unwrap().fill_all() {
            Err(ChunkError::Io(e)) => assert!(e.to_string().contains("bytes read into a buffer")),
            other => panic!("{other:?}"),
        }
    }

    /// A byte slice whose first `fill_buf` is interrupted by a signal.
    struct Interrupted<'a>(&'a [u8], bool);
    impl Read for Interrupted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl BufRead for Interrupted<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if std::mem::replace(&mut self.1, false) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            Ok(self.0)
        }
        fn consume(&mut self, amt: usize) {
            self.0 = &self.0[amt..];
        }
    }

    #[test]
    fn a_signal_during_a_header_read_is_retried() {
        let chunk = encode_chunk(b"{}", b"xy");
        let mut reader = ChunkReader::new(Interrupted(&chunk, true));
        let got = reader.read_chunk().unwrap().unwrap();
        assert_eq!(
            (got.metadata.as_slice(), got.body.as_slice()),
            (&b"{}"[..], &b"xy"[..])
        );
    }

    #[test]
    fn a_skipped_body_is_read_past_or_reported_truncated() {
        let mut input = encode_chunk(b"{}", b"0123456789");
        input.extend(encode_chunk(b"[]", b""));
        let mut reader = ChunkReader::new(&input[..]);
        let (_, len) = reader.read_head().unwrap().unwrap();
        reader.skip_body(len).unwrap();
        let (meta, len) = reader.read_head().unwrap().unwrap();
        assert_eq!((meta.as_slice(), len), (&b"[]"[..], 0));
        let cut = encode_chunk(b"{}", b"0123456789");
        let mut reader = ChunkReader::new(&cut[..cut.len() - 3]);
        let (_, len) = reader.read_head().unwrap().unwrap();
        match reader.skip_body(len) {
            Err(ChunkError::Truncated {
                expected: 3,
                part: "body",
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    /// A reader that delivers the input in two reads split at `split`.
    struct Split<'a> {
        parts: [&'a [u8]; 2],
    }
    impl Read for Split<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let part = if self.parts[0].is_empty() {
                &mut self.parts[1]
            } else {
                &mut self.parts[0]
            };
            let n = buf.len().min(part.len());
            buf[..n].copy_from_slice(&part[..n]);
            *part = &part[n..];
            Ok(n)
        }
    }

    fn read_all<R: Read>(r: R) -> Result<Vec<Chunk>, ChunkError> {
        let mut reader = ChunkReader::new(io::BufReader::with_capacity(7, r));
        let mut out = Vec::new();
        while let Some(c) = reader.read_chunk()? {
            out.push(c);
        }
        Ok(out)
    }

    fn stream() -> Vec<u8> {
        let mut s = encode_chunk(br#"{"action":"getinfo"}"#, b"");
        s.extend(encode_chunk(
            br#"{"action":"execute","finished":true}"#,
            "a,b\n\"\u{6d4b}\u{8bd5}\",2\n".as_bytes(),
        ));
        s
    }

    #[test]
    fn header_is_written_byte_exactly_with_utf8_byte_lengths() {
        let bytes = encode_chunk(br#"{"finished":true}"#, "\u{6d4b}\u{8bd5}".as_bytes());
        assert_eq!(
            bytes,
            "chunked 1.0,17,6\n{\"finished\":true}\u{6d4b}\u{8bd5}".as_bytes()
        );
    }

    #[test]
    fn chunk_split_at_every_byte_position_reads_the_same() {
        let data = stream();
        let whole = read_all(&data[..]).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[1].body, "a,b\n\"\u{6d4b}\u{8bd5}\",2\n".as_bytes());
        for split in 0..=data.len() {
            let got = read_all(Split {
                parts: [&data[..split], &data[split..]],
            })
            .unwrap();
            assert_eq!(got, whole, "split at {split}");
        }
        for step in 1..5 {
            let got = read_all(Trickle { data: &data, step }).unwrap();
            assert_eq!(got, whole, "step {step}");
        }
    }

    #[test]
    fn header_tolerates_leading_blank_lines_spaces_and_crlf() {
        for header in [
            "chunked 1.0,2,0\n",
            "\n\nchunked 1.0,2,0\n",
            "  \r\n chunked   1.0 , 2 , 0 \r\n",
            "chunked\t1.0,2,0\r\n",
        ] {
            let mut data = header.as_bytes().to_vec();
            data.extend_from_slice(b"{}");
            let got = read_all(&data[..]).unwrap();
            assert_eq!(got.len(), 1, "{header:?}");
            assert_eq!(got[0].metadata, b"{}");
        }
    }

    #[test]
    fn eof_before_a_header_is_an_orderly_end() {
        assert!(read_all(&b""[..]).unwrap().is_empty());
        assert!(read_all(&b" \n\r\n"[..]).unwrap().is_empty());
    }

    #[test]
    fn eof_inside_a_chunk_is_an_error_naming_the_part() {
        let data = stream();
        let first_len = encode_chunk(br#"{"action":"getinfo"}"#, b"").len();
        for cut in first_len + 1..data.len() {
            let err = read_all(&data[..cut]).unwrap_err();
            match err {
                ChunkError::Truncated { .. } | ChunkError::BadHeader { .. } => {}
                other => panic!("cut {cut}: {other}"),
            }
        }
        let err = read_all(&b"chunked 1.0,5,3\n{}"[..]).unwrap_err();
        assert!(
            err.to_string().contains("3 more bytes of metadata"),
            "{err}"
        );
    }

    #[test]
    fn malformed_headers_are_rejected_with_the_text_seen() {
        for bad in [
            "chunked 2.0,1,1\n",
            "chunked 1.0,-1,0\n",
            "chunked 1.0,1\n",
            "chunked 1.0,1,2,3\n",
            "chunkd 1.0,1,1\n",
            "chunked1.0,1,1\n",
            "chunked 1.0,x,1\n",
            "chunked 1.0,99999999999999999999999,0\n",
            "{\"action\":\"getinfo\"}\n",
        ] {
            let err = read_all(bad.as_bytes()).unwrap_err();
            assert!(
                matches!(err, ChunkError::BadHeader { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    /// Found by the chunk_reader fuzz target: after an error only the error is specified (not
    /// how far the reader got), and the error must not depend on how the bytes arrive.
    #[test]
    fn errors_are_the_same_whatever_the_read_sizes() {
        let mut overlong = stream();
        overlong.extend(vec![b'x'; MAX_HEADER_LEN + 40]);
        let mut truncated = stream();
        truncated.extend(b"chunked 1.0,10,5\n{\"a\":1}");
        for input in [overlong, truncated, b"chunked 1.0,1".to_vec()] {
            let outcome = |capacity: usize, step: usize| {
                let mut reader = ChunkReader::new(io::BufReader::with_capacity(
                    capacity,
                    Trickle { data: &input, step },
                ));
                let mut chunks = Vec::new();
                loop {
                    match reader.read_chunk() {
                        Ok(Some(c)) => chunks.push(c),
                        Ok(None) => panic!("these inputs end in an error"),
                        Err(e) => return (chunks, e.to_string()),
                    }
                }
            };
            let whole = outcome(1 << 16, usize::MAX);
            for capacity in 1..=16 {
                for step in [1, 3, 7, 16] {
                    assert_eq!(outcome(capacity, step), whole, "{capacity} {step}");
                }
            }
        }
    }

    #[test]
    fn header_without_newline_is_capped() {
        let data = vec![b'c'; MAX_HEADER_LEN * 4];
        let err = read_all(&data[..]).unwrap_err();
        assert!(err.to_string().contains("no newline within"), "{err}");
    }

    #[test]
    fn absurd_body_length_is_refused_without_allocating() {
        let err = read_all(&b"chunked 1.0,2,10000000000\n{}"[..]).unwrap_err();
        assert!(
            matches!(err, ChunkError::TooLarge { part: "body", .. }),
            "{err}"
        );
        // Under the cap but truncated: fails as truncated, having read only what came.
        let mut reader = ChunkReader::new(&b"chunked 1.0,2,1000000000\n{}abc"[..]);
        let err = reader.read_chunk().unwrap_err();
        assert!(
            matches!(err, ChunkError::Truncated { part: "body", .. }),
            "{err}"
        );
    }
}
