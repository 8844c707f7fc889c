//! The bad-input matrix of issue 7: everything splunkd, the data or the search string can
//! throw at the built binary, each row with its expected outcome. The outcome is always one
//! of two: a clear ERROR reply to the current request and exit 1, or an orderly run (exit 0,
//! one reply per request, exact counts). Never a panic trace, a hang or unbounded memory.
//!
//! | row | expected outcome | tests (here unless named) |
//! |---|---|---|
//! | malformed header | ERROR reply, exit 1, at once | `malformed_headers_…`; `protocol_session::a_malformed_stream_gets_an_error_reply_and_exit_1_within_a_second` |
//! | negative or absurd lengths (10 GB body) | ERROR reply naming the limit, nothing allocated | `negative_and_absurd_lengths_…`, `a_header_claiming_1_gib_…`; `protocol_session::an_absurd_body_length_is_refused_without_waiting_for_it` |
//! | truncated metadata or body | ERROR reply naming the part | `truncated_header_metadata_or_body_…`; `protocol_session::stdin_closed_mid_chunk_is_an_error_not_a_hang` |
//! | invalid JSON | ERROR reply | `invalid_or_mistyped_json_…`; `protocol_session::invalid_json_metadata_is_an_error_reply` |
//! | first chunk not getinfo | ERROR reply | `requests_out_of_place_…`; `protocol_session::the_first_request_must_be_getinfo` |
//! | an unknown action | ERROR reply | `requests_out_of_place_…`; `protocol_session::an_unknown_action_is_an_error_reply` |
//! | non-UTF-8 bytes in a body | read, shown with U+FFFD, counted | `non_utf8_bytes_in_a_body_…` |
//! | ragged CSV rows | short rows end in nulls, extra cells are dropped, counted | `ragged_rows_…` |
//! | unbalanced quotes | the open quote runs to the end of its chunk only | `unbalanced_quotes_…` |
//! | a 20 MiB field | read whole, counted, written back whole | `a_20_mib_field_…`; `protocol_command::a_100_mb_body_and_a_16_mib_field_are_read_whole` |
//! | 100,000 columns | read, counted | `one_hundred_thousand_columns_…` |
//! | 1M distinct groups | exact `Requests` sum, bounded memory; past `max_groups` a WARN | `one_million_distinct_groups_…` (ignored until the `max_groups` guard lands), `many_distinct_groups_…` (100,000, runs always) |
//! | 1M distinct values in one group | exact `Requests`, bounded memory; every value kept, or a WARN naming `max_values` | `one_million_distinct_values_…` |
//! | stdin closed mid-chunk | ERROR reply; between chunks: orderly exit | `truncated_header_metadata_or_body_…`, `stdin_closed_between_chunks_…`; `protocol_session::stdin_closed_mid_chunk_is_an_error_not_a_hang` |
//! | stdout closed by splunkd (broken pipe) | exit 1 without a trace or a hang | `stdout_closed_while_replies_are_pending_…`; `protocol_session::broken_output_pipe_is_an_orderly_exit` |
//!
//! The big rows run the binary the tests were built with (debug under `cargo test`), sized to
//! finish in seconds there; their peak memory is the child's `ru_maxrss` from `wait4`.

mod common;
use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The fields both profiles read from proxy events, in the order of the bodies below.
const HEADER: &str = "src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out";
/// An event both profiles count: a script POSTing a large prompt to an AI API.
const QUALIFYING: &str = "api.openai.com,POST,/v1/chat/completions,python-requests/2.31,60000";
const PROFILES: [&[&str]; 2] = [&["profile=seed"], &[]];

fn body(rows: &[String]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// `args` plus `limit=0`, so that every group is a row of the final reply.
fn unlimited<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(["limit=0"]).collect()
}

/// The final reply's table and the sum of its `Requests` column.
fn requests(run: &Run) -> (Vec<String>, Vec<Vec<String>>, u64) {
    let (header, rows) = final_table(&run.stdout);
    let col = header
        .iter()
        .position(|h| h == "Requests")
        .unwrap_or_else(|| panic!("no Requests column in {header:?}"));
    let sum = rows.iter().map(|r| r[col].parse::<u64>().unwrap()).sum();
    (header, rows, sum)
}

/// Exit 0, one reply per request, no error anywhere, no trace on stderr.
fn assert_orderly(run: &Run, requests: usize) {
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let replies = split_replies(&run.stdout);
    assert_eq!(replies.len(), requests, "one reply per request");
    for (meta, _) in &replies {
        assert!(!meta.contains("\"error\""), "{meta}");
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

fn search(args: &[&str], bodies: &[String]) -> Vec<u8> {
    let mut input = getinfo(args);
    for (i, b) in bodies.iter().enumerate() {
        input.extend(execute(i + 1 == bodies.len(), b));
    }
    input
}

// ---------------------------------------------------------------------------------------------
// Framing and metadata

#[test]
fn malformed_headers_get_an_error_reply_and_exit_1() {
    let garbage: Vec<u8> = (0..=255u8).rev().collect();
    let long = vec![b'c'; 300];
    for bad in [
        &b"chunked 2.0,2,0\n{}"[..],
        b"chunked 1.0,2\n{}",
        b"chunked 1.0,2,0,0\n{}",
        b"CHUNKED 1.0,2,0\n{}",
        b"chunked 1.0,0x2,0\n{}",
        b"chunked 1.0,2,0;\n{}",
        b"{\"action\":\"getinfo\"}\n",
        &garbage,
        &long,
    ] {
        for before in [0, 1] {
            let mut input = if before == 1 {
                getinfo(&[])
            } else {
                Vec::new()
            };
            input.extend_from_slice(bad);
            let run = run_binary(&[], &input, SECOND * 5);
            assert_error_reply(&run, before, "malformed chunk header");
        }
    }
}

#[test]
fn negative_and_absurd_lengths_are_refused_without_allocating() {
    for (header, needle) in [
        ("chunked 1.0,-1,0\n", "is not a decimal byte count"),
        ("chunked 1.0,2,-36\n", "is not a decimal byte count"),
        (
            "chunked 1.0,2,10737418240\n",
            "body of 10737418240 bytes exceeds the limit",
        ),
        (
            "chunked 1.0,10737418240,0\n",
            "metadata of 10737418240 bytes exceeds the limit",
        ),
        ("chunked 1.0,2,18446744073709551616\n", "out of range"),
    ] {
        let mut input = getinfo(&[]);
        input.extend(header.as_bytes());
        input.extend(b"{}");
        let run = run_binary(&[], &input, SECOND * 5);
        assert_error_reply(&run, 1, needle);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_header_claiming_1_gib_then_ending_fails_as_truncated_without_taking_1_gib() {
    let mut input = getinfo(&[]);
    input.extend(b"chunked 1.0,36,1073741824\n{\"action\":\"execute\",\"finished\":true}a,b\n");
    let (run, peak) = measured::run(&[], &input, SECOND * 10);
    assert_error_reply(&run, 1, "input ended inside a chunk");
    assert!(peak < 64 << 20, "peak memory {} MiB", peak >> 20);
}

#[test]
fn truncated_header_metadata_or_body_is_an_error_reply_naming_the_part() {
    let getinfo_chunk = getinfo(&["profile=seed"]);
    let exec = execute(true, &body(&[format!("10.0.0.1,alice,{QUALIFYING}")]));
    let exec_header = exec.iter().position(|&b| b == b'\n').unwrap() + 1;
    let cases: Vec<(Vec<u8>, usize, &str)> = vec![
        // The getinfo chunk itself cut short: the error answers it.
        (
            getinfo_chunk[..7].to_vec(),
            0,
            "input ended inside the header",
        ),
        (getinfo_chunk[..40].to_vec(), 0, "more bytes of metadata"),
        (
            [&getinfo_chunk[..], &exec[..exec_header - 3]].concat(),
            1,
            "input ended inside the header",
        ),
        (
            [&getinfo_chunk[..], &exec[..exec_header + 5]].concat(),
            1,
            "more bytes of metadata",
        ),
        (
            [&getinfo_chunk[..], &exec[..exec.len() - 1]].concat(),
            1,
            "1 more bytes of body",
        ),
    ];
    for (input, before, needle) in cases {
        let run = run_binary(&[], &input, SECOND * 5);
        assert_error_reply(&run, before, needle);
    }
}

#[test]
fn invalid_or_mistyped_json_metadata_is_an_error_reply() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let as_getinfo: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        b"".to_vec(),
        b"[1,2]".to_vec(),
        b"\"getinfo\"".to_vec(),
        br#"{"action":5}"#.to_vec(),
        br#"{"action":"getinfo","searchinfo":{"args":"profile=seed"}}"#.to_vec(),
        br#"{"action":"getinfo","searchinfo":{"earliest_time":[0]}}"#.to_vec(),
        b"{\"action\":\"get\xffinfo\"}".to_vec(),
        deep.clone().into_bytes(),
    ];
    for meta in as_getinfo {
        let mut input = format!("chunked 1.0,{},0\n", meta.len()).into_bytes();
        input.extend(&meta);
        let run = run_binary(&[], &input, SECOND * 5);
        assert_error_reply(&run, 0, "is not valid JSON");
    }
    for meta in [
        r#"{"action":"execute","finished":"yes"}"#,
        r#"{"action":"execute","finished":true"#,
        &deep,
    ] {
        let mut input = getinfo(&["profile=seed"]);
        input.extend(chunk(meta, ""));
        let run = run_binary(&[], &input, SECOND * 5);
        assert_error_reply(&run, 1, "metadata of request 2 is not valid JSON");
    }
}

#[test]
fn requests_out_of_place_are_error_replies() {
    let run = run_binary(&[], &chunk("{}", ""), SECOND * 5);
    assert_error_reply(
        &run,
        0,
        "the first request must be getinfo, got action \"(none)\"",
    );
    let run = run_binary(&[], &chunk(r#"{"action":"getinfo"}"#, "a\n1\n"), SECOND * 5);
    assert_error_reply(&run, 0, "the getinfo request carries a body");
    for (meta, needle) in [
        (
            r#"{"action":"getinfo"}"#,
            "request 2 has action \"getinfo\"",
        ),
        (
            r#"{"action":null,"finished":true}"#,
            "request 2 has action \"(none)\"",
        ),
        (r#"{"action":"EXECUTE","finished":true}"#, "\"EXECUTE\""),
    ] {
        let mut input = getinfo(&["profile=seed"]);
        input.extend(chunk(meta, ""));
        let run = run_binary(&[], &input, SECOND * 5);
        assert_error_reply(&run, 1, needle);
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[test]
fn non_utf8_bytes_in_a_body_are_read_and_replaced_not_fatal() {
    let rows: Vec<u8> = [
        &b"10.0.0.1,\xff\xfealice,api.openai.com,POST,/v1/chat/completions,caf\xe9-agent,60000\n"[..],
        b"10.0.0.1,\xff\xfealice,api.openai.com,POST,/v1/chat/\xc3(,python-requests/2.31,60000\n",
        b"10.0.0.2,bob,api.openai.com,POST,/v1/chat/completions,python-requests/2.31,60000\n",
    ]
    .concat();
    for profile in PROFILES {
        // A header name with a stray byte too.
        let body = [HEADER.as_bytes(), b",\xffextra\n", &rows].concat();
        let mut input = getinfo(&unlimited(profile));
        input.extend(format!("chunked 1.0,36,{}\n", body.len()).as_bytes());
        input.extend(br#"{"action":"execute","finished":true}"#);
        input.extend(&body);
        let run = run_binary(&[], &input, GENEROUS);
        assert_orderly(&run, 2);
        let text = String::from_utf8(run.stdout.clone()).expect("replies are valid UTF-8");
        assert!(
            text.contains("\u{fffd}\u{fffd}alice"),
            "{profile:?}: {text}"
        );
        let (_, rows, sum) = requests(&run);
        assert_eq!(sum, 3, "{profile:?}");
        assert_eq!(rows.len(), 2, "{profile:?}");
    }
}

#[test]
fn ragged_rows_end_in_nulls_or_drop_extra_cells_and_are_counted() {
    for profile in PROFILES {
        let rows = vec![
            format!("10.0.0.1,alice,{QUALIFYING}"),
            // Extra cells beyond the header are dropped.
            format!("10.0.0.1,alice,{QUALIFYING},surplus,cells,here"),
            // A short row: the missing user agent and bytes are null.
            "10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions".to_string(),
            // A row of one cell: no user, no host: not an AI request.
            "10.0.0.9".to_string(),
            String::new(),
        ];
        let run = run_binary(&[], &search(&unlimited(profile), &[body(&rows)]), GENEROUS);
        assert_orderly(&run, 2);
        let (_, table, sum) = requests(&run);
        assert_eq!(sum, 3, "{profile:?}: {table:?}");
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(!text.contains("surplus"), "{profile:?}: {text}");
    }
}

#[test]
fn unbalanced_quotes_run_to_the_end_of_their_chunk_only() {
    for profile in PROFILES {
        let first = body(&[
            format!("10.0.0.1,alice,{QUALIFYING}"),
            // The quote never closes: the rest of this chunk is one cell.
            "10.0.0.1,alice,\"api.openai.com,POST,/v1/chat/completions,curl/8.0,60000".into(),
            format!("10.0.0.1,alice,{QUALIFYING}"),
        ]);
        let second = body(&[
            // A quote inside an unquoted cell is a literal character.
            "10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,py\"thon-requests,60000"
                .into(),
        ]);
        let run = run_binary(
            &[],
            &search(&unlimited(profile), &[first, second]),
            GENEROUS,
        );
        assert_orderly(&run, 3);
        let (header, table, sum) = requests(&run);
        assert_eq!(sum, 2, "{profile:?}: {table:?}");
        let ua = header.iter().position(|h| h == "UserAgents").unwrap();
        assert!(table[0][ua].contains("py\"thon-requests"), "{table:?}");
    }
}

#[test]
fn a_20_mib_field_is_read_whole_counted_and_written_back_whole() {
    let agent = format!("python-requests/2.31 {}", "x".repeat(20 << 20));
    // And a 20 MiB `__mv_` cell of nothing but `$`, the decoder's worst case.
    let hostile_mv = "$".repeat(20 << 20);
    for profile in PROFILES {
        let body = format!(
            "{HEADER},note,__mv_note\n\
             10.0.0.1,alice,{QUALIFYING},,\n\
             10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,{agent},60000,,\n\
             10.0.0.1,alice,{QUALIFYING},x,{hostile_mv}\n"
        );
        let run = run_binary(&[], &search(&unlimited(profile), &[body]), GENEROUS);
        assert_orderly(&run, 2);
        let (header, table, sum) = requests(&run);
        assert_eq!(sum, 3, "{profile:?}");
        let ua = header.iter().position(|h| h == "UserAgents").unwrap();
        assert!(
            table.iter().any(|r| r[ua].contains(&agent)),
            "{profile:?}: the 20 MiB user agent is in the output"
        );
    }
}

#[test]
fn one_hundred_thousand_columns_are_read_and_counted() {
    let width = 100_000;
    let mut header = String::from(HEADER);
    let mut filler = String::new();
    for i in 0..width {
        header.push_str(&format!(",c{i}"));
        filler.push_str(",v");
    }
    // Every tenth extra column has a `__mv_` companion, as splunkd sends them.
    for i in (0..width).step_by(10) {
        header.push_str(&format!(",__mv_c{i}"));
        filler.push(',');
    }
    let rows: String = (0..3)
        .map(|i| format!("10.0.0.{i},alice,{QUALIFYING}{filler}\n"))
        .collect();
    let body = format!("{header}\n{rows}");
    for args in [&["profile=seed"][..], &[], &["mode=events"]] {
        let run = run_binary(
            &[],
            &search(&unlimited(args), std::slice::from_ref(&body)),
            GENEROUS,
        );
        assert_orderly(&run, 2);
        let (header, table) = final_table(&run.stdout);
        if args == ["mode=events"] {
            assert_eq!(table.len(), 3, "one row per event");
            assert!(header.len() > width, "every field comes back");
        } else {
            assert_eq!(requests(&run).2, 3, "{args:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Volume: groups and values

/// `n` qualifying events, `per_chunk` to an execute request; `event(i)` gives the source,
/// user and path of event `i`.
fn volume(args: &[&str], n: usize, per_chunk: usize, event: impl Fn(usize) -> String) -> Vec<u8> {
    let mut input = getinfo(args);
    let mut start = 0;
    while start < n {
        let end = (start + per_chunk).min(n);
        let mut body = String::with_capacity((end - start) * 100 + HEADER.len() + 1);
        body.push_str(HEADER);
        body.push('\n');
        for i in start..end {
            body.push_str(&event(i));
            body.push('\n');
        }
        input.extend(execute(end == n, &body));
        start = end;
    }
    input
}

/// Event `i` from its own source address and user: `n` events make `n` groups.
fn own_group(i: usize) -> String {
    format!(
        "10.{}.{}.{},u{i},api.openai.com,POST,/v1/chat/completions,python-requests/2.31,60000",
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255
    )
}

/// Event `i` from one user to its own API path: one group with `n` endpoint paths.
fn own_path(i: usize) -> String {
    format!(
        "10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions/{i},python-requests/2.31,60000"
    )
}

/// What a volume run ends with: the final reply's metadata, header and rows.
struct Final {
    meta: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Final {
    /// The inspector warned that the guard `name` (issue 7 part 3) cut something.
    fn warned(&self, name: &str) -> bool {
        self.meta.contains("\"WARN\"") && self.meta.contains(&format!("{name}="))
    }
}

/// Runs `n` events through `profile`: exit 0, one reply per request, the `Requests` column
/// sums to `n`, and the peak memory stays under `max_rss`.
#[cfg(target_os = "linux")]
fn volume_run(profile: &[&str], n: usize, event: fn(usize) -> String, max_rss: u64) -> Final {
    let per_chunk = 50_000;
    let input = volume(&unlimited(profile), n, per_chunk, event);
    let (run, peak) = measured::run(&[], &input, Duration::from_secs(600));
    assert_orderly(&run, 1 + n.div_ceil(per_chunk));
    let (header, rows, sum) = requests(&run);
    assert_eq!(sum, n as u64, "{profile:?}: every event is counted once");
    assert!(
        peak < max_rss,
        "{profile:?}: peak memory {} MiB for {n} events",
        peak >> 20
    );
    let meta = split_replies(&run.stdout).pop().unwrap().0;
    Final { meta, header, rows }
}

const GIB: u64 = 1 << 30;

#[cfg(target_os = "linux")]
fn distinct_groups(profile: &[&str], n: usize, max_rss: u64) {
    let last = volume_run(profile, n, own_group, max_rss);
    if last.warned("max_groups") {
        // The guard folded the groups past it into one row: fewer rows, the same Requests.
        assert!(last.rows.len() < n, "{profile:?}");
    } else {
        assert_eq!(last.rows.len(), n, "{profile:?}: one row per group");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn many_distinct_groups_are_counted_exactly_in_bounded_memory_seed() {
    distinct_groups(PROFILES[0], 100_000, GIB);
}

#[cfg(target_os = "linux")]
#[test]
fn many_distinct_groups_are_counted_exactly_in_bounded_memory_standard() {
    distinct_groups(PROFILES[1], 100_000, GIB);
}

#[cfg(target_os = "linux")]
#[test]
fn one_million_distinct_groups_are_counted_exactly_in_bounded_memory_seed() {
    distinct_groups(PROFILES[0], 1_000_000, 3 * GIB / 2);
}

#[cfg(target_os = "linux")]
#[test]
fn one_million_distinct_groups_are_counted_exactly_in_bounded_memory_standard() {
    distinct_groups(PROFILES[1], 1_000_000, 3 * GIB / 2);
}

#[cfg(target_os = "linux")]
fn distinct_values(profile: &[&str]) {
    let n = 1_000_000;
    let last = volume_run(profile, n, own_path, 3 * GIB / 2);
    assert_eq!(last.rows.len(), 1, "{profile:?}: one group");
    let paths = last
        .header
        .iter()
        .position(|h| h == "__mv_EndpointPaths")
        .unwrap();
    let items = last.rows[0][paths].matches("$;$").count() + 1;
    if last.warned("max_values") {
        // The guard cut the list, said so, and kept the count exact (checked above).
        assert!(items < n, "{profile:?}");
    } else {
        assert_eq!(items, n, "{profile:?}: every distinct path is kept");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn one_million_distinct_values_in_one_group_are_counted_exactly_in_bounded_memory_seed() {
    distinct_values(PROFILES[0]);
}

#[cfg(target_os = "linux")]
#[test]
fn one_million_distinct_values_in_one_group_are_counted_exactly_in_bounded_memory_standard() {
    distinct_values(PROFILES[1]);
}

// ---------------------------------------------------------------------------------------------
// The pipes

#[test]
fn stdin_closed_between_chunks_is_an_orderly_end() {
    // splunkd cancels the search after a non-final chunk: every request read was answered.
    let input = {
        let mut i = getinfo(&["profile=seed"]);
        i.extend(execute(
            false,
            &body(&[format!("10.0.0.1,alice,{QUALIFYING}")]),
        ));
        i
    };
    let run = run_binary(&[], &input, SECOND * 5);
    assert_orderly(&run, 2);
    assert_eq!(split_replies(&run.stdout)[1].0, r#"{"finished":false}"#);
}

#[test]
fn stdout_closed_while_replies_are_pending_is_an_orderly_exit() {
    let start = Instant::now();
    let mut child = spawn_piped(env!("CARGO_BIN_EXE_aidetect"), &[], &[]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(&getinfo(&["mode=events"])).unwrap();
    // Read the getinfo reply, then go away as splunkd does when a search is cancelled.
    let mut header = Vec::new();
    let mut byte = [0u8];
    while byte[0] != b'\n' {
        stdout.read_exact(&mut byte).unwrap();
        header.push(byte[0]);
    }
    assert!(header.starts_with(b"chunked 1.0,"));
    drop(stdout);
    let rows: Vec<String> = (0..20_000)
        .map(|i| format!("10.0.0.{},u{i},{QUALIFYING}", i % 250))
        .collect();
    let chunk = execute(false, &body(&rows));
    let writer = std::thread::spawn(move || {
        for _ in 0..10 {
            if stdin.write_all(&chunk).is_err() {
                break; // the command stopped reading: expected
            }
        }
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    writer.join().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writing to splunkd failed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(start.elapsed() < GENEROUS);
}

/// Runs the binary and measures its peak memory: the child's `ru_maxrss`, from `wait4`.
#[cfg(target_os = "linux")]
mod measured {
    use super::common::{Run, run_with};
    use std::time::Duration;

    /// `struct rusage` of Linux on 64-bit targets: two `timeval`s, then 14 `long`s.
    #[repr(C)]
    #[derive(Default)]
    struct RUsage {
        utime: [i64; 2],
        stime: [i64; 2],
        maxrss_kib: i64,
        rest: [i64; 13],
    }

    unsafe extern "C" {
        fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut RUsage) -> i32;
    }

    const WNOHANG: i32 = 1;

    /// `run_binary`, returning also the child's peak resident memory in bytes.
    pub fn run(args: &[&str], input: &[u8], limit: Duration) -> (Run, u64) {
        let mut usage = RUsage::default();
        let binary = env!("CARGO_BIN_EXE_aidetect");
        let run = run_with(binary, args, &[], input, limit, |child| {
            let mut status = 0i32;
            // SAFETY: the pid is our own unreaped child; both pointers are to live locals.
            let reaped = unsafe { wait4(child.id() as i32, &mut status, WNOHANG, &mut usage) };
            assert!(reaped >= 0, "wait4 failed");
            (reaped > 0).then_some((status & 0x7f == 0).then_some((status >> 8) & 0xff))
        });
        (run, usage.maxrss_kib as u64 * 1024)
    }
}
