//! The `Command` abstraction with small commands of the tests' own, in process: streaming
//! replies, `_chunked_idx`, the panic safety net, big bodies, chunking invariance.

mod common;
use aidetect::protocol::driver;
use aidetect::protocol::{
    Cell, Command, CommandError, CommandType, Declaration, Output, Records, SearchInfo, Settings,
    serve,
};
use common::{chunk, execute, getinfo, split_replies};

/// `c = a|b` for every record: a whole streaming command in a few lines.
struct Concat;

impl Command for Concat {
    fn getinfo(&mut self, _: &SearchInfo) -> Result<Declaration, CommandError> {
        let mut d = Declaration::new(CommandType::Streaming);
        d.required_fields = Some(vec!["a".into(), "b".into()]);
        Ok(d)
    }
    fn execute(&mut self, records: &mut Records<'_>, out: &mut Output) -> Result<(), CommandError> {
        let (a, b) = (records.fields().id("a"), records.fields().id("b"));
        while let Some(r) = records
            .next()
            .map_err(|e| CommandError::new(e.to_string()))?
        {
            let join = |id: Option<aidetect::protocol::FieldId>| {
                id.map(|id| {
                    r.get(id)
                        .iter()
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .unwrap_or_default()
            };
            let c = format!("{}|{}", join(a), join(b));
            out.records.push_for(&r, [("c", Cell::Text(c))]);
        }
        Ok(())
    }
}

fn serve_bytes<C: Command>(cmd: &mut C, input: &[u8]) -> (Vec<(String, String)>, i32) {
    let mut out = Vec::new();
    let ending = serve(cmd, input, &mut out, &Settings::default());
    (split_replies(&out), ending.exit_code())
}

#[test]
fn streaming_reply_echoes_chunked_idx_and_answers_every_chunk() {
    let mut input = getinfo(&[]);
    input.extend(execute(
        false,
        "a,b,_chunked_idx,\"__mv_a\",\"__mv_b\",\"__mv__chunked_idx\"\n1,x,0,,,\n2,\"y1\ny2\",1,,\"$y1$;$y2$\",\n3,\"q\"\"uote\",2,,,\n",
    ));
    input.extend(execute(true, "a,b,_chunked_idx\n"));
    let (replies, code) = serve_bytes(&mut Concat, &input);
    assert_eq!(code, 0);
    assert_eq!(
        replies[0].0,
        r#"{"type":"streaming","required_fields":["a","b"]}"#
    );
    assert_eq!(replies[1].0, r#"{"finished":false}"#);
    assert_eq!(
        replies[1].1,
        "_chunked_idx,c\n0,1|x\n1,2|y1+y2\n2,\"3|q\"\"uote\"\n"
    );
    assert_eq!(replies[2], (r#"{"finished":true}"#.into(), String::new()));
}

struct Panics;

impl Command for Panics {
    fn getinfo(&mut self, _: &SearchInfo) -> Result<Declaration, CommandError> {
        Ok(Declaration::new(CommandType::Stateful))
    }
    fn execute(&mut self, _: &mut Records<'_>, _: &mut Output) -> Result<(), CommandError> {
        let v: Vec<u8> = Vec::new();
        let _ = v[3]; // a bug
        Ok(())
    }
}

#[test]
fn a_panic_becomes_an_error_reply_to_the_current_request_and_exit_1() {
    let mut input = getinfo(&[]);
    input.extend(execute(false, "a\n1\n"));
    input.extend(execute(true, "a\n1\n"));
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (replies, code) = serve_bytes(&mut Panics, &input);
    std::panic::set_hook(prev);
    assert_eq!(code, 1);
    assert_eq!(replies.len(), 2, "one reply per request read, then stop");
    let v: serde_json::Value = serde_json::from_str(&replies[1].0).unwrap();
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.starts_with("internal error during execute: index out of bounds"),
        "{msg}"
    );
}

/// Counts records and bytes: proves big bodies and fields pass intact.
#[derive(Default)]
struct Measure {
    rows: u64,
    longest: usize,
    bytes: u64,
}

impl Command for Measure {
    fn getinfo(&mut self, _: &SearchInfo) -> Result<Declaration, CommandError> {
        Ok(Declaration::new(CommandType::Reporting))
    }
    fn execute(&mut self, records: &mut Records<'_>, _: &mut Output) -> Result<(), CommandError> {
        let id = records.fields().id("f").unwrap();
        while let Some(r) = records
            .next()
            .map_err(|e| CommandError::new(e.to_string()))?
        {
            let v = r.cell(id).unwrap();
            self.rows += 1;
            self.bytes += v.len() as u64;
            self.longest = self.longest.max(v.len());
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        out.records.push([
            ("rows", Cell::Int(self.rows as i64)),
            ("longest", Cell::Int(self.longest as i64)),
            ("bytes", Cell::Int(self.bytes as i64)),
        ]);
        Ok(())
    }
}

#[test]
fn a_100_mb_body_and_a_16_mib_field_are_read_whole() {
    let field = "x".repeat(16 * 1024 * 1024 + 3);
    let row = format!("{}\n", "y".repeat(999)); // 1000 bytes per row
    let mut body = String::with_capacity(101 * 1024 * 1024);
    body.push_str("f\n");
    body.push_str(&format!("\"{field}\"\n"));
    let rows = 100_000;
    for _ in 0..rows {
        body.push_str(&row);
    }
    assert!(body.len() > 100_000_000);
    let mut input = getinfo(&[]);
    input.extend(chunk(r#"{"action":"execute","finished":true}"#, &body));
    let (replies, code) = serve_bytes(&mut Measure::default(), &input);
    assert_eq!(code, 0);
    assert_eq!(
        replies[1].1,
        format!(
            "rows,longest,bytes\n{},{},{}\n",
            rows + 1,
            field.len(),
            rows * 999 + field.len()
        )
    );
}

/// Splits the same rows into chunks at random places; the result must not change.
#[test]
fn any_split_of_the_same_records_into_chunks_gives_the_same_output() {
    let fields: Vec<String> = [
        "src_ip",
        "user",
        "dest_host",
        "http_method",
        "uri_path",
        "http_user_agent",
        "bytes_out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let hosts = [
        "api.openai.com",
        "API.Anthropic.com",
        "example.org",
        "api.groq.com",
    ];
    let methods = ["POST", "GET", "post", ""];
    let paths = ["/v1/chat/completions", "/x", "/api/generate", ""];
    let agents = [
        "curl/8.0",
        "python-requests/2.31",
        "Mozilla/5.0 Chrome/120",
        "",
    ];
    let state = std::cell::Cell::new(0x9e3779b97f4a7c15u64);
    let next = || {
        let mut s = state.get();
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        state.set(s);
        s
    };
    let pick = |xs: &[&str]| -> Vec<String> {
        let v = xs[(next() % xs.len() as u64) as usize];
        if v.is_empty() {
            vec![]
        } else {
            vec![v.to_string()]
        }
    };
    let rows: Vec<Vec<Vec<String>>> = (0..3000)
        .map(|_| {
            vec![
                vec![format!("10.0.0.{}", next() % 40)],
                vec![format!("user{}", next() % 7)],
                pick(&hosts),
                pick(&methods),
                pick(&paths),
                pick(&agents),
                vec![(next() % 120_000).to_string()],
            ]
        })
        .collect();
    let run = |cuts: &[usize]| -> Vec<u8> {
        let mut input = driver::getinfo(&["profile=seed".to_string()], serde_json::json!({}));
        let mut start = 0;
        for (i, &end) in cuts.iter().chain([rows.len()].iter()).enumerate() {
            let last = i == cuts.len();
            input.extend(driver::execute(
                last,
                &driver::splunkd_body(&fields, &rows[start..end]),
            ));
            start = end;
        }
        let mut out = Vec::new();
        let ending = serve(
            &mut aidetect::aidetect::AiDetect::new(),
            &input[..],
            &mut out,
            &Settings::default(),
        );
        assert_eq!(ending.exit_code(), 0);
        split_replies(&out).pop().unwrap().1.into_bytes()
    };
    let whole = run(&[]);
    assert!(whole.len() > 1000, "the corpus should produce rows");
    for _ in 0..20 {
        let mut cuts: Vec<usize> = (0..(next() % 12))
            .map(|_| (next() % rows.len() as u64) as usize)
            .collect();
        cuts.sort();
        assert_eq!(run(&cuts), whole, "cuts {cuts:?}");
    }
    let every_row: Vec<usize> = (1..rows.len()).collect();
    assert_eq!(run(&every_row), whole);
}
