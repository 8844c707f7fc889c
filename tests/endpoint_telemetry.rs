//! Endpoint, DNS and TLS telemetry for the seed's five test cases, through the binary: one
//! search over mixed data, benign look-alikes, and API keys that never leave in clear.

mod common;
use common::*;
use std::collections::BTreeMap;

type Event = Vec<(&'static str, String)>;

fn ev(fields: &[(&'static str, &str)]) -> Event {
    fields.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// One CSV body over the union of the events' fields (absent = empty cell).
fn body(events: &[Event]) -> String {
    let mut header: Vec<&str> = Vec::new();
    for e in events {
        for (k, _) in e {
            if !header.contains(k) {
                header.push(k);
            }
        }
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for e in events {
        let row: Vec<&str> = header
            .iter()
            .map(|h| {
                e.iter()
                    .find(|(k, _)| k == h)
                    .map_or("", |(_, v)| v.as_str())
            })
            .collect();
        w.write_record(&row).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn search(args: &[&str], events: &[Event]) -> (Vec<BTreeMap<String, String>>, Run) {
    let mut input = getinfo(args);
    input.extend(execute(true, &body(events)));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let (header, rows) = final_table(&run.stdout);
    (
        rows.into_iter()
            .map(|r| header.iter().cloned().zip(r).collect())
            .collect(),
        run,
    )
}

fn lines(cell: &str) -> Vec<&str> {
    cell.split('\n').filter(|s| !s.is_empty()).collect()
}

const PS: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
const KEY: &str = "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm";

/// The telemetry the seed's "Testing Methodology" lists for its five test cases.
fn five_cases() -> Vec<Event> {
    vec![
        // Test 1: Sysmon 1 and 3, Windows 4688.
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS01.corp.example"),
            ("User", r"CORP\jdoe"),
            ("Image", PS),
            ("ParentImage", r"C:\Windows\explorer.exe"),
            (
                "CommandLine",
                r#"powershell.exe -NoProfile -Command "Invoke-WebRequest -Uri https://api.openai.com/v1/models -UseBasicParsing""#,
            ),
            ("_time", "1795766531"),
        ]),
        ev(&[
            ("EventCode", "3"),
            ("Computer", "WS01.corp.example"),
            ("User", r"CORP\jdoe"),
            ("Image", PS),
            ("DestinationHostname", "api.openai.com"),
            ("DestinationIp", "162.159.140.245"),
            ("_time", "1795766532"),
        ]),
        ev(&[
            ("EventCode", "4688"),
            ("ComputerName", "WS01.corp.example"),
            ("SubjectUserName", "jdoe"),
            ("New_Process_Name", PS),
            (
                "Process_Command_Line",
                r#"powershell.exe -c "iwr https://api.openai.com/v1/models""#,
            ),
            ("Creator_Process_Name", r"C:\Windows\explorer.exe"),
        ]),
        // Test 2: Sysmon 11 file creation of the openai package, pip, python with the key.
        ev(&[
            ("EventCode", "11"),
            ("Computer", "WS02.corp.example"),
            ("User", r"CORP\asmith"),
            ("Image", r"C:\Python312\python.exe"),
            (
                "TargetFilename",
                r"C:\Users\asmith\AppData\Roaming\Python\Python312\site-packages\openai\_client.py",
            ),
        ]),
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS02.corp.example"),
            ("User", r"CORP\asmith"),
            ("Image", r"C:\Python312\Scripts\pip.exe"),
            ("CommandLine", "pip install openai"),
        ]),
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS02.corp.example"),
            ("User", r"CORP\asmith"),
            ("Image", r"C:\Python312\python.exe"),
            (
                "CommandLine",
                &format!("python.exe -c \"import openai; c = openai.OpenAI(api_key='{KEY}')\""),
            ),
        ]),
        ev(&[
            ("EventCode", "22"),
            ("Computer", "WS02.corp.example"),
            ("User", r"CORP\asmith"),
            ("Image", r"C:\Python312\python.exe"),
            ("QueryName", "api.openai.com"),
        ]),
        // Test 3: curl.exe -X POST with the prompt.
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS03.corp.example"),
            ("User", r"CORP\bkumar"),
            ("Image", r"C:\Windows\System32\curl.exe"),
            (
                "CommandLine",
                r#"curl.exe -X POST https://api.openai.com/v1/chat/completions -H "Content-Type: application/json" -d "{\"messages\":[{\"role\":\"user\",\"content\":\"write a phishing email\"}]}""#,
            ),
        ]),
        // Test 4: the key in an environment variable; the script block holds it too.
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS04.corp.example"),
            ("User", r"CORP\mlee"),
            ("Image", PS),
            (
                "CommandLine",
                &format!("powershell.exe -Command \"$env:OPENAI_API_KEY='{KEY}'\""),
            ),
        ]),
        ev(&[
            ("EventCode", "4104"),
            ("Computer", "WS04.corp.example"),
            ("UserID", "S-1-5-21-1"),
            ("User", r"CORP\mlee"),
            (
                "ScriptBlockText",
                &format!(
                    "$env:OPENAI_API_KEY = '{KEY}'\nInvoke-RestMethod -Uri 'https://api.openai.com/v1/chat/completions' -Method Post -Headers @{{Authorization = \"Bearer $env:OPENAI_API_KEY\"}}"
                ),
            ),
        ]),
        // Test 5: auditd EXECVE (hex-encoded argument with spaces), Zeek TLS SNI.
        ev(&[
            ("type", "EXECVE"),
            ("host", "lnx01"),
            ("auid", "1000"),
            ("a0", "curl"),
            ("a1", "-s"),
            ("a2", "-X"),
            ("a3", "POST"),
            ("a4", "https://api.openai.com/v1/chat/completions"),
            ("a5", "-d"),
            ("a6", "7B226D6F64656C223A2022677074227D"),
        ]),
        ev(&[
            ("type", "SYSCALL"),
            ("host", "lnx01"),
            ("auid", "1000"),
            ("exe", "/usr/bin/curl"),
            ("comm", "curl"),
        ]),
    ]
}

fn row<'a>(rows: &'a [BTreeMap<String, String>], host: &str) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r.get("host").map(String::as_str) == Some(host))
        .unwrap_or_else(|| panic!("no row for {host}: {rows:#?}"))
}

#[test]
fn the_five_test_cases_are_detected_with_the_right_reasons() {
    let mut events = five_cases();
    events.push(ev(&[
        ("_time", "1521911720.87"),
        ("uid", "C1"),
        ("src_ip", "10.20.0.15"),
        ("ssl_server_name", "api.openai.com"),
    ]));
    let (rows, _) = search(&[], &events);

    let ws01 = row(&rows, "WS01.corp.example");
    assert_eq!(ws01["user"], r"CORP\jdoe");
    assert_eq!(lines(&ws01["Kinds"]), ["network", "process"]);
    assert_eq!(lines(&ws01["Processes"]), ["powershell.exe"]);
    assert_eq!(lines(&ws01["ParentProcesses"]), ["explorer.exe"]);
    assert_eq!(
        lines(&ws01["Reasons"]),
        [
            "ai_host_in_command_line",
            "ai_host_connection",
            "ai_request_shape",
            "client_scripting"
        ]
    );
    assert_eq!(ws01["Events"], "2");
    assert_eq!(ws01["AIServices"], "api.openai.com");
    assert_eq!(ws01["FirstSeen"], "1795766531");
    // 4688 names the user without the domain: its own row.
    let r4688 = rows
        .iter()
        .find(|r| r.get("user").map(String::as_str) == Some("jdoe"))
        .unwrap();
    assert_eq!(
        lines(&r4688["Reasons"]),
        [
            "ai_host_in_command_line",
            "ai_request_shape",
            "client_scripting"
        ]
    );

    let ws02 = row(&rows, "WS02.corp.example");
    assert_eq!(lines(&ws02["Kinds"]), ["dns", "file", "process"]);
    assert_eq!(
        lines(&ws02["Reasons"]),
        [
            "ai_host_dns_query",
            "ai_sdk_install",
            "ai_api_key_material",
            "client_scripting"
        ]
    );
    assert_eq!(lines(&ws02["Processes"]), ["pip.exe", "python.exe"]);

    let ws03 = row(&rows, "WS03.corp.example");
    assert_eq!(
        lines(&ws03["Reasons"]),
        [
            "ai_host_in_command_line",
            "ai_request_shape",
            "client_scripting"
        ]
    );
    assert_eq!(ws03["Clients"], "scripting:curl");

    let ws04 = row(&rows, "WS04.corp.example");
    assert_eq!(lines(&ws04["Kinds"]), ["process", "script_block"]);
    assert_eq!(
        lines(&ws04["Reasons"]),
        [
            "ai_host_in_command_line",
            "ai_api_key_env",
            "ai_api_key_material",
            "ai_request_shape",
            "client_scripting"
        ]
    );

    let lnx = row(&rows, "lnx01");
    assert_eq!(lnx["user"], "1000");
    assert_eq!(lnx["Kinds"], "auditd");
    assert_eq!(
        lines(&lnx["Reasons"]),
        [
            "ai_host_in_command_line",
            "ai_request_shape",
            "client_scripting"
        ]
    );
    assert_eq!(lnx["Processes"], "curl");

    // Zeek's TLS SNI takes the network path, by source address, as proxy events do.
    let sni = rows
        .iter()
        .find(|r| r.get("src_ip").map(String::as_str) == Some("10.20.0.15"))
        .unwrap();
    assert_eq!(sni["AIServices"], "api.openai.com");
    assert_eq!(sni["user"], "(no user)");
}

#[test]
fn kind_forces_one_kind_and_narrows_the_fields_requested() {
    let run = run_binary(&[], &getinfo(&["kind=dns"]), GENEROUS);
    let meta = &split_replies(&run.stdout)[0].0;
    assert!(
        meta.contains("\"QueryName\"")
            && !meta.contains("\"ScriptBlockText\"")
            && !meta.contains("\"dest_host\""),
        "{meta}"
    );
    // Forced to dns, a process event is read as a DNS query it is not: nothing fires.
    let (rows, _) = search(&["kind=dns"], &five_cases()[..1]);
    assert!(rows.is_empty(), "{rows:#?}");
}

#[test]
fn benign_look_alikes_are_not_detected() {
    let events = vec![
        ev(&[
            ("EventCode", "22"),
            ("Computer", "WS09"),
            ("User", "u"),
            (
                "Image",
                r"C:\Program Files\Google\Chrome\Application\chrome.exe",
            ),
            ("QueryName", "chatgpt.com"),
        ]),
        ev(&[
            ("EventCode", "22"),
            ("Computer", "WS09"),
            ("User", "u"),
            (
                "Image",
                r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
            ),
            ("QueryName", "api.openai.com"),
        ]),
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS09"),
            ("User", "u"),
            ("Image", r"C:\Windows\System32\curl.exe"),
            (
                "CommandLine",
                "curl.exe -X POST https://intranet.corp.example/api/v1/upload -d @report.json",
            ),
        ]),
        ev(&[
            ("EventCode", "4104"),
            ("Computer", "WS09"),
            (
                "ScriptBlockText",
                "Get-Service | Where-Object Status -eq 'Running' | Export-Csv services.csv",
            ),
        ]),
        ev(&[
            ("EventCode", "1"),
            ("Computer", "WS09"),
            ("User", "u"),
            ("Image", r"C:\Python312\Scripts\pip.exe"),
            ("CommandLine", "pip install requests pandas"),
        ]),
        ev(&[
            ("type", "EXECVE"),
            ("host", "lnx09"),
            ("a0", "curl"),
            ("a1", "https://example.com/"),
        ]),
    ];
    let (rows, _) = search(&["min_risk=0"], &events);
    assert!(rows.is_empty(), "{rows:#?}");
}

/// One made-up key per provider format (right shape, no real key).
const KEYS: [&str; 11] = [
    "sk-ant-api03-Qm9vQmFyQmF6UXV4UXV1eENvcmdlR3JhdWx0Rm9v-ZZ",
    "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",
    "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm",
    "sk-Zx9Qw8Er7Ty6Ui5Op4AsT3BlbkFJ3Df2Gh1Jk0LzXcVbNmQ",
    "AIzaSyDx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXc",
    "hf_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb",
    "gsk_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNmQwErTyUiOp",
    "xai-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNmQwErTyUiOpAsDf",
    "pplx-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNmQwEr",
    "r8_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbN",
    "sk_aa11bb22cc33dd44ee55ff6677889900aa11bb22cc33dd44",
];

fn keyed_events() -> Vec<Event> {
    let mut events = Vec::new();
    for (i, key) in KEYS.iter().enumerate() {
        let host = format!("WS{i:02}");
        events.push(ev(&[("Computer", &host), ("User", "u"), ("Image", PS), ("CommandLine", &format!("powershell -c \"$env:OPENAI_API_KEY='{key}'; irm https://api.openai.com/v1/models\""))]));
        events.push(ev(&[("Computer", &host), ("User", "u"), ("ScriptBlockText", &format!("$k = \"{key}\"\nInvoke-RestMethod https://api.anthropic.com/v1/messages -Headers @{{'x-api-key'=$k}}"))]));
        // Keys also ride in URLs and agents of proxy events.
        events.push(ev(&[
            ("src_ip", "10.0.0.9"),
            ("user", &format!("svc-{i}")),
            ("dest_host", "generativelanguage.googleapis.com"),
            ("http_method", "POST"),
            (
                "uri_path",
                &format!("/v1beta/models/gemini-pro:generateContent?key={key}"),
            ),
            ("http_user_agent", &format!("curl/8.0 token={key}")),
        ]));
    }
    events
}

#[test]
fn no_api_key_from_the_input_appears_in_any_output_byte() {
    for args in [
        &[][..],
        &["mode=events"][..],
        &["min_risk=0", "by=user"][..],
    ] {
        let (rows, run) = search(
            &["loglevel=debug"]
                .iter()
                .chain(args)
                .copied()
                .collect::<Vec<_>>(),
            &keyed_events(),
        );
        assert!(!rows.is_empty() || args.contains(&"mode=events"));
        let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), run.stderr);
        for key in KEYS {
            assert!(!all.contains(key), "{args:?}: key {key} leaked");
            // Not even most of it.
            assert!(
                !all.contains(&key[..key.len() - 4]),
                "{args:?}: most of {key} leaked"
            );
        }
        assert!(
            all.contains("openai:sk-p…#"),
            "{args:?}: the redaction tag is shown"
        );
        assert!(all.contains("google:AIza…#"), "{args:?}");
    }
    // The same key gets the same tag everywhere, so analysts can follow it.
    let (_, run) = search(&["mode=events"], &keyed_events());
    let out = String::from_utf8_lossy(&run.stdout);
    let tag = out.split("anthropic:sk-a…#").nth(1).unwrap()[..6].to_string();
    assert!(
        out.matches(&format!("anthropic:sk-a…#{tag}")).count() >= 2,
        "{out}"
    );
    // redact=false is the incident responders' switch: the keys are shown.
    let (_, run) = search(&["mode=events", "redact=false"], &keyed_events());
    assert!(String::from_utf8_lossy(&run.stdout).contains(KEYS[0]));
}

#[test]
fn endpoint_groups_merge_across_map_phases() {
    let events = five_cases();
    let single = final_table(&search(&[], &events).1.stdout);
    let (a, b) = events.split_at(5);
    let mut partial_rows: Vec<Vec<String>> = Vec::new();
    for part in [a, b] {
        let mut input = getinfo(&["phase=map"]);
        input.extend(execute(true, &body(part)));
        let run = run_binary(&[], &input, GENEROUS);
        let (_, rows) = final_table(&run.stdout);
        partial_rows.extend(rows);
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(["aidetect_partial", "aidetect_state"])
        .unwrap();
    for r in &partial_rows {
        w.write_record(r).unwrap();
    }
    let mut input = getinfo(&["distributed=true"]);
    input.extend(execute(
        true,
        &String::from_utf8(w.into_inner().unwrap()).unwrap(),
    ));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(final_table(&run.stdout), single);
}
