//! CSV bodies: records in (with the `__mv_` multivalue codec) and records out.

use super::chunk::{BodyFeed, ChunkError};
use super::csvscan::{Row, Scanner};
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the CSV body is malformed at line {line}: {detail}")]
    Csv { line: u64, detail: String },
}

/// Identifies a field of the current chunk's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldId(usize);

/// The fields of a chunk: each plain column, with its `__mv_` companion column if present.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    names: Vec<String>,
    value_col: Vec<usize>,
    mv_col: Vec<Option<usize>>,
    by_name: HashMap<String, usize>,
}

impl Fields {
    fn from_header<'h>(header: impl Iterator<Item = &'h [u8]>) -> Fields {
        let cols: Vec<String> = header
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let position: HashMap<&str, usize> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut fields = Fields::default();
        for (col, name) in cols.iter().enumerate() {
            // `__mv_x` is a companion only when `x` is a column too; otherwise it is a field.
            if let Some(base) = name.strip_prefix("__mv_")
                && position.contains_key(base)
            {
                continue;
            }
            if fields.by_name.contains_key(name) {
                continue; // a duplicated column name: the first one wins
            }
            fields.by_name.insert(name.clone(), fields.names.len());
            fields.names.push(name.clone());
            fields.value_col.push(col);
            fields
                .mv_col
                .push(position.get(format!("__mv_{name}").as_str()).copied());
        }
        fields
    }

    pub fn id(&self, name: &str) -> Option<FieldId> {
        self.by_name.get(name).map(|&i| FieldId(i))
    }

    /// Where a field's cells are in each row, for [`Record::first_in`].
    pub fn columns(&self, id: FieldId) -> Columns {
        let col = |c: usize| u32::try_from(c).unwrap_or(u32::MAX);
        Columns {
            value: col(self.value_col[id.0]),
            mv: self.mv_col[id.0].map_or(u32::MAX, col),
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The columns of a field's plain cell and `__mv_` cell (`u32::MAX`: none), looked up once
/// per body so that reading a field in each row costs no lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    value: u32,
    mv: u32,
}

impl Columns {
    /// A field the body does not have.
    pub const ABSENT: Columns = Columns {
        value: u32::MAX,
        mv: u32::MAX,
    };
}

/// A field's value in one record. An empty cell is `Null`, as in Splunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    One(&'a [u8]),
    Many(Vec<Cow<'a, [u8]>>),
}

impl<'a> Value<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The first value (what most eval functions look at).
    pub fn first(&self) -> Option<&[u8]> {
        match self {
            Value::Null => None,
            Value::One(v) => Some(v),
            Value::Many(vs) => vs.first().map(|v| v.as_ref()),
        }
    }

    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let (one, many): (Option<&[u8]>, &[Cow<'a, [u8]>]) = match self {
            Value::Null => (None, &[]),
            Value::One(v) => (Some(v), &[]),
            Value::Many(vs) => (None, vs),
        };
        one.into_iter().chain(many.iter().map(|v| v.as_ref()))
    }
}

/// A reader over the records of one CSV body: field boundaries are found in place and one
/// row buffer is reused, so reading a record allocates nothing.
pub struct Records<'a> {
    scanner: Scanner<'a>,
    fields: Fields,
    row: Row,
    chunked_idx: Option<FieldId>,
    read: u64,
}

impl<'a> Records<'a> {
    /// An empty body or a header-only body yields no records.
    pub fn new(body: &'a [u8]) -> Result<Records<'a>, BodyError> {
        Records::from_scanner(Scanner::new(body))
    }

    /// Records of a body that arrives as they are read (see [`BodyFeed`]). Call
    /// [`Records::finish_input`] afterwards: it reads what the records did not, and reports
    /// an input that ended inside the body (then the records stopped early).
    pub fn streaming(feed: BodyFeed<'a>) -> Result<Records<'a>, BodyError> {
        Records::from_scanner(Scanner::streaming(feed))
    }

    fn from_scanner(mut scanner: Scanner<'a>) -> Result<Records<'a>, BodyError> {
        let mut row = Row::default();
        let fields = if scanner.next_row(&mut row) {
            let body = scanner.body();
            Fields::from_header((0..row.len()).filter_map(|i| row.get(body, i)))
        } else {
            Fields::default()
        };
        let chunked_idx = fields.id("_chunked_idx");
        Ok(Records {
            scanner,
            fields,
            row,
            chunked_idx,
            read: 0,
        })
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.read
    }

    /// Reads the rest of the body from its feed; an input that failed inside it is the error.
    pub fn finish_input(self) -> Result<(), ChunkError> {
        self.scanner.finish_input()
    }

    /// The next record, or `None` at the end of the body.
    #[allow(clippy::should_implement_trait)] // a lending iterator: the record borrows the reader
    pub fn next(&mut self) -> Result<Option<Record<'_>>, BodyError> {
        if !self.scanner.next_row(&mut self.row) {
            return Ok(None);
        }
        self.read += 1;
        Ok(Some(Record {
            fields: &self.fields,
            row: &self.row,
            body: self.scanner.body(),
            chunked_idx: self.chunked_idx,
        }))
    }
}

/// One record: cells addressed through the chunk's `Fields`.
#[derive(Clone, Copy)]
pub struct Record<'r> {
    fields: &'r Fields,
    row: &'r Row,
    body: &'r [u8],
    chunked_idx: Option<FieldId>,
}

impl<'r> Record<'r> {
    /// The plain cell of a field (`None` when the row is shorter than the header).
    #[inline]
    pub fn cell(&self, id: FieldId) -> Option<&'r [u8]> {
        self.row.get(self.body, self.fields.value_col[id.0])
    }

    /// The field's `__mv_` cell, when it is set.
    #[inline]
    fn mv_cell(&self, id: FieldId) -> Option<&'r [u8]> {
        self.fields.mv_col[id.0]
            .and_then(|c| self.row.get(self.body, c))
            .filter(|mv| !mv.is_empty())
    }

    /// The field's plain cell, when it is not empty.
    #[inline]
    fn plain(&self, id: FieldId) -> Option<&'r [u8]> {
        self.cell(id).filter(|v| !v.is_empty())
    }

    /// The field's value: the `__mv_` list when that cell is set, else the plain cell.
    pub fn get(&self, id: FieldId) -> Value<'r> {
        if let Some(mv) = self.mv_cell(id) {
            let items = decode_mv(mv);
            if !items.is_empty() {
                return Value::Many(items);
            }
            // A companion cell that holds no item at all is not a list: trust the plain cell.
        }
        self.plain(id).map_or(Value::Null, Value::One)
    }

    /// The first non-empty value of the field (`get`'s first non-empty item), without
    /// building a `Value` when the field has a single value.
    #[inline]
    pub fn first(&self, id: FieldId) -> Option<Cow<'r, [u8]>> {
        self.first_in(self.fields.columns(id))
    }

    /// `first` of the field in `columns` (from [`Fields::columns`] of this body).
    ///
    /// Inlined into its callers, which name the field: most cells have one value, so the
    /// `__mv_` cell is empty and the rest of the work is out of line.
    #[inline(always)]
    pub fn first_in(&self, columns: Columns) -> Option<Cow<'r, [u8]>> {
        match self.cell_at(columns.mv) {
            Some(mv) => self.first_listed_or(mv, columns.value),
            None => self.cell_at(columns.value).map(Cow::Borrowed),
        }
    }

    /// The cell in column `c` when it is not empty (`Columns::ABSENT`'s `u32::MAX` is no
    /// column of any row).
    #[inline(always)]
    fn cell_at(&self, c: u32) -> Option<&'r [u8]> {
        self.row
            .get(self.body, c as usize)
            .filter(|v| !v.is_empty())
    }

    /// `first_in` of a field whose `__mv_` cell is set. Out of line: most fields have one
    /// value.
    #[cold]
    #[inline(never)]
    fn first_listed_or(&self, mv: &'r [u8], value: u32) -> Option<Cow<'r, [u8]>> {
        let items = decode_mv(mv);
        if items.is_empty() {
            // A companion cell that holds no item at all is not a list: the plain cell.
            return self.cell_at(value).map(Cow::Borrowed);
        }
        items.into_iter().find(|v| !v.is_empty())
    }

    /// `get` by name; `Null` when the chunk has no such field.
    pub fn get_named(&self, name: &str) -> Value<'r> {
        self.fields.id(name).map_or(Value::Null, |id| self.get(id))
    }

    /// The `_chunked_idx` that splunkd attached, which a streaming reply must echo.
    pub fn chunked_idx(&self) -> Option<&'r [u8]> {
        self.chunked_idx.and_then(|id| self.cell(id))
    }
}

/// Decodes a `__mv_` cell: `$a$;$b$` → `["a", "b"]`, `$$` inside an item is a literal `$`.
///
/// Well-formed cells (everything splunkd and splunklib write) take a single pass. Malformed
/// cells get exactly what splunklib's `findall(r"\$((?:\$\$|[^$])*)\$(?:;|$)")` returns,
/// computed in linear time.
pub fn decode_mv(cell: &[u8]) -> Vec<Cow<'_, [u8]>> {
    decode_mv_strict(cell).unwrap_or_else(|| decode_mv_findall(cell))
}

fn unescape(item: &[u8]) -> Cow<'_, [u8]> {
    if item.windows(2).any(|w| w == b"$$") {
        let mut out = Vec::with_capacity(item.len());
        let mut i = 0;
        while i < item.len() {
            out.push(item[i]);
            i += if item[i] == b'$' { 2 } else { 1 };
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(item)
    }
}

fn decode_mv_strict(cell: &[u8]) -> Option<Vec<Cow<'_, [u8]>>> {
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        if cell.get(i) != Some(&b'$') {
            return None;
        }
        let start = i + 1;
        let mut j = start;
        loop {
            match cell.get(j) {
                None => return None,
                Some(b'$') if cell.get(j + 1) == Some(&b'$') => j += 2,
                Some(b'$') => break,
                Some(_) => j += 1,
            }
        }
        items.push(unescape(&cell[start..j]));
        match cell.get(j + 1) {
            None => return Some(items),
            Some(b';') => i = j + 2,
            Some(_) => return None,
        }
    }
}

/// splunklib's regex `findall`, emulated. Inside an item the tokens are deterministic
/// (`$$` or one non-`$` byte), so from any position the possible item ends form one chain;
/// the regex takes the last valid closing `$` on it. `last_close[b]` caches that per position.
fn decode_mv_findall(cell: &[u8]) -> Vec<Cow<'_, [u8]>> {
    let n = cell.len();
    // Python's `$` also matches before a final newline.
    let closes = |b: usize| {
        cell[b] == b'$'
            && (b + 1 == n || cell[b + 1] == b';' || (b + 2 == n && cell[b + 1] == b'\n'))
    };
    let mut last_close: Vec<Option<usize>> = vec![None; n + 1];
    for b in (0..n).rev() {
        let next = if cell[b] != b'$' {
            Some(b + 1)
        } else if b + 1 < n && cell[b + 1] == b'$' {
            Some(b + 2)
        } else {
            None
        };
        let further = next.and_then(|nb| last_close.get(nb).copied().flatten());
        last_close[b] = further.or(closes(b).then_some(b));
    }
    let mut items = Vec::new();
    let mut p = 0;
    while p < n {
        if cell[p] == b'$'
            && p + 1 < n
            && let Some(close) = last_close[p + 1]
        {
            items.push(unescape(&cell[p + 1..close]));
            p = close + 1 + usize::from(close + 1 < n); // past the `;`
            continue;
        }
        p += 1;
    }
    items
}

/// Encodes a list as splunklib does: the display cell (items joined by `\n`) and the
/// `__mv_` cell (`$item$;$item$` with `$` doubled).
pub fn encode_mv<S: AsRef<str>>(items: &[S]) -> (String, String) {
    let bytes: usize = items.iter().map(|s| s.as_ref().len()).sum();
    let mut e = Encoded::with_capacity(bytes + items.len(), bytes + 3 * items.len());
    for item in items {
        e.push(item.as_ref());
    }
    (e.display, e.mv)
}

/// Writes a number as Splunk shows it into `out` (cleared first, reused by the caller):
/// integers without a decimal point, other values in the shortest decimal form that reads
/// back to the same number.
fn write_number(out: &mut String, x: f64) {
    use std::fmt::Write as _;
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e17 {
        write_int(out, x as i64);
    } else {
        out.clear();
        write!(out, "{x}").expect("writing to a String cannot fail");
    }
}

/// `i` in decimal into `out` (cleared first), as `{i}` writes it: a reply has a few
/// integers a row, and the formatting machinery costs more than the digits.
fn write_int(out: &mut String, i: i64) {
    out.clear();
    // `u64::MAX` has 20 digits.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

/// A CSV body written row by row, for replies with a row per input record: the header is
/// fixed up front (every column with its `__mv_` companion after all plain columns, as
/// splunkd writes), and each cell goes straight into the output bytes.
pub struct CsvRows {
    w: CsvOut,
    columns: usize,
    mv: Vec<Vec<u8>>,
    next: usize,
    rows: usize,
    /// A reused buffer for numbers.
    number: String,
}

impl CsvRows {
    pub fn new<S: AsRef<str>>(columns: &[S]) -> CsvRows {
        let mut w = CsvOut::default();
        for c in columns {
            w.field(c.as_ref().as_bytes());
        }
        for c in columns {
            w.field(format!("__mv_{}", c.as_ref()).as_bytes());
        }
        w.end_record();
        CsvRows {
            w,
            columns: columns.len(),
            mv: vec![Vec::new(); columns.len()],
            next: 0,
            rows: 0,
            number: String::new(),
        }
    }

    /// The next column's cell: a plain value (`mv` empty) or a list (display and `__mv_`).
    pub fn cell(&mut self, plain: &[u8], mv: &[u8]) {
        if self.next < self.columns {
            self.w.field(plain);
            self.mv[self.next].clear();
            self.mv[self.next].extend_from_slice(mv);
            self.next += 1;
        }
    }

    /// The next column's cell from an output `Cell`.
    pub fn put(&mut self, cell: &Cell) {
        let mut number = std::mem::take(&mut self.number);
        match cell {
            Cell::Null => self.cell(b"", b""),
            Cell::Text(s) => self.cell(s.as_bytes(), b""),
            Cell::Int(i) => {
                write_int(&mut number, *i);
                self.cell(number.as_bytes(), b"");
            }
            Cell::Number(x) => {
                write_number(&mut number, *x);
                self.cell(number.as_bytes(), b"");
            }
            Cell::List(items) => match items.len() {
                0 => self.cell(b"", b""),
                1 => self.cell(items[0].as_bytes(), b""),
                _ => {
                    let (plain, mv) = encode_mv(items);
                    self.cell(plain.as_bytes(), mv.as_bytes());
                }
            },
            Cell::Encoded(e) => self.cell(e.display.as_bytes(), e.mv.as_bytes()),
        }
        self.number = number;
    }

    /// Ends the row; columns not given are null.
    pub fn end_row(&mut self) {
        while self.next < self.columns {
            self.cell(b"", b"");
        }
        for mv in &self.mv {
            self.w.field(mv);
        }
        self.w.end_record();
        self.next = 0;
        self.rows += 1;
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The body: empty when no row was written.
    pub fn finish(self) -> Vec<u8> {
        if self.rows == 0 {
            return Vec::new();
        }
        self.w.into_bytes()
    }
}

/// One output cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Number(f64),
    /// Zero items is a null, one item a plain value, two or more a multivalue field.
    List(Vec<String>),
    /// A list of two items or more, encoded already (see [`Cell::list`]).
    Encoded(Encoded),
}

/// The two cells of a multivalue field: the items one per line, and the `__mv_` cell
/// (`$a$;$b$`, a `$` in an item doubled).
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    display: String,
    mv: String,
}

impl Encoded {
    fn with_capacity(display: usize, mv: usize) -> Encoded {
        Encoded {
            display: String::with_capacity(display),
            mv: String::with_capacity(mv),
        }
    }

    /// Adds the next item (the `__mv_` cell is empty only before the first).
    fn push(&mut self, item: &str) {
        if !self.mv.is_empty() {
            self.display.push('\n');
            self.mv.push(';');
        }
        self.display.push_str(item);
        self.mv.push('$');
        if memchr::memchr(b'$', item.as_bytes()).is_some() {
            self.mv.push_str(&item.replace('$', "$$"));
        } else {
            self.mv.push_str(item);
        }
        self.mv.push('$');
    }
}

impl Cell {
    /// Whether the cell is a multivalue field (it has a `__mv_` companion).
    pub fn is_multi(&self) -> bool {
        match self {
            Cell::List(items) => items.len() > 1,
            Cell::Encoded(_) => true,
            _ => false,
        }
    }

    /// The cell of a list, as `Cell::List` of the same items writes it, encoded as the items
    /// come: no string per item is kept. `bytes` is the items' total length (or a guess):
    /// the two cells are sized from it, so a list that long takes one allocation each.
    pub fn list<'a>(items: impl IntoIterator<Item = Cow<'a, str>>, bytes: usize) -> Cell {
        let mut items = items.into_iter();
        let Some(first) = items.next() else {
            return Cell::Null;
        };
        let Some(second) = items.next() else {
            return Cell::Text(first.into_owned());
        };
        let n = 2 + items.size_hint().0;
        let mut e = Encoded::with_capacity(bytes + n, bytes + 3 * n);
        for item in [first, second].into_iter().chain(items) {
            e.push(&item);
        }
        Cell::Encoded(e)
    }
}

/// Output records of one reply. The header is the union of the keys of all rows, in order
/// of first appearance; a `__mv_` companion column is written for fields with a list.
#[derive(Debug, Default)]
pub struct RecordSet {
    columns: Vec<String>,
    index: HashMap<String, usize>,
    rows: Vec<Vec<Cell>>,
}

impl RecordSet {
    pub fn new() -> RecordSet {
        RecordSet::default()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.columns.push(name.to_string());
        self.index.insert(name.to_string(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    /// Adds a row of `(field, cell)` pairs.
    pub fn push<'k>(&mut self, cells: impl IntoIterator<Item = (&'k str, Cell)>) {
        let mut row = Vec::new();
        for (name, cell) in cells {
            let col = self.column(name);
            if row.len() <= col {
                row.resize(col + 1, Cell::Null);
            }
            row[col] = cell;
        }
        self.rows.push(row);
    }

    /// Adds a row that answers `record` in a streaming reply: `_chunked_idx` is echoed.
    pub fn push_for<'k>(
        &mut self,
        record: &Record<'_>,
        cells: impl IntoIterator<Item = (&'k str, Cell)>,
    ) {
        match record.chunked_idx() {
            Some(idx) => {
                let idx = Cell::Text(String::from_utf8_lossy(idx).into_owned());
                self.push(std::iter::once(("_chunked_idx", idx)).chain(cells))
            }
            None => self.push(cells),
        }
    }

    /// The rows as `(column, cell)` views, for printing.
    pub fn rows(&self) -> impl Iterator<Item = Vec<(&str, &Cell)>> {
        self.rows.iter().map(|row| {
            self.columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), row.get(i).unwrap_or(&Cell::Null)))
                .collect()
        })
    }

    /// CSV bytes (header + rows, `\n` line ends); empty when there are no rows.
    pub fn to_csv(&self) -> Vec<u8> {
        self.csv(self.rows.iter())
    }

    /// As [`RecordSet::to_csv`], freeing each row once it is written: a large reply is
    /// never held twice, as cells and as CSV.
    pub fn into_csv(mut self) -> Vec<u8> {
        let rows = std::mem::take(&mut self.rows);
        self.csv_with_multi(Self::multi(&self.columns, &rows), rows.into_iter())
    }

    fn multi(columns: &[String], rows: &[Vec<Cell>]) -> Vec<bool> {
        (0..columns.len())
            .map(|c| rows.iter().any(|r| r.get(c).is_some_and(Cell::is_multi)))
            .collect()
    }

    fn csv<R: std::borrow::Borrow<Vec<Cell>>>(&self, rows: impl Iterator<Item = R>) -> Vec<u8> {
        self.csv_with_multi(Self::multi(&self.columns, &self.rows), rows)
    }

    fn csv_with_multi<R: std::borrow::Borrow<Vec<Cell>>>(
        &self,
        multi: Vec<bool>,
        mut rows: impl Iterator<Item = R>,
    ) -> Vec<u8> {
        let Some(first) = rows.next() else {
            return Vec::new();
        };
        let mut w = csv_writer(&self.columns, &multi);
        let mut number = String::new();
        for row in std::iter::once(first).chain(rows) {
            write_row(&mut w, &mut number, &multi, row.borrow());
        }
        w.into_bytes()
    }
}

/// CSV records into bytes, as the `csv` crate's writer puts them with `\n` line ends
/// and its default quoting (the tests compare the two on random records): a field is
/// quoted when it holds `"`, `,`, `\r` or `\n`, a quote inside is doubled, and a record
/// that would be an empty line (no field, or one empty field) is written as `""`. Straight
/// into the output: no record or buffer of the writer's own in between.
#[derive(Debug, Default)]
struct CsvOut {
    bytes: Vec<u8>,
    /// Where the current record starts, and whether it has a field yet.
    record_start: usize,
    started: bool,
}

/// Whether a field holds a byte that makes it quoted: `"`, `,`, `\r` or `\n`.
fn needs_quotes(f: &[u8]) -> bool {
    memchr::memchr3(b'"', b',', b'\n', f).is_some() || memchr::memchr(b'\r', f).is_some()
}

impl CsvOut {
    fn field(&mut self, f: &[u8]) {
        if self.started {
            self.bytes.push(b',');
        }
        self.started = true;
        if !needs_quotes(f) {
            self.bytes.extend_from_slice(f);
            return;
        }
        self.bytes.push(b'"');
        let mut rest = f;
        while let Some(q) = memchr::memchr(b'"', rest) {
            self.bytes.extend_from_slice(&rest[..=q]);
            self.bytes.push(b'"');
            rest = &rest[q + 1..];
        }
        self.bytes.extend_from_slice(rest);
        self.bytes.push(b'"');
    }

    fn end_record(&mut self) {
        if self.bytes.len() == self.record_start {
            self.bytes.extend_from_slice(b"\"\"");
        }
        self.bytes.push(b'\n');
        self.record_start = self.bytes.len();
        self.started = false;
    }

    fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A CSV writer with the header of `columns` written (`__mv_` companions where `multi`).
fn csv_writer(columns: &[String], multi: &[bool]) -> CsvOut {
    let mut w = CsvOut::default();
    for (c, name) in columns.iter().enumerate() {
        w.field(name.as_bytes());
        if multi[c] {
            w.field(format!("__mv_{name}").as_bytes());
        }
    }
    w.end_record();
    w
}

/// Writes one row of cells by column (`number` is a reused buffer).
fn write_row(w: &mut CsvOut, number: &mut String, multi: &[bool], row: &[Cell]) {
    for (c, &has_mv) in multi.iter().enumerate() {
        let list;
        let mut mv = "";
        match row.get(c).unwrap_or(&Cell::Null) {
            Cell::Null => w.field(b""),
            Cell::Text(s) => w.field(s.as_bytes()),
            Cell::Int(i) => {
                write_int(number, *i);
                w.field(number.as_bytes());
            }
            Cell::Number(x) => {
                write_number(number, *x);
                w.field(number.as_bytes());
            }
            Cell::List(items) => match items.len() {
                0 => w.field(b""),
                1 => w.field(items[0].as_bytes()),
                _ => {
                    let (plain, m) = encode_mv(items);
                    w.field(plain.as_bytes());
                    list = m;
                    mv = &list;
                }
            },
            Cell::Encoded(e) => {
                w.field(e.display.as_bytes());
                mv = &e.mv;
            }
        }
        if has_mv {
            w.field(mv.as_bytes());
        }
    }
    w.end_record();
}

/// The header of a reply that is written row by row, as [`RecordSet`] would write it:
/// every row is shown to [`Layout::observe`] first (its cells, then dropped), then given
/// again to the [`StreamedRows`] of [`Layout::rows`]. Only one row's cells are ever held.
#[derive(Debug, Default)]
pub struct Layout {
    columns: Vec<String>,
    index: HashMap<String, usize>,
    multi: Vec<bool>,
}

impl Layout {
    pub fn new() -> Layout {
        Layout::default()
    }

    /// Adds the columns of a row, in order of first appearance, and notes its lists.
    pub fn observe(&mut self, cells: &[(&str, Cell)]) {
        let mut next = 0;
        for (name, cell) in cells {
            next = self.note(name, cell.is_multi(), next);
        }
    }

    /// `observe` of a row given as its columns and which hold a list of two values or more
    /// (what `observe` reads of the cells).
    pub fn observe_shape(&mut self, shape: &[(&str, bool)]) {
        let mut next = 0;
        for &(name, multi) in shape {
            next = self.note(name, multi, next);
        }
    }

    /// Notes a column (added if new) and whether it holds a list; the column after it.
    fn note(&mut self, name: &str, multi: bool, next: usize) -> usize {
        let c = match self.column(name, next) {
            Some(c) => c,
            None => {
                self.columns.push(name.to_string());
                self.multi.push(false);
                self.index.insert(name.to_string(), self.columns.len() - 1);
                self.columns.len() - 1
            }
        };
        self.multi[c] |= multi;
        c + 1
    }

    /// The column of `name`, looked for first at `next` (rows of one reply mostly give
    /// their cells in the same order).
    #[inline]
    fn column(&self, name: &str, next: usize) -> Option<usize> {
        if self.columns.get(next).is_some_and(|c| c == name) {
            return Some(next);
        }
        self.index.get(name).copied()
    }

    /// The writer of the rows observed.
    pub fn rows(self) -> StreamedRows {
        StreamedRows {
            layout: self,
            w: None,
            number: String::new(),
            row: Vec::new(),
        }
    }
}

/// CSV rows under a [`Layout`]: the same bytes as [`RecordSet::to_csv`] of the same rows.
#[derive(Debug)]
pub struct StreamedRows {
    layout: Layout,
    w: Option<CsvOut>,
    number: String,
    row: Vec<Cell>,
}

impl StreamedRows {
    /// Writes a row; its cells must have been observed. Cells of a column the layout does
    /// not have are left out.
    pub fn push<'k>(&mut self, cells: impl IntoIterator<Item = (&'k str, Cell)>) {
        let layout = &self.layout;
        let w = self
            .w
            .get_or_insert_with(|| csv_writer(&layout.columns, &layout.multi));
        self.row.clear();
        let mut next = 0;
        for (name, cell) in cells {
            let Some(col) = layout.column(name, next) else {
                debug_assert!(false, "column {name} was not observed");
                continue;
            };
            next = col + 1;
            // Cells come in the layout's order, most often with none missing between: then
            // each is pushed (no `Null` is written first and replaced).
            if self.row.len() <= col {
                self.row.resize(col, Cell::Null);
                self.row.push(cell);
            } else {
                self.row[col] = cell;
            }
        }
        write_row(w, &mut self.number, &layout.multi, &self.row);
    }

    /// The CSV bytes; empty when no row was written.
    pub fn finish(self) -> Vec<u8> {
        self.w.map_or_else(Vec::new, CsvOut::into_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(cell: &str) -> Vec<String> {
        decode_mv(cell.as_bytes())
            .iter()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn mv_decoding_matches_every_case_of_the_spec_table() {
        let table: &[(&str, &[&str])] = &[
            ("$a$;$b$", &["a", "b"]),
            ("$a$$b$;$c$", &["a$b", "c"]),
            ("$a;b$;$c$", &["a;b", "c"]),
            ("$$", &[""]),
            ("$$;$$", &["", ""]),
            ("$$;$x$", &["", "x"]),
            ("$$$$$", &["$"]),
            ("$a$;$b$ trailing", &["a"]),
            ("$a$;b$", &["a"]),
            ("noquotes", &[]),
        ];
        for (cell, want) in table {
            assert_eq!(decoded(cell), *want, "cell {cell:?}");
        }
    }

    /// `CsvOut` writes what the `csv` crate writes, record for record: quoting, doubled
    /// quotes, and the records that would be empty lines.
    #[test]
    fn csv_out_writes_what_the_csv_crate_writes() {
        let alphabet: &[&[u8]] = &[
            b"",
            b"a",
            b"\"",
            b",",
            b"\r",
            b"\n",
            b" ",
            b"$",
            b"\xc3\xa9",
            b"#",
        ];
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            let records: Vec<Vec<Vec<u8>>> = (0..rng.below(4))
                .map(|_| {
                    (0..rng.below(4))
                        .map(|_| {
                            (0..rng.below(4))
                                .flat_map(|_| alphabet[rng.below(alphabet.len())].to_vec())
                                .collect()
                        })
                        .collect()
                })
                .collect();
            let mut want = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .flexible(true)
                .from_writer(Vec::new());
            let mut got = CsvOut::default();
            for r in &records {
                want.write_record(r).unwrap();
                for f in r {
                    got.field(f);
                }
                got.end_record();
            }
            assert_eq!(
                String::from_utf8_lossy(&got.into_bytes()),
                String::from_utf8_lossy(&want.into_inner().unwrap()),
                "{records:?}"
            );
        }
    }

    #[test]
    fn integers_are_written_as_rust_formats_them() {
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut out = String::from("stale");
        let edges = [
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ];
        for i in edges.into_iter().chain((0..10_000).map(|_| {
            // Every magnitude: a random value shifted right by 0..63 bits, either sign.
            let v = (rng.next() >> rng.below(64)) as i64;
            if rng.below(2) == 0 {
                v
            } else {
                v.wrapping_neg()
            }
        })) {
            write_int(&mut out, i);
            assert_eq!(out, i.to_string());
        }
    }

    #[test]
    fn mv_encoding_round_trips_through_decoding() {
        let lists: &[&[&str]] = &[
            &["a", "b"],
            &["a$b", "c"],
            &["", "y"],
            &["$", "$$", "x$"],
            &["a;b", "\u{0e17}t", "q\"uote\nline"],
        ];
        for list in lists {
            let (_, mv) = encode_mv(list);
            assert_eq!(decoded(&mv), *list, "{mv}");
        }
        assert_eq!(
            encode_mv(&["a$b", "c"]),
            ("a$b\nc".into(), "$a$$b$;$c$".into())
        );
        assert_eq!(encode_mv(&["", "y"]), ("\ny".into(), "$$;$y$".into()));
    }

    #[test]
    fn findall_emulation_is_linear_on_hostile_cells() {
        let cell = "$".repeat(1_000_001);
        let items = decode_mv(cell.as_bytes());
        assert_eq!(items.len(), 1);
    }

    #[derive(Debug, PartialEq)]
    enum V {
        Null,
        One(&'static str),
        Many(Vec<&'static str>),
    }

    fn own(v: Value<'_>) -> V {
        let s = |b: &[u8]| -> &'static str {
            Box::leak(String::from_utf8(b.to_vec()).unwrap().into_boxed_str())
        };
        match v {
            Value::Null => V::Null,
            Value::One(b) => V::One(s(b)),
            Value::Many(items) => V::Many(items.iter().map(|i| s(i)).collect()),
        }
    }

    fn read(body: &str) -> (Vec<String>, Vec<Vec<V>>) {
        let mut records = Records::new(body.as_bytes()).unwrap();
        let names = records.fields().names().to_vec();
        let ids: Vec<FieldId> = names
            .iter()
            .map(|n| records.fields().id(n).unwrap())
            .collect();
        let mut rows = Vec::new();
        while let Some(r) = records.next().unwrap() {
            rows.push(ids.iter().map(|&id| own(r.get(id))).collect());
        }
        (names, rows)
    }

    #[test]
    fn bodies_full_header_only_and_empty() {
        let (names, rows) = read("a,b\n1,2\n");
        assert_eq!(names, ["a", "b"]);
        assert_eq!(rows, vec![vec![V::One("1"), V::One("2")]]);
        let (names, rows) = read("a,b\n");
        assert_eq!(names, ["a", "b"]);
        assert!(rows.is_empty());
        let (names, rows) = read("");
        assert!(names.is_empty() && rows.is_empty());
    }

    #[test]
    fn crlf_quoted_newlines_and_quotes_are_read() {
        let (_, rows) = read("\"a\",b\r\n\"x\r\ny\",\"q\"\"\"\r\n,3\r\n");
        assert_eq!(rows[0], vec![V::One("x\r\ny"), V::One("q\"")]);
        assert_eq!(rows[1], vec![V::Null, V::One("3")]);
    }

    #[test]
    fn mv_companion_overrides_the_display_cell_and_is_not_a_field() {
        let (names, rows) = read("x,y,\"__mv_x\",\"__mv_y\"\n\"a\nb\",1,\"$a$;$b$\",\n");
        assert_eq!(names, ["x", "y"]);
        assert_eq!(rows[0], vec![V::Many(vec!["a", "b"]), V::One("1")]);
        // A malformed companion with no item falls back to the plain cell.
        let (_, rows) = read("x,__mv_x\nplain,noquotes\n");
        assert_eq!(rows[0], vec![V::One("plain")]);
        // `__mv_z` without a `z` column is an ordinary field.
        let (names, _) = read("__mv_z\n1\n");
        assert_eq!(names, ["__mv_z"]);
    }

    #[test]
    fn short_rows_have_null_trailing_fields() {
        let (_, rows) = read("a,b,c\n1\n1,2,3,4\n");
        assert_eq!(rows[0], vec![V::One("1"), V::Null, V::Null]);
        assert_eq!(rows[1], vec![V::One("1"), V::One("2"), V::One("3")]);
    }

    #[test]
    fn output_header_is_the_union_of_keys_with_mv_companions_where_needed() {
        let mut set = RecordSet::new();
        set.push([("a", Cell::Int(1))]);
        set.push([
            ("b", Cell::List(vec!["x$".into(), "y".into()])),
            ("a", Cell::Number(2.5)),
        ]);
        set.push([("c", Cell::List(vec!["only".into()])), ("d", Cell::Null)]);
        let csv = String::from_utf8(set.to_csv()).unwrap();
        assert_eq!(
            csv,
            "a,b,__mv_b,c,d\n1,,,,\n2.5,\"x$\ny\",$x$$$;$y$,,\n,,,only,\n"
        );
        assert!(RecordSet::new().to_csv().is_empty());
        assert_eq!(String::from_utf8(set.into_csv()).unwrap(), csv);
        assert!(RecordSet::new().into_csv().is_empty());
    }

    #[test]
    fn an_encoded_list_is_written_as_the_list_of_its_items() {
        let mut rng = crate::test_rng::Rng(0x11e7_c0de_0000_0007);
        let pieces = ["a", "$", "$$", "", "é", ",", "\"", "\n", ";", "x y"];
        for round in 0..400 {
            let items: Vec<String> = (0..rng.below(5))
                .map(|_| {
                    (0..rng.below(4))
                        .map(|_| pieces[rng.below(pieces.len())])
                        .collect()
                })
                .collect();
            let listed = Cell::List(items.clone());
            let bytes = items.iter().map(String::len).sum::<usize>() + rng.below(3);
            let encoded = Cell::list(items.iter().map(|i| Cow::Borrowed(i.as_str())), bytes);
            assert_eq!(encoded.is_multi(), listed.is_multi(), "{items:?}");
            let row = |cell: Cell| vec![("k", Cell::Int(round)), ("v", cell)];
            let (mut a, mut b) = (RecordSet::new(), RecordSet::new());
            a.push(row(listed.clone()));
            b.push(row(encoded.clone()));
            assert_eq!(a.to_csv(), b.to_csv(), "{items:?}");
            let (mut la, mut lb) = (Layout::new(), Layout::new());
            la.observe(&row(listed.clone()));
            lb.observe(&row(encoded.clone()));
            let (mut sa, mut sb) = (la.rows(), lb.rows());
            sa.push(row(listed.clone()));
            sb.push(row(encoded.clone()));
            assert_eq!(sa.finish(), sb.finish(), "{items:?}");
            let (mut ra, mut rb) = (CsvRows::new(&["v"]), CsvRows::new(&["v"]));
            ra.put(&listed);
            rb.put(&encoded);
            ra.end_row();
            rb.end_row();
            assert_eq!(ra.finish(), rb.finish(), "{items:?}");
        }
    }

    #[test]
    fn streamed_rows_write_what_a_record_set_writes() {
        let rows: Vec<Vec<(&str, Cell)>> = vec![
            vec![("a", Cell::Int(1)), ("e", Cell::List(vec![]))],
            vec![
                ("b", Cell::List(vec!["x$".into(), "y".into()])),
                ("a", Cell::Number(2.5)),
            ],
            vec![("c", Cell::List(vec!["only".into()])), ("d", Cell::Null)],
            vec![("", Cell::Text(String::new()))],
            vec![("d", Cell::Text("q\"uote,\n".into())), ("a", Cell::Int(-3))],
        ];
        for n in 0..=rows.len() {
            let mut set = RecordSet::new();
            let mut layout = Layout::new();
            for row in &rows[..n] {
                set.push(row.clone());
                layout.observe(row);
            }
            let mut streamed = layout.rows();
            for row in &rows[..n] {
                streamed.push(row.clone());
            }
            assert_eq!(streamed.finish(), set.to_csv(), "{n} rows");
        }
    }

    #[test]
    fn rows_written_one_by_one_have_fixed_columns_with_mv_companions() {
        let mut rows = CsvRows::new(&["a", "b"]);
        rows.put(&Cell::Text("x,y".into()));
        rows.put(&Cell::List(vec!["1".into(), "$2".into()]));
        rows.end_row();
        rows.put(&Cell::Int(7));
        rows.end_row();
        let text = String::from_utf8(rows.finish()).unwrap();
        assert_eq!(
            text,
            "a,b,__mv_a,__mv_b\n\"x,y\",\"1\n$2\",,$1$;$$$2$\n7,,,\n"
        );
        assert!(CsvRows::new(&["a"]).finish().is_empty());
    }

    #[test]
    fn numbers_are_formatted_as_splunk_shows_them() {
        let format_number = |x: f64| {
            let mut s = String::from("stale");
            write_number(&mut s, x);
            s
        };
        assert_eq!(format_number(12345.0), "12345");
        assert_eq!(format_number(4935204.25), "4935204.25");
        assert_eq!(format_number(-0.1), "-0.1");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
    }
}
