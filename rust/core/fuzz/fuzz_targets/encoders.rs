//! Any bytes: every encoder parser, and the lookups over whatever parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_core::encoders::{parse_chunk_ids, parse_tile_encoder, parse_u32_encoder};
use shoal_core::lookup::{locate_samples, sample_ranges, sample_shapes};

fuzz_target!(|data: &[u8]| {
    let local: Vec<i64> = data.iter().take(16).map(|&b| i64::from(b) - 8).collect();
    if let Ok((_, ids)) = parse_chunk_ids(data) {
        let last = ids.view().column(1);
        let _ = locate_samples(&last, &local);
    }
    for cols in 1..5 {
        if let Ok((_, t)) = parse_u32_encoder(data, cols) {
            let _ = sample_shapes(t.view(), &local);
            let _ = sample_ranges(t.view(), &local);
        }
    }
    let _ = parse_tile_encoder(data);
});
