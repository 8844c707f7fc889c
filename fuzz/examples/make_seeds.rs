//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/`:
//!
//! - the project's own: searches over `data/demo_events.csv` built by the splunkd driver the
//!   tests use, bodies, `__mv_` cells, argument lists and a few broken streams;
//! - when the reference recordings are beside the repository (`../shared/fixtures/splunkd`),
//!   their streams cut down to the first rows of each chunk, their bodies, `__mv_` cells and
//!   arguments. Nothing of them is committed: the corpus folder is ignored by git.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds [RECORDINGS_DIR]`

use aidetect::aidetect::OPTIONS;
use aidetect::input::read_csv_export;
use aidetect::protocol::body::encode_mv;
use aidetect::protocol::chunk::{ChunkReader, encode_chunk};
use aidetect::protocol::driver;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest seed written: bigger inputs only slow the fuzzer down.
const MAX_SEED: usize = 64 * 1024;
/// Rows kept of each recorded chunk.
const ROWS_KEPT: u64 = 40;

#[derive(Default)]
struct Corpus {
    session: BTreeSet<Vec<u8>>,
    chunk_reader: BTreeSet<Vec<u8>>,
    csv_body: BTreeSet<Vec<u8>>,
    mv_decode: BTreeSet<Vec<u8>>,
    options: BTreeSet<Vec<u8>>,
}

impl Corpus {
    fn stream(&mut self, bytes: Vec<u8>) {
        let mut knobbed = vec![0x37];
        knobbed.extend_from_slice(&bytes);
        self.chunk_reader.insert(knobbed);
        self.session.insert(bytes);
    }

    fn args(&mut self, args: &[String]) {
        self.options.insert(args.join("\0").into_bytes());
    }

    /// A body, and the `__mv_` cells in it.
    fn body(&mut self, body: &[u8]) {
        self.csv_body.insert(body.to_vec());
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(body);
        let Ok(header) = reader.byte_headers().cloned() else {
            return;
        };
        let mv_cols: Vec<usize> = (0..header.len())
            .filter(|&i| header[i].starts_with(b"__mv_"))
            .collect();
        for record in reader.byte_records().flatten() {
            for &c in &mv_cols {
                if let Some(cell) = record.get(c).filter(|c| !c.is_empty())
                    && self.mv_decode.len() < 200
                {
                    self.mv_decode.insert(cell.to_vec());
                }
            }
        }
    }

    fn write(&self, root: &Path) -> std::io::Result<()> {
        for (target, seeds) in [
            ("session", &self.session),
            ("chunk_reader", &self.chunk_reader),
            ("csv_body", &self.csv_body),
            ("mv_decode", &self.mv_decode),
            ("options", &self.options),
        ] {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir)?;
            let mut written = 0;
            for (i, seed) in seeds.iter().filter(|s| s.len() <= MAX_SEED).enumerate() {
                std::fs::write(dir.join(format!("seed-{i:04}")), seed)?;
                written += 1;
            }
            println!("{target}: {written} seeds in {}", dir.display());
        }
        Ok(())
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Searches over the demo events, split into chunks several ways, with several options.
fn own_seeds(corpus: &mut Corpus) {
    let table = read_csv_export(include_bytes!("../../data/demo_events.csv"))
        .expect("the demo events read");
    let arg_sets = [
        strings(&[]),
        strings(&["profile=seed"]),
        strings(&["profile=seed", "min_score=0", "large_bytes=10"]),
        strings(&["mode=events"]),
        strings(&["by=src,user,host,provider,client", "min_risk=0"]),
        strings(&["allowlisted=hide", "limit=3", "loglevel=debug"]),
        strings(&["profil=seed"]),
        strings(&["catalog=../x.csv"]),
    ];
    for args in &arg_sets {
        corpus.args(args);
        for per_chunk in [table.rows.len().max(1), 4] {
            let chunks: Vec<_> = table.rows.chunks(per_chunk).collect();
            let mut stream = driver::getinfo(args, serde_json::json!({}));
            let mut search = vec![0u8];
            search.extend(args.join(" ").into_bytes());
            for (i, rows) in chunks.iter().enumerate() {
                let body = driver::splunkd_body(&table.fields, rows);
                stream.extend(driver::execute(i + 1 == chunks.len(), &body));
                search.push(0);
                search.extend_from_slice(&body);
                corpus.body(&body);
            }
            corpus.stream(stream);
            corpus.session.insert(search);
        }
    }
    // Broken streams: the framing's error paths.
    let getinfo = driver::getinfo(&strings(&["profile=seed"]), serde_json::json!({}));
    let execute = driver::execute(true, b"src_ip,user\n10.0.0.1,alice\n");
    for tail in [
        b"chunked 1.0,abc,0\n{}".to_vec(),
        b"chunked 1.0,2,10000000000\n{}".to_vec(),
        execute[..execute.len() - 5].to_vec(),
        encode_chunk(b"{not json", b""),
        encode_chunk(br#"{"action":"frobnicate"}"#, b""),
        b"\n\r\n"
            .iter()
            .copied()
            .chain(execute.iter().copied())
            .collect(),
    ] {
        let mut stream = getinfo.clone();
        stream.extend(tail);
        corpus.stream(stream);
    }
    corpus.stream(execute.clone());
    // Bodies and cells the tests single out.
    for body in [
        &b"a,b,c\n1\n1,2,3,4\n"[..],
        b"\"a\",b\r\n\"x\r\ny\",\"q\"\"\"\r\n,3\r\n",
        b"x,y,\"__mv_x\",\"__mv_y\"\n\"a\nb\",1,\"$a$;$b$\",\n",
        b"src_ip,user,_chunked_idx\n\"10.0.0.1,alice,0\n",
        b"src_ip,\xffuser\n10.0.0.1,\xfe\xff\n",
    ] {
        corpus.body(body);
    }
    for items in [
        &["a", "b"][..],
        &["a$b", "c"],
        &["", "y"],
        &["$", "$$", "x$"],
        &["a;b", "\u{0e17}t", "q\"uote\nline"],
    ] {
        corpus.mv_decode.insert(encode_mv(items).1.into_bytes());
    }
    for cell in ["$a$;$b$ trailing", "$a$;b$", "$$$$$", "noquotes", "$a$\n"] {
        corpus.mv_decode.insert(cell.as_bytes().to_vec());
    }
    for spec in OPTIONS {
        corpus.args(&[format!("{}={}", spec.name, spec.default)]);
    }
}

fn gunzip(path: &Path) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).ok()?)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The first `ROWS_KEPT` records of a CSV body (header included), cut at a record boundary.
fn first_rows(body: &[u8]) -> &[u8] {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut end = 0;
    for _ in 0..=ROWS_KEPT {
        match reader.read_byte_record(&mut record) {
            Ok(true) => end = reader.position().byte() as usize,
            _ => break,
        }
    }
    &body[..end.min(body.len())]
}

/// The recorded splunkd streams, cut down to a few rows per chunk.
fn recorded_seeds(corpus: &mut Corpus, dir: &Path) -> usize {
    let mut stack = vec![dir.to_path_buf()];
    let mut files: Vec<PathBuf> = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "gz") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut used = 0;
    for path in files {
        let Some(bytes) = gunzip(&path) else { continue };
        if !bytes.starts_with(b"chunked") {
            continue;
        }
        let mut reader = ChunkReader::new(&bytes[..]);
        let mut stream = Vec::new();
        while let Ok(Some(chunk)) = reader.read_chunk() {
            let body = first_rows(&chunk.body);
            stream.extend(encode_chunk(&chunk.metadata, body));
            if !body.is_empty() {
                corpus.body(body);
            }
            let meta: serde_json::Value =
                serde_json::from_slice(&chunk.metadata).unwrap_or_default();
            if let Some(args) = meta["searchinfo"]["args"].as_array() {
                let args: Vec<String> = args
                    .iter()
                    .filter_map(|a| a.as_str().map(String::from))
                    .collect();
                corpus.args(&args);
            }
        }
        corpus.stream(stream);
        used += 1;
    }
    used
}

fn main() -> std::io::Result<()> {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let recordings = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| fuzz_dir.join("../../shared/fixtures/splunkd"));
    let mut corpus = Corpus::default();
    own_seeds(&mut corpus);
    if recordings.is_dir() {
        let n = recorded_seeds(&mut corpus, &recordings);
        println!("{n} recorded streams from {}", recordings.display());
    } else {
        println!(
            "no recordings at {}: the project's own seeds only",
            recordings.display()
        );
    }
    corpus.write(&fuzz_dir.join("corpus"))
}
