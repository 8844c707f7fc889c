//! `profile=standard`: the catalog, client classes, path signatures, tunnels, the allowlist
//! and an explained risk score, grouped by user-chosen keys. Nothing is lost silently.

use super::allowlist::{Allowlist, Subject};
use super::byteset::{ByteSet, StrSet};
use super::catalog::{Catalog, Service, normalize_host};
use super::client::{Client, ClientClass, classify};
use super::event::{Event, Field, coalesce, weight};
use super::guard::{self, Limits, OVERFLOW, Tripped};
use super::partial::{self, PartialError};
use super::paths::{PathShape, candidate_shape, shape_candidate};
use super::seed::{is_api_endpoint, is_post, lowercase, to_number, weighted_bytes};
use super::sum::ExactSum;
use super::table::{KeyBytes, Table};
use super::time::parse_time;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

/// Fields that may name the destination host, in order of preference.
pub const HOST_FIELDS: [Field; 9] = [
    Field::DestHost,
    Field::Dest,
    Field::Url,
    Field::HttpHost,
    Field::CsHost,
    Field::DestName,
    Field::ServerName,
    Field::SslServerName,
    Field::Query,
];
pub const SRC_FIELDS: [Field; 3] = [Field::SrcIp, Field::Src, Field::ClientIp];
pub const USER_FIELDS: [Field; 2] = [Field::User, Field::SrcUser];
pub const UA_FIELDS: [Field; 3] = [Field::HttpUserAgent, Field::CsUserAgent, Field::UserAgent];
pub const BYTES_FIELDS: [Field; 2] = [Field::BytesOut, Field::CsBytes];
pub const METHOD_FIELDS: [Field; 2] = [Field::HttpMethod, Field::CsMethod];
pub const PATH_FIELDS: [Field; 2] = [Field::UriPath, Field::CsUriStem];

/// Every named field the standard profile reads.
pub fn fields_read() -> Vec<Field> {
    let mut v: Vec<Field> = HOST_FIELDS
        .iter()
        .chain(&SRC_FIELDS)
        .chain(&USER_FIELDS)
        .chain(&UA_FIELDS)
        .chain(&BYTES_FIELDS)
        .chain(&METHOD_FIELDS)
        .chain(&PATH_FIELDS)
        .copied()
        .collect();
    v.push(Field::Time);
    v
}

/// Placeholders for keys an event lacks: the event is kept, visibly.
pub const NO_SOURCE: &str = "(no source)";
pub const NO_USER: &str = "(no user)";
pub const NO_VALUE: &str = "(none)";

/// The rules that can fire for an event, reported by name in `Reasons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    AiService,
    AiApiPath,
    ApiPathOnUnlistedHost,
    Post,
    LargeUpload,
    Tunnel,
    VoiceCloning,
    SeedHost,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::AiService,
        Reason::AiApiPath,
        Reason::ApiPathOnUnlistedHost,
        Reason::Post,
        Reason::LargeUpload,
        Reason::Tunnel,
        Reason::VoiceCloning,
        Reason::SeedHost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::AiService => "ai_service",
            Reason::AiApiPath => "ai_api_path",
            Reason::ApiPathOnUnlistedHost => "ai_api_path_on_unlisted_host",
            Reason::Post => "post",
            Reason::LargeUpload => "large_upload",
            Reason::Tunnel => "tunnel",
            Reason::VoiceCloning => "voice_cloning",
            Reason::SeedHost => "seed_host",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// The reasons of an event or a group: rule bits plus client-class bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reasons {
    rules: u32,
    clients: u32,
}

impl Reasons {
    fn add(&mut self, r: Reason) {
        self.rules |= r.bit();
    }
    fn add_client(&mut self, c: ClientClass) {
        self.clients |= 1 << (c as u8);
    }
    pub fn has(&self, r: Reason) -> bool {
        self.rules & r.bit() != 0
    }
    pub fn merge(&mut self, other: Reasons) {
        self.rules |= other.rules;
        self.clients |= other.clients;
    }
    /// Reasons from their bits, as a partial state holds them.
    #[cfg(test)]
    pub fn from_bits(rules: u32, clients: u32) -> Reasons {
        Reasons { rules, clients }
    }

    /// The names of the reasons present, in `names`' order, as static text.
    pub fn named(&self) -> impl Iterator<Item = &'static str> + '_ {
        Reason::ALL
            .iter()
            .filter(|r| self.has(**r))
            .map(|r| r.name())
            .chain(
                ClientClass::ALL
                    .iter()
                    .filter(|c| self.clients & (1 << (**c as u8)) != 0)
                    .map(|c| c.reason()),
            )
    }

    /// How many names `names` gives.
    pub fn count(&self) -> usize {
        self.named().count()
    }

    /// The rule names, then the client classes that counted (`client_<class>`).
    pub fn names(&self) -> Vec<String> {
        self.named().map(String::from).collect()
    }
}

/// Thresholds and choices of the standard profile.
#[derive(Debug, Clone)]
pub struct StandardParams {
    pub large_bytes: i64,
    /// Keep groups whose seed-style `MaxSuspicionScore` is at least this (default 0: all).
    pub min_score: i64,
    /// Keep groups whose `RiskScore` is at least this.
    pub min_risk: i64,
    pub keys: Vec<Key>,
    pub hide_allowlisted: bool,
}

impl Default for StandardParams {
    fn default() -> StandardParams {
        StandardParams {
            large_bytes: 50_000,
            min_score: 0,
            min_risk: 40,
            keys: vec![Key::Src, Key::User],
            hide_allowlisted: false,
        }
    }
}

/// A grouping key (`by=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Src,
    User,
    Host,
    Provider,
    Category,
    Client,
    /// Any other field, by name (read as `Field::Extra(n)`).
    Field(u8, String),
}

impl Key {
    /// Parses a `by=` item; `extra` numbers the raw fields.
    pub fn parse(name: &str, extra: &mut u8) -> Key {
        match name.to_ascii_lowercase().as_str() {
            "src" | "src_ip" | "source" => Key::Src,
            "user" | "src_user" => Key::User,
            "host" | "dest_host" | "dest" => Key::Host,
            "provider" => Key::Provider,
            "category" => Key::Category,
            "client" => Key::Client,
            _ => {
                *extra += 1;
                Key::Field(*extra - 1, name.to_string())
            }
        }
    }

    /// The output column.
    pub fn column(&self) -> &str {
        match self {
            Key::Src => "src_ip",
            Key::User => "user",
            Key::Host => "dest_host",
            Key::Provider => "provider",
            Key::Category => "category",
            Key::Client => "client",
            Key::Field(_, name) => name,
        }
    }
}

/// What the standard profile finds in one AI event.
#[derive(Debug, Clone, PartialEq)]
pub struct Features<'c> {
    /// The normalised host (shared with the scorer's cache: no copy per event).
    pub host: Rc<str>,
    pub service: Option<&'c Service>,
    pub shape: Option<PathShape>,
    pub client: Client,
    /// The column labels of the event, as the scorer's shared copies: one `Rc` per distinct
    /// value while the scorer's caches hold it, so a group that has the label already finds
    /// it by pointer (see `StrSet::insert_rc`).
    pub labels: EventLabels,
    /// The largest upload of the row's events (the upload, for one event).
    pub bytes: Option<f64>,
    /// The bytes of all the row's events.
    pub bytes_total: Option<f64>,
    /// How many events the row stands for (1 for a raw event).
    pub weight: u64,
    /// The seed's `IsAPIEndpoint + IsPostRequest + LargePayload`.
    pub suspicion: u8,
    /// 0–100.
    pub score: u8,
    pub reasons: Reasons,
    pub allowlisted: Option<String>,
}

/// The label values of an AI event (see `Features::labels`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventLabels {
    /// `Features::provider`.
    pub provider: Rc<str>,
    /// `Features::category`.
    pub category: Rc<str>,
    /// The user agent, lowercased (`unknown` when there is none).
    pub agent: Rc<str>,
    /// `Client::label`.
    pub client: Rc<str>,
}

impl Features<'_> {
    pub fn provider(&self) -> &str {
        self.service
            .map_or(UNLISTED_PROVIDER, |s| s.provider.as_str())
    }
    pub fn category(&self) -> &str {
        self.service
            .map_or(UNLISTED_CATEGORY, |s| s.category.as_str())
    }
}

/// The provider and category of an API path on a host the catalog does not know.
const UNLISTED_PROVIDER: &str = "unknown";
const UNLISTED_CATEGORY: &str = "ai_api_path_only";

/// A user agent's client and labels (see `EventLabels`).
#[derive(Debug, Clone)]
struct Agent {
    client: Client,
    label: Rc<str>,
    client_label: Rc<str>,
}

impl Agent {
    fn new(ua: Option<&[u8]>) -> Agent {
        let client = classify(ua);
        let label = ua.map_or_else(
            || Rc::from("unknown"),
            |a| Rc::from(String::from_utf8_lossy(&lowercase(a)).as_ref()),
        );
        Agent {
            client,
            label,
            client_label: Rc::from(client.label()),
        }
    }

    /// The agent with the shared copy of its client label.
    fn sharing(mut self, labels: &mut Labels) -> Agent {
        self.client_label = labels.get(&self.client_label);
        self
    }
}

/// Shared copies of label values, one per value (a few dozen: the catalog's providers and
/// categories, the client names).
#[derive(Debug, Default)]
struct Labels(std::collections::HashSet<Rc<str>, foldhash::fast::RandomState>);

impl Labels {
    fn get(&mut self, value: &str) -> Rc<str> {
        if let Some(shared) = self.0.get(value) {
            return shared.clone();
        }
        let shared: Rc<str> = Rc::from(value);
        self.0.insert(shared.clone());
        shared
    }
}

/// A raw host value's catalog service, normalised host, and whether it is an IP address
/// (`None`: not a host at all).
type HostEntry = Option<(Option<usize>, Rc<str>, bool)>;

/// What a raw host value is.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Empty once its URL parts are removed.
    Empty,
    /// Not in the catalog (its tail rules it out); `true` for an IP address.
    Unlisted(bool),
    /// Normalised and looked up: the slot of its `HostEntry` in the cache.
    Resolved(usize),
}

/// An IPv4 address (with or without a port) or an IPv6 literal: the part before the first
/// `:` is digits and dots, or it has two colons or more and does not start with a letter
/// past `f` (no address does), or it starts with `[`.
fn is_address_bytes(host: &[u8]) -> bool {
    match host.first() {
        None => return false,
        Some(b'[') => return true,
        // Most host names: decided by their first byte.
        Some(b) if b.is_ascii_alphabetic() && !b.is_ascii_hexdigit() => return false,
        Some(_) => {}
    }
    // Counting (no early exit) is one vectorised pass; names then fail at their first letter.
    if host.iter().filter(|&&b| b == b':').count() > 1 {
        return true;
    }
    let v4 = host.split(|&b| b == b':').next().unwrap_or(host);
    !v4.is_empty() && v4.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

/// The host part of a URL (`https://h:443/p` → `h:443`); other values as they are.
fn host_part(raw: &[u8]) -> &[u8] {
    let Some(i) = raw.iter().position(|&b| b == b':') else {
        return raw;
    };
    if !raw[i + 1..].starts_with(b"//") {
        return raw;
    }
    let rest = &raw[i + 3..];
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// A host part's normalised name, catalog service and whether it is an IP address.
fn resolve(catalog: &Catalog, part: &[u8]) -> HostEntry {
    normalize_host(part).map(|h| {
        let index = catalog.lookup_index(&h);
        let address = is_address_bytes(h.as_bytes());
        (index, std::rc::Rc::<str>::from(h.as_ref()), address)
    })
}

/// The per-event part of the standard profile, with caches for repeated hosts and agents.
#[derive(Debug, Default)]
pub struct Scorer {
    large_bytes: i64,
    hosts: HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    host_entries: Vec<HostEntry>,
    agents: HashMap<Vec<u8>, Agent, foldhash::fast::RandomState>,
    /// The agent of events without one.
    no_agent: Option<Agent>,
    /// The provider and category labels of each catalog service, by index, as first needed;
    /// then those of an API path on a host the catalog does not know.
    service_labels: Vec<Option<(Rc<str>, Rc<str>)>>,
    unlisted_labels: Option<(Rc<str>, Rc<str>)>,
    /// One shared copy of each provider, category and client label: services share
    /// providers and agents share clients, and a group finds a label by pointer only when
    /// every event brings the same copy.
    labels: Labels,
    shapes: HashMap<Box<[u8]>, Option<PathShape>, foldhash::fast::RandomState>,
    /// Browser events skipped (human use), for the inspector.
    pub browser_events: u64,
}

const CACHE_LIMIT: usize = 16_384;

impl Scorer {
    pub fn new(large_bytes: i64) -> Scorer {
        Scorer {
            large_bytes,
            hosts: HashMap::default(),
            host_entries: Vec::new(),
            agents: HashMap::default(),
            no_agent: None,
            service_labels: Vec::new(),
            unlisted_labels: None,
            labels: Labels::default(),
            shapes: HashMap::default(),
            browser_events: 0,
        }
    }

    /// What a raw host value is. The catalog's tail test rules out most hosts without a
    /// cache (proxy logs have a long tail of hosts, which would only churn one); the rest
    /// are normalised and looked up once per distinct value.
    fn verdict(&mut self, catalog: &Catalog, raw: &[u8]) -> Verdict {
        // Most values are a host as it stands: one look at its bytes says so and rules most
        // out. A host that the filter passes is most likely one seen before: the cache first.
        // `exact`: `maybe` is `may_contain`'s answer, not only the filter's.
        let (part, maybe, exact) = match catalog.filter_plain(raw) {
            // Not listed, and (as `filter_plain` took it) not empty, without a `:` and ending
            // with a letter: then only a leading `[` makes it an address.
            Some(false) => {
                let address = raw.first() == Some(&b'[');
                debug_assert_eq!(address, is_address_bytes(raw), "{raw:?}");
                return Verdict::Unlisted(address);
            }
            Some(maybe) => (raw, maybe, false),
            None => {
                let part = host_part(raw);
                (part, catalog.may_contain(part), true)
            }
        };
        if let Some(&slot) = maybe.then(|| self.hosts.get(part)).flatten() {
            return Verdict::Resolved(slot);
        }
        if !maybe || (!exact && !catalog.may_contain(part)) {
            return if part.is_empty() {
                Verdict::Empty
            } else {
                Verdict::Unlisted(is_address_bytes(part))
            };
        }
        if self.hosts.len() >= CACHE_LIMIT {
            self.hosts.clear();
            self.host_entries.clear();
        }
        self.host_entries.push(resolve(catalog, part));
        let slot = self.host_entries.len() - 1;
        self.hosts.insert(part.into(), slot);
        Verdict::Resolved(slot)
    }

    /// The path's shape, cached: the paths of API calls repeat.
    fn shape(&mut self, path: &[u8]) -> Option<PathShape> {
        // Most paths fail the cheap test: no cache entry for them.
        let path = shape_candidate(path)?;
        if let Some(&s) = self.shapes.get(path) {
            return s;
        }
        let s = candidate_shape(path);
        if self.shapes.len() >= CACHE_LIMIT {
            self.shapes.clear();
        }
        self.shapes.insert(path.into(), s);
        s
    }

    /// The client and labels of a user agent, cached: the agents of API calls repeat.
    fn agent(&mut self, ua: Option<&[u8]>) -> &Agent {
        let Some(ua) = ua else {
            let labels = &mut self.labels;
            return self
                .no_agent
                .get_or_insert_with(|| Agent::new(None).sharing(labels));
        };
        // Looked up twice when new (once per distinct agent): a borrow of the entry returned
        // from the first lookup would outlive the insert below.
        if !self.agents.contains_key(ua) {
            if self.agents.len() >= CACHE_LIMIT {
                self.agents.clear();
            }
            let agent = Agent::new(Some(ua)).sharing(&mut self.labels);
            self.agents.insert(ua.to_vec(), agent);
        }
        &self.agents[ua]
    }

    /// The provider and category labels of a service (`None`: an API path on a host the
    /// catalog does not know).
    fn service_labels(&mut self, service: Option<(usize, &Service)>) -> (Rc<str>, Rc<str>) {
        let slot = match service {
            None => &mut self.unlisted_labels,
            Some((i, _)) => {
                if self.service_labels.len() <= i {
                    self.service_labels.resize(i + 1, None);
                }
                &mut self.service_labels[i]
            }
        };
        let labels = &mut self.labels;
        slot.get_or_insert_with(|| match service {
            None => (labels.get(UNLISTED_PROVIDER), labels.get(UNLISTED_CATEGORY)),
            Some((_, s)) => (labels.get(&s.provider), labels.get(&s.category)),
        })
        .clone()
    }

    /// The features of an AI event, or `None` when the event is not AI traffic or is a
    /// real browser (human use).
    pub fn score<'c, E: Event>(
        &mut self,
        event: &E,
        catalog: &'c Catalog,
        allowlist: &Allowlist,
    ) -> Option<Features<'c>> {
        // The first host candidate that the catalog knows wins; else the first host at all.
        // The host is the first host name among the host fields (an IP address, as proxies
        // log in `dest`, does not stop the search). The first field holding a host at all is
        // kept by name: most events need no copy of it.
        let mut first_host: Option<Field> = None;
        let mut found: Option<(Rc<str>, usize)> = None;
        for f in HOST_FIELDS {
            let Some(raw) = event.first(f) else { continue };
            let slot = match self.verdict(catalog, &raw) {
                Verdict::Empty => continue,
                Verdict::Unlisted(address) => {
                    first_host.get_or_insert(f);
                    if address {
                        continue;
                    }
                    break;
                }
                Verdict::Resolved(slot) => slot,
            };
            match &self.host_entries[slot] {
                None => continue,
                Some((index, host, address)) => {
                    if let Some(i) = *index {
                        found = Some((host.clone(), i));
                        break;
                    }
                    first_host.get_or_insert(f);
                    if !*address {
                        break;
                    }
                }
            }
        }
        let path = coalesce(event, &PATH_FIELDS).or_else(|| url_path(event));
        let shape = path.as_deref().and_then(|p| self.shape(p));
        let (host, indexed) = match found {
            Some((h, i)) => (h, Some((i, &catalog.services()[i]))),
            None if shape.is_some() => {
                // An API path on a host the catalog does not know (rare): its name is needed.
                let host = first_host
                    .and_then(|f| event.first(f))
                    .and_then(|raw| resolve(catalog, host_part(&raw)).map(|(_, h, _)| h));
                (host.unwrap_or_else(|| Rc::from("")), None)
            }
            None => return None,
        };
        let ua = coalesce(event, &UA_FIELDS);
        let agent = self.agent(ua.as_deref());
        let client = agent.client;
        if client.class == ClientClass::Browser {
            self.browser_events += 1;
            return None;
        }
        let (agent, client_label) = (agent.label.clone(), agent.client_label.clone());
        let service = indexed.map(|(_, s)| s);
        let method = coalesce(event, &METHOD_FIELDS);
        let post = method.as_deref().is_some_and(is_post);
        let tunnel = method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(b"CONNECT"));
        let weight = weight(event);
        if weight == 0 {
            return None;
        }
        let (provider, category) = self.service_labels(indexed);
        let per_event = coalesce(event, &BYTES_FIELDS).and_then(|b| to_number(&b));
        let (bytes, bytes_total) = weighted_bytes(event, per_event, weight);
        let large = bytes.is_some_and(|b| b > self.large_bytes as f64);
        let seed_endpoint = path.as_deref().is_some_and(is_api_endpoint);
        let api_path = shape.is_some() || seed_endpoint;

        let mut reasons = Reasons::default();
        let mut points: u32 = 0;
        match service {
            Some(s) => {
                reasons.add(Reason::AiService);
                if s.seed {
                    reasons.add(Reason::SeedHost);
                }
                points += u32::from(s.weight) * 2 / 5;
                if api_path {
                    reasons.add(Reason::AiApiPath);
                }
            }
            None => {
                reasons.add(Reason::ApiPathOnUnlistedHost);
                points += 25;
            }
        }
        if api_path {
            points += 10;
        }
        if post {
            reasons.add(Reason::Post);
            points += 10;
        }
        if large {
            reasons.add(Reason::LargeUpload);
            points += 15;
        }
        if tunnel {
            reasons.add(Reason::Tunnel);
            points += 5;
        }
        let voice = shape == Some(PathShape::VoiceCloning)
            || (post && service.is_some_and(|s| s.category == "voice_cloning_tts"));
        if voice {
            reasons.add(Reason::VoiceCloning);
            points += 20;
        }
        reasons.add_client(client.class);
        points += client.class.points();

        let allowlisted = if allowlist.is_empty() {
            None
        } else {
            let src = coalesce(event, &SRC_FIELDS);
            let user = coalesce(event, &USER_FIELDS);
            let src_text = src.as_deref().map(String::from_utf8_lossy);
            let user_text = user.as_deref().map(String::from_utf8_lossy);
            allowlist
                .check(&Subject {
                    user: user_text.as_deref(),
                    src: src_text.as_deref(),
                    host: Some(&host),
                    client_class: client.class.name(),
                    client_name: client.name,
                })
                .map(String::from)
        };
        Some(Features {
            host,
            service,
            shape,
            client,
            labels: EventLabels {
                provider,
                category,
                agent,
                client: client_label,
            },
            bytes,
            bytes_total,
            weight,
            suspicion: u8::from(seed_endpoint) + u8::from(post) + u8::from(large),
            score: points.min(100) as u8,
            reasons,
            allowlisted,
        })
    }
}

/// The path part of the `url` field, when the event has no path field.
fn url_path<'e, E: Event>(event: &'e E) -> Option<Cow<'e, [u8]>> {
    let url = event.first(Field::Url)?;
    let text = std::str::from_utf8(&url).ok()?;
    let after_scheme = text.find("://").map_or(text, |i| &text[i + 3..]);
    let slash = after_scheme.find('/')?;
    Some(Cow::Owned(after_scheme.as_bytes()[slash..].to_vec()))
}

/// The aggregates of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub requests: u64,
    pub bytes: Option<ExactSum>,
    pub max_bytes: Option<f64>,
    pub sources: ByteSet,
    pub ai_services: StrSet,
    pub endpoint_paths: ByteSet,
    pub user_agents: StrSet,
    pub max_suspicion: u8,
    pub max_score: u8,
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
    pub post_requests: u64,
    pub large_uploads: u64,
    pub providers: StrSet,
    pub categories: StrSet,
    pub clients: StrSet,
    pub reasons: Reasons,
}

impl Group {
    /// `TotalBytesUploaded`, exactly rounded (independent of event order).
    pub fn total_bytes(&self) -> Option<f64> {
        self.bytes.as_ref().map(ExactSum::value)
    }

    pub fn merge(&mut self, o: &Group, limits: &Limits, t: &mut Tripped) {
        self.requests += o.requests;
        if let Some(b) = &o.bytes {
            self.bytes.get_or_insert_with(ExactSum::new).merge(b);
        }
        self.max_bytes = max_opt(self.max_bytes, o.max_bytes);
        guard::union_bytes(&mut self.sources, &o.sources, limits, t);
        guard::union_labels(&mut self.ai_services, &o.ai_services, limits, t);
        guard::union_bytes(&mut self.endpoint_paths, &o.endpoint_paths, limits, t);
        guard::union_labels(&mut self.user_agents, &o.user_agents, limits, t);
        self.max_suspicion = self.max_suspicion.max(o.max_suspicion);
        self.max_score = self.max_score.max(o.max_score);
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = max_opt(self.last_seen, o.last_seen);
        self.post_requests += o.post_requests;
        self.large_uploads += o.large_uploads;
        guard::union_labels(&mut self.providers, &o.providers, limits, t);
        guard::union_labels(&mut self.categories, &o.categories, limits, t);
        guard::union_labels(&mut self.clients, &o.clients, limits, t);
        self.reasons.merge(o.reasons);
    }

    fn to_json(&self, keys: &[String], allowlisted: &Option<String>) -> Value {
        json!({
            "k": keys,
            "a": allowlisted,
            "n": self.requests,
            "b": partial::sum_to_json(&self.bytes),
            "mb": partial::f64_to_json(self.max_bytes),
            "src": partial::byte_set_to_json(&self.sources),
            "svc": partial::label_set_to_json(&self.ai_services),
            "paths": partial::byte_set_to_json(&self.endpoint_paths),
            "ua": partial::label_set_to_json(&self.user_agents),
            "ms": self.max_suspicion,
            "sc": self.max_score,
            "fs": partial::f64_to_json(self.first_seen),
            "ls": partial::f64_to_json(self.last_seen),
            "post": self.post_requests,
            "large": self.large_uploads,
            "prov": partial::label_set_to_json(&self.providers),
            "cat": partial::label_set_to_json(&self.categories),
            "cli": partial::label_set_to_json(&self.clients),
            "r": [self.reasons.rules, self.reasons.clients],
        })
    }

    fn from_json(v: &Value) -> Result<(Vec<String>, Option<String>, Group), PartialError> {
        let get = |k: &str| v.get(k).ok_or_else(|| partial::malformed(k));
        let small = |k: &str| -> Result<u8, PartialError> {
            u8::try_from(partial::u64_from_json(get(k)?)?).map_err(|_| partial::malformed(k))
        };
        let keys: Vec<String> = get("k")?
            .as_array()
            .ok_or_else(|| partial::malformed("keys"))?
            .iter()
            .map(|k| {
                k.as_str()
                    .map(String::from)
                    .ok_or_else(|| partial::malformed("key"))
            })
            .collect::<Result<_, _>>()?;
        let allowlisted = match get("a")? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(partial::malformed("allowlisted")),
        };
        let r = get("r")?
            .as_array()
            .ok_or_else(|| partial::malformed("reasons"))?;
        let bits = |i: usize| -> Result<u32, PartialError> {
            r.get(i)
                .and_then(Value::as_u64)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| partial::malformed("reasons"))
        };
        let group = Group {
            requests: partial::u64_from_json(get("n")?)?,
            bytes: partial::sum_from_json(get("b")?)?,
            max_bytes: partial::f64_from_json(get("mb")?)?,
            sources: partial::byte_set_from_json(get("src")?)?,
            ai_services: partial::label_set_from_json(get("svc")?)?,
            endpoint_paths: partial::byte_set_from_json(get("paths")?)?,
            user_agents: partial::label_set_from_json(get("ua")?)?,
            max_suspicion: small("ms")?,
            max_score: small("sc")?,
            first_seen: partial::f64_from_json(get("fs")?)?,
            last_seen: partial::f64_from_json(get("ls")?)?,
            post_requests: partial::u64_from_json(get("post")?)?,
            large_uploads: partial::u64_from_json(get("large")?)?,
            providers: partial::label_set_from_json(get("prov")?)?,
            categories: partial::label_set_from_json(get("cat")?)?,
            clients: partial::label_set_from_json(get("cli")?)?,
            reasons: Reasons {
                rules: bits(0)?,
                clients: bits(1)?,
            },
        };
        Ok((keys, allowlisted, group))
    }

    /// `RiskScore`: the highest event score, plus 5 for 100+ requests, 5 more for 1000+,
    /// and 5 for 3+ providers; at most 100.
    pub fn risk_score(&self) -> u8 {
        group_risk(self.max_score, self.requests, self.providers.len())
    }
}

/// A group's `RiskScore` (proxy and endpoint rows alike): its highest event score, +5 at 100
/// events, +5 more at 1,000, +5 for three or more providers; at most 100.
pub fn group_risk(max_score: u8, events: u64, providers: usize) -> u8 {
    let bonus = u32::from(events >= 100) + u32::from(events >= 1000) + u32::from(providers >= 3);
    (u32::from(max_score) + 5 * bonus).min(100) as u8
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// One output row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub keys: Vec<String>,
    pub allowlisted: Option<String>,
    pub group: Group,
}

/// All groups of a search, found by an encoded byte key so that an event whose group exists
/// costs one hash of a reused buffer and no allocation.
#[derive(Debug, Default)]
pub struct Groups {
    groups: Table<Group>,
    /// Key values per group (every key of a search has as many).
    nkeys: usize,
    buf: Vec<u8>,
    pub allowlisted_events: u64,
    pub limits: Limits,
    /// What the guards cut.
    pub tripped: Tripped,
}

/// The key values of a group and its allowlist reason.
type GroupKey = (Vec<String>, Option<String>);

fn push_part(buf: &mut Vec<u8>, part: &[u8]) {
    buf.extend_from_slice(&(part.len() as u32).to_le_bytes());
    buf.extend_from_slice(part);
}

fn push_allow(buf: &mut Vec<u8>, allow: Option<&str>) {
    match allow {
        None => buf.push(0),
        Some(a) => {
            buf.push(1);
            buf.extend_from_slice(a.as_bytes());
        }
    }
}

/// Decodes a key written by `push_part` (`n` times) and `push_allow`.
fn decode_key(mut buf: &[u8], n: usize) -> GroupKey {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let parts = (0..n).map(|_| text(next_part(&mut buf))).collect();
    (parts, allow_part(buf).map(text))
}

/// Takes one part written by `push_part` off the front of `buf`.
fn next_part<'k>(buf: &mut &'k [u8]) -> &'k [u8] {
    let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    let (part, rest) = buf[4..].split_at(len);
    *buf = rest;
    part
}

/// The reason that `push_allow` wrote (`rest` is what follows the parts).
fn allow_part(rest: &[u8]) -> Option<&[u8]> {
    match rest {
        [1, reason @ ..] => Some(reason),
        _ => None,
    }
}

/// The group of the key in `buf`, for which `Table::lookup` gave `found`; past `max_groups`
/// a new key becomes the overflow key.
fn group_of<'g>(
    groups: &'g mut Table<Group>,
    buf: &mut Vec<u8>,
    found: (u64, Option<usize>),
    (nkeys, allow): (usize, Option<&str>),
    limits: &Limits,
    tripped: &mut Tripped,
    events: u64,
) -> &'g mut Group {
    groups.group(buf, found, limits.max_groups, |buf| {
        tripped.overflow_events += events;
        buf.clear();
        for _ in 0..nkeys {
            push_part(buf, OVERFLOW.as_bytes());
        }
        push_allow(buf, allow);
    })
}

impl Groups {
    pub fn new() -> Groups {
        Groups::default()
    }

    pub fn with_limits(limits: Limits) -> Groups {
        Groups {
            limits,
            ..Groups::default()
        }
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Writes the key of an event's group into `buf` (placeholders where it has none).
    fn encode_key<E: Event>(buf: &mut Vec<u8>, event: &E, features: &Features<'_>, keys: &[Key]) {
        buf.clear();
        for k in keys {
            let bytes = |fields: &[Field], none: &'static str| {
                coalesce(event, fields).unwrap_or(Cow::Borrowed(none.as_bytes()))
            };
            match k {
                Key::Src => push_part(buf, &bytes(&SRC_FIELDS, NO_SOURCE)),
                Key::User => push_part(buf, &bytes(&USER_FIELDS, NO_USER)),
                Key::Host => push_part(buf, features.host.as_bytes()),
                Key::Provider => push_part(buf, features.provider().as_bytes()),
                Key::Category => push_part(buf, features.category().as_bytes()),
                Key::Client => push_part(buf, features.labels.client.as_bytes()),
                Key::Field(n, _) => push_part(buf, &bytes(&[Field::Extra(*n)], NO_VALUE)),
            }
        }
        push_allow(buf, features.allowlisted.as_deref());
    }

    pub fn add<E: Event>(&mut self, event: &E, f: &Features<'_>, keys: &[Key]) {
        Self::encode_key(&mut self.buf, event, f, keys);
        self.nkeys = keys.len();
        // The group is most likely not in the CPU's cache: it starts loading now, and what
        // needs only the event is done while it comes.
        let found = self.groups.lookup(&self.buf);
        if f.allowlisted.is_some() {
            self.allowlisted_events += f.weight;
        }
        let time = |field| event.first(field).and_then(|t| parse_time(&t));
        let at = time(Field::Time);
        let first_seen = time(Field::FirstTime).or(at);
        let last_seen = time(Field::LastTime).or(at);
        let (limits, t) = (self.limits, &mut self.tripped);
        let shape = (keys.len(), f.allowlisted.as_deref());
        let overflow_before = t.overflow_events;
        let g = group_of(
            &mut self.groups,
            &mut self.buf,
            found,
            shape,
            &limits,
            t,
            f.weight,
        );
        // The event's own key, not the overflow group that collects the keys past the cap.
        let own_key = t.overflow_events == overflow_before;
        g.endpoint_paths.prefetch();
        g.ai_services.prefetch();
        g.user_agents.prefetch();
        g.providers.prefetch();
        g.categories.prefetch();
        g.clients.prefetch();
        g.requests += f.weight;
        if let Some(b) = f.bytes_total {
            g.bytes.get_or_insert_with(ExactSum::new).add(b);
        }
        g.max_bytes = max_opt(g.max_bytes, f.bytes);
        // Grouped by source, a group's only source is its key's (the same first value): once
        // it is in, there is nothing to read or look up.
        if (g.sources.is_empty() || !own_key || !keys.contains(&Key::Src))
            && let Some(src) = coalesce(event, &SRC_FIELDS)
        {
            guard::insert_bytes(&mut g.sources, &src, &limits, t);
        }
        if !f.host.is_empty() {
            guard::insert_rc(&mut g.ai_services, &f.host, &limits, t);
        }
        for field in PATH_FIELDS {
            event.each(field, &mut |p| {
                guard::insert_bytes(&mut g.endpoint_paths, p, &limits, t)
            });
        }
        if g.endpoint_paths.is_empty()
            && let Some(p) = url_path(event)
        {
            guard::insert_bytes(&mut g.endpoint_paths, &p, &limits, t);
        }
        guard::insert_rc(&mut g.user_agents, &f.labels.agent, &limits, t);
        g.max_suspicion = g.max_suspicion.max(f.suspicion);
        g.max_score = g.max_score.max(f.score);
        g.first_seen = min_opt(g.first_seen, first_seen);
        g.last_seen = max_opt(g.last_seen, last_seen);
        if f.reasons.has(Reason::Post) {
            g.post_requests += f.weight;
        }
        if f.reasons.has(Reason::LargeUpload) {
            g.large_uploads += f.weight;
        }
        guard::insert_rc(&mut g.providers, &f.labels.provider, &limits, t);
        guard::insert_rc(&mut g.categories, &f.labels.category, &limits, t);
        guard::insert_rc(&mut g.clients, &f.labels.client, &limits, t);
        g.reasons.merge(f.reasons);
    }

    /// The groups as partial-state JSON values (for the map phase), then cleared.
    pub fn drain_partials(&mut self) -> Vec<Value> {
        let (keys, slots) = std::mem::take(&mut self.groups).into_parts();
        slots
            .into_iter()
            .zip(keys)
            .map(|(g, key)| {
                let (keys, allow) = decode_key(key.as_bytes(), self.nkeys);
                g.to_json(&keys, &allow)
            })
            .collect()
    }

    /// Merges one partial-state value from a map phase.
    pub fn merge_partial(&mut self, v: &Value) -> Result<(), PartialError> {
        let (keys, allowlisted, group) = Group::from_json(v)?;
        if allowlisted.is_some() {
            self.allowlisted_events += group.requests;
        }
        self.buf.clear();
        for k in &keys {
            push_part(&mut self.buf, k.as_bytes());
        }
        push_allow(&mut self.buf, allowlisted.as_deref());
        self.nkeys = keys.len();
        let (limits, t) = (self.limits, &mut self.tripped);
        let shape = (keys.len(), allowlisted.as_deref());
        let found = self.groups.lookup(&self.buf);
        group_of(
            &mut self.groups,
            &mut self.buf,
            found,
            shape,
            &limits,
            t,
            group.requests,
        )
        .merge(&group, &limits, t);
        Ok(())
    }

    /// Filters, sorts (not allowlisted first, then `RiskScore` and `TotalBytesUploaded`
    /// descending, then keys) and limits (`limit` 0: all). Returns the rows and how many
    /// groups qualified.
    ///
    /// Each group's rank is computed once; with a limit, only the groups that make the cut
    /// are sorted, and only their keys are decoded.
    pub fn finish(self, params: &StandardParams, limit: usize) -> (Vec<Row>, usize) {
        let nkeys = self.nkeys;
        let (keys, mut slots) = self.groups.into_parts();
        let encoded: Vec<&[u8]> = keys.iter().map(KeyBytes::as_bytes).collect();
        struct Rank {
            allowlisted: bool,
            risk: u8,
            bytes: Option<f64>,
            at: usize,
        }
        let mut order: Vec<Rank> = slots
            .iter()
            .enumerate()
            .filter_map(|(at, g)| {
                let allowlisted = key_allow(encoded[at], nkeys).is_some();
                let risk = g.risk_score();
                (i64::from(g.max_suspicion) >= params.min_score
                    && i64::from(risk) >= params.min_risk
                    && !(params.hide_allowlisted && allowlisted))
                    .then(|| Rank {
                        allowlisted,
                        risk,
                        bytes: g.total_bytes(),
                        at,
                    })
            })
            .collect();
        let qualified = order.len();
        let by_rank = |a: &Rank, b: &Rank| {
            a.allowlisted
                .cmp(&b.allowlisted)
                .then(b.risk.cmp(&a.risk))
                .then_with(|| match (a.bytes, b.bytes) {
                    (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| cmp_keys(encoded[a.at], encoded[b.at], nkeys))
        };
        if limit > 0 && order.len() > limit {
            order.select_nth_unstable_by(limit - 1, by_rank);
            order.truncate(limit);
        }
        // Keys differ between groups, so the order is total and an unstable sort is exact.
        order.sort_unstable_by(by_rank);
        let rows = order
            .iter()
            .map(|r| {
                let (keys, allowlisted) = decode_key(encoded[r.at], nkeys);
                Row {
                    keys,
                    allowlisted,
                    group: std::mem::take(&mut slots[r.at]),
                }
            })
            .collect();
        (rows, qualified)
    }
}

/// The allowlist reason part of an encoded key (`None`: not allowlisted).
fn key_allow(mut buf: &[u8], n: usize) -> Option<&[u8]> {
    for _ in 0..n {
        next_part(&mut buf);
    }
    allow_part(buf)
}

/// Orders two encoded keys as their decoded `(keys, allowlisted)` compare: key values one by
/// one, then not allowlisted before allowlisted, then the reasons. (Byte order, which is the
/// order of the decoded strings whenever the values are UTF-8.)
fn cmp_keys(mut a: &[u8], mut b: &[u8], n: usize) -> std::cmp::Ordering {
    for _ in 0..n {
        match next_part(&mut a).cmp(next_part(&mut b)) {
            std::cmp::Ordering::Equal => {}
            other => return other,
        }
    }
    // `push_allow`: 0, or 1 and the reason; as bytes, the order of `Option<String>`.
    a.cmp(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two services of one provider and two agents of one client give their events the same
    /// copy of the label, so that a group that has it finds it by pointer.
    #[test]
    fn events_of_one_provider_or_client_share_its_label() {
        use crate::detect::event::OwnedEvent;
        let catalog = Catalog::builtin();
        let allowlist = Allowlist::default();
        let mut scorer = Scorer::new(1_000_000);
        let mut score = |host: &str, ua: &str| {
            let event = OwnedEvent::new()
                .with(Field::DestHost, host)
                .with(Field::UriPath, "/v1/chat/completions")
                .with(Field::HttpMethod, "POST")
                .with(Field::HttpUserAgent, ua);
            scorer
                .score(&event, &catalog, &allowlist)
                .expect("an AI event")
                .labels
        };
        let a = score("api.openai.com", "OpenAI/Python 1.50.0");
        let b = score("chatgpt.com", "AsyncOpenAI/Python 1.109.1");
        assert_eq!(
            (&*a.provider, &*a.client),
            ("OpenAI", "ai_sdk:openai-python")
        );
        assert!(Rc::ptr_eq(&a.provider, &b.provider), "{a:?} {b:?}");
        assert!(Rc::ptr_eq(&a.client, &b.client), "{a:?} {b:?}");
        assert!(!Rc::ptr_eq(&a.agent, &b.agent));
        assert_ne!(a.category, b.category);
    }

    /// `finish` ranks once, selects, and compares encoded keys; it must give what filtering
    /// the decoded groups and sorting them all with the documented order gives, cut to the
    /// limit.
    #[test]
    fn finish_is_the_full_sort_cut_to_the_limit() {
        let mut rng = crate::test_rng::Rng(0x0bad_cafe_f00d_1234);
        let mut made: Vec<(Vec<String>, Option<String>, Group)> = Vec::new();
        let mut groups = Groups::new();
        let names = ["", "a", "ab", "b", "\u{e9}", "a\u{0}"];
        while made.len() < 400 {
            let keys = vec![
                names[rng.below(names.len())].to_string(),
                format!("u{}", rng.below(40)),
            ];
            let allow = [None, None, Some("x"), Some("xy")][rng.below(4)].map(str::to_string);
            if made.iter().any(|(k, a, _)| *k == keys && *a == allow) {
                continue;
            }
            let mut g = Group {
                requests: [1, 100, 1000][rng.below(3)],
                max_score: [20, 40, 60, 60, 95][rng.below(5)],
                max_suspicion: rng.below(4) as u8,
                ..Group::default()
            };
            if rng.below(4) > 0 {
                let mut sum = ExactSum::new();
                sum.add([0.0, 10.0, 10.0, 2.5e6][rng.below(4)]);
                g.bytes = Some(sum);
            }
            for p in ["p", "q", "r"].iter().take(1 + rng.below(3)) {
                g.providers.insert(p);
            }
            groups.merge_partial(&g.to_json(&keys, &allow)).unwrap();
            made.push((keys, allow, g));
        }
        let params = StandardParams {
            min_score: 1,
            ..StandardParams::default()
        };
        let mut want: Vec<_> = made
            .into_iter()
            .filter(|(_, allow, g)| {
                i64::from(g.max_suspicion) >= params.min_score
                    && i64::from(g.risk_score()) >= params.min_risk
                    && !(params.hide_allowlisted && allow.is_some())
            })
            .collect();
        want.sort_by(|(ka, aa, a), (kb, ab, b)| {
            aa.is_some()
                .cmp(&ab.is_some())
                .then(b.risk_score().cmp(&a.risk_score()))
                .then_with(|| {
                    let (x, y) = (a.total_bytes(), b.total_bytes());
                    y.map(|v| (1, v))
                        .partial_cmp(&x.map(|v| (1, v)))
                        .expect("finite")
                })
                .then_with(|| ka.cmp(kb))
                .then_with(|| aa.cmp(ab))
        });
        assert!(want.len() > 100, "{} groups qualify", want.len());
        for limit in [0, 1, 2, 17, 100, want.len() - 1, want.len(), 1000] {
            let mut copy = Groups::new();
            for (k, a, g) in &want {
                copy.merge_partial(&g.to_json(k, a)).unwrap();
            }
            // Also the groups that do not qualify, from the first build.
            let (rows, qualified) = if limit == 0 {
                std::mem::take(&mut groups).finish(&params, 0)
            } else {
                copy.finish(&params, limit)
            };
            assert_eq!(qualified, want.len());
            let cut = if limit == 0 {
                want.len()
            } else {
                limit.min(want.len())
            };
            let got: Vec<_> = rows
                .iter()
                .map(|r| (&r.keys, &r.allowlisted, &r.group))
                .collect();
            let expected: Vec<_> = want[..cut].iter().map(|(k, a, g)| (k, a, g)).collect();
            assert_eq!(got, expected, "limit {limit}");
        }
    }

    #[test]
    fn the_address_test_is_its_plain_definition() {
        let plain = |host: &[u8]| {
            let v4 = host.split(|&b| b == b':').next().unwrap_or(host);
            (!v4.is_empty() && v4.iter().all(|b| b.is_ascii_digit() || *b == b'.'))
                || (!host
                    .first()
                    .is_some_and(|b| b.is_ascii_alphabetic() && !b.is_ascii_hexdigit())
                    && host.iter().filter(|&&b| b == b':').count() > 1)
                || host.starts_with(b"[")
        };
        let alphabet = b"0.9:[]aFx ";
        let mut rng = crate::test_rng::Rng(0x1234_5678_9abc_def1);
        for _ in 0..100_000 {
            let seed = rng.next();
            let host: Vec<u8> = (0..seed % 9)
                .map(|i| alphabet[((seed >> (7 * i)) % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(is_address_bytes(&host), plain(&host), "{host:?}");
        }
        for (host, address) in [
            (&b"fe80::1"[..], true),
            (b"::1", true),
            (b"[::1]:443", true),
            (b"10.1.2.3:8080", true),
            (b"g::1", false),
            (b"host:a:b", false),
            (b" fe80::1", true),
            (b".a::", true),
            (b"api.openai.com", false),
            (b"a.b:1", false),
        ] {
            assert_eq!(is_address_bytes(host), address, "{host:?}");
            assert_eq!(plain(host), address, "{host:?}");
        }
    }
}
