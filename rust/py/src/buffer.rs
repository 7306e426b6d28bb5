//! Borrowing Python buffers and numpy arrays as Rust slices, and building numpy results.
//!
//! Nothing here uses `unsafe`: `bytes` are read through `PyBytes::as_bytes`, and every other
//! buffer-protocol object is viewed (not copied) as a `uint8` numpy array with
//! `numpy.frombuffer`, then borrowed through rust-numpy's checked borrows. (pyo3's own
//! `PyBuffer::as_slice` hands out `ReadOnlyCell`s, and is deprecated as unsound in 0.30.)

use numpy::ndarray::Dimension;
use numpy::{
    Element, PyArray, PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1,
    PyReadwriteArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyTuple};
use shoal_core::Table;

use crate::error::{type_error, value_error, NativeResult};

static FROMBUFFER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ZEROS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A read-only byte view of any buffer-protocol object, borrowed for as long as this lives.
pub(crate) enum ReadBuf<'py> {
    Bytes(Bound<'py, PyBytes>),
    Array(PyReadonlyArray1<'py, u8>),
}

impl<'py> ReadBuf<'py> {
    /// Borrows `obj` (bytes, bytearray, memoryview, C-contiguous numpy array, mmap, ...).
    pub(crate) fn new(obj: &Bound<'py, PyAny>, name: &str) -> NativeResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Self::Bytes(b.clone()));
        }
        let py = obj.py();
        let bad =
            |e: PyErr| {
                type_error(format!(
                "{name} must be a C-contiguous object supporting the buffer protocol, not {}: {e}",
                obj.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string())
            ))
            };
        let view = FROMBUFFER
            .import(py, "numpy", "frombuffer")
            .and_then(|f| f.call1((obj, numpy::dtype::<u8>(py))))
            .map_err(bad)?;
        let view = view
            .cast_into::<PyArray1<u8>>()
            .map_err(|e| bad(e.into()))?;
        let borrowed = view
            .try_readonly()
            .map_err(|e| value_error(format!("{name} cannot be borrowed: {e}")))?;
        Ok(Self::Array(borrowed))
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Bytes(b) => b.as_bytes(),
            // `frombuffer` views are always contiguous, so this never falls back.
            Self::Array(a) => a.as_slice().unwrap_or_default(),
        }
    }
}

/// A typed numpy array argument, borrowed read-only; copied only if it is not contiguous.
pub(crate) struct ArrayArg<'py, T: Element, D: Dimension> {
    array: PyReadonlyArray<'py, T, D>,
    copy: Option<Vec<T>>,
}

impl<'py, T: Element + Copy, D: Dimension> ArrayArg<'py, T, D> {
    /// Borrows `obj`, which must be a numpy array of exactly dtype `T` and dimension `D`.
    pub(crate) fn new(obj: &Bound<'py, PyAny>, name: &str, expected: &str) -> NativeResult<Self> {
        let array = obj.cast::<PyArray<T, D>>().map_err(|_| {
            let got = obj
                .cast::<PyUntypedArray>()
                .map(|a| format!("a {}-D {} array", a.ndim(), a.dtype()))
                .unwrap_or_else(|_| {
                    obj.get_type()
                        .name()
                        .map_or_else(|_| "?".to_string(), |n| n.to_string())
                });
            type_error(format!("{name} must be {expected}, got {got}"))
        })?;
        let array = array
            .try_readonly()
            .map_err(|e| value_error(format!("{name} cannot be borrowed: {e}")))?;
        let copy = match array.as_slice() {
            Ok(_) => None,
            Err(_) => Some(array.as_array().iter().copied().collect()),
        };
        Ok(Self { array, copy })
    }

    /// The values in C order.
    pub(crate) fn as_slice(&self) -> &[T] {
        match &self.copy {
            Some(v) => v,
            None => self.array.as_slice().unwrap_or_default(),
        }
    }

    /// The array's shape.
    pub(crate) fn shape(&self) -> Vec<usize> {
        self.array.shape().to_vec()
    }
}

/// A 2-D table argument: `(rows, cols, values)`.
pub(crate) fn table_shape<T: Element + Copy>(arg: &ArrayArg<'_, T, numpy::Ix2>) -> (usize, usize) {
    match arg.shape().as_slice() {
        &[rows, cols] => (rows, cols),
        _ => (0, 0),
    }
}

/// Moves a table into a new `(rows, cols)` numpy array without copying.
pub(crate) fn table_to_numpy<'py, T: Element>(
    py: Python<'py>,
    table: Table<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let (rows, cols) = (table.rows(), table.cols());
    Ok(PyArray1::from_vec(py, table.into_vec())
        .reshape([rows, cols])?
        .into_any())
}

/// Moves a vector into a new 1-D numpy array without copying.
pub(crate) fn vec_to_numpy<T: Element>(py: Python<'_>, v: Vec<T>) -> Bound<'_, PyAny> {
    PyArray1::from_vec(py, v).into_any()
}

/// A new zero-filled array (through `numpy.zeros`, so an allocation failure is a
/// `MemoryError`, not a crash).
pub(crate) fn zeros<'py, T: Element>(
    py: Python<'py>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let shape = PyTuple::new(py, shape)?;
    let array = ZEROS
        .import(py, "numpy", "zeros")?
        .call1((shape, numpy::dtype::<T>(py)))?;
    Ok(array.cast_into::<PyArrayDyn<T>>()?)
}

/// A writable byte view of a C-contiguous numpy array of any (non-object) dtype.
pub(crate) fn writable_bytes<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> NativeResult<PyReadwriteArray1<'py, u8>> {
    let array = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| type_error(format!("{name} must be a numpy array")))?;
    if !array.is_c_contiguous() {
        return Err(value_error(format!("{name} must be C-contiguous")));
    }
    let py = obj.py();
    // For a C-contiguous array both are views: reshape(-1) never copies, and view() then
    // reinterprets the same memory as bytes (numpy refuses object dtypes here).
    let bytes = array
        .call_method1("reshape", (-1,))
        .and_then(|a| a.call_method1("view", (numpy::dtype::<u8>(py),)))
        .map_err(|e| type_error(format!("{name} cannot be viewed as bytes: {e}")))?
        .cast_into::<PyArray1<u8>>()
        .map_err(|e| {
            type_error(format!(
                "{name} cannot be viewed as bytes: {}",
                PyErr::from(e)
            ))
        })?;
    bytes.try_readwrite().map_err(|e| {
        value_error(format!(
            "{name} must be writable and not borrowed elsewhere: {e}"
        ))
    })
}
