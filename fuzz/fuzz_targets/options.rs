//! The option parser, against the command's real option table, and the command's getinfo:
//! any arguments give options of the declared kinds or an error that says what is wrong.
#![no_main]

use aidetect::aidetect::{AiDetect, OPTIONS};
use aidetect::protocol::options::{Kind, parse};
use aidetect::protocol::{Command, Level, SearchInfo, diag};
use aidetect_fuzz::args_from;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = args_from(data);
    match parse(&args, OPTIONS) {
        Ok(opts) => {
            for name in opts.given() {
                let spec = OPTIONS
                    .iter()
                    .find(|s| s.name == name)
                    .expect("a known option");
                match spec.kind {
                    Kind::Bool => assert!(opts.bool(name).is_some()),
                    Kind::Int { min, max } => {
                        let v = opts.int(name).expect("an int");
                        assert!(min <= v && v <= max, "{name}={v}");
                    }
                    Kind::Choice(words) => {
                        assert!(words.contains(&opts.text(name).expect("a word")))
                    }
                    Kind::List => assert!(!opts.list(name).expect("a list").is_empty()),
                    Kind::Text => assert!(!opts.text(name).expect("text").is_empty()),
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let info = SearchInfo {
        args,
        ..SearchInfo::default()
    };
    if let Err(e) = AiDetect::new().getinfo(&info) {
        assert!(!e.0.is_empty());
    }
    diag::set_level(Level::Error); // loglevel= is global: keep runs independent
});
