//! `profile=seed` against a reference evaluator, on many thousands of generated events.
//!
//! The reference below implements `seed-detection.md` directly and plainly, event by event,
//! sharing no code with the command (nor with the protocol's CSV codec: the input bodies are
//! written and the replies read by this file). A seeded generator produces events full of
//! the rule cases, CSV-hostile text and non-ASCII, which are fed to the command with the
//! chunking varied; every row and cell must equal the reference's.
//!
//! Decisions the spec leaves open, as the command takes them: an empty value (cell or
//! multivalue item) is null; the eval-style fields (user agent, bytes, path, method) read the
//! first non-null value of a multivalue field; `values()` fields and key fields take every
//! value; `TotalBytesUploaded` is the exact sum rounded once (independent of the order in
//! which events, chunks or partial results arrive).
//!
//! Set `SEED_REFERENCE_SEED=<number>` to run the generated tests with another seed.

use aidetect::aidetect::AiDetect;
use aidetect::protocol::driver;
use aidetect::protocol::{self, Settings};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

mod common;
mod seed_support;
use seed_support::{
    API_PATHS, BROWSER_AGENTS, BROWSER_LIKE_AGENTS, COLUMNS, LOOK_ALIKE_HOSTS, NON_API_PATHS,
    POWERSHELL_AGENTS, SEED_HOSTS,
};

// =======================================================================================
// Events

const DEST_HOST: usize = 0;
const HTTP_USER_AGENT: usize = 1;
const CS_USER_AGENT: usize = 2;
const BYTES_OUT: usize = 3;
const CS_BYTES: usize = 4;
const URI_PATH: usize = 5;
const CS_URI_STEM: usize = 6;
const HTTP_METHOD: usize = 7;
const CS_METHOD: usize = 8;
const SRC_IP: usize = 9;
const USER: usize = 10;

const FIELDS: [&str; 11] = [
    "dest_host",
    "http_user_agent",
    "cs_user_agent",
    "bytes_out",
    "cs_bytes",
    "uri_path",
    "cs_uri_stem",
    "http_method",
    "cs_method",
    "src_ip",
    "user",
];

/// One event: the values of each field of `FIELDS` (none = absent, one = single-valued,
/// several = multivalue). A value may be empty.
#[derive(Debug, Clone, Default)]
struct Event {
    values: [Vec<String>; 11],
}

// =======================================================================================
// The reference evaluator

#[derive(Debug, Clone, Copy)]
struct Params {
    large_bytes: i64,
    min_score: i64,
    limit: usize,
}

const SEED: Params = Params {
    large_bytes: 50_000,
    min_score: 1,
    limit: 10_000,
};

impl Params {
    fn args(&self) -> Vec<String> {
        vec![
            "profile=seed".to_string(),
            format!("large_bytes={}", self.large_bytes),
            format!("min_score={}", self.min_score),
            format!("limit={}", self.limit),
        ]
    }
}

const BROWSER_TOKENS: [&str; 7] = [
    "chrome/", "firefox/", "safari/", "msie", "trident/", "edg/", "opera/",
];

const API_PREFIXES: [&str; 10] = [
    "v1",
    "v2",
    "api",
    "generate",
    "chat",
    "completions",
    "embeddings",
    "images",
    "audio",
    "models",
];

/// An output cell as splunkd reads it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Plain(String),
    Multi(Vec<String>),
}

/// The non-null values of a field.
fn values(event: &Event, field: usize) -> Vec<&str> {
    event.values[field]
        .iter()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect()
}

/// `coalesce(a, b, default)` for eval: the first non-null value of `a`, else of `b`.
fn coalesce<'e>(event: &'e Event, a: usize, b: usize, default: &'e str) -> &'e str {
    let first = |f| values(event, f).first().copied();
    first(a).or_else(|| first(b)).unwrap_or(default)
}

/// SPL `tonumber` in base 10: `[+-]? digits [. digits]? ([eE] [+-]? digits)?` with at least
/// one mantissa digit, surrounding whitespace ignored; null otherwise (or on overflow).
fn tonumber(text: &str) -> Option<f64> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Start,
        Sign,
        Int,
        Point,
        PointNoInt,
        Fraction,
        E,
        ESign,
        Exponent,
    }
    let t = text.trim_matches([' ', '\t', '\n', '\r', '\x0c']);
    let mut state = State::Start;
    for c in t.chars() {
        state = match (state, c) {
            (State::Start, '+' | '-') => State::Sign,
            (State::Start | State::Sign | State::Int, '0'..='9') => State::Int,
            (State::Start | State::Sign, '.') => State::PointNoInt,
            (State::Int, '.') => State::Point,
            (State::Point | State::PointNoInt | State::Fraction, '0'..='9') => State::Fraction,
            (State::Int | State::Point | State::Fraction, 'e' | 'E') => State::E,
            (State::E, '+' | '-') => State::ESign,
            (State::E | State::ESign | State::Exponent, '0'..='9') => State::Exponent,
            _ => return None,
        };
    }
    if !matches!(
        state,
        State::Int | State::Point | State::Fraction | State::Exponent
    ) {
        return None;
    }
    let x: f64 = t.parse().ok()?;
    x.is_finite().then_some(x)
}

/// `sum()`: the exact sum of the values, rounded once to the nearest f64 (ties to even), so
/// that it does not depend on the order of the events. The values are added as integers in
/// units of 2^-64, which holds every value the tests use exactly.
#[derive(Debug, Default)]
struct ExactTotal(i128);

const UNIT: f64 = 18_446_744_073_709_551_616.0; // 2^64

impl ExactTotal {
    fn add(&mut self, x: f64) {
        let units = x * UNIT;
        assert!(
            units.fract() == 0.0 && units.abs() < 2f64.powi(110),
            "{x} is not a multiple of 2^-64 below 2^46: the reference cannot sum it exactly"
        );
        self.0 = self.0.checked_add(units as i128).expect("a sum below 2^63");
    }

    fn value(&self) -> f64 {
        // `as f64` rounds to nearest, ties to even; dividing by 2^64 is exact.
        self.0 as f64 / UNIT
    }
}

#[derive(Debug, Default)]
struct Group {
    requests: u64,
    total: Option<ExactTotal>,
    services: BTreeSet<String>,
    paths: BTreeSet<String>,
    agents: BTreeSet<String>,
    max_score: u32,
}

/// What the seed search returns for `events`, row by row, nine cells each.
fn reference(events: &[Event], params: Params) -> Vec<Vec<Cell>> {
    // Keyed by (src_ip, user): the map's order is the tie-break order of the sort.
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for event in events {
        // 1. Host filter.
        let host = values(event, DEST_HOST).iter().any(|h| {
            let h = h.to_ascii_lowercase();
            SEED_HOSTS.contains(&h.as_str())
        });
        if !host {
            continue;
        }
        // 2, 3. User agent and browser filter.
        let agent = coalesce(event, HTTP_USER_AGENT, CS_USER_AGENT, "unknown").to_lowercase();
        if BROWSER_TOKENS.iter().any(|t| agent.contains(t)) {
            continue;
        }
        // 4. BytesUploaded.
        let bytes = tonumber(coalesce(event, BYTES_OUT, CS_BYTES, "0"));
        // 5. IsAPIEndpoint.
        let path = coalesce(event, URI_PATH, CS_URI_STEM, "");
        let api = API_PREFIXES
            .iter()
            .any(|p| path.starts_with(&format!("/{p}")));
        // 6. Method.
        let post = coalesce(event, HTTP_METHOD, CS_METHOD, "UNKNOWN").to_uppercase() == "POST";
        // 7. LargePayload.
        let large = matches!(bytes, Some(b) if b > params.large_bytes as f64);
        // 8. SuspicionScore.
        let score = u32::from(api) + u32::from(post) + u32::from(large);
        // Grouping: one group per (src_ip, user) value pair; none without both.
        for src in values(event, SRC_IP) {
            for user in values(event, USER) {
                let g = groups
                    .entry((src.to_string(), user.to_string()))
                    .or_default();
                g.requests += 1;
                if let Some(b) = bytes {
                    g.total.get_or_insert_default().add(b);
                }
                for h in values(event, DEST_HOST) {
                    g.services.insert(h.to_string());
                }
                for p in values(event, URI_PATH) {
                    g.paths.insert(p.to_string());
                }
                g.agents.insert(agent.clone());
                g.max_score = g.max_score.max(score);
            }
        }
    }
    let mut kept: Vec<((String, String), Group)> = groups
        .into_iter()
        .filter(|(_, g)| g.requests > 0 && i64::from(g.max_score) >= params.min_score)
        .collect();
    // A stable sort keeps the (src_ip, user) order among equal totals.
    let total = |g: &Group| g.total.as_ref().map(ExactTotal::value);
    kept.sort_by(|(_, a), (_, b)| match (total(a), total(b)) {
        (Some(x), Some(y)) => y.partial_cmp(&x).expect("finite totals"),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    if params.limit > 0 {
        kept.truncate(params.limit);
    }
    kept.into_iter()
        .map(|((src, user), g)| {
            vec![
                Cell::Plain(src),
                Cell::Plain(user),
                Cell::Plain(g.requests.to_string()),
                total(&g).map_or(Cell::Null, |t| Cell::Plain(number(t))),
                Cell::Plain("1".to_string()),
                list(g.services),
                list(g.paths),
                list(g.agents),
                Cell::Plain(g.max_score.to_string()),
            ]
        })
        .collect()
}

/// Integers without a decimal point; other values in the shortest form that reads back.
fn number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string(); // -0 too
    }
    let text = if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    };
    assert_eq!(text.parse::<f64>().ok(), Some(x), "{text} reads back");
    text
}

/// A `values()` list: sorted by bytes (a BTreeSet of String is), one value plain.
fn list(set: BTreeSet<String>) -> Cell {
    match set.len() {
        0 => Cell::Null,
        1 => Cell::Plain(set.into_iter().next().expect("one value")),
        _ => Cell::Multi(set.into_iter().collect()),
    }
}

#[test]
fn reference_tonumber_follows_the_spec() {
    for (text, want) in [
        ("12", Some(12.0)),
        (" 12 ", Some(12.0)),
        ("\t42\n", Some(42.0)),
        ("+7", Some(7.0)),
        ("-5", Some(-5.0)),
        (".5", Some(0.5)),
        ("5.", Some(5.0)),
        ("1e3", Some(1000.0)),
        ("1.5E-2", Some(0.015)),
        ("-", None),
        ("12k", None),
        ("0x1F", None),
        ("abc", None),
        (".", None),
        ("1e", None),
        ("e3", None),
        ("1 2", None),
        ("NaN", None),
        ("inf", None),
        ("1e999", None),
        ("١٢", None),
    ] {
        assert_eq!(tonumber(text), want, "{text:?}");
    }
    assert_eq!(number(12345.0), "12345");
    assert_eq!(number(4935204.25), "4935204.25");
    assert_eq!(number(-0.0), "0");
    assert_eq!(number(1e20), "100000000000000000000");
}

// =======================================================================================
// The generator

/// splitmix64: small, seeded, good enough to mix test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick(&mut self, pool: &[&str]) -> String {
        pool[self.below(pool.len())].to_string()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

fn seed(default: u64) -> u64 {
    std::env::var("SEED_REFERENCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Hosts that are not AI services at all.
const OTHER_HOSTS: &[&str] = &["www.google.com", "claude.ai", "example.com", ""];

/// User agents besides those of `seed_support`.
const OTHER_AGENTS: &[&str] = &[
    // Browser tokens in other cases and places.
    "CHROME/1",
    "FireFox/2",
    "SAFARI/3",
    "msiexec/5.0",
    "xEDG/1",
    "OPERA/9",
    "tRiDeNt/4",
    // Programmatic clients and other non-browsers.
    "OpenAI/Python 1.30.1",
    "AsyncOpenAI/Python 1.51.0",
    "Anthropic/Python 0.25.0",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "axios/1.6.2",
    "Mozilla/5.0 OPR/106.0.0.0",
    "Chrome 120",
    "Edge/18.1",
    "unknown",
    "UNKNOWN",
    "-",
    " ",
    // Non-ASCII.
    "Agent İstanbul/1.0",
    "Straße-Client/2 STRASSE",
    "ΣΥΣΤΗΜΑ/1.0 ΟΔΟΣ",
    "机器人/1.0 🤖",
    "TRİDENT/7.0",
    "ＣＨＲＯＭＥ/1",
    "\u{212a}elvin-Agent/1",
    // CSV- and __mv_-hostile.
    "quote\"agent",
    "comma, agent",
    "new\nline agent",
    "cr\r\nlf agent",
    "$dollar$;semi",
    "$$",
    ";",
    "\"",
    "$",
];

const BYTES: &[&str] = &[
    "-",
    "12k",
    " 12 ",
    "1e3",
    "0x1F",
    "abc",
    "50000",
    "50001",
    "50000.5",
    "49999.99",
    "5e4",
    "6e4",
    "-5",
    "+7",
    ".5",
    "5.",
    "1.5e-2",
    "\t42\n",
    "NaN",
    "inf",
    "1e",
    "--1",
    "١٢",
    "1,000",
    "12 34",
    "0.1",
    "0.2",
    "1e-3",
    "123456789012.75",
    "-0",
    "0",
];

/// Paths besides those of `seed_support`.
const OTHER_PATHS: &[&str] = &[
    "/v1/messages",
    "/Models",
    "/ünïcode/路径",
    "/path,with,commas",
    "/q\"uote\"",
    "/new\nline",
    "/$dollar;semi",
    "/v1/$$;$",
    "/v1/İ/Σ/ß/🤖",
];

const METHODS: &[&str] = &[
    "POST", "POST", "post", "Post", "pOsT", "GET", "GET", "get", "PUT", "CONNECT", "POST ",
    " POST", "poſt", "poﬆ", "pošt", "OPTIONS", "HEAD",
];

const SRC_IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
    "10.0.0.5",
    "10.0.0.10",
    "10.0.0.11",
    "192.168.1.20",
    "fe80::1",
    "2001:db8::1",
    "10.0.0.1,2",
    "ip\"q",
    "ip\nnl",
    "$ip;$",
    "İP",
    "  spaced  ",
];

const USERS: &[&str] = &[
    "alice",
    "bob",
    "ALICE",
    "Alice",
    "carol",
    "dave",
    "svc-ci",
    "Ä",
    "İlker",
    "straße",
    "STRASSE",
    "Σωκράτης",
    "ΟΔΟΣ",
    "用户",
    "😀",
    "o'brien",
    "last, first",
    "quote\"d",
    "multi\nline",
    "$cash;",
    "dom\\user",
    " space ",
    "a$$b",
    "$",
    "; ",
];

fn user_agent(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 | 1 => BROWSER_AGENTS[rng.below(BROWSER_AGENTS.len())]
            .1
            .to_string(),
        2 => rng.pick(&BROWSER_LIKE_AGENTS),
        3 => rng.pick(&POWERSHELL_AGENTS),
        _ => rng.pick(OTHER_AGENTS),
    }
}

/// A seed host, with its ASCII letters' case changed at random now and then.
fn seed_host(rng: &mut Rng) -> String {
    let host = rng.pick(&SEED_HOSTS);
    if !rng.percent(30) {
        return host;
    }
    host.chars()
        .map(|c| {
            if rng.percent(50) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn host(rng: &mut Rng) -> String {
    match rng.below(20) {
        0..=13 => seed_host(rng),
        14..=18 => rng.pick(&LOOK_ALIKE_HOSTS),
        _ => rng.pick(OTHER_HOSTS),
    }
}

fn bytes(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => rng.pick(BYTES),
        1 => rng.below(200_000).to_string(),
        2 => format!("{}.{:02}", rng.below(100_000), rng.below(100)),
        _ => (40_000 + rng.below(20_000)).to_string(),
    }
}

fn path(rng: &mut Rng) -> String {
    let p = match rng.below(20) {
        0..=7 => rng.pick(&API_PATHS),
        8..=14 => rng.pick(&NON_API_PATHS),
        _ => rng.pick(OTHER_PATHS),
    };
    if rng.percent(20) {
        format!("{p}/{}", rng.below(1000))
    } else {
        p
    }
}

fn src_ip(rng: &mut Rng, unique: &mut u64) -> String {
    if rng.percent(15) {
        *unique += 1;
        format!("172.16.{}.{}", *unique / 250, *unique % 250)
    } else {
        rng.pick(SRC_IPS)
    }
}

fn user(rng: &mut Rng, unique: &mut u64) -> String {
    if rng.percent(10) {
        *unique += 1;
        format!("user{unique}")
    } else {
        rng.pick(USERS)
    }
}

/// A field's values: absent, an empty cell, one value, or a multivalue (whose items may
/// be empty). Key fields get distinct values (see the report on duplicates).
fn field(
    rng: &mut Rng,
    present: u64,
    multi: u64,
    distinct: bool,
    mut value: impl FnMut(&mut Rng) -> String,
) -> Vec<String> {
    if !rng.percent(present) {
        return Vec::new();
    }
    if rng.percent(3) {
        return vec![String::new()];
    }
    if !rng.percent(multi) {
        return vec![value(rng)];
    }
    let n = 2 + rng.below(2);
    let mut items: Vec<String> = Vec::new();
    while items.len() < n {
        let v = if rng.percent(15) {
            String::new()
        } else {
            value(rng)
        };
        if !(distinct && !v.is_empty() && items.contains(&v)) {
            items.push(v);
        }
    }
    items
}

/// `n` events. With `unique_keys`, nearly every event has a (src_ip, user) of its own.
fn corpus(seed: u64, n: usize, unique_keys: bool) -> Vec<Event> {
    let mut rng = Rng(seed);
    let mut unique = 0u64;
    (0..n)
        .map(|i| {
            let r = &mut rng;
            let mut e = Event::default();
            e.values[DEST_HOST] = field(r, 95, 15, false, host);
            e.values[HTTP_USER_AGENT] = field(r, 75, 8, false, user_agent);
            e.values[CS_USER_AGENT] = field(r, 30, 8, false, user_agent);
            e.values[BYTES_OUT] = field(r, 70, 8, false, bytes);
            e.values[CS_BYTES] = field(r, 35, 8, false, bytes);
            e.values[URI_PATH] = field(r, 70, 12, false, path);
            e.values[CS_URI_STEM] = field(r, 35, 8, false, path);
            e.values[HTTP_METHOD] = field(r, 70, 5, false, |r| r.pick(METHODS));
            e.values[CS_METHOD] = field(r, 35, 5, false, |r| r.pick(METHODS));
            if unique_keys {
                // A seed host and both keys nearly always: most events make a group.
                e.values[DEST_HOST] = vec![seed_host(r)];
                e.values[SRC_IP] = vec![format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)];
                e.values[USER] = field(r, 98, 3, true, |r| user(r, &mut unique));
            } else {
                e.values[SRC_IP] = field(r, 93, 8, true, |r| src_ip(r, &mut unique));
                e.values[USER] = field(r, 90, 8, true, |r| user(r, &mut unique));
            }
            e
        })
        .collect()
}

#[test]
fn corpus_is_full_of_the_rule_cases() {
    let events = corpus(seed(1), 10_000, false);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |what: &str, yes: bool| {
        *counts.entry(what.to_string()).or_default() += usize::from(yes);
    };
    for e in &events {
        let all = |f: usize| e.values[f].iter().map(String::as_str);
        let agent = coalesce(e, HTTP_USER_AGENT, CS_USER_AGENT, "unknown").to_lowercase();
        for token in BROWSER_TOKENS {
            count(&format!("agent with {token}"), agent.contains(token));
        }
        count("electron agent", agent.contains("electron/"));
        count("powershell agent", agent.contains("powershell/"));
        count("unknown agent", agent == "unknown");
        count(
            "cs_user_agent fallback",
            values(e, HTTP_USER_AGENT).is_empty() && !values(e, CS_USER_AGENT).is_empty(),
        );
        count(
            "seed host in other case",
            all(DEST_HOST).any(|h| {
                SEED_HOSTS.contains(&h.to_ascii_lowercase().as_str()) && !SEED_HOSTS.contains(&h)
            }),
        );
        count(
            "look-alike host",
            all(DEST_HOST).any(|h| LOOK_ALIKE_HOSTS.contains(&h)),
        );
        count("multivalue dest_host", e.values[DEST_HOST].len() > 1);
        count("multivalue src_ip", e.values[SRC_IP].len() > 1);
        count("multivalue user", e.values[USER].len() > 1);
        count("multivalue uri_path", e.values[URI_PATH].len() > 1);
        count(
            "empty multivalue item",
            e.values
                .iter()
                .any(|v| v.len() > 1 && v.iter().any(String::is_empty)),
        );
        count("no src_ip", values(e, SRC_IP).is_empty());
        count("no user", values(e, USER).is_empty());
        let first_bytes_out = values(e, BYTES_OUT).first().copied();
        count("dash bytes", first_bytes_out == Some("-"));
        count(
            "non-numeric bytes_out hides numeric cs_bytes",
            first_bytes_out.is_some_and(|b| tonumber(b).is_none())
                && values(e, CS_BYTES)
                    .first()
                    .is_some_and(|b| tonumber(b).is_some()),
        );
        count("bytes 50000", first_bytes_out == Some("50000"));
        count("bytes 50001", first_bytes_out == Some("50001"));
        count("/v1beta", all(URI_PATH).any(|p| p.starts_with("/v1beta")));
        count("/V1", all(URI_PATH).any(|p| p.starts_with("/V1")));
        count(
            "cs_uri_stem only",
            values(e, URI_PATH).is_empty() && !values(e, CS_URI_STEM).is_empty(),
        );
        count(
            "cs_method fallback",
            values(e, HTTP_METHOD).is_empty() && !values(e, CS_METHOD).is_empty(),
        );
        let text: String = e.values.iter().flatten().map(String::as_str).collect();
        for hostile in ["\"", ",", "\n", "$", ";", "İ", "ß", "Σ", "路", "🤖"] {
            count(&format!("text with {hostile:?}"), text.contains(hostile));
        }
    }
    let rows = reference(&events, SEED);
    counts.insert("rows".into(), rows.len());
    let null_totals = rows.iter().filter(|r| r[3] == Cell::Null).count();
    counts.insert("rows with a null total".into(), null_totals);
    let multi = rows
        .iter()
        .filter(|r| matches!(r[5], Cell::Multi(_)))
        .count();
    counts.insert("rows with several AIServices".into(), multi);
    let thin: Vec<_> = counts.iter().filter(|(_, n)| **n < 20).collect();
    assert!(thin.is_empty(), "cases too rare in the corpus: {thin:?}");
}

// =======================================================================================
// Feeding the command

/// One execute chunk of a plan.
#[derive(Debug, Clone)]
enum Piece {
    Rows(std::ops::Range<usize>),
    HeaderOnly,
    Empty,
}

/// How the events are cut into execute chunks.
#[derive(Debug, Clone, Copy)]
enum Chunking {
    One,
    Every(usize),
    Random,
}

fn plan(chunking: Chunking, n: usize, rng: &mut Rng) -> Vec<Piece> {
    let mut pieces = Vec::new();
    match chunking {
        Chunking::One => pieces.push(Piece::Rows(0..n)),
        Chunking::Every(size) => {
            for start in (0..n).step_by(size) {
                pieces.push(Piece::Rows(start..n.min(start + size)));
                // A header-only and an empty chunk in the middle, as splunkd sometimes sends.
                if start == (n / 2) / size * size {
                    pieces.push(Piece::HeaderOnly);
                    pieces.push(Piece::Empty);
                }
            }
        }
        Chunking::Random => {
            let mut start = 0;
            while start < n {
                match rng.below(10) {
                    0 => pieces.push(Piece::HeaderOnly),
                    1 => pieces.push(Piece::Empty),
                    _ => {
                        let end = n.min(start + 1 + rng.below(700));
                        pieces.push(Piece::Rows(start..end));
                        start = end;
                    }
                }
            }
            // The last chunk (finished:true) may carry rows or not.
            match rng.below(3) {
                0 => pieces.push(Piece::HeaderOnly),
                1 => pieces.push(Piece::Empty),
                _ => {}
            }
        }
    }
    pieces
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Quoting {
    /// As splunkd writes: anything not purely alphanumeric is quoted.
    Splunkd,
    All,
    WhenNeeded,
}

fn quote(cell: &str, quoting: Quoting, out: &mut String) {
    let quoted = match quoting {
        Quoting::Splunkd => !cell.bytes().all(|b| b.is_ascii_alphanumeric()),
        Quoting::All => true,
        Quoting::WhenNeeded => cell
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')),
    };
    if !quoted {
        out.push_str(cell);
    } else if cell.contains('"') {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push('"');
        out.push_str(cell);
        out.push('"');
    }
}

/// A column of an input body.
#[derive(Debug, Clone)]
enum Column {
    Value(usize),
    Mv(usize),
    Noise(&'static str),
}

const NOISE: [&str; 4] = ["_time", "_raw", "index", "__mv_orphan"];

fn noise(name: &str, rng: &mut Rng) -> String {
    match name {
        "_time" => format!(
            "{}.{:03}",
            1_700_000_000 + rng.below(1_000_000),
            rng.below(1000)
        ),
        "_raw" => rng.pick(&[
            "GET /v1 \"quoted\", with comma\nand newline",
            "$a$;$b$",
            "",
            "plain",
        ]),
        "index" => "proxy".to_string(),
        _ => rng.pick(&["$x$;$y$", "", "z"]),
    }
}

/// A CSV body as splunkd writes it, with the layout varied: column order, `__mv_` columns
/// after the plain ones or in pairs or only where needed, quoting, line ends, noise columns.
fn body(events: &[Event], rng: &mut Rng) -> String {
    let mut fields: Vec<usize> = (0..FIELDS.len())
        .filter(|&f| events.iter().any(|e| !e.values[f].is_empty()) || rng.percent(40))
        .collect();
    rng.shuffle(&mut fields);
    let mut columns: Vec<Column> = Vec::new();
    match rng.below(3) {
        0 => {
            columns.extend(fields.iter().map(|&f| Column::Value(f)));
            columns.extend(fields.iter().map(|&f| Column::Mv(f)));
        }
        1 => {
            for &f in &fields {
                columns.push(Column::Value(f));
                columns.push(Column::Mv(f));
            }
        }
        _ => {
            columns.extend(fields.iter().map(|&f| Column::Value(f)));
            let multi = fields
                .iter()
                .filter(|&&f| events.iter().any(|e| e.values[f].len() > 1));
            columns.extend(multi.map(|&f| Column::Mv(f)));
        }
    }
    for name in NOISE {
        if rng.percent(30) {
            columns.insert(rng.below(columns.len() + 1), Column::Noise(name));
        }
    }
    let quoting = [Quoting::Splunkd, Quoting::All, Quoting::WhenNeeded][rng.below(3)];
    let eol = if rng.percent(25) { "\r\n" } else { "\n" };
    let mut out = String::new();
    let mut cell = String::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let name = match c {
            Column::Value(f) => FIELDS[*f].to_string(),
            Column::Mv(f) => format!("__mv_{}", FIELDS[*f]),
            Column::Noise(name) => name.to_string(),
        };
        quote(&name, quoting, &mut out);
    }
    out.push_str(eol);
    for e in events {
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell.clear();
            match c {
                Column::Value(f) => display_cell(&e.values[*f], rng, &mut cell),
                Column::Mv(f) => mv_cell(&e.values[*f], rng, &mut cell),
                Column::Noise(name) => cell.push_str(&noise(name, rng)),
            }
            quote(&cell, quoting, &mut out);
        }
        out.push_str(eol);
    }
    out
}

/// The plain cell: the value, or for a multivalue a display rendering that the `__mv_`
/// cell overrides (values joined by newlines, or something else entirely).
fn display_cell(values: &[String], rng: &mut Rng, cell: &mut String) {
    match values {
        [] => {}
        [one] => cell.push_str(one),
        many if rng.percent(80) => cell.push_str(&many.join("\n")),
        many => cell.push_str(&many.concat()),
    }
}

/// The `__mv_` cell: `$a$;$b$` with `$` doubled; a single value now and then too.
fn mv_cell(values: &[String], rng: &mut Rng, cell: &mut String) {
    if values.len() < 2 && !(values.len() == 1 && rng.percent(10)) {
        return;
    }
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            cell.push(';');
        }
        cell.push('$');
        cell.push_str(&v.replace('$', "$$"));
        cell.push('$');
    }
}

/// The whole splunkd → command stream for `events` cut as planned.
fn stream(events: &[Event], args: &[String], pieces: &[Piece], rng: &mut Rng) -> Vec<u8> {
    let mut input = driver::getinfo(args, serde_json::json!({}));
    for (i, piece) in pieces.iter().enumerate() {
        let body = match piece {
            Piece::Rows(range) => body(&events[range.clone()], rng),
            Piece::HeaderOnly => body(&[], rng),
            Piece::Empty => String::new(),
        };
        input.extend(driver::execute(i + 1 == pieces.len(), body.as_bytes()));
    }
    input
}

// =======================================================================================
// Reading the replies

/// A strict `__mv_` decoder: `$item$(;$item$)*`, `$$` = `$`.
fn decode_mv(cell: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut chars = cell.chars().peekable();
    assert_eq!(chars.next(), Some('$'), "__mv_ cell {cell:?}");
    let mut item = String::new();
    loop {
        match chars.next() {
            Some('$') if chars.peek() == Some(&'$') => {
                chars.next();
                item.push('$');
            }
            Some('$') => {
                items.push(std::mem::take(&mut item));
                match chars.next() {
                    None => return items,
                    Some(';') => assert_eq!(chars.next(), Some('$'), "__mv_ cell {cell:?}"),
                    Some(c) => panic!("{c:?} after an item in __mv_ cell {cell:?}"),
                }
            }
            Some(c) => item.push(c),
            None => panic!("unterminated __mv_ cell {cell:?}"),
        }
    }
}

/// Checks the reply stream (one reply per request, only the last finished and with a body)
/// and reads the last reply's rows.
fn rows_of(output: &[u8], requests: usize) -> Vec<Vec<Cell>> {
    let replies = driver::decode_replies(output).expect("replies are chunks");
    assert_eq!(replies.len(), requests, "one reply per request");
    for (i, reply) in replies.iter().enumerate() {
        assert!(
            reply.metadata.get("error").is_none(),
            "reply {i}: {}",
            reply.metadata
        );
    }
    for reply in &replies[1..requests - 1] {
        assert_eq!(reply.metadata["finished"], false);
        assert!(reply.body.is_empty(), "non-final replies carry no rows");
    }
    let last = &replies[requests - 1];
    assert_eq!(last.metadata["finished"], true);
    if last.body.is_empty() {
        return Vec::new();
    }
    let mut reader = csv::ReaderBuilder::new().from_reader(last.body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let plain: Vec<&str> = header
        .iter()
        .map(String::as_str)
        .filter(|h| !h.starts_with("__mv_"))
        .collect();
    assert_eq!(plain, COLUMNS, "output columns");
    let at = |name: &str| header.iter().position(|h| h == name);
    let columns: Vec<(usize, Option<usize>)> = COLUMNS
        .iter()
        .map(|c| (at(c).unwrap(), at(&format!("__mv_{c}"))))
        .collect();
    reader
        .records()
        .map(|record| {
            let record = record.expect("a CSV record");
            columns
                .iter()
                .map(|&(value, mv)| {
                    let display = &record[value];
                    match mv.map(|m| &record[m]).filter(|m| !m.is_empty()) {
                        Some(mv) => {
                            let items = decode_mv(mv);
                            assert!(items.len() > 1, "a one-value list is plain: {mv:?}");
                            assert_eq!(display, items.join("\n"), "display cell");
                            Cell::Multi(items)
                        }
                        None if display.is_empty() => Cell::Null,
                        None => Cell::Plain(display.to_string()),
                    }
                })
                .collect()
        })
        .collect()
}

fn serve(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let ending = protocol::serve(&mut AiDetect::new(), input, &mut out, &Settings::default());
    assert_eq!(ending.exit_code(), 0, "{ending:?}");
    out
}

fn show(cell: &Cell) -> String {
    match cell {
        Cell::Null => "null".to_string(),
        Cell::Plain(v) => format!("{v:?}"),
        Cell::Multi(items) => format!("{items:?}"),
    }
}

/// An event as `field=[values]`, absent fields left out.
fn show_event(e: &Event) -> String {
    FIELDS
        .iter()
        .zip(&e.values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(f, v)| format!("{f}={v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Panics with a readable diff when the rows differ: the first row that differs, cell by
/// cell, the events of its group, and where the other differences are.
#[track_caller]
fn assert_same(got: &[Vec<Cell>], want: &[Vec<Cell>], events: &[Event], what: &str) {
    if got == want {
        return;
    }
    let n = got.len().max(want.len());
    let differing: Vec<usize> = (0..n).filter(|&i| got.get(i) != want.get(i)).collect();
    let first = differing[0];
    let mut msg = format!(
        "{what}: the command returned {} rows, the reference {}; {} rows differ\nrow {first}:\n",
        got.len(),
        want.len(),
        differing.len(),
    );
    for (c, name) in COLUMNS.iter().enumerate() {
        let g = got.get(first).map_or("(no row)".into(), |r| show(&r[c]));
        let w = want.get(first).map_or("(no row)".into(), |r| show(&r[c]));
        let mark = if g == w { " " } else { "≠" };
        let _ = writeln!(msg, "  {mark} {name:<20} command   {g}");
        if g != w {
            let _ = writeln!(msg, "    {:<20} reference {w}", "");
        }
    }
    // The events of the group(s) in that row, on either side.
    let keys: Vec<(&Cell, &Cell)> = [got.get(first), want.get(first)]
        .into_iter()
        .flatten()
        .map(|r| (&r[0], &r[1]))
        .collect();
    let plain = |cell: &Cell| match cell {
        Cell::Plain(v) => v.clone(),
        other => show(other),
    };
    let of_group: Vec<&Event> = events
        .iter()
        .filter(|e| {
            keys.iter().any(|(src, user)| {
                values(e, SRC_IP).contains(&plain(src).as_str())
                    && values(e, USER).contains(&plain(user).as_str())
            })
        })
        .collect();
    let _ = writeln!(msg, "its {} events (first 10):", of_group.len());
    for e in of_group.iter().take(10) {
        let _ = writeln!(msg, "  {}", show_event(e));
    }
    let _ = writeln!(
        msg,
        "rows that differ (first 20): {:?}",
        &differing[..differing.len().min(20)]
    );
    panic!("{msg}");
}

/// Runs the command on `events` (cut as `chunking` says) and compares with the reference.
fn check(events: &[Event], params: Params, chunking: Chunking, rng: &mut Rng, want: &[Vec<Cell>]) {
    let pieces = plan(chunking, events.len(), rng);
    let input = stream(events, &params.args(), &pieces, rng);
    let got = rows_of(&serve(&input), pieces.len() + 1);
    assert_same(&got, want, events, &format!("{params:?}, {chunking:?}"));
}

// =======================================================================================
// The comparisons

#[test]
fn command_equals_the_reference_with_every_chunking() {
    let events = corpus(seed(1), 10_000, false);
    let want = reference(&events, SEED);
    assert!(want.len() > 500, "{} rows", want.len());
    let mut rng = Rng(seed(1) ^ 0xC4);
    for chunking in [
        Chunking::One,
        Chunking::Every(7),
        Chunking::Every(1000),
        Chunking::Random,
    ] {
        check(&events, SEED, chunking, &mut rng, &want);
    }
    // One event per chunk costs a header per event: a part of the corpus is enough.
    let part = &events[..3_000];
    check(
        part,
        SEED,
        Chunking::Every(1),
        &mut rng,
        &reference(part, SEED),
    );
}

#[test]
fn command_equals_the_reference_with_the_options_varied() {
    let events = corpus(seed(2), 4_000, false);
    let mut rng = Rng(seed(2) ^ 0x0B);
    for params in [
        Params { limit: 1, ..SEED },
        Params { limit: 7, ..SEED },
        Params { limit: 0, ..SEED },
        Params {
            large_bytes: 0,
            ..SEED
        },
        Params {
            large_bytes: 1000,
            min_score: 2,
            ..SEED
        },
        Params {
            large_bytes: 100_000,
            min_score: 3,
            ..SEED
        },
        Params {
            min_score: 0,
            ..SEED
        },
        Params {
            min_score: 3,
            limit: 25,
            ..SEED
        },
        Params {
            large_bytes: i64::MAX,
            ..SEED
        },
    ] {
        let want = reference(&events, params);
        check(&events, params, Chunking::Random, &mut rng, &want);
    }
}

#[test]
fn command_equals_the_reference_beyond_10000_groups() {
    let events = corpus(seed(3), 21_000, true);
    let mut rng = Rng(seed(3) ^ 0x1D);
    let all = reference(&events, Params { limit: 0, ..SEED });
    assert!(all.len() > 10_000, "{} groups", all.len());
    check(
        &events,
        SEED,
        Chunking::Every(1000),
        &mut rng,
        &reference(&events, SEED),
    );
    check(
        &events,
        Params { limit: 0, ..SEED },
        Chunking::Random,
        &mut rng,
        &all,
    );
}

/// Splunk's distributed search: the events sharded over `indexers` map phases (each fed in
/// random chunks), their partial states shuffled and merged by one reduce phase.
fn map_reduce(events: &[Event], params: Params, indexers: usize, rng: &mut Rng) -> Vec<Vec<Cell>> {
    const PARTIAL_COLUMNS: [&str; 2] = ["aidetect_partial", "aidetect_state"];
    let mut shards: Vec<Vec<Event>> = vec![Vec::new(); indexers];
    for e in events {
        shards[rng.below(indexers)].push(e.clone());
    }
    // What the reduce phase's getinfo declares as `streaming_preop`, by hand.
    let map_args: Vec<String> = ["profile=seed", "phase=map"]
        .into_iter()
        .map(String::from)
        .chain([format!("large_bytes={}", params.large_bytes)])
        .collect();
    let mut partials: Vec<Vec<String>> = Vec::new();
    for shard in &shards {
        let pieces = plan(Chunking::Random, shard.len(), rng);
        let replies = driver::decode_replies(&serve(&stream(shard, &map_args, &pieces, rng)))
            .expect("map replies are chunks");
        assert_eq!(replies.len(), pieces.len() + 1, "one reply per request");
        for reply in &replies[1..] {
            assert!(reply.metadata.get("error").is_none(), "{}", reply.metadata);
            let mut reader = csv::Reader::from_reader(reply.body.as_slice());
            if reply.body.is_empty() {
                continue;
            }
            assert_eq!(
                reader.headers().expect("a header"),
                PARTIAL_COLUMNS.as_slice()
            );
            for record in reader.records() {
                partials.push(record.expect("a record").iter().map(String::from).collect());
            }
        }
    }
    rng.shuffle(&mut partials);
    let mut reduce_args = params.args();
    reduce_args.push("distributed=true".to_string());
    let mut input = driver::getinfo(&reduce_args, serde_json::json!({}));
    let chunks: Vec<&[Vec<String>]> = partials.chunks(1 + partials.len() / 3).collect();
    for (i, rows) in chunks.iter().enumerate() {
        let mut body = PARTIAL_COLUMNS.join(",") + "\n";
        for row in rows.iter() {
            quote(&row[0], Quoting::Splunkd, &mut body);
            body.push(',');
            quote(&row[1], Quoting::Splunkd, &mut body);
            body.push('\n');
        }
        input.extend(driver::execute(i + 1 == chunks.len(), body.as_bytes()));
    }
    rows_of(&serve(&input), chunks.len() + 1)
}

#[test]
fn command_equals_the_reference_mapped_and_reduced() {
    let events = corpus(seed(5), 6_000, false);
    let mut rng = Rng(seed(5) ^ 0x3A);
    for (params, indexers) in [
        (SEED, 3),
        (SEED, 8),
        (
            Params {
                large_bytes: 1000,
                min_score: 2,
                limit: 40,
            },
            5,
        ),
    ] {
        let got = map_reduce(&events, params, indexers, &mut rng);
        let what = format!("{params:?}, mapped on {indexers} indexers and reduced");
        assert_same(&got, &reference(&events, params), &events, &what);
    }
}

/// The same through the built binary, stdin to stdout.
fn check_binary(events: &[Event], params: Params, rng: &mut Rng) {
    let pieces = plan(Chunking::Random, events.len(), rng);
    let input = stream(events, &params.args(), &pieces, rng);
    let out = common::run_binary(&[], &input, std::time::Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let got = rows_of(&out.stdout, pieces.len() + 1);
    assert_same(
        &got,
        &reference(events, params),
        events,
        &format!("binary, {params:?}"),
    );
}

#[test]
fn binary_equals_the_reference_end_to_end() {
    let events = corpus(seed(4), 6_000, false);
    let mut rng = Rng(seed(4) ^ 0xE2);
    check_binary(&events, SEED, &mut rng);
    check_binary(
        &events,
        Params {
            large_bytes: 1000,
            min_score: 2,
            limit: 9,
        },
        &mut rng,
    );
}
