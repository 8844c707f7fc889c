//! A CSV row scanner for the bodies splunkd sends: finds field boundaries without copying.
//!
//! Fields are spans of the body; only a field with an escaped quote (`""`) or text after its
//! closing quote is decoded, into a per-row scratch buffer. The dialect is RFC 4180 with the
//! leniency of the `csv` crate: `\n`, `\r\n` and `\r` end a record; blank lines are skipped; a
//! quote inside an unquoted field is literal; an unterminated quoted field runs to the end of
//! the body; text after a closing quote is kept. A test checks it against the `csv` crate.

/// The fields of one row: spans into the body, or into `scratch` when decoded.
#[derive(Debug, Default, Clone)]
pub struct Row {
    spans: Vec<Span>,
    scratch: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    decoded: bool,
}

impl Row {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Field `i` of the row, read from `body` (the same body the row was scanned from).
    #[inline]
    pub fn get<'a>(&'a self, body: &'a [u8], i: usize) -> Option<&'a [u8]> {
        let s = self.spans.get(i)?;
        Some(if s.decoded {
            &self.scratch[s.start..s.end]
        } else {
            &body[s.start..s.end]
        })
    }

    fn clear(&mut self) {
        self.spans.clear();
        self.scratch.clear();
    }
}

/// Scans rows from a body, one at a time.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
}

#[inline]
fn is_terminator(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

impl<'a> Scanner<'a> {
    pub fn new(data: &'a [u8]) -> Scanner<'a> {
        Scanner { data, pos: 0 }
    }

    pub fn body(&self) -> &'a [u8] {
        self.data
    }

    /// Reads the next row into `row`; `false` at the end of the body.
    pub fn next_row(&mut self, row: &mut Row) -> bool {
        let data = self.data;
        let len = data.len();
        // Blank lines are not records.
        while self.pos < len && is_terminator(data[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= len {
            return false;
        }
        row.clear();
        let mut pos = self.pos;
        loop {
            if pos < len && data[pos] == b'"' {
                pos = self.quoted(pos + 1, row);
            } else {
                let start = pos;
                while pos < len {
                    let b = data[pos];
                    if b == b',' || is_terminator(b) {
                        break;
                    }
                    pos += 1;
                }
                row.spans.push(Span {
                    start,
                    end: pos,
                    decoded: false,
                });
            }
            if pos >= len {
                break;
            }
            match data[pos] {
                b',' => pos += 1, // another field follows, possibly empty
                b'\r' => {
                    pos += 1;
                    if pos < len && data[pos] == b'\n' {
                        pos += 1;
                    }
                    break;
                }
                _ => {
                    pos += 1; // '\n'
                    break;
                }
            }
        }
        self.pos = pos;
        true
    }

    /// A quoted field whose content starts at `start`; returns the position after it.
    #[inline]
    fn quoted(&self, start: usize, row: &mut Row) -> usize {
        let data = self.data;
        let len = data.len();
        // Quoted fields hold most of the bytes splunkd sends: find the closing quote with memchr.
        let q = memchr::memchr(b'"', &data[start..]).map_or(len, |i| start + i);
        if q >= len {
            row.spans.push(Span {
                start,
                end: len,
                decoded: false,
            });
            return len;
        }
        let after = q + 1;
        if after >= len || data[after] == b',' || is_terminator(data[after]) {
            row.spans.push(Span {
                start,
                end: q,
                decoded: false,
            });
            return after;
        }
        // An escaped quote, or text after the closing quote: decode into the scratch buffer.
        let out = row.scratch.len();
        let mut pos = start;
        let mut in_quotes = true;
        while pos < len {
            let b = data[pos];
            if in_quotes {
                if b == b'"' {
                    if pos + 1 < len && data[pos + 1] == b'"' {
                        row.scratch.push(b'"');
                        pos += 2;
                        continue;
                    }
                    in_quotes = false;
                    pos += 1;
                    continue;
                }
                row.scratch.push(b);
            } else {
                if b == b',' || is_terminator(b) {
                    break;
                }
                // Past the closing quote the field is unquoted: a quote is a literal byte.
                row.scratch.push(b);
            }
            pos += 1;
        }
        row.spans.push(Span {
            start: out,
            end: row.scratch.len(),
            decoded: true,
        });
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut s = Scanner::new(data);
        let mut row = Row::default();
        let mut out = Vec::new();
        while s.next_row(&mut row) {
            out.push(
                (0..row.len())
                    .map(|i| row.get(data, i).unwrap().to_vec())
                    .collect(),
            );
        }
        out
    }

    fn theirs(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            out.push(rec.iter().map(|f| f.to_vec()).collect());
        }
        out
    }

    #[test]
    fn agrees_with_the_csv_crate_on_the_cases_splunkd_writes() {
        for data in [
            &b"a,b\n1,2\n"[..],
            b"\"_time\",x,\"__mv__time\",\"__mv_x\"\n\"1.5\",\"q\"\"uote\",,\"$a$;$b$\"\n",
            b"a,b\r\n\"x\r\ny\",3\r\n,\r\n",
            b"a\n\n\nb\n",
            b"a,b,c\n1\n1,2,3,4\n",
            b"\"\",\"\"\"\"\n",
            b"no newline at end",
            b"trailing,comma,\n",
            b"\"unterminated,quote\n",
            b"\"text\"after,x\n",
            // Found by the csv_body fuzz target: a quote after the closing quote is literal.
            b"x,y,\"x6\"v_x6\",Q",
            b"\"a\"b\"c\"d,e\n",
            b"in\"side,x\n",
            b"\r\r\na\rb\n",
            b"",
            b",\n,\n",
            "\u{0e17}t,\"\u{6d4b}\u{8bd5}\"\n".as_bytes(),
        ] {
            assert_eq!(
                ours(data),
                theirs(data),
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn agrees_with_the_csv_crate_on_random_well_formed_bodies() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: &[u8] = b"ab,\"\r\n $;x";
        for _ in 0..2000 {
            let mut w = csv::WriterBuilder::new()
                .terminator(if next() % 2 == 0 {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .quote_style(if next() % 2 == 0 {
                    csv::QuoteStyle::Always
                } else {
                    csv::QuoteStyle::Necessary
                })
                .flexible(true)
                .from_writer(Vec::new());
            for _ in 0..(next() % 6 + 1) {
                let fields: Vec<Vec<u8>> = (0..(next() % 5 + 1))
                    .map(|_| {
                        (0..(next() % 6))
                            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                            .collect()
                    })
                    .collect();
                w.write_record(&fields).unwrap();
            }
            let data = w.into_inner().unwrap();
            assert_eq!(
                ours(&data),
                theirs(&data),
                "{:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
}
