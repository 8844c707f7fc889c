//! AI API keys: recognised by their providers' formats, and redacted wherever they would be
//! shown (`sk-p…#3f9a1c`: the provider, the first four characters and a short hash, so the
//! same key can be followed across events without being seen). Also the environment
//! variables that hold such keys.

use regex::{Regex, RegexSet};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Key formats, most specific first: (provider, pattern). Each starts with one of
/// `PREFIXES` and is at least `SHORTEST` bytes long (both checked in `tests`).
const FORMATS: &[(&str, &str)] = &[
    ("anthropic", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{20,}"),
    ("openrouter", r"sk-or-v1-[A-Fa-f0-9]{32,}"),
    (
        "openai",
        r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}",
    ),
    ("openai", r"sk-[A-Za-z0-9]{20,}"),
    ("google", r"AIza[0-9A-Za-z_\-]{35,}"),
    ("huggingface", r"hf_[A-Za-z0-9]{30,}"),
    ("groq", r"gsk_[A-Za-z0-9]{40,}"),
    ("xai", r"xai-[A-Za-z0-9]{40,}"),
    ("perplexity", r"pplx-[A-Za-z0-9]{40,}"),
    ("replicate", r"r8_[A-Za-z0-9]{30,}"),
    ("elevenlabs", r"sk_[a-f0-9]{40,}"),
];

/// Environment variables that hold AI API keys.
pub const KEY_VARIABLES: &[&str] = &[
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_API_KEY",
    "GROQ_API_KEY",
    "XAI_API_KEY",
    "MISTRAL_API_KEY",
    "COHERE_API_KEY",
    "CO_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "PERPLEXITY_API_KEY",
    "PPLX_API_KEY",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "REPLICATE_API_TOKEN",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUGGINGFACEHUB_API_TOKEN",
    "ELEVENLABS_API_KEY",
    "AWS_BEARER_TOKEN_BEDROCK",
];

/// The literals the key formats start with (`gsk_` holds `sk_`).
const PREFIXES: [&[u8]; 7] = [b"sk-", b"sk_", b"AIza", b"hf_", b"xai-", b"pplx-", b"r8_"];

/// The length of the shortest key (`sk-` and 20 characters).
const SHORTEST: usize = 23;

/// Whether `text` may hold a key: it is long enough and one of `PREFIXES` appears in it.
/// One pass with nothing compiled: most text holds no key, and then the key regexes are
/// never built (building them costs more than reading a million short cells).
fn may_hold_key(text: &[u8]) -> bool {
    // Every prefix ends in `-` or `_` but `AIza`, which starts with `A`: only those bytes
    // are looked at (a vectorised search), and the prefixes checked around them.
    text.len() >= SHORTEST
        && memchr::memchr3_iter(b'-', b'_', b'A', text).any(|i| match text[i] {
            b'A' => text[i..].starts_with(b"AIza"),
            _ => PREFIXES.iter().any(|p| text[..=i].ends_with(p)),
        })
}

struct Matchers {
    set: RegexSet,
    each: Vec<Regex>,
    any: Regex,
}

fn variables() -> &'static Regex {
    static V: OnceLock<Regex> = OnceLock::new();
    V.get_or_init(|| {
        Regex::new(&format!(r"(?i)\b({})\b", KEY_VARIABLES.join("|"))).expect("compiles")
    })
}

fn matchers() -> &'static Matchers {
    static M: OnceLock<Matchers> = OnceLock::new();
    M.get_or_init(|| {
        // A key is a whole token: not glued to more key-like characters on either side.
        let bounded = |p: &str| format!(r"(?:^|[^A-Za-z0-9_\-])({p})(?:$|[^A-Za-z0-9_\-])");
        Matchers {
            set: RegexSet::new(FORMATS.iter().map(|(_, p)| bounded(p)))
                .expect("key formats compile"),
            each: FORMATS
                .iter()
                .map(|(_, p)| Regex::new(&bounded(p)).expect("compiles"))
                .collect(),
            any: Regex::new(&bounded(
                &FORMATS
                    .iter()
                    .map(|(_, p)| format!("(?:{p})"))
                    .collect::<Vec<_>>()
                    .join("|"),
            ))
            .expect("compiles"),
        }
    })
}

/// The provider of the first key in `text`, if any.
pub fn find_key(text: &str) -> Option<&'static str> {
    if !may_hold_key(text.as_bytes()) {
        return None;
    }
    matchers()
        .set
        .matches(text)
        .iter()
        .next()
        .map(|i| FORMATS[i].0)
}

/// The key-holding environment variables named in `text` (`$env:OPENAI_API_KEY`, `export
/// ANTHROPIC_API_KEY=...`, `os.environ["GEMINI_API_KEY"]`, `%GROQ_API_KEY%` ...).
pub fn key_variables(text: &str) -> Vec<String> {
    let mut v: Vec<String> = variables()
        .find_iter(text)
        .map(|m| m.as_str().to_ascii_uppercase())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// FNV-1a, 64 bits: a stable short fingerprint (not a secret-keeping hash: the key has far
/// more entropy than the 24 bits shown).
fn fingerprint(key: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:06x}", h >> 40)
}

fn provider_of(key: &str) -> &'static str {
    let m = matchers();
    let anchored = format!(" {key} ");
    m.each
        .iter()
        .position(|re| re.is_match(&anchored))
        .map_or("unknown", |i| FORMATS[i].0)
}

/// Replaces every API key in `text` with `provider:abcd…#hash`; borrowed when there is none.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !may_hold_key(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    let m = matchers();
    if !m.any.is_match(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    // The match includes one boundary character on each side; the key is group 1. Matches
    // are found from the end of the previous key, so adjacent keys are all replaced.
    let mut at = 0;
    while let Some(c) = m.any.captures_at(text, at) {
        let key = c.get(1).expect("group 1");
        out.push_str(&text[last..key.start()]);
        let k = key.as_str();
        let head: String = k.chars().take(4).collect();
        out.push_str(&format!("{}:{head}…#{}", provider_of(k), fingerprint(k)));
        last = key.end();
        at = key.end();
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One made-up key per format (the right shape, no real key).
    pub const SAMPLE_KEYS: &[(&str, &str)] = &[
        (
            "anthropic",
            "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf",
        ),
        (
            "openrouter",
            "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
        ("openai", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd"),
        (
            "openai",
            "sk-AbCdEfGhIjKlMnOpQrStT3BlbkFJAbCdEfGhIjKlMnOpQrSt",
        ),
        ("google", "AIzaSyA0123456789abcdefghijklmnopqrstuv"),
        ("huggingface", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"),
        (
            "groq",
            "gsk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKl",
        ),
        (
            "xai",
            "xai-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQr",
        ),
        (
            "perplexity",
            "pplx-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh",
        ),
        ("replicate", "r8_AbCdEfGhIjKlMnOpQrStUvWxYz01234567890"),
        (
            "elevenlabs",
            "sk_0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
    ];

    #[test]
    fn every_provider_format_is_found_and_redacted() {
        for (provider, key) in SAMPLE_KEYS {
            let text =
                format!("$env:OPENAI_API_KEY=\"{key}\"; curl -H 'Authorization: Bearer {key}' x");
            assert_eq!(find_key(&text), Some(*provider), "{key}");
            let red = redact(&text);
            assert!(!red.contains(key), "{red}");
            let head: String = key.chars().take(4).collect();
            assert!(red.contains(&format!("{provider}:{head}…#")), "{red}");
            // The same key gets the same tag both times; the tag is stable across calls.
            let tag = red.split(&format!("{provider}:{head}…#")).nth(1).unwrap()[..6].to_string();
            assert_eq!(red.matches(&tag).count(), 2, "{red}");
            assert_eq!(redact(key), redact(key));
        }
    }

    #[test]
    fn the_cheap_look_sees_every_key_format() {
        // Every format's literal start holds one of the prefixes.
        for (provider, pattern) in FORMATS {
            let literal: String = pattern
                .chars()
                .take_while(|c| !"([\\".contains(*c))
                .collect();
            assert!(
                PREFIXES
                    .iter()
                    .any(|p| literal.as_bytes().windows(p.len()).any(|w| w == *p)),
                "{provider}: {pattern}"
            );
        }
        // The shortest key is `SHORTEST` long: one character less is no key.
        let shortest = format!("sk-{}", "A1".repeat(10));
        assert_eq!(shortest.len(), SHORTEST);
        assert_eq!(find_key(&shortest), Some("openai"));
        assert_eq!(find_key(&shortest[..SHORTEST - 1]), None);
        for (provider, key) in SAMPLE_KEYS {
            assert!(key.len() >= SHORTEST, "{provider}");
        }
        // The look is the regex of the literals, for texts long enough.
        let re = Regex::new("sk-|sk_|AIza|hf_|gsk_|xai-|pplx-|r8_").unwrap();
        let mut rng = crate::test_rng::Rng(0x6b65_7973_0000_0001);
        let pieces = [
            "sk", "-", "_", "AI", "za", "h", "f", "g", "xai", "ppl", "x", "r8", "é", " ",
        ];
        for _ in 0..20_000 {
            let text: String = (0..rng.below(24))
                .map(|_| pieces[rng.below(pieces.len())])
                .collect();
            let expected = text.len() >= SHORTEST && re.is_match(&text);
            assert_eq!(may_hold_key(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "sk-short",
            "task-1234567890123456789012345",
            "AIza-too-short",
            "hf_",
            "ask-AbCdEfGhIjKlMnOpQrStUvWx",
            "pip install openai",
        ] {
            assert_eq!(redact(text), text);
            assert_eq!(find_key(text), None, "{text}");
        }
    }

    #[test]
    fn key_variables_are_named() {
        assert_eq!(
            key_variables("$env:OPENAI_API_KEY = 'x'"),
            ["OPENAI_API_KEY"]
        );
        assert_eq!(
            key_variables(
                "export ANTHROPIC_API_KEY=1 && echo %gemini_api_key% os.environ['HF_TOKEN']"
            ),
            ["ANTHROPIC_API_KEY", "GEMINI_API_KEY", "HF_TOKEN"]
        );
        assert!(key_variables("MY_OPENAI_API_KEY_FILE").is_empty());
    }
}
