//! Map/reduce on Splunk's distributed search, and pre-aggregated (tstats) input, through the
//! binary: any sharding of the events, mapped and reduced, gives the single-process rows.

mod common;
use common::*;

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const FIELDS: [&str; 8] = [
    "_time",
    "src_ip",
    "user",
    "dest_host",
    "http_method",
    "uri_path",
    "http_user_agent",
    "bytes_out",
];

/// Events as rows of cells (CSV-quoted by `csv_body`); `fractions` adds non-integer bytes.
fn events(n: usize, seed: u64, fractions: bool) -> Vec<Vec<String>> {
    let mut r = Rng(seed);
    let hosts = [
        "api.openai.com",
        "API.Anthropic.com",
        "bedrock-runtime.us-east-1.amazonaws.com",
        "example.org",
        "api.groq.com",
        "llm.internal",
    ];
    let methods = ["POST", "GET", "CONNECT", ""];
    let paths = [
        "/v1/chat/completions",
        "/v1/messages",
        "/x",
        "",
        "/api/generate",
        "/v1/models",
    ];
    let agents = [
        "curl/8.0",
        "OpenAI/Python 1.54.3",
        "python-requests/2.31",
        "Mozilla/5.0 Chrome/120.0 Safari/537.36",
        "",
        "t\u{e9}st, \"quoted\"",
    ];
    let users = ["alice", "bob", "", "carol", "d\u{f6}rte"];
    (0..n)
        .map(|i| {
            let bytes = if fractions && r.next().is_multiple_of(3) {
                format!("{}.{}", r.next() % 90_000, r.next() % 100)
            } else {
                ((r.next() % 8) * 15_000 + 500).to_string()
            };
            vec![
                (1_795_766_000 + i as u64 * 7 + r.next() % 5).to_string(),
                format!("10.0.{}.{}", r.next() % 3, r.next() % 9),
                r.pick(&users).to_string(),
                r.pick(&hosts).to_string(),
                r.pick(&methods).to_string(),
                r.pick(&paths).to_string(),
                r.pick(&agents).to_string(),
                bytes,
            ]
        })
        .collect()
}

fn csv_body(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// Runs a whole search over `chunks` (CSV bodies); returns every reply (meta, body).
fn search(args: &[&str], chunks: &[String]) -> Vec<(String, String)> {
    let mut input = getinfo(args);
    for (i, c) in chunks.iter().enumerate() {
        input.extend(execute(i + 1 == chunks.len(), c));
    }
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
    split_replies(&run.stdout)
}

fn final_rows(replies: &[(String, String)]) -> String {
    replies.last().unwrap().1.clone()
}

/// Splits `rows` into `k` shards at random, maps each through the binary, reduces all the map
/// outputs in a few chunks, and returns the reduce phase's final rows.
fn map_reduce(args: &[&str], rows: &[Vec<String>], k: usize, rng: &mut Rng) -> String {
    let mut shards: Vec<Vec<Vec<String>>> = vec![Vec::new(); k];
    for row in rows {
        shards[(rng.next() % k as u64) as usize].push(row.clone());
    }
    let mut map_args = vec!["phase=map"];
    map_args.extend(args.iter().filter(|a| !a.starts_with("distributed")));
    let mut partial_rows: Vec<Vec<String>> = Vec::new();
    for shard in &shards {
        // Each indexer gets its events in one to three chunks.
        let pieces = 1 + (rng.next() % 3) as usize;
        let size = shard.len().div_ceil(pieces).max(1);
        let chunks: Vec<String> = if shard.is_empty() {
            vec![csv_body(&FIELDS, &[])]
        } else {
            shard.chunks(size).map(|c| csv_body(&FIELDS, c)).collect()
        };
        let replies = search(&map_args, &chunks);
        assert_eq!(
            replies[0].0, r#"{"type":"streaming"}"#,
            "the map phase is a plain streaming command"
        );
        for (_, body) in &replies[1..] {
            if body.is_empty() {
                continue;
            }
            let mut reader = csv::Reader::from_reader(body.as_bytes());
            assert_eq!(
                reader.headers().unwrap(),
                vec!["aidetect_partial", "aidetect_state"]
            );
            partial_rows.extend(
                reader
                    .records()
                    .map(|r| r.unwrap().iter().map(String::from).collect()),
            );
        }
    }
    let mut reduce_args = vec!["distributed=true"];
    reduce_args.extend(args.iter().filter(|a| !a.starts_with("distributed")));
    let pieces = 1 + (rng.next() % 4) as usize;
    let size = partial_rows.len().div_ceil(pieces).max(1);
    let chunks: Vec<String> = partial_rows
        .chunks(size)
        .map(|c| csv_body(&["aidetect_partial", "aidetect_state"], c))
        .collect();
    let chunks = if chunks.is_empty() {
        vec![String::new()]
    } else {
        chunks
    };
    final_rows(&search(&reduce_args, &chunks))
}

#[test]
fn distributed_declares_the_map_phase_as_streaming_preop() {
    let replies = search(
        &["distributed=true", "by=user,src", "min_risk=10"],
        &[String::new()],
    );
    let v: serde_json::Value = serde_json::from_str(&replies[0].0).unwrap();
    assert_eq!(v["type"], "reporting");
    assert_eq!(
        v["streaming_preop"],
        r#"aidetect phase="map" by="user,src""#
    );
    // Off by default: no preop, the command stays on the search head.
    let replies = search(&[], &[String::new()]);
    assert!(
        !replies[0].0.contains("streaming_preop"),
        "{}",
        replies[0].0
    );
}

#[test]
fn any_sharding_mapped_and_reduced_equals_the_single_process_run() {
    let rows = events(1500, 0x5eed, true);
    let mut rng = Rng(0xabcdef);
    let profiles: [&[&str]; 4] = [
        &["profile=seed"],
        &["profile=seed", "large_bytes=1000", "min_score=0"],
        &[],
        &["by=user,provider", "min_risk=0"],
    ];
    for args in profiles {
        let single = final_rows(&search(args, &[csv_body(&FIELDS, &rows)]));
        assert!(
            single.lines().count() > 5,
            "{args:?} should find groups:\n{single}"
        );
        for k in 1..=16 {
            let reduced = map_reduce(args, &rows, k, &mut rng);
            assert_eq!(reduced, single, "{args:?} with {k} shards");
        }
    }
}

#[test]
fn a_partial_state_of_another_format_version_is_rejected_clearly() {
    let body = "aidetect_partial,aidetect_state\n0,\"{}\"\n";
    let mut input = getinfo(&["distributed=true"]);
    input.extend(execute(true, body));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(1));
    let meta = &split_replies(&run.stdout)[1].0;
    assert!(
        meta.contains("format version 0 cannot be merged by this aidetect (format version 1)"),
        "{meta}"
    );
    assert!(
        meta.contains("install the same aidetect app version"),
        "{meta}"
    );
}

#[test]
fn a_partial_state_of_another_profile_is_rejected() {
    let rows = events(50, 3, false);
    let replies = search(&["phase=map", "profile=seed"], &[csv_body(&FIELDS, &rows)]);
    let body = &replies[1].1;
    let mut input = getinfo(&["distributed=true"]);
    input.extend(execute(true, body));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(1));
    assert!(
        split_replies(&run.stdout)[1]
            .0
            .contains("the map phase ran profile \\\"seed\\\""),
        "{:?}",
        split_replies(&run.stdout)
    );
}

/// `| tstats count min(_time) as firstTime max(_time) as lastTime from datamodel=Web by Web.src
/// Web.user Web.dest Web.http_user_agent Web.uri_path Web.http_method Web.bytes_out`, computed
/// here from the raw events.
fn tstats(rows: &[Vec<String>]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut groups: std::collections::BTreeMap<Vec<String>, (u64, u64, u64)> = Default::default();
    for r in rows {
        let key = vec![
            r[1].clone(),
            r[2].clone(),
            r[3].clone(),
            r[6].clone(),
            r[5].clone(),
            r[4].clone(),
            r[7].clone(),
        ];
        let t: u64 = r[0].parse().unwrap();
        let e = groups.entry(key).or_insert((0, u64::MAX, 0));
        e.0 += 1;
        e.1 = e.1.min(t);
        e.2 = e.2.max(t);
    }
    let header = vec![
        "Web.src",
        "Web.user",
        "Web.dest",
        "Web.http_user_agent",
        "Web.uri_path",
        "Web.http_method",
        "Web.bytes_out",
        "count",
        "firstTime",
        "lastTime",
    ];
    let out = groups
        .into_iter()
        .map(|(mut k, (n, first, last))| {
            k.extend([n.to_string(), first.to_string(), last.to_string()]);
            k
        })
        .collect();
    (header, out)
}

#[test]
fn tstats_pre_aggregated_rows_give_the_same_results_as_raw_events() {
    let rows = events(3000, 0x7575, false);
    let (header, aggregated) = tstats(&rows);
    assert!(
        aggregated.len() < rows.len(),
        "the pre-aggregation must actually aggregate"
    );
    for args in [
        &[][..],
        &["by=user", "min_risk=0"][..],
        &["min_score=2"][..],
    ] {
        // The raw events carry CIM names too (src, dest), as the data model would.
        let raw_header = [
            "_time",
            "src",
            "user",
            "dest",
            "http_method",
            "uri_path",
            "http_user_agent",
            "bytes_out",
        ];
        let raw = final_rows(&search(args, &[csv_body(&raw_header, &rows)]));
        let pre = final_rows(&search(args, &[csv_body(&header, &aggregated)]));
        assert!(raw.lines().count() > 3, "{raw}");
        assert_eq!(pre, raw, "{args:?}");
    }
    // The seed profile, with the data model's fields renamed to the seed's names.
    let seed_header = [
        "src_ip",
        "user",
        "dest_host",
        "http_user_agent",
        "uri_path",
        "http_method",
        "bytes_out",
        "count",
        "firstTime",
        "lastTime",
    ];
    let raw_seed = final_rows(&search(&["profile=seed"], &[csv_body(&FIELDS, &rows)]));
    let pre_seed = final_rows(&search(
        &["profile=seed"],
        &[csv_body(&seed_header, &aggregated)],
    ));
    assert_eq!(pre_seed, raw_seed);
}

#[test]
fn events_mode_with_distributed_is_a_distributable_streaming_command() {
    let replies = search(&["mode=events", "distributed=true"], &[String::new()]);
    let v: serde_json::Value = serde_json::from_str(&replies[0].0).unwrap();
    assert_eq!(v["type"], "streaming");
    assert!(v.get("streaming_preop").is_none());
}
