//! Batch index lookups through run-length encoders (chunk ids, shapes, byte positions).
//!
//! All three encoders share one idea: a non-decreasing "last index" column, where row `r`
//! covers the indices `(last[r-1], last[r]]`. A lookup is a binary search for the first row
//! whose last index is `>=` the wanted one.

use crate::{Error, Result, Table, TableView};

fn check_non_decreasing<T: PartialOrd + Copy>(
    last: impl IntoIterator<Item = T>,
    what: &'static str,
) -> Result<()> {
    let mut prev: Option<T> = None;
    for (row, v) in last.into_iter().enumerate() {
        if let Some(p) = prev {
            if v < p {
                return Err(Error::corrupt(
                    what,
                    format!("last index decreases at row {row}"),
                ));
            }
        }
        prev = Some(v);
    }
    Ok(())
}

/// Row of `index` in a non-decreasing `last` column, or `None` past the end.
fn find_row<T: Copy + Into<u64>>(last: &[T], index: u64) -> Option<usize> {
    let row = last.partition_point(|&l| l.into() < index);
    (row < last.len()).then_some(row)
}

fn non_negative(index: i64, what: &'static str, len: u64) -> Result<u64> {
    u64::try_from(index).map_err(|_| Error::OutOfRange { what, index, len })
}

/// The first index of row `row` (0 for the first row).
fn row_start<T: Copy + Into<u64>>(last: &[T], row: usize) -> Result<u64> {
    match row.checked_sub(1) {
        None => Ok(0),
        Some(prev) => last
            .get(prev)
            .map(|&l| l.into() + 1)
            .ok_or_else(|| Error::Internal("row lookup out of bounds".into())),
    }
}

/// Maps global sample indices to `(row, local_index)` through a chunk-id encoder's
/// last-index column.
pub fn locate_samples(last_index: &[u64], indices: &[i64]) -> Result<(Vec<i64>, Vec<i64>)> {
    check_non_decreasing(last_index.iter().copied(), "chunk-id encoder")?;
    let len = last_index.last().map_or(0, |&l| l.saturating_add(1));
    let mut rows = Vec::with_capacity(indices.len());
    let mut locals = Vec::with_capacity(indices.len());
    for &index in indices {
        let g = non_negative(index, "sample index", len)?;
        let row = find_row(last_index, g).ok_or(Error::OutOfRange {
            what: "sample index",
            index,
            len,
        })?;
        let local = g - row_start(last_index, row)?;
        rows.push(to_i64(row)?);
        locals.push(to_i64(local)?);
    }
    Ok((rows, locals))
}

/// Shapes `(n, ndim)` of local samples from a chunk's shape encoder `(rows, ndim + 1)`.
pub fn sample_shapes(shapes: TableView<'_, u32>, local: &[i64]) -> Result<Table<i64>> {
    const WHAT: &str = "shape encoder";
    let ndim = shapes
        .cols()
        .checked_sub(1)
        .ok_or_else(|| Error::invalid("shape encoder must have at least one column"))?;
    let last = shapes.column(ndim);
    check_non_decreasing(last.iter().copied(), WHAT)?;
    let len = last.last().map_or(0, |&l| u64::from(l) + 1);
    let mut out = Vec::with_capacity(local.len().saturating_mul(ndim));
    for &index in local {
        let i = non_negative(index, "local sample index", len)?;
        let row = find_row(&last, i).ok_or(Error::OutOfRange {
            what: "local sample index",
            index,
            len,
        })?;
        let dims = shapes
            .row(row)
            .and_then(|r| r.get(..ndim))
            .ok_or_else(|| Error::Internal("shape row out of bounds".into()))?;
        out.extend(dims.iter().map(|&d| i64::from(d)));
    }
    Table::new(local.len(), ndim, out)
}

/// Byte ranges `(n, 2)` — `start, end` relative to the chunk data — of local samples, from a
/// chunk's byte-position encoder `(rows, 3)`: `num_bytes, start_byte, last_local_index`.
pub fn sample_ranges(byte_positions: TableView<'_, u32>, local: &[i64]) -> Result<Table<i64>> {
    const WHAT: &str = "byte-position encoder";
    if byte_positions.rows() > 0 && byte_positions.cols() != 3 {
        return Err(Error::invalid(format!(
            "byte positions must have 3 columns, got {}",
            byte_positions.cols()
        )));
    }
    let last = byte_positions.column(2);
    check_non_decreasing(last.iter().copied(), WHAT)?;
    let len = last.last().map_or(0, |&l| u64::from(l) + 1);
    let mut out = Vec::with_capacity(local.len().saturating_mul(2));
    for &index in local {
        let i = non_negative(index, "local sample index", len)?;
        let row = find_row(&last, i).ok_or(Error::OutOfRange {
            what: "local sample index",
            index,
            len,
        })?;
        let (num_bytes, start_byte) = match byte_positions.row(row) {
            Some(&[n, s, _]) => (u64::from(n), u64::from(s)),
            _ => return Err(Error::Internal("byte-position row out of bounds".into())),
        };
        let first = row_start(&last, row)?;
        let start = (i - first)
            .checked_mul(num_bytes)
            .and_then(|o| o.checked_add(start_byte))
            .ok_or_else(|| Error::corrupt(WHAT, "byte offset overflows"))?;
        let end = start
            .checked_add(num_bytes)
            .ok_or_else(|| Error::corrupt(WHAT, "byte offset overflows"))?;
        out.push(to_i64(start)?);
        out.push(to_i64(end)?);
    }
    Table::new(local.len(), 2, out)
}

fn to_i64<T: TryInto<i64> + Copy + std::fmt::Display>(v: T) -> Result<i64> {
    v.try_into()
        .map_err(|_| Error::corrupt("index", format!("{v} does not fit in int64")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_through_tiles() {
        // Rows: chunk A holds 0..=1, tiles of sample 2 in three chunks, chunk E holds 3..=5.
        let last = [1u64, 2, 2, 2, 5];
        let (rows, locals) = locate_samples(&last, &[0, 1, 2, 3, 5]).unwrap();
        assert_eq!(rows, vec![0, 0, 1, 4, 4]);
        assert_eq!(locals, vec![0, 1, 0, 0, 2]);
        assert!(matches!(
            locate_samples(&last, &[0, 6]),
            Err(Error::OutOfRange {
                index: 6,
                len: 6,
                ..
            })
        ));
        assert!(matches!(
            locate_samples(&last, &[-1]),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            locate_samples(&[3, 1], &[0]),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            locate_samples(&[], &[0]),
            Err(Error::OutOfRange { len: 0, .. })
        ));
    }

    #[test]
    fn shapes_and_ranges() {
        let shapes = Table::new(2, 3, vec![2, 3, 0, 3, 3, 1]).unwrap();
        let s = sample_shapes(shapes.view(), &[1, 0, 1]).unwrap();
        assert_eq!(s.as_slice(), &[3, 3, 2, 3, 3, 3]);
        assert!(sample_shapes(shapes.view(), &[2]).is_err());
        let bp = Table::new(2, 3, vec![24, 0, 0, 36, 24, 1]).unwrap();
        let r = sample_ranges(bp.view(), &[0, 1]).unwrap();
        assert_eq!(r.as_slice(), &[0, 24, 24, 60]);
        let bp = Table::new(1, 3, vec![4, 0, 9]).unwrap();
        let r = sample_ranges(bp.view(), &[0, 9, 5]).unwrap();
        assert_eq!(r.as_slice(), &[0, 4, 36, 40, 20, 24]);
        assert!(matches!(
            sample_ranges(bp.view(), &[10]),
            Err(Error::OutOfRange { .. })
        ));
    }
}
