//! The Splunk app's files agree with the code and with each other: the search help lists
//! every option the command accepts, the seed saved search is the seed text, versions match,
//! and the generated host macro matches the catalog. Runs on a fresh clone with cargo alone
//! (app/check.sh adds real Splunk conf parsers, the package and AppInspect).

use aidetect::aidetect::OPTIONS;
use aidetect::detect::catalog::{COLUMNS, Catalog, MatchType};
use aidetect::protocol::options::Kind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "../xtask/src/host_filter.rs"]
mod host_filter;

type Conf = BTreeMap<String, BTreeMap<String, String>>;

const SEED_STANZA: &str = "aidetect - T1588.007 seed search - original SPL";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Reads a .conf file as Splunk does: `[stanza]`, `key = value`, `#` comment lines, and a
/// backslash at the very end of a line continuing the value on the next line (the line break
/// stays in the value). A repeated stanza or key is an error here, not a silent override.
fn parse_conf(text: &str, name: &str) -> Conf {
    let mut conf = Conf::new();
    let mut stanza = String::new();
    conf.insert(stanza.clone(), BTreeMap::new());
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            pending.push('\n');
            continue;
        }
        let line = std::mem::take(&mut pending) + raw;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(inner) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            stanza = inner.trim().to_string();
            let fresh = conf.insert(stanza.clone(), BTreeMap::new()).is_none();
            assert!(
                fresh || stanza.is_empty(),
                "{name}:{}: stanza [{stanza}] repeated",
                n + 1
            );
            continue;
        }
        let (key, value) = trimmed
            .split_once('=')
            .unwrap_or_else(|| panic!("{name}:{}: neither a stanza nor key = value", n + 1));
        let entries = conf.get_mut(&stanza).expect("current stanza");
        let old = entries.insert(key.trim().to_string(), value.trim().to_string());
        assert!(
            old.is_none(),
            "{name}:{}: key {} repeated in [{stanza}]",
            n + 1,
            key.trim()
        );
    }
    conf
}

fn conf(rel: &str) -> Conf {
    parse_conf(&read(rel), rel)
}

fn seed_text() -> String {
    read("tests/data/seed_query.spl")
        .strip_suffix('\n')
        .expect("seed_query.spl ends with a line break")
        .to_string()
}

/// The option names written as `name=` in a syntax or example.
fn option_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'=' {
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|c| !(c.is_ascii_lowercase() || *c == b'_'))
            .map_or(0, |p| p + 1);
        if start < i {
            names.insert(text[start..i].to_string());
        }
    }
    names
}

#[test]
fn searchbnf_syntax_lists_exactly_the_options_the_command_accepts() {
    let bnf = conf("default/searchbnf.conf");
    let command = &bnf["aidetect-command"];
    let syntax = &command["syntax"];
    let documented = option_names(syntax);
    let accepted: BTreeSet<String> = OPTIONS.iter().map(|o| o.name.to_string()).collect();
    assert_eq!(
        documented, accepted,
        "default/searchbnf.conf [aidetect-command] syntax must list the options of src/aidetect.rs OPTIONS"
    );
    for option in OPTIONS {
        if let Kind::Choice(words) = option.kind {
            let after = syntax
                .split_once(&format!("{}=(", option.name))
                .unwrap_or_else(|| panic!("syntax writes {}=(a|b) for a choice", option.name))
                .1;
            let listed: BTreeSet<&str> = after.split(')').next().unwrap_or("").split('|').collect();
            let wanted: BTreeSet<&str> = words.iter().copied().collect();
            assert_eq!(
                listed, wanted,
                "choices of {} in searchbnf.conf",
                option.name
            );
        }
    }
    for key in ["shortdesc", "description"] {
        assert!(!command[key].is_empty(), "searchbnf {key}");
    }
    assert_eq!(command["usage"], "public");
}

#[test]
fn searchbnf_has_an_example_for_every_option() {
    let bnf = conf("default/searchbnf.conf");
    let command = &bnf["aidetect-command"];
    let mut shown = BTreeSet::new();
    for (key, example) in command.iter().filter(|(k, _)| k.starts_with("example")) {
        let comment = key.replacen("example", "comment", 1);
        assert!(command.contains_key(&comment), "{key} has no {comment}");
        let args = example.split("| aidetect").nth(1).unwrap_or("");
        let args = args.split('|').next().unwrap_or("");
        shown.extend(option_names(args));
    }
    for option in OPTIONS {
        assert!(
            shown.contains(option.name),
            "no searchbnf example uses {}=",
            option.name
        );
    }
}

#[test]
fn seed_saved_search_is_the_seed_text_verbatim() {
    let searches = conf("default/savedsearches.conf");
    assert_eq!(searches[SEED_STANZA]["search"], seed_text());
}

#[test]
fn seed_text_is_the_query_of_the_shared_seed_spec() {
    let spec: PathBuf = root().join("../shared/spec/seed-detection.md");
    let Ok(text) = std::fs::read_to_string(&spec) else {
        println!(
            "note: {} is absent; the seed search was compared with tests/data/seed_query.spl only",
            spec.display()
        );
        return;
    };
    let section = text
        .split_once("## The query, verbatim")
        .expect("the spec has its query section")
        .1;
    let query = section
        .split_once("```\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("the query is a fenced block")
        .0;
    assert_eq!(query, seed_text());
}

#[test]
fn app_versions_equal_the_crate_version() {
    let version = env!("CARGO_PKG_VERSION");
    let app = conf("default/app.conf");
    assert_eq!(app["launcher"]["version"], version);
    assert_eq!(app["id"]["version"], version);
    assert_eq!(app["package"]["id"], "aidetect");
    assert_eq!(app["id"]["name"], "aidetect");
    let manifest: serde_json::Value =
        serde_json::from_str(&read("app.manifest")).expect("app.manifest is JSON");
    assert_eq!(manifest["info"]["id"]["version"], version);
    assert_eq!(manifest["info"]["id"]["name"], "aidetect");
}

#[test]
fn commands_conf_runs_the_binary_with_the_chunked_protocol_only() {
    let commands = conf("default/commands.conf");
    let stanza = &commands["aidetect"];
    assert_eq!(stanza.get("chunked").map(String::as_str), Some("true"));
    assert_eq!(stanza.get("filename").map(String::as_str), Some("aidetect"));
    let allowed = [
        "chunked",
        "filename",
        "is_risky",
        "maxwait",
        "maxchunksize",
        "run_in_preview",
    ];
    for key in stanza.keys() {
        assert!(
            allowed.contains(&key.as_str()) || key.starts_with("command.arg."),
            "commands.conf [aidetect] {key} is not a chunked-protocol setting"
        );
    }
}

#[test]
fn host_macro_is_generated_from_the_catalog() {
    let current = read("default/macros.conf");
    let wanted = host_filter::regenerate(&current, &read("lookups/aidetect_services.csv"))
        .expect("the catalog and macros.conf are readable");
    assert!(
        wanted == current,
        "default/macros.conf does not match lookups/aidetect_services.csv: run `cargo xtask gen-macros`"
    );
}

#[test]
fn catalog_seed_rows_are_the_twelve_seed_hosts() {
    let seed = seed_text();
    let seed_hosts: BTreeSet<String> = seed
        .split("dest_host=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(String::from)
        .collect();
    assert_eq!(seed_hosts.len(), 12);
    let catalog = read("lookups/aidetect_services.csv");
    let header = catalog.lines().next().unwrap_or("");
    assert_eq!(header, COLUMNS.join(","));
    let catalog = Catalog::from_csv(catalog.as_bytes(), "lookups/aidetect_services.csv")
        .expect("the shipped catalog loads");
    let flagged: BTreeSet<String> = catalog
        .services()
        .iter()
        .filter(|s| s.seed)
        .inspect(|s| assert_eq!(s.match_type, MatchType::Exact, "seed row {}", s.pattern))
        .map(|s| s.pattern.clone())
        .collect();
    assert_eq!(flagged, seed_hosts);
}

#[test]
fn allowlist_lookup_ships_its_header_only() {
    assert_eq!(
        read("lookups/aidetect_allowlist.csv"),
        "user,src,host,client,reason,expires\n"
    );
}

#[test]
fn conf_reader_keeps_line_breaks_of_continued_values() {
    let conf = parse_conf("[s]\na = one\\\ntwo \\\nthree\nb=x\n", "inline");
    assert_eq!(conf["s"]["a"], "one\ntwo \nthree");
    assert_eq!(conf["s"]["b"], "x");
}
