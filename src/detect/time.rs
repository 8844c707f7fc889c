//! Event times: Splunk hands `_time` over as epoch seconds; exported files carry ISO 8601.

use super::seed::to_number;

/// Epoch seconds from `1599171244.277` or `2026-11-27T08:02:11.000+0000` (also with a space,
/// `Z`, `+01:00`, or no zone = UTC).
pub fn parse_time(text: &[u8]) -> Option<f64> {
    if let Some(x) = plain_epoch(text).or_else(|| to_number(text)) {
        return Some(x);
    }
    let s = std::str::from_utf8(text).ok()?.trim();
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        z if z.starts_with(['+', '-']) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (oh, om): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) as f64 + frac)
}

/// `1599171244.277`, the form `_time` comes in: digits with at most one point, 15 digits at
/// most, nothing else. What `to_number` gives for it (the digits form an integer below 2^53
/// and the power of ten is exact, so one division rounds correctly), in one pass; `None`
/// for any other text, which `to_number` then reads.
fn plain_epoch(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if b.len() > 16 {
        return None;
    }
    let (mut mantissa, mut point) = (0u64, None);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(c - b'0'),
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let digits = b.len() - usize::from(point.is_some());
    if digits == 0 || digits > 15 {
        return None;
    }
    let scale = point.map_or(0, |p| b.len() - p - 1);
    Some(mantissa as f64 / POW10[scale])
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass epoch reader gives `to_number`'s answer whenever it answers, and answers
    /// for every epoch time of up to 15 digits.
    #[test]
    fn the_epoch_fast_path_is_to_number() {
        let mut rng = crate::test_rng::Rng(0x7173_e90c_0000_0015);
        let alphabet = b"0123456789..+- e";
        let mut answered = 0;
        for _ in 0..200_000 {
            let text: Vec<u8> = (0..rng.below(19))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            if let Some(x) = plain_epoch(&text) {
                answered += 1;
                assert_eq!(
                    Some(x),
                    to_number(&text),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
        assert!(answered > 1000, "{answered}");
        for _ in 0..100_000 {
            let secs = rng.below(4_000_000_000);
            let (ms, frac) = (rng.below(1000), rng.below(4));
            let text = match frac {
                0 => format!("{secs}"),
                1 => format!("{secs}.{}", ms / 100),
                2 => format!("{secs}.{ms:03}"),
                _ => format!("{secs}.{ms:03}{:02}", rng.below(100)),
            };
            let want: f64 = text.parse().expect("a number");
            assert_eq!(plain_epoch(text.as_bytes()), Some(want), "{text}");
        }
    }

    #[test]
    fn epoch_and_iso_times() {
        assert_eq!(parse_time(b"1599171244.277"), Some(1599171244.277));
        assert_eq!(parse_time(b"1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time(b"2026-11-27T08:02:11Z"), Some(1_795_766_531.0));
        assert_eq!(
            parse_time(b"2026-11-27 09:02:11.500+01:00"),
            Some(1_795_766_531.5)
        );
        assert_eq!(
            parse_time(b"2026-11-27T08:02:11.000+0000"),
            Some(1_795_766_531.0)
        );
        assert_eq!(parse_time(b"2000-02-29T00:00:00"), Some(951_782_400.0));
        assert_eq!(parse_time(b"yesterday"), None);
        assert_eq!(parse_time(b"2026-13-01T00:00:00Z"), None);
    }
}
