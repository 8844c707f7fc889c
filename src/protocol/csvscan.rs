//! A CSV row scanner for the bodies splunkd sends: finds field boundaries without copying.
//!
//! Fields are spans of the body; only a field with an escaped quote (`""`) or text after its
//! closing quote is decoded, into a per-row scratch buffer. The dialect is RFC 4180 with the
//! leniency of the `csv` crate: `\n`, `\r\n` and `\r` end a record; blank lines are skipped; a
//! quote inside an unquoted field is literal; an unterminated quoted field runs to the end of
//! the body; text after a closing quote is kept. Tests check it against the `csv` crate.
//!
//! Two scanners share that dialect:
//! - the *structural* scanner classifies 64 bytes at a time (SIMD compares: SSE2, or AVX2 /
//!   AVX-512 where the CPU has them): which bytes are quotes, commas and line ends, which are
//!   inside quotes (a prefix XOR of the quote bits, as simdjson does), and writes the positions
//!   of the field boundaries to an index that rows are sliced from. The XOR model equals RFC 4180 only while every quote opens a field, closes one,
//!   or is half of a `""` pair; each block is checked for exactly that before any of its
//!   boundaries is used.
//! - the *byte* scanner handles everything else: a body where that check fails is scanned by
//!   it from the start of the row in which the odd quote appears, to the end of the body.

use super::chunk::{BodyFeed, ChunkError};

/// The fields of one row, read from the body they were scanned from.
///
/// The structural scanner gives the position where each field ends (`ends`); a field is then
/// the bytes between two ends, less its quotes. A row with an escaped quote, and every row of
/// the byte scanner, is kept as `spans` instead: into the body, or into `scratch` when decoded.
#[derive(Debug, Default, Clone)]
pub struct Row {
    start: usize,
    ends: Vec<u32>,
    spans: Vec<Span>,
    by_spans: bool,
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
        if self.by_spans {
            self.spans.len()
        } else {
            self.ends.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Field `i` of the row, read from `body` (the same body the row was scanned from).
    #[inline(always)]
    pub fn get<'a>(&'a self, body: &'a [u8], i: usize) -> Option<&'a [u8]> {
        if self.by_spans {
            return self.get_span(body, i);
        }
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => self.start,
            _ => self.ends[i - 1] as usize + 1,
        };
        Some(unquote(&body[start..end]))
    }

    #[inline(never)]
    fn get_span<'a>(&'a self, body: &'a [u8], i: usize) -> Option<&'a [u8]> {
        let s = self.spans.get(i)?;
        Some(if s.decoded {
            &self.scratch[s.start..s.end]
        } else {
            &body[s.start..s.end]
        })
    }

    fn clear(&mut self, by_spans: bool) {
        self.ends.clear();
        self.spans.clear();
        self.scratch.clear();
        self.by_spans = by_spans;
    }
}

/// A field as sent, less its quotes. The structural scanner has checked that a field which
/// starts with a quote either ends with the closing one or runs unterminated to the end of the
/// body, and that it holds no other quote (rows with `""` are kept as spans).
#[inline]
fn unquote(field: &[u8]) -> &[u8] {
    match field {
        [b'"', inner @ .., b'"'] => inner,
        [b'"', rest @ ..] => rest,
        plain => plain,
    }
}

/// Scans rows from a body, one at a time.
#[derive(Debug)]
pub struct Scanner<'a> {
    /// The body's bytes received so far (all of them, without a feed).
    data: &'a [u8],
    /// The body's length.
    total: usize,
    /// Where the rest of the body comes from, as the rows need it.
    feed: Option<BodyFeed<'a>>,
    /// Why the body ended early (the input failed); the rows stop there.
    failed: Option<ChunkError>,
    /// Where the next row starts.
    pos: usize,
    /// The body showed a quote the structural model does not cover: bytes from here on.
    bytes_only: bool,
    simd: Simd,
    /// Bytes indexed at a time (`WINDOW`; smaller in tests).
    window: usize,
    index: Index,
}

/// Bytes the structural scanner indexes at a time: small enough that the rows it finds are
/// still in the CPU's cache when they are read.
const WINDOW: usize = 64 * 1024;

/// The structural scanner's findings ahead of the rows read so far.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Field boundaries (commas and line ends outside quotes), in order; `slots[taken..filled]`
    /// are not yet part of a row. Longer than `filled`: a block writes its boundaries several
    /// at a time without checking for room (see `Classify::write_positions`).
    slots: Vec<u32>,
    taken: usize,
    filled: usize,
    /// The slots that hold a line end, in order; from `lines_taken` on not yet used.
    lines: Vec<usize>,
    lines_taken: usize,
    /// Positions of opening quotes that directly follow a closing one (`""`), in order.
    escapes: Vec<u32>,
    escapes_taken: usize,
    /// Bytes classified so far (whole blocks; may pass the end of the body).
    scanned: usize,
    /// All ones when the last block ended inside quotes.
    in_quotes: u64,
    /// The last block's last byte was a boundary or a closing quote (what may precede an
    /// opening quote); true at the start.
    prev_open_ok: bool,
    /// The last block's last byte was a closing quote (an opening quote after it is `""`).
    prev_close: bool,
    /// Stopped at `scanned`: that block holds a quote outside the model.
    odd: bool,
}

#[inline]
fn is_terminator(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The widest classifier this CPU runs, chosen once per body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    /// SSE2, which every x86-64 CPU has (or the byte loop on other targets).
    Base,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Simd {
    fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            // The index loops also use POPCNT, BMI1 and BMI2 (every CPU with AVX2 has them;
            // checked all the same).
            let bits = std::is_x86_feature_detected!("popcnt")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2");
            if bits
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("pclmulqdq")
            {
                return Simd::Avx512;
            }
            if bits && std::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Base
    }
}

/// Bit `i` of each mask is set when byte `i` of the block is a quote, a comma, a line end.
trait Classify: Copy {
    fn classify(self, block: &[u8; 64]) -> (u64, u64, u64);

    /// Bit `i` is the XOR of bits `0..=i`.
    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        prefix_xor(x)
    }

    /// Writes `base + i` for every bit `i` of `bits`, in order, to the start of `slots`;
    /// may write up to 64 + 16 slots (the ones past the last position are garbage).
    #[inline(always)]
    fn write_positions(self, slots: &mut [u32], base: u32, bits: u64) {
        write_positions(slots, base, bits)
    }
}

/// Eight at a time, unconditionally: most blocks hold fewer than eight boundaries, and the
/// slots past the last one are overwritten by the next block or never read.
#[inline(always)]
fn write_positions(slots: &mut [u32], base: u32, mut bits: u64) {
    for group in slots[..64].chunks_exact_mut(8) {
        for slot in group {
            *slot = base + bits.trailing_zeros();
            bits &= bits.wrapping_sub(1);
        }
        if bits == 0 {
            break;
        }
    }
}

#[derive(Clone, Copy)]
struct Base;

impl Classify for Base {
    #[inline(always)]
    fn classify(self, block: &[u8; 64]) -> (u64, u64, u64) {
        // Opaque to the optimiser, as in `Avx2`.
        std::hint::black_box(classify(block))
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn classify(self, block: &[u8; 64]) -> (u64, u64, u64) {
        // SAFETY: only used by `index_avx2`, which runs where the CPU has AVX2.
        let masks = unsafe { classify_avx2(block) };
        // Opaque to the optimiser: left to see through the masks, it rebuilds them as vectors
        // of booleans and extracts the bits one by one, three times slower.
        std::hint::black_box(masks)
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx512 {
    #[inline(always)]
    fn classify(self, block: &[u8; 64]) -> (u64, u64, u64) {
        // SAFETY: only used by `index_avx512`, which runs where the CPU has AVX-512BW.
        unsafe { classify_avx512(block) }
    }

    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        // SAFETY: as above (`detect` also checked PCLMULQDQ).
        unsafe { prefix_xor_clmul(x) }
    }

    #[inline(always)]
    fn write_positions(self, slots: &mut [u32], base: u32, bits: u64) {
        // SAFETY: as above (AVX-512BW implies AVX-512F).
        unsafe { write_positions_avx512(slots, base, bits) }
    }
}

/// A carry-less multiplication by all ones is the prefix XOR.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// Sixteen positions at a time, compressed by the mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn write_positions_avx512(slots: &mut [u32], base: u32, bits: u64) {
    use std::arch::x86_64::{
        _mm512_add_epi32, _mm512_maskz_compress_epi32, _mm512_set1_epi32, _mm512_setr_epi32,
        _mm512_storeu_si512,
    };
    let slots = &mut slots[..80];
    let mut at = _mm512_add_epi32(
        _mm512_set1_epi32(base as i32),
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    );
    let sixteen = _mm512_set1_epi32(16);
    let mut out = 0;
    for k in 0..4 {
        let m = (bits >> (16 * k)) as u16;
        let v = _mm512_maskz_compress_epi32(m, at);
        let dst = &mut slots[out..out + 16];
        // SAFETY: `dst` is 16 writable u32s; the store has no alignment requirement.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), v) };
        out += m.count_ones() as usize;
        at = _mm512_add_epi32(at, sixteen);
    }
}

/// `index_blocks` compiled for AVX2 CPUs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1,bmi2")]
fn index_avx2(ix: &mut Index, data: &[u8], to: usize) {
    index_blocks(ix, data, to, Avx2)
}

/// `index_blocks` compiled for AVX-512BW CPUs, the classifier inlined (its masks are native
/// 64-bit mask registers).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw,avx512f,pclmulqdq,popcnt,bmi1,bmi2")]
fn index_avx512(ix: &mut Index, data: &[u8], to: usize) {
    index_blocks(ix, data, to, Avx512)
}

/// Classifies the blocks from `ix.scanned` up to `to` (or the first with a quote outside the
/// model) and records their boundaries, line ends and escapes.
#[inline(always)]
fn index_blocks<C: Classify>(ix: &mut Index, data: &[u8], to: usize, c: C) {
    let len = data.len();
    while ix.scanned < to {
        let base = ix.scanned;
        let (quotes, commas, ends) = match data.get(base..base + 64) {
            Some(full) => c.classify(full.try_into().expect("64 bytes")),
            None => {
                // The last block, padded with commas (which end the last field and are
                // dropped from the boundaries below).
                let mut padded = [b','; 64];
                padded[..len - base].copy_from_slice(&data[base..]);
                c.classify(&padded)
            }
        };
        let inside = c.prefix_xor(quotes) ^ ix.in_quotes;
        let opens = quotes & inside;
        let closes = quotes & !inside;
        let bounds = (commas | ends) & !inside;
        // An opening quote follows a boundary, the start, or a closing quote (`""`); a closing
        // quote is followed by a boundary, the end, or an opening quote.
        let open_ok = ((bounds | closes) << 1) | u64::from(ix.prev_open_ok);
        let next_ok = match data.get(base + 64) {
            None => true,
            Some(&n) => matches!(n, b'"' | b',' | b'\r' | b'\n'),
        };
        let close_ok = ((bounds | opens) >> 1) | (u64::from(next_ok) << 63);
        if (opens & !open_ok) | (closes & !close_ok) != 0 {
            ix.odd = true;
            return;
        }
        let valid = low_bits(len - base);
        let bounds = bounds & valid;
        let mut escapes = opens & ((closes << 1) | u64::from(ix.prev_close));
        while escapes != 0 {
            ix.escapes
                .push((base + escapes.trailing_zeros() as usize) as u32);
            escapes &= escapes - 1;
        }
        let mut lines = ends & bounds;
        while lines != 0 {
            let below = bounds & (lines & lines.wrapping_neg()).wrapping_sub(1);
            ix.lines.push(ix.filled + below.count_ones() as usize);
            lines &= lines - 1;
        }
        c.write_positions(
            &mut ix.slots[ix.filled..ix.filled + 80],
            base as u32,
            bounds,
        );
        ix.filled += bounds.count_ones() as usize;
        ix.in_quotes = ((inside as i64) >> 63) as u64;
        ix.prev_open_ok = (bounds | closes) >> 63 != 0;
        ix.prev_close = closes >> 63 != 0;
        ix.scanned = base + 64;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn classify_avx2(block: &[u8; 64]) -> (u64, u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    let (quote, comma, cr, lf) = (
        _mm256_set1_epi8(b'"' as i8),
        _mm256_set1_epi8(b',' as i8),
        _mm256_set1_epi8(b'\r' as i8),
        _mm256_set1_epi8(b'\n' as i8),
    );
    let (mut q, mut c, mut t) = (0u64, 0u64, 0u64);
    for (i, lane) in block.chunks_exact(32).enumerate() {
        // SAFETY: `lane` is 32 readable bytes; the load has no alignment requirement.
        let v: __m256i = unsafe { _mm256_loadu_si256(lane.as_ptr().cast()) };
        let bits = |m: __m256i| u64::from(_mm256_movemask_epi8(m) as u32) << (32 * i);
        q |= bits(_mm256_cmpeq_epi8(v, quote));
        c |= bits(_mm256_cmpeq_epi8(v, comma));
        t |= bits(_mm256_or_si256(
            _mm256_cmpeq_epi8(v, cr),
            _mm256_cmpeq_epi8(v, lf),
        ));
    }
    (q, c, t)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
#[inline]
fn classify_avx512(block: &[u8; 64]) -> (u64, u64, u64) {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
    // SAFETY: `block` is 64 readable bytes; the load has no alignment requirement.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let eq = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
    (eq(b'"'), eq(b','), eq(b'\r') | eq(b'\n'))
}

/// SSE2 classification (every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline]
fn classify(block: &[u8; 64]) -> (u64, u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86-64 target (the compares and masks need nothing
    // else), and each load reads the 16 bytes of one `chunks_exact(16)` lane of `block`,
    // with no alignment requirement.
    unsafe {
        let (quote, comma, cr, lf) = (
            _mm_set1_epi8(b'"' as i8),
            _mm_set1_epi8(b',' as i8),
            _mm_set1_epi8(b'\r' as i8),
            _mm_set1_epi8(b'\n' as i8),
        );
        let (mut q, mut c, mut t) = (0u64, 0u64, 0u64);
        for (i, lane) in block.chunks_exact(16).enumerate() {
            let v: __m128i = _mm_loadu_si128(lane.as_ptr().cast());
            let bits = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u16) << (16 * i);
            q |= bits(_mm_cmpeq_epi8(v, quote));
            c |= bits(_mm_cmpeq_epi8(v, comma));
            t |= bits(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        }
        (q, c, t)
    }
}

/// The same classification, byte by byte (other targets, and the reference for the tests).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn classify_bytes(block: &[u8; 64]) -> (u64, u64, u64) {
    let (mut q, mut c, mut t) = (0u64, 0u64, 0u64);
    for (i, &b) in block.iter().enumerate() {
        q |= u64::from(b == b'"') << i;
        c |= u64::from(b == b',') << i;
        t |= u64::from(is_terminator(b)) << i;
    }
    (q, c, t)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn classify(block: &[u8; 64]) -> (u64, u64, u64) {
    classify_bytes(block)
}

/// The `n` lowest bits set (`n` <= 64).
#[inline]
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Bit `i` is the XOR of bits `0..=i`: set where an odd number of quotes has been seen.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

impl<'a> Scanner<'a> {
    pub fn new(data: &'a [u8]) -> Scanner<'a> {
        Scanner::with_feed(data, None)
    }

    /// A scanner over a body that arrives as its rows are read.
    pub fn streaming(feed: BodyFeed<'a>) -> Scanner<'a> {
        Scanner::with_feed(feed.received(), Some(feed))
    }

    fn with_feed(data: &'a [u8], feed: Option<BodyFeed<'a>>) -> Scanner<'a> {
        let total = feed.as_ref().map_or(data.len(), BodyFeed::len);
        Scanner {
            data,
            total,
            feed,
            failed: None,
            pos: 0,
            // Boundaries are kept as 32-bit positions.
            bytes_only: u32::try_from(total).is_err(),
            simd: Simd::detect(),
            window: WINDOW,
            index: Index {
                prev_open_ok: true,
                ..Index::default()
            },
        }
    }

    /// The body's bytes received so far: every row read so far lies within them.
    pub fn body(&self) -> &'a [u8] {
        self.data
    }

    /// Reads the rest of the body from the feed (what the rows did not need), or reports
    /// why it could not be read. The framing of the input stays intact only after this.
    pub fn finish_input(mut self) -> Result<(), ChunkError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match &mut self.feed {
            Some(feed) => feed.fill_all().map(|_| ()),
            None => Ok(()),
        }
    }

    /// Receives bytes until `want` have arrived; `false` (the error kept for
    /// `finish_input`) when the input fails first.
    #[cold]
    #[inline(never)]
    fn receive(&mut self, want: usize) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let Some(feed) = &mut self.feed else {
            return true;
        };
        match feed.fill_to(want) {
            Ok(data) => {
                self.data = data;
                true
            }
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }

    /// Reads the next row into `row`; `false` at the end of the body.
    #[inline]
    pub fn next_row(&mut self, row: &mut Row) -> bool {
        if self.bytes_only {
            return self.next_row_bytes(row);
        }
        match self.next_row_structural(row) {
            Some(more) => more,
            None => {
                // A quote the structural model does not cover: this row and the rest of the
                // body go through the byte scanner, which knows every case.
                self.bytes_only = true;
                self.next_row_bytes(row)
            }
        }
    }

    /// `None` when the row holds a quote outside the structural model.
    #[inline]
    fn next_row_structural(&mut self, row: &mut Row) -> Option<bool> {
        let len = self.total;
        loop {
            let ix = &mut self.index;
            if let Some(&slot) = ix.lines.get(ix.lines_taken) {
                ix.lines_taken += 1;
                let end = ix.slots[slot] as usize;
                if slot == ix.taken && end == self.pos {
                    // A blank line is not a record.
                    ix.taken += 1;
                    self.pos += 1;
                    continue;
                }
                row.clear(false);
                row.start = self.pos;
                row.ends.extend_from_slice(&ix.slots[ix.taken..=slot]);
                ix.taken = slot + 1;
                self.pos = end + 1;
                self.check_escapes(row, end);
                return Some(true);
            }
            if ix.scanned >= len {
                // No line end left: the last row runs to the end of the body.
                if self.pos >= len {
                    return Some(false);
                }
                row.clear(false);
                row.start = self.pos;
                row.ends.extend_from_slice(&ix.slots[ix.taken..ix.filled]);
                row.ends.push(len as u32);
                ix.taken = ix.filled;
                self.pos = len;
                self.check_escapes(row, len);
                return Some(true);
            }
            if ix.odd {
                return None;
            }
            if !self.refill() {
                return Some(false);
            }
        }
    }

    /// Decodes the row when an escape lies before `end`, where it ends.
    #[inline]
    fn check_escapes(&mut self, row: &mut Row, end: usize) {
        let ix = &mut self.index;
        let mut escaped = false;
        while ix
            .escapes
            .get(ix.escapes_taken)
            .is_some_and(|&e| (e as usize) < end)
        {
            ix.escapes_taken += 1;
            escaped = true;
        }
        if escaped {
            self.decode_row(row);
        }
    }

    /// A row with an escaped quote: its fields as spans, the escaped ones decoded.
    #[cold]
    fn decode_row(&self, row: &mut Row) {
        let ends = std::mem::take(&mut row.ends);
        row.clear(true);
        let mut start = row.start;
        for &end in &ends {
            let end = end as usize;
            let field = &self.data[start..end];
            if field.len() > 2 && field[0] == b'"' && field[1..field.len() - 1].contains(&b'"') {
                let after = self.quoted(start + 1, row);
                debug_assert_eq!(after, end);
            } else {
                let inner = unquote(field);
                let offset = usize::from(inner.len() < field.len());
                row.spans.push(Span {
                    start: start + offset,
                    end: start + offset + inner.len(),
                    decoded: false,
                });
            }
            start = end + 1;
        }
        row.ends = ends;
        row.ends.clear();
    }

    /// Drops what the rows have used and indexes the next window of the body; `false` when
    /// the input failed before the window arrived.
    #[inline(never)]
    fn refill(&mut self) -> bool {
        // Windows end on block boundaries: every block before the body's end is whole, so
        // only the real last block is ever padded (`index_blocks` pads at the bytes received).
        debug_assert_eq!(self.window % 64, 0);
        let to = (self.index.scanned + self.window).min(self.total);
        // A block's classification looks at the byte after it.
        if self.data.len() < self.total.min(to + 1) && !self.receive(to + 1) {
            return false;
        }
        let ix = &mut self.index;
        ix.slots.copy_within(ix.taken..ix.filled, 0);
        ix.filled -= ix.taken;
        ix.taken = 0;
        // Rows ask for more only when every line end found so far is used.
        debug_assert_eq!(ix.lines_taken, ix.lines.len());
        ix.lines.clear();
        ix.lines_taken = 0;
        ix.escapes.drain(..ix.escapes_taken);
        ix.escapes_taken = 0;
        // Room for one boundary per byte, plus the eight-at-a-time overrun of the last block.
        let room = ix.filled + (to - ix.scanned) + 128;
        if ix.slots.len() < room {
            ix.slots.resize(room, 0);
        }
        let data = self.data;
        match self.simd {
            Simd::Base => index_blocks(ix, data, to, Base),
            // SAFETY: `Simd::detect` saw the CPU support AVX2, or AVX-512BW.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { index_avx2(ix, data, to) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { index_avx512(ix, data, to) },
        }
        true
    }

    /// The byte scanner: reads the next row into `row`; `false` at the end of the body.
    fn next_row_bytes(&mut self, row: &mut Row) -> bool {
        // The byte scanner is the rare path (quotes outside the structural model): it takes
        // the rest of the body at once.
        if self.data.len() < self.total && !self.receive(self.total) {
            return false;
        }
        let data = self.data;
        let len = data.len();
        // Blank lines are not records.
        while self.pos < len && is_terminator(data[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= len {
            return false;
        }
        row.clear(true);
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
    use crate::test_rng::Rng;

    fn ours(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        scan(data).0
    }

    /// Every classifier this CPU runs.
    fn levels() -> Vec<Simd> {
        let mut all = vec![Simd::Base];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                all.push(Simd::Avx2);
            }
            if std::is_x86_feature_detected!("avx512bw") {
                all.push(Simd::Avx512);
            }
        }
        all
    }

    /// The rows, and whether the byte scanner had to take over; the same with every
    /// classifier, and with the body in memory or arriving a few bytes at a time.
    fn scan(data: &[u8]) -> (Vec<Vec<Vec<u8>>>, bool) {
        let whole = levels()
            .into_iter()
            .flat_map(|simd| [64, 128, 320, WINDOW].map(|window| scan_with(data, simd, window)));
        let streamed = levels().into_iter().flat_map(|simd| {
            [(64, 3), (320, 61), (WINDOW, 4096)]
                .map(|(window, step)| scan_streaming(data, simd, window, step))
        });
        let mut results = whole.chain(streamed);
        let first = results.next().expect("one level at least");
        for other in results {
            assert_eq!(other, first, "{:?}", String::from_utf8_lossy(data));
        }
        first
    }

    /// Hands out at most `step` bytes per read, as a pipe may.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Scans `data` as the body of a chunk read through a `ChunkReader` from an input that
    /// gives `step` bytes per read, of which the last `cut` never arrive. Returns the rows,
    /// whether the byte scanner took over, and how the input ended.
    fn stream_rows(
        data: &[u8],
        simd: Simd,
        window: usize,
        step: usize,
        cut: usize,
    ) -> (Vec<Vec<Vec<u8>>>, bool, Result<(), ChunkError>) {
        let chunk = crate::protocol::chunk::encode_chunk(b"{}", data);
        let input = std::io::BufReader::with_capacity(
            16,
            Trickle {
                data: &chunk[..chunk.len() - cut],
                step,
            },
        );
        let mut reader = crate::protocol::chunk::ChunkReader::new(input);
        let (_, len) = reader.read_head().unwrap().expect("a chunk");
        let mut s = Scanner::streaming(reader.body(len).unwrap());
        let rows = all_rows(&mut s, simd, window);
        let bytes_only = s.bytes_only;
        (rows, bytes_only, s.finish_input())
    }

    fn scan_streaming(
        data: &[u8],
        simd: Simd,
        window: usize,
        step: usize,
    ) -> (Vec<Vec<Vec<u8>>>, bool) {
        let (rows, bytes_only, ended) = stream_rows(data, simd, window, step, 0);
        ended.expect("the whole body arrived");
        (rows, bytes_only)
    }

    #[test]
    fn a_body_cut_short_gives_whole_rows_then_the_truncation() {
        let mut rng = Rng(0x7a1e_0fc0_ffee_0042);
        let mut data = Vec::new();
        for i in 0..3_000 {
            let quoted = if rng.below(50) == 0 {
                "\"a\"\"b\""
            } else {
                "\"ab\""
            };
            data.extend(format!("{i},{quoted},x{}\n", rng.below(1000)).as_bytes());
        }
        let full = theirs(&data);
        for cut in [1, 2, 63, 64, 65, 1000, data.len() / 2, data.len()] {
            for simd in levels() {
                let (rows, _, ended) = stream_rows(&data, simd, 320, 97, cut);
                assert!(rows.len() < full.len(), "cut {cut}: {} rows", rows.len());
                assert_eq!(rows[..], full[..rows.len()], "cut {cut}");
                match ended {
                    Err(ChunkError::Truncated {
                        part: "body",
                        expected,
                        ..
                    }) => assert_eq!(expected, cut as u64),
                    other => panic!("cut {cut}: {other:?}"),
                }
            }
        }
    }

    fn scan_with(data: &[u8], simd: Simd, window: usize) -> (Vec<Vec<Vec<u8>>>, bool) {
        let mut s = Scanner::new(data);
        let rows = all_rows(&mut s, simd, window);
        (rows, s.bytes_only)
    }

    /// Every row `s` reads with this classifier and window, as owned fields.
    fn all_rows(s: &mut Scanner<'_>, simd: Simd, window: usize) -> Vec<Vec<Vec<u8>>> {
        s.simd = simd;
        s.window = window;
        let mut row = Row::default();
        let mut out = Vec::new();
        while s.next_row(&mut row) {
            let body = s.body();
            out.push(
                (0..row.len())
                    .map(|i| row.get(body, i).unwrap().to_vec())
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
        let mut rng = Rng(0x1234_5678_9abc_def0);
        let mut next = || rng.next();
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

    /// Well-formed bodies whose fields cross 64-byte blocks at every offset: the structural
    /// scanner reads them alone, and agrees with the `csv` crate.
    #[test]
    fn structural_scanner_reads_long_well_formed_bodies_alone() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet: &[u8] = b"abc,\"\r\n $;x\xe6\xb5\x8b";
        for round in 0..3000 {
            let quote_style = match round % 3 {
                0 => csv::QuoteStyle::Always,
                1 => csv::QuoteStyle::Necessary,
                _ => csv::QuoteStyle::NonNumeric,
            };
            let mut w = csv::WriterBuilder::new()
                .terminator(if rng.next().is_multiple_of(2) {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .quote_style(quote_style)
                .flexible(true)
                .from_writer(Vec::new());
            for _ in 0..rng.below(8) + 1 {
                let fields: Vec<Vec<u8>> = (0..rng.below(9) + 1)
                    .map(|_| {
                        let n = [0, 1, 2, 15, 63, 64, 65, 130][rng.below(8)] + rng.below(3);
                        (0..n)
                            .map(|_| alphabet[rng.below(alphabet.len())])
                            .collect()
                    })
                    .collect();
                w.write_record(&fields).unwrap();
            }
            let data = w.into_inner().unwrap();
            let (rows, bytes_only) = scan(&data);
            assert_eq!(rows, theirs(&data), "{:?}", String::from_utf8_lossy(&data));
            assert!(!bytes_only, "{:?}", String::from_utf8_lossy(&data));
        }
    }

    /// Random bytes, mostly the ones CSV cares about: quotes anywhere (inside unquoted fields,
    /// after closing quotes, unterminated), so the byte scanner takes over mid-body.
    #[test]
    fn structural_scanner_hands_odd_quotes_to_the_byte_scanner() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let alphabet: &[u8] = b"\"\",,\r\nab";
        let mut handed_over = 0;
        for _ in 0..20_000 {
            let n = rng.below(300);
            let mut data: Vec<u8> = (0..n)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            // Sometimes a long clean prefix, so that the odd quote comes blocks later.
            if rng.next().is_multiple_of(2) {
                let mut prefix = b"\"a\",b\n".repeat(rng.below(40));
                prefix.append(&mut data);
                data = prefix;
            }
            let (rows, bytes_only) = scan(&data);
            handed_over += usize::from(bytes_only);
            assert_eq!(rows, theirs(&data), "{:?}", String::from_utf8_lossy(&data));
        }
        assert!(handed_over > 1000, "only {handed_over} bodies were odd");
    }

    #[test]
    fn positions_and_prefix_xor_agree_across_classifiers() {
        let mut rng = Rng(0x5151_7a7a_0101_fefe);
        for _ in 0..5000 {
            // Sparse, dense and empty masks.
            let bits = match rng.below(4) {
                0 => rng.next() & rng.next() & rng.next(),
                1 => rng.next() | rng.next(),
                2 => 0,
                _ => rng.next(),
            };
            let base = rng.next() as u32 >> 4;
            let want: Vec<u32> = (0..64)
                .filter(|i| bits >> i & 1 == 1)
                .map(|i| base + i)
                .collect();
            let naive = (0..64).fold(0u64, |acc, i| {
                acc | (u64::from((bits & low_bits(i + 1)).count_ones() % 2 == 1) << i)
            });
            let mut slots = vec![0u32; 80];
            Base.write_positions(&mut slots, base, bits);
            assert_eq!(&slots[..want.len()], &want[..]);
            assert_eq!(Base.prefix_xor(bits), naive);
            #[cfg(target_arch = "x86_64")]
            if Simd::detect() == Simd::Avx512 {
                let mut slots = vec![0u32; 80];
                Avx512.write_positions(&mut slots, base, bits);
                assert_eq!(&slots[..want.len()], &want[..]);
                assert_eq!(Avx512.prefix_xor(bits), naive);
            }
        }
    }

    #[test]
    fn block_classification_matches_the_byte_by_byte_reference() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        let alphabet: &[u8] = b"\",\r\n\x00\xff\x80a";
        for _ in 0..5000 {
            let mut block = [0u8; 64];
            for b in &mut block {
                *b = alphabet[rng.below(alphabet.len())];
            }
            let want = classify_bytes(&block);
            assert_eq!(classify(&block), want, "{block:?}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                assert_eq!(Avx2.classify(&block), want, "{block:?}");
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512bw") {
                assert_eq!(Avx512.classify(&block), want, "{block:?}");
            }
        }
    }
}
