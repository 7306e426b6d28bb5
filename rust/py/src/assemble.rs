//! `assemble`: fill an output array from byte ranges of many sources in one pass.

use numpy::Ix2;
use pyo3::prelude::*;
use shoal_core::assemble::{self as core_assemble, Codec, PLAN_COLS};

use crate::buffer::{writable_bytes, ArrayArg, ReadBuf};
use crate::error::{value_error, NativeResult};
use crate::run_detached;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(assemble, m)?)?;
    Ok(())
}

fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let (a0, b0) = (a.as_ptr() as usize, b.as_ptr() as usize);
    !a.is_empty() && !b.is_empty() && a0 < b0 + b.len() && b0 < a0 + a.len()
}

#[pyfunction]
#[pyo3(signature = (out, sources, plan, codec = "none", threads = 1))]
fn assemble(
    py: Python<'_>,
    out: &Bound<'_, PyAny>,
    sources: &Bound<'_, PyAny>,
    plan: &Bound<'_, PyAny>,
    codec: &str,
    threads: i64,
) -> NativeResult<()> {
    let codec: Codec = codec.parse()?;
    let threads = usize::try_from(threads)
        .ok()
        .filter(|&t| t >= 1)
        .ok_or_else(|| value_error(format!("threads must be at least 1, got {threads}")))?;
    let plan = ArrayArg::<i64, Ix2>::new(plan, "plan", "a 2-D int64 numpy array of shape (n, 5)")?;
    if plan.shape().get(1) != Some(&PLAN_COLS) {
        return Err(value_error(format!(
            "plan must have shape (n, 5), got {:?}",
            plan.shape()
        )));
    }
    let buffers = sources
        .try_iter()
        .map_err(|_| crate::error::type_error("sources must be a sequence of buffers"))?
        .enumerate()
        .map(|(i, s)| ReadBuf::new(&s?, &format!("sources[{i}]")))
        .collect::<NativeResult<Vec<_>>>()?;
    let slices: Vec<&[u8]> = buffers.iter().map(ReadBuf::as_slice).collect();
    let mut out = writable_bytes(out, "out")?;
    let out = out
        .as_slice_mut()
        .map_err(|e| value_error(format!("out: {e}")))?;
    if let Some(i) = slices.iter().position(|s| overlaps(s, out)) {
        return Err(value_error(format!("sources[{i}] shares memory with out")));
    }
    let plan = plan.as_slice();
    let work = out.len().max(slices.iter().map(|s| s.len()).sum());
    run_detached(py, work, || {
        core_assemble::assemble(out, &slices, plan, codec, threads)
    })?;
    Ok(())
}
