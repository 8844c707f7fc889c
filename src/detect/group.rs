//! Per-(src_ip, user) state: folded event by event, finalised into rows.

use super::event::{Event, Field};
use super::seed::{SeedFeatures, SeedParams};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// The aggregates of one seed group (`stats … by src_ip, user`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeedGroup {
    pub requests: u64,
    /// Sum of the non-null `BytesUploaded`; `None` while all were null.
    pub total_bytes: Option<f64>,
    pub ai_services: BTreeSet<Vec<u8>>,
    pub endpoint_paths: BTreeSet<Vec<u8>>,
    pub user_agents: BTreeSet<Vec<u8>>,
    pub max_score: u8,
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
    groups: HashMap<Vec<u8>, SeedGroup>,
    key: Vec<u8>,
    /// Events that passed the filters but had no `src_ip` or no `user` (lost, as in SPL).
    pub keyless_events: u64,
}

fn push_key(key: &mut Vec<u8>, src: &[u8], user: &[u8]) {
    key.clear();
    key.extend_from_slice(&(src.len() as u64).to_le_bytes());
    key.extend_from_slice(src);
    key.extend_from_slice(user);
}

fn split_key(key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (len, rest) = key.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    (rest[..len].to_vec(), rest[len..].to_vec())
}

fn insert_value(set: &mut BTreeSet<Vec<u8>>, value: &[u8]) {
    if !set.contains(value) {
        set.insert(value.to_vec());
    }
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
        let mut srcs: Vec<&[u8]> = Vec::new();
        let mut users: Vec<&[u8]> = Vec::new();
        // `each` hands out values borrowed from the event for the duration of the call only;
        // copy the (rare) multivalue keys, borrow the first value otherwise.
        let mut owned_srcs: Vec<Vec<u8>> = Vec::new();
        let mut owned_users: Vec<Vec<u8>> = Vec::new();
        event.each(Field::SrcIp, &mut |v| owned_srcs.push(v.to_vec()));
        event.each(Field::User, &mut |v| owned_users.push(v.to_vec()));
        srcs.extend(owned_srcs.iter().map(|v| v.as_slice()));
        users.extend(owned_users.iter().map(|v| v.as_slice()));
        if srcs.is_empty() || users.is_empty() {
            self.keyless_events += 1;
            return;
        }
        for src in &srcs {
            for user in &users {
                push_key(&mut self.key, src, user);
                let group = match self.groups.get_mut(self.key.as_slice()) {
                    Some(g) => g,
                    None => self.groups.entry(self.key.clone()).or_default(),
                };
                group.requests += 1;
                if let Some(b) = features.bytes_uploaded {
                    *group.total_bytes.get_or_insert(0.0) += b;
                }
                event.each(Field::DestHost, &mut |h| {
                    insert_value(&mut group.ai_services, h)
                });
                event.each(Field::UriPath, &mut |p| {
                    insert_value(&mut group.endpoint_paths, p)
                });
                insert_value(&mut group.user_agents, &features.user_agent);
                group.max_score = group.max_score.max(features.score);
            }
        }
    }

    /// Keeps groups with `Requests > 0 AND MaxSuspicionScore >= min_score`, sorts by
    /// `TotalBytesUploaded` descending (nulls last; ties by `src_ip`, then `user`) and keeps
    /// at most `limit` rows (0 = all). Returns the rows and how many groups qualified.
    pub fn finish(self, params: &SeedParams, limit: usize) -> (Vec<SeedRow>, usize) {
        let mut rows: Vec<SeedRow> = self
            .groups
            .into_iter()
            .filter(|(_, g)| g.requests > 0 && i64::from(g.max_score) >= params.min_score)
            .map(|(key, group)| {
                let (src_ip, user) = split_key(&key);
                SeedRow {
                    src_ip,
                    user,
                    group,
                }
            })
            .collect();
        let qualified = rows.len();
        rows.sort_by(compare_rows);
        if limit > 0 {
            rows.truncate(limit);
        }
        (rows, qualified)
    }
}

fn compare_rows(a: &SeedRow, b: &SeedRow) -> Ordering {
    let by_total = match (a.group.total_bytes, b.group.total_bytes) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_total
        .then_with(|| a.src_ip.cmp(&b.src_ip))
        .then_with(|| a.user.cmp(&b.user))
}
