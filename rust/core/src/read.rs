//! A bounds-checked little-endian cursor over untrusted bytes.

use crate::{Error, Result};

/// Reads fixed-size little-endian fields from a byte slice, reporting [`Error::Truncated`]
/// with the total length needed when the slice ends early.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The unread bytes.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The error for "`needed` bytes in total are required".
    pub(crate) fn truncated(&self, needed: usize) -> Error {
        Error::Truncated {
            what: self.what,
            needed,
            available: self.buf.len(),
        }
    }

    /// The error for "this many more bytes would overflow `usize`".
    pub(crate) fn too_large(&self) -> Error {
        Error::corrupt(self.what, "declared size overflows")
    }

    /// Fails with [`Error::Truncated`] unless `needed` bytes in total are present.
    pub(crate) fn require_total(&self, needed: usize) -> Result<()> {
        if self.buf.len() < needed {
            Err(self.truncated(needed))
        } else {
            Ok(())
        }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.too_large())?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.truncated(end))?;
        self.pos = end;
        Ok(out)
    }

    /// Takes the next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.truncated(self.pos))
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

/// Decodes a little-endian `u32` array (`bytes.len()` must be a multiple of 4; a remainder is
/// ignored).
pub(crate) fn le_u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| {
            let mut a = [0u8; 4];
            a.copy_from_slice(c);
            u32::from_le_bytes(a)
        })
        .collect()
}

/// Decodes a little-endian `u64` array (`bytes.len()` must be a multiple of 8).
pub(crate) fn le_u64s(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_le_bytes(a)
        })
        .collect()
}

/// Appends `values` as little-endian `u32`s.
pub(crate) fn put_u32s(out: &mut Vec<u8>, values: &[u32]) {
    out.reserve(values.len().saturating_mul(4));
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Converts a length to `usize`, or reports it as an overflow of `what`.
pub(crate) fn to_usize(value: u64, what: &'static str) -> Result<usize> {
    usize::try_from(value)
        .map_err(|_| Error::corrupt(what, format!("{value} does not fit in memory")))
}
