//! Replays the recorded splunkd streams of the reference material, when it is present
//! (`../shared/fixtures/splunkd/`, beside the repository): one well-formed reply per request,
//! exit 0. A fresh clone without it skips, and says so.

mod common;
use common::{GENEROUS, run_binary, split_replies};
use std::io::Read;
use std::path::{Path, PathBuf};

fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/splunkd");
    dir.is_dir().then_some(dir)
}

/// Every gzip-compressed SCP v2 input stream (the pickled writer test data is not one).
fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".gz") && gunzip(&p).starts_with(b"chunked") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Counts the complete chunks of a request stream by hand, and whether it ends inside one.
fn count_requests(mut bytes: &[u8]) -> (usize, bool) {
    let mut n = 0;
    loop {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else {
            return (n, false);
        };
        bytes = &bytes[start..];
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&bytes[..nl]).unwrap().trim_end();
        let (m, b) = header["chunked 1.0,".len()..].split_once(',').unwrap();
        let len = nl + 1 + m.trim().parse::<usize>().unwrap() + b.trim().parse::<usize>().unwrap();
        if len > bytes.len() {
            return (n, true);
        }
        n += 1;
        bytes = &bytes[len..];
    }
}

#[test]
fn every_recorded_splunkd_stream_gets_one_well_formed_reply_per_request() {
    let Some(dir) = fixtures() else {
        eprintln!("SKIPPED: ../shared/fixtures/splunkd is not present; conformance replay not run");
        return;
    };
    let files = recordings(&dir);
    assert!(files.len() >= 6, "expected the recordings, found {files:?}");
    for file in files {
        let input = gunzip(&file);
        let (requests, truncated) = count_requests(&input);
        // The recordings carry other commands' arguments: run them with aidetect's defaults.
        let run = run_binary(
            &["replay", file.to_str().unwrap(), "--args", "", "--raw"],
            b"",
            GENEROUS,
        );
        let replies = split_replies(&run.stdout);
        if truncated {
            // The recording stops inside its last chunk (the old SDK's generating commands never
            // read that body). An incomplete request gets an error reply, and exit 1.
            assert_eq!(run.code, Some(2), "{}: {}", file.display(), run.stderr);
            assert_eq!(replies.len(), requests + 1, "{}", file.display());
            let last: serde_json::Value = serde_json::from_str(&replies[requests].0).unwrap();
            assert!(
                last["error"]
                    .as_str()
                    .unwrap()
                    .contains("input ended inside a chunk"),
                "{last}"
            );
            eprintln!(
                "replayed {}: truncated recording answered with an error",
                file.display()
            );
            continue;
        }
        assert_eq!(run.code, Some(0), "{}: {}", file.display(), run.stderr);
        assert_eq!(replies.len(), requests, "{}", file.display());
        for (i, (meta, _)) in replies.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(meta).unwrap();
            assert!(
                v.get("error").is_none(),
                "{}: reply {i}: {meta}",
                file.display()
            );
            if i == 0 {
                assert!(v["type"].is_string(), "{meta}");
            } else {
                assert!(v["finished"].is_boolean(), "{meta}");
            }
        }
        if file.ends_with("multibyte_input.gz") {
            assert_eq!(replies.len(), 10);
        }
        eprintln!(
            "replayed {}: {} requests, {} replies",
            file.display(),
            requests,
            replies.len()
        );
    }
}

#[test]
fn a_recording_with_another_commands_arguments_is_rejected_without_the_override() {
    let Some(dir) = fixtures() else {
        eprintln!("SKIPPED: ../shared/fixtures/splunkd is not present");
        return;
    };
    let file = dir.join("Splunk-6.3/countmatches.input.gz");
    let run = run_binary(&["replay", file.to_str().unwrap(), "--raw"], b"", GENEROUS);
    assert_eq!(run.code, Some(2));
    let replies = split_replies(&run.stdout);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].0.contains("unknown option 'fieldname'"),
        "{}",
        replies[0].0
    );
}
