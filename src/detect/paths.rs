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

/// Every needle holds one of these after a `/`, or `V1` and one of `AFTER_V1`, or one of
/// `AFTER_COLON` after a `:` (checked in `tests`), so an ASCII path without any of them is
/// ruled out in one cheap pass. A `/v1/` counts only before one of `AFTER_V1`: `/v1/`
/// starts many other APIs' paths (OpenTelemetry's `/v1/traces`, say), which would all go
/// on to the needle search. A path with a byte that is not ASCII (before its query) always
/// goes on: the needle search reads it with Unicode's case rules, where `ſ` is an `s` and
/// the Kelvin sign a `k`.
const ANCHORS: [&[u8]; 5] = [
    b"v1internal:",
    b"chat/",
    b"model/",
    b"voices/",
    b"api/paas/",
];
const V1: &[u8] = b"v1/";
/// The first three letters after `/v1/` in the needles that have it (two would also let
/// `/v1/metrics` through, as `/v1/messages`).
const AFTER_V1: [&[u8]; 15] = [
    b"cha", b"res", b"rea", b"com", b"emb", b"ima", b"aud", b"ass", b"thr", b"bat", b"fin", b"mes",
    b"voi", b"tex", b"spe",
];
/// The first two letters after the `:` of the Google needles (a `:` elsewhere, as in a
/// wiki's `/wiki/Special:Search`, is not a candidate).
const AFTER_COLON: [&[u8]; 5] = [b"ge", b"st", b"em", b"ba", b"ra"];

/// `AFTER_V1` and `AFTER_COLON` as numbers, to compare a path's next letters with all of
/// them at once: three (or two) bytes, each `| 0x20` (which maps a letter, and only a
/// letter, to its lowercase: the lists hold letters only).
const AFTER_V1_KEYS: [u32; 15] = keys(&AFTER_V1);
const AFTER_COLON_KEYS: [u32; 5] = keys(&AFTER_COLON);

const fn keys<const N: usize>(list: &[&[u8]; N]) -> [u32; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = key(list[i]);
        i += 1;
    }
    out
}

/// The bytes of `text` (at most 4), each `| 0x20`, as a number.
const fn key(text: &[u8]) -> u32 {
    let mut k = 0;
    let mut i = 0;
    while i < text.len() {
        k = k << 8 | (text[i] | 0x20) as u32;
        i += 1;
    }
    k
}

/// Whether `rest` starts with one of the letter groups of `keys` (each `len` letters long).
#[inline(always)]
fn starts_with_key(rest: &[u8], len: usize, keys: &[u32]) -> bool {
    rest.get(..len).is_some_and(|head| {
        let k = key(head);
        // No early exit: a few compares, done together.
        keys.iter().fold(false, |hit, &x| hit | (x == k))
    })
}

/// `text` starts with `a`, ASCII case ignored.
#[inline(always)]
fn starts_folded(text: &[u8], a: &[u8]) -> bool {
    text.get(..a.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(a))
}

/// The plain definition of the cheap test (the tests check `shape_candidate` against it).
#[cfg(test)]
fn may_have_needle(path: &[u8]) -> bool {
    let any = |list: &[&[u8]], rest: &[u8]| list.iter().any(|a| starts_folded(rest, a));
    (0..path.len()).any(|i| {
        let rest = &path[i + 1..];
        match path[i] {
            b if !b.is_ascii() => true,
            b':' => any(&AFTER_COLON, rest),
            b'/' => {
                (starts_folded(rest, V1) && any(&AFTER_V1, &rest[V1.len()..]))
                    || any(&ANCHORS, rest)
            }
            _ => false,
        }
    })
}

/// One of the anchors starts at `at` (ASCII case ignored), after a `/`. Called only where
/// the byte at `at` is a letter an anchor starts with (`candidate_blocks` looks first).
#[inline(always)]
fn anchored_at(path: &[u8], at: usize) -> bool {
    let Some(rest) = path.get(at..) else {
        return false;
    };
    (starts_folded(rest, V1) && starts_with_key(&rest[V1.len()..], 3, &AFTER_V1_KEYS))
        || ANCHORS.iter().any(|a| starts_folded(rest, a))
}

/// One of `AFTER_COLON` starts at `at`, after a `:`.
#[inline]
fn after_colon_at(path: &[u8], at: usize) -> bool {
    path.get(at..)
        .is_some_and(|rest| starts_with_key(rest, 2, &AFTER_COLON_KEYS))
}

/// The path without its query string or fragment, when it may have a shape; `None` when
/// the cheap test that `shape` starts with rules it out. One pass over the bytes: paths are
/// short, and most fail the test, so callers that cache shapes can skip the cache for them.
#[inline]
pub fn shape_candidate(path: &[u8]) -> Option<&[u8]> {
    if path.first() != Some(&b'/') {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        candidate_blocks(path)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        candidate_bytes(path)
    }
}

/// `shape_candidate` a byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn candidate_bytes(path: &[u8]) -> Option<&[u8]> {
    let mut maybe = false;
    for (i, &b) in path.iter().enumerate() {
        match b {
            b'?' | b'#' => return maybe.then(|| &path[..i]),
            _ if !b.is_ascii() => maybe = true,
            b':' if !maybe => maybe = after_colon_at(path, i + 1),
            b'/' if !maybe => maybe = anchored_at(path, i + 1),
            _ => {}
        }
    }
    maybe.then_some(path)
}

/// `shape_candidate` 16 bytes at a time: each block gives the positions of `?` `#`, `:`,
/// `/` and of the letters an anchor starts with at once, and only a slash before such a
/// letter is looked at further. A path shorter than 16 bytes is one block, after zeros
/// (which match nothing); the last block of a longer one ends at the path's end (it may
/// overlap the one before; bytes already seen are masked off), so no read passes the path.
#[cfg(target_arch = "x86_64")]
fn candidate_blocks(path: &[u8]) -> Option<&[u8]> {
    use super::simd::{load_short, load16};
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let n = path.len();
    let mut maybe = false;
    // Bytes before `seen` are done.
    let mut seen = 0;
    loop {
        // The block's 16 bytes end at `end`: its byte k is the path's `first + k`.
        let end = (seen + 16).min(n);
        let first = end as isize - 16;
        let v = if n >= 16 {
            load16(&path[end - 16..end])
        } else {
            load_short(path)
        };
        // SAFETY: SSE2 is part of x86_64.
        let (cut, colon, slash, initial, wide) = unsafe {
            let eq = |b: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u32;
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let is = |b: u8| _mm_cmpeq_epi8(folded, _mm_set1_epi8(b as i8));
            let initial = _mm_or_si128(
                _mm_or_si128(is(b'v'), is(b'c')),
                _mm_or_si128(is(b'm'), is(b'a')),
            );
            (
                eq(b'?') | eq(b'#'),
                eq(b':'),
                eq(b'/'),
                _mm_movemask_epi8(initial) as u32,
                // The top bit of each byte: set for the bytes that are not ASCII.
                _mm_movemask_epi8(v) as u32,
            )
        };
        // The bytes of this block not seen yet, up to the first `?` or `#` among them.
        let fresh = !0u32 << (seen as isize - first);
        let cut = cut & fresh;
        let live = fresh & cut.wrapping_sub(1) & !cut;
        // A byte that is not ASCII makes a candidate. Each colon, and each slash before a
        // letter an anchor starts with (for the block's last byte, the letter is in the
        // next block: it is looked at too), is checked in full; most paths have neither.
        maybe |= wide & live != 0;
        let mut c = colon & live;
        while !maybe && c != 0 {
            maybe = after_colon_at(path, (first + c.trailing_zeros() as isize + 1) as usize);
            c &= c - 1;
        }
        let mut s = slash & live & (initial >> 1 | 1 << 15);
        while !maybe && s != 0 {
            maybe = anchored_at(path, (first + s.trailing_zeros() as isize + 1) as usize);
            s &= s - 1;
        }
        if cut != 0 {
            let at = first + cut.trailing_zeros() as isize;
            return maybe.then(|| &path[..at as usize]);
        }
        if end == n {
            return maybe.then_some(path);
        }
        seen = end;
    }
}

/// The shape of a request path (the query string, if any, is ignored).
pub fn shape(path: &[u8]) -> Option<PathShape> {
    shape_candidate(path).and_then(candidate_shape)
}

/// The shape of a path that `shape_candidate` returned: which family of needles it holds
/// (ignoring case). Callers cache the answer per distinct path, so for an ASCII path (every
/// path, in practice: RFC 3986 percent-encodes the rest) a plain search per needle is fast
/// enough, and nothing is compiled. Other paths go to the families as one regex set, where
/// case is Unicode's (`ſ` is an `s`).
pub fn candidate_shape(path: &[u8]) -> Option<PathShape> {
    if !path.is_ascii() {
        return family_shape(path);
    }
    let path = path.to_ascii_lowercase();
    let has = |needle: &str| path.windows(needle.len()).any(|w| w == needle.as_bytes());
    let any = |needles: &[&str]| needles.iter().any(|n| has(n));
    if any(VOICE) {
        Some(PathShape::VoiceCloning)
    } else if any(OPENAI) || path.ends_with(b"/chat/completions") {
        Some(PathShape::OpenAi)
    } else if any(ANTHROPIC) {
        Some(PathShape::Anthropic)
    } else if any(GOOGLE) && (has("/models/") || has("/v1internal:")) {
        Some(PathShape::Google)
    } else if is_bedrock(&path) {
        Some(PathShape::AwsBedrock)
    } else {
        None
    }
}

/// The families of needles as one regex set, built only for a path that is not ASCII.
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

/// `candidate_shape` by the regex set.
fn family_shape(path: &[u8]) -> Option<PathShape> {
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

/// `/model/<id>/<action>` of the Bedrock runtime (lowercased path).
fn is_bedrock(path: &[u8]) -> bool {
    const ACTIONS: [&[u8]; 4] = [
        b"/invoke",
        b"/invoke-with-response-stream",
        b"/converse",
        b"/converse-stream",
    ];
    let Some(rest) = path.strip_prefix(b"/model/") else {
        return false;
    };
    ACTIONS.iter().any(|action| {
        rest.strip_suffix(*action)
            .is_some_and(|id| !id.is_empty() && !id.contains(&b'\n'))
    })
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

    /// The lists compared as numbers hold letters only (else `| 0x20` would fold other
    /// bytes onto them), and a group of letters is found as `eq_ignore_ascii_case` finds it.
    #[test]
    fn letter_groups_compare_as_their_letters() {
        for (list, len, keys) in [
            (&AFTER_V1[..], 3, &AFTER_V1_KEYS[..]),
            (&AFTER_COLON[..], 2, &AFTER_COLON_KEYS[..]),
        ] {
            assert!(
                list.iter()
                    .all(|a| a.len() == len && a.iter().all(u8::is_ascii_lowercase))
            );
            let bytes: Vec<u8> = (0u8..=255)
                .filter(|b| b.is_ascii_alphanumeric() || b"/:$@[`{\x0f\xe9".contains(b))
                .collect();
            // Every group of `len` of those bytes: `i` in base `bytes.len()`.
            for i in 0..bytes.len().pow(len as u32) {
                let rest: Vec<u8> = (0..len as u32)
                    .map(|d| bytes[i / bytes.len().pow(d) % bytes.len()])
                    .collect();
                let plain = list.iter().any(|a| rest.eq_ignore_ascii_case(a));
                assert_eq!(starts_with_key(&rest, len, keys), plain, "{rest:?}");
            }
        }
    }

    #[test]
    fn every_anchor_starts_with_a_letter_the_cheap_pass_looks_for() {
        for a in ANCHORS.iter().chain([&V1]) {
            assert!(matches!(a[0] | 0x20, b'v' | b'c' | b'm' | b'a'), "{a:?}");
        }
    }

    /// The one-pass candidate test is the plain definition: cut at `?` or `#`, then a
    /// leading `/` and a needle anchor.
    #[test]
    fn the_one_pass_candidate_test_is_the_plain_definition() {
        let plain = |path: &[u8]| -> Option<Vec<u8>> {
            let cut = path
                .iter()
                .position(|&b| b == b'?' || b == b'#')
                .map_or(path, |q| &path[..q]);
            (cut.starts_with(b"/") && may_have_needle(cut)).then(|| cut.to_vec())
        };
        let parts: [&[u8]; 24] = [
            b"/",
            b"v1",
            b"V1",
            b"chat/",
            b"model/",
            b":",
            b"?",
            b"#",
            b"x",
            b"api/paas/",
            b"voices/",
            b"/v",
            b"abcdefghijklmn",
            b"/a/c/m/V/",
            b"v1/",
            b"v1internal:",
            b"ch",
            b"TH",
            b"tr",
            b"ge",
            b"St",
            b"ra",
            b"Se",
            "ſ".as_bytes(),
        ];
        // Up to about 100 bytes: paths of every length around the 16-byte blocks.
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..100_000 {
            let mut path = Vec::new();
            for _ in 0..rng.0 % 13 {
                path.extend_from_slice(parts[rng.below(parts.len())]);
            }
            rng.next();
            let want = plain(&path);
            let text = String::from_utf8_lossy(&path);
            assert_eq!(shape_candidate(&path).map(<[u8]>::to_vec), want, "{text:?}");
            if path.starts_with(b"/") {
                assert_eq!(candidate_bytes(&path).map(<[u8]>::to_vec), want, "{text:?}");
            }
        }
    }

    /// The needle search is the families as one regex set (the first implementation, kept
    /// for paths that are not ASCII), on ASCII paths and any other.
    #[test]
    fn the_needle_search_is_the_regex_families() {
        let by_regex = family_shape;
        let mut parts: Vec<Vec<u8>> = VOICE
            .iter()
            .chain(OPENAI)
            .chain(ANTHROPIC)
            .chain(GOOGLE)
            .flat_map(|n| [n.as_bytes().to_vec(), n.to_ascii_uppercase().into_bytes()])
            .collect();
        for p in [
            "/model/",
            "/MODEL/",
            "/invoke",
            "/converse-stream",
            "/Invoke-With-Response-Stream",
            "/models/",
            "/v1internal:",
            "/chat/completions",
            "x",
            "/",
            "\n",
            "ab",
        ] {
            parts.push(p.as_bytes().to_vec());
        }
        parts.push(vec![0xff]);
        // Unicode case: `ſ` is an `s`, the Kelvin sign a `k`.
        parts.push("/v1/meſſages".as_bytes().to_vec());
        parts.push("/v1/chat/completionſ".as_bytes().to_vec());
        parts.push("/model/\u{212a}/invoke".as_bytes().to_vec());
        parts.push("/v1/reſponses".as_bytes().to_vec());
        parts.push("/voiceſ/clone".as_bytes().to_vec());
        parts.push(":ſtreamGenerateContent".as_bytes().to_vec());
        for (path, want) in [
            (&b"/model/a\nb/invoke"[..], None),
            (b"/model/a/b/converse", Some(PathShape::AwsBedrock)),
            (b"/MODEL/x/INVOKE", Some(PathShape::AwsBedrock)),
            (b"/model//invoke", None),
            (b"/model/x/invoke/", None),
            (b"/x/chat/completions/", None),
        ] {
            assert_eq!(by_regex(path), want, "{path:?}");
            assert_eq!(candidate_shape(path), want, "{path:?}");
        }
        let mut rng = crate::test_rng::Rng(0x0bed_70c5_0000_0042);
        let mut shaped = 0;
        for _ in 0..50_000 {
            let mut path = Vec::new();
            for _ in 0..1 + rng.below(4) {
                path.extend_from_slice(&parts[rng.below(parts.len())]);
            }
            let want = by_regex(&path);
            shaped += usize::from(want.is_some());
            let text = String::from_utf8_lossy(&path);
            assert_eq!(candidate_shape(&path), want, "{text:?}");
            // The cheap test keeps every path with a shape (whatever the case rules).
            if want.is_some() && path.starts_with(b"/") {
                assert!(shape_candidate(&path).is_some(), "{text:?}");
            }
        }
        assert!(shaped > 10_000, "{shaped}");
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

    /// Busy paths of other APIs are ruled out by the cheap test itself, without the
    /// needle search.
    #[test]
    fn busy_paths_of_other_apis_are_not_candidates() {
        for p in [
            "/v1/traces",
            "/v1/metrics",
            "/v1/logs",
            "/v1/models",
            "/wiki/Special:Search",
            "/w/index.php?title=Special:RecentChanges",
        ] {
            assert_eq!(shape_candidate(p.as_bytes()), None, "{p}");
        }
    }

    #[test]
    fn ordinary_paths_have_no_shape() {
        for p in [
            "/",
            "/index.html",
            "/api/v2/users",
            "/v1/models",
            "/v1/traces",
            "/wiki/Special:Search",
            "/model/x",
            "/wiki/Main_Page",
            "v1/chat/completions",
            "/messages",
        ] {
            assert_eq!(shape(p.as_bytes()), None, "{p}");
        }
    }
}
