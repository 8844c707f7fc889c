//! The allowlist: sanctioned AI use, keyed on user, source range, host pattern and client,
//! never on the host alone. Allowlisted activity is reported with its reason, not dropped.

use std::net::IpAddr;

/// The columns an allowlist file has.
pub const COLUMNS: [&str; 6] = ["user", "src", "host", "client", "reason", "expires"];

/// The allowlist shipped with the app (header only: sites add their own rows).
pub const BUILTIN_CSV: &str = include_str!("../../lookups/aidetect_allowlist.csv");

/// A case-insensitive pattern with `*` wildcards; empty or `*` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(Vec<String>);

impl Glob {
    pub fn new(pattern: &str) -> Option<Glob> {
        let p = pattern.trim();
        if p.is_empty() || p == "*" {
            return None;
        }
        Some(Glob(
            p.to_lowercase().split('*').map(String::from).collect(),
        ))
    }

    pub fn matches(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let parts = &self.0;
        if parts.len() == 1 {
            return text == parts[0];
        }
        let (first, last) = (&parts[0], &parts[parts.len() - 1]);
        if !text.starts_with(first.as_str())
            || text.len() < first.len() + last.len()
            || !text.ends_with(last.as_str())
        {
            return false;
        }
        let mut rest = &text[first.len()..text.len() - last.len()];
        for mid in &parts[1..parts.len() - 1] {
            match rest.find(mid.as_str()) {
                Some(i) => rest = &rest[i + mid.len()..],
                None => return false,
            }
        }
        true
    }
}

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, bits) = match text.trim().split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, Some(b.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { net: addr, bits })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        let prefix = |a: u128, b: u128, width: u32| {
            let shift = width - u32::from(self.bits);
            shift >= width || (a >> shift) == (b >> shift)
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => prefix(u32::from(n).into(), u32::from(*i).into(), 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => prefix(u128::from(n), u128::from(*i), 128),
            _ => false,
        }
    }
}

/// One allowlist row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub user: Option<Glob>,
    pub src: Option<Cidr>,
    pub host: Option<Glob>,
    pub client: Option<Glob>,
    pub reason: String,
    /// Last day the row applies, as (year, month, day).
    pub expires: Option<(i32, u32, u32)>,
    pub line: usize,
}

/// What an event is checked against the allowlist with.
pub struct Subject<'a> {
    pub user: Option<&'a str>,
    pub src: Option<&'a str>,
    pub host: Option<&'a str>,
    /// `class`, `name` and `class:name` are all matched against the client column.
    pub client_class: &'a str,
    pub client_name: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("allowlist {source_name}: {detail}")]
pub struct AllowlistError {
    pub source_name: String,
    pub detail: String,
}

#[derive(Debug, Default, Clone)]
pub struct Allowlist {
    rules: Vec<Rule>,
    /// Rows whose expiry date has passed (reported, not applied).
    pub expired: Vec<Rule>,
}

fn parse_date(text: &str) -> Option<(i32, u32, u32)> {
    let mut it = text.trim().splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok().filter(|m| (1..=12).contains(m))?;
    let d = it.next()?.parse().ok().filter(|d| (1..=31).contains(d))?;
    Some((y, m, d))
}

/// Today's date (UTC) from the system clock.
pub fn today() -> (i32, u32, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    civil_from_days(secs.div_euclid(86_400))
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

impl Allowlist {
    pub fn builtin(today: (i32, u32, u32)) -> Allowlist {
        Allowlist::from_csv(BUILTIN_CSV.as_bytes(), "built-in", today)
            .expect("the shipped allowlist is valid")
    }

    pub fn from_csv(
        bytes: &[u8],
        source_name: &str,
        today: (i32, u32, u32),
    ) -> Result<Allowlist, AllowlistError> {
        let err = |detail: String| AllowlistError {
            source_name: source_name.to_string(),
            detail,
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| err(format!("cannot read the header: {e}")))?
            .clone();
        let idx: Vec<usize> = COLUMNS
            .iter()
            .map(|c| {
                headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(c))
                    .ok_or_else(|| {
                        err(format!(
                            "missing column {c:?}; an allowlist has the columns {}",
                            COLUMNS.join(",")
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        let mut list = Allowlist::default();
        for (n, record) in reader.records().enumerate() {
            let line = n + 2;
            let record = record.map_err(|e| err(format!("line {line}: {e}")))?;
            let get = |i: usize| record.get(idx[i]).unwrap_or("").trim();
            if (0..4).all(|i| get(i).is_empty() || get(i) == "*") {
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                return Err(err(format!(
                    "line {line}: a row must name at least one of user, src, host or client (an allowlist entry for everything would hide every detection)"
                )));
            }
            let src = match get(1) {
                "" | "*" => None,
                s => Some(Cidr::parse(s).ok_or_else(|| {
                    err(format!(
                        "line {line}: src {s:?} is not an IP address or CIDR range"
                    ))
                })?),
            };
            let expires = match get(5) {
                "" => None,
                s => Some(parse_date(s).ok_or_else(|| {
                    err(format!(
                        "line {line}: expires {s:?} is not a date like 2026-12-31"
                    ))
                })?),
            };
            let reason = if get(4).is_empty() {
                format!("allowlist line {line}")
            } else {
                get(4).to_string()
            };
            let rule = Rule {
                user: Glob::new(get(0)),
                src,
                host: Glob::new(get(2)),
                client: Glob::new(get(3)),
                reason,
                expires,
                line,
            };
            if rule.expires.is_some_and(|e| e < today) {
                list.expired.push(rule);
            } else {
                list.rules.push(rule);
            }
        }
        Ok(list)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The reason of the first row that matches, if any.
    pub fn check(&self, s: &Subject<'_>) -> Option<&str> {
        let ip = s.src.and_then(|v| v.trim().parse::<IpAddr>().ok());
        let label = format!("{}:{}", s.client_class, s.client_name);
        self.rules
            .iter()
            .find(|r| {
                r.user
                    .as_ref()
                    .is_none_or(|g| s.user.is_some_and(|u| g.matches(u)))
                    && r.src
                        .as_ref()
                        .is_none_or(|c| ip.as_ref().is_some_and(|ip| c.contains(ip)))
                    && r.host
                        .as_ref()
                        .is_none_or(|g| s.host.is_some_and(|h| g.matches(h)))
                    && r.client.as_ref().is_none_or(|g| {
                        g.matches(s.client_class) || g.matches(s.client_name) || g.matches(&label)
                    })
            })
            .map(|r| r.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (i32, u32, u32) = (2026, 11, 28);

    fn subject<'a>(
        user: &'a str,
        src: &'a str,
        host: &'a str,
        class: &'a str,
        name: &'a str,
    ) -> Subject<'a> {
        Subject {
            user: Some(user),
            src: Some(src),
            host: Some(host),
            client_class: class,
            client_name: name,
        }
    }

    #[test]
    fn globs_and_cidrs() {
        let g = Glob::new("*.githubcopilot.com").unwrap();
        assert!(g.matches("api.githubcopilot.com"));
        assert!(g.matches("API.GithubCopilot.com"));
        assert!(!g.matches("githubcopilot.com.evil"));
        assert!(Glob::new("svc-*").unwrap().matches("svc-ci"));
        assert!(Glob::new("a*b*c").unwrap().matches("axxbyyc"));
        assert!(!Glob::new("a*b*c").unwrap().matches("ac"));
        assert!(Glob::new("*").is_none());
        let c = Cidr::parse("10.9.0.0/16").unwrap();
        assert!(c.contains(&"10.9.200.1".parse().unwrap()));
        assert!(!c.contains(&"10.10.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(&"8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(&"2001:db8::5".parse().unwrap())
        );
        assert!(
            Cidr::parse("10.0.0.1")
                .unwrap()
                .contains(&"10.0.0.1".parse().unwrap())
        );
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
    }

    #[test]
    fn rows_match_on_every_column_they_name() {
        let csv = "user,src,host,client,reason,expires\n\
            svc-ci,10.9.0.0/16,api.openai.com,http_library,CI pipeline tests the AI feature,2027-06-30\n\
            *,,*.githubcopilot.com,ai_coding_tool:github-copilot-chat,Copilot is sanctioned,\n\
            old,,,,expired exception,2025-01-01\n";
        let list = Allowlist::from_csv(csv.as_bytes(), "t", TODAY).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.expired.len(), 1);
        let ci = subject(
            "svc-ci",
            "10.9.0.5",
            "api.openai.com",
            "http_library",
            "python-requests",
        );
        assert_eq!(list.check(&ci), Some("CI pipeline tests the AI feature"));
        let ci_elsewhere = subject(
            "svc-ci",
            "10.1.0.5",
            "api.openai.com",
            "http_library",
            "python-requests",
        );
        assert_eq!(list.check(&ci_elsewhere), None);
        let copilot = subject(
            "pdev",
            "10.1.5.60",
            "api.githubcopilot.com",
            "ai_coding_tool",
            "github-copilot-chat",
        );
        assert_eq!(list.check(&copilot), Some("Copilot is sanctioned"));
        let copilot_stolen = subject(
            "pdev",
            "10.1.5.60",
            "api.githubcopilot.com",
            "http_library",
            "python-requests",
        );
        assert_eq!(list.check(&copilot_stolen), None, "never on the host alone");
        assert_eq!(
            list.check(&subject("old", "1.1.1.1", "x", "other", "other")),
            None,
            "expired"
        );
    }

    #[test]
    fn bad_rows_are_rejected_with_the_line_and_the_fix() {
        let e = Allowlist::from_csv(
            b"user,src,host,client,reason,expires\n*,,,,everything,\n",
            "mine.csv",
            TODAY,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: a row must name at least one of"),
            "{e}"
        );
        let e = Allowlist::from_csv(
            b"user,src,host,client,reason,expires\nbob,10.0.0/8,,,x,\n",
            "mine.csv",
            TODAY,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("src \"10.0.0/8\" is not an IP address or CIDR range"),
            "{e}"
        );
        let e = Allowlist::from_csv(
            b"user,src,host,client,reason,expires\nbob,,,,x,31/12/2026\n",
            "mine.csv",
            TODAY,
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not a date like"), "{e}");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
