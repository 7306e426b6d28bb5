//! Differential checks of shoal's lz4 codec against the `lz4_flex` crate, shared by the
//! `lz4_differential` integration test and the `lz4_differential` fuzz target.
//!
//! shoal stores lz4 as Deep Lake does: a 4-byte little-endian decompressed size, then one raw
//! LZ4 block (python-lz4's `lz4.block.compress`, which is lz4_flex's `compress_prepend_size`
//! layout). It also reads LZ4 frames and the 5-zero-byte empty value. Blocks are decoded by
//! shoal's own decoder, so comparing it with lz4_flex's holds it against an independent
//! implementation; frames are decoded by lz4_flex on both sides, so for them only the
//! dispatch is under test.

use std::io::{Read, Write};

use lz4_flex::block::DecompressError;
use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use shoal_core::codec::lz4;

/// No LZ4 block of `n` bytes decodes to more than this: each input byte adds at most 255
/// output bytes (a length-extension byte), plus the constant of the first sequence. shoal
/// refuses larger claimed sizes up front, without allocating them.
pub fn expansion_bound(n: usize) -> usize {
    n.saturating_mul(255).saturating_add(16)
}

/// `data` as LZ4 frames written by lz4_flex with and without every optional feature.
pub fn frames(data: &[u8]) -> Vec<Vec<u8>> {
    let plain = FrameInfo::new();
    let everything = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Linked)
        .block_checksums(true)
        .content_checksum(true)
        .content_size(Some(data.len() as u64));
    [plain, everything]
        .into_iter()
        .map(|info| {
            let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(data).expect("writing to a Vec cannot fail");
            enc.finish().expect("writing to a Vec cannot fail")
        })
        .collect()
}

/// Whatever one implementation writes, the other reads back exactly.
pub fn check_round_trips(data: &[u8]) {
    let ours = lz4::compress(data).expect("compress takes any input under 2 GiB");
    let read = lz4_flex::block::decompress_size_prepended(&ours);
    assert_eq!(
        read.as_deref().ok(),
        Some(data),
        "lz4_flex cannot read shoal's block of {} bytes: {read:?}",
        data.len()
    );

    let theirs = lz4_flex::block::compress_prepend_size(data);
    let mut encoded = vec![theirs];
    encoded.extend(frames(data));
    for value in encoded {
        let read = lz4::decompress(&value);
        assert_eq!(
            read.as_deref().ok(),
            Some(data),
            "shoal cannot read lz4_flex's {} bytes: {read:?}",
            value.len()
        );
        let mut out = vec![0u8; data.len()];
        let into = lz4::decompress_into(&value, &mut out);
        assert!(into.is_ok(), "decompress_into failed: {into:?}");
        assert_eq!(out, data);
    }
}

/// What a stored lz4 value decodes to, worked out with lz4_flex alone: the reference for
/// `lz4::decompress`. `None` means the value must be refused.
pub fn reference_decode(data: &[u8]) -> Option<Vec<u8>> {
    // python-lz4 writes the empty value as five zero bytes; zero bytes is also "nothing".
    if data.is_empty() || data == lz4::EMPTY {
        return Some(Vec::new());
    }
    if data.starts_with(&lz4::FRAME_MAGIC) {
        let mut out = Vec::new();
        return FrameDecoder::new(data)
            .read_to_end(&mut out)
            .ok()
            .map(|_| out);
    }
    let (head, block) = data.split_at_checked(4)?;
    let size = u32::from_le_bytes(head.try_into().expect("4 bytes")) as usize;
    if size == 0 {
        // `lz4.block.decompress` returns b"" for a zero size, whatever follows.
        return Some(Vec::new());
    }
    // Decode into the claimed size, or one byte past the expansion bound when the claim is
    // larger than that: lz4_flex then shows whether the bound really holds for this block.
    let bound = expansion_bound(block.len());
    let mut out = vec![0u8; size.min(bound + 1)];
    match lz4_flex::block::decompress_into(block, &mut out) {
        Ok(n) if n == size => Some(out),
        Ok(n) => {
            assert!(
                n <= bound,
                "a {}-byte block decoded to {n} bytes",
                block.len()
            );
            None
        }
        Err(DecompressError::OutputTooSmall { .. }) if size > bound => {
            panic!("a {}-byte block decodes past {bound} bytes", block.len())
        }
        Err(_) => None,
    }
}

/// The start of `data`, for messages about a value that may be long.
fn show(data: &[u8]) -> String {
    match data.get(..64) {
        Some(head) if data.len() > 64 => format!("{head:02x?}... ({} bytes)", data.len()),
        _ => format!("{data:02x?}"),
    }
}

/// shoal and the lz4_flex reference accept the same values and decode them to the same bytes,
/// through both `decompress` and `decompress_into`.
pub fn check_agrees(data: &[u8]) {
    let expected = reference_decode(data);
    let got = lz4::decompress(data);
    assert_eq!(
        got.as_ref().ok(),
        expected.as_ref(),
        "shoal and lz4_flex disagree on {}: shoal says {got:?}",
        show(data)
    );
    if let Some(v) = &expected {
        let mut out = vec![0u8; v.len()];
        let into = lz4::decompress_into(data, &mut out);
        assert!(
            into.is_ok(),
            "decompress_into refused {}: {into:?}",
            show(data)
        );
        assert_eq!(&out, v);
    }
}
