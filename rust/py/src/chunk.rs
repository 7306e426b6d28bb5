//! Chunks and encoders: `parse_chunk_header`, `serialize_chunk`, and the chunk-id, u32 and
//! tile encoders.

use numpy::Ix2;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use shoal_core::encoders::{self, TileEntry};
use shoal_core::{chunk, TableView};

use crate::buffer::{table_shape, table_to_numpy, ArrayArg, ReadBuf};
use crate::error::{value_error, NativeError, NativeResult};
use crate::run_detached;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ChunkHeader>()?;
    m.add_function(wrap_pyfunction!(parse_chunk_header, m)?)?;
    m.add_function(wrap_pyfunction!(serialize_chunk, m)?)?;
    m.add_function(wrap_pyfunction!(parse_chunk_ids, m)?)?;
    m.add_function(wrap_pyfunction!(serialize_chunk_ids, m)?)?;
    m.add_function(wrap_pyfunction!(parse_u32_encoder, m)?)?;
    m.add_function(wrap_pyfunction!(serialize_u32_encoder, m)?)?;
    m.add_function(wrap_pyfunction!(parse_tile_encoder, m)?)?;
    m.add_function(wrap_pyfunction!(serialize_tile_encoder, m)?)?;
    Ok(())
}

/// The parsed header of one chunk object.
#[pyclass(name = "ChunkHeader", module = "shoal._native", frozen)]
pub(crate) struct ChunkHeader {
    version: String,
    shapes: Py<PyAny>,
    byte_positions: Py<PyAny>,
    data_offset: usize,
    num_samples: u64,
}

#[pymethods]
impl ChunkHeader {
    /// The library version string stored in the chunk.
    #[getter]
    fn version(&self) -> &str {
        &self.version
    }

    /// Shape encoder, `(rows, ndim + 1)` (read-only).
    #[getter]
    fn shapes(&self, py: Python<'_>) -> Py<PyAny> {
        self.shapes.clone_ref(py)
    }

    /// Byte-position encoder, `(rows, 3)` (read-only).
    #[getter]
    fn byte_positions(&self, py: Python<'_>) -> Py<PyAny> {
        self.byte_positions.clone_ref(py)
    }

    /// Length of the header: the chunk's data starts at this offset.
    #[getter]
    fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// Number of samples in the chunk.
    #[getter]
    fn num_samples(&self) -> u64 {
        self.num_samples
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = |a: &Py<PyAny>| {
            a.bind(py)
                .getattr("shape")
                .map_or_else(|_| "?".to_string(), |s| s.to_string())
        };
        format!(
            "ChunkHeader(version={:?}, shapes{}, byte_positions{}, data_offset={}, num_samples={})",
            self.version,
            shape(&self.shapes),
            shape(&self.byte_positions),
            self.data_offset,
            self.num_samples
        )
    }
}

/// A table as a read-only numpy array, so a header shared between callers cannot be changed.
fn frozen_table(py: Python<'_>, table: shoal_core::Table<u32>) -> PyResult<Py<PyAny>> {
    let array = table_to_numpy(py, table)?;
    array.getattr("flags")?.setattr("writeable", false)?;
    Ok(array.unbind())
}

#[pyfunction]
fn parse_chunk_header(py: Python<'_>, buf: &Bound<'_, PyAny>) -> NativeResult<ChunkHeader> {
    let buf = ReadBuf::new(buf, "buf")?;
    let bytes = buf.as_slice();
    // The work is the header's, not the buffer's (a whole chunk, often megabytes): a header
    // that fits in the first bytes is parsed holding the GIL, which a thread waiting for it
    // again (the I/O loop, say, among busy workers) pays far more for than the parse.
    let head = &bytes[..bytes.len().min(crate::DETACH_THRESHOLD)];
    let header = match chunk::parse_header(head) {
        Err(shoal_core::Error::Truncated { .. }) if head.len() < bytes.len() => {
            run_detached(py, bytes.len(), || chunk::parse_header(bytes))?
        }
        parsed => parsed?,
    };
    let num_samples = header.num_samples();
    Ok(ChunkHeader {
        version: header.version,
        shapes: frozen_table(py, header.shapes)?,
        byte_positions: frozen_table(py, header.byte_positions)?,
        data_offset: header.data_offset,
        num_samples,
    })
}

fn u32_table<'py>(obj: &Bound<'py, PyAny>, name: &str) -> NativeResult<ArrayArg<'py, u32, Ix2>> {
    ArrayArg::new(obj, name, "a 2-D uint32 numpy array")
}

fn view<'a, T: numpy::Element + Copy>(
    arg: &'a ArrayArg<'_, T, Ix2>,
) -> NativeResult<TableView<'a, T>> {
    let (rows, cols) = table_shape(arg);
    Ok(TableView::new(rows, cols, arg.as_slice())?)
}

#[pyfunction]
fn serialize_chunk<'py>(
    py: Python<'py>,
    version: String,
    shapes: &Bound<'py, PyAny>,
    byte_positions: &Bound<'py, PyAny>,
    data: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let shapes = u32_table(shapes, "shapes")?;
    let byte_positions = u32_table(byte_positions, "byte_positions")?;
    let data = ReadBuf::new(data, "data")?;
    let (shapes, byte_positions, data) = (view(&shapes)?, view(&byte_positions)?, data.as_slice());
    let len = chunk::header_len(&version, shapes, byte_positions)?
        .checked_add(data.len())
        .ok_or_else(|| value_error("chunk is too large"))?;
    let out = PyBytes::new_with(py, len, |buf| {
        run_detached(py, len, || {
            chunk::write_into(buf, &version, shapes, byte_positions, data)
        })
        .map_err(|e| PyErr::from(NativeError::from(e)))
    })?;
    Ok(out)
}

#[pyfunction]
fn parse_chunk_ids<'py>(
    py: Python<'py>,
    buf: &Bound<'py, PyAny>,
) -> NativeResult<(String, Bound<'py, PyAny>)> {
    let buf = ReadBuf::new(buf, "buf")?;
    let bytes = buf.as_slice();
    let (version, table) = run_detached(py, bytes.len(), || encoders::parse_chunk_ids(bytes))?;
    Ok((version, table_to_numpy(py, table)?))
}

#[pyfunction]
fn serialize_chunk_ids<'py>(
    py: Python<'py>,
    version: String,
    table: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let table = ArrayArg::<u64, Ix2>::new(table, "table", "a 2-D uint64 numpy array")?;
    let t = view(&table)?;
    let out = run_detached(py, t.as_slice().len() * 8, || {
        encoders::serialize_chunk_ids(&version, t)
    })?;
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn parse_u32_encoder<'py>(
    py: Python<'py>,
    buf: &Bound<'py, PyAny>,
    cols: i64,
) -> NativeResult<(String, Bound<'py, PyAny>)> {
    let cols = usize::try_from(cols)
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| value_error(format!("cols must be a positive integer, got {cols}")))?;
    let buf = ReadBuf::new(buf, "buf")?;
    let bytes = buf.as_slice();
    let (version, table) =
        run_detached(py, bytes.len(), || encoders::parse_u32_encoder(bytes, cols))?;
    Ok((version, table_to_numpy(py, table)?))
}

#[pyfunction]
fn serialize_u32_encoder<'py>(
    py: Python<'py>,
    version: String,
    table: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let table = u32_table(table, "table")?;
    let t = view(&table)?;
    let out = run_detached(py, t.as_slice().len() * 4, || {
        encoders::serialize_u32_encoder(&version, t)
    })?;
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn parse_tile_encoder<'py>(
    py: Python<'py>,
    buf: &Bound<'py, PyAny>,
) -> NativeResult<(String, Bound<'py, PyDict>)> {
    let buf = ReadBuf::new(buf, "buf")?;
    let bytes = buf.as_slice();
    let (version, entries) = run_detached(py, bytes.len(), || encoders::parse_tile_encoder(bytes))?;
    let dict = PyDict::new(py);
    for e in entries {
        let sample = PyTuple::new(py, e.sample_shape)?;
        let tile = PyTuple::new(py, e.tile_shape)?;
        dict.set_item(e.index, (sample, tile))?;
    }
    Ok((version, dict))
}

fn uint(obj: &Bound<'_, PyAny>, what: &str) -> NativeResult<u64> {
    obj.extract::<u64>().map_err(|_| {
        let shown = obj
            .repr()
            .map_or_else(|_| "?".to_string(), |r| r.to_string());
        value_error(format!(
            "{what} must be a non-negative integer below 2**64, got {shown}"
        ))
    })
}

fn uints(obj: &Bound<'_, PyAny>, what: &str) -> NativeResult<Vec<u64>> {
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(crate::error::type_error(format!(
            "{what} must be a sequence of integers"
        )));
    }
    obj.try_iter()
        .map_err(|_| crate::error::type_error(format!("{what} must be a sequence of integers")))?
        .map(|item| uint(&item?, what))
        .collect()
}

#[pyfunction]
fn serialize_tile_encoder<'py>(
    py: Python<'py>,
    version: String,
    entries: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let items = entries
        .call_method0("items")
        .map_err(|_| crate::error::type_error("entries must be a mapping"))?;
    let mut parsed = Vec::new();
    for item in items.try_iter()? {
        let item = item?;
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let index = uint(&key, "a sample index")?;
        let (sample, tile): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
            value.extract().map_err(|_| {
                crate::error::type_error(format!(
                    "entry {index} must be a (sample_shape, tile_shape) pair"
                ))
            })?;
        parsed.push(TileEntry {
            index,
            sample_shape: uints(&sample, "a sample shape")?,
            tile_shape: uints(&tile, "a tile shape")?,
        });
    }
    let out = encoders::serialize_tile_encoder(&version, &parsed).map_err(NativeError::from)?;
    Ok(PyBytes::new(py, &out))
}
