//! Sample codecs: lz4 (the Deep Lake block layout), png, jpeg, bmp, tiff and webp, plus a
//! header-only image probe.

pub mod bmp;
pub mod jpeg;
pub mod lz4;
mod lz4_block;
pub mod png;
pub mod tiff;
pub mod webp;

use crate::{Error, Result};

/// Largest image, in pixels, that shoal decodes: Pillow's decompression-bomb limit
/// (`2 * Image.MAX_IMAGE_PIXELS`), past which deeplake itself cannot read an image either. It
/// also keeps a corrupt header from asking for a huge allocation.
pub const MAX_IMAGE_PIXELS: u64 = 2 * 89_478_485;

/// An image container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (JFIF / EXIF).
    Jpeg,
    /// Windows bitmap.
    Bmp,
    /// TIFF (first image).
    Tiff,
    /// WebP (still).
    Webp,
}

impl ImageFormat {
    /// The lower-case name, as Deep Lake spells the compression.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Webp => "webp",
        }
    }

    /// The format a Deep Lake compression name (or alias) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "png" => Some(Self::Png),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "bmp" => Some(Self::Bmp),
            "tiff" | "tif" => Some(Self::Tiff),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

/// The element type of decoded pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelType {
    /// `uint8`.
    U8,
    /// `uint16`, native byte order.
    U16,
}

impl PixelType {
    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
        }
    }

    /// The numpy dtype name.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "uint8",
            Self::U16 => "uint16",
        }
    }
}

/// What an image header says about the decoded pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// The container format.
    pub format: ImageFormat,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Samples per pixel (1 to 4).
    pub channels: u8,
    /// Element type of the decoded samples.
    pub dtype: PixelType,
}

impl ImageInfo {
    /// The decoded array shape: `(H, W)` for one channel, else `(H, W, C)`.
    pub fn shape(&self) -> Vec<usize> {
        let (h, w) = (self.height as usize, self.width as usize);
        if self.channels == 1 {
            vec![h, w]
        } else {
            vec![h, w, usize::from(self.channels)]
        }
    }

    /// Number of pixels.
    pub fn pixels(&self) -> u64 {
        u64::from(self.height) * u64::from(self.width)
    }

    /// Size of the decoded pixels in bytes; fails past [`MAX_IMAGE_PIXELS`].
    pub fn nbytes(&self) -> Result<usize> {
        let codec = self.format.name();
        if self.pixels() > MAX_IMAGE_PIXELS {
            return Err(Error::codec(
                codec,
                format!(
                    "{}x{} image exceeds the {MAX_IMAGE_PIXELS}-pixel limit",
                    self.width, self.height
                ),
            ));
        }
        let n = self.pixels() * u64::from(self.channels) * self.dtype.size() as u64;
        usize::try_from(n).map_err(|_| Error::codec(codec, "image does not fit in memory"))
    }

    /// Checks that `out` is exactly the decoded size.
    pub(crate) fn check_output(&self, out: &[u8]) -> Result<()> {
        let n = self.nbytes()?;
        if n != out.len() {
            return Err(Error::codec(
                self.format.name(),
                format!(
                    "image {:?} {} decodes to {n} bytes, but {} bytes were expected",
                    self.shape(),
                    self.dtype.name(),
                    out.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Runs a third-party decoder on untrusted bytes: a panic inside it (none is known; the
/// property tests and the fuzz target look for them) becomes a codec error instead of
/// unwinding into the caller.
pub(crate) fn guarded<T>(codec: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::codec(codec, "the decoder failed on malformed input")))
}

/// Decodes a whole file into a new buffer with a format's `probe` (its header: shape and
/// pixel type) and `decode_into`, returning the header info with it.
pub(crate) fn decode_to_vec(
    data: &[u8],
    probe: fn(&[u8]) -> Result<ImageInfo>,
    decode_into: fn(&[u8], &mut [u8]) -> Result<()>,
) -> Result<(ImageInfo, Vec<u8>)> {
    let image = probe(data)?;
    let mut out = vec![0u8; image.nbytes()?];
    decode_into(data, &mut out)?;
    Ok((image, out))
}

/// The image format of `data`, from its magic bytes.
pub fn sniff(data: &[u8]) -> Option<ImageFormat> {
    if data.starts_with(&png::SIGNATURE) {
        Some(ImageFormat::Png)
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if data.starts_with(b"BM") {
        Some(ImageFormat::Bmp)
    } else if tiff::is_tiff(data) {
        Some(ImageFormat::Tiff)
    } else if webp::is_webp(data) {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// Reads only an image's header. Shapes follow each format's `decode_into`.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    match sniff(data) {
        Some(format) => probe_as(format, data),
        None => Err(Error::codec(
            "image",
            "not a PNG, JPEG, BMP, TIFF or WebP (unknown magic bytes)",
        )),
    }
}

/// Reads only the header of an image of a known format.
pub fn probe_as(format: ImageFormat, data: &[u8]) -> Result<ImageInfo> {
    match format {
        ImageFormat::Png => png::probe(data),
        ImageFormat::Jpeg => jpeg::probe(data),
        ImageFormat::Bmp => bmp::probe(data),
        ImageFormat::Tiff => tiff::probe(data),
        ImageFormat::Webp => webp::probe(data),
    }
}

/// Decodes a BMP, TIFF or WebP (the formats without reusable decoder state) into `out`, which
/// must be exactly the decoded size. PNG and JPEG are decoded by their own modules.
pub fn decode_into(format: ImageFormat, data: &[u8], out: &mut [u8]) -> Result<()> {
    match format {
        ImageFormat::Png => png::decode_into(data, out),
        ImageFormat::Jpeg => jpeg::JpegDecoder::new().decode_into(data, out),
        ImageFormat::Bmp => bmp::decode_into(data, out),
        ImageFormat::Tiff => tiff::decode_into(data, out),
        ImageFormat::Webp => webp::decode_into(data, out),
    }
}
