//! Batch index lookups: `locate_samples`, `sample_shapes`, `sample_ranges`.

use numpy::{Ix1, Ix2};
use pyo3::prelude::*;
use shoal_core::{lookup, TableView};

use crate::buffer::{table_shape, table_to_numpy, vec_to_numpy, ArrayArg};
use crate::error::NativeResult;
use crate::run_detached;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(locate_samples, m)?)?;
    m.add_function(wrap_pyfunction!(sample_shapes, m)?)?;
    m.add_function(wrap_pyfunction!(sample_ranges, m)?)?;
    Ok(())
}

fn indices<'py>(obj: &Bound<'py, PyAny>, name: &str) -> NativeResult<ArrayArg<'py, i64, Ix1>> {
    ArrayArg::new(obj, name, "a 1-D int64 numpy array")
}

fn u32_table<'py>(obj: &Bound<'py, PyAny>, name: &str) -> NativeResult<ArrayArg<'py, u32, Ix2>> {
    ArrayArg::new(obj, name, "a 2-D uint32 numpy array")
}

#[pyfunction]
fn locate_samples<'py>(
    py: Python<'py>,
    last_index: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
) -> NativeResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let last = ArrayArg::<u64, Ix1>::new(last_index, "last_index", "a 1-D uint64 numpy array")?;
    let idx = self::indices(indices, "indices")?;
    let (last, idx) = (last.as_slice(), idx.as_slice());
    let work = (last.len() + idx.len()) * 8;
    let (rows, locals) = run_detached(py, work, || lookup::locate_samples(last, idx))?;
    Ok((vec_to_numpy(py, rows), vec_to_numpy(py, locals)))
}

#[pyfunction]
fn sample_shapes<'py>(
    py: Python<'py>,
    shapes: &Bound<'py, PyAny>,
    local: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyAny>> {
    let shapes = u32_table(shapes, "shapes")?;
    let local = indices(local, "local")?;
    let (rows, cols) = table_shape(&shapes);
    let table = TableView::new(rows, cols, shapes.as_slice())?;
    let local = local.as_slice();
    let out = run_detached(py, local.len() * 8, || lookup::sample_shapes(table, local))?;
    Ok(table_to_numpy(py, out)?)
}

#[pyfunction]
fn sample_ranges<'py>(
    py: Python<'py>,
    byte_positions: &Bound<'py, PyAny>,
    local: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyAny>> {
    let bp = u32_table(byte_positions, "byte_positions")?;
    let local = indices(local, "local")?;
    let (rows, cols) = table_shape(&bp);
    let table = TableView::new(rows, cols, bp.as_slice())?;
    let local = local.as_slice();
    let out = run_detached(py, local.len() * 8, || lookup::sample_ranges(table, local))?;
    Ok(table_to_numpy(py, out)?)
}
