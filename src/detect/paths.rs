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

/// The shape of a request path (the query string, if any, is ignored).
pub fn shape(path: &[u8]) -> Option<PathShape> {
    let path = std::str::from_utf8(path).ok()?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return None;
    }
    let lower = path.to_ascii_lowercase();
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
    if is_bedrock(&lower) {
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
