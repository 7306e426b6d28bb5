//! PNG through the `png` crate (fdeflate inflate fast path), matching what Pillow's
//! `np.asarray(Image.open(...))` gives:
//!
//! * no palette expansion: palette images decode to their indices, `(H, W)` `uint8`;
//! * 16-bit samples become native-endian `uint16` (PNG stores them big-endian);
//! * sub-byte depths are unpacked to one byte per sample: palette indices as they are,
//!   2- and 4-bit grey scaled to 0..255 like Pillow's `L;2` / `L;4`, 1-bit grey as 0/1 like
//!   the boolean array of Pillow's mode `1`;
//! * one channel gives a 2-D `(H, W)` array, more give `(H, W, C)`.

use std::io::Cursor;

use png::{BitDepth, ColorType, Transformations};

use super::{ImageFormat, ImageInfo, PixelType};
use crate::{Error, Result};

const CODEC: &str = "png";

/// The 8-byte PNG signature.
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn err(e: impl std::fmt::Display) -> Error {
    Error::codec(CODEC, e)
}

/// Channels and output dtype for a PNG colour type and bit depth, validating the pair.
fn layout(color: u8, depth: u8) -> Result<(u8, PixelType)> {
    let channels = match (color, depth) {
        (0, 1 | 2 | 4 | 8 | 16) | (3, 1 | 2 | 4 | 8) => 1,
        (4, 8 | 16) => 2,
        (2, 8 | 16) => 3,
        (6, 8 | 16) => 4,
        _ => {
            return Err(err(format!(
                "invalid colour type {color} with bit depth {depth}"
            )))
        }
    };
    let dtype = if depth == 16 {
        PixelType::U16
    } else {
        PixelType::U8
    };
    Ok((channels, dtype))
}

fn info(width: u32, height: u32, color: u8, depth: u8) -> Result<ImageInfo> {
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(err(format!("invalid image size {width}x{height}")));
    }
    let (channels, dtype) = layout(color, depth)?;
    Ok(ImageInfo {
        format: ImageFormat::Png,
        height,
        width,
        channels,
        dtype,
    })
}

fn be_u32(bytes: Option<&[u8]>) -> Result<u32> {
    let bytes = bytes.ok_or_else(|| err("header is truncated"))?;
    let mut a = [0u8; 4];
    if bytes.len() != 4 {
        return Err(err("header is truncated"));
    }
    a.copy_from_slice(bytes);
    Ok(u32::from_be_bytes(a))
}

/// Reads the IHDR chunk only.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    if !data.starts_with(&SIGNATURE) {
        return Err(err("missing PNG signature"));
    }
    if be_u32(data.get(8..12))? != 13 || data.get(12..16) != Some(b"IHDR".as_slice()) {
        return Err(err("first chunk is not a 13-byte IHDR"));
    }
    let width = be_u32(data.get(16..20))?;
    let height = be_u32(data.get(20..24))?;
    match data.get(24..26) {
        Some(&[depth, color]) => info(width, height, color, depth),
        _ => Err(err("header is truncated")),
    }
}

/// Decodes a PNG into `out`, which must be exactly the decoded size (see [`probe`]).
pub fn decode_into(data: &[u8], out: &mut [u8]) -> Result<()> {
    let mut decoder = png::Decoder::new(Cursor::new(data));
    decoder.set_transformations(Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(err)?;
    let (width, height, color, depth) = {
        let i = reader.info();
        (i.width, i.height, i.color_type as u8, i.bit_depth as u8)
    };
    let image = info(width, height, color, depth)?;
    image.check_output(out)?;
    match reader.info().bit_depth {
        BitDepth::Eight => {
            reader.next_frame(out).map_err(err)?;
        }
        BitDepth::Sixteen => {
            reader.next_frame(out).map_err(err)?;
            for pair in out.chunks_exact_mut(2) {
                if let [hi, lo] = pair {
                    let v = u16::from_be_bytes([*hi, *lo]).to_ne_bytes();
                    *hi = v[0];
                    *lo = v[1];
                }
            }
        }
        BitDepth::One | BitDepth::Two | BitDepth::Four => {
            let size = reader
                .output_buffer_size()
                .ok_or_else(|| err("image does not fit in memory"))?;
            let mut packed = vec![0u8; size];
            let frame = reader.next_frame(&mut packed).map_err(err)?;
            let scale = match (reader.info().color_type, depth) {
                (ColorType::Grayscale, 2) => 0x55,
                (ColorType::Grayscale, 4) => 0x11,
                _ => 1,
            };
            unpack(&packed, frame.line_size, depth, scale, width as usize, out)?;
        }
    }
    Ok(())
}

/// Unpacks rows of `depth`-bit samples (MSB first) into one byte per sample.
fn unpack(
    packed: &[u8],
    line_size: usize,
    depth: u8,
    scale: u8,
    width: usize,
    out: &mut [u8],
) -> Result<()> {
    if line_size == 0 || width == 0 {
        return Err(err("empty image rows"));
    }
    let per_byte = usize::from(8 / depth);
    let mask = (1u8 << depth) - 1;
    for (src, dst) in packed
        .chunks_exact(line_size)
        .zip(out.chunks_exact_mut(width))
    {
        for (i, px) in dst.iter_mut().enumerate() {
            let byte = src.get(i / per_byte).copied().unwrap_or(0);
            let shift = 8 - depth * (1 + (i % per_byte) as u8);
            *px = ((byte >> shift) & mask) * scale;
        }
    }
    Ok(())
}

/// Decodes a PNG into a new buffer, returning the header info with it.
pub fn decode(data: &[u8]) -> Result<(ImageInfo, Vec<u8>)> {
    super::decode_to_vec(data, probe, decode_into)
}

/// Pixels to encode: `u8` bytes or native-endian `u16` samples.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// 8-bit samples.
    U8(&'a [u8]),
    /// 16-bit samples.
    U16(&'a [u16]),
}

/// Encodes `height × width × channels` samples (channels 1 to 4) as a PNG.
pub fn encode(pixels: Pixels<'_>, height: usize, width: usize, channels: usize) -> Result<Vec<u8>> {
    let color = match channels {
        1 => ColorType::Grayscale,
        2 => ColorType::GrayscaleAlpha,
        3 => ColorType::Rgb,
        4 => ColorType::Rgba,
        _ => {
            return Err(Error::invalid(format!(
                "PNG needs 1 to 4 channels, got {channels}"
            )))
        }
    };
    let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 && w <= i32::MAX as u32 && h <= i32::MAX as u32 => (w, h),
        _ => {
            return Err(Error::invalid(format!(
                "cannot encode a {height}x{width} image as PNG"
            )))
        }
    };
    let samples = height
        .checked_mul(width)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| Error::invalid("image is too large"))?;
    let (depth, be16);
    let bytes: &[u8] = match pixels {
        Pixels::U8(p) if p.len() == samples => {
            depth = BitDepth::Eight;
            p
        }
        Pixels::U16(p) if p.len() == samples => {
            depth = BitDepth::Sixteen;
            be16 = p.iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
            &be16
        }
        _ => {
            return Err(Error::invalid(format!(
                "expected {samples} samples for a {height}x{width}x{channels} image"
            )))
        }
    };
    let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(color);
    encoder.set_depth(depth);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(bytes).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_u8_and_u16() {
        let px: Vec<u8> = (0..4 * 5 * 3).map(|i| (i * 7) as u8).collect();
        let png = encode(Pixels::U8(&px), 4, 5, 3).unwrap();
        let (info, out) = decode(&png).unwrap();
        assert_eq!(info.shape(), vec![4, 5, 3]);
        assert_eq!(out, px);
        let px16: Vec<u16> = (0..6 * 2).map(|i| (i * 5000) as u16).collect();
        let png = encode(Pixels::U16(&px16), 6, 2, 1).unwrap();
        let (info, out) = decode(&png).unwrap();
        assert_eq!((info.shape(), info.dtype), (vec![6, 2], PixelType::U16));
        let back: Vec<u16> = out
            .chunks_exact(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(back, px16);
    }

    #[test]
    fn wrong_output_size_is_an_error() {
        let png = encode(Pixels::U8(&[1, 2, 3, 4]), 2, 2, 1).unwrap();
        assert!(decode_into(&png, &mut [0u8; 5]).is_err());
        assert!(decode_into(&png, &mut [0u8; 3]).is_err());
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(encode(Pixels::U8(&[]), 0, 2, 1).is_err());
        assert!(encode(Pixels::U8(&[1, 2]), 1, 1, 1).is_err());
        assert!(encode(Pixels::U8(&[1; 5]), 1, 1, 5).is_err());
    }

    #[test]
    fn unpacks_sub_byte_rows() {
        let mut out = [0u8; 6];
        unpack(&[0b1011_0100, 0b0100_0000], 2, 2, 0x55, 6, &mut out).unwrap();
        assert_eq!(out, [0xAA, 0xFF, 0x55, 0, 0x55, 0]);
    }
}
