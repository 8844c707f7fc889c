//! The command line people use: demo, run, help.

mod common;
use common::{GENEROUS, run_binary, temp_dir};

fn users_in(csv_text: &str) -> Vec<String> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = header
        .iter()
        .position(|h| h == "user")
        .expect("user column");
    r.records().map(|x| x.unwrap()[col].to_string()).collect()
}

#[test]
fn demo_detects_the_five_test_cases_in_both_profiles() {
    // The five test cases of the seed document, as the demo's proxy events name their users.
    let cases = [
        r"CORP\jdoe",
        r"CORP\asmith",
        r"CORP\bkumar",
        r"CORP\mlee",
        "ubuntu",
    ];
    for args in [
        &["demo", "--format", "csv"][..],
        &["demo", "--format", "csv", "profile=seed"][..],
    ] {
        let run = run_binary(args, b"", GENEROUS);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let users = users_in(&String::from_utf8(run.stdout).unwrap());
        for case in cases {
            assert!(
                users.iter().any(|u| u == case),
                "{args:?}: {case} missing from {users:?}"
            );
        }
    }
    // The standard profile also finds what the seed cannot: the tunnel and the user-less call.
    let run = run_binary(&["demo", "--format", "csv"], b"", GENEROUS);
    let users = users_in(&String::from_utf8(run.stdout).unwrap());
    assert!(users.iter().any(|u| u == r"CORP\kwong"), "{users:?}");
    assert!(users.iter().any(|u| u == "(no user)"), "{users:?}");
}

#[test]
fn run_reads_a_csv_export_and_json_lines_alike() {
    let dir = temp_dir("cli-run");
    let csv_path = dir.join("events.csv");
    std::fs::write(
        &csv_path,
        "src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out\n\
         10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,curl/8.0,100\n",
    )
    .unwrap();
    let json_path = dir.join("events.json");
    std::fs::write(
        &json_path,
        r#"{"result":{"src_ip":"10.0.0.1","user":"alice","dest_host":"api.openai.com","http_method":"POST","uri_path":"/v1/chat/completions","http_user_agent":"curl/8.0","bytes_out":"100"}}"#,
    )
    .unwrap();
    let a = run_binary(
        &["run", csv_path.to_str().unwrap(), "--format", "csv"],
        b"",
        GENEROUS,
    );
    let b = run_binary(
        &["run", json_path.to_str().unwrap(), "--format", "csv"],
        b"",
        GENEROUS,
    );
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(users_in(&String::from_utf8(a.stdout).unwrap()), ["alice"]);
    // Options pass through; a bad one is reported, with a non-zero exit.
    let bad = run_binary(
        &["run", csv_path.to_str().unwrap(), "limit=lots"],
        b"",
        GENEROUS,
    );
    assert_ne!(bad.code, Some(0));
    assert!(
        bad.stderr.contains("invalid value 'lots' for option limit"),
        "{}",
        bad.stderr
    );
    let missing = run_binary(&["run", "/nonexistent/file.csv"], b"", GENEROUS);
    assert_eq!(missing.code, Some(2));
    assert!(
        missing.stderr.contains("cannot read /nonexistent/file.csv"),
        "{}",
        missing.stderr
    );
}

#[test]
fn help_documents_every_subcommand_and_option() {
    let run = run_binary(&["help"], b"", GENEROUS);
    let text = String::from_utf8(run.stdout).unwrap();
    for word in ["demo", "run FILE", "replay FILE", "--version"] {
        assert!(text.contains(word), "{word}");
    }
    for option in aidetect::aidetect::OPTIONS {
        assert!(text.contains(option.name), "{}", option.name);
    }
    for topic in ["demo", "run", "replay"] {
        let r = run_binary(&["help", topic], b"", GENEROUS);
        assert!(
            String::from_utf8(r.stdout)
                .unwrap()
                .starts_with(&format!("aidetect {topic}"))
        );
    }
    let v = run_binary(&["--version"], b"", GENEROUS);
    assert_eq!(
        String::from_utf8(v.stdout).unwrap(),
        format!("aidetect {}\n", env!("CARGO_PKG_VERSION"))
    );
}
