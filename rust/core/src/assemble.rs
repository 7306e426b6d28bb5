//! One-pass assembly of a tensor from byte ranges of fetched chunks.
//!
//! The caller (Python) works out a plan: for each sample or tile, which source buffer, which
//! byte range of it, and where in the output the decoded bytes go. [`assemble`] validates the
//! whole plan first, carves the output into disjoint `&mut` slices, then copies or decodes
//! each range straight into its slice, optionally on several threads.

use std::str::FromStr;

use crate::codec::{bmp, jpeg::JpegDecoder, lz4, png, tiff, webp};
use crate::{Error, Result};

/// Columns of a plan row: `source_index, start, end, dst_offset, dst_nbytes`.
pub const PLAN_COLS: usize = 5;

/// Upper bound on worker threads, whatever the caller asks for.
pub const MAX_THREADS: usize = 64;

/// What each planned byte range holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Raw bytes, copied as they are.
    None,
    /// One size-prefixed lz4 block (or frame) per range.
    Lz4,
    /// One PNG file per range.
    Png,
    /// One JPEG file per range.
    Jpeg,
    /// One BMP file per range.
    Bmp,
    /// One TIFF file per range.
    Tiff,
    /// One WebP file per range.
    Webp,
}

impl FromStr for Codec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "lz4" => Ok(Self::Lz4),
            "png" => Ok(Self::Png),
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "bmp" => Ok(Self::Bmp),
            "tiff" | "tif" => Ok(Self::Tiff),
            "webp" => Ok(Self::Webp),
            other => Err(Error::invalid(format!(
                "unknown codec {other:?}; expected \"none\", \"lz4\", \"png\", \"jpeg\", \
                 \"bmp\", \"tiff\" or \"webp\""
            ))),
        }
    }
}

/// One validated plan row.
#[derive(Debug, Clone, Copy)]
struct Item {
    row: usize,
    source: usize,
    start: usize,
    end: usize,
    dst_offset: usize,
    dst_nbytes: usize,
}

/// One unit of work: decode `src` into `dst`.
struct Job<'s, 'd> {
    row: usize,
    src: &'s [u8],
    dst: &'d mut [u8],
}

fn plan_error(row: usize, detail: impl std::fmt::Display) -> Error {
    Error::invalid(format!("plan row {row}: {detail}"))
}

fn validate(out_len: usize, sources: &[&[u8]], plan: &[i64], codec: Codec) -> Result<Vec<Item>> {
    if !plan.len().is_multiple_of(PLAN_COLS) {
        return Err(Error::invalid(format!(
            "plan must have {PLAN_COLS} columns"
        )));
    }
    let mut items = Vec::with_capacity(plan.len() / PLAN_COLS);
    for (row, r) in plan.chunks_exact(PLAN_COLS).enumerate() {
        let &[source, start, end, dst_offset, dst_nbytes] = r else {
            return Err(plan_error(row, "wrong number of columns"));
        };
        let field = |v: i64, name: &str| {
            usize::try_from(v).map_err(|_| plan_error(row, format!("{name} {v} is negative")))
        };
        let item = Item {
            row,
            source: field(source, "source index")?,
            start: field(start, "start")?,
            end: field(end, "end")?,
            dst_offset: field(dst_offset, "dst_offset")?,
            dst_nbytes: field(dst_nbytes, "dst_nbytes")?,
        };
        let src = sources.get(item.source).ok_or_else(|| {
            plan_error(
                row,
                format!(
                    "source index {} but only {} sources",
                    item.source,
                    sources.len()
                ),
            )
        })?;
        if item.start > item.end || item.end > src.len() {
            return Err(plan_error(
                row,
                format!(
                    "range {}..{} is outside source {} of {} bytes",
                    item.start,
                    item.end,
                    item.source,
                    src.len()
                ),
            ));
        }
        let dst_end = item
            .dst_offset
            .checked_add(item.dst_nbytes)
            .filter(|&e| e <= out_len)
            .ok_or_else(|| {
                plan_error(
                    row,
                    format!(
                        "destination {}+{} is outside the {out_len}-byte output",
                        item.dst_offset, item.dst_nbytes
                    ),
                )
            })?;
        let _ = dst_end;
        if codec == Codec::None && item.end - item.start != item.dst_nbytes {
            return Err(plan_error(
                row,
                format!(
                    "codec \"none\" copies {} bytes into {} bytes",
                    item.end - item.start,
                    item.dst_nbytes
                ),
            ));
        }
        items.push(item);
    }
    Ok(items)
}

/// Splits `out` into one disjoint destination slice per item, rejecting overlaps.
fn carve<'s, 'd>(
    out: &'d mut [u8],
    sources: &[&'s [u8]],
    mut items: Vec<Item>,
) -> Result<Vec<Job<'s, 'd>>> {
    // Zero-sized ranges sort first at an offset so they never count as overlapping.
    items.sort_unstable_by_key(|i| (i.dst_offset, i.dst_nbytes, i.row));
    let mut jobs = Vec::with_capacity(items.len());
    let mut rest: &'d mut [u8] = out;
    let mut cursor = 0usize;
    let mut last_row = None;
    for item in items {
        let src = sources
            .get(item.source)
            .and_then(|s| s.get(item.start..item.end))
            .ok_or_else(|| plan_error(item.row, "source range out of bounds"))?;
        if item.dst_nbytes == 0 {
            jobs.push(Job {
                row: item.row,
                src,
                dst: &mut [],
            });
            continue;
        }
        if item.dst_offset < cursor {
            return Err(plan_error(
                item.row,
                format!(
                    "destination overlaps plan row {}",
                    last_row.unwrap_or(item.row)
                ),
            ));
        }
        let oob = || plan_error(item.row, "destination out of bounds");
        let (_, tail) = std::mem::take(&mut rest)
            .split_at_mut_checked(item.dst_offset - cursor)
            .ok_or_else(oob)?;
        let (dst, tail) = tail.split_at_mut_checked(item.dst_nbytes).ok_or_else(oob)?;
        rest = tail;
        cursor = item.dst_offset + item.dst_nbytes;
        last_row = Some(item.row);
        jobs.push(Job {
            row: item.row,
            src,
            dst,
        });
    }
    Ok(jobs)
}

/// Per-thread decoder state.
#[derive(Default)]
struct Worker {
    jpeg: JpegDecoder,
}

impl Worker {
    fn run(&mut self, codec: Codec, job: Job<'_, '_>) -> Result<()> {
        if job.src.is_empty() && job.dst.is_empty() {
            return Ok(());
        }
        let result = match codec {
            Codec::None => {
                if job.src.len() != job.dst.len() {
                    return Err(Error::Internal("copy length mismatch".into()));
                }
                job.dst.copy_from_slice(job.src);
                Ok(())
            }
            Codec::Lz4 => lz4::decompress_into(job.src, job.dst),
            Codec::Png => png::decode_into(job.src, job.dst),
            Codec::Jpeg => self.jpeg.decode_into(job.src, job.dst),
            Codec::Bmp => bmp::decode_into(job.src, job.dst),
            Codec::Tiff => tiff::decode_into(job.src, job.dst),
            Codec::Webp => webp::decode_into(job.src, job.dst),
        };
        result.map_err(|e| match e {
            Error::Codec { codec, detail } => Error::Codec {
                codec,
                detail: format!("plan row {}: {detail}", job.row),
            },
            other => other,
        })
    }
}

fn run_all<'s, 'd>(codec: Codec, jobs: Vec<Job<'s, 'd>>) -> Result<()> {
    let mut worker = Worker::default();
    jobs.into_iter().try_for_each(|job| worker.run(codec, job))
}

/// Splits raw copies bigger than `piece` so that one huge range can use several threads.
fn split_copies<'s, 'd>(jobs: Vec<Job<'s, 'd>>, piece: usize) -> Vec<Job<'s, 'd>> {
    let piece = piece.max(1);
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Job {
            row,
            mut src,
            mut dst,
        } = job;
        while dst.len() > piece {
            let (Some((s0, s1)), Some((d0, d1))) = (
                src.split_at_checked(piece),
                std::mem::take(&mut dst).split_at_mut_checked(piece),
            ) else {
                break;
            };
            out.push(Job {
                row,
                src: s0,
                dst: d0,
            });
            src = s1;
            dst = d1;
        }
        out.push(Job { row, src, dst });
    }
    out
}

/// Fills `out` from byte ranges of `sources` following `plan`, a row-major `(n, 5)` table of
/// `source_index, start, end, dst_offset, dst_nbytes`.
///
/// Every row is validated before any byte is written: source ranges must lie inside their
/// source, destination ranges inside `out` and must not overlap; for [`Codec::None`] the two
/// lengths must match. Decoded sizes must equal `dst_nbytes`. With `threads > 1` the work is
/// split across that many scoped threads.
pub fn assemble(
    out: &mut [u8],
    sources: &[&[u8]],
    plan: &[i64],
    codec: Codec,
    threads: usize,
) -> Result<()> {
    let items = validate(out.len(), sources, plan, codec)?;
    let mut jobs = carve(out, sources, items)?;
    let threads = threads.clamp(1, MAX_THREADS);
    if threads == 1 || jobs.is_empty() {
        return run_all(codec, jobs);
    }
    let weight = |j: &Job<'_, '_>| j.dst.len().max(j.src.len()).max(1);
    let total: usize = jobs.iter().map(weight).sum();
    if codec == Codec::None {
        // Below ~256 KiB a thread costs more than the copy it would take over.
        jobs = split_copies(jobs, total.div_ceil(threads).max(256 * 1024));
    }
    let groups = partition(jobs, threads, total, weight);
    if groups.len() <= 1 {
        return groups.into_iter().try_for_each(|g| run_all(codec, g));
    }
    std::thread::scope(|scope| {
        let mut groups = groups.into_iter();
        let first = groups.next();
        let mut result = Ok(());
        let mut handles = Vec::new();
        for group in groups {
            // `Builder::spawn_scoped` reports a failure to create a thread instead of
            // panicking like `Scope::spawn` does.
            match std::thread::Builder::new().spawn_scoped(scope, move || run_all(codec, group)) {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    result = Err(Error::Internal(format!(
                        "cannot start a worker thread: {e}"
                    )));
                    break;
                }
            }
        }
        if result.is_ok() {
            result = first.map_or(Ok(()), |g| run_all(codec, g));
        }
        for handle in handles {
            let joined = handle.join().unwrap_or_else(|_| {
                Err(Error::Internal("an assemble worker thread panicked".into()))
            });
            if result.is_ok() {
                result = joined;
            }
        }
        result
    })
}

/// Cuts `jobs` (in destination order) into at most `threads` contiguous groups of about equal
/// weight.
fn partition<'s, 'd>(
    jobs: Vec<Job<'s, 'd>>,
    threads: usize,
    total: usize,
    weight: impl Fn(&Job<'_, '_>) -> usize,
) -> Vec<Vec<Job<'s, 'd>>> {
    let threads = threads.min(jobs.len()).max(1);
    let total = jobs.iter().map(&weight).sum::<usize>().max(total).max(1);
    let mut groups: Vec<Vec<Job<'s, 'd>>> = Vec::with_capacity(threads);
    let mut current = Vec::new();
    let mut acc = 0usize;
    for job in jobs {
        acc = acc.saturating_add(weight(&job));
        current.push(job);
        let boundary = total.saturating_mul(groups.len() + 1) / threads;
        if acc >= boundary && groups.len() + 1 < threads {
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        out: &mut [u8],
        sources: &[&[u8]],
        plan: &[[i64; 5]],
        codec: Codec,
        threads: usize,
    ) -> Result<()> {
        let flat: Vec<i64> = plan.iter().flatten().copied().collect();
        assemble(out, sources, &flat, codec, threads)
    }

    #[test]
    fn copies_ranges() {
        let a = b"abcdefgh";
        let b = b"XYZ";
        for threads in [1, 2, 3] {
            let mut out = [b'.'; 12];
            run(
                &mut out,
                &[a, b],
                &[[0, 2, 5, 0, 3], [1, 0, 3, 8, 3], [0, 0, 2, 4, 2]],
                Codec::None,
                threads,
            )
            .unwrap();
            assert_eq!(&out, b"cde.ab..XYZ.");
        }
    }

    #[test]
    fn rejects_bad_plans() {
        let a: &[u8] = b"abcdefgh";
        let mut out = [0u8; 8];
        let bad = |plan: &[[i64; 5]]| run(&mut [0u8; 8], &[a], plan, Codec::None, 1);
        assert!(bad(&[[0, 0, 4, 0, 4], [0, 0, 4, 2, 4]]).is_err(), "overlap");
        assert!(bad(&[[0, 0, 4, 6, 4]]).is_err(), "dst out of bounds");
        assert!(bad(&[[0, 4, 10, 0, 6]]).is_err(), "src out of bounds");
        assert!(bad(&[[1, 0, 4, 0, 4]]).is_err(), "bad source");
        assert!(bad(&[[0, 0, 4, 0, 3]]).is_err(), "size mismatch");
        assert!(bad(&[[0, 5, 4, 0, 0]]).is_err(), "reversed range");
        assert!(bad(&[[0, -1, 4, 0, 5]]).is_err(), "negative");
        assert!(bad(&[[0, 0, 4, i64::MAX, 4]]).is_err(), "offset overflow");
        assert!(
            assemble(&mut out, &[a], &[0, 0, 4], Codec::None, 1).is_err(),
            "ragged plan"
        );
        // Zero-sized ranges may sit anywhere inside the output.
        run(
            &mut out,
            &[a],
            &[[0, 0, 8, 0, 8], [0, 3, 3, 4, 0]],
            Codec::None,
            2,
        )
        .unwrap();
        assert_eq!(&out, a);
    }

    #[test]
    fn splits_large_copies_across_threads() {
        let src: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut out = vec![0u8; src.len()];
        run(
            &mut out,
            &[&src],
            &[[0, 0, src.len() as i64, 0, src.len() as i64]],
            Codec::None,
            2,
        )
        .unwrap();
        assert_eq!(out, src);
    }

    #[test]
    fn decodes_lz4_and_png() {
        let raw: Vec<u8> = (0..1000u32).map(|i| (i % 7) as u8).collect();
        let c = lz4::compress(&raw).unwrap();
        let mut out = vec![0u8; 2000];
        run(
            &mut out,
            &[&c],
            &[
                [0, 0, c.len() as i64, 1000, 1000],
                [0, 0, c.len() as i64, 0, 1000],
            ],
            Codec::Lz4,
            2,
        )
        .unwrap();
        assert_eq!(&out[..1000], &raw[..]);
        assert_eq!(&out[1000..], &raw[..]);
        let err = run(
            &mut out,
            &[&c],
            &[[0, 0, c.len() as i64, 0, 999]],
            Codec::Lz4,
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("plan row 0"), "{err}");
        let p = png::encode(png::Pixels::U8(&raw[..12]), 2, 2, 3).unwrap();
        let mut out = vec![0u8; 12];
        run(
            &mut out,
            &[&p],
            &[[0, 0, p.len() as i64, 0, 12]],
            Codec::Png,
            1,
        )
        .unwrap();
        assert_eq!(&out[..], &raw[..12]);
    }

    #[test]
    fn parses_codec_names() {
        assert_eq!("none".parse::<Codec>().unwrap(), Codec::None);
        assert_eq!("jpeg".parse::<Codec>().unwrap(), Codec::Jpeg);
        assert!("zstd".parse::<Codec>().is_err());
    }
}
