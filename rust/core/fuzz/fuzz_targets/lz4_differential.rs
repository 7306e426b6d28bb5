//! Any bytes: shoal's lz4 against the independent `lz4_flex` implementation. Each reads back
//! what the other writes (size-prefixed blocks and frames), and on the bytes themselves both
//! refuse or both decode to the same output. The checks live in the core's test support so the
//! `lz4_differential` integration test runs them too.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/lz4_diff.rs"]
mod lz4_diff;

fuzz_target!(|data: &[u8]| {
    lz4_diff::check_round_trips(data);
    lz4_diff::check_agrees(data);
    // The same bytes as a block under a size prefix (the first byte picks how the claimed size
    // relates to the block), which random bytes alone rarely make plausible.
    if let Some((&pick, block)) = data.split_first() {
        let size = match pick % 4 {
            0 => block.len(),
            1 => block.len() * usize::from(pick / 4 + 1),
            2 => usize::from(pick),
            _ => lz4_flex::block::compress(block).len(),
        };
        let mut value = (size as u32).to_le_bytes().to_vec();
        value.extend_from_slice(block);
        lz4_diff::check_agrees(&value);
    }
});
