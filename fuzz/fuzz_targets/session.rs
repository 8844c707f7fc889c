//! A whole session with the real command: any input bytes give a well-formed reply stream
//! (one reply per request read, an error reply last if it failed) and never a panic.
//!
//! An input starting with a NUL byte is a search rather than raw bytes: NUL-separated parts,
//! the first holding the command's arguments (space-separated) and each further one the CSV
//! body of an execute request, the last one `finished`. That lets the fuzzer reach the
//! command with well-framed requests; other inputs reach the framing itself.
#![no_main]

use aidetect::aidetect::AiDetect;
use aidetect::protocol::driver;
use aidetect::protocol::{Ending, Level, Records, Settings, diag, serve};
use aidetect_fuzz::{read_chunks, strict_replies};
use libfuzzer_sys::fuzz_target;

fn search(data: &[u8]) -> Vec<u8> {
    let mut parts = data.split(|&b| b == 0);
    let args: Vec<String> = String::from_utf8_lossy(parts.next().unwrap_or_default())
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect();
    let bodies: Vec<&[u8]> = parts.collect();
    let mut stream = driver::getinfo(&args, serde_json::json!({}));
    for (i, body) in bodies.iter().enumerate() {
        stream.extend(driver::execute(i + 1 == bodies.len(), body));
    }
    stream
}

fuzz_target!(|data: &[u8]| {
    diag::set_level(Level::Error);
    let input = match data.split_first() {
        Some((0, rest)) => search(rest),
        _ => data.to_vec(),
    };
    let mut out = Vec::new();
    let ending = serve(
        &mut AiDetect::new(),
        &input[..],
        &mut out,
        &Settings::default(),
    );
    let requests = read_chunks(&input, 1 << 16, usize::MAX).chunks.len();
    let replies = strict_replies(&out).unwrap_or_else(|e| panic!("broken reply stream: {e}"));
    let errors = replies
        .iter()
        .filter(|(m, _)| m.get("error").is_some())
        .count();
    match &ending {
        Ending::Done => {
            assert_eq!(replies.len(), requests, "one reply per request");
            assert_eq!(errors, 0);
        }
        Ending::Failed(message) => {
            assert!(!replies.is_empty() && replies.len() <= requests + 1);
            assert_eq!(errors, 1);
            let (last, body) = replies.last().expect("an error reply");
            assert_eq!(last["error"].as_str(), Some(message.as_str()));
            assert_eq!(last["finished"], true);
            assert!(body.is_empty());
            assert!(!message.contains("internal error"), "{message}");
        }
    }
    for (_, body) in &replies {
        let mut records = Records::new(body).expect("reply bodies are CSV");
        while records.next().expect("reply bodies are CSV").is_some() {}
    }
});
