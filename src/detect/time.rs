//! Event times: Splunk hands `_time` over as epoch seconds; exported files carry ISO 8601.

use super::seed::to_number;

/// Epoch seconds from `1599171244.277` or `2026-11-27T08:02:11.000+0000` (also with a space,
/// `Z`, `+01:00`, or no zone = UTC).
pub fn parse_time(text: &[u8]) -> Option<f64> {
    if let Some(x) = to_number(text) {
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
