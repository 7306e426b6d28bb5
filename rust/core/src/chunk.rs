//! The chunk layout: a header holding two encoders, then the data.
//!
//! ```text
//! u8 L, version[L], i32 R_s, i32 C_s, u32 shapes[R_s][C_s], u32 R_b, u32 byte_positions[R_b][3], data
//! ```

use crate::read::{le_u32s, put_u32s, Reader};
use crate::version::{check_version, read_version, write_version};
use crate::{Error, Result, Table, TableView};

const WHAT: &str = "chunk header";

/// Columns of the byte-position encoder: `num_bytes, start_byte, last_local_index`.
pub const BYTE_POSITION_COLS: usize = 3;

/// The parsed header of one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkHeader {
    /// The library version stored in the chunk.
    pub version: String,
    /// Shape encoder, `(rows, ndim + 1)`; the last column is the inclusive last local index.
    pub shapes: Table<u32>,
    /// Byte-position encoder, `(rows, 3)`.
    pub byte_positions: Table<u32>,
    /// Length of the header: the data starts here.
    pub data_offset: usize,
}

impl ChunkHeader {
    /// Number of samples in the chunk: from the shape encoder, else the byte positions, else 0.
    pub fn num_samples(&self) -> u64 {
        let last_of = |t: &Table<u32>| -> Option<u64> {
            if t.rows() == 0 || t.cols() == 0 {
                return None;
            }
            t.as_slice().last().map(|&v| u64::from(v) + 1)
        };
        last_of(&self.shapes)
            .or_else(|| {
                let bp = self.byte_positions.view();
                bp.row(bp.rows().checked_sub(1)?)
                    .and_then(|r| r.get(2))
                    .map(|&v| u64::from(v) + 1)
            })
            .unwrap_or(0)
    }
}

/// Parses a chunk header from `buf`, which may be just a prefix of the chunk.
///
/// Returns [`Error::Truncated`] with the header length (or a lower bound, when the prefix is too
/// short to know it) if `buf` ends inside the header.
pub fn parse_header(buf: &[u8]) -> Result<ChunkHeader> {
    let mut r = Reader::new(buf, WHAT);
    let version = read_version(&mut r, WHAT)?;
    let shape_rows = r.i32()?;
    let shape_cols = r.i32()?;
    let (Ok(shape_rows), Ok(shape_cols)) =
        (usize::try_from(shape_rows), usize::try_from(shape_cols))
    else {
        return Err(Error::corrupt(
            WHAT,
            format!("negative shape encoder size {shape_rows}x{shape_cols}"),
        ));
    };
    let shape_bytes = shape_rows
        .checked_mul(shape_cols)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| r.too_large())?;
    // Before reading the shapes, make sure the byte-position row count is there too, so the
    // caller learns the larger lower bound in one go.
    let through_bp_rows = r
        .pos()
        .checked_add(shape_bytes)
        .and_then(|n| n.checked_add(4))
        .ok_or_else(|| r.too_large())?;
    r.require_total(through_bp_rows)?;
    let shapes = le_u32s(r.take(shape_bytes)?);
    let bp_rows = crate::read::to_usize(u64::from(r.u32()?), WHAT)?;
    let bp_bytes = bp_rows
        .checked_mul(BYTE_POSITION_COLS * 4)
        .ok_or_else(|| r.too_large())?;
    let byte_positions = le_u32s(r.take(bp_bytes)?);
    Ok(ChunkHeader {
        version,
        shapes: Table::new(shape_rows, shape_cols, shapes)?,
        byte_positions: Table::new(bp_rows, BYTE_POSITION_COLS, byte_positions)?,
        data_offset: r.pos(),
    })
}

/// Length of the serialised header for these encoders.
pub fn header_len(
    version: &str,
    shapes: TableView<'_, u32>,
    byte_positions: TableView<'_, u32>,
) -> Result<usize> {
    check_header_args(version, shapes, byte_positions)?;
    let too_big = || Error::invalid("chunk header does not fit in memory");
    let shape_bytes = shapes.as_slice().len().checked_mul(4).ok_or_else(too_big)?;
    let bp_bytes = byte_positions
        .as_slice()
        .len()
        .checked_mul(4)
        .ok_or_else(too_big)?;
    (1 + version.len() + 8 + 4)
        .checked_add(shape_bytes)
        .and_then(|n| n.checked_add(bp_bytes))
        .ok_or_else(too_big)
}

fn check_header_args(
    version: &str,
    shapes: TableView<'_, u32>,
    byte_positions: TableView<'_, u32>,
) -> Result<()> {
    check_version(version)?;
    if i32::try_from(shapes.rows()).is_err() || i32::try_from(shapes.cols()).is_err() {
        return Err(Error::invalid(format!(
            "shape encoder {}x{} is too large for the chunk format",
            shapes.rows(),
            shapes.cols()
        )));
    }
    if byte_positions.rows() > 0 && byte_positions.cols() != BYTE_POSITION_COLS {
        return Err(Error::invalid(format!(
            "byte positions must have 3 columns, got {}",
            byte_positions.cols()
        )));
    }
    if u32::try_from(byte_positions.rows()).is_err() {
        return Err(Error::invalid("too many byte-position rows"));
    }
    Ok(())
}

/// Serialises a whole chunk: the header, then `data`.
pub fn serialize(
    version: &str,
    shapes: TableView<'_, u32>,
    byte_positions: TableView<'_, u32>,
    data: &[u8],
) -> Result<Vec<u8>> {
    let len = header_len(version, shapes, byte_positions)?
        .checked_add(data.len())
        .ok_or_else(|| Error::invalid("chunk does not fit in memory"))?;
    let mut out = vec![0u8; len];
    write_into(&mut out, version, shapes, byte_positions, data)?;
    Ok(out)
}

/// Writes a whole chunk into `out`, whose length must be `header_len(..) + data.len()`.
pub fn write_into(
    out: &mut [u8],
    version: &str,
    shapes: TableView<'_, u32>,
    byte_positions: TableView<'_, u32>,
    data: &[u8],
) -> Result<()> {
    let hlen = header_len(version, shapes, byte_positions)?;
    if hlen.checked_add(data.len()) != Some(out.len()) {
        return Err(Error::invalid(format!(
            "output buffer is {} bytes, the chunk needs {} + {}",
            out.len(),
            hlen,
            data.len()
        )));
    }
    let mut header = Vec::with_capacity(hlen);
    write_version(&mut header, version)?;
    // The checks above guarantee these fit in i32 / u32.
    let rows = i32::try_from(shapes.rows()).map_err(|_| Error::invalid("shape rows overflow"))?;
    let cols = i32::try_from(shapes.cols()).map_err(|_| Error::invalid("shape cols overflow"))?;
    header.extend_from_slice(&rows.to_le_bytes());
    header.extend_from_slice(&cols.to_le_bytes());
    put_u32s(&mut header, shapes.as_slice());
    let bp_rows = u32::try_from(byte_positions.rows())
        .map_err(|_| Error::invalid("byte-position rows overflow"))?;
    header.extend_from_slice(&bp_rows.to_le_bytes());
    put_u32s(&mut header, byte_positions.as_slice());
    let (head, tail) = out
        .split_at_mut_checked(hlen)
        .ok_or_else(|| Error::Internal("chunk header length mismatch".into()))?;
    if header.len() != head.len() || tail.len() != data.len() {
        return Err(Error::Internal("chunk header length mismatch".into()));
    }
    head.copy_from_slice(&header);
    tail.copy_from_slice(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example from the format notes: a `gen` chunk with shapes (2,3) and (3,3).
    fn example() -> Vec<u8> {
        let mut v = vec![6u8];
        v.extend_from_slice(b"3.9.52");
        for x in [2i32, 3] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        for x in [2u32, 3, 0, 3, 3, 1] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&2u32.to_le_bytes());
        for x in [24u32, 0, 0, 36, 24, 1] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend(std::iter::repeat_n(7u8, 60));
        v
    }

    #[test]
    fn parses_the_worked_example() {
        let buf = example();
        assert_eq!(buf.len(), 127);
        let h = parse_header(&buf).unwrap();
        assert_eq!(h.version, "3.9.52");
        assert_eq!(h.shapes.as_slice(), &[2, 3, 0, 3, 3, 1]);
        assert_eq!((h.shapes.rows(), h.shapes.cols()), (2, 3));
        assert_eq!(h.byte_positions.as_slice(), &[24, 0, 0, 36, 24, 1]);
        assert_eq!(h.data_offset, 67);
        assert_eq!(h.num_samples(), 2);
        let again = serialize(
            &h.version,
            h.shapes.view(),
            h.byte_positions.view(),
            &buf[67..],
        )
        .unwrap();
        assert_eq!(again, buf);
    }

    #[test]
    fn truncation_reports_what_is_needed() {
        let buf = example();
        let need = |n: usize| match parse_header(&buf[..n]) {
            Err(Error::Truncated { needed, .. }) => needed,
            other => panic!("{n}: {other:?}"),
        };
        assert_eq!(need(0), 1);
        assert_eq!(need(1), 7);
        assert_eq!(need(7), 11);
        assert_eq!(need(12), 15);
        // Past R_s and C_s the lower bound covers the shapes and the byte-position row count.
        assert_eq!(need(15), 15 + 24 + 4);
        assert_eq!(need(43), 67);
        assert_eq!(need(66), 67);
        assert!(parse_header(&buf[..67]).is_ok());
    }

    #[test]
    fn rejects_negative_sizes() {
        let mut buf = vec![0u8];
        buf.extend_from_slice(&(-1i32).to_le_bytes());
        buf.extend_from_slice(&3i32.to_le_bytes());
        assert!(matches!(parse_header(&buf), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn empty_encoders() {
        let shapes = Table::<u32>::empty(0);
        let bp = Table::<u32>::empty(3);
        let buf = serialize("3.9.52", shapes.view(), bp.view(), b"").unwrap();
        assert_eq!(buf.len(), 1 + 6 + 12);
        let h = parse_header(&buf).unwrap();
        assert_eq!(h.num_samples(), 0);
        assert_eq!(h.data_offset, buf.len());
    }

    #[test]
    fn num_samples_falls_back_to_byte_positions() {
        let shapes = Table::<u32>::empty(0);
        let bp = Table::new(1, 3, vec![4, 0, 9]).unwrap();
        let buf = serialize("3.9.52", shapes.view(), bp.view(), &[0; 40]).unwrap();
        assert_eq!(parse_header(&buf).unwrap().num_samples(), 10);
    }

    #[test]
    fn rejects_bad_arguments() {
        let shapes = Table::<u32>::empty(2);
        let bp = Table::new(1, 2, vec![1, 2]).unwrap();
        assert!(matches!(
            serialize("3.9.52", shapes.view(), bp.view(), b""),
            Err(Error::InvalidArgument(_))
        ));
        let bp = Table::<u32>::empty(3);
        assert!(serialize("ü", shapes.view(), bp.view(), b"").is_err());
        assert!(serialize(&"9".repeat(256), shapes.view(), bp.view(), b"").is_err());
    }
}
