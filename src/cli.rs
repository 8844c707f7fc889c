//! The command line: no arguments = serve splunkd on stdin/stdout; `demo`, `replay` and
//! `run` are for people.

use crate::aidetect::{AiDetect, OPTIONS};
use crate::input::{read_csv_export, read_events};
use crate::protocol::driver::{self, DecodedReply, Table};
use crate::protocol::{Settings, serve};
use std::io::{self, BufReader, Read, Write};

const USAGE: &str = "\
aidetect — find users and machines that call generative-AI APIs programmatically
(MITRE ATT&CK T1588.007), as a Splunk custom search command.

USAGE:
    aidetect                      serve splunkd's chunked protocol on stdin/stdout
                                  (this is how Splunk runs `| aidetect`)
    aidetect demo [--columns A,B|all] [OPTIONS...]
                                  run `| aidetect` on a built-in sample of proxy events
    aidetect run FILE [--format table|csv] [--columns A,B|all] [OPTIONS...]
                                  run `| aidetect` on exported events: Splunk CSV export
                                  or JSON lines (`-` reads standard input)
    aidetect replay FILE [--args \"A=B ...\"] [--raw]
                                  feed a recorded splunkd input stream (plain or .gz)
                                  through the command and print its replies
    aidetect help [demo|run|replay|options]
    aidetect --version

OPTIONS are the command's own, as typed after `| aidetect` in Splunk (name=value).
";

const HELP_DEMO: &str = "\
aidetect demo [OPTIONS...]

Runs `| aidetect OPTIONS` over a small built-in data set: proxy events for the seed
detection's five test cases (PowerShell, Python SDK, curl POST, PowerShell with an API key,
Linux curl) and its false-positive classes. The events go through the same protocol path as
in Splunk (getinfo, execute chunks, replies) and the result is printed as a table.
";

const HELP_RUN: &str = "\
aidetect run FILE [--format table|csv] [OPTIONS...]

Runs `| aidetect OPTIONS` over exported events, for people without Splunk at hand.
FILE is a Splunk CSV export (first line = field names; a cell with several lines is a
multivalue field, except _raw) or JSON lines (one object per line, or Splunk's
{\"result\":{...}} export lines; arrays are multivalue). Use - for standard input.
--format csv prints CSV (every column) instead of a table; --columns picks the columns
(a table shows a summary of the standard profile's columns unless --columns all).
";

const HELP_REPLAY: &str = "\
aidetect replay FILE [--args \"A=B ...\"] [--raw]

Feeds a recorded splunkd → command stream (plain, or gzip when the name ends in .gz or the
bytes say so) through `aidetect` and prints each reply: its metadata, and its records as a
table. --raw prints the reply bytes exactly. --args replaces the recording's search
arguments (a recording of another command carries that command's arguments).
";

/// Runs the command line; returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    let result = match args.first().map(String::as_str) {
        None => return serve_stdio(),
        Some("demo") => demo(&args[1..]),
        Some("run") => run_file(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("help" | "-h" | "--help") => {
            print_help(args.get(1).map(String::as_str));
            Ok(())
        }
        Some("-V" | "--version" | "version") => {
            println!("aidetect {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some(_) => {
            // splunkd may add `command.arg.N` entries from commands.conf: they are not ours to
            // interpret, and argv never carries the protocol. Anything that is not a
            // subcommand therefore serves the protocol.
            return serve_stdio();
        }
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("aidetect: {message}");
            2
        }
    }
}

fn print_help(topic: Option<&str>) {
    match topic {
        Some("demo") => print!("{HELP_DEMO}"),
        Some("run") => print!("{HELP_RUN}"),
        Some("replay") => print!("{HELP_REPLAY}"),
        Some("options") => print!("{}", options_help()),
        _ => print!("{USAGE}\n{}", options_help()),
    }
}

fn options_help() -> String {
    let mut s = String::from("Options of | aidetect:\n");
    for spec in OPTIONS {
        s.push_str(&format!(
            "    {:<12} {} ({}; default {})\n",
            spec.name,
            spec.help,
            spec.accepts(),
            spec.default
        ));
    }
    s
}

fn serve_stdio() -> i32 {
    let stdin = io::stdin();
    // Small next to a body feed's reads (`protocol::chunk::FEED_READ`), which then go
    // straight into the body's buffer instead of through this one.
    let input = BufReader::with_capacity(64 * 1024, stdin.lock());
    let stdout = io::stdout();
    let output = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    serve(&mut AiDetect::new(), input, output, &Settings::default()).exit_code()
}

/// Runs the command in-process over a request stream and returns the reply bytes.
fn drive(stream: &[u8], settings: &Settings) -> (Vec<u8>, i32) {
    let mut out = Vec::new();
    let ending = serve(&mut AiDetect::new(), stream, &mut out, settings);
    (out, ending.exit_code())
}

/// Builds a splunkd request stream over a table of events, 50,000 rows per chunk.
fn stream_for(options: &[String], table: &Table, rows_per_chunk: usize) -> Vec<u8> {
    let mut stream = driver::getinfo(options, serde_json::json!({}));
    let chunks: Vec<&[Vec<Vec<String>>]> = if table.rows.is_empty() {
        vec![&[]]
    } else {
        table.rows.chunks(rows_per_chunk.max(1)).collect()
    };
    for (i, rows) in chunks.iter().enumerate() {
        let body = driver::splunkd_body(&table.fields, rows);
        stream.extend(driver::execute(i + 1 == chunks.len(), &body));
    }
    stream
}

/// Prints the final results of a reporting run, or the error reply.
fn print_results(replies: &[DecodedReply], format: &Format) -> Result<(), String> {
    let mut out = io::stdout().lock();
    for reply in replies {
        if let Some(messages) = reply.metadata["inspector"]["messages"].as_array() {
            for m in messages {
                eprintln!(
                    "{}: {}",
                    m[0].as_str().unwrap_or("?"),
                    m[1].as_str().unwrap_or("")
                );
            }
        }
        if let Some(error) = reply.metadata["error"].as_str() {
            return Err(error.to_string());
        }
    }
    let last = replies.last().ok_or("the command wrote no reply")?;
    let table = last.table()?;
    let all = ["all".to_string()];
    let text = if format.csv {
        table_csv(&select_columns(
            &table,
            Some(format.columns.as_deref().unwrap_or(&all)),
        ))
    } else {
        render_table(&select_columns(&table, format.columns.as_deref()))
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// How `run` and `demo` print.
#[derive(Debug, Default)]
struct Format {
    csv: bool,
    columns: Option<Vec<String>>,
}

fn split_format(args: &[String]) -> Result<(Format, Vec<String>), String> {
    let mut format = Format::default();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "--format" => match value().as_deref() {
                Some("csv") => format.csv = true,
                Some("table") => format.csv = false,
                other => return Err(format!("--format takes table or csv, not {other:?}")),
            },
            "--columns" => {
                let v = value().ok_or("--columns needs a comma-separated list, or all")?;
                format.columns = Some(v.split(',').map(|c| c.trim().to_string()).collect());
            }
            flag if flag.starts_with("--") => {
                return Err(format!("unknown flag {flag}; see `aidetect help`"));
            }
            _ => rest.push(a.clone()),
        }
    }
    Ok((format, rest))
}

fn demo(args: &[String]) -> Result<(), String> {
    let (format, options) = split_format(args)?;
    let table = read_csv_export(include_str!("../data/demo_events.csv").as_bytes())?;
    eprintln!(
        "aidetect demo: {} proxy events (the seed's five test cases and its false-positive classes)\n\
         through `| aidetect{}{}`, in 3 execute chunks over the chunked protocol.\n",
        table.rows.len(),
        if options.is_empty() { "" } else { " " },
        options.join(" ")
    );
    let per_chunk = table.rows.len().div_ceil(3);
    let (bytes, _) = drive(
        &stream_for(&options, &table, per_chunk),
        &Settings::default(),
    );
    print_results(&driver::decode_replies(&bytes)?, &format)
}

fn run_file(args: &[String]) -> Result<(), String> {
    let (format, rest) = split_format(args)?;
    let Some((path, options)) = rest.split_first() else {
        return Err("run needs a FILE; see `aidetect help run`".into());
    };
    let bytes = read_input(path)?;
    let table = read_events(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let (replies, _) = drive(&stream_for(options, &table, 50_000), &Settings::default());
    print_results(&driver::decode_replies(&replies)?, &format)
}

fn replay(args: &[String]) -> Result<(), String> {
    let mut path = None;
    let mut raw = false;
    let mut override_args = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--raw" => raw = true,
            "--args" => {
                let v = it
                    .next()
                    .ok_or("--args needs a value, e.g. --args \"profile=seed\"")?;
                override_args = Some(v.split_whitespace().map(String::from).collect());
            }
            s if s.starts_with("--args=") => {
                override_args = Some(
                    s["--args=".len()..]
                        .split_whitespace()
                        .map(String::from)
                        .collect(),
                );
            }
            s if s.starts_with("--") => {
                return Err(format!("unknown flag {s}; see `aidetect help replay`"));
            }
            s => path = Some(s.to_string()),
        }
    }
    let path = path.ok_or("replay needs a FILE; see `aidetect help replay`")?;
    let stream = read_input(&path)?;
    let settings = Settings {
        args: override_args,
        ..Settings::default()
    };
    let (bytes, code) = drive(&stream, &settings);
    let mut out = io::stdout().lock();
    if raw {
        out.write_all(&bytes).map_err(|e| e.to_string())?;
    } else {
        for (i, reply) in driver::decode_replies(&bytes)?.iter().enumerate() {
            writeln!(
                out,
                "reply {}: {} ({} body bytes)",
                i + 1,
                reply.metadata,
                reply.body.len()
            )
            .map_err(|e| e.to_string())?;
            if !reply.body.is_empty() {
                let table = reply.table()?;
                write!(out, "{}", render_table(&table)).map_err(|e| e.to_string())?;
            }
        }
    }
    if code != 0 {
        return Err(format!("the command exited with code {code}"));
    }
    Ok(())
}

/// Reads a file (or standard input for `-`), gunzipping when it is gzip.
fn read_input(path: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    if path == "-" {
        io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("standard input: {e}"))?;
    } else {
        bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .map_err(|e| format!("{path}: not valid gzip: {e}"))?;
        bytes = plain;
    }
    Ok(bytes)
}

/// CSV of the results; nothing at all when there are none (the reply carries no header then).
fn table_csv(table: &Table) -> String {
    if table.rows.is_empty() {
        return String::new();
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(&table.fields);
    for row in &table.rows {
        let _ = w.write_record(row.iter().map(|v| v.join("\n")));
    }
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
}

/// The columns shown by default in a terminal (all of them with `--columns all` or in CSV).
const SUMMARY_COLUMNS: &[&str] = &[
    "src_ip",
    "user",
    "Requests",
    "TotalBytesUploaded",
    "MaxSuspicionScore",
    "RiskScore",
    "AIServices",
    "Clients",
    "Reasons",
    "Allowlisted",
];

/// Keeps the chosen columns (key columns other than src_ip/user always stay).
fn select_columns(table: &Table, wanted: Option<&[String]>) -> Table {
    let known_seed_or_standard = table.fields.iter().any(|f| f == "RiskScore");
    let keep: Vec<usize> = match wanted {
        Some(w) if w.iter().any(|c| c == "all") => (0..table.fields.len()).collect(),
        Some(w) => (0..table.fields.len())
            .filter(|&i| w.contains(&table.fields[i]))
            .collect(),
        None if known_seed_or_standard => {
            let first_stat = table
                .fields
                .iter()
                .position(|f| f == "Requests")
                .unwrap_or(0);
            (0..table.fields.len())
                .filter(|&i| i < first_stat || SUMMARY_COLUMNS.contains(&table.fields[i].as_str()))
                .collect()
        }
        None => (0..table.fields.len()).collect(),
    };
    Table {
        fields: keep.iter().map(|&i| table.fields[i].clone()).collect(),
        rows: table
            .rows
            .iter()
            .map(|r| {
                keep.iter()
                    .map(|&i| r.get(i).cloned().unwrap_or_default())
                    .collect()
            })
            .collect(),
    }
}

/// A plain-text table, one line per row; multivalue cells are joined with ", ".
pub fn render_table(table: &Table) -> String {
    const MAX: usize = 72;
    let clip = |s: String| -> String {
        if s.chars().count() > MAX {
            format!("{}…", s.chars().take(MAX - 1).collect::<String>())
        } else {
            s
        }
    };
    if table.rows.is_empty() {
        return "(no results)\n".to_string();
    }
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| clip(v.join(", ").replace(['\n', '\r'], " ")))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..table.fields.len())
        .map(|c| {
            cells
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .chain([table.fields[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |parts: &[String]| -> String {
        let mut s = String::new();
        for (i, p) in parts.iter().enumerate() {
            s.push_str(p);
            if i + 1 < parts.len() {
                s.push_str(&" ".repeat(widths[i] - p.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&table.fields);
    out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in &cells {
        out += &line(row);
    }
    out
}
