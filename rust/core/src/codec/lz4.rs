//! LZ4 as Deep Lake stores it: `lz4.block.compress` output, i.e. a 4-byte little-endian
//! uncompressed size followed by one LZ4 block. Readers also accept the LZ4 frame format and
//! the 5-zero-byte empty value (`core/compression.decompress_bytes`).

use std::io::Read;

use crate::{Error, Result};

const CODEC: &str = "lz4";

/// Magic number that starts an LZ4 frame.
pub const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];

/// What `lz4.block.compress(b"")` produces.
pub const EMPTY: [u8; 5] = [0; 5];

/// Largest input the C library compresses (`LZ4_MAX_INPUT_SIZE`).
pub const MAX_INPUT_SIZE: usize = 0x7E00_0000;

/// No LZ4 block expands by more than this factor (a 255-byte run of length bytes per output
/// 255 bytes); a larger claimed size is corrupt, and is refused before allocating.
const MAX_RATIO: usize = 255;

/// Upper bound of [`compress`]'s output length.
pub fn compress_bound(len: usize) -> usize {
    lz4_flex::block::get_maximum_output_size(len).saturating_add(4)
}

/// Compresses `data` as a size-prefixed LZ4 block.
pub fn compress(data: &[u8]) -> Result<Vec<u8>> {
    let size = u32::try_from(data.len())
        .ok()
        .filter(|&n| n as usize <= MAX_INPUT_SIZE)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{} bytes is too large for lz4 (max {MAX_INPUT_SIZE})",
                data.len()
            ))
        })?;
    let mut out = vec![0u8; compress_bound(data.len())];
    let (head, body) = out
        .split_at_mut_checked(4)
        .ok_or_else(|| Error::Internal("lz4 bound below 4".into()))?;
    head.copy_from_slice(&size.to_le_bytes());
    let n = lz4_flex::block::compress_into(data, body).map_err(|e| Error::codec(CODEC, e))?;
    out.truncate(4 + n);
    Ok(out)
}

/// The shape of an lz4 value.
enum Kind<'a> {
    /// Zero bytes, or the 5-zero-byte value: decodes to nothing.
    Empty,
    /// A size-prefixed block.
    Block { size: usize, block: &'a [u8] },
    /// An LZ4 frame.
    Frame,
}

fn classify(data: &[u8]) -> Result<Kind<'_>> {
    if data.is_empty() || data == EMPTY {
        return Ok(Kind::Empty);
    }
    if data.starts_with(&FRAME_MAGIC) {
        return Ok(Kind::Frame);
    }
    let (Some(head), Some(block)) = (data.get(..4), data.get(4..)) else {
        return Err(Error::codec(
            CODEC,
            format!(
                "{} bytes is too short for a size-prefixed block",
                data.len()
            ),
        ));
    };
    let mut size = [0u8; 4];
    size.copy_from_slice(head);
    let size = u32::from_le_bytes(size) as usize;
    if size > block.len().saturating_mul(MAX_RATIO).saturating_add(16) {
        return Err(Error::codec(
            CODEC,
            format!(
                "claimed size {size} is impossible for a {}-byte block",
                block.len()
            ),
        ));
    }
    Ok(Kind::Block { size, block })
}

/// The decompressed size, if the header states it (always for blocks; `None` for frames).
pub fn decompressed_size(data: &[u8]) -> Result<Option<usize>> {
    Ok(match classify(data)? {
        Kind::Empty => Some(0),
        Kind::Block { size, .. } => Some(size),
        Kind::Frame => None,
    })
}

fn decode_block(block: &[u8], out: &mut [u8]) -> Result<()> {
    if out.is_empty() {
        // `lz4.block.decompress` returns b"" for a zero size whatever follows.
        return Ok(());
    }
    let n = super::lz4_block::decode(block, out).map_err(|e| Error::codec(CODEC, e))?;
    if n != out.len() {
        return Err(Error::codec(
            CODEC,
            format!("block decoded to {n} bytes, header says {}", out.len()),
        ));
    }
    Ok(())
}

/// Decompresses an lz4 value (block, frame or empty) into a new vector.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>> {
    match classify(data)? {
        Kind::Empty => Ok(Vec::new()),
        Kind::Block { size, block } => {
            let mut out = vec![0u8; size];
            decode_block(block, &mut out)?;
            Ok(out)
        }
        Kind::Frame => {
            let mut out = Vec::new();
            lz4_flex::frame::FrameDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(|e| Error::codec(CODEC, e))?;
            Ok(out)
        }
    }
}

/// Decompresses an lz4 value into `out`, which must be exactly the decompressed size.
pub fn decompress_into(data: &[u8], out: &mut [u8]) -> Result<()> {
    let expected = out.len();
    let mismatch = |got: &dyn std::fmt::Display| {
        Error::codec(
            CODEC,
            format!("decompresses to {got} bytes, but {expected} bytes were expected"),
        )
    };
    match classify(data)? {
        Kind::Empty if out.is_empty() => Ok(()),
        Kind::Empty => Err(mismatch(&0)),
        Kind::Block { size, .. } if size != out.len() => Err(mismatch(&size)),
        Kind::Block { block, .. } => decode_block(block, out),
        Kind::Frame => {
            let mut dec = lz4_flex::frame::FrameDecoder::new(data);
            dec.read_exact(out).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => mismatch(&"fewer"),
                _ => Error::codec(CODEC, e),
            })?;
            let mut extra = [0u8; 1];
            match dec.read(&mut extra) {
                Ok(0) => Ok(()),
                Ok(_) => Err(mismatch(&"more")),
                Err(e) => Err(Error::codec(CODEC, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..10_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect();
        let c = compress(&data).unwrap();
        assert_eq!(&c[..4], &(data.len() as u32).to_le_bytes());
        assert_eq!(decompress(&c).unwrap(), data);
        let mut out = vec![0u8; data.len()];
        decompress_into(&c, &mut out).unwrap();
        assert_eq!(out, data);
        let mut short = vec![0u8; data.len() - 1];
        assert!(decompress_into(&c, &mut short).is_err());
    }

    #[test]
    fn empty_values() {
        assert_eq!(compress(b"").unwrap(), EMPTY);
        assert_eq!(decompress(&EMPTY).unwrap(), Vec::<u8>::new());
        assert_eq!(decompress(b"").unwrap(), Vec::<u8>::new());
        decompress_into(&EMPTY, &mut []).unwrap();
        assert!(decompress_into(&EMPTY, &mut [0u8; 1]).is_err());
    }

    #[test]
    fn frames() {
        use std::io::Write;
        let data = b"hello hello hello hello frame".repeat(100);
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(&data).unwrap();
        let frame = enc.finish().unwrap();
        assert!(frame.starts_with(&FRAME_MAGIC));
        assert_eq!(decompress(&frame).unwrap(), data);
        let mut out = vec![0u8; data.len()];
        decompress_into(&frame, &mut out).unwrap();
        assert_eq!(out, data);
        assert!(decompress_into(&frame, &mut vec![0u8; data.len() + 1]).is_err());
        assert!(decompress_into(&frame, &mut vec![0u8; data.len() - 1]).is_err());
        assert!(decompress(&frame[..frame.len() / 2]).is_err());
    }

    #[test]
    fn implausible_size_is_refused() {
        let mut v = 0xFFFF_FFF0u32.to_le_bytes().to_vec();
        v.extend_from_slice(&[0x1F, 1, 1, 0]);
        assert!(matches!(decompress(&v), Err(Error::Codec { .. })));
    }
}
