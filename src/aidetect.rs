//! The `aidetect` command: options → profile; wires the detection into the protocol.

use crate::detect::group::{SeedGroups, SeedRow};
use crate::detect::seed::{SEED_FIELDS, SeedParams, score_event};
use crate::detect::{Event, Field};
use crate::protocol::options::{self, Kind, Spec};
use crate::protocol::{
    Cell, Command, CommandError, CommandType, Declaration, FieldId, Level, Output, Record, Records,
    SearchInfo, Value, diag,
};
use std::borrow::Cow;

/// The options `| aidetect` accepts (searchbnf.conf and the README document each).
pub const OPTIONS: &[Spec] = &[
    Spec {
        name: "profile",
        kind: Kind::Choice(&["seed"]),
        default: "seed",
        help: "which detection runs: seed = the original SPL search, rule for rule",
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
        default: "1",
        help: "keep groups whose highest suspicion score is at least this",
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
        name: "loglevel",
        kind: Kind::Choice(&["debug", "info", "warn", "error"]),
        default: "warn",
        help: "diagnostics written to search.log",
    },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Seed,
}

/// The command's state across chunks.
#[derive(Debug)]
pub struct AiDetect {
    profile: Profile,
    params: SeedParams,
    limit: usize,
    groups: SeedGroups,
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
            profile: Profile::Seed,
            params: SeedParams::default(),
            limit: 10_000,
            groups: SeedGroups::new(),
            events_in: 0,
        }
    }
}

/// A record seen through the detection's field names.
struct RecordEvent<'r> {
    record: Record<'r>,
    ids: &'r [Option<FieldId>; Field::ALL.len()],
}

impl Event for RecordEvent<'_> {
    fn first(&self, field: Field) -> Option<Cow<'_, [u8]>> {
        let id = self.ids[field.index()]?;
        match self.record.get(id) {
            Value::Null => None,
            Value::One(v) => Some(Cow::Borrowed(v)),
            Value::Many(items) => items.into_iter().find(|v| !v.is_empty()),
        }
    }

    fn each(&self, field: Field, visit: &mut dyn FnMut(&[u8])) {
        let Some(id) = self.ids[field.index()] else {
            return;
        };
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

fn list(set: &std::collections::BTreeSet<Vec<u8>>) -> Cell {
    Cell::List(set.iter().map(|v| text(v)).collect())
}

fn seed_cells(row: &SeedRow) -> [(&'static str, Cell); 9] {
    let g = &row.group;
    [
        ("src_ip", Cell::Text(text(&row.src_ip))),
        ("user", Cell::Text(text(&row.user))),
        ("Requests", Cell::Int(g.requests as i64)),
        (
            "TotalBytesUploaded",
            g.total_bytes.map_or(Cell::Null, Cell::Number),
        ),
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

impl Command for AiDetect {
    fn getinfo(&mut self, info: &SearchInfo) -> Result<Declaration, CommandError> {
        let opts =
            options::parse(&info.args, OPTIONS).map_err(|e| CommandError::new(e.to_string()))?;
        if let Some(level) = opts.text("loglevel").and_then(diag::parse_level) {
            diag::set_level(level);
        }
        self.profile = match opts.text("profile") {
            Some("seed") | None => Profile::Seed,
            Some(other) => unreachable!("option parser admitted profile {other}"),
        };
        if let Some(b) = opts.int("large_bytes") {
            self.params.large_bytes = b;
        }
        if let Some(s) = opts.int("min_score") {
            self.params.min_score = s;
        }
        if let Some(l) = opts.int("limit") {
            self.limit = usize::try_from(l).unwrap_or(usize::MAX);
        }
        let mut declaration = Declaration::new(CommandType::Reporting);
        declaration.required_fields =
            Some(SEED_FIELDS.iter().map(|f| f.name().to_string()).collect());
        Ok(declaration)
    }

    fn execute(
        &mut self,
        records: &mut Records<'_>,
        _out: &mut Output,
    ) -> Result<(), CommandError> {
        let mut ids = [None; Field::ALL.len()];
        for f in Field::ALL {
            ids[f.index()] = records.fields().id(f.name());
        }
        while let Some(record) = records.next().map_err(|e| {
            CommandError::new(format!("{e}. The input is not the CSV splunkd sends"))
        })? {
            self.events_in += 1;
            let event = RecordEvent { record, ids: &ids };
            match self.profile {
                Profile::Seed => {
                    if let Some(features) = score_event(&event, &self.params) {
                        self.groups.add(&event, &features);
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        let groups = std::mem::take(&mut self.groups);
        let keyless = groups.keyless_events;
        let total = groups.len();
        let rows = groups.finish(&self.params, self.limit);
        for row in &rows {
            out.records.push(seed_cells(row));
        }
        if keyless > 0 {
            out.messages.push((
                Level::Info,
                format!(
                    "{keyless} matching events had no src_ip or no user and were not counted, as in the seed search"
                ),
            ));
        }
        diag::log(
            Level::Info,
            &format!(
                "{} events in, {total} groups, {} rows out",
                self.events_in,
                rows.len()
            ),
        );
        Ok(())
    }
}
