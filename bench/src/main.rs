//! `aidetect-bench`: end-to-end throughput of `aidetect` through splunkd's chunked protocol,
//! side by side with the floor (parsing the same bytes with the `csv` crate) and with the
//! same seed logic written as a splunklib reporting command. See BENCHMARKS.md.

mod check;
mod floor;
mod input;
mod report;
mod run;
mod scp;

use input::{Columns, Shape, Written};
use report::{BytesRow, Result as RunResult};
use run::{Measured, Program};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "\
aidetect-bench: throughput of `aidetect` through splunkd's chunked protocol

USAGE:
    cargo run --release -p aidetect-bench -- [OPTIONS]

OPTIONS:
    --quick                 the CI smoke: 20k events in 2 chunks, 2k groups; checks the
                            harness (reply counts, floor row count, seed = splunklib when
                            splunklib is there); never judges timings
    --sizes 1M,10M          events per scenario (default 1M,10M)
    --groups 10k,1M         distinct (src_ip, user) pairs per scenario (default 10k,1M)
    --contenders LIST       any of floor,seed,standard,events,splunklib (default all)
    --with-splunklib        create the splunklib venv if needed (the full run always does;
                            --quick uses splunklib only if the venv exists or with this)
    --without-splunklib     leave splunklib out
    --splunklib-max N       run splunklib on at most the first N events of a scenario and
                            report its rate from those (default 1M)
    --chunk-rows N          rows per execute chunk (default 50000; --quick 10000)
    --aidetect PATH         the binary to measure (default: build target/release/aidetect)
    --write FILE            also write the report (Markdown) to FILE, e.g. BENCHMARKS.md
    --repeat N              run the contenders N times, in rounds, and keep each one's
                            fastest run (default 5; --quick 1); splunklib, and any
                            contender whose run took over a minute, run once
    --timeout SECONDS       kill a contender still running after this long and fail
                            (default 1800; --quick 300)
    --keep-streams          keep the generated input files under target/bench/
";

/// One kind of contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    Floor,
    Seed,
    Standard,
    Events,
    Splunklib,
}

impl Who {
    const ALL: [Who; 5] = [
        Who::Floor,
        Who::Seed,
        Who::Standard,
        Who::Events,
        Who::Splunklib,
    ];

    fn key(self) -> &'static str {
        match self {
            Who::Floor => "floor",
            Who::Seed => "seed",
            Who::Standard => "standard",
            Who::Events => "events",
            Who::Splunklib => "splunklib",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Who::Floor => "floor: csv crate ByteRecord loop",
            Who::Seed => "aidetect profile=seed",
            Who::Standard => "aidetect profile=standard",
            Who::Events => "aidetect mode=events",
            Who::Splunklib => "splunklib seed (ReportingCommand)",
        }
    }

    fn search_args(self) -> Vec<String> {
        match self {
            Who::Seed => vec!["profile=seed".into()],
            Who::Standard => vec!["profile=standard".into()],
            Who::Events => vec!["mode=events".into()],
            Who::Floor | Who::Splunklib => Vec::new(),
        }
    }

    fn is_aidetect(self) -> bool {
        matches!(self, Who::Seed | Who::Standard | Who::Events)
    }
}

#[derive(Debug)]
struct Options {
    quick: bool,
    sizes: Vec<u64>,
    groups: Vec<u64>,
    contenders: Vec<Who>,
    splunklib: Option<bool>,
    splunklib_max: u64,
    chunk_rows: u64,
    aidetect: Option<PathBuf>,
    write: Option<PathBuf>,
    keep_streams: bool,
    repeat: u32,
    timeout: u64,
}

/// `20k`, `1M`, `10M` or a plain number.
fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, scale) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1_000),
        Some(b'M' | b'm') => (&t[..t.len() - 1], 1_000_000),
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?} is not a count (e.g. 20k, 1M, 50000)"))
}

fn parse_counts(text: &str) -> Result<Vec<u64>, String> {
    text.split(',').map(parse_count).collect()
}

/// `1M`, `10k`, or the number as it is.
pub fn short_count(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Options {
        quick,
        sizes: if quick {
            vec![20_000]
        } else {
            vec![1_000_000, 10_000_000]
        },
        groups: if quick {
            vec![2_000]
        } else {
            vec![10_000, 1_000_000]
        },
        contenders: Who::ALL.to_vec(),
        splunklib: None,
        splunklib_max: 1_000_000,
        chunk_rows: if quick { 10_000 } else { 50_000 },
        aidetect: None,
        write: None,
        keep_streams: false,
        repeat: if quick { 1 } else { 5 },
        timeout: if quick { 300 } else { 1800 },
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--quick" => {}
            "--sizes" => o.sizes = parse_counts(&value()?)?,
            "--groups" => o.groups = parse_counts(&value()?)?,
            "--contenders" => {
                o.contenders = value()?
                    .split(',')
                    .map(|name| {
                        Who::ALL
                            .into_iter()
                            .find(|w| w.key() == name.trim())
                            .ok_or_else(|| format!("unknown contender {name:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--with-splunklib" => o.splunklib = Some(true),
            "--without-splunklib" => o.splunklib = Some(false),
            "--splunklib-max" => o.splunklib_max = parse_count(&value()?)?,
            "--chunk-rows" => o.chunk_rows = parse_count(&value()?)?,
            "--aidetect" => o.aidetect = Some(PathBuf::from(value()?)),
            "--write" => o.write = Some(PathBuf::from(value()?)),
            "--keep-streams" => o.keep_streams = true,
            "--timeout" => o.timeout = parse_count(&value()?)?,
            "--repeat" => {
                o.repeat = u32::try_from(parse_count(&value()?)?)
                    .map_err(|_| "--repeat: too many".to_string())?
            }
            "-h" | "--help" | "help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Internal modes, run as child processes of the benchmark itself.
    match args.first().map(String::as_str) {
        Some("floor") => {
            if let Err(e) = floor::serve() {
                eprintln!("aidetect-bench floor: {e}");
                std::process::exit(1);
            }
            return;
        }
        Some("launch") => std::process::exit(run::launch(&args[1..])),
        _ => {}
    }
    let code = match parse_options(&args) {
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            0
        }
        Err(e) => {
            eprintln!("aidetect-bench: {e}\n\n{USAGE}");
            2
        }
        Ok(o) => match bench(&o, &args) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("aidetect-bench: {e}");
                2
            }
        },
    };
    std::process::exit(code);
}

/// Where things are: the repository, this binary's target folder, and the bench folder.
struct Places {
    root: PathBuf,
    exe_dir: PathBuf,
    work: PathBuf,
}

impl Places {
    fn find() -> Result<Places, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("bench/ is inside the repository")
            .to_path_buf();
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let exe_dir = exe.parent().expect("a file has a folder").to_path_buf();
        let target = exe_dir.parent().unwrap_or(&exe_dir).to_path_buf();
        let work = target.join("bench");
        for d in [&work, &work.join("logs"), &work.join("dispatch")] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        Ok(Places {
            root,
            exe_dir,
            work,
        })
    }
}

fn progress(text: &str) {
    eprintln!("[bench] {text}");
}

/// Builds the command the way the README does, next to this binary.
fn build_aidetect(p: &Places) -> Result<PathBuf, String> {
    progress("building aidetect (cargo build --release -p aidetect)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "aidetect",
            "--bin",
            "aidetect",
        ])
        .current_dir(&p.root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of aidetect failed ({status})"));
    }
    let bin = p
        .exe_dir
        .join(format!("aidetect{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        return Err(format!("{} not found after the build", bin.display()));
    }
    Ok(bin)
}

/// Copies a program into `target/bench/bin/` and returns the copy.
fn snapshot(program: &Path, p: &Places) -> Result<PathBuf, String> {
    let dir = p.work.join("bin");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join(program.file_name().ok_or("a program has a file name")?);
    // Replace rather than overwrite: the old copy may still be running elsewhere.
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(program, &copy).map_err(|e| format!("copying {}: {e}", program.display()))?;
    Ok(copy)
}

/// The splunk-sdk version the spec was verified against (`scp-v2.md` §0).
const SPLUNK_SDK: &str = "splunk-sdk==2.1.1";

fn venv_python(p: &Places) -> PathBuf {
    p.work.join("venv").join("bin").join("python3")
}

fn splunklib_ready(python: &Path) -> bool {
    python.exists()
        && Command::new(python)
            .args(["-c", "import splunklib.searchcommands"])
            .status()
            .is_ok_and(|s| s.success())
}

/// Creates `target/bench/venv` with splunk-sdk from PyPI, unless it is there already.
fn ensure_splunklib(p: &Places) -> Result<PathBuf, String> {
    let python = venv_python(p);
    if splunklib_ready(&python) {
        return Ok(python);
    }
    progress(&format!("creating the splunklib venv ({SPLUNK_SDK})"));
    let venv = p.work.join("venv");
    let steps: [(&Path, Vec<&str>); 2] = [
        (
            Path::new("python3"),
            vec!["-m", "venv", venv.to_str().ok_or("venv path is not UTF-8")?],
        ),
        (
            &python,
            vec![
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SPLUNK_SDK,
            ],
        ),
    ];
    for (program, args) in steps {
        let ok = Command::new(program)
            .args(&args)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "could not set up splunklib: {} {} failed",
                program.display(),
                args.join(" ")
            ));
        }
    }
    if !splunklib_ready(&python) {
        return Err("splunklib is still not importable in the venv".into());
    }
    Ok(python)
}

/// Where the input of a shape is kept (its name says what it holds).
fn stream_path(p: &Places, shape: &Shape) -> PathBuf {
    p.work.join(format!(
        "stream-v{}-{}ev-{}g-{}rows.scp",
        input::VERSION,
        shape.events,
        shape.groups,
        shape.chunk_rows
    ))
}

/// The input file of a shape, generated once and kept next to a note of what it holds.
fn stream_file(p: &Places, shape: &Shape) -> Result<(PathBuf, Written), String> {
    let path = stream_path(p, shape);
    let note = path.with_extension("json");
    let noted = std::fs::read_to_string(&note)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let (Some(v), Ok(meta)) = (noted, std::fs::metadata(&path)) {
        let w = Written {
            bytes: v["bytes"].as_u64().unwrap_or(0),
            chunks: v["chunks"].as_u64().unwrap_or(0),
            largest_chunk: v["largest_chunk"].as_u64().unwrap_or(0),
        };
        if w.bytes == meta.len() {
            return Ok((path, w));
        }
    }
    progress(&format!(
        "generating {} events, {} groups -> {}",
        short_count(shape.events),
        short_count(shape.groups),
        path.display()
    ));
    let start = std::time::Instant::now();
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    let w = input::write_stream(shape, &Columns::all(), &mut out)
        .and_then(|w| out.flush().map(|()| w))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let v =
        serde_json::json!({"bytes": w.bytes, "chunks": w.chunks, "largest_chunk": w.largest_chunk});
    std::fs::write(&note, v.to_string()).map_err(|e| e.to_string())?;
    progress(&format!(
        "  {:.0} MB in {:.1} s",
        w.bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    ));
    Ok((path, w))
}

fn remove_stream(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("json"));
}

/// Counts bytes and throws them away.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes per event of a stream with these columns.
fn bytes_per_event(shape: &Shape, cols: &Columns) -> f64 {
    let mut c = Counter(0);
    input::write_stream(shape, cols, &mut c).expect("a counter does not fail");
    c.0 as f64 / shape.events as f64
}

/// What each profile asks splunkd for, from the binary's own getinfo reply.
struct Declared {
    command_type: String,
    required_fields: Vec<String>,
}

/// A contender's later rounds are skipped once one of its runs took longer than this, so
/// that the full run stays well within its time budget.
const REPEAT_UNDER_SECONDS: f64 = 60.0;

/// The programs to run and where they run.
struct Setup {
    places: Places,
    aidetect: PathBuf,
    /// A copy of this binary: the floor, and the launcher of every contender.
    harness_exe: PathBuf,
    python: Option<PathBuf>,
    child_cpu: usize,
    /// A run that has not ended by then is killed (and the benchmark fails).
    run_limit: std::time::Duration,
}

impl Setup {
    fn program(&self, who: Who) -> Program {
        let (program, argv, env) = match who {
            Who::Floor => (
                self.harness_exe.clone(),
                vec!["floor".to_string()],
                Vec::new(),
            ),
            Who::Splunklib => (
                self.python
                    .clone()
                    .expect("splunklib runs only with its venv"),
                vec![
                    "-u".to_string(),
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("splunklib_seed.py")
                        .display()
                        .to_string(),
                ],
                Vec::new(),
            ),
            // The lookups of the app are in the repository (the app folder in Splunk).
            Who::Seed | Who::Standard | Who::Events => (
                self.aidetect.clone(),
                Vec::new(),
                vec![(
                    "AIDETECT_APP_DIR".to_string(),
                    self.places.root.display().to_string(),
                )],
            ),
        };
        Program { program, argv, env }
    }

    fn getinfo(&self, who: Who) -> Vec<u8> {
        run::getinfo_chunk(&who.search_args(), &self.places.work.join("dispatch"))
    }

    /// One run, with progress on stderr.
    fn run_once(
        &self,
        who: Who,
        scenario: &str,
        stream: &Path,
        written: &Written,
    ) -> Result<Measured, String> {
        progress(&format!("{scenario}: {}", who.label()));
        let name = stream
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("stream");
        let log = self
            .places
            .work
            .join("logs")
            .join(format!("{}-{name}.stderr", who.key()));
        let limits = run::Limits {
            launcher: &self.harness_exe,
            cpu: self.child_cpu,
            stderr_log: &log,
            limit: self.run_limit,
        };
        let m = run::run(
            &self.program(who),
            &self.getinfo(who),
            stream,
            written.chunks,
            &limits,
        )
        .map_err(|e| format!("{scenario}: {}: {e}", who.label()))?;
        progress(&format!(
            "  {:.2} s ({:.2} s CPU), {:.1} MB/s, peak RSS {:.1} MiB",
            m.seconds,
            m.cpu_seconds,
            m.bytes_in as f64 / 1e6 / m.seconds,
            m.max_rss_kib as f64 / 1024.0
        ));
        Ok(m)
    }
}

/// What the whole run collects.
#[derive(Default)]
struct Collected {
    results: Vec<RunResult>,
    bytes: Vec<BytesRow>,
    checks: Vec<(String, Result<(), String>)>,
    largest_chunk: HashMap<String, u64>,
    /// splunklib runs by (events, groups): a 10M scenario reuses the run on its first 1M.
    splunklib_runs: HashMap<(u64, u64), Measured>,
}

fn bench(o: &Options, args: &[String]) -> Result<bool, String> {
    let places = Places::find()?;
    let (aidetect, origin) = match &o.aidetect {
        Some(p) => (
            p.clone(),
            format!("`{}` (given with --aidetect)", p.display()),
        ),
        None => {
            let commit = report::output_of(
                Command::new("git")
                    .args(["describe", "--always", "--dirty"])
                    .current_dir(&places.root),
            )
            .unwrap_or_else(|| "unknown".into());
            (
                build_aidetect(&places)?,
                format!("built from commit {commit} of this repository"),
            )
        }
    };
    let version = report::output_of(Command::new(&aidetect).arg("--version"))
        .unwrap_or_else(|| "unknown version".into());
    let subject = format!("{version}, {origin}");
    // Run copies, so that a rebuild during the run (by anyone) cannot change what is
    // measured half-way through.
    let aidetect = snapshot(&aidetect, &places)?;
    let harness_exe = snapshot(
        &std::env::current_exe().map_err(|e| e.to_string())?,
        &places,
    )?;
    let load_before = report::load_average();
    let cpus = run::allowed_cpus();
    let child_cpu = cpus.first().copied().unwrap_or(0);
    // The harness itself is not pinned: it feeds the pipe from whichever CPU is free. Pinned
    // to the other CPU, any other process there starved the command of input (wall time
    // twice its CPU time on a busy machine).
    let want_splunklib = o.contenders.contains(&Who::Splunklib)
        && match o.splunklib {
            Some(yes) => yes,
            None => !o.quick || splunklib_ready(&venv_python(&places)),
        };
    let python = if want_splunklib {
        Some(ensure_splunklib(&places)?)
    } else {
        None
    };
    let setup = Setup {
        places,
        aidetect,
        harness_exe,
        python,
        child_cpu,
        run_limit: std::time::Duration::from_secs(o.timeout),
    };
    let contenders: Vec<Who> = o
        .contenders
        .iter()
        .copied()
        .filter(|w| *w != Who::Splunklib || setup.python.is_some())
        .collect();

    let mut declared = HashMap::new();
    for who in [Who::Seed, Who::Standard, Who::Events] {
        let reply = run::probe_getinfo(&setup.program(who), &setup.getinfo(who), setup.run_limit)
            .map_err(|e| format!("getinfo of {}: {e}", who.label()))?;
        let required_fields = reply["required_fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let command_type = reply["type"].as_str().unwrap_or("streaming").to_string();
        declared.insert(
            who,
            Declared {
                command_type,
                required_fields,
            },
        );
    }

    let mut all = Collected::default();
    for &events in &o.sizes {
        for &groups in &o.groups {
            let shape = Shape {
                events,
                groups,
                chunk_rows: o.chunk_rows,
            };
            run_scenario(&setup, o, &contenders, &shape, &mut all)?;
            measure_bytes(&shape, &declared, &mut all);
        }
    }
    if !o.keep_streams && !o.quick {
        for &(events, groups) in all.splunklib_runs.keys() {
            let chunk_rows = o.chunk_rows;
            let shape = Shape {
                events,
                groups,
                chunk_rows,
            };
            remove_stream(&stream_path(&setup.places, &shape));
        }
    }

    let ctx = report::Context {
        command: command_line(args),
        subject,
        quick: o.quick,
        child_cpu,
        chunk_rows: o.chunk_rows,
        splunklib_max: o.splunklib_max,
        repeat: o.repeat,
        repeat_under_seconds: REPEAT_UNDER_SECONDS,
        load_before,
        load_after: report::load_average(),
        largest_chunk: all.largest_chunk,
        python: setup.python.clone(),
    };
    let text = report::render(&ctx, &all.results, &all.bytes, &all.checks);
    print!("{text}");
    if let Some(path) = &o.write {
        std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        progress(&format!("wrote {}", path.display()));
    }
    let failed = all.checks.iter().filter(|(_, r)| r.is_err()).count();
    if failed > 0 {
        eprintln!("aidetect-bench: {failed} harness check(s) failed");
    }
    Ok(failed == 0)
}

fn scenario_name(shape: &Shape) -> String {
    format!(
        "{} events, {} groups",
        short_count(shape.events),
        short_count(shape.groups)
    )
}

/// Runs every contender on one shape, in rounds (each round runs each contender once, so
/// that a busy moment of the machine hits them alike), keeps each one's fastest run, then
/// checks the answers.
fn run_scenario(
    setup: &Setup,
    o: &Options,
    contenders: &[Who],
    shape: &Shape,
    all: &mut Collected,
) -> Result<(), String> {
    let scenario = scenario_name(shape);
    let (stream, written) = stream_file(&setup.places, shape)?;
    all.largest_chunk
        .insert(scenario.clone(), written.largest_chunk);
    let mut best: Vec<Option<(Measured, u64)>> = vec![None; contenders.len()];
    for round in 1..=o.repeat.max(1) {
        for (i, &who) in contenders.iter().enumerate() {
            let slow = best[i]
                .as_ref()
                .is_some_and(|(m, _)| m.seconds > REPEAT_UNDER_SECONDS);
            if round > 1 && (who == Who::Splunklib || slow) {
                continue;
            }
            let run = if who == Who::Splunklib {
                splunklib_run(setup, o, shape, &scenario, &stream, &written, all)?
            } else {
                (
                    setup.run_once(who, &scenario, &stream, &written)?,
                    shape.events,
                )
            };
            if best[i]
                .as_ref()
                .is_none_or(|(b, _)| run.0.seconds < b.seconds)
            {
                best[i] = Some(run);
            }
        }
    }
    if !o.keep_streams && !o.quick {
        remove_stream(&stream);
    }

    let seed = contenders
        .iter()
        .position(|w| *w == Who::Seed)
        .and_then(|i| best[i].as_ref())
        .map(|(m, _)| check::decode(&m.final_body));
    for (&who, run) in contenders.iter().zip(best) {
        let (m, events) = run.expect("every contender ran in round 1");
        let name = |what: &str| format!("{scenario}: {what}");
        match who {
            Who::Floor => all.checks.push((
                name("the floor read every row"),
                floor_counts(&m, shape, &written),
            )),
            Who::Seed => all
                .checks
                .push((name("profile=seed found groups"), nonempty(&m))),
            Who::Standard => all
                .checks
                .push((name("profile=standard found groups"), nonempty(&m))),
            Who::Events => all.checks.push((
                name("mode=events answered every event"),
                if m.rows_out == shape.events {
                    Ok(())
                } else {
                    Err(format!("{} rows for {} events", m.rows_out, shape.events))
                },
            )),
            Who::Splunklib => {
                if let (Some(ours), true) = (&seed, events == shape.events) {
                    all.checks.push((
                        name("profile=seed = splunklib, row for row"),
                        same_as_splunklib(ours, &m),
                    ));
                }
            }
        }
        all.results.push(RunResult {
            scenario: scenario.clone(),
            who,
            events,
            prefix: events < shape.events,
            m,
        });
    }
    Ok(())
}

/// splunklib on the scenario, or on its first `--splunklib-max` events (run once per
/// distinct input: a 10M scenario reuses the run of the 1M scenario with the same groups,
/// whose input is the same bytes).
fn splunklib_run(
    setup: &Setup,
    o: &Options,
    shape: &Shape,
    scenario: &str,
    stream: &Path,
    written: &Written,
    all: &mut Collected,
) -> Result<(Measured, u64), String> {
    let events = shape.events.min(o.splunklib_max);
    if let Some(hit) = all.splunklib_runs.get(&(events, shape.groups)) {
        progress(&format!(
            "{scenario}: {} (the run on the same first {} events)",
            Who::Splunklib.label(),
            short_count(events)
        ));
        return Ok((hit.clone(), events));
    }
    let m = if events == shape.events {
        setup.run_once(Who::Splunklib, scenario, stream, written)?
    } else {
        let prefix = Shape { events, ..*shape };
        let (s, w) = stream_file(&setup.places, &prefix)?;
        setup.run_once(Who::Splunklib, scenario, &s, &w)?
    };
    all.splunklib_runs.insert((events, shape.groups), m.clone());
    Ok((m, events))
}

/// Bytes per event with every field and with each profile's required fields, on at most
/// the first 1M events (the ratio does not depend on the length).
fn measure_bytes(shape: &Shape, declared: &HashMap<Who, Declared>, all: &mut Collected) {
    let scenario = scenario_name(shape);
    let sample = Shape {
        events: shape.events.min(1_000_000),
        ..*shape
    };
    progress(&format!("{scenario}: bytes per event"));
    let every = bytes_per_event(&sample, &Columns::all());
    for who in [Who::Seed, Who::Standard, Who::Events] {
        let d = &declared[&who];
        let cols = Columns::required(&d.required_fields, d.command_type == "stateful");
        all.bytes.push(BytesRow {
            scenario: scenario.clone(),
            who,
            sample_events: sample.events,
            command_type: d.command_type.clone(),
            required_fields: d.required_fields.clone(),
            sent: cols.names().iter().map(|s| s.to_string()).collect(),
            all_fields: every,
            required_only: bytes_per_event(&sample, &cols),
        });
    }
}

fn command_line(args: &[String]) -> String {
    if args.is_empty() {
        "cargo run --release -p aidetect-bench".into()
    } else {
        format!(
            "cargo run --release -p aidetect-bench -- {}",
            args.join(" ")
        )
    }
}

/// The floor's final reply is `records,fields`: one header row per chunk plus every event.
fn floor_counts(m: &Measured, shape: &Shape, w: &Written) -> Result<(), String> {
    let text = String::from_utf8_lossy(&m.final_body);
    let records: u64 = text
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected floor reply {text:?}"))?;
    let expected = shape.events + w.chunks;
    if records == expected {
        Ok(())
    } else {
        Err(format!("{records} CSV records, expected {expected}"))
    }
}

fn nonempty(m: &Measured) -> Result<(), String> {
    match check::decode(&m.final_body) {
        Ok(t) if !t.rows.is_empty() => Ok(()),
        Ok(_) => Err("no rows".into()),
        Err(e) => Err(e),
    }
}

fn same_as_splunklib(ours: &Result<check::Table, String>, m: &Measured) -> Result<(), String> {
    let ours = ours
        .as_ref()
        .map_err(|e| format!("aidetect's reply: {e}"))?;
    let theirs = check::decode(&m.final_body).map_err(|e| format!("splunklib's reply: {e}"))?;
    check::same_rows(ours, &theirs)?;
    if ours.rows.is_empty() {
        return Err("both are empty: nothing was compared".into());
    }
    Ok(())
}
