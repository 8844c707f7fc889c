//! `profile=standard` (the default) through the binary: the seed's five test cases with and
//! without TLS inspection, its false-positive classes with and without allowlist rows, the
//! lookup options, grouping and `mode=events`.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::Path;

const HEADER: &str = "_time,src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out";

type Rows = Vec<HashMap<String, String>>;

/// Runs `| aidetect ARGS` over CSV rows (after HEADER) in one chunk; returns the final rows
/// as column → cell maps, and the run.
fn search(args: &[&str], app_dir: Option<&Path>, rows: &[&str]) -> (Rows, Run) {
    let mut body = format!("{HEADER}\n");
    for r in rows {
        body.push_str(r);
        body.push('\n');
    }
    let mut input = getinfo(args);
    input.extend(execute(true, &body));
    let dir = app_dir.map(|d| d.to_string_lossy().into_owned());
    let env: Vec<(&str, &str)> = dir
        .iter()
        .map(|d| ("AIDETECT_APP_DIR", d.as_str()))
        .collect();
    let run = run_binary_env(&[], &env, &input, GENEROUS);
    let (header, table) = final_table(&run.stdout);
    let rows = table
        .into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect();
    (rows, run)
}

fn row<'a>(rows: &'a Rows, user: &str) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r["user"] == user)
        .unwrap_or_else(|| panic!("no row for {user}: {rows:#?}"))
}

fn list(cell: &str) -> Vec<&str> {
    cell.split('\n').filter(|s| !s.is_empty()).collect()
}

/// The seed's five test cases as the proxy events they produce, with TLS inspection.
const FIVE_CASES: [&str; 5] = [
    // Test 1: Invoke-WebRequest from Windows PowerShell (GET).
    "1795766531,10.1.4.22,jdoe,api.openai.com,GET,/v1/models,\"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803\",412",
    // Test 2: the openai Python SDK.
    "1795766532,10.1.7.31,asmith,api.openai.com,POST,/v1/chat/completions,OpenAI/Python 1.54.3,2341",
    // Test 3: curl -X POST with the prompt in -d.
    "1795766533,10.1.9.14,bkumar,api.openai.com,POST,/v1/chat/completions,curl/8.4.0,612",
    // Test 4: PowerShell with $env:OPENAI_API_KEY and a large prompt.
    "1795766534,10.1.3.8,mlee,api.openai.com,POST,/v1/chat/completions,\"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506\",182400",
    // Test 5: curl from a Linux host.
    "1795766535,10.20.0.15,ubuntu,api.openai.com,POST,/v1/chat/completions,curl/7.81.0,1533",
];

#[test]
fn the_five_test_cases_are_detected_with_their_reasons_and_clients() {
    let (rows, run) = search(&[], None, &FIVE_CASES);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let expect = [
        (
            "jdoe",
            "scripting:powershell-5",
            vec!["ai_service", "ai_api_path", "seed_host", "client_scripting"],
        ),
        (
            "asmith",
            "ai_sdk:openai-python",
            vec![
                "ai_service",
                "ai_api_path",
                "post",
                "seed_host",
                "client_ai_sdk",
            ],
        ),
        (
            "bkumar",
            "scripting:curl",
            vec![
                "ai_service",
                "ai_api_path",
                "post",
                "seed_host",
                "client_scripting",
            ],
        ),
        (
            "mlee",
            "scripting:powershell-5",
            vec![
                "ai_service",
                "ai_api_path",
                "post",
                "large_upload",
                "seed_host",
                "client_scripting",
            ],
        ),
        (
            "ubuntu",
            "scripting:curl",
            vec![
                "ai_service",
                "ai_api_path",
                "post",
                "seed_host",
                "client_scripting",
            ],
        ),
    ];
    for (user, client, reasons) in expect {
        let r = row(&rows, user);
        assert_eq!(r["Clients"], client, "{user}");
        assert_eq!(list(&r["Reasons"]), reasons, "{user}");
        assert_eq!(r["Providers"], "OpenAI", "{user}");
        assert_eq!(r["Categories"], "llm_api", "{user}");
        assert_eq!(r["Allowlisted"], "", "{user}");
        assert!(r["RiskScore"].parse::<u8>().unwrap() >= 40);
    }
    // RiskScore = 70*2/5 (host) + 10 (API path) + 10 (POST) + 15 (large) + 25 (scripting) = 88.
    assert_eq!(row(&rows, "mlee")["RiskScore"], "88");
    // 28 + 10 + 10 + 30 (AI SDK) = 78.
    assert_eq!(row(&rows, "asmith")["RiskScore"], "78");
    // 28 + 10 + 25 = 63 for the GET.
    assert_eq!(row(&rows, "jdoe")["RiskScore"], "63");
    // Sorted by RiskScore, highest first.
    assert_eq!(rows[0]["user"], "mlee");
    let r = row(&rows, "mlee");
    assert_eq!(r["FirstSeen"], "1795766534");
    assert_eq!(r["PostRequests"], "1");
    assert_eq!(r["LargeUploads"], "1");
    assert_eq!(r["MaxBytesUploaded"], "182400");
    assert_eq!(r["MaxSuspicionScore"], "3");
}

#[test]
fn the_five_test_cases_without_tls_inspection_are_seen_as_tunnels() {
    // A proxy without TLS inspection sees `CONNECT api.openai.com:443`, no path, usually no agent.
    let tunnels: Vec<String> = ["jdoe", "asmith", "bkumar", "mlee", "ubuntu"]
        .iter()
        .enumerate()
        .map(|(i, u)| format!("17957665{i},10.1.0.{i},{u},api.openai.com:443,CONNECT,,,"))
        .collect();
    let refs: Vec<&str> = tunnels.iter().map(String::as_str).collect();
    let (rows, _) = search(&[], None, &refs);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    for r in &rows {
        assert_eq!(
            list(&r["Reasons"]),
            ["ai_service", "tunnel", "seed_host", "client_no_user_agent"]
        );
        assert_eq!(r["Clients"], "no_user_agent:none");
        assert_eq!(r["AIServices"], "api.openai.com");
        // 28 + 5 (tunnel) + 15 (no agent) = 48: above the default min_risk of 40.
        assert_eq!(r["RiskScore"], "48");
    }
    // With a user agent on the CONNECT, the client counts.
    let (rows, _) = search(
        &[],
        None,
        &["1,10.1.0.9,eve,api.anthropic.com:443,CONNECT,,curl/8.4.0,"],
    );
    assert_eq!(
        list(&rows[0]["Reasons"]),
        ["ai_service", "tunnel", "seed_host", "client_scripting"]
    );
    // The seed profile does not see these tunnels at all (score 0).
    let (rows, _) = search(&["profile=seed"], None, &refs);
    assert!(rows.is_empty(), "{rows:#?}");
}

/// The seed's false-positive classes, one event each.
const FALSE_POSITIVES: [&str; 5] = [
    "1,10.2.0.41,dsci01,api.anthropic.com,POST,/v1/messages,Anthropic/Python 0.39.0,8810",
    "2,10.9.0.5,svc-ci,api.openai.com,POST,/v1/chat/completions,python-requests/2.31.0,1204",
    "3,10.1.5.60,pdev,api.githubcopilot.com,POST,/chat/completions,GitHubCopilotChat/0.22.4,7311",
    "4,10.4.2.77,soc-bot,api.openai.com,POST,/v1/chat/completions,python-httpx/0.27.0,48211",
    "5,10.50.1.10,svc-chatbot,api.openai.com,POST,/v1/chat/completions,axios/1.6.2,5120",
];

const ALLOWLIST: &str = "user,src,host,client,reason,expires\n\
    dsci01,,api.anthropic.com,ai_sdk,Data science team: approved SDK use (ticket DS-12),2099-12-31\n\
    svc-ci,10.9.0.0/16,api.openai.com,http_library,CI pipeline tests the AI feature,\n\
    ,,*.githubcopilot.com,ai_coding_tool:github-copilot-chat,GitHub Copilot is sanctioned,\n\
    soc-bot,10.4.2.0/24,,,SOC alert triage uses OpenAI,\n\
    svc-chatbot,10.50.1.10,api.openai.com,,Internal chatbot proxy,\n\
    nobody,,,,an old exception,2020-01-01\n";

fn app_with(name: &str, allowlist: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("lookups")).unwrap();
    let catalog =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("lookups/aidetect_services.csv"))
            .unwrap();
    std::fs::write(dir.join("lookups/aidetect_services.csv"), catalog).unwrap();
    std::fs::write(dir.join("lookups/aidetect_allowlist.csv"), allowlist).unwrap();
    dir
}

#[test]
fn false_positive_classes_are_detected_without_an_allowlist_row() {
    let (rows, _) = search(&[], None, &FALSE_POSITIVES);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert!(rows.iter().all(|r| r["Allowlisted"].is_empty()));
    assert_eq!(
        row(&rows, "pdev")["Clients"],
        "ai_coding_tool:github-copilot-chat"
    );
    assert_eq!(row(&rows, "pdev")["Categories"], "coding_assistant");
}

#[test]
fn false_positive_classes_with_an_allowlist_row_are_reported_with_the_reason() {
    let app = app_with("allow", ALLOWLIST);
    let (rows, run) = search(&[], Some(&app), &FALSE_POSITIVES);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let expect = [
        (
            "dsci01",
            "Data science team: approved SDK use (ticket DS-12)",
        ),
        ("svc-ci", "CI pipeline tests the AI feature"),
        ("pdev", "GitHub Copilot is sanctioned"),
        ("soc-bot", "SOC alert triage uses OpenAI"),
        ("svc-chatbot", "Internal chatbot proxy"),
    ];
    for (user, reason) in expect {
        assert_eq!(row(&rows, user)["Allowlisted"], reason, "{user}");
    }
    // The expired row is announced, not applied.
    let replies = split_replies(&run.stdout);
    assert!(
        replies[0]
            .0
            .contains("allowlist line 7 (an old exception) expired"),
        "{}",
        replies[0].0
    );
    // Hidden on request, and the inspector says how many.
    let (rows, run) = search(&["allowlisted=hide"], Some(&app), &FALSE_POSITIVES);
    assert!(rows.is_empty(), "{rows:#?}");
    let last = split_replies(&run.stdout).pop().unwrap().0;
    assert!(last.contains("5 allowlisted events are hidden"), "{last}");
}

#[test]
fn an_allowlist_row_never_matches_on_the_host_alone() {
    let app = app_with("host-alone", ALLOWLIST);
    // Copilot's host, but a Python script with a stolen token.
    let (rows, _) = search(
        &[],
        Some(&app),
        &[
            "1,10.1.5.60,pdev,api.githubcopilot.com,POST,/chat/completions,python-requests/2.31.0,7311",
        ],
    );
    assert_eq!(rows[0]["Allowlisted"], "");
    // The CI account from outside its range.
    let (rows, _) = search(
        &[],
        Some(&app),
        &["1,10.7.0.5,svc-ci,api.openai.com,POST,/v1/chat/completions,python-requests/2.31.0,1"],
    );
    assert_eq!(rows[0]["Allowlisted"], "");
}

#[test]
fn lookup_options_stay_inside_the_apps_lookups_folder() {
    let app = app_with("lookups", ALLOWLIST);
    for bad in [
        "catalog=../secrets.csv",
        "catalog=/etc/passwd",
        "allowlist=..\\x.csv",
        "catalog=.hidden.csv",
        "catalog=notes.txt",
    ] {
        let run = run_binary_env(
            &[],
            &[("AIDETECT_APP_DIR", app.to_str().unwrap())],
            &getinfo(&[bad]),
            GENEROUS,
        );
        assert_eq!(run.code, Some(1), "{bad}");
        let meta = &split_replies(&run.stdout)[0].0;
        assert!(
            meta.contains("must be the file name of a .csv file in the app's lookups folder"),
            "{bad}: {meta}"
        );
    }
    let run = run_binary_env(
        &[],
        &[("AIDETECT_APP_DIR", app.to_str().unwrap())],
        &getinfo(&["catalog=missing.csv"]),
        GENEROUS,
    );
    assert_eq!(run.code, Some(1));
    assert!(
        split_replies(&run.stdout)[0]
            .0
            .contains("catalog=missing.csv: cannot read"),
        "{:?}",
        split_replies(&run.stdout)
    );
}

#[test]
fn a_custom_catalog_extends_detection_without_recompiling() {
    let app = app_with("catalog", "user,src,host,client,reason,expires\n");
    std::fs::write(
        app.join("lookups/internal_ai.csv"),
        "provider,pattern,match,category,weight,seed,api_paths\nInternal gateway,llm.corp.example,suffix,router_gateway,80,false,/v1/chat/completions\n",
    )
    .unwrap();
    let event = "1,10.0.0.1,alice,eu.llm.corp.example,POST,/internal/infer,curl/8.0,10";
    let (rows, _) = search(&["catalog=internal_ai.csv"], Some(&app), &[event]);
    assert_eq!(rows[0]["Providers"], "Internal gateway");
    assert_eq!(rows[0]["Categories"], "router_gateway");
    let (rows, _) = search(&[], Some(&app), &[event]);
    assert!(
        rows.is_empty(),
        "the shipped catalog does not know this host"
    );
}

#[test]
fn catalog_matching_beyond_the_seed_hosts() {
    let events = [
        "1,10.0.0.1,a,bedrock-runtime.us-east-1.amazonaws.com,POST,/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke,Boto3/1.35.36 md/Botocore#1.35.36,900",
        "2,10.0.0.2,b,myco.openai.azure.com,POST,/openai/deployments/gpt4/chat/completions,AzureOpenAI/Python 1.50.0,900",
        "3,10.0.0.3,c,API.X.AI.,POST,/v1/chat/completions,curl/8.0,900",
        "4,10.0.0.4,d,api.openai.com.evil.example,POST,/v1/x,curl/8.0,900",
        "5,10.0.0.5,e,xapi.openai.com,POST,/x,curl/8.0,900",
    ];
    let (rows, _) = search(&[], None, &events);
    let users: Vec<&str> = rows.iter().map(|r| r["user"].as_str()).collect();
    assert!(
        users.contains(&"a") && users.contains(&"b") && users.contains(&"c"),
        "{rows:#?}"
    );
    assert!(
        !users.contains(&"d") && !users.contains(&"e"),
        "look-alikes: {rows:#?}"
    );
    assert_eq!(row(&rows, "c")["AIServices"], "api.x.ai");
    assert!(!row(&rows, "a")["Reasons"].contains("seed_host"));
}

#[test]
fn an_api_path_on_an_unlisted_host_is_evidence() {
    let (rows, _) = search(
        &[],
        None,
        &["1,10.0.0.9,gw,llm-gateway.internal,POST,/v1/chat/completions,python-httpx/0.27.0,500"],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(
        list(&rows[0]["Reasons"]),
        [
            "ai_api_path_on_unlisted_host",
            "post",
            "client_http_library"
        ]
    );
    assert_eq!(rows[0]["Providers"], "unknown");
}

#[test]
fn voice_cloning_endpoints_score_high() {
    let (rows, _) = search(
        &[],
        None,
        &["1,10.0.0.7,v,api.elevenlabs.io,POST,/v1/voices/add,python-requests/2.32.3,900000"],
    );
    let r = &rows[0];
    assert!(list(&r["Reasons"]).contains(&"voice_cloning"), "{r:?}");
    assert!(r["RiskScore"].parse::<u8>().unwrap() >= 90, "{r:?}");
}

#[test]
fn browsers_are_human_use_but_electron_and_spoofed_browsers_are_not() {
    let events = [
        "1,10.0.0.1,human,api.openai.com,POST,/v1/chat/completions,\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\",10",
        "2,10.0.0.2,desk,api.anthropic.com,POST,/v1/messages,\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Claude/0.7.1 Chrome/128.0.6613.36 Electron/32.0.1 Safari/537.36\",10",
        "3,10.0.0.3,spoof,api.openai.com,POST,/v1/chat/completions,\"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) AppleWebKit/534.6 (KHTML, like Gecko) Chrome/7.0.500.0 Safari/534.6\",10",
    ];
    let (rows, run) = search(&[], None, &events);
    let users: Vec<&str> = rows.iter().map(|r| r["user"].as_str()).collect();
    assert!(!users.contains(&"human"));
    assert_eq!(
        row(&rows, "desk")["Clients"],
        "electron_ai_app:claude-desktop"
    );
    assert_eq!(
        row(&rows, "spoof")["Clients"],
        "spoofed_browser:powershell-browser-preset"
    );
    let last = split_replies(&run.stdout).pop().unwrap().0;
    assert!(
        last.contains("1 events to AI services came from web browsers"),
        "{last}"
    );
}

#[test]
fn events_without_user_or_source_are_kept_under_placeholders() {
    let (rows, _) = search(
        &[],
        None,
        &[
            "1,,,api.openai.com,POST,/v1/chat/completions,curl/8.0,10",
            "2,10.0.0.1,,api.openai.com,POST,/v1/chat/completions,curl/8.0,10",
        ],
    );
    let keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["src_ip"].as_str(), r["user"].as_str()))
        .collect();
    assert!(keys.contains(&("(no source)", "(no user)")), "{keys:?}");
    assert!(keys.contains(&("10.0.0.1", "(no user)")), "{keys:?}");
}

#[test]
fn by_changes_the_group_keys() {
    let events = [
        "1,10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,curl/8.0,10",
        "2,10.0.0.2,alice,api.anthropic.com,POST,/v1/messages,curl/8.0,20",
    ];
    let (rows, _) = search(&["by=user"], None, &events);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["user"], "alice");
    assert_eq!(rows[0]["UniqueSourceIPs"], "2");
    assert_eq!(rows[0]["Requests"], "2");
    assert!(!rows[0].contains_key("src_ip"));
    let (rows, _) = search(&["by=provider"], None, &events);
    let providers: Vec<&str> = rows.iter().map(|r| r["provider"].as_str()).collect();
    assert_eq!(providers.len(), 2, "{rows:#?}");
    // A raw field by name.
    let (rows, _) = search(&["by=http_method"], None, &events);
    assert_eq!(rows[0]["http_method"], "POST");
}

#[test]
fn seed_only_and_standard_only_options_do_not_mix() {
    let run = run_binary(&[], &getinfo(&["profile=seed", "by=user"]), GENEROUS);
    assert_eq!(run.code, Some(1));
    assert!(
        split_replies(&run.stdout)[0]
            .0
            .contains("option by applies to profile=standard")
    );
}

#[test]
fn the_standard_profile_declares_a_reporting_command_with_the_fields_it_reads() {
    let run = run_binary(&[], &getinfo(&[]), GENEROUS);
    let v: serde_json::Value = serde_json::from_str(&split_replies(&run.stdout)[0].0).unwrap();
    assert_eq!(v["type"], "reporting");
    let fields: Vec<&str> = v["required_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "dest_host",
        "url",
        "ssl_server_name",
        "query",
        "src_ip",
        "src",
        "clientip",
        "user",
        "src_user",
        "http_user_agent",
        "bytes_out",
        "http_method",
        "uri_path",
        "_time",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
}

#[test]
fn mode_events_annotates_every_event_and_echoes_chunked_idx() {
    let body = "_chunked_idx,src_ip,user,dest_host,http_method,uri_path,http_user_agent\n\
        0,10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,OpenAI/Python 1.54.3\n\
        1,10.0.0.2,bob,www.example.com,GET,/,curl/8.0\n";
    let mut input = getinfo(&["mode=events"]);
    input.extend(execute(false, body));
    input.extend(execute(true, "_chunked_idx,src_ip\n"));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let replies = split_replies(&run.stdout);
    assert!(
        replies[0].0.contains(r#""type":"stateful""#),
        "{}",
        replies[0].0
    );
    assert_eq!(replies.len(), 3);
    let mut reader = csv::Reader::from_reader(replies[1].1.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    // Every field that came is returned (splunkd merges by _chunked_idx and keeps what the
    // command returns), then the annotations; every column has its `__mv_` companion after
    // the plain columns, as splunkd writes them.
    let plain = [
        "_chunked_idx",
        "src_ip",
        "user",
        "dest_host",
        "http_method",
        "uri_path",
        "http_user_agent",
        "ai_kind",
        "ai_provider",
        "ai_category",
        "ai_client",
        "ai_score",
        "ai_reasons",
        "ai_allowlisted",
    ];
    let expected: Vec<String> = plain
        .iter()
        .map(|c| c.to_string())
        .chain(plain.iter().map(|c| format!("__mv_{c}")))
        .collect();
    assert_eq!(header, expected);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "every event is answered");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("_chunked_idx")], "0");
    assert_eq!(&rows[0][col("dest_host")], "api.openai.com");
    assert_eq!(&rows[0][col("ai_provider")], "OpenAI");
    assert_eq!(&rows[0][col("ai_client")], "ai_sdk:openai-python");
    assert_eq!(&rows[0][col("ai_score")], "78");
    assert_eq!(&rows[1][col("_chunked_idx")], "1");
    assert_eq!(&rows[1][col("user")], "bob");
    assert_eq!(
        &rows[1][col("ai_provider")],
        "",
        "not AI traffic: no annotation"
    );
}
