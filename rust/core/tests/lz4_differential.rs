//! shoal's lz4 against the independent `lz4_flex` implementation: each reads what the other
//! writes, and on any bytes at all both refuse or both decode to the same output. The same
//! checks run under the fuzzer (`fuzz/fuzz_targets/lz4_differential.rs`); here they run on
//! fixed inputs and proptest-generated ones so every `cargo test` exercises them.

#[path = "support/lz4_diff.rs"]
mod lz4_diff;

use lz4_diff::{check_agrees, check_round_trips, expansion_bound, frames};
use proptest::collection::vec;
use proptest::prelude::*;
use shoal_core::codec::lz4;

/// Data with the shapes LZ4 treats differently: noise (literals only), runs (offset 1),
/// short periods (overlapping matches of every offset) and long repeats (wide matches).
fn payloads() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        b"a".to_vec(),
        b"abcd".to_vec(),
        vec![7; 13],
        vec![7; 1000],
        vec![0; 70_000],
        b"hello hello hello hello".repeat(50),
    ];
    for period in [2usize, 3, 4, 7, 8, 9, 15, 16, 17, 31, 64, 255, 256, 1000] {
        out.push((0..5000).map(|i| (i % period) as u8 ^ 0x5A).collect());
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut mixed = noise.clone();
    mixed.extend_from_slice(&noise[..1000]);
    mixed.extend(std::iter::repeat_n(9u8, 300));
    mixed.extend_from_slice(&noise[2000..2100]);
    out.push(noise);
    out.push(mixed);
    // 64 KiB + a bit: offsets up to the 65535 limit, and the frame's block boundary.
    out.push((0..70_000u32).map(|i| (i / 256 % 251) as u8).collect());
    out
}

/// Hand-made values at the edges of the format and of Deep Lake's framing.
fn edge_values() -> Vec<Vec<u8>> {
    let sized = |size: u32, block: &[u8]| {
        let mut v = size.to_le_bytes().to_vec();
        v.extend_from_slice(block);
        v
    };
    let good = lz4::compress(b"hello hello hello hello hello").unwrap();
    let frame = frames(&[b'x'; 300].repeat(3)).remove(1);
    let mut bad_checksum = frame.clone();
    let at = bad_checksum.len() - 1;
    bad_checksum[at] ^= 1;
    vec![
        vec![],
        lz4::EMPTY.to_vec(),
        vec![0; 4],
        vec![0; 6],
        vec![1],
        vec![1, 0, 0],
        sized(1, &[]),
        sized(1, &[0x10, b'a']),
        sized(2, &[0x10, b'a']),
        sized(0, &[0xFF, 0xFF]),
        sized(5, &[0x10, b'a', 0, 0]),                  // zero offset
        sized(5, &[0x10, b'a', 2, 0]),                  // offset before the output
        sized(5, &[0x10, b'a', 1, 0]),                  // 1 literal + 4-byte match
        sized(4, &[0x10, b'a', 1, 0]),                  // the same, claimed one byte short
        sized(6, &[0x10, b'a', 1, 0]),                  // ... and one byte long
        sized(5, &[0x10, b'a', 1, 0, 0x00]),            // a trailing empty literal run
        sized(5, &[0x10, b'a', 1, 0, 0x10, b'b']),      // output full, input left over
        sized(300, &[0x1F, b'a', 1, 0, 255, 26]),       // long match extension
        sized(u32::MAX, &[0x1F, b'a', 1, 0, 255, 255]), // impossible claimed size
        sized(expansion_bound(6) as u32, &[0x1F, b'a', 1, 0, 255, 255]),
        sized(expansion_bound(6) as u32 + 1, &[0x1F, b'a', 1, 0, 255, 255]),
        good[..good.len() - 1].to_vec(),
        good[..5].to_vec(),
        frame[..frame.len() / 2].to_vec(),
        bad_checksum,
        lz4::FRAME_MAGIC.to_vec(),
    ]
}

#[test]
fn fixed_payloads_round_trip_both_ways() {
    for data in payloads() {
        check_round_trips(&data);
    }
}

#[test]
fn fixed_values_decode_the_same() {
    for data in payloads() {
        check_agrees(&lz4_flex::block::compress_prepend_size(&data));
        check_agrees(&lz4::compress(&data).unwrap());
        for frame in frames(&data) {
            check_agrees(&frame);
        }
    }
    for value in edge_values() {
        check_agrees(&value);
    }
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..2000),
        vec((any::<u8>(), 1usize..300), 0..32).prop_map(|runs| runs
            .into_iter()
            .flat_map(|(b, n)| std::iter::repeat_n(b, n))
            .collect()),
        vec(
            (
                vec(any::<u8>(), 1..40),
                1usize..400,
                vec(any::<u8>(), 0..20)
            ),
            0..12
        )
        .prop_map(|parts| parts
            .into_iter()
            .flat_map(|(pattern, n, noise)| {
                let mut v: Vec<u8> = pattern.iter().copied().cycle().take(n).collect();
                v.extend(noise);
                v
            })
            .collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn payloads_round_trip_both_ways(data in payload()) {
        check_round_trips(&data);
    }

    #[test]
    fn random_bytes_decode_the_same(data in vec(any::<u8>(), 0..512)) {
        check_agrees(&data);
    }

    #[test]
    fn random_blocks_decode_the_same(
        size in prop_oneof![0u32..64, 0u32..5000, any::<u32>()],
        block in vec(any::<u8>(), 0..300),
    ) {
        let mut value = size.to_le_bytes().to_vec();
        value.extend(block);
        check_agrees(&value);
    }

    #[test]
    fn random_frames_decode_the_same(tail in vec(any::<u8>(), 0..300)) {
        let mut value = lz4::FRAME_MAGIC.to_vec();
        value.extend(tail);
        check_agrees(&value);
    }

    /// Damaged valid blocks reach deep into the decoder, where random bytes rarely get.
    #[test]
    fn damaged_blocks_decode_the_same(
        data in payload(),
        cut in any::<prop::sample::Index>(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        size_delta in -3i64..4,
    ) {
        let mut value = lz4_flex::block::compress_prepend_size(&data);
        for (at, b) in flips {
            let i = 4 + at.index(value.len() - 4);
            value[i] ^= b;
        }
        let size = (data.len() as i64 + size_delta).max(0) as u32;
        value[..4].copy_from_slice(&size.to_le_bytes());
        check_agrees(&value);
        check_agrees(&value[..cut.index(value.len() + 1)]);
    }
}
