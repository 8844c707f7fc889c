//! Per-(src_ip, user) state of `profile=seed`: folded event by event, merged across map
//! outputs, finalised into rows.

use super::byteset::ByteSet;
use super::event::{Event, Field};
use super::guard::{self, Limits, OVERFLOW, Tripped};
use super::partial::{self, PartialError};
use super::seed::{SeedFeatures, SeedParams};
use super::sum::ExactSum;
use super::table::Table;
use serde_json::{Value, json};
use std::cmp::Ordering;

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
    groups: Table<SeedGroup>,
    key: Vec<u8>,
    /// Scratch for `add`: an event's key values, and where each ends.
    values: (Vec<u8>, Vec<usize>),
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
    groups: &'g mut Table<SeedGroup>,
    key: &mut Vec<u8>,
    limits: &Limits,
    tripped: &mut Tripped,
    events: u64,
) -> &'g mut SeedGroup {
    let found = groups.lookup(key);
    groups.group(key, found, limits.max_groups, |key| {
        tripped.overflow_events += events;
        push_key(key, OVERFLOW.as_bytes(), OVERFLOW.as_bytes());
    })
}

fn split_key(key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (src, user) = key_parts(key);
    (src.to_vec(), user.to_vec())
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
        // The values of both key fields, end to end in one reused buffer (no allocation).
        let (mut values, mut ends) = std::mem::take(&mut self.values);
        values.clear();
        ends.clear();
        let mut append = |field| {
            event.each(field, &mut |v| {
                values.extend_from_slice(v);
                ends.push(values.len());
            });
            ends.len()
        };
        let nsrc = append(Field::SrcIp);
        append(Field::User);
        let value = |i: usize| &values[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        if nsrc == 0 || nsrc == ends.len() {
            self.keyless_events += features.weight;
            self.values = (values, ends);
            return;
        }
        let limits = self.limits;
        for src in (0..nsrc).map(value) {
            for user in (nsrc..ends.len()).map(value) {
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
        self.values = (values, ends);
    }

    /// The groups as partial-state JSON values (for the map phase), then cleared.
    pub fn drain_partials(&mut self) -> Vec<Value> {
        let (keys, groups) = std::mem::take(&mut self.groups).into_parts();
        keys.iter()
            .zip(groups)
            .map(|(key, g)| {
                let (src, user) = split_key(key.as_bytes());
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
    ///
    /// Each group's total is computed once; with a limit, only the groups that make the cut
    /// are sorted and taken out of the table.
    pub fn finish(self, params: &SeedParams, limit: usize) -> (Vec<SeedRow>, usize) {
        let (keys, mut groups) = self.groups.into_parts();
        let mut order: Vec<(Option<f64>, usize)> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.requests > 0 && i64::from(g.max_score) >= params.min_score)
            .map(|(at, g)| (g.total_bytes(), at))
            .collect();
        let qualified = order.len();
        let key = |at: usize| key_parts(keys[at].as_bytes());
        let by_rank = |(ta, a): &(Option<f64>, usize), (tb, b): &(Option<f64>, usize)| {
            compare_rows(*ta, key(*a), *tb, key(*b))
        };
        if limit > 0 && order.len() > limit {
            order.select_nth_unstable_by(limit - 1, by_rank);
            order.truncate(limit);
        }
        // Keys differ between groups, so the order is total and an unstable sort is exact.
        order.sort_unstable_by(by_rank);
        let rows = order
            .into_iter()
            .map(|(_, at)| {
                let (src_ip, user) = split_key(keys[at].as_bytes());
                SeedRow {
                    src_ip,
                    user,
                    group: std::mem::take(&mut groups[at]),
                }
            })
            .collect();
        (rows, qualified)
    }
}

/// The (`src_ip`, `user`) of an encoded key, borrowed.
fn key_parts(key: &[u8]) -> (&[u8], &[u8]) {
    let (len, rest) = key.split_at(8);
    rest.split_at(u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize)
}

fn compare_rows(
    ta: Option<f64>,
    a: (&[u8], &[u8]),
    tb: Option<f64>,
    b: (&[u8], &[u8]),
) -> Ordering {
    let by_total = match (ta, tb) {
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_total.then_with(|| a.cmp(&b))
}
