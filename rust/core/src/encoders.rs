//! The index encoders stored next to the chunks: chunk ids, the plain `u32` encoders
//! (sequence, creds, pad) and the tile encoder.

use crate::read::{le_u32s, le_u64s, put_u32s, to_usize, Reader};
use crate::version::{older_than, read_version, write_version};
use crate::{Error, Result, Table, TableView};

/// The first version whose chunk-id encoder carries a dtype byte.
const CHUNK_ID_DTYPE_SINCE: [u64; 3] = [2, 7, 6];

/// Parses a chunk-id encoder into `(version, table (n, 2))`: `[chunk_id, last_index]` rows.
///
/// Versions older than 2.7.6 have no dtype byte and hold `u32` values, which are widened.
pub fn parse_chunk_ids(buf: &[u8]) -> Result<(String, Table<u64>)> {
    const WHAT: &str = "chunk-id encoder";
    let mut r = Reader::new(buf, WHAT);
    let version = read_version(&mut r, WHAT)?;
    let item = if older_than(&version, CHUNK_ID_DTYPE_SINCE) {
        4
    } else {
        match r.u8()? {
            b @ (4 | 8) => usize::from(b),
            other => {
                return Err(Error::corrupt(
                    WHAT,
                    format!("dtype size byte is {other}, expected 4 or 8"),
                ))
            }
        }
    };
    let rest = r.rest();
    let row = 2 * item;
    if !rest.len().is_multiple_of(row) {
        return Err(Error::corrupt(
            WHAT,
            format!(
                "{} bytes of entries is not a whole number of {row}-byte rows",
                rest.len()
            ),
        ));
    }
    let values = if item == 4 {
        le_u32s(rest).into_iter().map(u64::from).collect()
    } else {
        le_u64s(rest)
    };
    let rows = rest.len() / row;
    Ok((version, Table::new(rows, 2, values)?))
}

/// Serialises a chunk-id encoder with `u64` entries (dtype byte 8).
pub fn serialize_chunk_ids(version: &str, table: TableView<'_, u64>) -> Result<Vec<u8>> {
    if older_than(version, CHUNK_ID_DTYPE_SINCE) {
        return Err(Error::invalid(format!(
            "chunk-id encoders of version {version} (< 2.7.6) have no dtype byte; write a newer version"
        )));
    }
    if table.rows() > 0 && table.cols() != 2 {
        return Err(Error::invalid(format!(
            "chunk ids must have 2 columns, got {}",
            table.cols()
        )));
    }
    let mut out = Vec::with_capacity(2 + version.len() + table.as_slice().len().saturating_mul(8));
    write_version(&mut out, version)?;
    out.push(8);
    for v in table.as_slice() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Parses a plain `u32` encoder (sequence, creds, pad) into `(version, table (n, cols))`.
pub fn parse_u32_encoder(buf: &[u8], cols: usize) -> Result<(String, Table<u32>)> {
    const WHAT: &str = "u32 encoder";
    if cols == 0 {
        return Err(Error::invalid("cols must be at least 1"));
    }
    let mut r = Reader::new(buf, WHAT);
    let version = read_version(&mut r, WHAT)?;
    let rest = r.rest();
    let row = cols
        .checked_mul(4)
        .ok_or_else(|| Error::invalid("cols is too large"))?;
    if !rest.len().is_multiple_of(row) {
        return Err(Error::corrupt(
            WHAT,
            format!(
                "{} bytes of entries is not a whole number of {cols}-column rows",
                rest.len()
            ),
        ));
    }
    Ok((version, Table::new(rest.len() / row, cols, le_u32s(rest))?))
}

/// Serialises a plain `u32` encoder.
pub fn serialize_u32_encoder(version: &str, table: TableView<'_, u32>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1 + version.len() + table.as_slice().len().saturating_mul(4));
    write_version(&mut out, version)?;
    put_u32s(&mut out, table.as_slice());
    Ok(out)
}

/// One tile-encoder entry: a tiled sample's full shape and its tile shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileEntry {
    /// The global sample index.
    pub index: u64,
    /// Shape of the whole sample.
    pub sample_shape: Vec<u64>,
    /// Shape of one (non-edge) tile.
    pub tile_shape: Vec<u64>,
}

/// Parses a tile encoder into `(version, entries)`, entries in file order.
///
/// Layout (little-endian `u64`s): `u8 L, version[L], n, [ndim, (index, sample_shape[ndim],
/// tile_shape[ndim])[n]]`.
pub fn parse_tile_encoder(buf: &[u8]) -> Result<(String, Vec<TileEntry>)> {
    const WHAT: &str = "tile encoder";
    let mut r = Reader::new(buf, WHAT);
    let version = read_version(&mut r, WHAT)?;
    let n = r.u64()?;
    if n == 0 {
        if !r.rest().is_empty() {
            return Err(Error::corrupt(
                WHAT,
                format!("{} bytes after an empty encoder", r.rest().len()),
            ));
        }
        return Ok((version, Vec::new()));
    }
    let ndim = r.u64()?;
    let entry_words = ndim
        .checked_mul(2)
        .and_then(|w| w.checked_add(1))
        .ok_or_else(|| r.too_large())?;
    let total = entry_words
        .checked_mul(8)
        .and_then(|b| b.checked_mul(n))
        .ok_or_else(|| r.too_large())?;
    let total = to_usize(total, WHAT)?;
    let end = r.pos().checked_add(total).ok_or_else(|| r.too_large())?;
    r.require_total(end)?;
    let rest = r.rest();
    if rest.len() != total {
        return Err(Error::corrupt(
            WHAT,
            format!("{} bytes of entries, expected {total}", rest.len()),
        ));
    }
    let words = le_u64s(rest);
    let ndim = to_usize(ndim, WHAT)?;
    let per_entry = to_usize(entry_words, WHAT)?;
    let entries = words
        .chunks_exact(per_entry)
        .map(|w| {
            let (index, shapes) = w.split_first().unwrap_or((&0, &[]));
            let (sample, tile) = shapes.split_at_checked(ndim).unwrap_or((&[], &[]));
            TileEntry {
                index: *index,
                sample_shape: sample.to_vec(),
                tile_shape: tile.to_vec(),
            }
        })
        .collect();
    Ok((version, entries))
}

/// Serialises a tile encoder; entries are written sorted by sample index.
pub fn serialize_tile_encoder(version: &str, entries: &[TileEntry]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&TileEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.index);
    let ndim = sorted.first().map_or(0, |e| e.sample_shape.len());
    for pair in sorted.windows(2) {
        if let [a, b] = pair {
            if a.index == b.index {
                return Err(Error::invalid(format!(
                    "sample index {} appears twice",
                    a.index
                )));
            }
        }
    }
    for e in &sorted {
        if e.sample_shape.len() != ndim || e.tile_shape.len() != ndim {
            return Err(Error::invalid(format!(
                "entry {}: every sample and tile shape must have {ndim} dimensions",
                e.index
            )));
        }
    }
    let mut out = Vec::with_capacity(1 + version.len() + 16 + sorted.len() * (8 + 16 * ndim));
    write_version(&mut out, version)?;
    out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    if !sorted.is_empty() {
        out.extend_from_slice(&(ndim as u64).to_le_bytes());
        for e in sorted {
            out.extend_from_slice(&e.index.to_le_bytes());
            for v in e.sample_shape.iter().chain(&e.tile_shape) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ids_example() {
        // ds1/gen: chunk 0x7bdfa257c76847f3 holds samples 0..1.
        let mut buf = vec![6u8];
        buf.extend_from_slice(b"3.9.52");
        buf.push(8);
        buf.extend_from_slice(&[0xf3, 0x47, 0x68, 0xc7, 0x57, 0xa2, 0xdf, 0x7b]);
        buf.extend_from_slice(&1u64.to_le_bytes());
        let (v, t) = parse_chunk_ids(&buf).unwrap();
        assert_eq!(v, "3.9.52");
        assert_eq!(t.as_slice(), &[0x7bdf_a257_c768_47f3, 1]);
        assert_eq!(serialize_chunk_ids(&v, t.view()).unwrap(), buf);
    }

    #[test]
    fn legacy_chunk_ids_are_u32_without_dtype() {
        let mut buf = vec![5u8];
        buf.extend_from_slice(b"2.7.5");
        for x in [7u32, 3, 9, 10] {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        let (v, t) = parse_chunk_ids(&buf).unwrap();
        assert_eq!(v, "2.7.5");
        assert_eq!((t.rows(), t.cols()), (2, 2));
        assert_eq!(t.as_slice(), &[7, 3, 9, 10]);
        assert!(serialize_chunk_ids(&v, t.view()).is_err());
    }

    #[test]
    fn chunk_ids_u32_dtype_byte() {
        let mut buf = vec![5u8];
        buf.extend_from_slice(b"2.8.0");
        buf.push(4);
        for x in [7u32, 3] {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        assert_eq!(parse_chunk_ids(&buf).unwrap().1.as_slice(), &[7, 3]);
        buf[6] = 5;
        assert!(matches!(parse_chunk_ids(&buf), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn u32_encoder_example() {
        let t = Table::new(2, 3, vec![3, 0, 0, 1, 3, 1]).unwrap();
        let buf = serialize_u32_encoder("3.9.52", t.view()).unwrap();
        assert_eq!(buf.len(), 7 + 24);
        assert_eq!(
            parse_u32_encoder(&buf, 3).unwrap(),
            ("3.9.52".to_string(), t)
        );
        assert!(parse_u32_encoder(&buf, 5).is_err());
        assert!(matches!(
            parse_u32_encoder(&buf, 0),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn tile_encoder_round_trip_and_empty() {
        let entries = vec![
            TileEntry {
                index: 5,
                sample_shape: vec![40, 40],
                tile_shape: vec![40, 40],
            },
            TileEntry {
                index: 0,
                sample_shape: vec![40, 30],
                tile_shape: vec![20, 30],
            },
        ];
        let buf = serialize_tile_encoder("3.9.52", &entries).unwrap();
        assert_eq!(buf.len(), 7 + 8 + 8 + 2 * 40);
        let (_, parsed) = parse_tile_encoder(&buf).unwrap();
        assert_eq!(parsed, vec![entries[1].clone(), entries[0].clone()]);
        let empty = serialize_tile_encoder("3.9.52", &[]).unwrap();
        assert_eq!(empty.len(), 15);
        assert_eq!(parse_tile_encoder(&empty).unwrap().1, vec![]);
        assert!(matches!(
            parse_tile_encoder(&buf[..buf.len() - 1]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn tile_encoder_rejects_mixed_ndim_and_duplicates() {
        let a = TileEntry {
            index: 1,
            sample_shape: vec![1, 2],
            tile_shape: vec![1, 2],
        };
        let b = TileEntry {
            index: 2,
            sample_shape: vec![1],
            tile_shape: vec![1],
        };
        assert!(serialize_tile_encoder("3.9.52", &[a.clone(), b]).is_err());
        assert!(serialize_tile_encoder("3.9.52", &[a.clone(), a]).is_err());
    }

    #[test]
    fn tile_encoder_huge_claims_do_not_allocate() {
        let mut buf = vec![0u8];
        buf.extend_from_slice(&u64::MAX.to_le_bytes());
        buf.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse_tile_encoder(&buf).is_err());
        let mut buf = vec![0u8];
        buf.extend_from_slice(&1000u64.to_le_bytes());
        buf.extend_from_slice(&3u64.to_le_bytes());
        assert!(
            matches!(parse_tile_encoder(&buf), Err(Error::Truncated { needed, .. }) if needed == 17 + 1000 * 56)
        );
    }
}
