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
use std::time::{Duration, Instant};

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

/// Kills a command (its whole process group) that has not ended its output in time, so
/// that a command that stops answering cannot hang the run, or CI.
struct Watchdog {
    done: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(child: &std::process::Child, limit: Duration) -> Watchdog {
        let done = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let group = child.id();
        let watched = done.clone();
        let thread = std::thread::spawn(move || {
            let (flag, cv) = &*watched;
            let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = cv
                .wait_timeout_while(guard, limit, |done| !*done)
                .unwrap_or_else(|e| e.into_inner());
            if !*guard {
                kill_group(group);
            }
            !*guard
        });
        Watchdog { done, thread }
    }

    /// Call when the output has ended, before the child is reaped (so that the watchdog
    /// can never signal a recycled process group). Returns whether it had to kill.
    fn stand_down(self) -> bool {
        *self.done.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.done.1.notify_all();
        self.thread.join().unwrap_or(false)
    }
}

/// A command in its own process group, so that the watchdog can stop it together with
/// anything it started.
fn own_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd
}

/// Gives a pipe 1 MiB of buffer (Linux's default maximum) instead of 64 KiB, so that the
/// harness needs 16 times fewer wake-ups to keep it full: on a busy machine, a harness
/// waiting for its turn on a CPU would otherwise starve the command it feeds.
#[cfg(unix)]
fn enlarge_pipe<P: std::os::fd::AsRawFd>(pipe: &P) {
    #[cfg(target_os = "linux")]
    // SAFETY: fcntl on a file descriptor we own; failure only leaves the default size.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pipe;
}

#[cfg(not(unix))]
fn enlarge_pipe<P>(_pipe: &P) {}

/// Where and how long a run may go.
pub struct Limits<'a> {
    /// This benchmark's own binary, which starts the program through [`launch`].
    pub launcher: &'a Path,
    pub cpu: usize,
    pub stderr_log: &'a Path,
    pub limit: Duration,
}

/// Runs `p` on `stream` (execute chunks, `chunks` of them), pinned to one CPU, stderr to a
/// log. Checks exactly one reply per request, no error, and a final reply with
/// `finished:true` that is the last one.
pub fn run(
    p: &Program,
    getinfo: &[u8],
    stream: &Path,
    chunks: u64,
    limits: &Limits<'_>,
) -> Result<Measured, String> {
    let Limits {
        launcher,
        cpu,
        stderr_log,
        limit,
    } = *limits;
    let input = File::open(stream).map_err(|e| format!("{}: {e}", stream.display()))?;
    let bytes_in = getinfo.len() as u64 + input.metadata().map_or(0, |m| m.len());
    let usage_file = stderr_log.with_extension("usage");
    let _ = std::fs::remove_file(&usage_file);
    let mut cmd = Command::new(launcher);
    cmd.arg("launch")
        .arg(cpu.to_string())
        .arg(&usage_file)
        .arg(&p.program)
        .args(&p.argv)
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(File::create(stderr_log).map_err(|e| e.to_string())?);
    own_group(&mut cmd);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", launcher.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    enlarge_pipe(&stdin);
    enlarge_pipe(&stdout);
    let getinfo = getinfo.to_vec();
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let mut input = input;
        stdin.write_all(&getinfo)?;
        io::copy(&mut input, &mut stdin)?;
        Ok(())
    });

    let watchdog = Watchdog::start(&child, limit);
    let replies = read_replies(stdout);
    let killed = watchdog.stand_down();
    let status = child.wait().map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let written = writer.join().map_err(|_| "the writer thread panicked")?;
    if killed {
        return Err(format!(
            "no end of replies within {} s: killed",
            limit.as_secs()
        ));
    }
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
    let usage = std::fs::read_to_string(&usage_file)
        .ok()
        .and_then(|t| Usage::parse(&t))
        .ok_or_else(|| format!("no resource usage in {}", usage_file.display()))?;
    m.bytes_in = bytes_in;
    m.seconds = seconds;
    m.cpu_seconds = usage.cpu_seconds;
    m.max_rss_kib = usage.max_rss_kib;
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

fn kill_group(group: u32) {
    #[cfg(unix)]
    // SAFETY: a plain system call; the group's leader is our unreaped child (see above).
    unsafe {
        libc::kill(-(group as libc::pid_t), libc::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = group;
}

/// `aidetect-bench launch CPU USAGE_FILE PROGRAM ARGS...`: pins itself to CPU, runs the
/// program with the same stdin, stdout and stderr, writes the program's CPU time and peak
/// RSS to USAGE_FILE and exits with its status.
///
/// Why a launcher: on Linux a process's peak RSS (`ru_maxrss`) starts from the memory of
/// the process it was forked from, so a program forked from the harness, whose memory
/// grows over a run, would be charged for it. Forked from this small process instead, it
/// is charged for a couple of MiB at most.
pub fn launch(args: &[String]) -> i32 {
    let [cpu, usage_file, program, argv @ ..] = args else {
        eprintln!("usage: aidetect-bench launch CPU USAGE_FILE PROGRAM [ARGS...]");
        return 2;
    };
    if let Err(e) = cpu
        .parse()
        .map_err(|e| format!("{e}"))
        .and_then(|c| pin_to(c).map_err(|e| e.to_string()))
    {
        eprintln!("aidetect-bench launch: pinning to CPU {cpu}: {e}");
        return 125;
    }
    let mut child = match Command::new(program).args(argv).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("aidetect-bench launch: cannot start {program}: {e}");
            return 127;
        }
    };
    let (status, usage) = match wait(&mut child) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aidetect-bench launch: {e}");
            return 125;
        }
    };
    if let Err(e) = std::fs::write(usage_file, usage.to_line()) {
        eprintln!("aidetect-bench launch: {usage_file}: {e}");
        return 125;
    }
    exit_code(status)
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or(1)
}

/// The kernel's account of one finished process.
struct Usage {
    cpu_seconds: f64,
    max_rss_kib: u64,
}

impl Usage {
    fn to_line(&self) -> String {
        format!("{} {}\n", self.cpu_seconds, self.max_rss_kib)
    }

    fn parse(line: &str) -> Option<Usage> {
        let mut parts = line.split_whitespace();
        Some(Usage {
            cpu_seconds: parts.next()?.parse().ok()?,
            max_rss_kib: parts.next()?.parse().ok()?,
        })
    }
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
pub fn probe_getinfo(
    p: &Program,
    getinfo: &[u8],
    limit: Duration,
) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(&p.program);
    cmd.args(&p.argv)
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = own_group(&mut cmd)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", p.program.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut r = BufReader::new(child.stdout.take().expect("piped stdout"));
    let watchdog = Watchdog::start(&child, limit);
    let sent = stdin.write_all(getinfo);
    drop(stdin);
    let mut chunk = Chunk::default();
    let got = read_chunk(&mut r, &mut chunk);
    // Until the end of its output: a command must exit when its input ends (`scp-v2.md`
    // §1.8), and one that does not is killed by the watchdog rather than waited for.
    let mut extra = Vec::new();
    let _ = io::Read::read_to_end(&mut r, &mut extra);
    drop(r);
    let killed = watchdog.stand_down();
    let status = child.wait().map_err(|e| e.to_string())?;
    if killed {
        return Err(format!(
            "no getinfo reply within {} s: killed",
            limit.as_secs()
        ));
    }
    sent.map_err(|e| e.to_string())?;
    if !got.map_err(|e| e.to_string())? || !status.success() {
        return Err(format!("no getinfo reply (exit {status})"));
    }
    if !extra.is_empty() {
        return Err(format!("{} bytes after the getinfo reply", extra.len()));
    }
    chunk.json().map_err(|e| e.to_string())
}
