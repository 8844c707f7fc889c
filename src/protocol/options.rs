//! `name=value` options from `searchinfo.args`, declared once and validated.

use std::collections::BTreeMap;

/// What values an option takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `t f true false 1 0 yes no` (any case).
    Bool,
    /// A whole number within the range.
    Int { min: i64, max: i64 },
    /// One of a fixed set of words (any case; stored lowercase).
    Choice(&'static [&'static str]),
    /// A comma-separated list of names.
    List,
    /// Any text.
    Text,
}

/// One option a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    /// The default, as a user would type it (for help text and docs).
    pub default: &'static str,
    pub help: &'static str,
}

impl Spec {
    /// What the option accepts, for error messages and docs.
    pub fn accepts(&self) -> String {
        match self.kind {
            Kind::Bool => "true or false".to_string(),
            Kind::Int { min, max } if max == i64::MAX => format!("a whole number >= {min}"),
            Kind::Int { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::List => "a comma-separated list of field names".to_string(),
            Kind::Text => "text".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown option '{name}'. Valid options are: {valid}")]
    Unknown { name: String, valid: String },
    #[error("invalid value '{value}' for option {name}: expected {accepts}")]
    BadValue {
        name: String,
        value: String,
        accepts: String,
    },
    #[error("option {name} is given twice; give it once")]
    Duplicate { name: String },
    #[error("unexpected argument '{arg}': options are written name=value (for example {example})")]
    NotAnOption { arg: String, example: String },
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<String>),
}

/// The options given, validated against the specs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    values: BTreeMap<&'static str, OptionValue>,
    raw: BTreeMap<&'static str, String>,
}

impl Options {
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(OptionValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(OptionValue::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(OptionValue::Text(s)) => Some(s),
            _ => None,
        }
    }
    pub fn list(&self, name: &str) -> Option<&[String]> {
        match self.values.get(name) {
            Some(OptionValue::List(l)) => Some(l),
            _ => None,
        }
    }
    /// The text an option was given with (quotes removed), to pass it on unchanged.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.raw.get(name).map(String::as_str)
    }
    /// The names of the options that were given.
    pub fn given(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "t" | "true" | "1" | "yes" | "y" => Some(true),
        "f" | "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Parses `args` (as splunkd hands them over, quotes mostly removed) against `specs`.
pub fn parse(args: &[String], specs: &[Spec]) -> Result<Options, OptionError> {
    let mut options = Options::default();
    for arg in args {
        let Some((name, value)) = arg.split_once('=') else {
            let example = specs
                .first()
                .map(|s| format!("{}={}", s.name, s.default))
                .unwrap_or_default();
            return Err(OptionError::NotAnOption {
                arg: arg.clone(),
                example,
            });
        };
        let name = name.trim();
        let Some(spec) = specs.iter().find(|s| s.name.eq_ignore_ascii_case(name)) else {
            return Err(OptionError::Unknown {
                name: name.to_string(),
                valid: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
            });
        };
        let raw = unquote(value);
        let bad = || OptionError::BadValue {
            name: spec.name.to_string(),
            value: raw.to_string(),
            accepts: spec.accepts(),
        };
        let parsed = match spec.kind {
            Kind::Bool => OptionValue::Bool(parse_bool(raw).ok_or_else(bad)?),
            Kind::Int { min, max } => {
                let i: i64 = raw.parse().map_err(|_| bad())?;
                if i < min || i > max {
                    return Err(bad());
                }
                OptionValue::Int(i)
            }
            Kind::Choice(words) => {
                let lower = raw.to_ascii_lowercase();
                if !words.contains(&lower.as_str()) {
                    return Err(bad());
                }
                OptionValue::Text(lower)
            }
            Kind::List => {
                let items: Vec<String> = raw
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if items.is_empty() {
                    return Err(bad());
                }
                OptionValue::List(items)
            }
            Kind::Text => {
                if raw.is_empty() {
                    return Err(bad());
                }
                OptionValue::Text(raw.to_string())
            }
        };
        options.raw.insert(spec.name, raw.to_string());
        if options.values.insert(spec.name, parsed).is_some() {
            return Err(OptionError::Duplicate {
                name: spec.name.to_string(),
            });
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            name: "profile",
            kind: Kind::Choice(&["seed", "standard"]),
            default: "seed",
            help: "",
        },
        Spec {
            name: "limit",
            kind: Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            default: "10000",
            help: "",
        },
        Spec {
            name: "debug",
            kind: Kind::Bool,
            default: "false",
            help: "",
        },
        Spec {
            name: "by",
            kind: Kind::List,
            default: "src,user",
            help: "",
        },
        Spec {
            name: "catalog",
            kind: Kind::Text,
            default: "x.csv",
            help: "",
        },
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_of_every_kind_parse() {
        let o = parse(
            &args(&[
                "profile=SEED",
                "limit=0",
                "debug=yes",
                "by=\"a, b\"",
                "catalog='my file.csv'",
            ]),
            SPECS,
        )
        .unwrap();
        assert_eq!(o.text("profile"), Some("seed"));
        assert_eq!(o.int("limit"), Some(0));
        assert_eq!(o.bool("debug"), Some(true));
        assert_eq!(o.list("by").unwrap(), ["a", "b"]);
        assert_eq!(o.text("catalog"), Some("my file.csv"));
        assert_eq!(o.given().count(), 5);
    }

    #[test]
    fn booleans_accept_the_splunk_spellings() {
        for (v, want) in [
            ("t", true),
            ("f", false),
            ("TRUE", true),
            ("false", false),
            ("1", true),
            ("0", false),
            ("yes", true),
            ("no", false),
        ] {
            let o = parse(&args(&[&format!("debug={v}")]), SPECS).unwrap();
            assert_eq!(o.bool("debug"), Some(want), "{v}");
        }
    }

    #[test]
    fn an_unknown_option_names_itself_and_the_valid_ones() {
        let e = parse(&args(&["profil=seed"]), SPECS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown option 'profil'. Valid options are: profile, limit, debug, by, catalog"
        );
    }

    #[test]
    fn a_bad_value_names_the_option_and_what_it_accepts() {
        let e = parse(&args(&["limit=-1"]), SPECS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value '-1' for option limit: expected a whole number >= 0"
        );
        let e = parse(&args(&["profile=fast"]), SPECS).unwrap_err();
        assert!(
            e.to_string().contains("expected one of seed, standard"),
            "{e}"
        );
        let e = parse(&args(&["debug=maybe"]), SPECS).unwrap_err();
        assert!(e.to_string().contains("expected true or false"), "{e}");
        let e = parse(&args(&["limit=12k"]), SPECS).unwrap_err();
        assert!(matches!(e, OptionError::BadValue { .. }));
    }

    #[test]
    fn duplicates_and_bare_words_are_errors() {
        assert!(matches!(
            parse(&args(&["limit=1", "limit=2"]), SPECS),
            Err(OptionError::Duplicate { .. })
        ));
        let e = parse(&args(&["src_ip"]), SPECS).unwrap_err();
        assert!(e.to_string().contains("profile=seed"), "{e}");
    }
}
