//! Per-(src_ip, user) state of `profile=seed`: folded event by event, merged across map
//! outputs, finalised into rows.

use super::byteset::ByteSet;
use super::event::{Event, Field};
use super::guard::{self, Limits, OVERFLOW, Tripped};
use super::partial::{self, PartialError};
use super::seed::{SeedFeatures, SeedParams};
use super::sum::ExactSum;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The aggregates of one seed group (`stats … by src_ip, user`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeedGroup {
    pub requests: u64,
    /// Sum of the non-null `BytesUploaded`; `None` while all were null.
    pub bytes: Option<ExactSum>,
    pub ai_services: ByteSet,
    pub endpoint_paths: ByteSet,
    pub user_agents: ByteSet,
    pub max_score: u8,
}

impl SeedGroup {
    fn merge_capped(&mut self, other: &SeedGroup, limits: &Limits, tripped: &mut Tripped) {
        self.requests += other.requests;
        if let Some(b) = &other.bytes {
            self.bytes.get_or_insert_with(ExactSum::new).merge(b);
        }
        guard::union_bytes(&mut self.ai_services, &other.ai_services, limits, tripped);
        guard::union_bytes(
            &mut self.endpoint_paths,
            &other.endpoint_paths,
            limits,
            tripped,
        );
        guard::union_bytes(&mut self.user_agents, &other.user_agents, limits, tripped);
        self.max_score = self.max_score.max(other.max_score);
    }

    /// `TotalBytesUploaded`, exactly rounded (independent of event order).
    pub fn total_bytes(&self) -> Option<f64> {
        self.bytes.as_ref().map(ExactSum::value)
    }
}

/// One output row of `profile=seed`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRow {
    pub src_ip: Vec<u8>,
    pub user: Vec<u8>,
    pub group: SeedGroup,
}

impl SeedRow {
    /// `dc(src_ip)` within a group keyed by one `src_ip` value.
    pub const UNIQUE_SOURCE_IPS: u64 = 1;
}

/// All seed groups of a search. Memory grows with groups and distinct values only.
#[derive(Debug, Default)]
pub struct SeedGroups {
    groups: HashMap<Vec<u8>, SeedGroup, foldhash::fast::RandomState>,
    key: Vec<u8>,
    pub limits: Limits,
    /// What the guards cut.
    pub tripped: Tripped,
    /// Events that passed the filters but had no `src_ip` or no `user` (lost, as in SPL).
    pub keyless_events: u64,
}

fn push_key(key: &mut Vec<u8>, src: &[u8], user: &[u8]) {
    key.clear();
    key.extend_from_slice(&(src.len() as u64).to_le_bytes());
    key.extend_from_slice(src);
    key.extend_from_slice(user);
}

/// The group of `key`; past `max_groups` a new key is replaced by the overflow key.
fn group_of<'g>(
    groups: &'g mut HashMap<Vec<u8>, SeedGroup, foldhash::fast::RandomState>,
    key: &mut Vec<u8>,
    limits: &Limits,
    tripped: &mut Tripped,
    events: u64,
) -> &'g mut SeedGroup {
    if !groups.contains_key(key.as_slice()) {
        if groups.len() >= limits.max_groups {
            tripped.overflow_events += events;
            push_key(key, OVERFLOW.as_bytes(), OVERFLOW.as_bytes());
        }
        if !groups.contains_key(key.as_slice()) {
            groups.insert(key.clone(), SeedGroup::default());
        }
    }
    groups.get_mut(key.as_slice()).expect("present")
}

fn split_key(key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (len, rest) = key.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    (rest[..len].to_vec(), rest[len..].to_vec())
}

impl SeedGroups {
    pub fn new() -> SeedGroups {
        SeedGroups::default()
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Folds one scored event into the group of every (`src_ip`, `user`) value pair.
    pub fn add<E: Event>(&mut self, event: &E, features: &SeedFeatures<'_>) {
        let mut srcs: Vec<Vec<u8>> = Vec::new();
        let mut users: Vec<Vec<u8>> = Vec::new();
        event.each(Field::SrcIp, &mut |v| srcs.push(v.to_vec()));
        event.each(Field::User, &mut |v| users.push(v.to_vec()));
        if srcs.is_empty() || users.is_empty() {
            self.keyless_events += features.weight;
            return;
        }
        let limits = self.limits;
        for src in &srcs {
            for user in &users {
                push_key(&mut self.key, src, user);
                let t = &mut self.tripped;
                let group = group_of(&mut self.groups, &mut self.key, &limits, t, features.weight);
                group.requests += features.weight;
                if let Some(b) = features.bytes_total {
                    group.bytes.get_or_insert_with(ExactSum::new).add(b);
                }
                event.each(Field::DestHost, &mut |h| {
                    guard::insert_bytes(&mut group.ai_services, h, &limits, t)
                });
                event.each(Field::UriPath, &mut |p| {
                    guard::insert_bytes(&mut group.endpoint_paths, p, &limits, t)
                });
                guard::insert_bytes(&mut group.user_agents, &features.user_agent, &limits, t);
                group.max_score = group.max_score.max(features.score);
            }
        }
    }

    /// The groups as partial-state JSON values (for the map phase), then cleared.
    pub fn drain_partials(&mut self) -> Vec<Value> {
        self.groups
            .drain()
            .map(|(key, g)| {
                let (src, user) = split_key(&key);
                json!({
                    "src": partial::bytes_to_json(&src),
                    "user": partial::bytes_to_json(&user),
                    "n": g.requests,
                    "b": partial::sum_to_json(&g.bytes),
                    "svc": partial::byte_set_to_json(&g.ai_services),
                    "paths": partial::byte_set_to_json(&g.endpoint_paths),
                    "ua": partial::byte_set_to_json(&g.user_agents),
                    "s": g.max_score,
                })
            })
            .collect()
    }

    /// Merges one partial-state value from a map phase.
    pub fn merge_partial(&mut self, v: &Value) -> Result<(), PartialError> {
        let get = |k: &str| v.get(k).ok_or_else(|| partial::malformed(k));
        let g = SeedGroup {
            requests: partial::u64_from_json(get("n")?)?,
            bytes: partial::sum_from_json(get("b")?)?,
            ai_services: partial::byte_set_from_json(get("svc")?)?,
            endpoint_paths: partial::byte_set_from_json(get("paths")?)?,
            user_agents: partial::byte_set_from_json(get("ua")?)?,
            max_score: u8::try_from(partial::u64_from_json(get("s")?)?)
                .map_err(|_| partial::malformed("score"))?,
        };
        let src = partial::bytes_from_json(get("src")?)?;
        let user = partial::bytes_from_json(get("user")?)?;
        let limits = self.limits;
        push_key(&mut self.key, &src, &user);
        let t = &mut self.tripped;
        group_of(&mut self.groups, &mut self.key, &limits, t, g.requests)
            .merge_capped(&g, &limits, t);
        Ok(())
    }

    /// Keeps groups with `Requests > 0 AND MaxSuspicionScore >= min_score`, sorts by
    /// `TotalBytesUploaded` descending (nulls last; ties by `src_ip`, then `user`) and keeps
    /// at most `limit` rows (0 = all). Returns the rows and how many groups qualified.
    pub fn finish(self, params: &SeedParams, limit: usize) -> (Vec<SeedRow>, usize) {
        let mut rows: Vec<(Option<f64>, SeedRow)> = self
            .groups
            .into_iter()
            .filter(|(_, g)| g.requests > 0 && i64::from(g.max_score) >= params.min_score)
            .map(|(key, group)| {
                let (src_ip, user) = split_key(&key);
                (
                    group.total_bytes(),
                    SeedRow {
                        src_ip,
                        user,
                        group,
                    },
                )
            })
            .collect();
        let qualified = rows.len();
        rows.sort_by(|(ta, a), (tb, b)| compare_rows(*ta, a, *tb, b));
        if limit > 0 {
            rows.truncate(limit);
        }
        (rows.into_iter().map(|(_, r)| r).collect(), qualified)
    }
}

fn compare_rows(ta: Option<f64>, a: &SeedRow, tb: Option<f64>, b: &SeedRow) -> Ordering {
    let by_total = match (ta, tb) {
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_total
        .then_with(|| a.src_ip.cmp(&b.src_ip))
        .then_with(|| a.user.cmp(&b.user))
}
