//! Any bytes, as PNG, JPEG, BMP, TIFF and WebP (the fuzzer's input gets a format's magic
//! prepended by its first byte): probe, then decode into a buffer of the probed size with
//! every decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_core::codec::{self, png, ImageFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut buf = Vec::with_capacity(rest.len() + 8);
    match which % 7 {
        0 => buf.extend_from_slice(&png::SIGNATURE),
        1 => buf.extend_from_slice(&[0xFF, 0xD8]),
        2 => buf.extend_from_slice(b"BM"),
        3 => buf.extend_from_slice(b"II*\0"),
        4 => buf.extend_from_slice(b"MM\0*"),
        5 => buf.extend_from_slice(b"RIFF\0\0\0\0WEBP"),
        _ => {}
    }
    buf.extend_from_slice(rest);
    if let Ok(info) = codec::probe(&buf) {
        // Keep the fuzzer's memory bounded: skip huge (but valid) headers.
        if let Ok(n) = info.nbytes() {
            if n <= 1 << 24 {
                let mut out = vec![0u8; n];
                for format in [
                    ImageFormat::Png,
                    ImageFormat::Jpeg,
                    ImageFormat::Bmp,
                    ImageFormat::Tiff,
                    ImageFormat::Webp,
                ] {
                    let _ = codec::decode_into(format, &buf, &mut out);
                }
            }
        }
    }
});
