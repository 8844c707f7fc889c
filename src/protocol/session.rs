//! The request/reply loop: exactly one reply per request, written after the request has been
//! read; every failure becomes an error reply to the current request, then exit 1.

use super::body::{RecordSet, Records};

use super::chunk::{ChunkError, ChunkReader, write_chunk};
use super::diag;
use super::meta::{CommandType, Inspector, Level, Reply, Request, SearchInfo};
use std::any::Any;
use std::io::{self, BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// An error a command reports to the user; the message says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl CommandError {
    pub fn new(message: impl Into<String>) -> CommandError {
        CommandError(message.into())
    }
}

/// What a command declares in its getinfo reply.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub command_type: CommandType,
    /// Fields splunkd should send; `None` = all fields.
    pub required_fields: Option<Vec<String>>,
    /// SPL run before this command on the indexers (map phase).
    pub streaming_preop: Option<String>,
    /// Messages for the job inspector (warnings about arguments, ...).
    pub messages: Vec<(Level, String)>,
}

impl Declaration {
    pub fn new(command_type: CommandType) -> Declaration {
        Declaration {
            command_type,
            required_fields: None,
            streaming_preop: None,
            messages: Vec::new(),
        }
    }
}

/// What a command writes into one reply: records and inspector messages.
#[derive(Debug, Default)]
pub struct Output {
    pub records: RecordSet,
    /// A body the command wrote itself (see [`super::body::CsvRows`]); it replaces `records`.
    /// For commands that answer every event, where building records first would cost memory.
    pub body: Option<Vec<u8>>,
    pub messages: Vec<(Level, String)>,
}

/// A search command. State lives in `self` across chunks.
pub trait Command {
    /// Reads the options and declares how the command runs. Must be quick and free of side
    /// effects: splunkd starts probe processes that stop right after this.
    fn getinfo(&mut self, info: &SearchInfo) -> Result<Declaration, CommandError>;

    /// Takes the records of one execute chunk. Streaming commands answer in `out`; reporting
    /// commands fold the records into their state and answer in `finish`.
    fn execute(&mut self, records: &mut Records<'_>, out: &mut Output) -> Result<(), CommandError>;

    /// Called once, after the last chunk (`finished:true`), for the final results.
    fn finish(&mut self, _out: &mut Output) -> Result<(), CommandError> {
        Ok(())
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Input ended in order: exit 0.
    Done,
    /// An error reply was written (or could not be): exit 1.
    Failed(String),
}

impl Ending {
    pub fn exit_code(&self) -> i32 {
        match self {
            Ending::Done => 0,
            Ending::Failed(_) => 1,
        }
    }
}

/// Session settings that are not part of the protocol.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Replaces `searchinfo.args` (to replay another command's recording with ours).
    pub args: Option<Vec<String>>,
    /// Largest chunk body accepted.
    pub max_body: Option<u64>,
}

enum Stop {
    /// Report to splunkd as the reply to the current request.
    Error(String),
    /// The output pipe is gone: nothing more can be said.
    Output(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Output(e)
    }
}

/// Serves one search: reads requests from `input`, writes replies to `output`.
///
/// Nothing that happens inside unwinds out of here: a panic anywhere (in the command, the
/// CSV reader, the framing, the input or output itself) becomes an error reply to the current
/// request and `Ending::Failed`, so splunkd always gets a well-formed stream that ends with the
/// reason, never a stream cut off mid-chunk.
pub fn serve<C: Command, R: BufRead, W: Write>(
    command: &mut C,
    input: R,
    mut output: W,
    settings: &Settings,
) -> Ending {
    let mut reader = ChunkReader::new(input);
    if let Some(max) = settings.max_body {
        reader = reader.with_max_body(max);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run(command, &mut reader, &mut output, settings)
    }))
    .unwrap_or_else(|payload| {
        Err(Stop::Error(format!(
            "internal error in the protocol layer: {}. This is a bug; please report it with the search that caused it",
            panic_message(payload.as_ref())
        )))
    });
    match outcome {
        Ok(()) => Ending::Done,
        Err(Stop::Error(message)) => {
            diag::log(Level::Error, &message);
            let written = catch_unwind(AssertUnwindSafe(|| {
                write_reply(&mut output, &Reply::error(&message), b"")
            }));
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => diag::log(
                    Level::Error,
                    &format!("could not write the error reply: {e}"),
                ),
                Err(payload) => diag::log(
                    Level::Error,
                    &format!(
                        "could not write the error reply: {}",
                        panic_message(payload.as_ref())
                    ),
                ),
            }
            Ending::Failed(message)
        }
        Err(Stop::Output(e)) => {
            let message = format!("writing to splunkd failed: {e}");
            diag::log(Level::Error, &message);
            Ending::Failed(message)
        }
    }
}

fn write_reply<W: Write>(out: &mut W, reply: &Reply, body: &[u8]) -> io::Result<()> {
    write_chunk(out, &reply.to_json(), body)
}

/// The text of a panic's payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Runs `f`, turning a panic into an error message instead of a broken stream.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, CommandError>) -> Result<T, Stop> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Stop::Error(e.0)),
        Err(payload) => Err(Stop::Error(format!(
            "internal error during {what}: {}. This is a bug; please report it with the search that caused it",
            panic_message(payload.as_ref())
        ))),
    }
}

fn run<C: Command, R: BufRead, W: Write>(
    command: &mut C,
    reader: &mut ChunkReader<R>,
    output: &mut W,
    settings: &Settings,
) -> Result<(), Stop> {
    let protocol = |e: ChunkError| Stop::Error(format!("protocol error: {e}"));
    let read = |reader: &mut ChunkReader<R>| reader.read_head().map_err(protocol);
    let Some((metadata, body_len)) = read(reader)? else {
        return Ok(());
    };
    let request = parse_request(&metadata, 1)?;
    if request.action.as_deref() != Some("getinfo") {
        return Err(Stop::Error(format!(
            "protocol error: the first request must be getinfo, got action {:?}",
            request.action.as_deref().unwrap_or("(none)")
        )));
    }
    if body_len != 0 {
        return Err(Stop::Error(format!(
            "protocol error: the getinfo request carries a body of {body_len} bytes; it must be empty"
        )));
    }
    let mut info = request.searchinfo.unwrap_or_default();
    if let Some(args) = &settings.args {
        info.args = args.clone();
    }
    diag::log(Level::Debug, &format!("getinfo: {info:?}"));
    let declaration = guarded("getinfo", || command.getinfo(&info))?;
    let reporting = declaration.command_type == CommandType::Reporting;
    let reply = Reply {
        command_type: Some(declaration.command_type),
        required_fields: declaration.required_fields,
        streaming_preop: declaration.streaming_preop,
        inspector: Inspector {
            messages: declaration.messages,
            ..Inspector::default()
        },
        ..Reply::default()
    };
    write_reply(output, &reply, b"")?;

    let mut finished = false;
    let mut index = 1u64;
    while let Some((metadata, body_len)) = read(reader)? {
        index += 1;
        let request = parse_request(&metadata, index)?;
        if request.action.as_deref() != Some("execute") {
            return Err(Stop::Error(format!(
                "protocol error: request {index} has action {:?}; after getinfo only execute is valid",
                request.action.as_deref().unwrap_or("(none)")
            )));
        }
        let last = request.finished.unwrap_or(false);
        let mut out = Output::default();
        if finished {
            // Requests after the final one get empty replies; their bodies are read past.
            reader.skip_body(body_len).map_err(protocol)?;
        } else {
            // The body is parsed as it arrives (see `ChunkReader::body`).
            let feed = reader.body(body_len).map_err(protocol)?;
            let mut records = Records::streaming(feed)
                .map_err(|e| Stop::Error(format!("request {index}: {e}")))?;
            let executed = guarded("execute", || command.execute(&mut records, &mut out));
            let count = records.count();
            // An input that ended inside the body is the error to report, whatever the
            // command made of the records it got; the rest of the body is read either way.
            records.finish_input().map_err(protocol)?;
            executed?;
            diag::log(
                Level::Debug,
                &format!("request {index}: {count} records in, finished={last}"),
            );
            if last {
                // The records are folded: free the body (as large as the largest chunk)
                // before `finish` builds the reply, so the two never add up in memory.
                reader.release_body();
                guarded("finish", || command.finish(&mut out))?;
                finished = true;
            }
        }
        // A reporting command answers non-final chunks with `{"finished":false}` and no body.
        let body = if reporting && !last {
            Vec::new()
        } else if let Some(body) = out.body.take() {
            body
        } else {
            std::mem::take(&mut out.records).into_csv()
        };
        let reply = Reply {
            inspector: Inspector {
                messages: out.messages,
                ..Inspector::default()
            },
            finished: Some(last || finished),
            ..Reply::default()
        };
        write_reply(output, &reply, &body)?;
    }
    Ok(())
}

fn parse_request(metadata: &[u8], index: u64) -> Result<Request, Stop> {
    serde_json::from_slice(metadata).map_err(|e| {
        Stop::Error(format!(
            "protocol error: the metadata of request {index} is not valid JSON ({e})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::chunk::encode_chunk;
    use crate::protocol::driver::decode_replies;
    use std::io::Read;

    const GETINFO: &[u8] = br#"{"action":"getinfo"}"#;
    const EXECUTE_LAST: &[u8] = br#"{"action":"execute","finished":true}"#;

    /// Counts records (with `first_only`, reads only each body's first); panics where it is
    /// told to.
    #[derive(Default)]
    struct Probe {
        panic_in: &'static str,
        first_only: bool,
        rows: i64,
    }

    impl Probe {
        fn maybe_panic(&self, here: &str) {
            if self.panic_in == here {
                panic!("probe panics in {here}");
            }
        }
    }

    impl Command for Probe {
        fn getinfo(&mut self, _: &SearchInfo) -> Result<Declaration, CommandError> {
            self.maybe_panic("getinfo");
            Ok(Declaration::new(CommandType::Reporting))
        }
        fn execute(
            &mut self,
            records: &mut Records<'_>,
            _: &mut Output,
        ) -> Result<(), CommandError> {
            self.maybe_panic("execute");
            while records
                .next()
                .map_err(|e| CommandError::new(e.to_string()))?
                .is_some()
            {
                self.rows += 1;
                if self.first_only {
                    break;
                }
            }
            Ok(())
        }
        fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
            self.maybe_panic("finish");
            out.records
                .push([("rows", crate::protocol::Cell::Int(self.rows))]);
            Ok(())
        }
    }

    fn search() -> Vec<u8> {
        let mut input = encode_chunk(GETINFO, b"");
        input.extend(encode_chunk(
            br#"{"action":"execute","finished":false}"#,
            b"a\n1\n2\n",
        ));
        input.extend(encode_chunk(EXECUTE_LAST, b"a\n3\n"));
        input
    }

    /// Serves `input` and returns the ending and the decoded replies (the stream must parse).
    fn serve_with<R: BufRead, W: Write>(command: &mut Probe, input: R, output: W) -> Ending {
        serve(command, input, output, &Settings::default())
    }

    fn assert_error_last(out: &[u8], replies: usize, needle: &str) {
        let decoded = decode_replies(out).expect("a well-formed reply stream");
        assert_eq!(decoded.len(), replies, "{decoded:?}");
        let last = &decoded.last().unwrap().metadata;
        let error = last["error"].as_str().expect("an error reply");
        assert!(error.contains(needle), "{error}");
        assert_eq!(last["finished"], true);
    }

    #[test]
    fn bodies_read_in_part_or_not_at_all_keep_the_framing() {
        // Bodies larger than one read of the feed, so that most of each is still unread
        // when the command returns; then a request after the final one, whose body is skipped.
        let big = |first: &str| format!("a\n{first}\n{}", "7\n".repeat(300_000));
        let mut input = encode_chunk(GETINFO, b"");
        input.extend(encode_chunk(
            br#"{"action":"execute","finished":false}"#,
            big("1").as_bytes(),
        ));
        input.extend(encode_chunk(EXECUTE_LAST, big("2").as_bytes()));
        input.extend(encode_chunk(EXECUTE_LAST, big("3").as_bytes()));
        let mut out = Vec::new();
        let mut probe = Probe {
            first_only: true,
            ..Probe::default()
        };
        let ending = serve_with(&mut probe, &input[..], &mut out);
        assert_eq!(ending, Ending::Done);
        let decoded = decode_replies(&out).unwrap();
        assert_eq!(decoded.len(), 4, "{decoded:?}");
        assert_eq!(decoded[2].body, b"rows\n2\n");
        assert_eq!(decoded[3].metadata["finished"], true);
        assert!(decoded[3].body.is_empty());
    }

    #[test]
    fn a_whole_search_without_panics_answers_every_request() {
        let mut out = Vec::new();
        let ending = serve_with(&mut Probe::default(), &search()[..], &mut out);
        assert_eq!(ending, Ending::Done);
        let decoded = decode_replies(&out).unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded[2].body, b"rows\n3\n");
    }

    #[test]
    fn a_panic_in_any_command_method_is_an_error_reply_to_that_request() {
        for (at, replies) in [("getinfo", 1), ("execute", 2), ("finish", 3)] {
            let mut out = Vec::new();
            let mut probe = Probe {
                panic_in: at,
                ..Probe::default()
            };
            let ending = serve_with(&mut probe, &search()[..], &mut out);
            assert_eq!(ending.exit_code(), 1, "{at}");
            assert_error_last(
                &out,
                replies,
                &format!("internal error during {at}: probe panics in {at}"),
            );
        }
    }

    /// The net is `catch_unwind`: with `panic = "abort"` a panic would kill the process
    /// mid-stream instead. Every profile the command ships in must unwind.
    #[test]
    fn the_shipped_build_unwinds_so_panics_can_be_caught() {
        let manifest = include_str!("../../Cargo.toml");
        let release = manifest
            .split("[profile.release]")
            .nth(1)
            .expect("a release profile")
            .split("\n[")
            .next()
            .unwrap();
        assert!(release.contains("panic = \"unwind\""), "{release}");
        assert!(!manifest.contains("panic = \"abort\""), "{manifest}");
    }

    /// Input that panics once `after` bytes have been read: a bug below the command.
    struct PanickyInput {
        data: Vec<u8>,
        pos: usize,
        after: usize,
    }

    impl Read for PanickyInput {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos >= self.after {
                panic!("the input broke");
            }
            let end = self.data.len().min(self.after).min(self.pos + buf.len());
            let n = end - self.pos;
            buf[..n].copy_from_slice(&self.data[self.pos..end]);
            self.pos = end;
            Ok(n)
        }
    }

    #[test]
    fn a_panic_in_the_protocol_layer_is_an_error_reply_not_a_cut_stream() {
        let data = search();
        let getinfo_len = encode_chunk(GETINFO, b"").len();
        let input = io::BufReader::with_capacity(
            4,
            PanickyInput {
                data,
                pos: 0,
                after: getinfo_len + 10,
            },
        );
        let mut out = Vec::new();
        let ending = serve_with(&mut Probe::default(), input, &mut out);
        assert_eq!(ending.exit_code(), 1);
        assert_error_last(
            &out,
            2,
            "internal error in the protocol layer: the input broke",
        );
    }

    /// Output that panics on its `n`th write.
    struct PanickyOutput {
        writes: usize,
        panic_at: usize,
        bytes: Vec<u8>,
    }

    impl Write for PanickyOutput {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            if self.writes >= self.panic_at {
                panic!("the output broke");
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_in_the_output_ends_the_session_as_failed_without_unwinding() {
        let mut out = PanickyOutput {
            writes: 0,
            panic_at: 3, // header and metadata of the getinfo reply, then the next header
            bytes: Vec::new(),
        };
        let ending = serve_with(&mut Probe::default(), &search()[..], &mut out);
        let Ending::Failed(message) = ending else {
            panic!("expected a failure, got {ending:?}");
        };
        assert!(message.contains("the output broke"), "{message}");
        // The getinfo reply went out whole before the output broke.
        assert_eq!(decode_replies(&out.bytes).unwrap().len(), 1);
    }
}
