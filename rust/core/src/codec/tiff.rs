//! TIFF through the `tiff` crate: the first image of a file, as Pillow's
//! `np.asarray(Image.open(...))` gives it: grey `(H, W)` (8 or 16 bits), grey+alpha
//! `(H, W, 2)`, RGB `(H, W, 3)` and RGBA `(H, W, 4)` (8 bits). Strips or tiles, uncompressed,
//! PackBits, LZW or deflate. Palette, planar, CMYK, YCbCr, bilevel and float images are
//! refused (the `tiff` crate does not read palette pixels; deeplake never writes them).
//!
//! Encoding writes one uncompressed strip image, as Pillow saves by default.

use std::io::Cursor;

use tiff::decoder::{Decoder, Limits};
use tiff::encoder::{colortype, TiffEncoder};
use tiff::tags::{PlanarConfiguration, Tag};

use super::{ImageFormat, ImageInfo, PixelType, MAX_IMAGE_PIXELS};
use crate::{Error, Result};

const CODEC: &str = "tiff";

fn err(e: impl std::fmt::Display) -> Error {
    Error::codec(CODEC, e)
}

/// Whether `data` starts like a TIFF file (little- or big-endian, classic or BigTIFF).
pub fn is_tiff(data: &[u8]) -> bool {
    matches!(
        data.get(..4),
        Some(b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+")
    )
}

fn open(data: &[u8]) -> Result<(ImageInfo, Decoder<Cursor<&[u8]>>)> {
    if !is_tiff(data) {
        return Err(err("missing II*/MM* signature"));
    }
    let mut limits = Limits::default();
    // The decoded image is bounded by MAX_IMAGE_PIXELS below; a strip buffer never exceeds it.
    limits.decoding_buffer_size = (MAX_IMAGE_PIXELS * 8) as usize;
    let mut decoder = Decoder::new(Cursor::new(data))
        .map_err(err)?
        .with_limits(limits);
    let (width, height) = decoder.dimensions().map_err(err)?;
    if width == 0 || height == 0 {
        return Err(err(format!("invalid image size {width}x{height}")));
    }
    let planar = decoder
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(err)?;
    if planar == Some(PlanarConfiguration::Planar.to_u16()) {
        return Err(err("planar (band-separated) TIFF is not supported"));
    }
    let (channels, dtype) = match decoder.colortype().map_err(err)? {
        tiff::ColorType::Gray(8) => (1, PixelType::U8),
        tiff::ColorType::Gray(16) => (1, PixelType::U16),
        // Pillow writes grey+alpha with unspecified extra samples, which the crate calls
        // multiband; Pillow reads both as LA.
        tiff::ColorType::GrayA(8)
        | tiff::ColorType::Multiband {
            bit_depth: 8,
            num_samples: 2,
        } => (2, PixelType::U8),
        tiff::ColorType::RGB(8) => (3, PixelType::U8),
        tiff::ColorType::RGBA(8) => (4, PixelType::U8),
        other => return Err(err(format!("{other:?} TIFF is not supported"))),
    };
    let info = ImageInfo {
        format: ImageFormat::Tiff,
        height,
        width,
        channels,
        dtype,
    };
    Ok((info, decoder))
}

/// Reads only the first image's directory.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    super::guarded(CODEC, || open(data).map(|(info, _)| info))
}

/// Decodes a TIFF into `out`, which must be exactly the decoded size (see [`probe`]).
/// 16-bit samples come out native-endian.
pub fn decode_into(data: &[u8], out: &mut [u8]) -> Result<()> {
    super::guarded(CODEC, || {
        let (info, mut decoder) = open(data)?;
        info.check_output(out)?;
        decoder.read_image_bytes(out).map_err(err)
    })
}

/// Decodes a TIFF into a new buffer, returning the header info with it.
pub fn decode(data: &[u8]) -> Result<(ImageInfo, Vec<u8>)> {
    super::decode_to_vec(data, probe, decode_into)
}

/// Pixels to encode: `u8` bytes or native-endian `u16` samples (grey only).
pub use super::png::Pixels;

/// Encodes `height × width × channels` samples as an uncompressed TIFF: `u8` with 1, 3 or 4
/// channels, or `u16` grey.
pub fn encode(pixels: Pixels<'_>, height: usize, width: usize, channels: usize) -> Result<Vec<u8>> {
    let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => {
            return Err(Error::invalid(format!(
                "cannot encode a {height}x{width} image as TIFF"
            )))
        }
    };
    let samples = height
        .checked_mul(width)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| Error::invalid("image is too large"))?;
    let len = match pixels {
        Pixels::U8(p) => p.len(),
        Pixels::U16(p) => p.len(),
    };
    if len != samples {
        return Err(Error::invalid(format!(
            "expected {samples} samples for a {height}x{width}x{channels} image, got {len}"
        )));
    }
    let mut out = Cursor::new(Vec::with_capacity(samples + 256));
    let mut encoder = TiffEncoder::new(&mut out).map_err(err)?;
    match (pixels, channels) {
        (Pixels::U8(p), 1) => encoder.write_image::<colortype::Gray8>(w, h, p),
        (Pixels::U8(p), 3) => encoder.write_image::<colortype::RGB8>(w, h, p),
        (Pixels::U8(p), 4) => encoder.write_image::<colortype::RGBA8>(w, h, p),
        (Pixels::U16(p), 1) => encoder.write_image::<colortype::Gray16>(w, h, p),
        (Pixels::U8(_), _) => {
            return Err(Error::invalid(format!(
                "TIFF stores 1, 3 or 4 uint8 channels, got {channels}"
            )))
        }
        (Pixels::U16(_), _) => {
            return Err(Error::invalid(format!(
                "TIFF stores uint16 as one (grey) channel, got {channels}"
            )))
        }
    }
    .map_err(err)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_u8_and_u16() {
        for c in [1, 3, 4] {
            let px: Vec<u8> = (0..5 * 7 * c).map(|i| (i * 3) as u8).collect();
            let tif = encode(Pixels::U8(&px), 5, 7, c).unwrap();
            let (info, out) = decode(&tif).unwrap();
            assert_eq!(info.shape().iter().product::<usize>(), 5 * 7 * c);
            assert_eq!(out, px);
        }
        let px16: Vec<u16> = (0..4 * 3).map(|i| (i * 4000) as u16).collect();
        let tif = encode(Pixels::U16(&px16), 4, 3, 1).unwrap();
        let (info, out) = decode(&tif).unwrap();
        assert_eq!((info.shape(), info.dtype), (vec![4, 3], PixelType::U16));
        let back: Vec<u16> = out
            .chunks_exact(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(back, px16);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(encode(Pixels::U8(&[0; 4]), 2, 1, 2).is_err());
        assert!(encode(Pixels::U16(&[0; 6]), 2, 1, 3).is_err());
        let tif = encode(Pixels::U8(&[1; 8 * 8 * 3]), 8, 8, 3).unwrap();
        for n in 0..tif.len() {
            let _ = decode(&tif[..n]);
        }
        assert!(decode_into(&tif, &mut [0u8; 3]).is_err());
    }
}
