//! A borrowed view of one event: the fields the detection reads, with Splunk's null rules
//! (an absent field, an empty cell and an empty multivalue item are all null).

use std::borrow::Cow;

/// The event fields the detection knows by name, plus `Extra(n)`: the n-th field a user
/// named in an option (`by=`), which the command resolves by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    DestHost,
    HttpUserAgent,
    CsUserAgent,
    BytesOut,
    CsBytes,
    UriPath,
    CsUriStem,
    HttpMethod,
    CsMethod,
    SrcIp,
    User,
    Dest,
    Url,
    HttpHost,
    CsHost,
    DestName,
    ServerName,
    SslServerName,
    Query,
    Src,
    ClientIp,
    SrcUser,
    UserAgent,
    Time,
    /// Pre-aggregated input (`tstats count ...`): how many events the row stands for.
    Count,
    /// Pre-aggregated bytes: the sum and the maximum over the row's events.
    SumBytes,
    MaxBytes,
    /// Pre-aggregated times: the earliest and latest `_time` of the row's events.
    FirstTime,
    LastTime,
    Image,
    CommandLine,
    ParentImage,
    NewProcessName,
    ProcessCommandLine,
    CreatorProcessName,
    ParentProcessName,
    Process,
    ProcessName,
    ParentProcess,
    ProcessPath,
    ScriptBlockText,
    DestinationHostname,
    DestinationIp,
    QueryName,
    TargetFilename,
    AuditType,
    Exe,
    Comm,
    Computer,
    ComputerName,
    Dvc,
    Host,
    UserCap,
    SubjectUserName,
    Auid,
    Uid,
    SourceIp,
    /// auditd EXECVE arguments `a0` … `a19`.
    AuditArg(u8),
    Extra(u8),
}

impl Field {
    /// The named fields, in index order (`index()` agrees: a unit test checks it).
    pub const KNOWN: [Field; 57] = [
        Field::DestHost,
        Field::HttpUserAgent,
        Field::CsUserAgent,
        Field::BytesOut,
        Field::CsBytes,
        Field::UriPath,
        Field::CsUriStem,
        Field::HttpMethod,
        Field::CsMethod,
        Field::SrcIp,
        Field::User,
        Field::Dest,
        Field::Url,
        Field::HttpHost,
        Field::CsHost,
        Field::DestName,
        Field::ServerName,
        Field::SslServerName,
        Field::Query,
        Field::Src,
        Field::ClientIp,
        Field::SrcUser,
        Field::UserAgent,
        Field::Time,
        Field::Count,
        Field::SumBytes,
        Field::MaxBytes,
        Field::FirstTime,
        Field::LastTime,
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
        Field::ScriptBlockText,
        Field::DestinationHostname,
        Field::DestinationIp,
        Field::QueryName,
        Field::TargetFilename,
        Field::AuditType,
        Field::Exe,
        Field::Comm,
        Field::Computer,
        Field::ComputerName,
        Field::Dvc,
        Field::Host,
        Field::UserCap,
        Field::SubjectUserName,
        Field::Auid,
        Field::Uid,
        Field::SourceIp,
    ];

    /// How many `AuditArg` fields are read.
    pub const AUDIT_ARGS: u8 = 20;

    /// The field's name in Splunk (`None` for `Extra`, which the command names).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Field::DestHost => "dest_host",
            Field::HttpUserAgent => "http_user_agent",
            Field::CsUserAgent => "cs_user_agent",
            Field::BytesOut => "bytes_out",
            Field::CsBytes => "cs_bytes",
            Field::UriPath => "uri_path",
            Field::CsUriStem => "cs_uri_stem",
            Field::HttpMethod => "http_method",
            Field::CsMethod => "cs_method",
            Field::SrcIp => "src_ip",
            Field::User => "user",
            Field::Dest => "dest",
            Field::Url => "url",
            Field::HttpHost => "http_host",
            Field::CsHost => "cs_host",
            Field::DestName => "dest_name",
            Field::ServerName => "server_name",
            Field::SslServerName => "ssl_server_name",
            Field::Query => "query",
            Field::Src => "src",
            Field::ClientIp => "clientip",
            Field::SrcUser => "src_user",
            Field::UserAgent => "user_agent",
            Field::Time => "_time",
            Field::Count => "count",
            Field::SumBytes => "sum_bytes_out",
            Field::MaxBytes => "max_bytes_out",
            Field::FirstTime => "firstTime",
            Field::LastTime => "lastTime",
            Field::Image => "Image",
            Field::CommandLine => "CommandLine",
            Field::ParentImage => "ParentImage",
            Field::NewProcessName => "New_Process_Name",
            Field::ProcessCommandLine => "Process_Command_Line",
            Field::CreatorProcessName => "Creator_Process_Name",
            Field::ParentProcessName => "parent_process_name",
            Field::Process => "process",
            Field::ProcessName => "process_name",
            Field::ParentProcess => "parent_process",
            Field::ProcessPath => "process_path",
            Field::ScriptBlockText => "ScriptBlockText",
            Field::DestinationHostname => "DestinationHostname",
            Field::DestinationIp => "DestinationIp",
            Field::QueryName => "QueryName",
            Field::TargetFilename => "TargetFilename",
            Field::AuditType => "type",
            Field::Exe => "exe",
            Field::Comm => "comm",
            Field::Computer => "Computer",
            Field::ComputerName => "ComputerName",
            Field::Dvc => "dvc",
            Field::Host => "host",
            Field::UserCap => "User",
            Field::SubjectUserName => "SubjectUserName",
            Field::Auid => "auid",
            Field::Uid => "uid",
            Field::SourceIp => "SourceIp",
            Field::AuditArg(n) => AUDIT_ARG_NAMES.get(n as usize)?,
            Field::Extra(_) => return None,
        })
    }

    /// Every name the field is read from, in order: its own name, the CIM Web data model's
    /// `Web.` name (for the fields that model has), and for pre-aggregated fields the names
    /// `tstats`/`stats` give them.
    pub fn aliases(self) -> Vec<String> {
        let Some(name) = self.name() else {
            return Vec::new();
        };
        let mut v = vec![name.to_string()];
        let web = matches!(
            self,
            Field::Dest
                | Field::Src
                | Field::User
                | Field::HttpUserAgent
                | Field::UriPath
                | Field::HttpMethod
                | Field::BytesOut
                | Field::Url
        );
        if web {
            v.push(format!("Web.{name}"));
        }
        let more: &[&str] = match self {
            Field::SumBytes => &["sum(bytes_out)", "sum(Web.bytes_out)"],
            Field::MaxBytes => &["max(bytes_out)", "max(Web.bytes_out)"],
            Field::FirstTime => &["min(_time)", "earliest(_time)"],
            Field::LastTime => &["max(_time)", "latest(_time)"],
            _ => &[],
        };
        v.extend(more.iter().map(|s| s.to_string()));
        v
    }

    /// A dense index: the known fields first, then the extras.
    #[inline(always)]
    pub fn index(self) -> usize {
        match self {
            Field::DestHost => 0,
            Field::HttpUserAgent => 1,
            Field::CsUserAgent => 2,
            Field::BytesOut => 3,
            Field::CsBytes => 4,
            Field::UriPath => 5,
            Field::CsUriStem => 6,
            Field::HttpMethod => 7,
            Field::CsMethod => 8,
            Field::SrcIp => 9,
            Field::User => 10,
            Field::Dest => 11,
            Field::Url => 12,
            Field::HttpHost => 13,
            Field::CsHost => 14,
            Field::DestName => 15,
            Field::ServerName => 16,
            Field::SslServerName => 17,
            Field::Query => 18,
            Field::Src => 19,
            Field::ClientIp => 20,
            Field::SrcUser => 21,
            Field::UserAgent => 22,
            Field::Time => 23,
            Field::Count => 24,
            Field::SumBytes => 25,
            Field::MaxBytes => 26,
            Field::FirstTime => 27,
            Field::LastTime => 28,
            Field::Image => 29,
            Field::CommandLine => 30,
            Field::ParentImage => 31,
            Field::NewProcessName => 32,
            Field::ProcessCommandLine => 33,
            Field::CreatorProcessName => 34,
            Field::ParentProcessName => 35,
            Field::Process => 36,
            Field::ProcessName => 37,
            Field::ParentProcess => 38,
            Field::ProcessPath => 39,
            Field::ScriptBlockText => 40,
            Field::DestinationHostname => 41,
            Field::DestinationIp => 42,
            Field::QueryName => 43,
            Field::TargetFilename => 44,
            Field::AuditType => 45,
            Field::Exe => 46,
            Field::Comm => 47,
            Field::Computer => 48,
            Field::ComputerName => 49,
            Field::Dvc => 50,
            Field::Host => 51,
            Field::UserCap => 52,
            Field::SubjectUserName => 53,
            Field::Auid => 54,
            Field::Uid => 55,
            Field::SourceIp => 56,
            Field::AuditArg(n) => Field::KNOWN.len() + n as usize,
            Field::Extra(n) => Field::KNOWN.len() + Field::AUDIT_ARGS as usize + n as usize,
        }
    }
}

/// One event as the detection sees it. Implementations hand out raw bytes; empty values
/// must not be reported (they are null).
pub trait Event {
    /// The first non-null value of the field, if any (what an `eval` function looks at).
    fn first(&self, field: Field) -> Option<Cow<'_, [u8]>>;
    /// Calls `visit` with every non-null value of the field, in order.
    fn each(&self, field: Field, visit: &mut dyn FnMut(&[u8]));
}

const AUDIT_ARG_NAMES: [&str; 20] = [
    "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12", "a13", "a14",
    "a15", "a16", "a17", "a18", "a19",
];

/// How many events the row stands for: its `count` when that is a whole number, else 1.
pub fn weight<E: Event>(event: &E) -> u64 {
    event
        .first(Field::Count)
        .and_then(|c| {
            std::str::from_utf8(&c)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
        })
        .unwrap_or(1)
}

/// `coalesce(a, b)`: the first of the fields that is not null.
///
/// Inlined: callers pass a short constant list, which then unrolls into one read per field.
#[inline(always)]
pub fn coalesce<'e, E: Event>(event: &'e E, fields: &[Field]) -> Option<Cow<'e, [u8]>> {
    for &f in fields {
        if let Some(v) = event.first(f) {
            return Some(v);
        }
    }
    None
}

/// A simple owned event, for tests, the demo and file input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedEvent {
    values: Vec<Vec<Vec<u8>>>,
}

impl OwnedEvent {
    pub fn new() -> OwnedEvent {
        OwnedEvent {
            values: vec![Vec::new(); Field::KNOWN.len() + 8],
        }
    }

    /// Adds a value (an empty one is ignored: it is null).
    pub fn with(mut self, field: Field, value: impl AsRef<[u8]>) -> OwnedEvent {
        if self.values.len() <= field.index() {
            self.values.resize(field.index() + 1, Vec::new());
        }
        if !value.as_ref().is_empty() {
            self.values[field.index()].push(value.as_ref().to_vec());
        }
        self
    }
}

impl Event for OwnedEvent {
    fn first(&self, field: Field) -> Option<Cow<'_, [u8]>> {
        self.values[field.index()]
            .first()
            .map(|v| Cow::Borrowed(v.as_slice()))
    }
    fn each(&self, field: Field, visit: &mut dyn FnMut(&[u8])) {
        for v in &self.values[field.index()] {
            visit(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_dense_and_agree_with_known() {
        for (i, f) in Field::KNOWN.iter().enumerate() {
            assert_eq!(f.index(), i, "{f:?}");
        }
        assert_eq!(Field::AuditArg(0).index(), Field::KNOWN.len());
        assert_eq!(Field::Extra(0).index(), Field::KNOWN.len() + 20);
        assert_eq!(Field::AuditArg(19).name(), Some("a19"));
    }
}
