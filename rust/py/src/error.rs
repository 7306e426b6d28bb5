//! Mapping of `shoal_core::Error` onto the exceptions of `shoal.errors` and the builtins.

use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;
use shoal_core::Error;

pyo3::import_exception!(shoal.errors, CorruptDataError);
pyo3::import_exception!(shoal.errors, TruncatedDataError);
pyo3::import_exception!(shoal.errors, CodecError);

/// An error on its way to Python: from the core, or already a Python exception.
#[derive(Debug)]
pub(crate) enum NativeError {
    /// A `shoal-core` error.
    Core(Error),
    /// A Python exception raised while converting arguments.
    Py(PyErr),
}

/// `Result` with [`NativeError`].
pub(crate) type NativeResult<T> = Result<T, NativeError>;

impl From<Error> for NativeError {
    fn from(e: Error) -> Self {
        Self::Core(e)
    }
}

impl From<PyErr> for NativeError {
    fn from(e: PyErr) -> Self {
        Self::Py(e)
    }
}

impl From<NativeError> for PyErr {
    fn from(e: NativeError) -> Self {
        let e = match e {
            NativeError::Py(e) => return e,
            NativeError::Core(e) => e,
        };
        let message = e.to_string();
        match e {
            Error::Corrupt { .. } => CorruptDataError::new_err(message),
            Error::Truncated { needed, .. } => TruncatedDataError::new_err((message, needed)),
            Error::Codec { .. } => CodecError::new_err(message),
            Error::InvalidArgument(_) => PyValueError::new_err(message),
            Error::OutOfRange { .. } => PyIndexError::new_err(message),
            Error::Internal(_) => PyRuntimeError::new_err(message),
        }
    }
}

/// A `ValueError` for a bad argument.
pub(crate) fn value_error(message: impl Into<String>) -> NativeError {
    NativeError::Py(PyValueError::new_err(message.into()))
}

/// A `TypeError` for an argument of the wrong type.
pub(crate) fn type_error(message: impl Into<String>) -> NativeError {
    NativeError::Py(PyTypeError::new_err(message.into()))
}
