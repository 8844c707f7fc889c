//! The report: Markdown tables of the runs, bytes per event, the targets and the checks.

use crate::Who;
use crate::run::Measured;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::Command;

/// One contender's run in one scenario.
pub struct Result {
    pub scenario: String,
    pub who: Who,
    /// The events it was given (fewer than the scenario's for splunklib on a prefix).
    pub events: u64,
    /// Whether that was only the first part of the scenario's input.
    pub prefix: bool,
    pub m: Measured,
}

impl Result {
    fn events_per_s(&self) -> f64 {
        self.events as f64 / self.m.seconds
    }

    fn events_per_cpu_s(&self) -> f64 {
        self.events as f64 / self.m.cpu_seconds.max(1e-3)
    }
}

/// Bytes per event of one profile's input, with all fields and with its required fields.
pub struct BytesRow {
    pub scenario: String,
    pub who: Who,
    pub sample_events: u64,
    pub command_type: String,
    pub required_fields: Vec<String>,
    pub sent: Vec<String>,
    pub all_fields: f64,
    pub required_only: f64,
}

/// How the run was made.
pub struct Context {
    pub command: String,
    /// What was measured: the binary's version and where it comes from.
    pub subject: String,
    pub quick: bool,
    pub child_cpu: usize,
    pub chunk_rows: u64,
    pub splunklib_max: u64,
    pub repeat: u32,
    pub repeat_under_seconds: f64,
    pub load_before: String,
    pub load_after: String,
    pub largest_chunk: HashMap<String, u64>,
    pub python: Option<PathBuf>,
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages: was anything else running?
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The trimmed standard output of a command that succeeded.
pub fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    output_of(Command::new(program).args(args))
}

fn proc_line(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// `1234567` as `1,234,567`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}x")
    } else if x >= 10.0 {
        format!("{x:.1}x")
    } else {
        format!("{x:.2}x")
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Issue 6's throughput targets: `a` at least `min` times as fast as `b` (events/s).
const THROUGHPUT_TARGETS: [(&str, Who, Who, f64); 3] = [
    ("profile=seed >= 1.0x the floor", Who::Seed, Who::Floor, 1.0),
    (
        "profile=seed >= 30x splunklib",
        Who::Seed,
        Who::Splunklib,
        30.0,
    ),
    (
        "profile=standard within 1.5x of profile=seed (>= 0.67x its rate)",
        Who::Standard,
        Who::Seed,
        1.0 / 1.5,
    ),
];

pub fn render(
    ctx: &Context,
    results: &[Result],
    bytes: &[BytesRow],
    checks: &[(String, std::result::Result<(), String>)],
) -> String {
    let mut s = String::new();
    let unknown = || "unknown".to_string();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Throughput of `aidetect` through splunkd's chunked protocol (issue 6). This file is \
         written by the benchmark itself; to refresh it, run the command below.\n"
    );
    let _ = writeln!(s, "## Run\n");
    let _ = writeln!(s, "- Command: `{}`", ctx.command);
    let _ = writeln!(s, "- Measured: {}", ctx.subject);
    let _ = writeln!(
        s,
        "- Date: {}",
        output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(unknown)
    );
    let _ = writeln!(
        s,
        "- System (`uname -srvmo`): {}",
        output("uname", &["-srvmo"]).unwrap_or_else(unknown)
    );
    let _ = writeln!(
        s,
        "- CPU: {} ({} logical CPUs), memory {}",
        proc_line("/proc/cpuinfo", "model name").unwrap_or_else(unknown),
        std::fs::read_to_string("/proc/cpuinfo").map_or(0, |t| t
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count()),
        proc_line("/proc/meminfo", "MemTotal").unwrap_or_else(unknown)
    );
    let _ = writeln!(
        s,
        "- Rust: {}",
        output("rustc", &["-V"]).unwrap_or_else(unknown)
    );
    if let Some(python) = &ctx.python {
        let v = output(
            &python.display().to_string(),
            &[
                "-c",
                "import sys, splunklib; print('Python', sys.version.split()[0], '+ splunk-sdk', splunklib.__version__)",
            ],
        );
        let _ = writeln!(s, "- splunklib: {}", v.unwrap_or_else(unknown));
    }
    let _ = writeln!(
        s,
        "- One core: every contender runs pinned to CPU {} (`sched_setaffinity`, as `taskset -c {}` \
         does); the harness that feeds the pipe and reads the replies is not pinned, so it \
         runs on whichever CPU is free.",
        ctx.child_cpu, ctx.child_cpu
    );
    let _ = writeln!(
        s,
        "- Load average (1, 5, 15 min) before the run: {}; after: {}. The contenders ran in \
         {} round(s) and each one's fastest run is reported; splunklib, and a contender whose \
         run took over {:.0} s, ran once.",
        ctx.load_before, ctx.load_after, ctx.repeat, ctx.repeat_under_seconds
    );
    if ctx.quick {
        let _ = writeln!(
            s,
            "- `--quick`: a smoke run that checks the harness; its timings mean nothing."
        );
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Method\n");
    let _ = writeln!(
        s,
        "- Input: a deterministic stream of proxy events as splunkd sends them: 15 proxy fields \
         (`_time, src_ip, src, user, dest_host, dest, url, http_method, uri_path, \
         http_user_agent, bytes_out, bytes_in, status, sourcetype, http_referrer`) plus the \
         `_chunked_idx` splunkd adds for a stateful command, each with its `__mv_` companion, \
         quoted the way splunkd quotes, a few multivalue cells (`dest`, `user`), {} rows per \
         execute chunk. About 8% of the events go to AI services (SDKs, command-line tools, \
         scripts, browsers); the rest is ordinary web traffic. A scenario's groups are the \
         distinct (`src_ip`, `user`) pairs its events are drawn from, uniformly (with as many \
         events as groups, about 63% of the pairs occur).",
        thousands(ctx.chunk_rows as f64)
    );
    let _ = writeln!(
        s,
        "- Each contender is a process that gets the getinfo chunk and then the stream on stdin \
         while its replies are read (both pipes enlarged to 1 MiB, so that the feeding side \
         keeps up on a busy machine); wall time runs from spawn to exit. CPU time (user + \
         system) and peak RSS are the kernel's account of that process (`wait4`), started \
         from a small launcher so that its peak RSS does not include the harness's memory. \
         The harness checks one reply per request, no error, a final `finished:true` reply, \
         and that every reply body is CSV. events/CPU-s is the rate per second of CPU the \
         process used: on a machine shared with other work it moves less than wall time."
    );
    let _ = writeln!(
        s,
        "- The floor is `aidetect-bench floor`: the same pipe, framing, and a plain `csv` crate \
         `ByteRecord` loop over every body, nothing else."
    );
    let _ = writeln!(
        s,
        "- splunklib: `bench/splunklib_seed.py`, the seed logic as a `ReportingCommand` \
         (`reduce()`), run with `python3 -u` from a venv with splunk-sdk. It is measured on at \
         most the first {} events of a scenario and its events/s come from that run; its \
         rows say so.",
        crate::short_count(ctx.splunklib_max)
    );
    let _ = writeln!(
        s,
        "- MB = 10^6 bytes of input (getinfo + execute chunks); MiB = 2^20 bytes; x floor and \
         x splunklib compare events/s.\n"
    );

    let _ = writeln!(s, "## Throughput\n");
    let _ = writeln!(
        s,
        "| scenario | contender | events | MB in | seconds | events/s | MB/s | x floor | x splunklib | peak RSS MiB | CPU s | events/CPU-s | rows out |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let rate_of = |scenario: &str, who: Who| {
        results
            .iter()
            .find(|r| r.scenario == scenario && r.who == who)
            .map(Result::events_per_s)
    };
    for r in results {
        let floor = rate_of(&r.scenario, Who::Floor);
        let splunklib = rate_of(&r.scenario, Who::Splunklib);
        let eps = r.events_per_s();
        let label = if r.prefix {
            format!(
                "{} (first {} events)",
                r.who.label(),
                crate::short_count(r.events)
            )
        } else {
            r.who.label().to_string()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.2} | {} | {:.1} | {} | {} | {:.1} | {:.2} | {} | {} |",
            r.scenario,
            label,
            thousands(r.events as f64),
            r.m.bytes_in as f64 / 1e6,
            r.m.seconds,
            thousands(eps),
            r.m.bytes_in as f64 / 1e6 / r.m.seconds,
            floor.map_or("-".into(), |f| ratio(eps / f)),
            splunklib.map_or("-".into(), |f| ratio(eps / f)),
            r.m.max_rss_kib as f64 / 1024.0,
            r.m.cpu_seconds,
            thousands(r.events_per_cpu_s()),
            thousands(r.m.rows_out as f64),
        );
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Less data through the pipe: `required_fields`\n");
    let _ = writeln!(
        s,
        "Bytes per event on the wire (framing, CSV headers and `__mv_` companions included), \
         with every field versus only the generated fields that the profile's own getinfo reply \
         lists in `required_fields` (plus `_chunked_idx`, which splunkd adds for a stateful \
         command). Measured on the first events of each scenario (column `events`).\n"
    );
    let _ = writeln!(
        s,
        "| scenario | profile | type | events | bytes/event, all fields | bytes/event, required_fields | saved | fields sent |"
    );
    let _ = writeln!(s, "|---|---|---|--:|--:|--:|--:|---|");
    for b in bytes {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.0}% | {} |",
            b.scenario,
            b.who.label(),
            b.command_type,
            thousands(b.sample_events as f64),
            b.all_fields,
            b.required_only,
            100.0 * (1.0 - b.required_only / b.all_fields),
            b.sent.join(", ")
        );
    }
    let mut listed: Vec<(Who, &Vec<String>)> = Vec::new();
    for b in bytes {
        if !listed.iter().any(|(w, _)| *w == b.who) {
            listed.push((b.who, &b.required_fields));
        }
    }
    let _ = writeln!(s);
    for (who, fields) in listed {
        let _ = writeln!(
            s,
            "- `required_fields` of {}: {}",
            who.label(),
            fields.join(", ")
        );
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Targets (issue 6)\n");
    let _ = writeln!(
        s,
        "Measured, never asserted: the benchmark reports, the lead optimises.\n"
    );
    let _ = writeln!(
        s,
        "| target | scenario | measured (wall clock) | met | measured (CPU time) |"
    );
    let _ = writeln!(s, "|---|---|--:|---|--:|");
    let mut scenarios: Vec<&str> = Vec::new();
    for r in results {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let yes = |ok: bool| if ok { "yes" } else { "no" };
    let run_of = |scenario: &str, who: Who| {
        results
            .iter()
            .find(|r| r.scenario == scenario && r.who == who)
    };
    for sc in &scenarios {
        for (target, a, b, min) in THROUGHPUT_TARGETS {
            let (Some(a), Some(b)) = (run_of(sc, a), run_of(sc, b)) else {
                continue;
            };
            let wall = a.events_per_s() / b.events_per_s();
            let cpu = a.events_per_cpu_s() / b.events_per_cpu_s();
            let _ = writeln!(
                s,
                "| {target} | {sc} | {} | {} | {} |",
                ratio(wall),
                yes(wall >= min),
                ratio(cpu)
            );
        }
    }
    let rss_scenario = "10M events, 10k groups";
    let mut rss_rows = 0;
    if let Some(&chunk) = ctx.largest_chunk.get(rss_scenario) {
        let limit = 64.0 * MIB + 2.0 * chunk as f64;
        for r in results
            .iter()
            .filter(|r| r.scenario == rss_scenario && r.who.is_aidetect())
        {
            let rss = r.m.max_rss_kib as f64 * 1024.0;
            rss_rows += 1;
            let _ = writeln!(
                s,
                "| peak RSS <= 64 MiB + 2 x largest chunk ({:.1} MiB) | {rss_scenario}, {} | {:.1} MiB | {} | |",
                limit / MIB,
                r.who.label(),
                rss / MIB,
                yes(rss <= limit)
            );
        }
    }
    if rss_rows == 0 {
        let _ = writeln!(
            s,
            "| peak RSS <= 64 MiB + 2 x largest chunk | {rss_scenario} | not in this run | - | |"
        );
    }
    let _ = writeln!(
        s,
        "\nMemory should grow with groups and distinct values only: compare the peak RSS of the \
         same contender at 1M and 10M events with the same groups.\n"
    );

    let _ = writeln!(s, "## Harness checks\n");
    for (name, r) in checks {
        match r {
            Ok(()) => {
                let _ = writeln!(s, "- ok: {name}");
            }
            Err(e) => {
                let _ = writeln!(s, "- FAILED: {name}: {e}");
            }
        }
    }
    s
}
