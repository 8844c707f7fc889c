//! Helpers shared by the integration tests: run the built binary as splunkd runs it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
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
    run_command(env!("CARGO_BIN_EXE_aidetect"), args, env, input, limit)
}

/// `run_binary_env` for any program (`strace aidetect`, say).
pub fn run_command(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    input: &[u8],
    limit: Duration,
) -> Run {
    run_with(program, args, env, input, limit, |child| {
        child.try_wait().unwrap().map(|status| status.code())
    })
}

/// `run_command` with the way of reaping the child: `reap` returns `Some(exit code)` once the
/// child has exited, `None` while it runs (it is polled every 5 ms).
pub fn run_with(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    input: &[u8],
    limit: Duration,
    mut reap: impl FnMut(&mut Child) -> Option<Option<i32>>,
) -> Run {
    let start = Instant::now();
    let mut child = spawn_piped(program, args, env);
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
        if let Some(code) = reap(&mut child) {
            break code;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{program} did not exit within {limit:?} (hang)");
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

/// Starts `program` with its three standard streams piped, as splunkd starts the command.
pub fn spawn_piped(program: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"))
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

/// The run ended with exit 1 after `replies_before` ordinary replies and one error reply
/// naming `needle` (inspector before error, as splunkd reads it), without a panic trace.
pub fn assert_error_reply(run: &Run, replies_before: usize, needle: &str) {
    assert_eq!(run.code, Some(1), "stderr: {}", run.stderr);
    let replies = split_replies(&run.stdout);
    assert_eq!(replies.len(), replies_before + 1, "{replies:?}");
    let (meta, body) = replies.last().unwrap();
    let v: serde_json::Value = serde_json::from_str(meta).unwrap();
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    assert_eq!(v["finished"], true);
    assert_eq!(v["inspector"]["messages"][0][0], "ERROR");
    assert_eq!(v["inspector"]["messages"][0][1], msg);
    assert!(meta.find("inspector").unwrap() < meta.find("error").unwrap());
    assert!(body.is_empty());
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
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
