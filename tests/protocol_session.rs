//! The chunked protocol as splunkd drives it, through the built binary.

mod common;
use common::*;

/// The seed's 11 fields, the CIM Web data model's names of those it has, and the
/// pre-aggregated count and byte fields of tstats input.
const SEED_GETINFO_REPLY: &str = concat!(
    r#"{"type":"reporting","required_fields":["#,
    r#""dest_host","http_user_agent","Web.http_user_agent","cs_user_agent","bytes_out","Web.bytes_out","cs_bytes","#,
    r#""uri_path","Web.uri_path","cs_uri_stem","http_method","Web.http_method","cs_method","src_ip","user","Web.user","#,
    r#""count","sum_bytes_out","sum(bytes_out)","sum(Web.bytes_out)","max_bytes_out","max(bytes_out)","max(Web.bytes_out)"]}"#
);

const BODY_HEADER: &str = "src_ip,user,dest_host,http_method,uri_path,http_user_agent,bytes_out";

fn body(rows: &[&str]) -> String {
    let mut s = format!("{BODY_HEADER}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

#[test]
fn getinfo_reply_is_byte_exact_and_declares_the_fields_read() {
    let run = run_binary(&[], &getinfo(&["profile=seed"]), GENEROUS);
    let expected = format!(
        "chunked 1.0,{},0\n{SEED_GETINFO_REPLY}",
        SEED_GETINFO_REPLY.len()
    );
    assert_eq!(String::from_utf8(run.stdout).unwrap(), expected);
    assert_eq!(run.code, Some(0));
}

#[test]
fn eof_right_after_getinfo_exits_0_at_once_with_only_the_getinfo_reply() {
    let run = run_binary(&[], &getinfo(&[]), GENEROUS);
    assert_eq!(run.code, Some(0));
    let replies = split_replies(&run.stdout);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].0.contains(r#""type":"reporting""#),
        "{:?}",
        replies[0]
    );
    assert!(run.elapsed < SECOND * 5, "{:?}", run.elapsed);
}

#[test]
fn empty_input_is_an_orderly_end() {
    let run = run_binary(&[], b"", GENEROUS);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.is_empty());
}

#[test]
fn one_reply_per_request_reporting_answers_non_final_chunks_with_finished_false_and_no_body() {
    let mut input = getinfo(&["profile=seed"]);
    input.extend(execute(
        false,
        &body(&["10.0.0.1,alice,api.openai.com,POST,/v1/chat/completions,curl/8.0,100"]),
    ));
    input.extend(execute(false, &body(&[])));
    input.extend(execute(false, ""));
    input.extend(execute(
        true,
        &body(&["10.0.0.1,alice,api.openai.com,GET,/v1/models,curl/8.0,20"]),
    ));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let replies = split_replies(&run.stdout);
    assert_eq!(replies.len(), 5);
    for r in &replies[1..4] {
        assert_eq!(r, &(r#"{"finished":false}"#.to_string(), String::new()));
    }
    assert_eq!(replies[4].0, r#"{"finished":true}"#);
    assert_eq!(
        replies[4].1,
        "src_ip,user,Requests,TotalBytesUploaded,UniqueSourceIPs,AIServices,EndpointPaths,__mv_EndpointPaths,UserAgents,MaxSuspicionScore\n\
         10.0.0.1,alice,2,120,1,api.openai.com,\"/v1/chat/completions\n/v1/models\",$/v1/chat/completions$;$/v1/models$,curl/8.0,2\n"
    );
}

#[test]
fn a_search_with_no_results_ends_with_an_empty_final_reply() {
    let mut input = getinfo(&["profile=seed"]);
    input.extend(execute(
        true,
        &body(&["10.0.0.1,alice,example.com,POST,/v1/x,curl/8.0,100"]),
    ));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0));
    let replies = split_replies(&run.stdout);
    assert_eq!(
        replies[1],
        (r#"{"finished":true}"#.to_string(), String::new())
    );
}

#[test]
fn header_may_change_between_chunks_and_crlf_is_accepted() {
    let mut input = getinfo(&["profile=seed"]);
    input.extend(execute(
        false,
        "user,src_ip,dest_host,uri_path\r\nbob,10.0.0.2,api.openai.com,/v1/a\r\n",
    ));
    input.extend(execute(
        true,
        "dest_host,\"__mv_dest_host\",src_ip,user,cs_method\n\"api.groq.com\nx.test\",\"$api.groq.com$;$x.test$\",10.0.0.2,bob,POST\n",
    ));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let replies = split_replies(&run.stdout);
    let table = &replies[2].1;
    assert!(table.starts_with("src_ip,user,Requests,"), "{table}");
    assert!(table.contains("10.0.0.2,bob,2,0,1,"), "{table}");
    assert!(
        table.contains("$api.groq.com$;$api.openai.com$;$x.test$"),
        "{table}"
    );
}

#[test]
fn an_unknown_option_is_answered_in_the_getinfo_reply() {
    let run = run_binary(&[], &getinfo(&["profil=seed"]), SECOND * 5);
    assert_error_reply(&run, 0, "unknown option 'profil'");
}

#[test]
fn a_bad_option_value_names_the_option_and_what_it_accepts() {
    let run = run_binary(&[], &getinfo(&["limit=lots"]), SECOND * 5);
    assert_error_reply(
        &run,
        0,
        "invalid value 'lots' for option limit: expected a whole number",
    );
}

#[test]
fn the_first_request_must_be_getinfo() {
    let run = run_binary(&[], &execute(true, "a\n1\n"), SECOND * 5);
    assert_error_reply(&run, 0, "the first request must be getinfo");
}

#[test]
fn an_unknown_action_is_an_error_reply() {
    let mut input = getinfo(&[]);
    input.extend(chunk(r#"{"action":"frobnicate"}"#, ""));
    let run = run_binary(&[], &input, SECOND * 5);
    assert_error_reply(&run, 1, "frobnicate");
}

#[test]
fn invalid_json_metadata_is_an_error_reply() {
    let mut input = getinfo(&[]);
    input.extend(chunk("{not json", ""));
    let run = run_binary(&[], &input, SECOND * 5);
    assert_error_reply(&run, 1, "not valid JSON");
}

#[test]
fn a_malformed_stream_gets_an_error_reply_and_exit_1_within_a_second() {
    let mut input = getinfo(&[]);
    input.extend(b"chunked 1.0,abc,0\n{}".iter());
    let run = run_binary(&[], &input, SECOND);
    assert_error_reply(&run, 1, "malformed chunk header");
}

#[test]
fn stdin_closed_mid_chunk_is_an_error_not_a_hang() {
    let mut input = getinfo(&[]);
    let full = execute(
        true,
        &body(&["10.0.0.1,alice,api.openai.com,POST,/v1/x,curl,1"]),
    );
    input.extend(&full[..full.len() - 10]);
    let run = run_binary(&[], &input, SECOND);
    assert_error_reply(&run, 1, "input ended inside a chunk");
}

#[test]
fn an_absurd_body_length_is_refused_without_waiting_for_it() {
    let mut input = getinfo(&[]);
    input.extend(
        b"chunked 1.0,36,10000000000000\n{\"action\":\"execute\",\"finished\":true}".iter(),
    );
    let run = run_binary(&[], &input, SECOND);
    assert_error_reply(&run, 1, "exceeds the limit");
}

#[test]
fn a_stray_newline_between_chunks_is_tolerated() {
    let mut input = getinfo(&["profile=seed"]);
    input.extend(b"\n\r\n");
    input.extend(execute(true, &body(&[])));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(split_replies(&run.stdout).len(), 2);
}

#[test]
fn the_session_key_never_appears_in_any_output_even_at_debug_level() {
    let mut input = getinfo(&["loglevel=debug", "profile=seed"]);
    input.extend(execute(
        true,
        &body(&["10.0.0.1,alice,api.openai.com,POST,/v1/x,curl,1"]),
    ));
    let run = run_binary(&[], &input, GENEROUS);
    assert_eq!(run.code, Some(0));
    assert!(
        run.stderr.contains("DEBUG"),
        "debug diagnostics expected: {}",
        run.stderr
    );
    let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), run.stderr);
    assert!(!all.contains("S3SS10N-K3Y-do-not-leak"), "{all}");
    // And on the error path.
    let run = run_binary(&[], &getinfo(&["loglevel=debug", "bogus=1"]), GENEROUS);
    let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), run.stderr);
    assert!(!all.contains("S3SS10N-K3Y-do-not-leak"), "{all}");
}

#[test]
fn command_line_arguments_from_commands_conf_do_not_change_the_protocol() {
    // commands.conf may add command.arg.N: the binary still serves the protocol.
    let run = run_binary(
        &["--log-level", "info"],
        &getinfo(&["profile=seed"]),
        GENEROUS,
    );
    assert_eq!(run.code, Some(0));
    assert_eq!(split_replies(&run.stdout)[0].0, SEED_GETINFO_REPLY);
}

#[test]
fn broken_output_pipe_is_an_orderly_exit() {
    use std::io::Write;
    let mut child = spawn_piped(env!("CARGO_BIN_EXE_aidetect"), &[], &[]);
    drop(child.stdout.take()); // splunkd went away
    let mut input = getinfo(&["profile=seed"]);
    input.extend(execute(true, &body(&[])));
    let _ = child.stdin.take().unwrap().write_all(&input);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
