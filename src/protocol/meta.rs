//! The JSON metadata of requests (getinfo, execute) and replies.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The metadata of a request from splunkd. Unknown keys are ignored.
#[derive(Debug, Deserialize, Default)]
pub struct Request {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub finished: Option<bool>,
    #[serde(default)]
    pub preview: Option<bool>,
    #[serde(default)]
    pub searchinfo: Option<SearchInfo>,
}

/// What splunkd tells the command about the search (getinfo only; kept for the whole run).
/// Every key is optional: Splunk 6.3 lacks several that 8.x sends.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct SearchInfo {
    pub args: Vec<String>,
    pub raw_args: Vec<String>,
    pub dispatch_dir: Option<String>,
    pub sid: Option<String>,
    pub app: Option<String>,
    pub owner: Option<String>,
    pub username: Option<String>,
    /// splunkd's auth token: never logged, never echoed (see the `Debug` impl and `secret`).
    #[serde(deserialize_with = "secret")]
    pub session_key: Option<String>,
    pub splunkd_uri: Option<String>,
    pub splunk_version: Option<String>,
    /// The full search string, URL-decoded.
    #[serde(deserialize_with = "url_decoded")]
    pub search: Option<String>,
    pub command: Option<String>,
    pub maxresultrows: Option<u64>,
    #[serde(deserialize_with = "string_or_number")]
    pub earliest_time: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    pub latest_time: Option<String>,
}

impl fmt::Debug for SearchInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchInfo")
            .field("args", &self.args)
            .field("dispatch_dir", &self.dispatch_dir)
            .field("sid", &self.sid)
            .field("app", &self.app)
            .field("username", &self.username)
            .field(
                "session_key",
                &self.session_key.as_ref().map(|_| "<redacted>"),
            )
            .field("splunk_version", &self.splunk_version)
            .field("command", &self.command)
            .field("maxresultrows", &self.maxresultrows)
            .field("earliest_time", &self.earliest_time)
            .field("latest_time", &self.latest_time)
            .finish_non_exhaustive()
    }
}

/// The session key: a string, or no key for any other JSON value. Never a type error, because
/// serde's type errors quote the value they reject, and the error would reach the reply and
/// search.log.
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        other => {
            return Err(de::Error::custom(format!(
                "expected a time as a string or number, got {other}"
            )));
        }
    })
}

fn url_decoded<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| percent_decode(&s)))
}

/// Decodes `%XX` escapes as Python's `unquote` does (splunkd encodes spaces as `%20`, so `+`
/// stays a plus). Invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Message severity shown in the job inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    #[serde(rename = "DEBUG")]
    Debug,
    #[serde(rename = "INFO")]
    Info,
    #[serde(rename = "WARN")]
    Warn,
    #[serde(rename = "ERROR")]
    Error,
}

/// `[elapsed_seconds, invocations, input_count, output_count]`
pub type Metric = (f64, u64, u64, u64);

/// The `inspector` object: messages plus optional `metric.<name>` entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspector {
    pub messages: Vec<(Level, String)>,
    pub metrics: BTreeMap<String, Metric>,
}

impl Inspector {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.metrics.is_empty()
    }
}

impl Serialize for Inspector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if !self.messages.is_empty() {
            map.serialize_entry("messages", &self.messages)?;
        }
        for (name, metric) in &self.metrics {
            map.serialize_entry(&format!("metric.{name}"), metric)?;
        }
        map.end()
    }
}

/// How splunkd should run the command (`type` in the getinfo reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandType {
    /// Distributable, record by record (may run on indexers).
    Streaming,
    /// Record by record, in order, on the search head.
    Stateful,
    /// Sees all events on the search head, may reorder.
    Events,
    /// Transforming: sees everything, answers at the end (like `stats`).
    Reporting,
}

/// Reply metadata. Field order is the JSON key order: `inspector` precedes `error`, as
/// splunkd's reader expects. `None` fields are left out; `maxinputs` does not exist in v2.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reply {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub command_type: Option<CommandType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generating: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_fields: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming_preop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxwait: Option<u64>,
    #[serde(skip_serializing_if = "Inspector::is_empty")]
    pub inspector: Inspector,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    /// `{"inspector":{"messages":[["ERROR",msg]]},"finished":true,"error":msg}`
    pub fn error(message: &str) -> Reply {
        Reply {
            inspector: Inspector {
                messages: vec![(Level::Error, message.to_string())],
                ..Inspector::default()
            },
            finished: Some(true),
            error: Some(message.to_string()),
            ..Reply::default()
        }
    }

    pub fn finished(finished: bool) -> Reply {
        Reply {
            finished: Some(finished),
            ..Reply::default()
        }
    }

    /// Compact JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("reply metadata always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getinfo_parses_permissively_with_times_as_strings_or_numbers() {
        let meta = br#"{"action":"getinfo","preview":false,"unknown":{"x":1},
            "searchinfo":{"args":["a=1"],"earliest_time":1599084000.0,"latest_time":"0",
            "search":"%7C%20aidetect%20profile%3Dseed","maxresultrows":50000,"new_key":[1]}}"#;
        let req: Request = serde_json::from_slice(meta).unwrap();
        let info = req.searchinfo.unwrap();
        assert_eq!(info.args, vec!["a=1"]);
        assert_eq!(info.earliest_time.as_deref(), Some("1599084000.0"));
        assert_eq!(info.latest_time.as_deref(), Some("0"));
        assert_eq!(info.search.as_deref(), Some("| aidetect profile=seed"));
        assert_eq!(info.maxresultrows, Some(50000));
        assert_eq!(info.command, None);
    }

    #[test]
    fn missing_keys_are_tolerated() {
        let req: Request = serde_json::from_slice(br#"{"action":"getinfo"}"#).unwrap();
        assert!(req.searchinfo.is_none());
        let req: Request =
            serde_json::from_slice(br#"{"action":"getinfo","searchinfo":{}}"#).unwrap();
        assert!(req.searchinfo.unwrap().args.is_empty());
    }

    #[test]
    fn session_key_is_redacted_in_debug_output() {
        let req: Request = serde_json::from_slice(
            br#"{"searchinfo":{"session_key":"SECRET-TOKEN-123","username":"admin"}}"#,
        )
        .unwrap();
        let shown = format!("{:?}", req.searchinfo.unwrap());
        assert!(!shown.contains("SECRET-TOKEN-123"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn a_session_key_of_the_wrong_type_is_no_key_and_never_quoted_in_an_error() {
        for key in [
            "987654321",
            "true",
            "[\"SECRET\"]",
            "{\"k\":\"SECRET\"}",
            "null",
        ] {
            let meta = format!(r#"{{"searchinfo":{{"session_key":{key},"args":["a=1"]}}}}"#);
            let req: Request = serde_json::from_slice(meta.as_bytes()).unwrap();
            let info = req.searchinfo.unwrap();
            assert_eq!(info.session_key, None, "{key}");
            assert_eq!(info.args, ["a=1"]);
        }
        // An error elsewhere in the same metadata does not quote the key either.
        let err = serde_json::from_slice::<Request>(
            br#"{"searchinfo":{"session_key":987654321,"maxresultrows":"x"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("987654321"), "{err}");
    }

    #[test]
    fn error_reply_puts_inspector_before_error() {
        let json = String::from_utf8(Reply::error("bad \"x\"").to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"inspector":{"messages":[["ERROR","bad \"x\""]]},"finished":true,"error":"bad \"x\""}"#
        );
    }

    #[test]
    fn getinfo_reply_is_compact_and_never_has_maxinputs() {
        let reply = Reply {
            command_type: Some(CommandType::Reporting),
            required_fields: Some(vec!["a".into(), "b".into()]),
            streaming_preop: Some("x phase=\"map\"".into()),
            ..Reply::default()
        };
        let json = String::from_utf8(reply.to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"type":"reporting","required_fields":["a","b"],"streaming_preop":"x phase=\"map\""}"#
        );
        assert_eq!(Reply::finished(false).to_json(), br#"{"finished":false}"#);
    }

    #[test]
    fn inspector_carries_messages_and_metrics() {
        let mut inspector = Inspector::default();
        inspector.messages.push((Level::Warn, "cut".into()));
        inspector.metrics.insert("aidetect".into(), (0.5, 1, 10, 2));
        let json = serde_json::to_string(&inspector).unwrap();
        assert_eq!(
            json,
            r#"{"messages":[["WARN","cut"]],"metric.aidetect":[0.5,1,10,2]}"#
        );
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("%7C%20a%3D1"), "| a=1");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E0%B8%97"), "\u{0e17}");
    }
}
