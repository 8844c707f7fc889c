//! The CSV body reader: the row scanner finds the same fields as the `csv` crate in any bytes;
//! any body reads without a panic; whatever it reads, written back with `RecordSet::to_csv`
//! (the replies' writer), reads back to the same fields and values.
#![no_main]

use aidetect::protocol::csvscan::{Row, Scanner};
use aidetect::protocol::{Cell, FieldId, RecordSet, Records, Value};
use libfuzzer_sys::fuzz_target;

type Rows = Vec<Vec<Vec<String>>>;

/// Field names and each record's values (an empty list = null), or `None` on a CSV error.
fn read(body: &[u8]) -> Option<(Vec<String>, Rows)> {
    let mut records = Records::new(body).ok()?;
    let names = records.fields().names().to_vec();
    let ids: Vec<FieldId> = names
        .iter()
        .map(|n| records.fields().id(n).expect("every field name has an id"))
        .collect();
    assert_eq!(records.fields().len(), names.len());
    let mut rows = Vec::new();
    while let Some(record) = records.next().ok()? {
        let _ = record.chunked_idx();
        rows.push(
            ids.iter()
                .map(|&id| {
                    let value = record.get(id);
                    if let Value::Many(items) = &value {
                        assert!(!items.is_empty(), "a multivalue has at least one item");
                    }
                    value
                        .iter()
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .collect()
                })
                .collect(),
        );
        assert_eq!(records.count(), rows.len() as u64);
    }
    Some((names, rows))
}

/// Every row's fields as the `csv` crate reads them (its leniency is the scanner's dialect).
fn csv_crate_rows(body: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    while reader.read_byte_record(&mut record).expect("reading bytes cannot fail") {
        rows.push(record.iter().map(<[u8]>::to_vec).collect());
    }
    rows
}

fn scanner_rows(body: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut scanner = Scanner::new(body);
    let mut row = Row::default();
    let mut rows = Vec::new();
    while scanner.next_row(&mut row) {
        rows.push(
            (0..row.len())
                .map(|i| row.get(body, i).expect("a field of the row").to_vec())
                .collect(),
        );
    }
    rows
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(scanner_rows(data), csv_crate_rows(data));

    let Some((names, rows)) = read(data) else {
        return;
    };
    if names.is_empty() || rows.is_empty() {
        return;
    }
    let mut set = RecordSet::new();
    for row in &rows {
        set.push(
            names
                .iter()
                .zip(row)
                .map(|(name, values)| (name.as_str(), Cell::List(values.clone()))),
        );
    }
    let written = set.to_csv();
    let (names_back, rows_back) = read(&written).expect("our own output reads back");
    assert_eq!(names_back, names);
    // A single empty item is written as an empty cell, which reads as null.
    let expected: Rows = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| if v == [""] { Vec::new() } else { v })
                .collect()
        })
        .collect();
    assert_eq!(rows_back, expected);
});
