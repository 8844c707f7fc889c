//! A borrowed view of one event: the fields the detection reads, with Splunk's null rules
//! (an absent field, an empty cell and an empty multivalue item are all null).

use std::borrow::Cow;

/// The event fields the detection knows by name.
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
}

impl Field {
    pub const ALL: [Field; 11] = [
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
    ];

    /// The field's name in Splunk.
    pub fn name(self) -> &'static str {
        match self {
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
        }
    }

    pub fn index(self) -> usize {
        self as usize
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

/// `coalesce(a, b)`: the first of the fields that is not null.
pub fn coalesce<'e, E: Event>(event: &'e E, fields: &[Field]) -> Option<Cow<'e, [u8]>> {
    fields.iter().find_map(|&f| event.first(f))
}

/// A simple owned event, for tests, the demo and file input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedEvent {
    values: Vec<Vec<Vec<u8>>>,
}

impl OwnedEvent {
    pub fn new() -> OwnedEvent {
        OwnedEvent {
            values: vec![Vec::new(); Field::ALL.len()],
        }
    }

    /// Adds a value (an empty one is ignored: it is null).
    pub fn with(mut self, field: Field, value: impl AsRef<[u8]>) -> OwnedEvent {
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
