//! BMP, our own small codec (the format is a header and raw rows, not worth a dependency),
//! matching Pillow both ways:
//!
//! * decode gives what `np.asarray(Image.open(...))` gives: palette images (1, 4, 8 bits) their
//!   indices `(H, W)` (Pillow's modes `P`, `L` and `1`, whose values are the indices), 24-bit
//!   and 32-bit `BI_RGB` images RGB `(H, W, 3)` (Pillow ignores the fourth byte), 32-bit
//!   bit-field images with an alpha mask RGBA `(H, W, 4)`;
//! * encode writes the bytes Pillow's `Image.save(f, "bmp")` writes: a 40-byte info header,
//!   96 dpi, bottom-up rows; one channel as 8 bits with a 256-entry grey palette, RGB as 24 bits.
//!
//! Run-length (RLE4/RLE8) and 16-bit BMPs are refused with an error; Pillow writes neither.

use super::{ImageFormat, ImageInfo, PixelType};
use crate::{Error, Result};

const CODEC: &str = "bmp";
const FILE_HEADER: usize = 14;
const INFO_HEADER: usize = 40;
/// 96 dpi in pixels per metre, rounded as Pillow rounds it.
const PPM_96_DPI: u32 = 3780;

const BI_RGB: u32 = 0;
const BI_BITFIELDS: u32 = 3;
const BI_ALPHABITFIELDS: u32 = 6;

fn err(e: impl std::fmt::Display) -> Error {
    Error::codec(CODEC, e)
}

fn le_u16(data: &[u8], at: usize) -> Result<u16> {
    match data.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_le_bytes([a, b])),
        _ => Err(err("header is truncated")),
    }
}

fn le_u32(data: &[u8], at: usize) -> Result<u32> {
    match data.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_le_bytes([a, b, c, d])),
        _ => Err(err("header is truncated")),
    }
}

/// Where the pixels are and how to read them.
#[derive(Debug, Clone, Copy)]
struct Layout {
    info: ImageInfo,
    bits: u16,
    top_down: bool,
    pixel_offset: usize,
    /// For 32-bit images: the byte index (in a little-endian pixel) of R, G, B and A.
    byte_order: [usize; 4],
}

/// The byte (0..=3) an 8-bit-aligned mask selects.
fn mask_byte(mask: u32) -> Option<usize> {
    (0..4).find(|i| mask == 0xFF << (8 * i))
}

fn layout(data: &[u8]) -> Result<Layout> {
    if !data.starts_with(b"BM") {
        return Err(err("missing BM signature"));
    }
    let pixel_offset = le_u32(data, 10)? as usize;
    let header = le_u32(data, FILE_HEADER)? as usize;
    let (width, height, bits, compression) = if header == 12 {
        // OS/2 1.x core header: 16-bit sizes, no compression.
        let w = i64::from(le_u16(data, 18)?);
        let h = i64::from(le_u16(data, 20)?);
        (w, h, le_u16(data, 24)?, BI_RGB)
    } else if header >= INFO_HEADER {
        let w = i64::from(le_u32(data, 18)? as i32);
        let h = i64::from(le_u32(data, 22)? as i32);
        (w, h, le_u16(data, 28)?, le_u32(data, 30)?)
    } else {
        return Err(err(format!("unknown info header size {header}")));
    };
    let top_down = height < 0;
    let (width, height) = (width, height.abs());
    if width <= 0 || height == 0 || width > i64::from(i32::MAX) || height > i64::from(i32::MAX) {
        return Err(err(format!("invalid image size {width}x{height}")));
    }
    let mut byte_order = [2, 1, 0, 3];
    let channels = match (bits, compression) {
        (1 | 4 | 8, BI_RGB) => 1,
        (24, BI_RGB) => 3,
        (32, BI_RGB) => 3,
        (32, BI_BITFIELDS | BI_ALPHABITFIELDS) => {
            // The masks follow the 40-byte header (or are part of a longer one).
            let at = FILE_HEADER + INFO_HEADER;
            let masks = [
                le_u32(data, at)?,
                le_u32(data, at + 4)?,
                le_u32(data, at + 8)?,
                if header >= 56 || compression == BI_ALPHABITFIELDS {
                    le_u32(data, at + 12)?
                } else {
                    0
                },
            ];
            for (slot, mask) in byte_order.iter_mut().zip(masks) {
                if mask != 0 {
                    *slot = mask_byte(mask).ok_or_else(|| {
                        err(format!("32-bit colour mask {mask:#010x} is not one byte"))
                    })?;
                }
            }
            if masks[3] != 0 {
                4
            } else {
                3
            }
        }
        (1 | 4 | 8, 1 | 2) | (24 | 32, _) if compression != BI_RGB => {
            return Err(err(format!(
                "compression {compression} (RLE or other) with {bits} bits is not supported"
            )))
        }
        _ => {
            return Err(err(format!(
                "{bits}-bit BMP (compression {compression}) is not supported"
            )))
        }
    };
    Ok(Layout {
        info: ImageInfo {
            format: ImageFormat::Bmp,
            height: height as u32,
            width: width as u32,
            channels,
            dtype: PixelType::U8,
        },
        bits,
        top_down,
        pixel_offset,
        byte_order,
    })
}

/// Reads only the headers.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    layout(data).map(|l| l.info)
}

/// Decodes a BMP into `out`, which must be exactly the decoded size (see [`probe`]).
pub fn decode_into(data: &[u8], out: &mut [u8]) -> Result<()> {
    let l = layout(data)?;
    l.info.check_output(out)?;
    let (width, height) = (l.info.width as usize, l.info.height as usize);
    let row_bits = width
        .checked_mul(usize::from(l.bits))
        .ok_or_else(|| err("image is too large"))?;
    let stride = (row_bits.div_ceil(8) + 3) & !3;
    let needed = stride
        .checked_mul(height)
        .and_then(|n| n.checked_add(l.pixel_offset))
        .ok_or_else(|| err("image is too large"))?;
    if data.len() < needed {
        return Err(Error::Truncated {
            what: "bmp pixel data",
            needed,
            available: data.len(),
        });
    }
    let channels = usize::from(l.info.channels);
    let row_out = width * channels;
    for (y, dst) in out.chunks_exact_mut(row_out).enumerate() {
        let file_row = if l.top_down { y } else { height - 1 - y };
        let start = l.pixel_offset + file_row * stride;
        let src = data
            .get(start..start + stride)
            .ok_or_else(|| err("pixel data is truncated"))?;
        match l.bits {
            1 | 4 => {
                let depth = l.bits as u8;
                let per_byte = usize::from(8 / depth);
                let mask = (1u8 << depth) - 1;
                for (i, px) in dst.iter_mut().enumerate() {
                    let byte = src.get(i / per_byte).copied().unwrap_or(0);
                    let shift = 8 - depth * (1 + (i % per_byte) as u8);
                    *px = (byte >> shift) & mask;
                }
            }
            8 => {
                let row = src.get(..width).ok_or_else(|| err("row is truncated"))?;
                dst.copy_from_slice(row);
            }
            24 => {
                for (px, bgr) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
                    if let ([r, g, b], [sb, sg, sr]) = (px, bgr) {
                        (*r, *g, *b) = (*sr, *sg, *sb);
                    }
                }
            }
            _ => {
                let [ri, gi, bi, ai] = l.byte_order;
                for (px, src) in dst.chunks_exact_mut(channels).zip(src.chunks_exact(4)) {
                    for (slot, &i) in px.iter_mut().zip([ri, gi, bi, ai].iter()) {
                        *slot = src.get(i).copied().unwrap_or(0);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Decodes a BMP into a new buffer, returning the header info with it.
pub fn decode(data: &[u8]) -> Result<(ImageInfo, Vec<u8>)> {
    super::decode_to_vec(data, probe, decode_into)
}

/// Encodes `height × width × channels` `u8` samples (1 or 3 channels) as Pillow saves them.
///
/// Four channels are refused: Pillow writes RGBA as a 32-bit `BI_RGB` BMP that it (and so
/// deeplake) reads back as RGB, losing the alpha channel.
pub fn encode(pixels: &[u8], height: usize, width: usize, channels: usize) -> Result<Vec<u8>> {
    let bits: usize = match channels {
        1 => 8,
        3 => 24,
        _ => {
            return Err(Error::invalid(format!(
                "BMP stores 1 (grey) or 3 (RGB) channels, got {channels} (a 4-channel BMP \
                 reads back as RGB in Pillow and deeplake)"
            )))
        }
    };
    if height == 0 || width == 0 || height > i32::MAX as usize || width > i32::MAX as usize {
        return Err(Error::invalid(format!(
            "cannot encode a {height}x{width} image as BMP"
        )));
    }
    let expected = height
        .checked_mul(width)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| Error::invalid("image is too large"))?;
    if pixels.len() != expected {
        return Err(Error::invalid(format!(
            "expected {expected} samples for a {height}x{width}x{channels} image, got {}",
            pixels.len()
        )));
    }
    let stride = ((width * bits).div_ceil(8) + 3) & !3;
    let colors: usize = if channels == 1 { 256 } else { 0 };
    let offset = FILE_HEADER + INFO_HEADER + colors * 4;
    let image = stride
        .checked_mul(height)
        .ok_or_else(|| Error::invalid("image is too large"))?;
    let file_size = u32::try_from(offset + image)
        .map_err(|_| Error::invalid("image is too large for a BMP file"))?;
    let mut out = Vec::with_capacity(offset + image);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&file_size.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(offset as u32).to_le_bytes());
    out.extend_from_slice(&(INFO_HEADER as u32).to_le_bytes());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(height as u32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&(bits as u16).to_le_bytes());
    out.extend_from_slice(&BI_RGB.to_le_bytes());
    out.extend_from_slice(&(image as u32).to_le_bytes());
    out.extend_from_slice(&PPM_96_DPI.to_le_bytes());
    out.extend_from_slice(&PPM_96_DPI.to_le_bytes());
    out.extend_from_slice(&(colors as u32).to_le_bytes());
    out.extend_from_slice(&(colors as u32).to_le_bytes());
    for i in 0..colors {
        // Pillow's grey palette repeats the level in all four bytes.
        out.extend_from_slice(&[i as u8; 4]);
    }
    let row = width * channels;
    let pad = stride - row;
    for src in pixels.chunks_exact(row).rev() {
        if channels == 1 {
            out.extend_from_slice(src);
        } else {
            for rgb in src.chunks_exact(3) {
                if let [r, g, b] = rgb {
                    out.extend_from_slice(&[*b, *g, *r]);
                }
            }
        }
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_rgb_and_gray() {
        let px: Vec<u8> = (0..5 * 7 * 3).map(|i| (i * 11) as u8).collect();
        let bmp = encode(&px, 5, 7, 3).unwrap();
        assert_eq!(bmp.len(), 174); // what Pillow writes for a 5x7 RGB image
        let (info, out) = decode(&bmp).unwrap();
        assert_eq!(info.shape(), vec![5, 7, 3]);
        assert_eq!(out, px);
        let gray: Vec<u8> = (0..5 * 7).map(|i| (i * 5) as u8).collect();
        let bmp = encode(&gray, 5, 7, 1).unwrap();
        assert_eq!(bmp.len(), 1118);
        let (info, out) = decode(&bmp).unwrap();
        assert_eq!(info.shape(), vec![5, 7]);
        assert_eq!(out, gray);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(encode(&[0; 8], 1, 2, 4).is_err());
        assert!(encode(&[0; 2], 1, 1, 1).is_err());
        let bmp = encode(&[9; 4 * 4 * 3], 4, 4, 3).unwrap();
        assert!(decode(&bmp[..bmp.len() - 1]).is_err());
        for n in 0..60 {
            let _ = probe(&bmp[..n]);
        }
        assert!(decode_into(&bmp, &mut [0u8; 3]).is_err());
    }
}
