//! A safe LZ4 block decoder tuned for the shapes of Deep Lake data.
//!
//! `lz4_flex`'s safe decoder copies overlapping matches (offset < length, e.g. an RGB pixel
//! repeated with offset 3) one bounds-checked byte at a time, which made image-like data 3–4×
//! slower than the C library. This decoder copies overlapping matches by pattern doubling
//! (`copy_within` of 1, 2, 4, ... periods) and, like the C library, uses fixed 16-byte "wild"
//! copies for short literal runs and matches when the buffers have slack. Every access is
//! bounds-checked; nothing here can panic.

/// Why a block failed to decode.
pub(crate) type BlockError = &'static str;

const WILD: usize = 16;

/// Copies exactly `WILD` bytes from `src[s..]` to `dst[d..]`, if both fit.
#[inline(always)]
fn wild_copy(dst: &mut [u8], d: usize, src: &[u8], s: usize) -> bool {
    let to = dst
        .get_mut(d..d.wrapping_add(WILD))
        .and_then(|x| <&mut [u8; WILD]>::try_from(x).ok());
    let from = src
        .get(s..s.wrapping_add(WILD))
        .and_then(|x| <&[u8; WILD]>::try_from(x).ok());
    match (to, from) {
        (Some(to), Some(from)) => {
            *to = *from;
            true
        }
        _ => false,
    }
}

/// Reads an LZ4 length extension: bytes are added until one is not 255.
#[inline(always)]
fn read_extra(input: &[u8], ip: &mut usize) -> Result<usize, BlockError> {
    let mut n = 0usize;
    loop {
        let b = *input
            .get(*ip)
            .ok_or("length runs past the end of the input")?;
        *ip += 1;
        n = n.checked_add(usize::from(b)).ok_or("length overflows")?;
        if b != 255 {
            return Ok(n);
        }
    }
}

/// Copies the match `out[op - offset..][..len]` to `out[op..]`, handling overlap.
///
/// LZ4 defines a match byte by byte (`out[i] = out[i - offset]`), so copying forward in
/// chunks no longer than the distance between source and destination is exact.
#[inline(always)]
fn copy_match(out: &mut [u8], op: usize, offset: usize, len: usize) -> Result<(), BlockError> {
    if offset == 0 {
        return Err("match offset is zero");
    }
    let start = op
        .checked_sub(offset)
        .ok_or("match offset points before the output")?;
    let end = op
        .checked_add(len)
        .filter(|&e| e <= out.len())
        .ok_or("match runs past the output")?;
    if offset >= len {
        out.copy_within(start..start + len, op);
    } else if offset == 1 {
        let b = *out
            .get(start)
            .ok_or("match offset points before the output")?;
        out.get_mut(op..end)
            .ok_or("match runs past the output")?
            .fill(b);
    } else {
        // out[start..] is periodic with period `offset`: copy whole periods from `start`,
        // doubling the span each round (source and destination never overlap).
        let mut done = 0usize;
        while done < len {
            let n = (len - done).min(offset + done);
            out.copy_within(start..start + n, op + done);
            done += n;
        }
    }
    Ok(())
}

/// Decodes one raw LZ4 block (no size prefix) into `out`, returning the bytes written.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, BlockError> {
    let (mut ip, mut op) = (0usize, 0usize);
    loop {
        let token = *input.get(ip).ok_or("block ends before a sequence token")?;
        ip += 1;
        let mut lit = usize::from(token >> 4);
        let short_match = usize::from(token & 15);

        // Fast path, as the C library's "shortcut": at most 14 literals and an 18-byte match,
        // well inside both buffers. The literals are one 16-byte copy and the match (offset
        // >= 8) three copies of at most 8 bytes; bytes written past the sequence end are
        // overwritten by the next ones. `op + 32 <= out.len()` and `ip + 18 <= input.len()`
        // make every range below valid, so none of the copies can fail.
        if lit < 15 && short_match < 15 && ip + 18 <= input.len() && op + 32 <= out.len() {
            if !wild_copy(out, op, input, ip) {
                return Err("literals run past the output");
            }
            ip += lit;
            op += lit;
            let offset = match input.get(ip..ip + 2) {
                Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
                _ => return Err("block ends inside a match offset"),
            };
            ip += 2;
            let len = short_match + 4;
            if offset >= len && offset <= op {
                // One 18-byte move: memmove semantics read the source before writing, and its
                // first `len` bytes all precede `op`, so they are the match.
                let s = op - offset;
                out.copy_within(s..s + 18, op);
            } else {
                copy_match(out, op, offset, len)?;
            }
            op += len;
            continue;
        }

        // Literals.
        if lit == 15 {
            lit = lit
                .checked_add(read_extra(input, &mut ip)?)
                .ok_or("length overflows")?;
        }
        let src = ip
            .checked_add(lit)
            .and_then(|e| input.get(ip..e))
            .ok_or("literals run past the end of the input")?;
        let dst = op
            .checked_add(lit)
            .and_then(|e| out.get_mut(op..e))
            .ok_or("literals run past the output")?;
        dst.copy_from_slice(src);
        ip += lit;
        op += lit;
        if ip == input.len() {
            // The last sequence holds only literals.
            return Ok(op);
        }

        // Match.
        let offset = match input.get(ip..ip + 2) {
            Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
            _ => return Err("block ends inside a match offset"),
        };
        ip += 2;
        let mut len = short_match;
        if len == 15 {
            len = len
                .checked_add(read_extra(input, &mut ip)?)
                .ok_or("length overflows")?;
        }
        len += 4;
        copy_match(out, op, offset, len)?;
        op += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(data: &[u8]) {
        let block = lz4_flex::block::compress(data);
        let mut out = vec![0u8; data.len()];
        assert_eq!(decode(&block, &mut out), Ok(data.len()));
        assert_eq!(out, data);
    }

    #[test]
    fn decodes_runs_periods_and_noise() {
        check(b"");
        check(b"a");
        check(&[7u8; 1000]);
        let rgb: Vec<u8> = (0..3000).map(|i| [10u8, 200, 33][i % 3]).collect();
        check(&rgb);
        let mixed: Vec<u8> = (0..20_000u32)
            .map(|i| {
                if i % 97 < 50 {
                    (i % 5) as u8
                } else {
                    (i * 31 % 251) as u8
                }
            })
            .collect();
        check(&mixed);
        for period in 2..40 {
            let v: Vec<u8> = (0..500).map(|i| (i % period) as u8).collect();
            check(&v);
        }
    }

    #[test]
    fn rejects_bad_blocks() {
        let mut out = [0u8; 8];
        assert!(decode(&[], &mut out).is_err());
        assert!(
            decode(&[0x10, b'a', 0, 0], &mut out).is_err(),
            "zero offset"
        );
        assert!(
            decode(&[0x10, b'a', 2, 0], &mut out).is_err(),
            "offset before start"
        );
        assert!(
            decode(&[0x80, b'a'], &mut out).is_err(),
            "literals past input"
        );
        assert!(
            decode(&[0x90; 20], &mut out).is_err(),
            "literals past output"
        );
        assert!(
            decode(&[0x1F, b'a', 1, 0, 255, 255], &mut out).is_err(),
            "match past output"
        );
    }
}
