//! Any bytes: parse a chunk header; if it parses, it must serialise back to the same prefix,
//! and truncation must report a growing `needed`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_core::chunk::{parse_header, serialize};
use shoal_core::Error;

fuzz_target!(|data: &[u8]| {
    match parse_header(data) {
        Ok(h) => {
            let again =
                serialize(&h.version, h.shapes.view(), h.byte_positions.view(), &[]).unwrap();
            assert_eq!(&again[..], &data[..h.data_offset]);
            let _ = h.num_samples();
        }
        Err(Error::Truncated { needed, .. }) => assert!(needed > data.len()),
        Err(_) => {}
    }
});
