//! JPEG through the system libjpeg-turbo (TurboJPEG API), so decoded pixels are bit-identical
//! to Pillow's: TurboJPEG's defaults are libjpeg's (ISLOW DCT, fancy upsampling).
//!
//! Greyscale JPEGs decode to `(H, W)`, three-component ones to RGB `(H, W, 3)`. CMYK/YCCK
//! JPEGs are refused (Pillow would give CMYK, which shoal does not model).

use super::{ImageFormat, ImageInfo, PixelType};
use crate::{Error, Result};

const CODEC: &str = "jpeg";

fn err(e: impl std::fmt::Display) -> Error {
    Error::codec(CODEC, e)
}

/// Reads the frame header (SOFn) without touching the entropy-coded data.
///
/// This is the marker walk libjpeg does in `jpeg_read_header`, so the size agrees with what
/// the decoder will produce.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(err("missing SOI marker"));
    }
    let truncated = || err("header is truncated before the frame header");
    let mut pos = 2usize;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if data.get(pos) != Some(&0xFF) {
            return Err(err(format!("expected a marker at byte {pos}")));
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos).ok_or_else(truncated)?;
        pos += 1;
        match marker {
            // Standalone markers: TEM, RSTn, a second SOI.
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 | 0xDA => return Err(err("no frame header before the scan data")),
            _ => {}
        }
        let Some(&[l0, l1]) = data.get(pos..pos + 2) else {
            return Err(truncated());
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len < 2 {
            return Err(err(format!("marker segment length {len} is invalid")));
        }
        let is_sof = matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
        if is_sof {
            let body = data.get(pos + 2..pos + len).ok_or_else(truncated)?;
            return match body {
                [precision, h0, h1, w0, w1, ncomp, ..] => {
                    if *precision != 8 {
                        return Err(err(format!("{precision}-bit JPEG is not supported")));
                    }
                    let height = u32::from(u16::from_be_bytes([*h0, *h1]));
                    let width = u32::from(u16::from_be_bytes([*w0, *w1]));
                    if height == 0 || width == 0 {
                        return Err(err(format!("invalid image size {width}x{height}")));
                    }
                    let channels = match ncomp {
                        1 => 1,
                        3 => 3,
                        n => {
                            return Err(err(format!(
                                "{n}-component (e.g. CMYK) JPEG is not supported"
                            )))
                        }
                    };
                    Ok(ImageInfo {
                        format: ImageFormat::Jpeg,
                        height,
                        width,
                        channels,
                        dtype: PixelType::U8,
                    })
                }
                _ => Err(err("frame header is too short")),
            };
        }
        pos = pos.checked_add(len).ok_or_else(truncated)?;
    }
}

/// A reusable TurboJPEG decompressor (one per thread), created on first use.
#[derive(Default)]
pub struct JpegDecoder {
    inner: Option<turbojpeg::Decompressor>,
}

impl std::fmt::Debug for JpegDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpegDecoder").finish_non_exhaustive()
    }
}

impl JpegDecoder {
    /// A decoder with no TurboJPEG handle yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn handle(&mut self) -> Result<&mut turbojpeg::Decompressor> {
        if self.inner.is_none() {
            self.inner = Some(turbojpeg::Decompressor::new().map_err(err)?);
        }
        self.inner.as_mut().ok_or_else(|| err("no decompressor"))
    }

    /// Reads only the header; see [`probe`].
    pub fn info(&mut self, data: &[u8]) -> Result<ImageInfo> {
        probe(data)
    }

    /// Decodes into `out`, which must be exactly the decoded size (see [`probe`]).
    pub fn decode_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let image = probe(data)?;
        image.check_output(out)?;
        let width = image.width as usize;
        let (format, pitch) = if image.channels == 1 {
            (turbojpeg::PixelFormat::GRAY, width)
        } else {
            (turbojpeg::PixelFormat::RGB, width * 3)
        };
        let target = turbojpeg::Image {
            pixels: out,
            width,
            pitch,
            height: image.height as usize,
            format,
        };
        // `check_output` made `out` exactly pitch * height bytes, which is what the crate
        // asserts on; warnings (e.g. truncated data) are errors in TurboJPEG 2.x.
        self.handle()?.decompress(data, target).map_err(err)
    }
}

/// Decodes a JPEG into a new buffer, returning the header info with it.
pub fn decode(data: &[u8]) -> Result<(ImageInfo, Vec<u8>)> {
    let image = probe(data)?;
    let mut out = vec![0u8; image.nbytes()?];
    JpegDecoder::new().decode_into(data, &mut out)?;
    Ok((image, out))
}

/// Encodes `height × width × channels` `u8` samples (1 or 3 channels) as a baseline JPEG with
/// 4:2:0 chroma subsampling, as Pillow does by default.
pub fn encode(
    pixels: &[u8],
    height: usize,
    width: usize,
    channels: usize,
    quality: i32,
) -> Result<Vec<u8>> {
    if !(1..=100).contains(&quality) {
        return Err(Error::invalid(format!(
            "JPEG quality must be in 1..=100, got {quality}"
        )));
    }
    if height == 0 || width == 0 || height > 65_535 || width > 65_535 {
        return Err(Error::invalid(format!(
            "cannot encode a {height}x{width} image as JPEG (sides must be 1..=65535)"
        )));
    }
    let (format, subsamp) = match channels {
        1 => (turbojpeg::PixelFormat::GRAY, turbojpeg::Subsamp::Gray),
        3 => (turbojpeg::PixelFormat::RGB, turbojpeg::Subsamp::Sub2x2),
        _ => {
            return Err(Error::invalid(format!(
                "JPEG needs 1 or 3 channels, got {channels}"
            )))
        }
    };
    let expected = height * width * channels;
    if pixels.len() != expected {
        return Err(Error::invalid(format!(
            "expected {expected} samples for a {height}x{width}x{channels} image, got {}",
            pixels.len()
        )));
    }
    let mut compressor = turbojpeg::Compressor::new().map_err(err)?;
    compressor.set_quality(quality);
    compressor.set_subsamp(subsamp);
    let image = turbojpeg::Image {
        pixels,
        width,
        pitch: width * channels,
        height,
        format,
    };
    compressor.compress_to_vec(image).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_rgb_and_gray() {
        let px: Vec<u8> = (0..16 * 24 * 3).map(|i| (i % 200) as u8).collect();
        let jpg = encode(&px, 16, 24, 3, 90).unwrap();
        let (info, out) = decode(&jpg).unwrap();
        assert_eq!(info.shape(), vec![16, 24, 3]);
        assert_eq!(out.len(), px.len());
        let gray = vec![128u8; 8 * 8];
        let jpg = encode(&gray, 8, 8, 1, 75).unwrap();
        let (info, out) = decode(&jpg).unwrap();
        assert_eq!(info.shape(), vec![8, 8]);
        assert!(out.iter().all(|&v| v.abs_diff(128) <= 1));
    }

    #[test]
    fn truncated_and_bad_sizes_are_errors() {
        let px = vec![7u8; 32 * 32 * 3];
        let jpg = encode(&px, 32, 32, 3, 75).unwrap();
        assert!(decode(&jpg[..jpg.len() / 2]).is_err());
        assert!(JpegDecoder::new()
            .decode_into(&jpg, &mut [0u8; 10])
            .is_err());
        for n in 0..40 {
            let _ = probe(&jpg[..n]);
        }
        assert!(encode(&px, 32, 32, 3, 0).is_err());
        assert!(encode(&px, 32, 32, 2, 75).is_err());
    }
}
