//! Exported events for `aidetect run`: Splunk CSV exports, JSON lines (plain or Splunk's
//! `{"result":{...}}` export), and Zeek `http.log`, `ssl.log`, `dns.log` in TSV or JSON.

use crate::protocol::driver::Table;
use std::io::BufRead;

/// Reads exported events: Zeek TSV logs, CSV exports or JSON lines, told apart by their
/// first bytes. Zeek fields are renamed to the Splunk CIM names the command reads.
pub fn read_events(bytes: &[u8]) -> Result<Table, String> {
    let table = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'#') => read_zeek_tsv(bytes)?,
        Some(b'{') => read_json_lines(bytes)?,
        Some(_) => read_csv_export(bytes)?,
        None => Table::default(),
    };
    Ok(zeek_to_cim(table))
}

/// Splunk's CSV export: a multivalue field is one cell with a value per line.
pub fn read_csv_export(bytes: &[u8]) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let fields: Vec<String> = reader
        .headers()
        .map_err(|e| format!("not a CSV export: {e}"))?
        .iter()
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("CSV row {}: {e}", n + 2))?;
        rows.push(
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| match record.get(i) {
                    None | Some("") => Vec::new(),
                    Some(v) if f != "_raw" && v.contains('\n') => v
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect(),
                    Some(v) => vec![v.to_string()],
                })
                .collect(),
        );
    }
    Ok(Table { fields, rows })
}

fn json_scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn read_json_lines(bytes: &[u8]) -> Result<Table, String> {
    let mut fields: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut rows: Vec<Vec<Vec<String>>> = Vec::new();
    for (n, line) in BufRead::lines(bytes).enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("line {}: not JSON: {e}", n + 1))?;
        let object = match value.get("result") {
            Some(serde_json::Value::Object(r)) => r.clone(),
            _ => match value {
                serde_json::Value::Object(o) => o,
                _ => return Err(format!("line {}: expected a JSON object", n + 1)),
            },
        };
        let mut row = vec![Vec::new(); fields.len()];
        for (key, v) in object {
            let col = *index.entry(key.clone()).or_insert_with(|| {
                fields.push(key.clone());
                fields.len() - 1
            });
            if row.len() <= col {
                row.resize(col + 1, Vec::new());
            }
            row[col] = match &v {
                serde_json::Value::Array(items) => items.iter().filter_map(json_scalar).collect(),
                other => json_scalar(other).into_iter().collect(),
            };
        }
        rows.push(row);
    }
    for row in &mut rows {
        row.resize(fields.len(), Vec::new());
    }
    Ok(Table { fields, rows })
}

/// Zeek's TSV format: `#fields` names the columns, `-` is unset, `(empty)` an empty set, and
/// sets and vectors are `,`-separated (multivalue).
fn read_zeek_tsv(bytes: &[u8]) -> Result<Table, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields: Vec<String> = Vec::new();
    let mut set_sep = ",".to_string();
    let mut unset = "-".to_string();
    let mut empty = "(empty)".to_string();
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(meta) = line.strip_prefix('#') {
            let (key, value) = meta.split_once(['\t', ' ']).unwrap_or((meta, ""));
            match key {
                "fields" => fields = value.split('\t').map(String::from).collect(),
                "set_separator" => set_sep = value.to_string(),
                "unset_field" => unset = value.to_string(),
                "empty_field" => empty = value.to_string(),
                _ => {}
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if fields.is_empty() {
            return Err(format!("line {}: Zeek data before the #fields line", n + 1));
        }
        let row = line
            .split('\t')
            .map(|cell| {
                if cell == unset || cell == empty || cell.is_empty() {
                    Vec::new()
                } else if cell.contains(set_sep.as_str()) && !set_sep.is_empty() {
                    cell.split(set_sep.as_str()).map(String::from).collect()
                } else {
                    vec![cell.to_string()]
                }
            })
            .collect();
        rows.push(row);
    }
    Ok(Table { fields, rows })
}

/// Zeek field names → the CIM names the command reads. Applied only to tables that look like
/// Zeek logs (they have `uid` and `id.orig_h`).
const ZEEK_TO_CIM: &[(&str, &str)] = &[
    ("ts", "_time"),
    ("id.orig_h", "src_ip"),
    ("id.resp_h", "dest_ip"),
    ("id.resp_p", "dest_port"),
    ("host", "dest_host"),
    ("uri", "uri_path"),
    ("method", "http_method"),
    ("user_agent", "http_user_agent"),
    ("request_body_len", "bytes_out"),
    ("username", "user"),
    ("server_name", "ssl_server_name"),
];

fn zeek_to_cim(mut table: Table) -> Table {
    let is_zeek = ["uid", "id.orig_h"]
        .iter()
        .all(|f| table.fields.iter().any(|x| x == f));
    if is_zeek {
        for field in &mut table.fields {
            if let Some((_, cim)) = ZEEK_TO_CIM.iter().find(|(z, _)| z == field) {
                *field = cim.to_string();
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_tsv_is_read_and_renamed() {
        let log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n\
            #fields\tts\tuid\tid.orig_h\thost\turi\tmethod\tuser_agent\trequest_body_len\ttags\n\
            1.5\tC1\t10.0.0.1\tapi.openai.com\t/v1/chat/completions\tPOST\tcurl/8.0\t120\t(empty)\n\
            2.5\tC2\t10.0.0.2\t-\t-\t-\t-\t0\ta,b\n";
        let t = read_events(log.as_bytes()).unwrap();
        assert_eq!(
            t.fields,
            [
                "_time",
                "uid",
                "src_ip",
                "dest_host",
                "uri_path",
                "http_method",
                "http_user_agent",
                "bytes_out",
                "tags"
            ]
        );
        assert_eq!(t.get(0, "dest_host").unwrap(), ["api.openai.com"]);
        assert!(t.get(1, "dest_host").unwrap().is_empty());
        assert_eq!(t.get(1, "tags").unwrap(), ["a", "b"]);
        assert!(t.get(0, "tags").unwrap().is_empty());
    }

    #[test]
    fn zeek_json_is_renamed_too() {
        let log =
            r#"{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","server_name":"api.anthropic.com"}"#;
        let t = read_events(log.as_bytes()).unwrap();
        assert_eq!(t.get(0, "ssl_server_name").unwrap(), ["api.anthropic.com"]);
        assert_eq!(t.get(0, "src_ip").unwrap(), ["10.0.0.1"]);
        assert_eq!(t.get(0, "_time").unwrap(), ["1.5"]);
    }

    #[test]
    fn csv_export_cells_with_lines_are_multivalue_except_raw() {
        let csv = "_raw,dest_host\n\"a\nb\",\"x.com\ny.com\"\n";
        let t = read_events(csv.as_bytes()).unwrap();
        assert_eq!(t.get(0, "_raw").unwrap(), ["a\nb"]);
        assert_eq!(t.get(0, "dest_host").unwrap(), ["x.com", "y.com"]);
    }

    #[test]
    fn splunk_json_export_lines_are_unwrapped() {
        let j = r#"{"preview":false,"result":{"user":"bob","dest_host":["a","b"],"n":3}}"#;
        let t = read_events(j.as_bytes()).unwrap();
        assert_eq!(t.get(0, "user").unwrap(), ["bob"]);
        assert_eq!(t.get(0, "dest_host").unwrap(), ["a", "b"]);
        assert_eq!(t.get(0, "n").unwrap(), ["3"]);
    }
}
