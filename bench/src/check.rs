//! Reads a reply body back into rows of values, to compare two commands' results.

/// A reply as a table: plain column names, and each cell as its list of values
/// (empty for an empty cell, one value, or the items of its `__mv_` companion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Vec<String>>>,
}

/// Decodes a CSV body with optional `__mv_` companions (in any order, as splunklib writes
/// pairs and splunkd writes them after the plain fields).
pub fn decode(body: &[u8]) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    let columns: Vec<String> = header
        .iter()
        .filter(|h| !h.starts_with("__mv_") && !h.is_empty())
        .cloned()
        .collect();
    let place = |name: &str| header.iter().position(|h| h == name);
    let slots: Vec<(usize, Option<usize>)> = columns
        .iter()
        .map(|c| (place(c).expect("listed"), place(&format!("__mv_{c}"))))
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let row = slots
            .iter()
            .map(|&(plain, mv)| {
                let mv = mv.and_then(|i| record.get(i)).unwrap_or("");
                let text = record.get(plain).unwrap_or("");
                if !mv.is_empty() {
                    decode_mv(mv)
                } else if text.is_empty() {
                    Vec::new()
                } else {
                    vec![text.to_string()]
                }
            })
            .collect();
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// `$a$;$b$` with `$$` for a literal `$` (`scp-v2.md` §6.1).
fn decode_mv(cell: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut chars = cell.chars().peekable();
    while chars.next() == Some('$') {
        let mut item = String::new();
        loop {
            match chars.next() {
                Some('$') if chars.peek() == Some(&'$') => {
                    chars.next();
                    item.push('$');
                }
                Some('$') | None => break,
                Some(c) => item.push(c),
            }
        }
        items.push(item);
        if chars.next() != Some(';') {
            break;
        }
    }
    items
}

/// `Ok` when both tables have the same columns and the same rows in the same order;
/// otherwise the first difference.
pub fn same_rows(ours: &Table, theirs: &Table) -> Result<(), String> {
    if ours.columns != theirs.columns {
        return Err(format!(
            "columns differ: {:?} vs {:?}",
            ours.columns, theirs.columns
        ));
    }
    for (i, (a, b)) in ours.rows.iter().zip(&theirs.rows).enumerate() {
        if a != b {
            return Err(format!("row {} differs: {a:?} vs {b:?}", i + 1));
        }
    }
    if ours.rows.len() != theirs.rows.len() {
        return Err(format!(
            "{} rows vs {} rows",
            ours.rows.len(),
            theirs.rows.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multivalue_cells_decode_as_splunklib_does() {
        assert_eq!(decode_mv("$a$;$b$"), ["a", "b"]);
        assert_eq!(decode_mv("$a$$b$;$c$"), ["a$b", "c"]);
        assert_eq!(decode_mv("$a;b$;$c$"), ["a;b", "c"]);
        assert_eq!(decode_mv("$$;$x$"), ["", "x"]);
    }

    #[test]
    fn splunklib_pairs_and_splunkd_order_decode_alike() {
        let pairs = decode(b"a,__mv_a,b,__mv_b\r\n1,,\"x\ny\",$x$;$y$\r\n").unwrap();
        let grouped = decode(b"a,b,__mv_a,__mv_b\n1,\"x\ny\",,$x$;$y$\n").unwrap();
        assert_eq!(pairs, grouped);
        assert_eq!(pairs.rows[0][1], ["x", "y"]);
        assert!(same_rows(&pairs, &grouped).is_ok());
    }

    #[test]
    fn a_different_row_is_reported() {
        let a = decode(b"a\n1\n2\n").unwrap();
        let b = decode(b"a\n1\n3\n").unwrap();
        assert!(same_rows(&a, &b).unwrap_err().contains("row 2"));
    }
}
