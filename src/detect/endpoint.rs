//! Endpoint telemetry: process creation (Sysmon 1, Windows 4688, CIM Endpoint.Processes),
//! PowerShell script blocks (4104), network connections (Sysmon 3), DNS queries (Sysmon 22),
//! file creation (Sysmon 11) and Linux auditd records, for the seed's five test cases.
//! Proxy, Zeek `ssl.log` and `dns.log` events take the proxy path ([`super::standard`]).

use super::allowlist::{Allowlist, Subject};
use super::catalog::{Catalog, Service, normalize_host};
use super::client::{Client, ClientClass};
use super::event::{Event, Field, coalesce};
use super::guard::{self, Limits, OVERFLOW, Tripped};
use super::keys;
use super::paths;
use super::set::ValueSet;
use super::time::parse_time;
use regex::Regex;
use std::sync::OnceLock;

/// The kind of an event, recognised from its fields (or forced with `kind=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Proxy,
    Process,
    ScriptBlock,
    Network,
    Dns,
    File,
    Auditd,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Proxy,
        Kind::Process,
        Kind::ScriptBlock,
        Kind::Network,
        Kind::Dns,
        Kind::File,
        Kind::Auditd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Proxy => "proxy",
            Kind::Process => "process",
            Kind::ScriptBlock => "script_block",
            Kind::Network => "network",
            Kind::Dns => "dns",
            Kind::File => "file",
            Kind::Auditd => "auditd",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The fields an event of this kind is read from (besides the shared ones).
    pub fn fields(self) -> Vec<Field> {
        let mut v = match self {
            Kind::Proxy => return Vec::new(),
            Kind::Process => vec![
                Field::Image,
                Field::CommandLine,
                Field::ParentImage,
                Field::NewProcessName,
                Field::ProcessCommandLine,
                Field::CreatorProcessName,
                Field::ParentProcessName,
                Field::Process,
                Field::ProcessName,
                Field::ParentProcess,
                Field::ProcessPath,
            ],
            Kind::ScriptBlock => vec![Field::ScriptBlockText],
            Kind::Network => vec![
                Field::Image,
                Field::DestinationHostname,
                Field::DestinationIp,
                Field::SourceIp,
            ],
            Kind::Dns => vec![Field::Image, Field::QueryName],
            Kind::File => vec![Field::Image, Field::TargetFilename],
            Kind::Auditd => {
                let mut a = vec![
                    Field::AuditType,
                    Field::Exe,
                    Field::Comm,
                    Field::Auid,
                    Field::Uid,
                ];
                a.extend((0..Field::AUDIT_ARGS).map(Field::AuditArg));
                a
            }
        };
        v.extend(MACHINE_FIELDS);
        v.extend(USER_FIELDS);
        v.push(Field::Time);
        v
    }
}

/// Where the machine's name is found.
pub const MACHINE_FIELDS: [Field; 5] = [
    Field::Computer,
    Field::ComputerName,
    Field::Dvc,
    Field::Host,
    Field::Dest,
];
/// Where the user is found (auditd's `auid` is the login user).
pub const USER_FIELDS: [Field; 5] = [
    Field::UserCap,
    Field::User,
    Field::SubjectUserName,
    Field::Auid,
    Field::Uid,
];

/// The fields whose presence makes an event an endpoint event (see `recognise`).
pub const ENDPOINT_SIGNS: [Field; 11] = [
    Field::ScriptBlockText,
    Field::TargetFilename,
    Field::QueryName,
    Field::DestinationHostname,
    Field::DestinationIp,
    Field::CommandLine,
    Field::ProcessCommandLine,
    Field::NewProcessName,
    Field::Process,
    Field::AuditArg(0),
    Field::AuditType,
];

/// Recognises the kind of an event from the fields it has.
pub fn recognise<E: Event>(e: &E) -> Kind {
    let has = |f| e.first(f).is_some();
    if has(Field::ScriptBlockText) {
        Kind::ScriptBlock
    } else if has(Field::TargetFilename) {
        Kind::File
    } else if has(Field::QueryName) {
        Kind::Dns
    } else if has(Field::DestinationHostname) || has(Field::DestinationIp) {
        Kind::Network
    } else if has(Field::CommandLine)
        || has(Field::ProcessCommandLine)
        || has(Field::NewProcessName)
        || (has(Field::Process) && (has(Field::ProcessName) || has(Field::ParentProcess)))
    {
        Kind::Process
    } else if has(Field::AuditArg(0))
        || e.first(Field::AuditType)
            .is_some_and(|t| matches!(&t[..], b"EXECVE" | b"SYSCALL" | b"SOCKADDR" | b"PROCTITLE"))
    {
        Kind::Auditd
    } else {
        Kind::Proxy
    }
}

/// The endpoint rules, reported by name in `Reasons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Signal {
    AiHostInCommandLine,
    AiHostConnection,
    AiHostDnsQuery,
    AiSdkInstall,
    AiApiKeyEnv,
    AiApiKeyMaterial,
    AiRequestShape,
}

impl Signal {
    pub const ALL: [Signal; 7] = [
        Signal::AiHostInCommandLine,
        Signal::AiHostConnection,
        Signal::AiHostDnsQuery,
        Signal::AiSdkInstall,
        Signal::AiApiKeyEnv,
        Signal::AiApiKeyMaterial,
        Signal::AiRequestShape,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Signal::AiHostInCommandLine => "ai_host_in_command_line",
            Signal::AiHostConnection => "ai_host_connection",
            Signal::AiHostDnsQuery => "ai_host_dns_query",
            Signal::AiSdkInstall => "ai_sdk_install",
            Signal::AiApiKeyEnv => "ai_api_key_env",
            Signal::AiApiKeyMaterial => "ai_api_key_material",
            Signal::AiRequestShape => "ai_request_shape",
        }
    }

    fn points(self) -> u32 {
        match self {
            Signal::AiApiKeyMaterial => 30,
            Signal::AiRequestShape | Signal::AiSdkInstall => 20,
            Signal::AiApiKeyEnv => 15,
            Signal::AiHostInCommandLine | Signal::AiHostConnection | Signal::AiHostDnsQuery => 10,
        }
    }

    pub fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// The signal names set in `bits`, in a fixed order.
pub fn signal_names(bits: u32) -> impl Iterator<Item = &'static str> {
    Signal::ALL
        .into_iter()
        .filter(move |s| bits & s.bit() != 0)
        .map(Signal::name)
}

/// What the endpoint rules found in one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding<'c> {
    pub kind: Kind,
    pub machine: Option<String>,
    pub user: Option<String>,
    /// The process's file name, lowercased (`powershell.exe`, `curl`).
    pub process: Option<String>,
    pub parent: Option<String>,
    pub client: Client,
    pub services: Vec<(String, &'c Service)>,
    pub signals: u32,
    pub score: u8,
    pub time: Option<f64>,
    pub allowlisted: Option<String>,
}

impl Finding<'_> {
    pub fn provider(&self) -> &str {
        self.services
            .first()
            .map_or("unknown", |(_, s)| s.provider.as_str())
    }
    pub fn category(&self) -> &str {
        self.services
            .first()
            .map_or("ai_tooling", |(_, s)| s.category.as_str())
    }
}

fn text<E: Event>(e: &E, fields: &[Field]) -> Option<String> {
    coalesce(e, fields).map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The file name of a path (`C:\\Windows\\...\\powershell.exe` → `powershell.exe`), lowercased.
pub fn basename(path: &str) -> String {
    let p = path.trim().trim_matches('"');
    let name = p.rsplit(['\\', '/']).next().unwrap_or(p);
    // A command line: the program is its first word.
    name.split_whitespace()
        .next()
        .unwrap_or(name)
        .to_lowercase()
}

/// The client class of a process, from its file name.
pub fn process_class(name: &str) -> Client {
    let stem = name.trim_end_matches(".exe");
    let (class, label): (ClientClass, &'static str) = match stem {
        "powershell" | "pwsh" | "powershell_ise" => (ClientClass::Scripting, "powershell"),
        "curl" => (ClientClass::Scripting, "curl"),
        "wget" | "wget2" => (ClientClass::Scripting, "wget"),
        "cmd" => (ClientClass::Scripting, "cmd"),
        "bash" | "sh" | "zsh" | "dash" | "ksh" => (ClientClass::Scripting, "shell"),
        "node" | "deno" | "bun" => (ClientClass::Scripting, "node"),
        "pip" | "pip3" | "uv" | "poetry" | "conda" | "npm" | "npx" | "pnpm" | "yarn" => {
            (ClientClass::Scripting, "package_manager")
        }
        s if s.starts_with("python") || s == "py" || s == "pythonw" => {
            (ClientClass::Scripting, "python")
        }
        "chrome" | "msedge" | "firefox" | "brave" | "opera" | "iexplore" | "safari"
        | "chromium" | "vivaldi" | "msedgewebview2" => (ClientClass::Browser, "browser"),
        "claude" => (ClientClass::ElectronAiApp, "claude-desktop"),
        "chatgpt" => (ClientClass::ElectronAiApp, "chatgpt-desktop"),
        "cursor" => (ClientClass::ElectronAiApp, "cursor"),
        "" => (ClientClass::Other, "unknown"),
        _ => (ClientClass::Other, "other"),
    };
    Client { class, name: label }
}

struct Patterns {
    host: Regex,
    request: Regex,
    pip: Regex,
    npm: Regex,
    sdk_path: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        host: Regex::new(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b").expect("compiles"),
        request: Regex::new(
            r"(?i)(\s-X\s*['\x22]?POST|--request\s+POST|\s-d\s|\s--data(-raw|-binary)?\b|\s--json\b|invoke-restmethod|invoke-webrequest|\birm\b|\biwr\b|--post-data|requests\.post|httpx\.post|\bfetch\(|\.chat\.completions\.create|\.messages\.create|urllib\.request)",
        )
        .expect("compiles"),
        pip: Regex::new(
            r"(?i)\b(pip3?(\.exe)?|uv\s+pip|pipx|poetry|conda)\s+(install|add)\b.*?(^|[\s'\x22=])(openai|anthropic|google-genai|google-generativeai|mistralai|cohere|groq|litellm|langchain-openai|langchain-anthropic|together|replicate|huggingface_hub|ollama|xai-sdk|elevenlabs)([\s'\x22=<>~!\[]|$)",
        )
        .expect("compiles"),
        npm: Regex::new(
            r"(?i)\b(npm|pnpm|yarn|bun)(\.cmd)?\s+(i|install|add)\b.*?(^|\s)(openai|@anthropic-ai/sdk|@google/genai|@google/generative-ai|@mistralai/mistralai|groq-sdk|cohere-ai|@ai-sdk/[a-z-]+)(@[\w.^~-]+)?(\s|$)",
        )
        .expect("compiles"),
        sdk_path: Regex::new(
            r"(?i)([\\/](site|dist)-packages[\\/](openai|anthropic|mistralai|cohere|groq|litellm|google[\\/]genai)[\\/])|([\\/]node_modules[\\/](openai|@anthropic-ai|@google[\\/]genai|@mistralai)[\\/])",
        )
        .expect("compiles"),
    })
}

/// The catalog hosts named in a command line or script.
fn hosts_in<'c>(text: &str, catalog: &'c Catalog) -> Vec<(String, &'c Service)> {
    let mut found: Vec<(String, &'c Service)> = Vec::new();
    for m in patterns().host.find_iter(text).take(256) {
        if let Some(host) = normalize_host(m.as_str().as_bytes())
            && let Some(s) = catalog.lookup(&host)
            && !found.iter().any(|(h, _)| *h == host)
        {
            found.push((host.into_owned(), s));
        }
    }
    found
}

/// An auditd EXECVE argument: hex-encoded by auditd when it holds spaces or quotes.
fn audit_arg(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let t = text.trim_matches('"');
    let hex = t.len() >= 2
        && t.len().is_multiple_of(2)
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    if hex {
        let bytes: Option<Vec<u8>> = (0..t.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
            .collect();
        if let Some(b) = bytes
            && let Ok(s) = String::from_utf8(b)
            && s.chars().all(|c| !c.is_control())
            && s.contains([' ', '"', '\'', '$', '{'])
        {
            return s;
        }
    }
    t.to_string()
}

/// The command line or script of an event, and the process that ran it.
fn command_of<E: Event>(e: &E, kind: Kind) -> (Option<String>, Option<String>) {
    match kind {
        Kind::Process => (
            text(
                e,
                &[
                    Field::CommandLine,
                    Field::ProcessCommandLine,
                    Field::Process,
                ],
            ),
            text(
                e,
                &[
                    Field::Image,
                    Field::NewProcessName,
                    Field::ProcessPath,
                    Field::ProcessName,
                ],
            )
            .map(|p| basename(&p)),
        ),
        Kind::ScriptBlock => (
            text(e, &[Field::ScriptBlockText]),
            Some("powershell.exe".to_string()),
        ),
        Kind::Auditd => {
            let args: Vec<String> = (0..Field::AUDIT_ARGS)
                .map_while(|n| e.first(Field::AuditArg(n)).map(|a| audit_arg(&a)))
                .collect();
            let process = text(e, &[Field::Exe, Field::Comm])
                .or_else(|| args.first().cloned())
                .map(|p| basename(&p));
            ((!args.is_empty()).then(|| args.join(" ")), process)
        }
        _ => (None, text(e, &[Field::Image]).map(|p| basename(&p))),
    }
}

/// The endpoint rules for one event of a non-proxy kind; `None` when nothing fired.
pub fn analyse<'c, E: Event>(
    e: &E,
    kind: Kind,
    catalog: &'c Catalog,
    allowlist: &Allowlist,
) -> Option<Finding<'c>> {
    let (command, process) = command_of(e, kind);
    let client = process
        .as_deref()
        .map_or_else(|| process_class(""), process_class);
    let human = client.class == ClientClass::Browser;
    let mut signals = 0u32;
    let mut services: Vec<(String, &'c Service)> = Vec::new();
    let p = patterns();
    match kind {
        Kind::Process | Kind::ScriptBlock | Kind::Auditd => {
            let cmd = command.as_deref()?;
            if !human {
                services = hosts_in(cmd, catalog);
                if !services.is_empty() {
                    signals |= Signal::AiHostInCommandLine.bit();
                }
                let api_path = cmd.split_whitespace().any(|w| {
                    let w = w.trim_matches(['"', '\'']);
                    w.find("://")
                        .and_then(|i| w[i + 3..].find('/').map(|j| &w[i + 3 + j..]))
                        .is_some_and(|path| paths::shape(path.as_bytes()).is_some())
                });
                if (!services.is_empty() || api_path) && p.request.is_match(cmd) {
                    signals |= Signal::AiRequestShape.bit();
                }
            }
            if p.pip.is_match(cmd) || p.npm.is_match(cmd) {
                signals |= Signal::AiSdkInstall.bit();
            }
            if !keys::key_variables(cmd).is_empty() {
                signals |= Signal::AiApiKeyEnv.bit();
            }
            if keys::find_key(cmd).is_some() {
                signals |= Signal::AiApiKeyMaterial.bit();
            }
        }
        Kind::Network | Kind::Dns => {
            let field = if kind == Kind::Dns {
                Field::QueryName
            } else {
                Field::DestinationHostname
            };
            if let Some(raw) = e.first(field)
                && let Some(host) = normalize_host(&raw)
                && let Some(s) = catalog.lookup(&host)
                && !human
            {
                services.push((host.into_owned(), s));
                signals |= if kind == Kind::Dns {
                    Signal::AiHostDnsQuery
                } else {
                    Signal::AiHostConnection
                }
                .bit();
            }
        }
        Kind::File => {
            if let Some(path) = text(e, &[Field::TargetFilename])
                && p.sdk_path.is_match(&path)
            {
                signals |= Signal::AiSdkInstall.bit();
            }
        }
        Kind::Proxy => return None,
    }
    if signals == 0 {
        return None;
    }
    let weight = services
        .iter()
        .map(|(_, s)| u32::from(s.weight))
        .max()
        .unwrap_or(0);
    let points = weight * 2 / 5
        + Signal::ALL
            .iter()
            .filter(|s| signals & s.bit() != 0)
            .map(|s| s.points())
            .sum::<u32>()
        + client.class.points();
    let machine = text(e, &MACHINE_FIELDS);
    let user = text(e, &USER_FIELDS).filter(|u| u != "4294967295" && u != "-1");
    let parent = text(
        e,
        &[
            Field::ParentImage,
            Field::CreatorProcessName,
            Field::ParentProcessName,
            Field::ParentProcess,
        ],
    )
    .map(|p| basename(&p));
    let allowlisted = if allowlist.is_empty() {
        None
    } else {
        allowlist
            .check(&Subject {
                user: user.as_deref(),
                src: None,
                host: services.first().map(|(h, _)| h.as_str()),
                client_class: client.class.name(),
                client_name: process.as_deref().unwrap_or(client.name),
            })
            .map(String::from)
    };
    Some(Finding {
        kind,
        machine,
        user,
        process,
        parent,
        client,
        services,
        signals,
        score: points.min(100) as u8,
        time: e.first(Field::Time).and_then(|t| parse_time(&t)),
        allowlisted,
    })
}

/// The aggregates of one endpoint group (by machine and user by default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointGroup {
    pub events: u64,
    pub kinds: ValueSet<String>,
    pub processes: ValueSet<String>,
    pub parents: ValueSet<String>,
    pub services: ValueSet<String>,
    pub providers: ValueSet<String>,
    pub categories: ValueSet<String>,
    pub clients: ValueSet<String>,
    pub signals: u32,
    pub client_classes: u32,
    pub max_score: u8,
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
}

impl EndpointGroup {
    fn add(&mut self, f: &Finding<'_>, limits: &Limits, t: &mut Tripped) {
        self.events += 1;
        let mut insert = |set: &mut ValueSet<String>, v: &str| guard::insert_str(set, v, limits, t);
        insert(&mut self.kinds, f.kind.name());
        if let Some(p) = &f.process {
            insert(&mut self.processes, p);
        }
        if let Some(p) = &f.parent {
            insert(&mut self.parents, p);
        }
        for (host, s) in &f.services {
            insert(&mut self.services, host);
            insert(&mut self.providers, &s.provider);
            insert(&mut self.categories, &s.category);
        }
        insert(&mut self.clients, &f.client.label());
        self.signals |= f.signals;
        self.client_classes |= 1 << (f.client.class as u8);
        self.max_score = self.max_score.max(f.score);
        if let Some(t) = f.time {
            self.first_seen = Some(self.first_seen.map_or(t, |x| x.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |x| x.max(t)));
        }
    }

    fn merge(&mut self, o: &EndpointGroup, limits: &Limits, t: &mut Tripped) {
        self.events += o.events;
        for (into, from) in [
            (&mut self.kinds, &o.kinds),
            (&mut self.processes, &o.processes),
            (&mut self.parents, &o.parents),
            (&mut self.services, &o.services),
            (&mut self.providers, &o.providers),
            (&mut self.categories, &o.categories),
            (&mut self.clients, &o.clients),
        ] {
            guard::union(into, from, limits, t);
        }
        self.signals |= o.signals;
        self.client_classes |= o.client_classes;
        self.max_score = self.max_score.max(o.max_score);
        for t in [o.first_seen, o.last_seen].into_iter().flatten() {
            self.first_seen = Some(self.first_seen.map_or(t, |x| x.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |x| x.max(t)));
        }
    }

    /// The rules that fired, then the client classes (`client_<class>`).
    pub fn reasons(&self) -> Vec<String> {
        let mut v: Vec<String> = signal_names(self.signals).map(String::from).collect();
        v.extend(
            ClientClass::ALL
                .iter()
                .filter(|c| self.client_classes & (1 << (**c as u8)) != 0)
                .map(|c| format!("client_{}", c.name())),
        );
        v
    }

    /// Same formula as the proxy groups (`standard::group_risk`).
    pub fn risk_score(&self) -> u8 {
        super::standard::group_risk(self.max_score, self.events, self.providers.len())
    }
}

/// Placeholders for an endpoint event without a machine or user name.
pub const NO_MACHINE: &str = "(no host)";

/// One output row of the endpoint groups.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    pub keys: Vec<String>,
    pub allowlisted: Option<String>,
    pub group: EndpointGroup,
}

/// All endpoint groups of a search.
#[derive(Debug, Default)]
pub struct EndpointGroups {
    groups: std::collections::HashMap<(Vec<String>, Option<String>), EndpointGroup>,
    pub allowlisted_events: u64,
    pub limits: Limits,
    /// What the guards cut.
    pub tripped: Tripped,
}

impl EndpointGroups {
    pub fn with_limits(limits: Limits) -> EndpointGroups {
        EndpointGroups {
            limits,
            ..EndpointGroups::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The group of a key; past `max_groups` a new key becomes the overflow key.
    fn group(
        &mut self,
        mut keys: Vec<String>,
        allow: Option<String>,
        events: u64,
    ) -> &mut EndpointGroup {
        let key_absent = !self.groups.contains_key(&(keys.clone(), allow.clone()));
        if key_absent && self.groups.len() >= self.limits.max_groups {
            self.tripped.overflow_events += events;
            keys = vec![OVERFLOW.to_string(); keys.len()];
        }
        self.groups.entry((keys, allow)).or_default()
    }

    pub fn add(&mut self, keys: Vec<String>, f: &Finding<'_>) {
        if f.allowlisted.is_some() {
            self.allowlisted_events += 1;
        }
        let (limits, mut t) = (self.limits, self.tripped);
        self.group(keys, f.allowlisted.clone(), 1)
            .add(f, &limits, &mut t);
        self.tripped.dropped_values = t.dropped_values;
    }

    pub fn drain_partials(&mut self) -> Vec<serde_json::Value> {
        use super::partial::{f64_to_json, string_set_to_json};
        self.groups
            .drain()
            .map(|((keys, allow), g)| {
                serde_json::json!({
                    "k": keys, "a": allow, "n": g.events,
                    "kinds": string_set_to_json(&g.kinds), "proc": string_set_to_json(&g.processes),
                    "par": string_set_to_json(&g.parents), "svc": string_set_to_json(&g.services),
                    "prov": string_set_to_json(&g.providers), "cat": string_set_to_json(&g.categories),
                    "cli": string_set_to_json(&g.clients), "r": [g.signals, g.client_classes],
                    "sc": g.max_score, "fs": f64_to_json(g.first_seen), "ls": f64_to_json(g.last_seen),
                })
            })
            .collect()
    }

    pub fn merge_partial(
        &mut self,
        v: &serde_json::Value,
    ) -> Result<(), super::partial::PartialError> {
        use super::partial::{f64_from_json, malformed, string_set_from_json, u64_from_json};
        let get = |k: &str| v.get(k).ok_or_else(|| malformed(k));
        let keys: Vec<String> =
            serde_json::from_value(get("k")?.clone()).map_err(|_| malformed("keys"))?;
        let allow: Option<String> =
            serde_json::from_value(get("a")?.clone()).map_err(|_| malformed("allowlisted"))?;
        let r: [u32; 2] =
            serde_json::from_value(get("r")?.clone()).map_err(|_| malformed("reasons"))?;
        let g = EndpointGroup {
            events: u64_from_json(get("n")?)?,
            kinds: string_set_from_json(get("kinds")?)?,
            processes: string_set_from_json(get("proc")?)?,
            parents: string_set_from_json(get("par")?)?,
            services: string_set_from_json(get("svc")?)?,
            providers: string_set_from_json(get("prov")?)?,
            categories: string_set_from_json(get("cat")?)?,
            clients: string_set_from_json(get("cli")?)?,
            signals: r[0],
            client_classes: r[1],
            max_score: u8::try_from(u64_from_json(get("sc")?)?).map_err(|_| malformed("score"))?,
            first_seen: f64_from_json(get("fs")?)?,
            last_seen: f64_from_json(get("ls")?)?,
        };
        if allow.is_some() {
            self.allowlisted_events += g.events;
        }
        let (limits, mut t) = (self.limits, self.tripped);
        self.group(keys, allow, g.events).merge(&g, &limits, &mut t);
        self.tripped.dropped_values = t.dropped_values;
        Ok(())
    }

    /// Keeps groups with `RiskScore >= min_risk` (and not allowlisted when hidden), sorted
    /// like the proxy rows: not allowlisted first, `RiskScore` descending, then keys.
    pub fn finish(self, min_risk: i64, hide_allowlisted: bool) -> Vec<EndpointRow> {
        let mut rows: Vec<EndpointRow> = self
            .groups
            .into_iter()
            .filter(|((_, allow), g)| {
                i64::from(g.risk_score()) >= min_risk && !(hide_allowlisted && allow.is_some())
            })
            .map(|((keys, allowlisted), group)| EndpointRow {
                keys,
                allowlisted,
                group,
            })
            .collect();
        rows.sort_by(|a, b| {
            a.allowlisted
                .is_some()
                .cmp(&b.allowlisted.is_some())
                .then(b.group.risk_score().cmp(&a.group.risk_score()))
                .then_with(|| a.keys.cmp(&b.keys))
                .then_with(|| a.allowlisted.cmp(&b.allowlisted))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::event::OwnedEvent;

    fn catalog() -> Catalog {
        Catalog::builtin()
    }

    fn signals(e: &OwnedEvent) -> Vec<&'static str> {
        let cat = catalog();
        let kind = recognise(e);
        analyse(e, kind, &cat, &Allowlist::default())
            .map_or_else(Vec::new, |f| signal_names(f.signals).collect())
    }

    #[test]
    fn kinds_are_recognised_from_the_fields() {
        let k = |e: OwnedEvent| recognise(&e);
        assert_eq!(
            k(OwnedEvent::new().with(Field::ScriptBlockText, "x")),
            Kind::ScriptBlock
        );
        assert_eq!(
            k(OwnedEvent::new()
                .with(Field::Image, "a")
                .with(Field::CommandLine, "x")),
            Kind::Process
        );
        assert_eq!(
            k(OwnedEvent::new().with(Field::NewProcessName, "a")),
            Kind::Process
        );
        assert_eq!(
            k(OwnedEvent::new()
                .with(Field::Process, "a b")
                .with(Field::ProcessName, "a")),
            Kind::Process
        );
        assert_eq!(
            k(OwnedEvent::new()
                .with(Field::Image, "a")
                .with(Field::DestinationHostname, "h")),
            Kind::Network
        );
        assert_eq!(k(OwnedEvent::new().with(Field::QueryName, "h")), Kind::Dns);
        assert_eq!(
            k(OwnedEvent::new().with(Field::TargetFilename, "f")),
            Kind::File
        );
        assert_eq!(
            k(OwnedEvent::new()
                .with(Field::AuditType, "EXECVE")
                .with(Field::AuditArg(0), "curl")),
            Kind::Auditd
        );
        assert_eq!(
            k(OwnedEvent::new().with(Field::DestHost, "api.openai.com")),
            Kind::Proxy
        );
    }

    #[test]
    fn the_five_test_cases_fire_their_signals() {
        // Test 1: PowerShell Invoke-WebRequest to api.openai.com.
        let t1 = OwnedEvent::new()
            .with(Field::Image, r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe")
            .with(Field::CommandLine, r#"powershell.exe -c "Invoke-WebRequest -Uri https://api.openai.com/v1/models -Headers @{Authorization='Bearer x'}""#);
        assert_eq!(
            signals(&t1),
            ["ai_host_in_command_line", "ai_request_shape"]
        );
        // Test 2: pip install openai, and python with openai and api_key.
        let t2 = OwnedEvent::new()
            .with(Field::Image, r"C:\Python312\Scripts\pip.exe")
            .with(Field::CommandLine, "pip install openai==1.54.3");
        assert_eq!(signals(&t2), ["ai_sdk_install"]);
        let t2f = OwnedEvent::new()
            .with(Field::Image, r"C:\Python312\python.exe")
            .with(
                Field::TargetFilename,
                r"C:\Users\a\AppData\Roaming\Python\Python312\site-packages\openai\__init__.py",
            );
        assert_eq!(signals(&t2f), ["ai_sdk_install"]);
        // Test 3: curl -X POST with the prompt.
        let t3 = OwnedEvent::new().with(Field::Image, r"C:\Windows\System32\curl.exe").with(
            Field::CommandLine,
            r#"curl.exe -X POST https://api.openai.com/v1/chat/completions -H "Content-Type: application/json" -d "{\"model\":\"gpt-4o\"}""#,
        );
        assert_eq!(
            signals(&t3),
            ["ai_host_in_command_line", "ai_request_shape"]
        );
        // Test 4: the key in an environment variable, in a script block.
        let t4 = OwnedEvent::new().with(Field::ScriptBlockText, "$env:OPENAI_API_KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123'; Invoke-RestMethod -Uri https://api.openai.com/v1/chat/completions -Method Post");
        assert_eq!(
            signals(&t4),
            [
                "ai_host_in_command_line",
                "ai_api_key_env",
                "ai_api_key_material",
                "ai_request_shape"
            ]
        );
        // Test 5: auditd EXECVE of curl with api.openai.com in argv.
        let t5 = OwnedEvent::new()
            .with(Field::AuditType, "EXECVE")
            .with(Field::AuditArg(0), "curl")
            .with(Field::AuditArg(1), "-X")
            .with(Field::AuditArg(2), "POST")
            .with(
                Field::AuditArg(3),
                "https://api.openai.com/v1/chat/completions",
            );
        assert_eq!(
            signals(&t5),
            ["ai_host_in_command_line", "ai_request_shape"]
        );
        // DNS and connections from non-browser processes.
        let dns = OwnedEvent::new()
            .with(Field::Image, r"C:\Python312\python.exe")
            .with(Field::QueryName, "api.openai.com");
        assert_eq!(signals(&dns), ["ai_host_dns_query"]);
        let net = OwnedEvent::new()
            .with(Field::Image, r"C:\Windows\System32\curl.exe")
            .with(Field::DestinationHostname, "api.openai.com");
        assert_eq!(signals(&net), ["ai_host_connection"]);
    }

    #[test]
    fn benign_look_alikes_fire_nothing() {
        let cases = [
            OwnedEvent::new()
                .with(
                    Field::Image,
                    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
                )
                .with(Field::QueryName, "chatgpt.com"),
            OwnedEvent::new()
                .with(
                    Field::Image,
                    r"C:\Program Files\Mozilla Firefox\firefox.exe",
                )
                .with(Field::DestinationHostname, "api.openai.com"),
            OwnedEvent::new().with(Field::Image, "curl.exe").with(
                Field::CommandLine,
                "curl -X POST https://example.com/api/v1/upload -d x",
            ),
            OwnedEvent::new().with(
                Field::ScriptBlockText,
                "Get-ChildItem C:\\ | Where-Object { $_.Length -gt 100 }",
            ),
            OwnedEvent::new()
                .with(Field::Image, "pip.exe")
                .with(Field::CommandLine, "pip install requests"),
            OwnedEvent::new().with(Field::Image, "pip.exe").with(
                Field::CommandLine,
                "pip install openai-whisper-cli-fake-name-x",
            ),
            OwnedEvent::new().with(
                Field::TargetFilename,
                r"C:\x\site-packages\requests\__init__.py",
            ),
            OwnedEvent::new()
                .with(Field::AuditType, "EXECVE")
                .with(Field::AuditArg(0), "ls")
                .with(Field::AuditArg(1), "-la"),
        ];
        for e in &cases {
            assert!(signals(e).is_empty(), "{e:?}: {:?}", signals(e));
        }
    }

    #[test]
    fn auditd_hex_arguments_are_decoded() {
        assert_eq!(audit_arg(b"2D6420226D6F64656C22"), "-d \"model\"");
        assert_eq!(audit_arg(b"CAFE"), "CAFE");
        assert_eq!(audit_arg(b"\"-X\""), "-X");
    }

    #[test]
    fn process_names_and_classes() {
        assert_eq!(
            basename(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"),
            "powershell.exe"
        );
        assert_eq!(basename("/usr/bin/curl"), "curl");
        assert_eq!(
            process_class("powershell.exe").class,
            ClientClass::Scripting
        );
        assert_eq!(process_class("python3.12").name, "python");
        assert_eq!(process_class("msedge.exe").class, ClientClass::Browser);
        assert_eq!(
            process_class("claude.exe").class,
            ClientClass::ElectronAiApp
        );
    }
}
