//! The AI service catalog: host patterns (exact, suffix on a label boundary, regex) with
//! provider, category and risk weight, read from a lookup CSV that users can extend.

#[cfg(target_arch = "x86_64")]
use super::simd::{load_short, load16};
use regex::{Regex, RegexSet};
use std::borrow::Cow;
use std::collections::HashMap;

type Map = HashMap<String, usize, foldhash::fast::RandomState>;

/// The catalog shipped with the app (`lookups/aidetect_services.csv`), compiled in as the
/// fallback when the app folder cannot be found.
pub const BUILTIN_CSV: &str = include_str!("../../lookups/aidetect_services.csv");

/// The columns a catalog file must have.
pub const COLUMNS: [&str; 7] = [
    "provider",
    "pattern",
    "match",
    "category",
    "weight",
    "seed",
    "api_paths",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Exact,
    /// The host itself or any subdomain (`a.example` matches `x.a.example`, not `xa.example`).
    Suffix,
    Regex,
}

/// One AI service of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub provider: String,
    pub pattern: String,
    pub match_type: MatchType,
    pub category: String,
    /// Risk weight of programmatic use, 0–100.
    pub weight: u8,
    /// Listed by the seed detection.
    pub seed: bool,
    pub api_paths: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("catalog {source_name}: {detail}")]
    Invalid { source_name: String, detail: String },
}

/// Index of the catalog for matching.
#[derive(Debug, Default)]
pub struct Catalog {
    services: Vec<Service>,
    exact: Map,
    suffix: Map,
    regexes: Vec<(Regex, usize)>,
    /// All regex rows in one automaton: one pass says whether any of them matches.
    any_regex: Option<RegexSet>,
    /// The last two labels of every pattern (`api.openai.com` → `openai.com`), so that most
    /// hosts are ruled out without normalising them or looking them up; `None` when a regex
    /// row's ending cannot be read off its pattern (then nothing is ruled out this way).
    tails: Option<Tails>,
}

/// The tails, and a 4,096-bit filter of their hashes that rules out most other tails with one
/// bit test.
#[derive(Debug, Clone)]
struct Tails {
    set: std::collections::HashSet<Vec<u8>, foldhash::fast::RandomState>,
    filter: Box<[u64; 64]>,
}

/// A hash of a lowercased tail as `may_contain` holds it: right-aligned in 64 zeroed bytes;
/// its last 16 bytes and its length (a filter needs no more).
#[inline]
fn tail_hash(buf: &[u8; 64], len: usize) -> u64 {
    let word = |at: usize| u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"));
    hash_words([word(48), word(56)], len)
}

/// `tail_hash` of the last 16 bytes as two little-endian words.
#[inline]
fn hash_words([a, b]: [u64; 2], len: usize) -> u64 {
    (a ^ b.rotate_left(29) ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// `tail` placed as `may_contain` places it (`None` when longer than 64 bytes).
fn right_aligned(tail: &[u8]) -> Option<[u8; 64]> {
    let mut buf = [0u8; 64];
    let start = buf.len().checked_sub(tail.len())?;
    buf[start..].copy_from_slice(tail);
    Some(buf)
}

#[inline]
fn filter_bit(h: u64) -> (usize, u32) {
    let bit = (h >> 52) as usize;
    (bit >> 6, (bit & 63) as u32)
}

impl Tails {
    fn new(set: std::collections::HashSet<Vec<u8>, foldhash::fast::RandomState>) -> Tails {
        let mut filter = Box::new([0u64; 64]);
        for t in &set {
            // A tail longer than 64 bytes is never looked up (`may_contain` says true).
            if let Some(buf) = right_aligned(t) {
                let (word, bit) = filter_bit(tail_hash(&buf, t.len()));
                filter[word] |= 1 << bit;
            }
        }
        Tails { set, filter }
    }
}

impl Tails {
    /// Whether `tails` may hold the tail of `raw`, for the usual host: it ends with a
    /// letter (no port, no trailing dot) and its tail is in its last 32 bytes, all ASCII.
    /// `None`: another host (`may_contain` reads it a byte at a time).
    ///
    /// The last 32 bytes are held in two SSE2 registers and never stored: the dots that
    /// bound the tail, the ASCII check, the lowercasing and the filter's hash take a few
    /// instructions for all of them. Only a tail that passes the filter is copied out, to be
    /// looked up.
    ///
    /// With `plain`, also `None` when `raw` is longer than 32 bytes or holds a `:`, and
    /// `Some(true)` when the tail passes the filter (it may be in the set: not looked up).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn quick(&self, raw: &[u8], plain: bool) -> Option<bool> {
        use std::arch::x86_64::{
            _mm_add_epi8, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
            _mm_cvtsi128_si64, _mm_set1_epi8, _mm_setzero_si128, _mm_unpackhi_epi64,
        };
        if !raw.last()?.is_ascii_alphabetic() {
            return None;
        }
        let n = raw.len();
        if plain && n > 32 {
            return None;
        }
        // `lo` and `hi`: bytes `n-32..n-16` and `n-16..n`, right-aligned, zeros before the host.
        let (lo, hi) = match n {
            32.. => (load16(&raw[n - 32..n - 16]), load16(&raw[n - 16..])),
            16.. => (load_short(&raw[..n - 16]), load16(&raw[n - 16..])),
            _ => (
                // SAFETY: SSE2 is part of x86_64.
                unsafe { _mm_setzero_si128() },
                load_short(raw),
            ),
        };
        // SAFETY: SSE2 is part of x86_64; the table is read only for `start` in 17..=32,
        // so in bounds.
        unsafe {
            if plain && lanes_mask(lo, hi, |v| _mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8))) != 0 {
                return None;
            }
            let dots = lanes_mask(lo, hi, |v| _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8)));
            // Bit 31 is the last byte. The tail starts after the second dot from the end; with
            // fewer than two dots in the window it is the whole host, if that is all in it.
            let before_last = match dots {
                0 => 0,
                d => d & !(1 << (31 - d.leading_zeros())),
            };
            let start = match before_last {
                0 if n > 32 => return None,
                0 => 32 - n,
                d => 32 - d.leading_zeros() as usize,
            };
            let len = 32 - start;
            // Non-ASCII in the tail: the byte pass decides.
            if lanes_mask(lo, hi, |v| v) >> start != 0 {
                return None;
            }
            // The hash reads the tail's last 16 bytes, lowercased, zeros before the tail.
            let upper = _mm_and_si128(
                _mm_cmpgt_epi8(hi, _mm_set1_epi8(b'A' as i8 - 1)),
                _mm_cmplt_epi8(hi, _mm_set1_epi8(b'Z' as i8 + 1)),
            );
            let mut lower = _mm_add_epi8(hi, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
            if start > 16 {
                lower = _mm_and_si128(lower, load16(&KEEP_FROM[32 - start..48 - start]));
            }
            let words = [
                _mm_cvtsi128_si64(lower) as u64,
                _mm_cvtsi128_si64(_mm_unpackhi_epi64(lower, lower)) as u64,
            ];
            let (word, bit) = filter_bit(hash_words(words, len));
            if self.filter[word] >> bit & 1 == 0 {
                return Some(false);
            }
            if plain {
                return Some(true);
            }
            let mut buf = [0u8; 32];
            buf[..len].copy_from_slice(&raw[n - len..]);
            buf[..len].make_ascii_lowercase();
            Some(self.set.contains(&buf[..len]))
        }
    }
}

/// 16 zero bytes, then 16 bytes of `0xff`: a load from `16 - k` keeps all but the first `k`
/// bytes of a register.
#[cfg(target_arch = "x86_64")]
static KEEP_FROM: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut i = 16;
    while i < 32 {
        t[i] = 0xff;
        i += 1;
    }
    t
};

/// The top bits of `f` of each byte of `lo`, `hi` (bit 31: the last byte of `hi`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lanes_mask(
    lo: std::arch::x86_64::__m128i,
    hi: std::arch::x86_64::__m128i,
    f: impl Fn(std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i,
) -> u32 {
    use std::arch::x86_64::_mm_movemask_epi8;
    // SAFETY: SSE2 is part of x86_64.
    unsafe { (_mm_movemask_epi8(f(lo)) as u32 & 0xffff) | (_mm_movemask_epi8(f(hi)) as u32) << 16 }
}

/// The last two labels of a host (or the host itself when it has fewer).
fn tail(host: &[u8]) -> &[u8] {
    let mut dots = 0;
    for i in (0..host.len()).rev() {
        if host[i] == b'.' {
            dots += 1;
            if dots == 2 {
                return &host[i + 1..];
            }
        }
    }
    host
}

/// The literal endings a host matching `pattern` must have: `…\.(amazonaws\.com|api\.aws)$`
/// gives `amazonaws.com` and `api.aws`. `None` when the ending is not literal.
fn regex_tails(pattern: &str) -> Option<Vec<String>> {
    let body = pattern.strip_suffix('$')?;
    let literal = |s: &str| -> Option<String> {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next().filter(|c| *c == '.' || *c == '-')?),
                c if c.is_ascii_alphanumeric() || c == '-' => out.push(c.to_ascii_lowercase()),
                _ => return None,
            }
        }
        Some(out)
    };
    let endings: Vec<String> = if let Some(inner) = body.strip_suffix(')') {
        let open = inner.rfind('(')?;
        inner[open + 1..]
            .split('|')
            .map(literal)
            .collect::<Option<_>>()?
    } else {
        // The literal run at the end, from the last escaped dot on.
        let start = body
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '\\'))?;
        vec![literal(&body[start + 1..])?]
    };
    let endings: Vec<String> = endings
        .into_iter()
        .map(|e| e.trim_start_matches('.').to_string())
        .collect();
    // An ending of one label (`com`) would rule out too little to be worth a special case.
    endings.iter().all(|e| e.contains('.')).then_some(endings)
}

/// Normalises a host as it appears in logs: lowercase, without scheme, user info, path,
/// port or trailing dot (`HTTPS://API.OpenAI.com.:443/v1` → `api.openai.com`). `None` when
/// nothing host-like remains.
pub fn normalize_host(raw: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    let mut host = text;
    if let Some(i) = host.find("://") {
        host = &host[i + 3..];
    }
    if let Some(i) = host.find(['/', '?', '#']) {
        host = &host[..i];
    }
    if let Some(i) = host.rfind('@') {
        host = &host[i + 1..];
    }
    if host.starts_with('[') {
        // An IPv6 literal: keep what is inside the brackets.
        host = host[1..].split(']').next().unwrap_or("");
    } else if let Some(i) = host.rfind(':')
        && host[i + 1..].bytes().all(|b| b.is_ascii_digit())
        && host[..i].find(':').is_none()
    {
        host = &host[..i];
    }
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace() || b == b',') {
        return None;
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) || !host.is_ascii() {
        Some(Cow::Owned(host.to_lowercase()))
    } else {
        Some(Cow::Borrowed(host))
    }
}

fn invalid(source_name: &str, detail: String) -> CatalogError {
    CatalogError::Invalid {
        source_name: source_name.to_string(),
        detail,
    }
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Catalog {
        Catalog::from_csv(BUILTIN_CSV.as_bytes(), "built-in").expect("the shipped catalog is valid")
    }

    /// Reads a catalog CSV (columns in any order; extra columns ignored).
    pub fn from_csv(bytes: &[u8], source_name: &str) -> Result<Catalog, CatalogError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| invalid(source_name, format!("cannot read the header: {e}")))?
            .clone();
        let col = |name: &str| -> Result<usize, CatalogError> {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    invalid(
                        source_name,
                        format!(
                            "missing column {name:?}; a catalog has the columns {}",
                            COLUMNS.join(",")
                        ),
                    )
                })
        };
        let idx: Vec<usize> = COLUMNS.iter().map(|c| col(c)).collect::<Result<_, _>>()?;
        let mut catalog = Catalog::default();
        for (n, record) in reader.records().enumerate() {
            let line = n + 2;
            let record = record.map_err(|e| invalid(source_name, format!("line {line}: {e}")))?;
            let get = |i: usize| record.get(idx[i]).unwrap_or("").trim();
            if get(1).is_empty() {
                continue; // a blank row
            }
            let match_type = match get(2).to_ascii_lowercase().as_str() {
                "exact" => MatchType::Exact,
                "suffix" => MatchType::Suffix,
                "regex" => MatchType::Regex,
                other => {
                    return Err(invalid(
                        source_name,
                        format!("line {line}: match {other:?} must be exact, suffix or regex"),
                    ));
                }
            };
            let weight: u8 = get(4).parse().ok().filter(|w| *w <= 100).ok_or_else(|| {
                invalid(
                    source_name,
                    format!("line {line}: weight {:?} must be 0 to 100", get(4)),
                )
            })?;
            let pattern = match match_type {
                MatchType::Regex => get(1).to_string(),
                _ => normalize_host(get(1).as_bytes())
                    .ok_or_else(|| {
                        invalid(
                            source_name,
                            format!("line {line}: {:?} is not a host", get(1)),
                        )
                    })?
                    .into_owned(),
            };
            let service = Service {
                provider: get(0).to_string(),
                pattern: pattern.clone(),
                match_type,
                category: get(3).to_string(),
                weight,
                seed: matches!(
                    get(5).to_ascii_lowercase().as_str(),
                    "true" | "1" | "yes" | "t"
                ),
                api_paths: get(6)
                    .split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect(),
            };
            let i = catalog.services.len();
            match match_type {
                MatchType::Exact => {
                    catalog.exact.entry(pattern).or_insert(i);
                }
                MatchType::Suffix => {
                    catalog.suffix.entry(pattern).or_insert(i);
                }
                MatchType::Regex => {
                    let re = Regex::new(&pattern).map_err(|e| {
                        invalid(source_name, format!("line {line}: bad regex: {e}"))
                    })?;
                    catalog.regexes.push((re, i));
                }
            }
            catalog.services.push(service);
        }
        if catalog.services.is_empty() {
            return Err(invalid(source_name, "no services".to_string()));
        }
        if !catalog.regexes.is_empty() {
            let set = RegexSet::new(catalog.regexes.iter().map(|(re, _)| re.as_str()))
                .map_err(|e| invalid(source_name, format!("regex rows: {e}")))?;
            catalog.any_regex = Some(set);
        }
        let mut tails = std::collections::HashSet::default();
        for p in catalog.exact.keys().chain(catalog.suffix.keys()) {
            tails.insert(tail(p.as_bytes()).to_vec());
        }
        let mut readable = true;
        for (re, _) in &catalog.regexes {
            match regex_tails(re.as_str()) {
                Some(endings) => {
                    for e in endings {
                        tails.insert(tail(e.as_bytes()).to_vec());
                    }
                }
                None => readable = false,
            }
        }
        catalog.tails = readable.then(|| Tails::new(tails));
        Ok(catalog)
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service of a normalised host: exact first, then the longest suffix on a label
    /// boundary, then the regexes in file order.
    pub fn lookup(&self, host: &str) -> Option<&Service> {
        self.lookup_index(host).map(|i| &self.services[i])
    }

    /// `false` when `raw` (a host as logged: any case, maybe with a port or a trailing dot)
    /// cannot be in the catalog; `true` when it may be (then `lookup` decides).
    pub fn may_contain(&self, raw: &[u8]) -> bool {
        let Some(tails) = &self.tails else {
            return true;
        };
        #[cfg(target_arch = "x86_64")]
        if let Some(answer) = tails.quick(raw, false) {
            return answer;
        }
        // One pass from the end: a port (`:` and digits, the only colon), trailing dots,
        // then the last two labels, lowercased as they are read.
        let mut end = raw.len();
        let mut i = end;
        while i > 0 && raw[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i > 0 && raw[i - 1] == b':' && !raw[..i - 1].contains(&b':') {
            end = i - 1;
        }
        while end > 0 && raw[end - 1] == b'.' {
            end -= 1;
        }
        let mut buf = [0u8; 64];
        let (mut n, mut dots) = (0, 0);
        for &b in raw[..end].iter().rev() {
            if b == b'.' {
                dots += 1;
                if dots == 2 {
                    break;
                }
            }
            if n == buf.len() || !b.is_ascii() {
                return true;
            }
            n += 1;
            buf[buf.len() - n] = b.to_ascii_lowercase();
        }
        let (word, bit) = filter_bit(tail_hash(&buf, n));
        tails.filter[word] >> bit & 1 == 1 && tails.set.contains(&buf[buf.len() - n..])
    }

    /// The first look of `may_contain` at a raw host field value that needs no cutting.
    /// `None` unless `raw` holds no `:` (no scheme, port or IPv6 literal to take apart) and
    /// takes the quick test (see `Tails::quick`); then `Some(false)` when the catalog has no
    /// such host, `Some(true)` when its tail passes the filter: the host may be listed, and
    /// a cache of hosts seen, or `may_contain`, decides. One look at the bytes does all this.
    /// A `Some(false)` value is never empty and ends with an ASCII letter.
    #[inline]
    pub fn filter_plain(&self, raw: &[u8]) -> Option<bool> {
        #[cfg(target_arch = "x86_64")]
        {
            match &self.tails {
                Some(tails) => tails.quick(raw, true),
                None => (!raw.contains(&b':')).then_some(true),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = raw;
            None
        }
    }

    /// `lookup`, as an index into `services()`.
    pub fn lookup_index(&self, host: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(host) {
            return Some(i);
        }
        let mut rest = host;
        loop {
            if let Some(&i) = self.suffix.get(rest) {
                return Some(i);
            }
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => break,
            }
        }
        self.regexes
            .iter()
            .find(|(re, _)| re.is_match(host))
            .map(|&(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    /// `may_contain` as first written: strip a port and trailing dots, take the last two
    /// labels, lowercase, look up.
    fn may_contain_plain(c: &Catalog, raw: &[u8]) -> bool {
        let Some(tails) = &c.tails else { return true };
        let mut host = raw;
        if let Some(i) = host.iter().rposition(|&b| b == b':')
            && host[i + 1..].iter().all(u8::is_ascii_digit)
            && !host[..i].contains(&b':')
        {
            host = &host[..i];
        }
        while let [rest @ .., b'.'] = host {
            host = rest;
        }
        let t = tail(host);
        if t.len() > 64 || !t.is_ascii() {
            return true;
        }
        tails.set.contains(&t.to_ascii_lowercase())
    }

    #[test]
    fn the_one_pass_tail_test_is_the_plain_definition() {
        let c = Catalog::builtin();
        let parts: [&[u8]; 16] = [
            b"api",
            b".",
            b"OpenAI",
            b"openai",
            b"com",
            b":443",
            b":",
            b"amazonaws",
            b"x",
            b"\xc3\xa9",
            b"googleapis",
            b"ai",
            b"azure",
            b"..",
            b"Amazonaws",
            b"-eastus2-abcdefghij",
        ];
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let (mut hits, mut quick, mut plain, mut ruled_out) = (0, 0, 0, 0);
        for _ in 0..100_000 {
            let mut host = Vec::new();
            for _ in 0..rng.0 % 12 {
                host.extend_from_slice(parts[rng.below(parts.len())]);
            }
            rng.next();
            let want = may_contain_plain(&c, &host);
            hits += usize::from(want);
            #[cfg(target_arch = "x86_64")]
            if let Some(answer) = c.tails.as_ref().unwrap().quick(&host, false) {
                quick += 1;
                assert_eq!(answer, want, "{:?}", String::from_utf8_lossy(&host));
            }
            // A plain host is one without `:`, as it stands; the filter never rules out a
            // listed one.
            if let Some(maybe) = c.filter_plain(&host) {
                plain += 1;
                ruled_out += usize::from(!maybe);
                assert!(
                    !host.contains(&b':'),
                    "{:?}",
                    String::from_utf8_lossy(&host)
                );
                assert!(maybe || !want, "{:?}", String::from_utf8_lossy(&host));
            }
            assert_eq!(
                c.may_contain(&host),
                want,
                "{:?}",
                String::from_utf8_lossy(&host)
            );
        }
        assert!(hits > 1000, "only {hits} hosts passed");
        #[cfg(target_arch = "x86_64")]
        assert!(
            quick > 20_000 && plain > 10_000 && ruled_out > 5_000,
            "only {quick} hosts took the quick path, {plain} as plain hosts ({ruled_out} out)"
        );
        let long = [b"a".repeat(70), b".openai.com".to_vec()].concat();
        assert_eq!(c.may_contain(&long), may_contain_plain(&c, &long));
    }

    use super::*;

    const SMALL: &str = "provider,pattern,match,category,weight,seed,api_paths\n\
        OpenAI,api.openai.com,exact,llm_api,70,true,/v1/chat/completions;/v1/responses\n\
        Azure OpenAI,openai.azure.com,suffix,cloud_ai_platform,60,false,\n\
        AWS Bedrock,^bedrock-runtime(-fips)?\\.[a-z0-9-]+\\.amazonaws\\.com$,regex,cloud_ai_platform,60,false,\n\
        Google Vertex,^[a-z0-9-]+-aiplatform\\.googleapis\\.com$,regex,cloud_ai_platform,60,false,\n";

    fn small() -> Catalog {
        Catalog::from_csv(SMALL.as_bytes(), "test").unwrap()
    }

    fn provider(c: &Catalog, raw: &str) -> Option<String> {
        let host = normalize_host(raw.as_bytes())?;
        c.lookup(&host).map(|s| s.provider.clone())
    }

    #[test]
    fn hosts_normalise_case_port_trailing_dot_scheme_and_path() {
        for raw in [
            "api.openai.com",
            "API.OpenAI.com",
            "api.openai.com:443",
            "api.openai.com.",
            "https://API.openai.com.:443/v1/x?y",
            "user@api.openai.com",
        ] {
            assert_eq!(
                normalize_host(raw.as_bytes()).as_deref(),
                Some("api.openai.com"),
                "{raw}"
            );
        }
        assert_eq!(
            normalize_host(b"[2001:db8::1]:443").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            normalize_host(b"2001:db8::1").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(normalize_host(b"   "), None);
    }

    #[test]
    fn exact_patterns_respect_label_boundaries() {
        let c = small();
        assert_eq!(provider(&c, "api.openai.com"), Some("OpenAI".into()));
        assert_eq!(provider(&c, "api.openai.com.evil.example"), None);
        assert_eq!(provider(&c, "xapi.openai.com"), None);
        assert_eq!(
            provider(&c, "v2.api.openai.com"),
            None,
            "exact is not suffix"
        );
    }

    #[test]
    fn suffix_patterns_match_subdomains_on_a_label_boundary() {
        let c = small();
        assert_eq!(
            provider(&c, "myco.openai.azure.com"),
            Some("Azure OpenAI".into())
        );
        assert_eq!(
            provider(&c, "a.b.openai.azure.com"),
            Some("Azure OpenAI".into())
        );
        assert_eq!(
            provider(&c, "openai.azure.com"),
            Some("Azure OpenAI".into())
        );
        assert_eq!(provider(&c, "xopenai.azure.com"), None);
        assert_eq!(provider(&c, "openai.azure.com.evil.example"), None);
    }

    #[test]
    fn regex_families_match_regions_and_resources() {
        let c = small();
        assert_eq!(
            provider(&c, "bedrock-runtime.us-east-1.amazonaws.com"),
            Some("AWS Bedrock".into())
        );
        assert_eq!(
            provider(&c, "BEDROCK-RUNTIME-FIPS.us-west-2.amazonaws.com:443"),
            Some("AWS Bedrock".into())
        );
        assert_eq!(
            provider(&c, "bedrock.us-east-1.amazonaws.com"),
            None,
            "control plane"
        );
        assert_eq!(
            provider(&c, "europe-west4-aiplatform.googleapis.com"),
            Some("Google Vertex".into())
        );
        assert_eq!(provider(&c, "aiplatform.googleapis.com.evil.example"), None);
    }

    #[test]
    fn the_tail_prefilter_never_rules_out_a_catalog_host() {
        let c = small();
        for raw in [
            "api.openai.com",
            "API.OpenAI.com.:443",
            "myco.openai.azure.com",
            "bedrock-runtime.us-east-1.amazonaws.com",
            "europe-west4-aiplatform.googleapis.com",
        ] {
            assert!(c.may_contain(raw.as_bytes()), "{raw}");
        }
        for raw in ["www.example.com", "cdn.wayne.net", "10.1.2.3"] {
            assert!(!c.may_contain(raw.as_bytes()), "{raw}");
        }
        let builtin = Catalog::builtin();
        assert!(
            builtin.tails.is_some(),
            "the shipped regex rows end in literal domains"
        );
        for s in builtin.services() {
            if s.match_type != MatchType::Regex {
                assert!(builtin.may_contain(s.pattern.as_bytes()), "{}", s.pattern);
            }
        }
        assert_eq!(
            regex_tails(r"^bedrock-runtime(-fips)?\.[a-z0-9-]+\.(amazonaws\.com|api\.aws)$"),
            Some(vec!["amazonaws.com".into(), "api.aws".into()])
        );
        assert_eq!(
            regex_tails(r"^[a-z0-9-]+\.openai\.azure\.com$"),
            Some(vec!["openai.azure.com".into()])
        );
        assert_eq!(regex_tails(r"^(a|b)+$"), None);
    }

    #[test]
    fn bad_catalogs_are_rejected_with_the_line_and_the_fix() {
        let e = Catalog::from_csv(b"provider,pattern\nx,y\n", "mine.csv").unwrap_err();
        assert!(e.to_string().contains("missing column \"match\""), "{e}");
        let bad_weight = SMALL.replace("70,true", "700,true");
        let e = Catalog::from_csv(bad_weight.as_bytes(), "mine.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: weight \"700\" must be 0 to 100"),
            "{e}"
        );
        let bad_re = format!("{SMALL}X,^(unclosed,regex,other,1,false,\n");
        let e = Catalog::from_csv(bad_re.as_bytes(), "mine.csv").unwrap_err();
        assert!(e.to_string().contains("line 6: bad regex"), "{e}");
    }
}
