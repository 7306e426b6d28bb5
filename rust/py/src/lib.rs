//! `shoal._native`: the thin PyO3 layer over `shoal-core`.
//!
//! This crate only converts types, releases the GIL and maps errors; every algorithm lives in
//! `shoal-core`. The Python-facing contract is `python/shoal/_native.pyi`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod assemble;
mod buffer;
mod chunk;
mod codec;
mod error;
mod lookup;

use pyo3::marker::Ungil;
use pyo3::prelude::*;

/// Below this many bytes of work, releasing and re-taking the GIL costs more than it frees.
const DETACH_THRESHOLD: usize = 64 * 1024;

/// Runs CPU work with the GIL released — the one place that policy is written down.
///
/// Everything `f` touches must have been extracted or borrowed while attached: `Ungil` keeps
/// `Bound` references out of the closure. Tiny jobs (`work_bytes` under
/// [`DETACH_THRESHOLD`]) run attached, as the switch would dominate them.
pub(crate) fn run_detached<T, F>(py: Python<'_>, work_bytes: usize, f: F) -> T
where
    F: Ungil + FnOnce() -> T,
    T: Ungil,
{
    if work_bytes < DETACH_THRESHOLD {
        f()
    } else {
        py.detach(f)
    }
}

/// The private native core of shoal.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The exception classes come from shoal.errors and are looked up lazily when first raised;
    // import it now so a broken install fails here, at import time, rather than later.
    m.py().import("shoal.errors")?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "build_profile",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    chunk::register(m)?;
    lookup::register(m)?;
    codec::register(m)?;
    assemble::register(m)?;
    // pyo3 fills `__all__` as it adds functions; the module is private and its stub declares
    // no `__all__`, so drop it rather than let the two disagree.
    m.delattr("__all__")?;
    Ok(())
}
