//! Drives one command through the protocol, as splunkd would, and measures it.
//!
//! The child gets the getinfo chunk and then the stream file on stdin from a writer thread
//! (the kernel copies file to pipe), while this thread reads and checks the replies, so
//! neither side can block the other. Wall time runs from spawn to exit; peak RSS and CPU
//! time come from `wait4`, the kernel's account of that one child.

use crate::scp::{Chunk, read_chunk};
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A process to benchmark.
#[derive(Debug, Clone)]
pub struct Program {
    pub program: PathBuf,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What one run measured and what the command answered.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub bytes_in: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub max_rss_kib: u64,
    pub replies: u64,
    pub rows_out: u64,
    pub getinfo_reply: serde_json::Value,
    pub final_body: Vec<u8>,
}

/// The getinfo chunk splunkd sends, with the searchinfo keys that real splunkd sends.
pub fn getinfo_chunk(search_args: &[String], dispatch_dir: &Path) -> Vec<u8> {
    let search = format!("search index=proxy | aidetect {}", search_args.join(" "));
    let meta = serde_json::json!({
        "action": "getinfo",
        "preview": false,
        "streaming_command_will_restart": false,
        "searchinfo": {
            "args": search_args,
            "raw_args": search_args,
            "dispatch_dir": dispatch_dir.display().to_string(),
            "sid": "1700000000.42",
            "app": "aidetect",
            "owner": "admin",
            "username": "admin",
            "session_key": "benchmark-session",
            "splunkd_uri": "https://127.0.0.1:8089",
            "splunk_version": "9.3.0",
            "search": percent_encode(&search),
            "command": "aidetect",
            "maxresultrows": 50000,
            "earliest_time": "0",
            "latest_time": "0",
        }
    });
    let mut chunk = Vec::new();
    let meta = serde_json::to_vec(&meta).expect("JSON of literals");
    crate::scp::write_chunk(&mut chunk, &meta, b"").expect("writing to a Vec");
    chunk
}

/// splunkd sends `searchinfo.search` URL-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The CPUs this process may use (all of them where affinity is not available).
pub fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed cpu_set_t is a valid empty set, and the kernel fills it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
        if ok == 0 {
            return (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
                .collect();
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// Pins the calling thread (and what it spawns or execs later) to one CPU.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system call on a stack value; async-signal-safe, so it may also run
        // between fork and exec.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu, &mut set) };
        if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let _ = cpu;
    Ok(())
}

/// Runs `p` on `stream` (execute chunks, `chunks` of them), pinned to `cpu`; stderr goes to
/// `stderr_log`. Checks exactly one reply per request, no error, and a final reply with
/// `finished:true` that is the last one.
pub fn run(
    p: &Program,
    getinfo: &[u8],
    stream: &Path,
    chunks: u64,
    cpu: usize,
    stderr_log: &Path,
) -> Result<Measured, String> {
    let input = File::open(stream).map_err(|e| format!("{}: {e}", stream.display()))?;
    let bytes_in = getinfo.len() as u64 + input.metadata().map_or(0, |m| m.len());
    let mut cmd = Command::new(&p.program);
    cmd.args(&p.argv)
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(File::create(stderr_log).map_err(|e| e.to_string())?);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure only makes a system call (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || pin_to(cpu));
        }
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", p.program.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let getinfo = getinfo.to_vec();
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let mut input = input;
        stdin.write_all(&getinfo)?;
        io::copy(&mut input, &mut stdin)?;
        Ok(())
    });

    let replies = read_replies(stdout);
    let (status, rusage) = wait(&mut child)?;
    let seconds = start.elapsed().as_secs_f64();
    let written = writer.join().map_err(|_| "the writer thread panicked")?;
    let log_hint = || {
        let text = std::fs::read_to_string(stderr_log).unwrap_or_default();
        let tail: String = text.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        if tail.is_empty() {
            String::new()
        } else {
            format!(" (stderr: {tail})")
        }
    };
    let mut m = replies.map_err(|e| format!("{e}{}", log_hint()))?;
    if !status.success() {
        return Err(format!("exited with {status}{}", log_hint()));
    }
    written.map_err(|e| format!("feeding its stdin: {e}{}", log_hint()))?;
    if m.replies != chunks + 1 {
        return Err(format!(
            "{} replies to {} requests (must be exactly one each)",
            m.replies,
            chunks + 1
        ));
    }
    m.bytes_in = bytes_in;
    m.seconds = seconds;
    m.cpu_seconds = rusage.cpu_seconds;
    m.max_rss_kib = rusage.max_rss_kib;
    Ok(m)
}

/// Reads every reply until end of output; keeps the getinfo reply and the final body.
fn read_replies(stdout: impl io::Read) -> Result<Measured, String> {
    let mut r = BufReader::with_capacity(1 << 20, stdout);
    let mut chunk = Chunk::default();
    let mut m = Measured::default();
    let mut finished_at = None;
    let mut record = csv::ByteRecord::new();
    while read_chunk(&mut r, &mut chunk).map_err(|e| format!("reading replies: {e}"))? {
        m.replies += 1;
        let meta = chunk
            .json()
            .map_err(|e| format!("reply {}: {e}", m.replies))?;
        if let Some(error) = meta.get("error") {
            return Err(format!("reply {} is an error: {error}", m.replies));
        }
        if m.replies == 1 {
            m.getinfo_reply = meta;
            continue;
        }
        if finished_at.is_some() {
            return Err(format!("reply {} after the finished reply", m.replies));
        }
        if meta["finished"].as_bool() == Some(true) {
            finished_at = Some(m.replies);
            m.final_body = chunk.body.clone();
        }
        // Every reply body must be CSV; count its rows (the header is not one).
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(chunk.body.as_slice());
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| format!("reply {} is not valid CSV: {e}", m.replies))?
        {
            m.rows_out += 1;
        }
    }
    if finished_at.is_none() {
        return Err("no reply with finished:true".into());
    }
    Ok(m)
}

struct Usage {
    cpu_seconds: f64,
    max_rss_kib: u64,
}

#[cfg(unix)]
fn wait(child: &mut std::process::Child) -> Result<(std::process::ExitStatus, Usage), String> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for this child only.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    if r != pid {
        return Err(format!("wait4: {}", io::Error::last_os_error()));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        std::process::ExitStatus::from_raw(status),
        Usage {
            cpu_seconds: secs(ru.ru_utime) + secs(ru.ru_stime),
            // Linux reports kilobytes (KiB).
            max_rss_kib: ru.ru_maxrss as u64,
        },
    ))
}

#[cfg(not(unix))]
fn wait(child: &mut std::process::Child) -> Result<(std::process::ExitStatus, Usage), String> {
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok((
        status,
        Usage {
            cpu_seconds: 0.0,
            max_rss_kib: 0,
        },
    ))
}

/// Sends only the getinfo chunk and returns the reply (what splunkd's probe processes do).
pub fn probe_getinfo(p: &Program, getinfo: &[u8]) -> Result<serde_json::Value, String> {
    let mut child = Command::new(&p.program)
        .args(&p.argv)
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", p.program.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(getinfo).map_err(|e| e.to_string())?;
    drop(stdin);
    let mut r = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut chunk = Chunk::default();
    let got = read_chunk(&mut r, &mut chunk).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !got || !status.success() {
        return Err(format!("no getinfo reply (exit {status})"));
    }
    chunk.json().map_err(|e| e.to_string())
}
