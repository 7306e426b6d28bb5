//! Property tests: no parser or decoder panics, whatever bytes it is given. Random bytes,
//! truncations and byte flips of valid objects must all come back as `Ok` or `Err`.

use proptest::collection::vec;
use proptest::prelude::*;
use shoal_core::assemble::{assemble, Codec};
use shoal_core::chunk::{parse_header, serialize};
use shoal_core::codec::{self, bmp, jpeg, lz4, png, tiff, webp, ImageFormat};
use shoal_core::encoders::{
    parse_chunk_ids, parse_tile_encoder, parse_u32_encoder, serialize_tile_encoder, TileEntry,
};
use shoal_core::Table;

/// Feeds `data` to every parser; none may panic.
fn parse_everything(data: &[u8]) {
    let _ = parse_header(data);
    let _ = parse_chunk_ids(data);
    for cols in 1..4 {
        let _ = parse_u32_encoder(data, cols);
    }
    let _ = parse_tile_encoder(data);
    let _ = lz4::decompressed_size(data);
    let _ = lz4::decompress(data);
    for n in [0usize, 1, 7, 64, 4096] {
        let _ = lz4::decompress_into(data, &mut vec![0u8; n]);
    }
    let _ = png::probe(data);
    let _ = png::decode(data);
    let _ = jpeg::probe(data);
    let _ = jpeg::decode(data);
    let _ = bmp::decode(data);
    let _ = tiff::decode(data);
    let _ = webp::decode(data);
    let _ = codec::probe(data);
    if let Ok(info) = codec::probe(data) {
        if let Ok(n) = info.nbytes() {
            if n < 1 << 24 {
                for format in [
                    ImageFormat::Png,
                    ImageFormat::Jpeg,
                    ImageFormat::Bmp,
                    ImageFormat::Tiff,
                    ImageFormat::Webp,
                ] {
                    let _ = codec::decode_into(format, data, &mut vec![0u8; n]);
                }
            }
        }
    }
}

fn valid_objects() -> Vec<Vec<u8>> {
    let shapes = Table::new(2, 3, vec![2, 3, 0, 3, 3, 1]).unwrap();
    let bp = Table::new(2, 3, vec![24, 0, 0, 36, 24, 1]).unwrap();
    let chunk = serialize("3.9.52", shapes.view(), bp.view(), &[5; 60]).unwrap();
    let tiles = serialize_tile_encoder(
        "3.9.52",
        &[TileEntry {
            index: 0,
            sample_shape: vec![40, 30],
            tile_shape: vec![20, 30],
        }],
    )
    .unwrap();
    let ids = shoal_core::encoders::serialize_chunk_ids(
        "3.9.52",
        Table::new(1, 2, vec![99, 1]).unwrap().view(),
    )
    .unwrap();
    let raw: Vec<u8> = (0..3000u32).map(|i| (i * i % 251) as u8).collect();
    let lz = lz4::compress(&raw).unwrap();
    let px: Vec<u8> = (0..17 * 13 * 3).map(|i| (i * 31 % 256) as u8).collect();
    let p = png::encode(png::Pixels::U8(&px), 17, 13, 3).unwrap();
    let p16 = png::encode(png::Pixels::U16(&[1, 2, 3, 4000, 5, 6]), 2, 3, 1).unwrap();
    let j = jpeg::encode(&px, 17, 13, 3, 75).unwrap();
    let jg = jpeg::encode(&px[..17 * 13], 17, 13, 1, 75).unwrap();
    let b = bmp::encode(&px, 17, 13, 3).unwrap();
    let bg = bmp::encode(&px[..17 * 13], 17, 13, 1).unwrap();
    let t = tiff::encode(tiff::Pixels::U8(&px), 17, 13, 3).unwrap();
    let t16 = tiff::encode(tiff::Pixels::U16(&[1, 2, 3, 4000, 5, 6]), 2, 3, 1).unwrap();
    let w = webp::encode(&px, 17, 13, 3).unwrap();
    let lossy = include_bytes!("support/lossy_8x8.webp").to_vec();
    let lossy_alpha = include_bytes!("support/lossy_alpha_8x8.webp").to_vec();
    vec![
        chunk,
        tiles,
        ids,
        lz,
        p,
        p16,
        j,
        jg,
        b,
        bg,
        t,
        t16,
        w,
        lossy,
        lossy_alpha,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..512)) {
        parse_everything(&data);
    }

    #[test]
    fn random_bytes_after_a_magic_never_panic(
        magic in prop_oneof![
            Just(png::SIGNATURE.to_vec()),
            Just(vec![0xFF, 0xD8, 0xFF]),
            Just(lz4::FRAME_MAGIC.to_vec()),
            Just(b"BM".to_vec()),
            Just(b"II*\0\x08\0\0\0".to_vec()),
            Just(b"MM\0*\0\0\0\x08".to_vec()),
            Just(b"RIFF\0\0\0\0WEBPVP8 ".to_vec()),
            Just(b"RIFF\0\0\0\0WEBPVP8L".to_vec()),
            Just(b"RIFF\0\0\0\0WEBPVP8X".to_vec()),
            Just(vec![6, b'3', b'.', b'9', b'.', b'5', b'2']),
        ],
        data in vec(any::<u8>(), 0..512),
    ) {
        let mut buf = magic;
        buf.extend_from_slice(&data);
        parse_everything(&buf);
    }

    #[test]
    fn truncated_and_flipped_objects_never_panic(
        which in 0usize..15,
        cut in any::<prop::sample::Index>(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let objects = valid_objects();
        let obj = &objects[which];
        parse_everything(&obj[..cut.index(obj.len() + 1)]);
        let mut flipped = obj.clone();
        for (at, b) in flips {
            let i = at.index(flipped.len());
            flipped[i] ^= b;
        }
        parse_everything(&flipped);
    }

    #[test]
    fn random_plans_never_panic(
        out_len in 0usize..64,
        src_lens in vec(0usize..64, 0..3),
        plan in vec(-2i64..80, 0..26),
        codec in prop_oneof![
            Just(Codec::None), Just(Codec::Lz4), Just(Codec::Png), Just(Codec::Jpeg),
            Just(Codec::Bmp), Just(Codec::Tiff), Just(Codec::Webp),
        ],
        threads in 1usize..4,
    ) {
        let sources: Vec<Vec<u8>> = src_lens.iter().map(|&n| vec![7u8; n]).collect();
        let refs: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
        let mut out = vec![0u8; out_len];
        let _ = assemble(&mut out, &refs, &plan, codec, threads);
    }
}
