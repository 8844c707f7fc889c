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

/// One case-insensitive search for any needle of any shape: most paths match none of them
/// and are done after this single pass.
fn any_needle(path: &[u8]) -> bool {
    static RE: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        let needles: Vec<String> = VOICE
            .iter()
            .chain(OPENAI)
            .chain(ANTHROPIC)
            .chain(GOOGLE)
            .chain(&["/chat/completions", "/model/"])
            .map(|n| regex::escape(n))
            .collect();
        regex::bytes::Regex::new(&format!("(?i){}", needles.join("|"))).expect("needles compile")
    })
    .is_match(path)
}

/// Every needle holds `:` or one of these after a `/` (checked in `tests`), so a path without
/// any of them is ruled out in one cheap pass.
const ANCHORS: [&[u8]; 5] = [b"v1", b"chat/", b"model/", b"voices/", b"api/paas/"];

fn may_have_needle(path: &[u8]) -> bool {
    path.iter().enumerate().any(|(i, &b)| {
        b == b':'
            || (b == b'/'
                && ANCHORS.iter().any(|a| {
                    path.get(i + 1..i + 1 + a.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(a))
                }))
    })
}

/// The shape of a request path (the query string, if any, is ignored).
pub fn shape(path: &[u8]) -> Option<PathShape> {
    if !path.starts_with(b"/") || !may_have_needle(path) || !any_needle(path) {
        return None;
    }
    let path = std::str::from_utf8(path).ok()?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return None;
    }
    // Lowercase into a stack buffer: no allocation for the paths of ordinary events.
    let mut stack = [0u8; 512];
    let heap;
    let lower: &str = if path.len() <= stack.len() {
        let buf = &mut stack[..path.len()];
        buf.copy_from_slice(path.as_bytes());
        buf.make_ascii_lowercase();
        std::str::from_utf8(buf).expect("ASCII lowercasing keeps UTF-8")
    } else {
        heap = path.to_ascii_lowercase();
        &heap
    };
    if VOICE.iter().any(|p| lower.contains(p)) {
        return Some(PathShape::VoiceCloning);
    }
    if OPENAI.iter().any(|p| lower.contains(p)) || lower.ends_with("/chat/completions") {
        return Some(PathShape::OpenAi);
    }
    if ANTHROPIC.iter().any(|p| lower.contains(p)) {
        return Some(PathShape::Anthropic);
    }
    if GOOGLE.iter().any(|p| lower.contains(p))
        && (lower.contains("/models/") || lower.contains("/v1internal:"))
    {
        return Some(PathShape::Google);
    }
    if is_bedrock(lower) {
        return Some(PathShape::AwsBedrock);
    }
    None
}

/// `/model/{modelId}/invoke[-with-response-stream]` or `/model/{modelId}/converse[-stream]`.
fn is_bedrock(lower: &str) -> bool {
    let Some(rest) = lower.strip_prefix("/model/") else {
        return false;
    };
    let Some((model, action)) = rest.rsplit_once('/') else {
        return false;
    };
    !model.is_empty()
        && matches!(
            action,
            "invoke" | "invoke-with-response-stream" | "converse" | "converse-stream"
        )
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
