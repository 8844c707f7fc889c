//! `profile=seed`, rule by rule (`seed-detection.md`): one test per rule, named after it.
//!
//! Every test drives the command through the chunked protocol with a few hand-written events
//! and compares the decoded rows with values written by hand from the specification.
//! Expected rows are nine strings in the seed's column order; a multivalue cell is written
//! with its values joined by `\n` and a null as an empty string.

use aidetect::aidetect::AiDetect;
use aidetect::protocol::driver::{self, DecodedReply, Table};
use aidetect::protocol::{self, Settings};
use std::collections::BTreeMap;

mod common;
mod seed_support;
use seed_support::{
    API_PATHS, BROWSER_AGENTS, BROWSER_LIKE_AGENTS, COLUMNS, LOOK_ALIKE_HOSTS, NON_API_PATHS,
    POWERSHELL_AGENTS, SEED_HOSTS,
};

/// One event: field name → values (one value = single-valued, several = multivalue).
#[derive(Debug, Clone, Default)]
struct Ev(BTreeMap<&'static str, Vec<String>>);

impl Ev {
    fn bare() -> Ev {
        Ev::default()
    }

    /// A programmatic call that passes both filters and scores 2 (API path + POST), 100 bytes.
    fn api() -> Ev {
        Ev::bare()
            .set("dest_host", "api.openai.com")
            .set("src_ip", "10.0.0.1")
            .set("user", "alice")
            .set("http_user_agent", "curl/8.4.0")
            .set("http_method", "POST")
            .set("uri_path", "/v1/chat/completions")
            .set("bytes_out", "100")
    }

    /// A call that passes both filters and scores 0 unless a test adds to it: a GET of a
    /// non-API path with no bytes.
    fn quiet() -> Ev {
        Ev::api()
            .set("http_method", "GET")
            .set("uri_path", "/health")
            .unset("bytes_out")
    }

    fn set(self, field: &'static str, value: &str) -> Ev {
        self.mv(field, &[value])
    }

    fn mv(mut self, field: &'static str, values: &[&str]) -> Ev {
        self.0
            .insert(field, values.iter().map(|v| v.to_string()).collect());
        self
    }

    fn unset(mut self, field: &'static str) -> Ev {
        self.0.remove(field);
        self
    }
}

/// Runs a whole search (getinfo, then one execute chunk per element of `chunks`, the last
/// one finished) and returns every reply.
fn session(args: &[&str], chunks: &[&[Ev]]) -> Vec<DecodedReply> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut input = driver::getinfo(&args, serde_json::json!({}));
    for (i, events) in chunks.iter().enumerate() {
        let mut fields: Vec<String> = Vec::new();
        for e in events.iter() {
            for name in e.0.keys() {
                if !fields.iter().any(|f| f == name) {
                    fields.push(name.to_string());
                }
            }
        }
        let rows: Vec<Vec<Vec<String>>> = events
            .iter()
            .map(|e| {
                fields
                    .iter()
                    .map(|f| e.0.get(f.as_str()).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        let body = driver::splunkd_body(&fields, &rows);
        input.extend(driver::execute(i + 1 == chunks.len(), &body));
    }
    let mut out = Vec::new();
    protocol::serve(
        &mut AiDetect::new(),
        input.as_slice(),
        &mut out,
        &Settings::default(),
    );
    driver::decode_replies(&out).expect("replies are well-formed chunks")
}

/// `| aidetect profile=seed <args>` over `events` in one chunk: the result table.
fn run_with(args: &[&str], events: &[Ev]) -> Table {
    let mut all = vec!["profile=seed"];
    all.extend_from_slice(args);
    let replies = session(&all, &[events]);
    assert_eq!(replies.len(), 2, "getinfo reply + one execute reply");
    let last = &replies[1];
    assert_eq!(last.metadata["finished"], true, "{}", last.metadata);
    assert!(last.metadata.get("error").is_none(), "{}", last.metadata);
    last.table().expect("the reply body is CSV")
}

fn run(events: &[Ev]) -> Table {
    run_with(&[], events)
}

/// The rows as nine strings each (multivalue joined by `\n`, null = "").
fn rows(table: &Table) -> Vec<Vec<String>> {
    if !table.rows.is_empty() {
        assert_eq!(table.fields, COLUMNS, "output columns");
    }
    table
        .rows
        .iter()
        .map(|row| row.iter().map(|cell| cell.join("\n")).collect())
        .collect()
}

#[track_caller]
fn assert_rows(table: &Table, expected: &[[&str; 9]]) {
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows(table), expected);
}

/// One column of the output, row by row.
fn column(table: &Table, name: &str) -> Vec<String> {
    let i = COLUMNS
        .iter()
        .position(|c| *c == name)
        .expect("a seed column");
    rows(table).into_iter().map(|r| r[i].clone()).collect()
}

// ---------------------------------------------------------------------------------------
// Rule 1: the host filter.

#[test]
fn rule1_host_filter_is_ascii_case_insensitive_and_keeps_the_case_written() {
    let t = run(&[
        Ev::api().set("dest_host", "API.OpenAI.com"),
        Ev::api().set("dest_host", "api.openai.com"),
        Ev::api().set("dest_host", "Api.Anthropic.COM"),
    ]);
    assert_rows(
        &t,
        &[[
            "10.0.0.1",
            "alice",
            "3",
            "300",
            "1",
            "API.OpenAI.com\nApi.Anthropic.COM\napi.openai.com",
            "/v1/chat/completions",
            "curl/8.4.0",
            "2",
        ]],
    );
}

#[test]
fn rule1_each_of_the_twelve_seed_hosts_is_kept() {
    let events: Vec<Ev> = SEED_HOSTS
        .iter()
        .map(|h| Ev::api().set("dest_host", h))
        .collect();
    assert_rows(
        &run(&events),
        &[[
            "10.0.0.1",
            "alice",
            "12",
            "1200",
            "1",
            "api-inference.huggingface.co\napi.anthropic.com\napi.cohere.ai\napi.groq.com\n\
             api.mistral.ai\napi.openai.com\napi.perplexity.ai\napi.replicate.com\n\
             api.stability.ai\napi.together.xyz\ngenerativelanguage.googleapis.com\n\
             inference.azure.com",
            "/v1/chat/completions",
            "curl/8.4.0",
            "2",
        ]],
    );
}

#[test]
fn rule1_look_alike_hosts_are_dropped() {
    let mut events: Vec<Ev> = LOOK_ALIKE_HOSTS
        .iter()
        .map(|h| Ev::api().set("dest_host", h).set("user", "mallory"))
        .collect();
    events.push(Ev::api());
    assert_eq!(column(&run(&events), "user"), ["alice"]);
}

#[test]
fn rule1_an_event_without_dest_host_is_dropped() {
    let t = run(&[
        Ev::api().unset("dest_host"),
        Ev::api().set("dest_host", ""),
        Ev::api().mv("dest_host", &["", ""]),
    ]);
    assert!(t.rows.is_empty(), "{t:?}");
}

#[test]
fn rule1_multivalue_dest_host_matches_on_any_value_and_lists_every_value() {
    let t = run(&[
        Ev::api().mv("dest_host", &["proxy.corp.example", "API.OPENAI.COM"]),
        Ev::api()
            .mv("dest_host", &["evil.example", "xapi.openai.com"])
            .set("user", "bob"),
    ]);
    assert_rows(
        &t,
        &[[
            "10.0.0.1",
            "alice",
            "1",
            "100",
            "1",
            "API.OPENAI.COM\nproxy.corp.example",
            "/v1/chat/completions",
            "curl/8.4.0",
            "2",
        ]],
    );
}

// ---------------------------------------------------------------------------------------
// Rule 2: the user agent.

#[test]
fn rule2_user_agent_is_lowercased_unicode_aware() {
    let t = run(&[Ev::api().set(
        "http_user_agent",
        "OpenAI/Python 1.30.1 İSTANBUL ΣΟΦΙΑ Straße 机器人 🤖",
    )]);
    assert_eq!(
        column(&t, "UserAgents"),
        ["openai/python 1.30.1 i\u{307}stanbul σοφια straße 机器人 🤖"]
    );
}

#[test]
fn rule2_cs_user_agent_is_the_fallback_and_http_user_agent_wins() {
    let t = run(&[
        Ev::api()
            .unset("http_user_agent")
            .set("cs_user_agent", "Anthropic/Python 0.25.0"),
        // http_user_agent is present: cs_user_agent (a browser) is never looked at.
        Ev::api()
            .set("http_user_agent", "Go-http-client/1.1")
            .set("cs_user_agent", "Mozilla/5.0 Chrome/120.0"),
        // An empty http_user_agent is null: cs_user_agent is used.
        Ev::api()
            .set("http_user_agent", "")
            .set("cs_user_agent", "LangChain/0.1"),
    ]);
    assert_eq!(
        column(&t, "UserAgents"),
        ["anthropic/python 0.25.0\ngo-http-client/1.1\nlangchain/0.1"]
    );
    assert_eq!(column(&t, "Requests"), ["3"]);
}

#[test]
fn rule2_no_user_agent_is_unknown() {
    let t = run(&[
        Ev::api().unset("http_user_agent"),
        Ev::api().set("http_user_agent", ""),
        Ev::api()
            .set("http_user_agent", "UNKNOWN")
            .set("user", "bob"),
        Ev::api().set("user", "bob"),
    ]);
    assert_eq!(column(&t, "user"), ["alice", "bob"]);
    assert_eq!(column(&t, "UserAgents"), ["unknown", "curl/8.4.0\nunknown"]);
}

// ---------------------------------------------------------------------------------------
// Rule 3: the browser filter.

#[test]
fn rule3_each_browser_token_drops_the_event() {
    for (token, ua) in BROWSER_AGENTS {
        assert!(ua.to_lowercase().contains(token), "{ua}");
        for ua in [ua.to_string(), ua.to_uppercase()] {
            let t = run(&[
                Ev::api().set("http_user_agent", &ua),
                Ev::api().set("user", "bob"),
            ]);
            assert_eq!(column(&t, "user"), ["bob"], "{token}: {ua}");
            // Through cs_user_agent too.
            let t = run(&[
                Ev::api().unset("http_user_agent").set("cs_user_agent", &ua),
                Ev::api().set("user", "bob"),
            ]);
            assert_eq!(
                column(&t, "user"),
                ["bob"],
                "{token} as cs_user_agent: {ua}"
            );
        }
    }
}

#[test]
fn rule3_browser_tokens_match_anywhere_and_opr_is_not_one() {
    let t = run(&[
        Ev::api()
            .set("http_user_agent", "mybot-chrome/1.0")
            .set("user", "u1"),
        Ev::api()
            .set("http_user_agent", "msiexec/5.0")
            .set("user", "u2"),
        Ev::api().set("http_user_agent", "xEDG/1").set("user", "u3"),
        Ev::api()
            .set("http_user_agent", "Mozilla/5.0 OPR/106.0.0.0")
            .set("user", "k1"),
        Ev::api()
            .set("http_user_agent", "Chrome 120")
            .set("user", "k2"),
        Ev::api()
            .set("http_user_agent", "Edge/18.1")
            .set("user", "k3"),
    ]);
    assert_eq!(column(&t, "user"), ["k1", "k2", "k3"]);
    assert_eq!(
        column(&t, "UserAgents"),
        ["mozilla/5.0 opr/106.0.0.0", "chrome 120", "edge/18.1"]
    );
}

#[test]
fn rule3_electron_apps_and_powershell_browser_presets_count_as_browsers() {
    let mut events: Vec<Ev> = BROWSER_LIKE_AGENTS
        .iter()
        .map(|ua| Ev::api().set("http_user_agent", ua).set("user", "browser"))
        .collect();
    // PowerShell's own default agents are not browsers.
    for ua in POWERSHELL_AGENTS {
        events.push(Ev::api().set("http_user_agent", ua));
    }
    let t = run(&events);
    assert_eq!(column(&t, "user"), ["alice"]);
    assert_eq!(
        column(&t, "UserAgents"),
        [
            "mozilla/5.0 (windows nt 10.0; microsoft windows 10.0.22631; en-us) powershell/7.4.6\n\
          mozilla/5.0 (windows nt; windows nt 10.0; en-us) windowspowershell/5.1.19041.1682"
        ]
    );
}

#[test]
fn rule3_unknown_agent_is_not_a_browser() {
    let t = run(&[Ev::api().unset("http_user_agent").unset("cs_user_agent")]);
    assert_rows(
        &t,
        &[[
            "10.0.0.1",
            "alice",
            "1",
            "100",
            "1",
            "api.openai.com",
            "/v1/chat/completions",
            "unknown",
            "2",
        ]],
    );
}

// ---------------------------------------------------------------------------------------
// Rule 4: BytesUploaded.

#[test]
fn rule4_dash_and_non_numeric_bytes_are_null() {
    let junk = [
        "-", "12k", "abc", "0x1F", "1,000", "12 34", "NaN", "inf", "--1", "1e", ".", "+",
    ];
    let events: Vec<Ev> = junk
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Ev::api()
                .set("bytes_out", b)
                .set("user", &format!("u{i:02}"))
        })
        .collect();
    let t = run(&events);
    let users: Vec<String> = (0..junk.len()).map(|i| format!("u{i:02}")).collect();
    assert_eq!(
        column(&t, "user"),
        users,
        "every group is kept (it scores 2)"
    );
    assert!(
        column(&t, "TotalBytesUploaded")
            .iter()
            .all(|c| c.is_empty())
    );
    assert!(column(&t, "MaxSuspicionScore").iter().all(|c| c == "2"));
}

#[test]
fn rule4_non_numeric_bytes_out_hides_a_numeric_cs_bytes() {
    let t = run(&[
        // coalesce picks bytes_out by presence: "-" → null, and LargePayload stays 0.
        Ev::quiet()
            .set("uri_path", "/v1/models")
            .set("bytes_out", "-")
            .set("cs_bytes", "60000"),
        // Without bytes_out, cs_bytes counts.
        Ev::quiet()
            .set("uri_path", "/v1/models")
            .set("cs_bytes", "60000")
            .set("user", "bob"),
        // An empty bytes_out is null, so cs_bytes counts.
        Ev::quiet()
            .set("uri_path", "/v1/models")
            .set("bytes_out", "")
            .set("cs_bytes", "70000")
            .set("user", "carol"),
    ]);
    assert_rows(
        &t,
        &[
            [
                "10.0.0.1",
                "carol",
                "1",
                "70000",
                "1",
                "api.openai.com",
                "/v1/models",
                "curl/8.4.0",
                "2",
            ],
            [
                "10.0.0.1",
                "bob",
                "1",
                "60000",
                "1",
                "api.openai.com",
                "/v1/models",
                "curl/8.4.0",
                "2",
            ],
            [
                "10.0.0.1",
                "alice",
                "1",
                "",
                "1",
                "api.openai.com",
                "/v1/models",
                "curl/8.4.0",
                "1",
            ],
        ],
    );
}

#[test]
fn rule4_missing_bytes_count_as_zero_and_null_bytes_are_skipped_in_the_sum() {
    let t = run(&[
        Ev::api().unset("bytes_out"),
        Ev::api().set("user", "bob").set("bytes_out", "-"),
        Ev::api().set("user", "bob").set("bytes_out", "250"),
    ]);
    assert_eq!(column(&t, "user"), ["bob", "alice"]);
    assert_eq!(column(&t, "TotalBytesUploaded"), ["250", "0"]);
    assert_eq!(column(&t, "Requests"), ["2", "1"]);
}

#[test]
fn rule4_tonumber_reads_sign_fraction_exponent_and_surrounding_spaces() {
    let cases = [
        ("1e3", "1000"),
        ("1.5E2", "150"),
        ("  12  ", "12"),
        ("5.", "5"),
        ("+2.5", "2.5"),
        (".5", "0.5"),
        ("0", "0"),
        ("-5", "-5"),
        ("-1.5e+1", "-15"),
    ];
    let events: Vec<Ev> = cases
        .iter()
        .enumerate()
        .map(|(i, (b, _))| Ev::api().set("bytes_out", b).set("user", &format!("u{i}")))
        .collect();
    let t = run(&events);
    let users: Vec<String> = (0..cases.len()).map(|i| format!("u{i}")).collect();
    assert_eq!(column(&t, "user"), users);
    let totals: Vec<&str> = cases.iter().map(|(_, total)| *total).collect();
    assert_eq!(column(&t, "TotalBytesUploaded"), totals);
}

// ---------------------------------------------------------------------------------------
// Rule 5: IsAPIEndpoint.

#[test]
fn rule5_each_api_prefix_scores_case_sensitive_prefix_only() {
    // The user names the path, so that the kept rows say which paths scored.
    let user = |p: &str| format!("path {p}");
    let events: Vec<Ev> = API_PATHS
        .iter()
        .chain(NON_API_PATHS.iter())
        .map(|p| Ev::quiet().set("uri_path", p).set("user", &user(p)))
        .collect();
    let t = run(&events);
    let mut kept = column(&t, "user");
    kept.sort();
    let mut want: Vec<String> = API_PATHS.iter().map(|p| user(p)).collect();
    want.sort();
    assert_eq!(kept, want);
    assert!(column(&t, "MaxSuspicionScore").iter().all(|s| s == "1"));
}

#[test]
fn rule5_cs_uri_stem_is_the_fallback_and_uri_path_wins() {
    let t = run(&[
        Ev::quiet()
            .unset("uri_path")
            .set("cs_uri_stem", "/v1/embeddings"),
        // uri_path is present: its /health is what scores (0), not cs_uri_stem.
        Ev::quiet()
            .set("cs_uri_stem", "/v1/embeddings")
            .set("user", "bob"),
        // An empty uri_path is null: cs_uri_stem scores.
        Ev::quiet()
            .set("uri_path", "")
            .set("cs_uri_stem", "/chat")
            .set("user", "carol"),
    ]);
    assert_eq!(column(&t, "user"), ["alice", "carol"]);
    assert_eq!(column(&t, "MaxSuspicionScore"), ["1", "1"]);
    assert_eq!(column(&t, "EndpointPaths"), ["", ""]);
}

// ---------------------------------------------------------------------------------------
// Rule 6: Method.

#[test]
fn rule6_post_is_case_insensitive_and_cs_method_is_the_fallback() {
    let t = run(&[
        Ev::quiet().set("http_method", "post").set("user", "k1"),
        Ev::quiet().set("http_method", "pOsT").set("user", "k2"),
        Ev::quiet()
            .unset("http_method")
            .set("cs_method", "POST")
            .set("user", "k3"),
        Ev::quiet()
            .set("http_method", "")
            .set("cs_method", "Post")
            .set("user", "k4"),
        Ev::quiet()
            .set("http_method", "GET")
            .set("cs_method", "POST")
            .set("user", "d1"),
        Ev::quiet().unset("http_method").set("user", "d2"),
        Ev::quiet().set("http_method", "POST ").set("user", "d3"),
        Ev::quiet().set("http_method", " POST").set("user", "d4"),
        Ev::quiet().set("http_method", "PUT").set("user", "d5"),
        Ev::quiet().set("http_method", "POSTS").set("user", "d6"),
    ]);
    assert_eq!(column(&t, "user"), ["k1", "k2", "k3", "k4"]);
    assert!(column(&t, "MaxSuspicionScore").iter().all(|s| s == "1"));
}

#[test]
fn rule6_method_is_uppercased_unicode_aware() {
    // `upper("poſt")` is "POST": the long s uppercases to S. So does the ligature ﬆ.
    let t = run(&[
        Ev::quiet().set("http_method", "poſt").set("user", "k1"),
        Ev::quiet().set("http_method", "poﬆ").set("user", "k2"),
        Ev::quiet().set("http_method", "pošt").set("user", "d1"),
    ]);
    assert_eq!(column(&t, "user"), ["k1", "k2"]);
}

// ---------------------------------------------------------------------------------------
// Rules 7 and 8: LargePayload and SuspicionScore.

#[test]
fn rule7_large_payload_is_strictly_more_than_50000() {
    let t = run(&[
        Ev::quiet().set("bytes_out", "50000").set("user", "d1"),
        Ev::quiet().set("bytes_out", "5e4").set("user", "d2"),
        Ev::quiet().set("bytes_out", "-50001").set("user", "d3"),
        Ev::quiet().set("bytes_out", "50001").set("user", "k1"),
        Ev::quiet().set("bytes_out", "50000.5").set("user", "k2"),
        Ev::quiet()
            .unset("bytes_out")
            .set("cs_bytes", "50001")
            .set("user", "k3"),
    ]);
    assert_eq!(column(&t, "user"), ["k1", "k3", "k2"]);
    assert_eq!(
        column(&t, "TotalBytesUploaded"),
        ["50001", "50001", "50000.5"]
    );
    assert!(column(&t, "MaxSuspicionScore").iter().all(|s| s == "1"));
}

#[test]
fn rule8_suspicion_score_is_the_sum_and_the_group_keeps_the_largest() {
    let t = run(&[
        Ev::quiet().set("uri_path", "/v1/x"),                      // 1
        Ev::api().set("bytes_out", "60000"),                       // 3
        Ev::quiet(),                                               // 0
        Ev::quiet().set("user", "bob").set("http_method", "POST"), // 1
        Ev::quiet().set("user", "bob").set("bytes_out", "60000"),  // 1
        Ev::api().set("user", "carol").set("uri_path", "/none"),   // POST → 1
        Ev::api().set("user", "carol"),                            // 2
    ]);
    // alice and bob both total 60000: the tie is broken by user.
    assert_eq!(column(&t, "user"), ["alice", "bob", "carol"]);
    assert_eq!(column(&t, "MaxSuspicionScore"), ["3", "1", "2"]);
    assert_eq!(column(&t, "Requests"), ["3", "2", "2"]);
}

// ---------------------------------------------------------------------------------------
// Values: null, multivalue, encoding.

#[test]
fn values_an_empty_cell_or_empty_multivalue_item_is_null() {
    let t = run(&[
        Ev::api()
            .mv("http_user_agent", &["", ""])
            .set("cs_user_agent", "SDK/1"),
        Ev::api().mv("uri_path", &["", "/v1/a", ""]),
        Ev::api().mv("dest_host", &["", "api.groq.com"]),
    ]);
    assert_rows(
        &t,
        &[[
            "10.0.0.1",
            "alice",
            "3",
            "300",
            "1",
            "api.groq.com\napi.openai.com",
            "/v1/a\n/v1/chat/completions",
            "curl/8.4.0\nsdk/1",
            "2",
        ]],
    );
}

#[test]
fn values_eval_fields_take_the_first_non_null_value_of_a_multivalue() {
    let t = run(&[
        // The first agent is a browser: dropped.
        Ev::api().mv("http_user_agent", &["", "Chrome/1", "curl/1"]),
        // The first agent is not: kept, and only it is listed.
        Ev::api()
            .mv("http_user_agent", &["python-httpx/0.27", "Chrome/1"])
            .set("user", "bob"),
        // Bytes, path and method: the first value each.
        Ev::quiet()
            .mv("bytes_out", &["", "60001", "1"])
            .mv("uri_path", &["/health", "/v1/x"])
            .mv("http_method", &["GET", "POST"])
            .set("user", "carol"),
        Ev::quiet()
            .mv("uri_path", &["/v1/x", "/health"])
            .set("user", "dave"),
    ]);
    assert_eq!(column(&t, "user"), ["carol", "bob", "dave"]);
    assert_eq!(
        column(&t, "UserAgents"),
        ["curl/8.4.0", "python-httpx/0.27", "curl/8.4.0"]
    );
    assert_eq!(column(&t, "TotalBytesUploaded"), ["60001", "100", "0"]);
    assert_eq!(column(&t, "MaxSuspicionScore"), ["1", "2", "1"]);
    assert_eq!(
        column(&t, "EndpointPaths"),
        ["/health\n/v1/x", "/v1/chat/completions", "/health\n/v1/x"]
    );
}

#[test]
fn values_invalid_utf8_is_shown_with_replacement_characters() {
    let body = b"dest_host,src_ip,user,http_user_agent,uri_path\n\
        api.openai.com,10.0.0.1,b\xffob,CURL\xfe/8,/v1/\xc3\n";
    let mut input = driver::getinfo(&["profile=seed".to_string()], serde_json::json!({}));
    input.extend(driver::execute(true, body));
    let mut out = Vec::new();
    protocol::serve(
        &mut AiDetect::new(),
        input.as_slice(),
        &mut out,
        &Settings::default(),
    );
    let replies = driver::decode_replies(&out).unwrap();
    let t = replies[1].table().unwrap();
    assert_rows(
        &t,
        &[[
            "10.0.0.1",
            "b\u{fffd}ob",
            "1",
            "0",
            "1",
            "api.openai.com",
            "/v1/\u{fffd}",
            "curl\u{fffd}/8",
            "1",
        ]],
    );
}

// ---------------------------------------------------------------------------------------
// Grouping and aggregates.

#[test]
fn group_events_without_src_ip_or_user_are_lost() {
    let t = run(&[
        Ev::api().unset("user"),
        Ev::api().set("user", ""),
        Ev::api().mv("user", &["", ""]),
        Ev::api().unset("src_ip"),
        Ev::api().set("src_ip", ""),
        Ev::api().unset("src_ip").unset("user"),
        Ev::api().set("user", "bob"),
    ]);
    assert_eq!(column(&t, "user"), ["bob"]);
    assert_eq!(column(&t, "Requests"), ["1"]);
}

#[test]
fn group_multivalue_key_fields_make_one_group_per_combination() {
    let t = run(&[
        Ev::api()
            .mv("src_ip", &["10.0.0.2", "10.0.0.1"])
            .mv("user", &["bob", "alice"]),
        Ev::api().mv("user", &["", "carol"]),
    ]);
    assert_eq!(
        rows(&t)
            .iter()
            .map(|r| format!("{} {} {} {}", r[0], r[1], r[2], r[3]))
            .collect::<Vec<_>>(),
        [
            "10.0.0.1 alice 1 100",
            "10.0.0.1 bob 1 100",
            "10.0.0.1 carol 1 100",
            "10.0.0.2 alice 1 100",
            "10.0.0.2 bob 1 100",
        ]
    );
}

#[test]
fn group_keys_are_exact_and_aggregates_are_per_group() {
    let t = run(&[
        Ev::api().set("bytes_out", "1000"),
        Ev::api()
            .set("bytes_out", "2000.5")
            .set("dest_host", "api.mistral.ai")
            .set("http_user_agent", "MistralClient/1.0"),
        Ev::api().set("user", "ALICE").set("bytes_out", "10"),
        Ev::api().set("src_ip", "10.0.0.1 ").set("bytes_out", "20"),
    ]);
    assert_rows(
        &t,
        &[
            [
                "10.0.0.1",
                "alice",
                "2",
                "3000.5",
                "1",
                "api.mistral.ai\napi.openai.com",
                "/v1/chat/completions",
                "curl/8.4.0\nmistralclient/1.0",
                "2",
            ],
            [
                "10.0.0.1 ",
                "alice",
                "1",
                "20",
                "1",
                "api.openai.com",
                "/v1/chat/completions",
                "curl/8.4.0",
                "2",
            ],
            [
                "10.0.0.1",
                "ALICE",
                "1",
                "10",
                "1",
                "api.openai.com",
                "/v1/chat/completions",
                "curl/8.4.0",
                "2",
            ],
        ],
    );
}

#[test]
fn group_unique_source_ips_is_always_1() {
    let t = run(&[
        Ev::api().mv("src_ip", &["10.0.0.1", "10.0.0.2"]),
        Ev::api().set("src_ip", "10.0.0.3"),
        Ev::api(),
    ]);
    assert_eq!(column(&t, "UniqueSourceIPs"), ["1", "1", "1"]);
    assert_eq!(column(&t, "Requests"), ["2", "1", "1"]);
}

#[test]
fn group_endpoint_paths_come_from_uri_path_only() {
    let t = run(&[
        Ev::api().unset("uri_path").set("cs_uri_stem", "/v1/chat"),
        Ev::api()
            .unset("uri_path")
            .set("cs_uri_stem", "/v1/other")
            .set("user", "bob"),
        Ev::api()
            .set("cs_uri_stem", "/v1/ignored")
            .set("uri_path", "/v1/seen")
            .set("user", "bob"),
    ]);
    assert_eq!(column(&t, "user"), ["bob", "alice"]);
    assert_eq!(column(&t, "EndpointPaths"), ["/v1/seen", ""]);
    assert_eq!(column(&t, "MaxSuspicionScore"), ["2", "2"]);
}

#[test]
fn group_values_lists_are_distinct_and_sorted_by_bytes() {
    let paths = [
        "/b", "/B", "/a", "/é", "/Z", "/b", "/ä", "/10", "/9", "/a b",
    ];
    let events: Vec<Ev> = paths.iter().map(|p| Ev::api().set("uri_path", p)).collect();
    assert_eq!(
        column(&run(&events), "EndpointPaths"),
        ["/10\n/9\n/B\n/Z\n/a\n/a b\n/b\n/ä\n/é"]
    );
}

// ---------------------------------------------------------------------------------------
// Filter, order, limit.

#[test]
fn filter_drops_groups_whose_highest_score_is_0() {
    let t = run(&[
        Ev::quiet(),
        Ev::quiet().set("bytes_out", "50000"),
        Ev::quiet().set("user", "bob"),
        Ev::quiet().set("user", "bob").set("uri_path", "/models"),
    ]);
    assert_eq!(column(&t, "user"), ["bob"]);
    assert_eq!(column(&t, "Requests"), ["2"]);
}

#[test]
fn sort_by_total_descending_with_null_totals_last() {
    let t = run(&[
        Ev::api().set("user", "five").set("bytes_out", "5"),
        Ev::api().set("user", "b").set("bytes_out", "100"),
        Ev::api().set("user", "x").set("bytes_out", "-"),
        Ev::api().set("user", "million").set("bytes_out", "1e6"),
        Ev::api().set("user", "minus").set("bytes_out", "-3"),
        Ev::api()
            .set("src_ip", "10.0.0.0")
            .set("user", "z")
            .set("bytes_out", "-"),
        Ev::api().set("user", "a").set("bytes_out", "100"),
        Ev::api()
            .set("src_ip", "10.0.0.0")
            .set("user", "c")
            .set("bytes_out", "100"),
    ]);
    assert_eq!(
        rows(&t)
            .iter()
            .map(|r| format!("{} {} {}", r[0], r[1], r[3]))
            .collect::<Vec<_>>(),
        [
            "10.0.0.1 million 1000000",
            "10.0.0.0 c 100",
            "10.0.0.1 a 100",
            "10.0.0.1 b 100",
            "10.0.0.1 five 5",
            "10.0.0.1 minus -3",
            "10.0.0.0 z ",
            "10.0.0.1 x ",
        ]
    );
}

#[test]
fn sort_ties_between_0_and_minus_0_are_broken_by_src_ip_then_user() {
    // -0 and 0 are the same number: the groups tie, and both totals read 0.
    let t = run(&[
        Ev::api().set("user", "b").set("bytes_out", "0"),
        Ev::api().set("user", "a").set("bytes_out", "-0"),
        Ev::api().set("user", "c").set("bytes_out", "-0.0"),
    ]);
    assert_eq!(column(&t, "user"), ["a", "b", "c"]);
    assert_eq!(column(&t, "TotalBytesUploaded"), ["0", "0", "0"]);
}

/// 10,005 groups, group `i` with `i` bytes.
fn ten_thousand_and_five_groups() -> Vec<Ev> {
    (0..10_005)
        .map(|i| {
            Ev::api()
                .set("user", &format!("u{i:05}"))
                .set("bytes_out", &i.to_string())
        })
        .collect()
}

#[test]
fn limit_returns_at_most_10000_rows() {
    let t = run(&ten_thousand_and_five_groups());
    assert_eq!(t.rows.len(), 10_000);
    let users = column(&t, "user");
    assert_eq!(users[0], "u10004");
    assert_eq!(users[9_999], "u00005");
    assert_eq!(column(&t, "TotalBytesUploaded")[9_999], "5");
}

// ---------------------------------------------------------------------------------------
// Output.

#[test]
fn output_columns_come_in_the_seed_order() {
    let t = run(&[Ev::api()]);
    assert_eq!(t.fields, COLUMNS);
}

#[test]
fn output_one_value_is_plain_several_are_a_multivalue_field() {
    // Read the reply body with the csv crate directly: the display cell and the `__mv_`
    // cell as splunklib writes them, `$` doubled inside items.
    let replies = session(
        &["profile=seed"],
        &[&[
            Ev::api().set("uri_path", "/v1/a$b;c"),
            Ev::api().set("uri_path", "/v1/\"q\",d"),
        ]],
    );
    let body = &replies[1].body;
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut want = COLUMNS.to_vec();
    want.insert(7, "__mv_EndpointPaths"); // only the column with a multivalue cell
    assert_eq!(header, want);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    let cells: Vec<&str> = records[0].iter().collect();
    assert_eq!(
        cells,
        [
            "10.0.0.1",
            "alice",
            "2",
            "200",
            "1",
            "api.openai.com",
            "/v1/\"q\",d\n/v1/a$b;c",
            "$/v1/\"q\",d$;$/v1/a$$b;c$",
            "curl/8.4.0",
            "2",
        ]
    );
}

#[test]
fn output_numbers_are_integers_without_a_point_or_shortest_decimals() {
    let totals = |values: &[&str]| {
        let events: Vec<Ev> = values
            .iter()
            .map(|v| Ev::api().set("bytes_out", v))
            .collect();
        column(&run(&events), "TotalBytesUploaded").remove(0)
    };
    assert_eq!(totals(&["12345.0"]), "12345");
    assert_eq!(totals(&["4935204", "0.25"]), "4935204.25");
    assert_eq!(totals(&["0.1", "0.2"]), "0.30000000000000004");
    assert_eq!(totals(&["2.50"]), "2.5");
    assert_eq!(totals(&["1e-3"]), "0.001");
    assert_eq!(totals(&["-7"]), "-7");
    assert_eq!(totals(&["-0"]), "0");
    assert_eq!(totals(&["1.5", "-1.5"]), "0");
    assert_eq!(totals(&["123456789012"]), "123456789012");
}

// ---------------------------------------------------------------------------------------
// Options.

#[test]
fn option_large_bytes_moves_the_large_payload_threshold() {
    let events = [
        Ev::quiet().set("bytes_out", "1000").set("user", "b1000"),
        Ev::quiet().set("bytes_out", "1001").set("user", "b1001"),
        Ev::quiet().set("bytes_out", "1").set("user", "b1"),
        Ev::quiet().set("bytes_out", "0").set("user", "b0"),
        Ev::quiet().set("bytes_out", "-").set("user", "bnull"),
        Ev::quiet().set("bytes_out", "50001").set("user", "b50001"),
    ];
    let users = |args: &[&str]| column(&run_with(args, &events), "user");
    assert_eq!(users(&[]), ["b50001"]);
    assert_eq!(users(&["large_bytes=50000"]), ["b50001"]);
    assert_eq!(users(&["large_bytes=1000"]), ["b50001", "b1001"]);
    assert_eq!(
        users(&["large_bytes=0"]),
        ["b50001", "b1001", "b1000", "b1"]
    );
    assert_eq!(users(&["large_bytes=50001"]), Vec::<String>::new());
}

#[test]
fn option_min_score_keeps_groups_at_or_above_it() {
    let events = [
        Ev::quiet().set("user", "s0"),
        Ev::quiet().set("user", "s1").set("http_method", "POST"),
        Ev::api().set("user", "s2"),
        Ev::api().set("user", "s3").set("bytes_out", "60000"),
    ];
    let users = |args: &[&str]| {
        let mut u = column(&run_with(args, &events), "user");
        u.sort();
        u
    };
    assert_eq!(users(&[]), ["s1", "s2", "s3"]);
    assert_eq!(users(&["min_score=0"]), ["s0", "s1", "s2", "s3"]);
    assert_eq!(users(&["min_score=1"]), ["s1", "s2", "s3"]);
    assert_eq!(users(&["min_score=2"]), ["s2", "s3"]);
    assert_eq!(users(&["min_score=3"]), ["s3"]);
    // The rules themselves stay the seed's: min_score=0 keeps a group, not a dropped event.
    let t = run_with(
        &["min_score=0"],
        &[
            Ev::quiet().set("http_user_agent", "Firefox/1"),
            Ev::quiet().set("dest_host", "x.example"),
        ],
    );
    assert!(t.rows.is_empty());
}

#[test]
fn option_limit_caps_the_rows_and_0_means_no_limit() {
    let events = ten_thousand_and_five_groups();
    assert_eq!(
        column(&run_with(&["limit=2"], &events[..10]), "user"),
        ["u00009", "u00008"]
    );
    assert_eq!(run_with(&["limit=1"], &events[..10]).rows.len(), 1);
    assert_eq!(run_with(&["limit=10"], &events[..10]).rows.len(), 10);
    assert_eq!(run_with(&["limit=50"], &events[..10]).rows.len(), 10);
    let all = run_with(&["limit=0"], &events);
    assert_eq!(all.rows.len(), 10_005);
    assert_eq!(column(&all, "user")[10_004], "u00000");
    assert_eq!(run_with(&["limit=10002"], &events).rows.len(), 10_002);
}

#[test]
fn option_bad_values_get_an_error_reply_naming_the_option() {
    let bad = [
        ("large_bytes=-1", "large_bytes"),
        ("large_bytes=12k", "large_bytes"),
        ("large_bytes=1.5", "large_bytes"),
        ("large_bytes=", "large_bytes"),
        ("min_score=4", "min_score"),
        ("min_score=-1", "min_score"),
        ("min_score=high", "min_score"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("profile=nope", "profile"),
    ];
    for (arg, name) in bad {
        let replies = session(&["profile=seed", arg], &[&[Ev::api()]]);
        assert_eq!(replies.len(), 1, "{arg}: the getinfo reply is the only one");
        let meta = &replies[0].metadata;
        assert_eq!(meta["finished"], true, "{arg}: {meta}");
        let error = meta["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(name),
            "{arg}: {error:?} does not name {name}"
        );
        assert_eq!(
            meta["inspector"]["messages"][0][0], "ERROR",
            "{arg}: {meta}"
        );
    }
}

#[test]
fn option_bad_value_through_the_binary_exits_1_with_an_error_reply() {
    let input = driver::getinfo(
        &["profile=seed".to_string(), "min_score=9".to_string()],
        serde_json::json!({}),
    );
    let run = common::run_binary(&[], &input, std::time::Duration::from_secs(60));
    assert_eq!(run.code, Some(1));
    let replies = driver::decode_replies(&run.stdout).unwrap();
    assert_eq!(replies.len(), 1);
    let error = replies[0].metadata["error"].as_str().unwrap_or_default();
    assert!(error.contains("min_score"), "{error:?}");
}
