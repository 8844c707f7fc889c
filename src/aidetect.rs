//! The `aidetect` command: options → profile; wires the detection into the protocol.

use crate::detect::allowlist::{self, Allowlist};
use crate::detect::byteset::{ByteSet, StrSet};
use crate::detect::catalog::Catalog;
use crate::detect::endpoint::{self, EndpointGroups, EndpointRow, Finding, Kind as EventKind};
use crate::detect::group::{SeedGroups, SeedRow};
use crate::detect::guard::{Limits, Tripped};
use crate::detect::keys;
use crate::detect::partial::{self, PartialError};
use crate::detect::seed::{SEED_FIELDS, SeedParams, score_event};
use crate::detect::set::ValueSet;
use crate::detect::standard::{self, Features, Groups, Key, Row, Scorer, StandardParams};
use crate::detect::{Event, Field};
use crate::protocol::options::{self, Kind, Options, Spec};
use crate::protocol::{
    Cell, Columns, Command, CommandError, CommandType, CsvRows, Declaration, FieldId, Layout,
    Level, Output, Record, Records, SearchInfo, Value, diag,
};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The options `| aidetect` accepts (searchbnf.conf and the README document each).
pub const OPTIONS: &[Spec] = &[
    Spec {
        name: "profile",
        kind: Kind::Choice(&["standard", "seed"]),
        default: "standard",
        help: "standard = catalog, clients, tunnels, allowlist and risk score; seed = the original SPL search, rule for rule",
    },
    Spec {
        name: "mode",
        kind: Kind::Choice(&["aggregate", "events"]),
        default: "aggregate",
        help: "aggregate = one row per group; events = annotate every event with ai_* fields (profile=standard)",
    },
    Spec {
        name: "by",
        kind: Kind::List,
        default: "src,user",
        help: "group keys (profile=standard): src, user, host, provider, category, client or any field name",
    },
    Spec {
        name: "large_bytes",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: "50000",
        help: "an upload larger than this many bytes scores as a large payload",
    },
    Spec {
        name: "min_score",
        kind: Kind::Int { min: 0, max: 3 },
        default: "1 (seed), 0 (standard)",
        help: "keep groups whose highest seed suspicion score (API path + POST + large upload) is at least this",
    },
    Spec {
        name: "min_risk",
        kind: Kind::Int { min: 0, max: 100 },
        default: "40",
        help: "keep groups whose RiskScore (0-100) is at least this (profile=standard)",
    },
    Spec {
        name: "limit",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: "10000",
        help: "return at most this many rows (0 = no limit)",
    },
    Spec {
        name: "max_groups",
        kind: Kind::Int {
            min: 1,
            max: i64::MAX,
        },
        default: "200000",
        help: "at most this many groups are kept; events of further groups are counted in one \"(over max_groups)\" row",
    },
    Spec {
        name: "max_values",
        kind: Kind::Int {
            min: 1,
            max: i64::MAX,
        },
        default: "10000",
        help: "at most this many values are listed per multivalue column of a group (counts stay exact)",
    },
    Spec {
        name: "catalog",
        kind: Kind::Text,
        default: "aidetect_services.csv",
        help: "the AI service catalog, a CSV file in the app's lookups folder (profile=standard)",
    },
    Spec {
        name: "allowlist",
        kind: Kind::Text,
        default: "aidetect_allowlist.csv",
        help: "the allowlist, a CSV file in the app's lookups folder (profile=standard)",
    },
    Spec {
        name: "allowlisted",
        kind: Kind::Choice(&["show", "hide"]),
        default: "show",
        help: "show allowlisted activity with its reason in the Allowlisted column, or hide it (profile=standard)",
    },
    Spec {
        name: "kind",
        kind: Kind::Choice(&[
            "auto",
            "proxy",
            "process",
            "script_block",
            "network",
            "dns",
            "file",
            "auditd",
        ]),
        default: "auto",
        help: "the kind of events: auto = recognised per event from its fields; or force one (profile=standard)",
    },
    Spec {
        name: "redact",
        kind: Kind::Bool,
        default: "true",
        help: "replace API keys in every output field with provider:abcd…#hash; redact=false is for incident responders only",
    },
    Spec {
        name: "distributed",
        kind: Kind::Bool,
        default: "false",
        help: "run the heavy part on the indexers (map/reduce); only where the indexers run Linux x86_64",
    },
    Spec {
        name: "phase",
        kind: Kind::Choice(&["map"]),
        default: "(none)",
        help: "internal: set by aidetect itself on the indexers' part of a distributed search",
    },
    Spec {
        name: "loglevel",
        kind: Kind::Choice(&["debug", "info", "warn", "error"]),
        default: "warn",
        help: "diagnostics written to search.log",
    },
];

/// Options that only the standard profile reads.
const STANDARD_ONLY: [&str; 6] = [
    "mode",
    "by",
    "min_risk",
    "catalog",
    "allowlist",
    "allowlisted",
];

/// The output columns of `profile=seed`, in order.
pub const SEED_COLUMNS: [&str; 9] = [
    "src_ip",
    "user",
    "Requests",
    "TotalBytesUploaded",
    "UniqueSourceIPs",
    "AIServices",
    "EndpointPaths",
    "UserAgents",
    "MaxSuspicionScore",
];

/// The columns `profile=standard` adds after the seed's.
pub const STANDARD_COLUMNS: [&str; 11] = [
    "FirstSeen",
    "LastSeen",
    "PostRequests",
    "LargeUploads",
    "MaxBytesUploaded",
    "Providers",
    "Categories",
    "Clients",
    "Reasons",
    "RiskScore",
    "Allowlisted",
];

/// The fields `mode=events` adds to each event.
pub const EVENT_FIELDS: [&str; 7] = [
    "ai_kind",
    "ai_provider",
    "ai_category",
    "ai_client",
    "ai_score",
    "ai_reasons",
    "ai_allowlisted",
];

/// Environment variable naming the app folder (for tests and `aidetect run`); otherwise the
/// folder is found from the executable's place (`<app>/linux_x86_64/bin/aidetect`).
pub const APP_DIR_ENV: &str = "AIDETECT_APP_DIR";

enum State {
    Seed {
        params: SeedParams,
        groups: Box<SeedGroups>,
    },
    Standard(Box<StandardState>),
}

struct StandardState {
    params: StandardParams,
    catalog: Catalog,
    allowlist: Allowlist,
    scorer: Scorer,
    groups: Groups,
    endpoint: EndpointGroups,
    events_mode: bool,
    /// `kind=` when forced; else each event's kind is recognised from its fields.
    kind: Option<EventKind>,
    redact: bool,
}

/// The command's state across chunks.
pub struct AiDetect {
    state: State,
    /// Running as the map phase of a distributed search: emit partial states per chunk.
    map_phase: bool,
    limit: usize,
    extra_names: Vec<String>,
    events_in: u64,
}

impl Default for AiDetect {
    fn default() -> AiDetect {
        AiDetect::new()
    }
}

impl AiDetect {
    pub fn new() -> AiDetect {
        AiDetect {
            state: State::Seed {
                params: SeedParams::default(),
                groups: Box::default(),
            },
            map_phase: false,
            limit: 10_000,
            extra_names: Vec::new(),
            events_in: 0,
        }
    }
}

/// A record seen through the detection's field names.
struct RecordEvent<'r> {
    record: Record<'r>,
    ids: &'r [Option<FieldId>],
    /// The columns of each of `ids` (`Columns::ABSENT` where it is `None`).
    columns: &'r [Columns],
}

impl RecordEvent<'_> {
    #[inline(always)]
    fn id(&self, field: Field) -> Option<FieldId> {
        self.ids.get(field.index()).copied().flatten()
    }
}

impl Event for RecordEvent<'_> {
    #[inline(always)]
    fn first(&self, field: Field) -> Option<Cow<'_, [u8]>> {
        self.record.first_in(*self.columns.get(field.index())?)
    }

    fn each(&self, field: Field, visit: &mut dyn FnMut(&[u8])) {
        let Some(id) = self.id(field) else { return };
        for v in self.record.get(id).iter() {
            if !v.is_empty() {
                visit(v);
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn list(set: &ByteSet) -> Cell {
    Cell::List(set.iter().map(text).collect())
}

fn strings(set: &ValueSet<String>) -> Cell {
    Cell::List(set.iter().cloned().collect())
}

fn number(x: Option<f64>) -> Cell {
    x.map_or(Cell::Null, Cell::Number)
}

fn seed_cells(row: &SeedRow) -> [(&'static str, Cell); 9] {
    let g = &row.group;
    [
        ("src_ip", Cell::Text(text(&row.src_ip))),
        ("user", Cell::Text(text(&row.user))),
        ("Requests", Cell::Int(g.requests as i64)),
        ("TotalBytesUploaded", number(g.total_bytes())),
        (
            "UniqueSourceIPs",
            Cell::Int(SeedRow::UNIQUE_SOURCE_IPS as i64),
        ),
        ("AIServices", list(&g.ai_services)),
        ("EndpointPaths", list(&g.endpoint_paths)),
        ("UserAgents", list(&g.user_agents)),
        ("MaxSuspicionScore", Cell::Int(i64::from(g.max_score))),
    ]
}

/// The columns of a standard row after its keys: the seed's values, then the standard's.
fn standard_value_columns<'a>() -> impl Iterator<Item = &'a str> {
    SEED_COLUMNS[2..].iter().chain(&STANDARD_COLUMNS).copied()
}

/// `text` with its API keys redacted when `redact` is on (as `redacted` does to a cell).
fn scrub(text: Cow<'_, str>, redact: bool) -> Cow<'_, str> {
    if !redact {
        return text;
    }
    match keys::redact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(r) => Cow::Owned(r),
    }
}

/// The cells of a standard row, redacted when `redact` is on (text for text, item for item,
/// as `redacted` would). Lists are encoded as they are read from the group's sets.
fn standard_cells(row: Row, keys: &[Key], redact: bool) -> Vec<(&str, Cell)> {
    let g = &row.group;
    // A text without a key is moved into its cell, not copied.
    let own = |v: String| Cell::Text(scrub(Cow::Owned(v), redact).into_owned());
    let labels = |set: &StrSet| {
        Cell::list(
            set.iter().map(|v| scrub(Cow::Borrowed(v), redact)),
            set.bytes(),
        )
    };
    let paths = Cell::list(
        g.endpoint_paths
            .iter()
            .map(|p| scrub(String::from_utf8_lossy(p), redact)),
        g.endpoint_paths.bytes(),
    );
    let values = [
        Cell::Int(g.requests as i64),
        number(g.total_bytes()),
        Cell::Int(g.sources.len() as i64),
        labels(&g.ai_services),
        paths,
        labels(&g.user_agents),
        Cell::Int(i64::from(g.max_suspicion)),
        number(g.first_seen),
        number(g.last_seen),
        Cell::Int(g.post_requests as i64),
        Cell::Int(g.large_uploads as i64),
        number(g.max_bytes),
        labels(&g.providers),
        labels(&g.categories),
        labels(&g.clients),
        // Rule names: no keys in them.
        Cell::list(
            g.reasons.named().map(Cow::Borrowed),
            g.reasons.named().map(str::len).sum(),
        ),
        Cell::Int(i64::from(g.risk_score())),
        row.allowlisted.map_or(Cell::Null, own),
    ];
    let mut cells: Vec<(&str, Cell)> = Vec::with_capacity(keys.len() + values.len());
    cells.extend(keys.iter().zip(row.keys).map(|(k, v)| (k.column(), own(v))));
    cells.extend(standard_value_columns().zip(values));
    cells
}

/// The columns of `standard_cells` and which hold a list of two values or more: what the
/// reply's layout needs, without building the cells (checked against them in `tests`).
fn standard_shape<'k>(row: &Row, keys: &'k [Key]) -> Vec<(&'k str, bool)> {
    let g = &row.group;
    // The number of values of each list column of `standard_cells`; 0 for the others.
    let values = [
        0,
        0,
        0,
        g.ai_services.len(),
        g.endpoint_paths.len(),
        g.user_agents.len(),
        0,
        0,
        0,
        0,
        0,
        0,
        g.providers.len(),
        g.categories.len(),
        g.clients.len(),
        g.reasons.count(),
        0,
        0,
    ];
    let mut shape: Vec<(&str, bool)> = keys.iter().map(|k| (k.column(), false)).collect();
    shape.extend(standard_value_columns().zip(values.map(|n| n > 1)));
    shape
}

fn event_cells(f: Option<&Features<'_>>) -> Vec<(&'static str, Cell)> {
    let Some(f) = f else {
        return Vec::new();
    };
    vec![
        ("ai_kind", Cell::Text("proxy".to_string())),
        ("ai_provider", Cell::Text(f.provider().to_string())),
        ("ai_category", Cell::Text(f.category().to_string())),
        ("ai_client", Cell::Text(f.client.label())),
        ("ai_score", Cell::Int(i64::from(f.score))),
        ("ai_reasons", Cell::List(f.reasons.names())),
        (
            "ai_allowlisted",
            f.allowlisted.clone().map_or(Cell::Null, Cell::Text),
        ),
    ]
}

/// The app folder: `$AIDETECT_APP_DIR`, else the nearest ancestor of the executable that has
/// a `lookups` folder.
fn app_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(APP_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .find(|d| d.join("lookups").is_dir())
        .map(Path::to_path_buf)
}

/// Reads a lookup chosen by an option: a plain file name inside the app's `lookups` folder.
fn read_lookup(option: &str, name: &str) -> Result<(Vec<u8>, String), CommandError> {
    let plain = !name.is_empty()
        && !name.contains(['/', '\\', ':'])
        && !name.starts_with('.')
        && name.to_ascii_lowercase().ends_with(".csv");
    if !plain {
        return Err(CommandError::new(format!(
            "{option}={name:?} must be the file name of a .csv file in the app's lookups folder (no folders or '..')"
        )));
    }
    let dir = app_dir().map(|d| d.join("lookups")).ok_or_else(|| {
        CommandError::new(format!(
            "{option}={name}: the app's lookups folder was not found (set {APP_DIR_ENV} to the app folder)"
        ))
    })?;
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| {
        CommandError::new(format!(
            "{option}={name}: cannot read {}: {e}. Put the file in the app's lookups folder",
            path.display()
        ))
    })?;
    Ok((bytes, name.to_string()))
}

/// The catalog or allowlist: the option's file, else the app's copy, else the built-in one.
fn lookup_bytes(
    opts: &Options,
    option: &str,
    default_name: &str,
) -> Result<Option<(Vec<u8>, String)>, CommandError> {
    if let Some(name) = opts.text(option) {
        return read_lookup(option, name).map(Some);
    }
    Ok(app_dir()
        .map(|d| d.join("lookups").join(default_name))
        .and_then(|p| {
            std::fs::read(&p)
                .ok()
                .map(|b| (b, default_name.to_string()))
        }))
}

impl AiDetect {
    /// The getinfo reply: in the map phase a plain streaming command that emits partial
    /// states; with `distributed=true` a reporting command whose map phase runs on the
    /// indexers (`streaming_preop`); otherwise a command that runs on the search head.
    fn declare(
        &self,
        command_type: CommandType,
        fields: Vec<String>,
        opts: &Options,
    ) -> Declaration {
        if self.map_phase {
            // No required_fields: splunkd would merge our rows back into events by
            // `_chunked_idx`, and map rows are partial groups, not events.
            return Declaration::new(CommandType::Streaming);
        }
        let mut d = Declaration::new(command_type);
        d.required_fields = Some(fields);
        if command_type == CommandType::Reporting && opts.bool("distributed") == Some(true) {
            d.streaming_preop = Some(map_invocation(opts));
        }
        d
    }

    fn configure(&mut self, opts: &Options) -> Result<Declaration, CommandError> {
        self.map_phase = opts.text("phase") == Some("map");
        if let Some(l) = opts.int("limit") {
            self.limit = usize::try_from(l).unwrap_or(usize::MAX);
        }
        let large_bytes = opts.int("large_bytes").unwrap_or(50_000);
        let defaults = Limits::default();
        let cap = |name: &str, default: usize| {
            opts.int(name)
                .map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
        };
        let limits = Limits {
            max_groups: cap("max_groups", defaults.max_groups),
            max_values: cap("max_values", defaults.max_values),
        };
        let seed = opts.text("profile") == Some("seed");
        if seed {
            if let Some(name) = opts.given().find(|n| STANDARD_ONLY.contains(n)) {
                return Err(CommandError::new(format!(
                    "option {name} applies to profile=standard; remove it or remove profile=seed"
                )));
            }
            let mut groups = SeedGroups::new();
            groups.limits = limits;
            self.state = State::Seed {
                params: SeedParams {
                    large_bytes,
                    min_score: opts.int("min_score").unwrap_or(1),
                },
                groups: Box::new(groups),
            };
            let mut fields = SEED_FIELDS.to_vec();
            fields.extend([Field::Count, Field::SumBytes, Field::MaxBytes]);
            return Ok(self.declare(CommandType::Reporting, field_names(&fields), opts));
        }

        let mut extra = 0u8;
        let names: Vec<String> = opts
            .list("by")
            .map(<[String]>::to_vec)
            .unwrap_or_else(|| vec!["src".into(), "user".into()]);
        if names.len() > 16 {
            return Err(CommandError::new("by= takes at most 16 fields"));
        }
        let keys: Vec<Key> = names.iter().map(|n| Key::parse(n, &mut extra)).collect();
        self.extra_names = keys
            .iter()
            .filter_map(|k| match k {
                Key::Field(_, name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let params = StandardParams {
            large_bytes,
            min_score: opts.int("min_score").unwrap_or(0),
            min_risk: opts.int("min_risk").unwrap_or(40),
            keys,
            hide_allowlisted: opts.text("allowlisted") == Some("hide"),
        };
        let catalog = match lookup_bytes(opts, "catalog", "aidetect_services.csv")? {
            Some((bytes, name)) => {
                Catalog::from_csv(&bytes, &name).map_err(|e| CommandError::new(e.to_string()))?
            }
            None => Catalog::builtin(),
        };
        let today = allowlist::today();
        let allowlist = match lookup_bytes(opts, "allowlist", "aidetect_allowlist.csv")? {
            Some((bytes, name)) => Allowlist::from_csv(&bytes, &name, today)
                .map_err(|e| CommandError::new(e.to_string()))?,
            None => Allowlist::builtin(today),
        };
        let mut messages = Vec::new();
        for rule in &allowlist.expired {
            messages.push((
                Level::Warn,
                format!(
                    "allowlist line {} ({}) expired and no longer applies; renew or remove it",
                    rule.line, rule.reason
                ),
            ));
        }
        let events_mode = opts.text("mode") == Some("events");
        if events_mode && self.map_phase {
            return Err(CommandError::new(
                "phase=map does not go with mode=events: mode=events with distributed=true is already a distributable streaming command",
            ));
        }
        let command_type = match (events_mode, opts.bool("distributed") == Some(true)) {
            (true, true) => CommandType::Streaming,
            (true, false) => CommandType::Stateful,
            (false, _) => CommandType::Reporting,
        };
        let kind = match opts.text("kind") {
            None | Some("auto") => None,
            Some(k) => EventKind::parse(k),
        };
        let mut fields = Vec::new();
        if kind.is_none_or(|k| k == EventKind::Proxy) {
            fields.extend(standard::fields_read());
            fields.extend(WEIGHT_FIELDS);
        }
        for k in EventKind::ALL {
            if kind.is_none_or(|f| f == k) {
                fields.extend(k.fields());
            }
        }
        let mut names = field_names(&fields);
        names.extend(self.extra_names.iter().cloned());
        let mut d = self.declare(command_type, names, opts);
        d.messages = messages;
        self.state = State::Standard(Box::new(StandardState {
            scorer: Scorer::new(params.large_bytes),
            params,
            catalog,
            allowlist,
            groups: Groups::with_limits(limits),
            endpoint: EndpointGroups::with_limits(limits),
            events_mode,
            kind,
            redact: opts.bool("redact") != Some(false),
        }));
        Ok(d)
    }

    fn field_ids(&self, records: &Records<'_>) -> Vec<Option<FieldId>> {
        let fields = records.fields();
        let mut ids: Vec<Option<FieldId>> = Field::KNOWN
            .iter()
            .copied()
            .chain((0..Field::AUDIT_ARGS).map(Field::AuditArg))
            .map(|f| f.aliases().iter().find_map(|n| fields.id(n)))
            .collect();
        // A `count` alone is just a field of raw events; rows are pre-aggregated only when
        // they look like tstats/stats output (data-model names, first/last times, byte sums).
        let aggregated = [
            Field::FirstTime,
            Field::LastTime,
            Field::SumBytes,
            Field::MaxBytes,
        ]
        .iter()
        .any(|f| ids[f.index()].is_some())
            || fields.names().iter().any(|n| n.starts_with("Web."));
        if !aggregated {
            ids[Field::Count.index()] = None;
        }
        ids.extend(self.extra_names.iter().map(|n| fields.id(n)));
        ids
    }
}

/// The map phase's output columns: the format version and the partial state (JSON).
pub const PARTIAL_VERSION_FIELD: &str = "aidetect_partial";
pub const PARTIAL_STATE_FIELD: &str = "aidetect_state";

impl AiDetect {
    /// Map phase: the chunk's groups (and counters) as partial states, state cleared.
    fn emit_partials(&mut self, out: &mut Output) {
        let (kind, states, counters) = match &mut self.state {
            State::Seed { groups, .. } => {
                let t = std::mem::take(&mut groups.tripped);
                let c = serde_json::json!({"kind": "counters", "keyless": groups.keyless_events, "browser": 0,
                    "overflow": t.overflow_events, "dropped": t.dropped_values});
                groups.keyless_events = 0;
                ("seed", groups.drain_partials(), c)
            }
            State::Standard(st) => {
                let mut t = std::mem::take(&mut st.groups.tripped);
                t.merge(std::mem::take(&mut st.endpoint.tripped));
                let c = serde_json::json!({"kind": "counters", "keyless": 0, "browser": st.scorer.browser_events,
                    "overflow": t.overflow_events, "dropped": t.dropped_values});
                st.scorer.browser_events = 0;
                let mut states = st.groups.drain_partials();
                for mut e in st.endpoint.drain_partials() {
                    e["kind"] = serde_json::Value::String("endpoint".to_string());
                    states.push(e);
                }
                ("standard", states, c)
            }
        };
        let mut push = |state: serde_json::Value| {
            out.records.push([
                (
                    PARTIAL_VERSION_FIELD,
                    Cell::Text(partial::VERSION.to_string()),
                ),
                (PARTIAL_STATE_FIELD, Cell::Text(state.to_string())),
            ]);
        };
        for mut state in states {
            if state.get("kind").is_none() {
                state["kind"] = serde_json::Value::String(kind.to_string());
            }
            push(state);
        }
        push(counters);
    }

    /// Reduce phase: merges one partial state from a map phase.
    fn merge_partial(&mut self, version: &[u8], state: &[u8]) -> Result<(), PartialError> {
        if version != partial::VERSION.as_bytes() {
            return Err(PartialError::Version {
                found: String::from_utf8_lossy(version).into_owned(),
            });
        }
        let v: serde_json::Value =
            serde_json::from_slice(state).map_err(|_| partial::malformed("state is not JSON"))?;
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        match (kind, &mut self.state) {
            ("counters", state) => {
                let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
                let t = Tripped {
                    overflow_events: n("overflow"),
                    dropped_values: n("dropped"),
                };
                match state {
                    State::Seed { groups, .. } => {
                        groups.keyless_events += n("keyless");
                        groups.tripped.merge(t);
                    }
                    State::Standard(st) => {
                        st.scorer.browser_events += n("browser");
                        st.groups.tripped.merge(t);
                    }
                }
                Ok(())
            }
            ("seed", State::Seed { groups, .. }) => groups.merge_partial(&v),
            ("standard", State::Standard(st)) => st.groups.merge_partial(&v),
            ("endpoint", State::Standard(st)) => st.endpoint.merge_partial(&v),
            (other, _) => Err(partial::malformed(&format!(
                "the map phase ran profile {other:?}, not this search's profile"
            ))),
        }
    }
}

/// `aidetect phase="map" <the options given>`: what the indexers run.
fn map_invocation(opts: &Options) -> String {
    let mut s = String::from("aidetect phase=\"map\"");
    for name in opts.given() {
        if matches!(
            name,
            "distributed" | "phase" | "limit" | "min_score" | "min_risk" | "allowlisted"
        ) {
            continue; // decided by the reduce phase alone
        }
        let value = opts.raw(name).unwrap_or_default();
        s.push(' ');
        s.push_str(name);
        s.push('=');
        s.push_str(&serde_json::Value::String(value.to_string()).to_string());
    }
    s
}

/// Every name `fields` may be read from (own names, `Web.` names, pre-aggregated names).
fn field_names(fields: &[Field]) -> Vec<String> {
    let mut names: Vec<String> = fields.iter().flat_map(|f| f.aliases()).collect();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Fields of pre-aggregated input (`tstats count ...`), read by every profile.
const WEIGHT_FIELDS: [Field; 5] = [
    Field::Count,
    Field::SumBytes,
    Field::MaxBytes,
    Field::FirstTime,
    Field::LastTime,
];

/// The rows that `ranked` shows, by their index; the others are freed.
fn shown_only(
    rows: Vec<Row>,
    endpoint_rows: Vec<EndpointRow>,
    ranked: &[(bool, u8, Result<usize, usize>)],
) -> (Vec<Option<Row>>, Vec<Option<EndpointRow>>) {
    let mut keep = (vec![false; rows.len()], vec![false; endpoint_rows.len()]);
    for (_, _, at) in ranked {
        match *at {
            Ok(i) => keep.0[i] = true,
            Err(i) => keep.1[i] = true,
        }
    }
    let rows = rows.into_iter().zip(keep.0).map(|(r, k)| k.then_some(r));
    let endpoint_rows = endpoint_rows
        .into_iter()
        .zip(keep.1)
        .map(|(r, k)| k.then_some(r));
    (rows.collect(), endpoint_rows.collect())
}

/// Replaces API keys in every text cell (unless `redact=false`).
fn redacted(cells: Vec<(&str, Cell)>, redact: bool) -> Vec<(&str, Cell)> {
    if !redact {
        return cells;
    }
    let clean = |s: String| scrub(Cow::Owned(s), true).into_owned();
    cells
        .into_iter()
        .map(|(name, cell)| {
            let cell = match cell {
                Cell::Text(s) => Cell::Text(clean(s)),
                Cell::List(items) => Cell::List(items.into_iter().map(clean).collect()),
                Cell::Encoded(e) => {
                    // Its items cannot be redacted once encoded: such cells are built
                    // redacted (`standard_cells`) and never come here.
                    debug_assert!(false, "an encoded list reached `redacted`");
                    Cell::Encoded(e)
                }
                other @ (Cell::Null | Cell::Int(_) | Cell::Number(_)) => other,
            };
            (name, cell)
        })
        .collect()
}

/// `mode=events`: one row of the reply: the event as it came (so splunkd's merge keeps every
/// field, with API keys redacted), then the `ai_*` fields in `EVENT_FIELDS` order.
fn annotate(
    rows: &mut CsvRows,
    record: &Record<'_>,
    input: &[FieldId],
    ai: Vec<(&'static str, Cell)>,
    redact: bool,
) {
    for &id in input {
        match record.get(id) {
            Value::Null => rows.cell(b"", b""),
            Value::One(v) if !redact => rows.cell(v, b""),
            Value::One(v) => {
                let text = String::from_utf8_lossy(v);
                rows.cell(keys::redact(&text).as_bytes(), b"");
            }
            Value::Many(items) => {
                let items = items.iter().map(|v| text(v)).collect();
                let cells = redacted(vec![("", Cell::List(items))], redact);
                rows.put(&cells[0].1);
            }
        }
    }
    let ai = redacted(ai, redact);
    for column in EVENT_FIELDS {
        match ai.iter().find(|(name, _)| *name == column) {
            Some((_, cell)) => rows.put(cell),
            None => rows.cell(b"", b""),
        }
    }
    rows.end_row();
}

/// The key values of an endpoint finding: `by=` keys where they apply, else machine and user.
fn endpoint_keys<E: Event>(event: &E, f: &Finding<'_>, keys: &[Key]) -> Vec<String> {
    let or = |v: &Option<String>, none: &str| v.clone().unwrap_or_else(|| none.to_string());
    keys.iter()
        .map(|k| match k {
            Key::Src | Key::Host => or(&f.machine, endpoint::NO_MACHINE),
            Key::User => or(&f.user, standard::NO_USER),
            Key::Provider => f.provider().to_string(),
            Key::Category => f.category().to_string(),
            Key::Client => f.client.label(),
            Key::Field(n, _) => event
                .first(Field::Extra(*n))
                .map_or_else(|| standard::NO_VALUE.to_string(), |v| text(&v)),
        })
        .collect()
}

/// The column of a key in endpoint rows: the machine is `host`.
fn endpoint_column(k: &Key) -> &str {
    match k {
        Key::Src | Key::Host => "host",
        other => other.column(),
    }
}

fn endpoint_cells<'k>(row: &EndpointRow, keys: &'k [Key]) -> Vec<(&'k str, Cell)> {
    let g = &row.group;
    let mut cells: Vec<(&str, Cell)> = keys
        .iter()
        .zip(&row.keys)
        .map(|(k, v)| (endpoint_column(k), Cell::Text(v.clone())))
        .collect();
    cells.extend([
        ("Events", Cell::Int(g.events as i64)),
        ("Kinds", strings(&g.kinds)),
        ("Processes", strings(&g.processes)),
        ("ParentProcesses", strings(&g.parents)),
        ("AIServices", strings(&g.services)),
        ("FirstSeen", number(g.first_seen)),
        ("LastSeen", number(g.last_seen)),
        ("Providers", strings(&g.providers)),
        ("Categories", strings(&g.categories)),
        ("Clients", strings(&g.clients)),
        ("Reasons", Cell::List(g.reasons())),
        ("RiskScore", Cell::Int(i64::from(g.risk_score()))),
        (
            "Allowlisted",
            row.allowlisted.clone().map_or(Cell::Null, Cell::Text),
        ),
    ]);
    cells
}

fn endpoint_event_cells(f: Option<&Finding<'_>>) -> Vec<(&'static str, Cell)> {
    let Some(f) = f else {
        return Vec::new();
    };
    let mut reasons: Vec<String> = endpoint::signal_names(f.signals)
        .map(String::from)
        .collect();
    reasons.push(format!("client_{}", f.client.class.name()));
    vec![
        ("ai_kind", Cell::Text(f.kind.name().to_string())),
        ("ai_provider", Cell::Text(f.provider().to_string())),
        ("ai_category", Cell::Text(f.category().to_string())),
        ("ai_client", Cell::Text(f.client.label())),
        ("ai_score", Cell::Int(i64::from(f.score))),
        ("ai_reasons", Cell::List(reasons)),
        (
            "ai_allowlisted",
            f.allowlisted.clone().map_or(Cell::Null, Cell::Text),
        ),
    ]
}

impl Command for AiDetect {
    fn getinfo(&mut self, info: &SearchInfo) -> Result<Declaration, CommandError> {
        let opts =
            options::parse(&info.args, OPTIONS).map_err(|e| CommandError::new(e.to_string()))?;
        if let Some(level) = opts.text("loglevel").and_then(diag::parse_level) {
            diag::set_level(level);
        }
        self.configure(&opts)
    }

    fn execute(&mut self, records: &mut Records<'_>, out: &mut Output) -> Result<(), CommandError> {
        let ids = self.field_ids(records);
        let columns: Vec<Columns> = ids
            .iter()
            .map(|id| id.map_or(Columns::ABSENT, |id| records.fields().columns(id)))
            .collect();
        let names: Vec<String> = records.fields().names().to_vec();
        // mode=events writes its reply row by row: every field that came, then the ai_* fields.
        let input_ids: Vec<FieldId> = names
            .iter()
            .filter_map(|n| records.fields().id(n))
            .collect();
        let mut rows = match &self.state {
            State::Standard(st) if st.events_mode => {
                let columns: Vec<&str> = names
                    .iter()
                    .map(String::as_str)
                    .chain(EVENT_FIELDS)
                    .collect();
                Some(CsvRows::new(&columns))
            }
            _ => None,
        };
        let partial_ids = (
            records.fields().id(PARTIAL_VERSION_FIELD),
            records.fields().id(PARTIAL_STATE_FIELD),
        );
        // A chunk without any endpoint field holds proxy events only: no need to recognise
        // each event's kind.
        let endpoint_fields = endpoint::ENDPOINT_SIGNS
            .iter()
            .any(|f| ids.get(f.index()).is_some_and(Option::is_some));
        while let Some(record) = records.next().map_err(|e| {
            CommandError::new(format!("{e}. The input is not the CSV splunkd sends"))
        })? {
            if let (Some(v), Some(st)) = partial_ids
                && let Some(version) = record.cell(v).filter(|c| !c.is_empty())
            {
                self.merge_partial(version, record.cell(st).unwrap_or_default())
                    .map_err(|e| CommandError::new(e.to_string()))?;
                continue;
            }
            self.events_in += 1;
            let event = RecordEvent {
                record,
                ids: &ids,
                columns: &columns,
            };
            match &mut self.state {
                State::Seed { params, groups } => {
                    if let Some(features) = score_event(&event, params) {
                        groups.add(&event, &features);
                    }
                }
                State::Standard(st) => {
                    let st = &mut **st;
                    let kind = st.kind.unwrap_or_else(|| {
                        if endpoint_fields {
                            endpoint::recognise(&event)
                        } else {
                            EventKind::Proxy
                        }
                    });
                    if kind == EventKind::Proxy {
                        let features = st.scorer.score(&event, &st.catalog, &st.allowlist);
                        if let Some(rows) = rows.as_mut() {
                            let cells = event_cells(features.as_ref());
                            annotate(rows, &record, &input_ids, cells, st.redact);
                        } else if let Some(f) = features {
                            st.groups.add(&event, &f, &st.params.keys);
                        }
                    } else {
                        let finding = endpoint::analyse(&event, kind, &st.catalog, &st.allowlist);
                        if let Some(rows) = rows.as_mut() {
                            let cells = endpoint_event_cells(finding.as_ref());
                            annotate(rows, &record, &input_ids, cells, st.redact);
                        } else if let Some(f) = finding {
                            let keys = endpoint_keys(&event, &f, &st.params.keys);
                            st.endpoint.add(keys, &f);
                        }
                    }
                }
            }
        }
        if let Some(rows) = rows {
            out.body = Some(rows.finish());
        }
        if self.map_phase {
            self.emit_partials(out);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        let limit = self.limit;
        let note_limit = |out: &mut Output, qualified: usize, shown: usize| {
            if shown < qualified {
                out.messages.push((
                    Level::Warn,
                    format!("{qualified} groups qualified; only the first {shown} are shown (raise limit=, or limit=0 for all)"),
                ));
            }
        };
        match &mut self.state {
            State::Seed { params, groups } => {
                let groups = std::mem::take(&mut **groups);
                let keyless = groups.keyless_events;
                for w in groups.tripped.warnings(&groups.limits) {
                    out.messages.push((Level::Warn, w));
                }
                let (rows, qualified) = groups.finish(params, limit);
                for row in &rows {
                    out.records.push(seed_cells(row));
                }
                note_limit(out, qualified, rows.len());
                if keyless > 0 {
                    out.messages.push((
                        Level::Info,
                        format!("{keyless} matching events had no src_ip or no user and were not counted, as in the seed search"),
                    ));
                }
            }
            State::Standard(st) => {
                let StandardState {
                    params,
                    scorer,
                    groups,
                    endpoint,
                    events_mode,
                    redact,
                    ..
                } = &mut **st;
                if scorer.browser_events > 0 {
                    out.messages.push((
                        Level::Info,
                        format!("{} events to AI services came from web browsers (human use) and were not scored", scorer.browser_events),
                    ));
                }
                if *events_mode {
                    return Ok(());
                }
                let groups = std::mem::take(groups);
                let allowlisted = groups.allowlisted_events + endpoint.allowlisted_events;
                let mut tripped = groups.tripped;
                tripped.merge(endpoint.tripped);
                for w in tripped.warnings(&groups.limits) {
                    out.messages.push((Level::Warn, w));
                }
                // The first `limit` of the merged ranking come from the first `limit` of
                // each list, so the proxy groups are cut (and only those sorted) at once.
                let (rows, qualified_rows) = groups.finish(params, limit);
                let endpoint_rows =
                    std::mem::take(endpoint).finish(params.min_risk, params.hide_allowlisted);
                let qualified = qualified_rows + endpoint_rows.len();
                // Proxy and endpoint rows in one ranking: not allowlisted first, then RiskScore.
                // Each list is sorted already; rank by index, cut to the limit and free the
                // rows not shown. The reply is written row by row: one pass finds its header
                // (columns, and which have lists), the next writes each row and frees its
                // group at once. Only one row's cells are ever held, and the groups and the
                // reply never fill memory together.
                let mut ranked: Vec<(bool, u8, Result<usize, usize>)> =
                    rows.iter()
                        .enumerate()
                        .map(|(i, r)| (r.allowlisted.is_some(), r.group.risk_score(), Ok(i)))
                        .chain(
                            endpoint_rows.iter().enumerate().map(|(i, r)| {
                                (r.allowlisted.is_some(), r.group.risk_score(), Err(i))
                            }),
                        )
                        .collect();
                ranked.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                if limit > 0 {
                    ranked.truncate(limit);
                }
                let (mut rows, mut endpoint_rows) = shown_only(rows, endpoint_rows, &ranked);
                // Rows already in the reply (the last chunk's partial states, in the map
                // phase) cannot share it with a body: then the rows join them as records.
                let stream = out.records.is_empty() && !ranked.is_empty();
                let mut layout = Layout::new();
                for (_, _, at) in if stream { &ranked[..] } else { &[] } {
                    // Redaction maps text to text, item for item: the layout is the same.
                    match *at {
                        Ok(i) => layout.observe_shape(&standard_shape(
                            rows[i].as_ref().expect("shown"),
                            &params.keys,
                        )),
                        Err(i) => layout.observe(&endpoint_cells(
                            endpoint_rows[i].as_ref().expect("shown"),
                            &params.keys,
                        )),
                    }
                }
                let mut reply = stream.then(|| layout.rows());
                for (_, _, at) in &ranked {
                    let cells = match *at {
                        Ok(i) => standard_cells(
                            rows[i].take().expect("ranked once"),
                            &params.keys,
                            *redact,
                        ),
                        Err(i) => redacted(
                            endpoint_cells(
                                &endpoint_rows[i].take().expect("ranked once"),
                                &params.keys,
                            ),
                            *redact,
                        ),
                    };
                    match &mut reply {
                        Some(reply) => reply.push(cells),
                        None => out.records.push(cells),
                    }
                }
                if let Some(reply) = reply {
                    out.body = Some(reply.finish());
                }
                let shown = ranked.len();
                note_limit(out, qualified, shown);
                if allowlisted > 0 && params.hide_allowlisted {
                    out.messages.push((
                        Level::Info,
                        format!("{allowlisted} allowlisted events are hidden (allowlisted=hide)"),
                    ));
                }
            }
        }
        diag::log(Level::Info, &format!("{} events in", self.events_in));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::byteset::{ByteSet, StrSet};
    use crate::detect::standard::{Group, Reasons};

    /// The layout pass reads `standard_shape`; the rows are written from `standard_cells`.
    /// They must agree column for column, for sets of every size.
    #[test]
    fn the_shape_of_a_standard_row_is_that_of_its_cells() {
        let labels = |n: usize| {
            let mut set = StrSet::new();
            for i in 0..n {
                set.insert(&format!("v{i}"));
            }
            set
        };
        let bytes = |n: usize| (0..n).map(|i| format!("/p{i}")).collect::<ByteSet>();
        let keys = [Key::Src, Key::User, Key::Field(0, "dept".to_string())];
        let mut rng = crate::test_rng::Rng(0x5eed_0000_1234_5678);
        let mut lists = 0;
        for _ in 0..500 {
            let mut n = || rng.below(3);
            let group = Group {
                ai_services: labels(n()),
                endpoint_paths: bytes(n()),
                user_agents: labels(n()),
                providers: labels(n()),
                categories: labels(n()),
                clients: labels(n()),
                sources: bytes(n()),
                reasons: Reasons::from_bits(rng.below(64) as u32, rng.below(16) as u32),
                ..Group::default()
            };
            let row = Row {
                keys: vec!["10.0.0.1".into(), "alice".into(), "eng".into()],
                allowlisted: None,
                group,
            };
            let from_cells: Vec<(&str, bool)> = standard_cells(row.clone(), &keys, false)
                .iter()
                .map(|(name, cell)| (*name, cell.is_multi()))
                .collect();
            lists += from_cells.iter().filter(|(_, multi)| *multi).count();
            assert_eq!(standard_shape(&row, &keys), from_cells);
        }
        assert!(lists > 1000, "{lists}");
    }
}
