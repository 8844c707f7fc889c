//! Helpers shared by the integration tests: run the built binary as splunkd runs it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub code: Option<i32>,
    pub elapsed: Duration,
}

/// Spawns `aidetect` with `args`, writes `input` to its stdin, closes it, and waits at most
/// `limit` for it to exit (killing it and panicking on a hang).
pub fn run_binary(args: &[&str], input: &[u8], limit: Duration) -> Run {
    run_binary_env(args, &[], input, limit)
}

/// `run_binary` with extra environment variables.
pub fn run_binary_env(args: &[&str], env: &[(&str, &str)], input: &[u8], limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aidetect"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aidetect");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The command may stop reading early (after an error): a broken pipe is expected.
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("aidetect did not exit within {limit:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    writer.join().unwrap();
    Run {
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
        code,
        elapsed,
    }
}

/// Frames one chunk by hand (independently of the code under test).
pub fn chunk(meta: &str, body: &str) -> Vec<u8> {
    let mut v = format!("chunked 1.0,{},{}\n", meta.len(), body.len()).into_bytes();
    v.extend_from_slice(meta.as_bytes());
    v.extend_from_slice(body.as_bytes());
    v
}

pub fn getinfo(args: &[&str]) -> Vec<u8> {
    let args_json = serde_json::to_string(args).unwrap();
    chunk(
        &format!(
            r#"{{"action":"getinfo","preview":false,"searchinfo":{{"args":{args_json},"session_key":"S3SS10N-K3Y-do-not-leak","username":"admin","search":"%7C%20aidetect","earliest_time":"0","latest_time":1599084000.0}}}}"#
        ),
        "",
    )
}

pub fn execute(finished: bool, body: &str) -> Vec<u8> {
    chunk(
        &format!(r#"{{"action":"execute","finished":{finished}}}"#),
        body,
    )
}

/// Splits a reply stream into (metadata text, body text), by hand.
pub fn split_replies(mut bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .expect("header newline");
        let header = std::str::from_utf8(&bytes[..nl]).unwrap();
        let rest = header
            .strip_prefix("chunked 1.0,")
            .unwrap_or_else(|| panic!("bad header {header:?}"));
        let (m, b) = rest.split_once(',').unwrap();
        let (m, b): (usize, usize) = (m.parse().unwrap(), b.parse().unwrap());
        let meta = String::from_utf8(bytes[nl + 1..nl + 1 + m].to_vec()).unwrap();
        let body = String::from_utf8_lossy(&bytes[nl + 1 + m..nl + 1 + m + b]).into_owned();
        out.push((meta, body));
        bytes = &bytes[nl + 1 + m + b..];
    }
    out
}

pub const SECOND: Duration = Duration::from_secs(1);
pub const GENEROUS: Duration = Duration::from_secs(60);

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aidetect-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The final reply's records as (header, rows of cells split on commas outside quotes).
pub fn final_table(stdout: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let replies = split_replies(stdout);
    let body = &replies.last().expect("a reply").1;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(String::from).collect())
        .unwrap_or_default();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}
