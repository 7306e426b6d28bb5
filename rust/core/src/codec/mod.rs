//! Sample codecs: lz4 (the Deep Lake block layout), png and jpeg, plus a header-only image
//! probe.

pub mod jpeg;
pub mod lz4;
mod lz4_block;
pub mod png;

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
}

impl ImageFormat {
    /// The lower-case name, as Deep Lake spells the compression.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
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

/// The image format of `data`, from its magic bytes.
pub fn sniff(data: &[u8]) -> Option<ImageFormat> {
    if data.starts_with(&png::SIGNATURE) {
        Some(ImageFormat::Png)
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else {
        None
    }
}

/// Reads only an image's header. Shapes follow [`png::decode_into`] and
/// [`jpeg::JpegDecoder::decode_into`].
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    match sniff(data) {
        Some(ImageFormat::Png) => png::probe(data),
        Some(ImageFormat::Jpeg) => jpeg::JpegDecoder::new().info(data),
        None => Err(Error::codec(
            "image",
            "not a PNG or JPEG (unknown magic bytes)",
        )),
    }
}
