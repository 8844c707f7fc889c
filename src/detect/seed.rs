//! `profile=seed`: the seed SPL detection, rule by rule (the README's `profile=seed` section
//! maps each rule to the original search).

use super::event::{Event, Field, coalesce, weight};
use std::borrow::Cow;

/// The 12 hosts of the seed's base search, compared ASCII case-insensitively.
pub const SEED_HOSTS: [&str; 12] = [
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "api.cohere.ai",
    "api-inference.huggingface.co",
    "api.mistral.ai",
    "api.together.xyz",
    "api.groq.com",
    "api.perplexity.ai",
    "api.replicate.com",
    "api.stability.ai",
    "inference.azure.com",
];

/// Substrings of the lowercased user agent that make the seed call a client a browser.
pub const BROWSER_TOKENS: [&str; 7] = [
    "chrome/", "firefox/", "safari/", "msie", "trident/", "edg/", "opera/",
];

/// Path prefixes (after the leading `/`) that the seed counts as API endpoints.
pub const API_PREFIXES: [&str; 10] = [
    "v1",
    "v2",
    "api",
    "generate",
    "chat",
    "completions",
    "embeddings",
    "images",
    "audio",
    "models",
];

/// The fields `profile=seed` reads.
pub const SEED_FIELDS: [Field; 11] = [
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

/// Thresholds of the seed rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedParams {
    /// `LargePayload` when `BytesUploaded` is strictly greater.
    pub large_bytes: i64,
    /// Groups are kept when `MaxSuspicionScore >= min_score`.
    pub min_score: i64,
}

impl Default for SeedParams {
    fn default() -> SeedParams {
        SeedParams {
            large_bytes: 50_000,
            min_score: 1,
        }
    }
}

/// What the seed computes for one event that passed the host and browser filters.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedFeatures<'e> {
    /// `lower(coalesce(http_user_agent, cs_user_agent, "unknown"))`
    pub user_agent: Cow<'e, [u8]>,
    /// `tonumber(coalesce(bytes_out, cs_bytes, "0"))` (for a pre-aggregated row, the
    /// largest upload of its events, which decides `LargePayload`)
    pub bytes_uploaded: Option<f64>,
    /// The bytes of all the events the row stands for (= `bytes_uploaded` for one event).
    pub bytes_total: Option<f64>,
    /// How many events the row stands for (1 for a raw event).
    pub weight: u64,
    /// `IsAPIEndpoint + IsPostRequest + LargePayload`
    pub score: u8,
}

/// Rule 1: some value of `dest_host` is one of the seed hosts.
pub fn is_seed_host(host: &[u8]) -> bool {
    SEED_HOSTS
        .iter()
        .any(|h| host.eq_ignore_ascii_case(h.as_bytes()))
}

/// Unicode-aware lowercase (ASCII fast path without allocation when already lowercase).
pub fn lowercase(text: &[u8]) -> Cow<'_, [u8]> {
    if text.is_ascii() {
        if text.iter().any(u8::is_ascii_uppercase) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }
    } else {
        Cow::Owned(String::from_utf8_lossy(text).to_lowercase().into_bytes())
    }
}

/// Rule 3: the unanchored browser regex on the lowercased user agent.
pub fn is_browser(user_agent_lower: &[u8]) -> bool {
    BROWSER_TOKENS
        .iter()
        .any(|t| contains(user_agent_lower, t.as_bytes()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// SPL `tonumber(x)` in base 10: optional sign, digits, optional fraction, optional
/// exponent, surrounding spaces ignored; anything else (or an overflow) is null.
pub fn to_number(text: &[u8]) -> Option<f64> {
    // Bytes, not text: anything but ASCII fails the checks below.
    let b = text.trim_ascii();
    // The usual numbers (byte counts, epoch times) in one pass; the checks below for the rest.
    if let Some(x) = fast_decimal(b) {
        return Some(x);
    }
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let t = std::str::from_utf8(b).ok()?;
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// An optional sign, then 1 to 15 digits with at most one point among them (`12`, `-0.5`,
/// `1599171244.277`, `5.`), nothing else; `None` for any other text. As `parse` gives it
/// but without the general algorithm: the digits form an integer below 2^53 and the power
/// of ten is exact, so one IEEE division rounds the exact quotient correctly, as `parse`
/// does (Clinger's fast path).
fn fast_decimal(b: &[u8]) -> Option<f64> {
    let (negative, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if digits.len() > 16 {
        return None;
    }
    let (mut mantissa, mut point) = (0u64, None);
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(c - b'0'),
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let count = digits.len() - usize::from(point.is_some());
    if count == 0 || count > 15 {
        return None;
    }
    let scale = point.map_or(0, |p| digits.len() - p - 1);
    let x = mantissa as f64 / POW10[scale];
    Some(if negative { -x } else { x })
}

/// Rule 5: `^/(v1|v2|api|generate|chat|completions|embeddings|images|audio|models)`,
/// case-sensitive.
pub fn is_api_endpoint(path: &[u8]) -> bool {
    path.strip_prefix(b"/")
        .is_some_and(|rest| API_PREFIXES.iter().any(|p| rest.starts_with(p.as_bytes())))
}

/// Rule 6: `upper(method) == "POST"` with Unicode-aware uppercasing.
pub fn is_post(method: &[u8]) -> bool {
    if method.is_ascii() {
        method.eq_ignore_ascii_case(b"POST")
    } else {
        String::from_utf8_lossy(method).to_uppercase() == "POST"
    }
}

/// Rules 1 to 8 for one event: `None` when the host filter or the browser filter drops it.
pub fn score_event<'e, E: Event>(event: &'e E, params: &SeedParams) -> Option<SeedFeatures<'e>> {
    let mut host = false;
    event.each(Field::DestHost, &mut |h| host |= is_seed_host(h));
    if !host {
        return None;
    }
    let user_agent = match coalesce(event, &[Field::HttpUserAgent, Field::CsUserAgent]) {
        Some(Cow::Borrowed(ua)) => lowercase(ua),
        Some(Cow::Owned(ua)) => Cow::Owned(lowercase(&ua).into_owned()),
        None => Cow::Borrowed(&b"unknown"[..]),
    };
    if is_browser(&user_agent) {
        return None;
    }
    let weight = weight(event);
    if weight == 0 {
        return None;
    }
    let per_event = match coalesce(event, &[Field::BytesOut, Field::CsBytes]) {
        Some(text) => to_number(&text),
        None => Some(0.0),
    };
    let (bytes_uploaded, bytes_total) = weighted_bytes(event, per_event, weight);
    let path = coalesce(event, &[Field::UriPath, Field::CsUriStem]).unwrap_or_default();
    let method =
        coalesce(event, &[Field::HttpMethod, Field::CsMethod]).unwrap_or(Cow::Borrowed(b"UNKNOWN"));
    let large = bytes_uploaded.is_some_and(|b| b > params.large_bytes as f64);
    let score = u8::from(is_api_endpoint(&path)) + u8::from(is_post(&method)) + u8::from(large);
    Some(SeedFeatures {
        user_agent,
        bytes_uploaded,
        bytes_total,
        score,
        weight,
    })
}

/// The largest and the total upload of a row standing for `weight` events: the
/// pre-aggregated `max`/`sum` fields when present, else `weight` events of `per_event` bytes.
pub fn weighted_bytes<E: Event>(
    event: &E,
    per_event: Option<f64>,
    weight: u64,
) -> (Option<f64>, Option<f64>) {
    if weight == 1 && event.first(Field::SumBytes).is_none() {
        return (per_event, per_event);
    }
    let field = |f| event.first(f).and_then(|t| to_number(&t));
    let total = field(Field::SumBytes).or(per_event.map(|b| b * weight as f64));
    let max = field(Field::MaxBytes)
        .or(per_event)
        .or(total.map(|t| t / weight as f64));
    (max, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path gives what `str::parse` gives, bit for bit, for every form it takes.
    #[test]
    fn the_fast_decimal_path_is_the_general_parse() {
        let mut rng = crate::test_rng::Rng(0x00de_c1a1_5eed_0001);
        let mut fast = 0;
        for _ in 0..200_000 {
            let mut text = String::new();
            match rng.below(4) {
                0 => text.push('-'),
                1 => text.push('+'),
                _ => {}
            }
            let int_digits = rng.below(17);
            for _ in 0..int_digits {
                text.push(char::from(b'0' + rng.below(10) as u8));
            }
            if rng.below(2) == 0 {
                text.push('.');
                for _ in 0..rng.below(17) {
                    text.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            if rng.below(20) == 0 {
                text.push_str("e-7");
            }
            let want = text.parse::<f64>().ok().filter(|x| x.is_finite());
            let got = to_number(text.as_bytes());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{text:?}");
            fast += usize::from(fast_decimal(text.as_bytes()).is_some());
        }
        assert!(fast > 50_000, "the fast path took {fast}");
        // Any text the fast path takes (two points, a sign alone, spaces, an exponent: it
        // must refuse those) reads as `parse` reads it.
        let alphabet = b"0123456789..+- e";
        let mut taken = 0;
        for _ in 0..200_000 {
            let text: Vec<u8> = (0..rng.below(19))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            if let Some(x) = fast_decimal(&text) {
                taken += 1;
                let want: f64 = std::str::from_utf8(&text).unwrap().parse().unwrap();
                assert_eq!(
                    x.to_bits(),
                    want.to_bits(),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
        assert!(taken > 1000, "{taken}");
        // Every epoch time of up to 15 digits takes it.
        for _ in 0..100_000 {
            let secs = rng.below(4_000_000_000);
            let ms = rng.below(1000);
            let text = match rng.below(3) {
                0 => format!("{secs}"),
                1 => format!("{secs}.{ms:03}"),
                _ => format!("{secs}.{ms:03}{:02}", rng.below(100)),
            };
            let want: f64 = text.parse().unwrap();
            assert_eq!(fast_decimal(text.as_bytes()), Some(want), "{text}");
        }
        for (text, want) in [
            ("1599171244.277", 1_599_171_244.277),
            ("-0", -0.0),
            (".5", 0.5),
        ] {
            assert_eq!(
                to_number(text.as_bytes()).map(f64::to_bits),
                Some(f64::to_bits(want))
            );
        }
    }
}
