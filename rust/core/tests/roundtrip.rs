//! Property tests: everything shoal writes, it reads back unchanged.

use proptest::collection::vec;
use proptest::prelude::*;
use shoal_core::chunk::{parse_header, serialize};
use shoal_core::codec::{lz4, png};
use shoal_core::encoders::{
    parse_chunk_ids, parse_tile_encoder, parse_u32_encoder, serialize_chunk_ids,
    serialize_tile_encoder, serialize_u32_encoder, TileEntry,
};
use shoal_core::{Error, Table};

fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("3.9.52".to_string()),
        Just("2.7.6".to_string()),
        "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,3}"
    ]
    .prop_filter("modern", |v| {
        let n: Vec<u64> = v.split('.').map(|p| p.parse().unwrap()).collect();
        n >= vec![2, 7, 6]
    })
}

fn table<T: Arbitrary + Clone + std::fmt::Debug>(
    max_rows: usize,
    cols: usize,
) -> impl Strategy<Value = Table<T>> {
    (0..=max_rows).prop_flat_map(move |rows| {
        vec(any::<T>(), rows * cols).prop_map(move |data| Table::new(rows, cols, data).unwrap())
    })
}

/// Semi-compressible bytes: runs and noise.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..2000),
        vec((any::<u8>(), 1usize..64), 0..64).prop_map(|runs| runs
            .into_iter()
            .flat_map(|(b, n)| std::iter::repeat_n(b, n))
            .collect()),
        // Repeated short patterns (e.g. pixels) give overlapping matches of every offset.
        vec(
            (
                vec(any::<u8>(), 1..40),
                1usize..300,
                vec(any::<u8>(), 0..20)
            ),
            0..12
        )
        .prop_map(|parts| parts
            .into_iter()
            .flat_map(|(pattern, n, noise)| {
                let mut v: Vec<u8> = pattern.iter().copied().cycle().take(n).collect();
                v.extend(noise);
                v
            })
            .collect()),
    ]
}

proptest! {
    #[test]
    fn chunk_round_trip(
        version in "[ -~]{0,20}",
        shapes in (1usize..5).prop_flat_map(|c| table::<u32>(8, c)),
        bp in table::<u32>(8, 3),
        data in vec(any::<u8>(), 0..300),
    ) {
        let buf = serialize(&version, shapes.view(), bp.view(), &data).unwrap();
        let h = parse_header(&buf).unwrap();
        prop_assert_eq!(&h.version, &version);
        prop_assert_eq!(&h.shapes, &shapes);
        prop_assert_eq!(&h.byte_positions, &bp);
        prop_assert_eq!(&buf[h.data_offset..], &data[..]);
        // Any strict prefix of the header is Truncated, and fetching `needed` bytes makes
        // progress until the header parses.
        let mut have = 0usize;
        loop {
            match parse_header(&buf[..have]) {
                Ok(h2) => { prop_assert_eq!(h2.data_offset, h.data_offset); break; }
                Err(Error::Truncated { needed, .. }) => {
                    prop_assert!(needed > have && needed <= h.data_offset, "{} -> {}", have, needed);
                    have = needed;
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }

    #[test]
    fn chunk_ids_round_trip(version in version(), t in table::<u64>(20, 2)) {
        let buf = serialize_chunk_ids(&version, t.view()).unwrap();
        let (v, back) = parse_chunk_ids(&buf).unwrap();
        prop_assert_eq!(v, version);
        prop_assert_eq!(back, t);
    }

    #[test]
    fn u32_encoder_round_trip(version in "[ -~]{0,12}", t in (1usize..5).prop_flat_map(|c| table::<u32>(20, c))) {
        let buf = serialize_u32_encoder(&version, t.view()).unwrap();
        let (v, back) = parse_u32_encoder(&buf, t.cols()).unwrap();
        prop_assert_eq!(v, version);
        prop_assert_eq!(back, t);
    }

    #[test]
    fn tile_encoder_round_trip(
        version in "[ -~]{0,12}",
        (ndim, raw) in (0usize..4).prop_flat_map(|ndim| (Just(ndim), vec((any::<u64>(), vec(any::<u64>(), 2 * ndim)), 0..10))),
    ) {
        let mut entries: Vec<TileEntry> = raw.into_iter().map(|(index, shapes)| TileEntry {
            index,
            sample_shape: shapes[..ndim].to_vec(),
            tile_shape: shapes[ndim..].to_vec(),
        }).collect();
        entries.sort_by_key(|e| e.index);
        entries.dedup_by_key(|e| e.index);
        let buf = serialize_tile_encoder(&version, &entries).unwrap();
        let (v, back) = parse_tile_encoder(&buf).unwrap();
        prop_assert_eq!(v, version);
        prop_assert_eq!(back, entries);
    }

    #[test]
    fn lz4_round_trip(data in payload()) {
        let c = lz4::compress(&data).unwrap();
        prop_assert_eq!(lz4::decompressed_size(&c).unwrap(), Some(data.len()));
        prop_assert_eq!(&lz4::decompress(&c).unwrap(), &data);
        let mut out = vec![0u8; data.len()];
        lz4::decompress_into(&c, &mut out).unwrap();
        prop_assert_eq!(out, data);
    }

    #[test]
    fn png_round_trip(h in 1usize..12, w in 1usize..12, c in 1usize..=4, wide in any::<bool>(), seed in any::<u64>()) {
        let n = h * w * c;
        let mut x = seed | 1;
        let mut next = move || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
        if wide {
            let px: Vec<u16> = (0..n).map(|_| next() as u16).collect();
            let enc = png::encode(png::Pixels::U16(&px), h, w, c).unwrap();
            let (info, out) = png::decode(&enc).unwrap();
            prop_assert_eq!(info.dtype.size(), 2);
            let back: Vec<u16> = out.chunks_exact(2).map(|p| u16::from_ne_bytes([p[0], p[1]])).collect();
            prop_assert_eq!(back, px);
        } else {
            let px: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            let enc = png::encode(png::Pixels::U8(&px), h, w, c).unwrap();
            let (info, out) = png::decode(&enc).unwrap();
            let want = if c == 1 { vec![h, w] } else { vec![h, w, c] };
            prop_assert_eq!(info.shape(), want);
            prop_assert_eq!(out, px);
        }
    }
}
