//! Any bytes: lz4 decode (block, frame, empty); decoding into a buffer of the claimed size must
//! agree with decoding into a new vector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_core::codec::lz4;

fuzz_target!(|data: &[u8]| {
    let whole = lz4::decompress(data);
    if let Ok(Some(n)) = lz4::decompressed_size(data) {
        let mut out = vec![0u8; n];
        let into = lz4::decompress_into(data, &mut out);
        assert_eq!(into.is_ok(), whole.is_ok());
        if let Ok(v) = whole {
            assert_eq!(v, out);
        }
    }
    // Round trip: anything compresses and decompresses back.
    let packed = lz4::compress(data).unwrap();
    assert_eq!(lz4::decompress(&packed).unwrap(), data);
});
