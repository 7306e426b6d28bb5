//! Any bytes, as PNG and as JPEG (the fuzzer's input gets the right magic prepended by its
//! first byte): probe, then decode into a buffer of the probed size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_core::codec::{self, jpeg, png};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut buf = Vec::with_capacity(rest.len() + 8);
    match which % 3 {
        0 => buf.extend_from_slice(&png::SIGNATURE),
        1 => buf.extend_from_slice(&[0xFF, 0xD8]),
        _ => {}
    }
    buf.extend_from_slice(rest);
    if let Ok(info) = codec::probe(&buf) {
        // Keep the fuzzer's memory bounded: skip huge (but valid) headers.
        if let Ok(n) = info.nbytes() {
            if n <= 1 << 24 {
                let mut out = vec![0u8; n];
                let _ = png::decode_into(&buf, &mut out);
                let _ = jpeg::JpegDecoder::new().decode_into(&buf, &mut out);
            }
        }
    }
});
