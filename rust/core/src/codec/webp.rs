//! WebP through `image-webp` (pure Rust): lossy and lossless decoding, lossless encoding.
//!
//! Decoding gives what Pillow (libwebp) gives: RGB `(H, W, 3)`, or RGBA `(H, W, 4)` when the
//! file has alpha. Lossy files are upsampled with libwebp's default "fancy" (bilinear) chroma
//! upsampling. Animated files are refused.
//!
//! Encoding is lossless (VP8L): Pillow's default is lossy at quality 80, so a WebP that shoal
//! writes is larger than deeplake's but decodes to exactly the array given. WebP has no grey
//! mode (Pillow saves grey as RGB, which deeplake then cannot reshape back), so only RGB and
//! RGBA arrays are encoded.

use std::io::Cursor;

use image_webp::{ColorType, WebPDecoder, WebPEncoder};

use super::{ImageFormat, ImageInfo, PixelType};
use crate::{Error, Result};

const CODEC: &str = "webp";
/// The largest side a WebP image can have.
const MAX_SIDE: usize = 16_383;

fn err(e: impl std::fmt::Display) -> Error {
    Error::codec(CODEC, e)
}

fn open(data: &[u8]) -> Result<(ImageInfo, WebPDecoder<Cursor<&[u8]>>)> {
    if !is_webp(data) {
        return Err(err("missing RIFF/WEBP signature"));
    }
    let decoder = WebPDecoder::new(Cursor::new(data)).map_err(err)?;
    if decoder.is_animated() {
        return Err(err("animated WebP is not supported"));
    }
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(err(format!("invalid image size {width}x{height}")));
    }
    let info = ImageInfo {
        format: ImageFormat::Webp,
        height,
        width,
        channels: if decoder.has_alpha() { 4 } else { 3 },
        dtype: PixelType::U8,
    };
    Ok((info, decoder))
}

/// Whether `data` starts like a WebP file (`RIFF....WEBP`).
pub fn is_webp(data: &[u8]) -> bool {
    data.get(..4) == Some(b"RIFF".as_slice()) && data.get(8..12) == Some(b"WEBP".as_slice())
}

/// Reads only the headers.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    super::guarded(CODEC, || open(data).map(|(info, _)| info))
}

/// Decodes a WebP into `out`, which must be exactly the decoded size (see [`probe`]).
pub fn decode_into(data: &[u8], out: &mut [u8]) -> Result<()> {
    super::guarded(CODEC, || {
        let (info, mut decoder) = open(data)?;
        info.check_output(out)?;
        decoder.read_image(out).map_err(err)
    })
}

/// Decodes a WebP into a new buffer, returning the header info with it.
pub fn decode(data: &[u8]) -> Result<(ImageInfo, Vec<u8>)> {
    super::decode_to_vec(data, probe, decode_into)
}

/// Encodes `height × width × channels` `u8` samples (3 or 4 channels) as a lossless WebP.
pub fn encode(pixels: &[u8], height: usize, width: usize, channels: usize) -> Result<Vec<u8>> {
    let color = match channels {
        3 => ColorType::Rgb8,
        4 => ColorType::Rgba8,
        _ => {
            return Err(Error::invalid(format!(
                "WebP stores 3 (RGB) or 4 (RGBA) channels, got {channels} (WebP has no grey \
                 mode: a grey image saved by Pillow reads back as RGB)"
            )))
        }
    };
    if height == 0 || width == 0 || height > MAX_SIDE || width > MAX_SIDE {
        return Err(Error::invalid(format!(
            "cannot encode a {height}x{width} image as WebP (sides must be 1..={MAX_SIDE})"
        )));
    }
    let expected = height * width * channels;
    if pixels.len() != expected {
        return Err(Error::invalid(format!(
            "expected {expected} samples for a {height}x{width}x{channels} image, got {}",
            pixels.len()
        )));
    }
    let mut out = Vec::with_capacity(expected / 2 + 64);
    // Sizes are checked above: the encoder panics on data of the wrong size.
    WebPEncoder::new(&mut out)
        .encode(pixels, width as u32, height as u32, color)
        .map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossless_round_trip_rgb_and_rgba() {
        for c in [3, 4] {
            let px: Vec<u8> = (0..6 * 9 * c).map(|i| (i * 13) as u8).collect();
            let webp = encode(&px, 6, 9, c).unwrap();
            let (info, out) = decode(&webp).unwrap();
            assert_eq!(info.shape(), vec![6, 9, c]);
            assert_eq!(out, px);
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(encode(&[0; 4], 2, 2, 1).is_err());
        assert!(encode(&[0; 5], 1, 1, 3).is_err());
        let webp = encode(&[1; 8 * 8 * 3], 8, 8, 3).unwrap();
        assert!(decode(&webp[..webp.len() - 3]).is_err());
        for n in 0..webp.len() {
            let _ = decode(&webp[..n]);
        }
        assert!(decode_into(&webp, &mut [0u8; 3]).is_err());
    }
}
