//! Real Zeek logs without AI traffic (the reference material's `samples/`, beside the
//! repository): `aidetect run` must find nothing in them, even with every threshold at 0.

mod common;
use common::{GENEROUS, run_binary};
use std::path::Path;

#[test]
fn real_zeek_logs_produce_no_detection() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    if !dir.is_dir() {
        eprintln!("SKIPPED: ../shared/samples is not present; negative-data test not run");
        return;
    }
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 4, "{logs:?}");
    for log in logs {
        for args in [
            vec![],
            vec!["min_risk=0"],
            vec!["profile=seed", "min_score=0"],
        ] {
            let mut argv = vec!["run", log.to_str().unwrap(), "--format", "csv"];
            argv.extend(args.iter().copied());
            let run = run_binary(&argv, b"", GENEROUS);
            assert_eq!(run.code, Some(0), "{}: {}", log.display(), run.stderr);
            let out = String::from_utf8(run.stdout).unwrap();
            assert_eq!(
                out.lines().count(),
                0,
                "{} {args:?} detected:\n{out}",
                log.display()
            );
        }
        // That events were read at all is shown by the planted-SNI test below.
        eprintln!("no detection in {}", log.display());
    }
}

#[test]
fn a_zeek_ssl_log_with_an_ai_sni_is_detected() {
    let log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tssl\n\
        #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tserver_name\n\
        #types\ttime\tstring\taddr\tport\taddr\tport\tstring\n\
        1521911720.873410\tC1\t10.47.1.100\t50649\t162.159.140.245\t443\tapi.openai.com\n\
        1521911721.000000\tC2\t10.47.1.100\t50650\t134.71.3.16\t443\tise.wrccdc.org\n";
    let path = common::temp_dir("zeek-ssl").join("ssl.log");
    std::fs::write(&path, log).unwrap();
    let run = run_binary(
        &["run", path.to_str().unwrap(), "--format", "csv"],
        b"",
        GENEROUS,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = String::from_utf8(run.stdout).unwrap();
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{out}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("src_ip")], "10.47.1.100");
    assert_eq!(&rows[0][col("user")], "(no user)");
    assert_eq!(&rows[0][col("AIServices")], "api.openai.com");
    assert_eq!(&rows[0][col("FirstSeen")], "1521911720.87341");
}
