//! Request-path signatures that identify an AI API call independently of the host: almost
//! every provider and gateway clones the OpenAI, Anthropic, Google or AWS request shape.

/// The API shape a path follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathShape {
    OpenAi,
    Anthropic,
    Google,
    AwsBedrock,
    /// Voice cloning and speech synthesis endpoints (ElevenLabs-style).
    VoiceCloning,
}

impl PathShape {
    pub fn name(self) -> &'static str {
        match self {
            PathShape::OpenAi => "openai",
            PathShape::Anthropic => "anthropic",
            PathShape::Google => "google",
            PathShape::AwsBedrock => "aws_bedrock",
            PathShape::VoiceCloning => "voice_cloning",
        }
    }
}

const VOICE: &[&str] = &[
    "/v1/voices/add",
    "/voices/clone",
    "/v1/voice-generation",
    "/v1/text-to-voice",
    "/v1/speech-to-speech/",
    "/v1/text-to-speech/",
];

const OPENAI: &[&str] = &[
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/audio/speech",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/assistants",
    "/v1/threads",
    "/v1/batches",
    "/v1/fine_tuning/",
    "/v1/realtime",
    "/api/paas/v4/chat/completions",
];

const ANTHROPIC: &[&str] = &["/v1/messages", "/v1/complete"];

const GOOGLE: &[&str] = &[
    ":generatecontent",
    ":streamgeneratecontent",
    ":embedcontent",
    ":batchembedcontents",
    ":rawpredict",
    ":streamrawpredict",
    "/v1internal:",
];

/// Every needle holds `:` or one of these after a `/` (checked in `tests`), so a path without
/// any of them is ruled out in one cheap pass.
const ANCHORS: [&[u8]; 5] = [b"v1", b"chat/", b"model/", b"voices/", b"api/paas/"];

fn may_have_needle(path: &[u8]) -> bool {
    memchr::memchr2_iter(b'/', b':', path).any(|i| {
        path[i] == b':'
            // Every anchor starts with one of these letters (checked in `tests`).
            || (path
                .get(i + 1)
                .is_some_and(|&b| matches!(b | 0x20, b'v' | b'c' | b'm' | b'a'))
                && ANCHORS.iter().any(|a| {
                    path.get(i + 1..i + 1 + a.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(a))
                }))
    })
}

/// `false` when `path` (its query string already removed) cannot have a shape: the cheap
/// test `shape` starts with, for callers that cache shapes and want to skip the cache.
pub fn may_have_shape(path: &[u8]) -> bool {
    path.starts_with(b"/") && may_have_needle(path)
}

/// The families of needles as one automaton: one pass over a path says which match.
fn families() -> &'static regex::bytes::RegexSet {
    static SET: std::sync::OnceLock<regex::bytes::RegexSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let alt = |needles: &[&str]| -> String {
            let v: Vec<String> = needles.iter().map(|n| regex::escape(n)).collect();
            format!("(?i)(?:{})", v.join("|"))
        };
        regex::bytes::RegexSet::new([
            alt(VOICE),
            format!("{}|(?i)/chat/completions$", alt(OPENAI)),
            alt(ANTHROPIC),
            alt(GOOGLE),
            "(?i)/models/|/v1internal:".to_string(),
            "(?i)^/model/.+/(?:invoke|invoke-with-response-stream|converse|converse-stream)$"
                .to_string(),
        ])
        .expect("path needles compile")
    })
}

/// The shape of a request path (the query string, if any, is ignored).
pub fn shape(path: &[u8]) -> Option<PathShape> {
    let path = memchr::memchr2(b'?', b'#', path).map_or(path, |q| &path[..q]);
    if !may_have_shape(path) {
        return None;
    }
    let m = families().matches(path);
    if m.matched(0) {
        Some(PathShape::VoiceCloning)
    } else if m.matched(1) {
        Some(PathShape::OpenAi)
    } else if m.matched(2) {
        Some(PathShape::Anthropic)
    } else if m.matched(3) && m.matched(4) {
        Some(PathShape::Google)
    } else if m.matched(5) {
        Some(PathShape::AwsBedrock)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_shape_is_recognised() {
        assert_eq!(shape(b"/v1/chat/completions"), Some(PathShape::OpenAi));
        assert_eq!(
            shape(b"/openai/v1/chat/completions?x=1"),
            Some(PathShape::OpenAi)
        );
        assert_eq!(shape(b"/chat/completions"), Some(PathShape::OpenAi));
        assert_eq!(shape(b"/v1/messages"), Some(PathShape::Anthropic));
        assert_eq!(
            shape(b"/anthropic/v1/messages/count_tokens"),
            Some(PathShape::Anthropic)
        );
        assert_eq!(
            shape(b"/v1beta/models/gemini-2.5-pro:generateContent"),
            Some(PathShape::Google)
        );
        assert_eq!(shape(b"/v1/projects/p/locations/us/publishers/google/models/gemini:streamGenerateContent"), Some(PathShape::Google));
        assert_eq!(
            shape(b"/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke"),
            Some(PathShape::AwsBedrock)
        );
        assert_eq!(
            shape(b"/model/meta.llama3/converse-stream"),
            Some(PathShape::AwsBedrock)
        );
        assert_eq!(shape(b"/v1/voices/add"), Some(PathShape::VoiceCloning));
        assert_eq!(
            shape(b"/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"),
            Some(PathShape::VoiceCloning)
        );
    }

    #[test]
    fn every_anchor_starts_with_a_letter_the_cheap_pass_looks_for() {
        for a in ANCHORS {
            assert!(matches!(a[0] | 0x20, b'v' | b'c' | b'm' | b'a'), "{a:?}");
        }
    }

    #[test]
    fn the_cheap_pass_keeps_every_needle() {
        for n in VOICE
            .iter()
            .chain(OPENAI)
            .chain(ANTHROPIC)
            .chain(GOOGLE)
            .chain(&["/chat/completions", "/model/"])
        {
            assert!(may_have_needle(n.as_bytes()), "{n}");
            assert!(may_have_needle(n.to_ascii_uppercase().as_bytes()), "{n}");
        }
    }

    #[test]
    fn ordinary_paths_have_no_shape() {
        for p in [
            "/",
            "/index.html",
            "/api/v2/users",
            "/v1/models",
            "/model/x",
            "/wiki/Main_Page",
            "v1/chat/completions",
            "/messages",
        ] {
            assert_eq!(shape(p.as_bytes()), None, "{p}");
        }
    }
}
