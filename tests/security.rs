//! Security (issue 7, part 5), checked on the running binary under `strace`: whole searches
//! open no socket, write no file (nothing but stdout and stderr, and no file created, renamed
//! or removed anywhere, the dispatch directory included), read lookups only from the app's
//! `lookups/` folder; and the session key never comes back, whatever its shape.
//!
//! strace comes with Debian (`apt-get install strace`). Without it these tests say so and
//! pass, except under CI (`CI` set), where a missing strace is a failure.

mod common;
use aidetect::protocol::driver;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Syscalls of strace's `%network` class: none may appear.
const NETWORK: &[&str] = &[
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "shutdown",
];

/// Syscalls that change the file system: none may appear.
const MUTATING: &[&str] = &[
    "creat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "truncate",
    "chmod",
    "fchmodat",
    "chown",
    "fchownat",
    "utimensat",
    "mknod",
    "mknodat",
];

/// Open flags that write.
const WRITE_FLAGS: &[&str] = &["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"];

fn strace_works() -> bool {
    let ok = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is needed under CI: apt-get install strace"
        );
        eprintln!("strace is not available: the syscall checks are skipped");
    }
    ok
}

/// One traced syscall: its name and the rest of strace's line.
struct Call {
    name: String,
    line: String,
}

/// Runs `aidetect args` under strace with `input` on stdin; returns the run and the calls.
fn traced(name: &str, args: &[&str], env: &[(&str, &str)], input: &[u8]) -> (Run, Vec<Call>) {
    let dir = temp_dir(&format!("strace-{name}"));
    let log = dir.join("trace");
    let log_arg = log.to_str().unwrap().to_string();
    let mut strace_args = vec![
        "-f",
        "-qq",
        "-s",
        "4096",
        "-e",
        "trace=%network,%file,write,writev,pwrite64,pwritev,pwritev2",
        "-o",
        &log_arg,
        "--",
        env!("CARGO_BIN_EXE_aidetect"),
    ];
    strace_args.extend_from_slice(args);
    let run = run_command("strace", &strace_args, env, input, GENEROUS);
    let text = std::fs::read_to_string(&log).unwrap();
    let calls = text
        .lines()
        .filter_map(|line| {
            // `PID name(args) = result`
            let rest = line.split_once(' ')?.1.trim_start();
            let name = rest.split_once('(')?.0;
            Some(Call {
                name: name.to_string(),
                line: line.to_string(),
            })
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (run, calls)
}

/// The first path argument of a file syscall line.
fn path_of(line: &str) -> Option<&str> {
    let start = line.find('"')? + 1;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// No socket, no writing open, no file-system change, writes only to stdout and stderr, and
/// every `.csv` opened is in `lookups` (or is `input`, a file given on the command line).
fn assert_contained(calls: &[Call], lookups: &Path, input: Option<&str>) {
    assert!(!calls.is_empty(), "strace traced nothing");
    for call in calls {
        let name = call.name.as_str();
        assert!(!NETWORK.contains(&name), "network call: {}", call.line);
        assert!(
            !MUTATING.contains(&name),
            "file system change: {}",
            call.line
        );
        if matches!(name, "open" | "openat" | "openat2") {
            for flag in WRITE_FLAGS {
                assert!(!call.line.contains(flag), "opened to write: {}", call.line);
            }
            if let Some(path) = path_of(&call.line)
                && path.ends_with(".csv")
                && Some(path) != input
            {
                assert!(
                    Path::new(path).starts_with(lookups),
                    "a CSV outside {}: {}",
                    lookups.display(),
                    call.line
                );
            }
        }
        if name.starts_with("write") || name.starts_with("pwrite") {
            let fd = call.line.split_once('(').unwrap().1;
            assert!(
                fd.starts_with("1,") || fd.starts_with("2,"),
                "a write to a descriptor other than stdout or stderr: {}",
                call.line
            );
        }
    }
}

/// An app folder with the repository's lookups, and a dispatch directory.
fn app_and_dispatch(name: &str) -> (PathBuf, PathBuf) {
    let root = temp_dir(name);
    let app = root.join("app");
    std::fs::create_dir_all(app.join("lookups")).unwrap();
    for file in ["aidetect_services.csv", "aidetect_allowlist.csv"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("lookups")
                .join(file),
            app.join("lookups").join(file),
        )
        .unwrap();
    }
    let dispatch = root.join("dispatch");
    std::fs::create_dir_all(&dispatch).unwrap();
    (app, dispatch)
}

const KEY: &str = "S3SS10N-K3Y-do-not-leak";

fn search(args: &[&str], dispatch: &Path) -> Vec<u8> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut input = driver::getinfo(
        &args,
        serde_json::json!({"dispatch_dir": dispatch, "session_key": KEY}),
    );
    let body = "src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out\n\
                10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,python-requests/2.31,60000\n\
                10.0.0.2,bob,api.anthropic.com,POST,/v1/messages,curl/8.0,120\n";
    input.extend(driver::execute(false, body.as_bytes()));
    input.extend(driver::execute(true, body.as_bytes()));
    input
}

#[test]
fn whole_searches_open_no_socket_and_write_no_file() {
    if !strace_works() {
        return;
    }
    let (app, dispatch) = app_and_dispatch("contained");
    let app_env = [("AIDETECT_APP_DIR", app.to_str().unwrap())];
    let lookups = app.join("lookups");
    for args in [
        &["profile=seed", "loglevel=debug"][..],
        &["loglevel=debug"],
        &[
            "catalog=aidetect_services.csv",
            "allowlist=aidetect_allowlist.csv",
        ],
        &["mode=events"],
        // Errors: a bad option, and a lookup outside the lookups folder.
        &["profil=seed"],
        &["catalog=../../../etc/passwd.csv"],
    ] {
        let (run, calls) = traced("search", &[], &app_env, &search(args, &dispatch));
        assert!(run.code.is_some(), "{args:?}: {}", run.stderr);
        assert_contained(&calls, &lookups, None);
        assert!(!split_replies(&run.stdout).is_empty(), "{args:?}");
        if args[0].starts_with("catalog=aidetect") {
            let read = |name: &str| {
                let path = lookups.join(name);
                let path = path.to_str().unwrap().to_string();
                calls
                    .iter()
                    .any(|c| path_of(&c.line) == Some(path.as_str()))
            };
            assert!(read("aidetect_services.csv") && read("aidetect_allowlist.csv"));
        }
    }
    assert_eq!(
        std::fs::read_dir(&dispatch).unwrap().count(),
        0,
        "nothing written to the dispatch directory either"
    );
}

#[test]
fn the_command_line_tools_open_no_socket_and_write_no_file() {
    if !strace_works() {
        return;
    }
    let (app, _) = app_and_dispatch("cli");
    let events = app.join("events.csv");
    std::fs::write(
        &events,
        "src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out\n\
         10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,python-requests/2.31,60000\n",
    )
    .unwrap();
    let app_env = [("AIDETECT_APP_DIR", app.to_str().unwrap())];
    let events = events.to_str().unwrap();
    for args in [
        &["demo"][..],
        &["run", events],
        &["run", events, "--format", "csv", "profile=seed"],
    ] {
        let (run, calls) = traced("cli", args, &app_env, b"");
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        assert_contained(&calls, &app.join("lookups"), Some(events));
    }
}

#[test]
fn a_session_key_of_any_shape_is_never_echoed() {
    for key in [
        serde_json::json!(KEY),
        serde_json::json!(987_654_321_u64),
        serde_json::json!([KEY]),
        serde_json::json!({"token": KEY}),
    ] {
        for args in [&["profile=seed", "loglevel=debug"][..], &["bogus=1"]] {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let mut input = driver::getinfo(&args, serde_json::json!({"session_key": key}));
            input.extend(driver::execute(true, b"src_ip,user\n10.0.0.1,alice\n"));
            let run = run_binary(&[], &input, GENEROUS);
            let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), run.stderr);
            for secret in [KEY, "987654321"] {
                assert!(!all.contains(secret), "{key} leaked: {all}");
            }
            assert!(!all.contains("not valid JSON"), "{key}: {all}");
        }
    }
}
