//! The `__mv_` decoder: the same items as splunklib's regular expression for any cell, and
//! what `encode_mv` writes decodes to the items written.
#![no_main]

use aidetect::protocol::body::{decode_mv, encode_mv};
use aidetect_fuzz::mv_reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours: Vec<Vec<u8>> = decode_mv(data)
        .into_iter()
        .map(|c| c.into_owned())
        .collect();
    assert_eq!(
        ours,
        mv_reference(data),
        "cell {:?}",
        String::from_utf8_lossy(data)
    );

    if let Ok(text) = std::str::from_utf8(data) {
        let items: Vec<&str> = text.split('\n').collect();
        let (display, cell) = encode_mv(&items);
        assert_eq!(display, text);
        let back: Vec<Vec<u8>> = decode_mv(cell.as_bytes())
            .into_iter()
            .map(|c| c.into_owned())
            .collect();
        let want: Vec<Vec<u8>> = items.iter().map(|s| s.as_bytes().to_vec()).collect();
        assert_eq!(back, want, "cell {cell:?}");
    }
});
