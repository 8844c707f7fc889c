//! The chunk reader: any bytes, delivered in any pieces, read the same as in one piece; every
//! chunk read re-encodes to bytes that read back to it; an orderly end consumed everything.
#![no_main]

use aidetect::protocol::chunk::encode_chunk;
use aidetect_fuzz::read_chunks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the buffer size and the read size: both from 1 to 16 bytes.
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    let capacity = 1 + usize::from(knob & 0x0f);
    let step = 1 + usize::from(knob >> 4);
    let whole = read_chunks(input, 1 << 16, usize::MAX);
    let pieces = read_chunks(input, capacity, step);
    let how = format!("buffer {capacity}, reads of {step}");
    assert_eq!(whole.chunks, pieces.chunks, "{how}");
    assert_eq!(whole.error, pieces.error, "{how}");
    // After an error the session stops: how far the reader got is unspecified then.
    if whole.error.is_none() {
        assert_eq!(
            whole.offset,
            input.len() as u64,
            "an orderly end reads everything"
        );
        assert_eq!(pieces.offset, whole.offset, "{how}");
    }
    assert!(whole.offset <= input.len() as u64);

    let mut again = Vec::new();
    for chunk in &whole.chunks {
        again.extend(encode_chunk(&chunk.metadata, &chunk.body));
    }
    let reread = read_chunks(&again, capacity, step);
    assert_eq!(reread.chunks, whole.chunks);
    assert_eq!(reread.error, None);
    assert_eq!(reread.offset, again.len() as u64);
});
