//! Sample codecs: lz4, png, jpeg, bmp, tiff, webp and the header-only image probe.

use numpy::{IxDyn, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use shoal_core::codec::{self, bmp, jpeg, lz4, png, tiff, webp, ImageInfo, PixelType};

use crate::buffer::{zeros, ArrayArg, ReadBuf};
use crate::error::{type_error, value_error, NativeError, NativeResult};
use crate::run_detached;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lz4_compress, m)?)?;
    m.add_function(wrap_pyfunction!(lz4_decompress, m)?)?;
    m.add_function(wrap_pyfunction!(png_encode, m)?)?;
    m.add_function(wrap_pyfunction!(png_decode, m)?)?;
    m.add_function(wrap_pyfunction!(jpeg_encode, m)?)?;
    m.add_function(wrap_pyfunction!(jpeg_decode, m)?)?;
    m.add_function(wrap_pyfunction!(bmp_encode, m)?)?;
    m.add_function(wrap_pyfunction!(bmp_decode, m)?)?;
    m.add_function(wrap_pyfunction!(tiff_encode, m)?)?;
    m.add_function(wrap_pyfunction!(tiff_decode, m)?)?;
    m.add_function(wrap_pyfunction!(webp_encode, m)?)?;
    m.add_function(wrap_pyfunction!(webp_decode, m)?)?;
    m.add_function(wrap_pyfunction!(probe_image, m)?)?;
    Ok(())
}

fn to_py_err(e: shoal_core::Error) -> PyErr {
    NativeError::from(e).into()
}

#[pyfunction]
fn lz4_compress<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let data = ReadBuf::new(data, "data")?;
    let bytes = data.as_slice();
    let out = run_detached(py, bytes.len(), || lz4::compress(bytes))?;
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn lz4_decompress<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let data = ReadBuf::new(data, "data")?;
    let bytes = data.as_slice();
    match lz4::decompressed_size(bytes)? {
        // Block format: the size is known, so decompress straight into the bytes object.
        Some(size) => Ok(PyBytes::new_with(py, size, |out| {
            run_detached(py, size, || lz4::decompress_into(bytes, out)).map_err(to_py_err)
        })?),
        None => {
            let out = run_detached(py, bytes.len() * 4, || lz4::decompress(bytes))?;
            Ok(PyBytes::new(py, &out))
        }
    }
}

/// Shape `(H, W, C)` of an image argument: 2-D means one channel.
fn image_shape(shape: &[usize], name: &str) -> NativeResult<(usize, usize, usize)> {
    match *shape {
        [h, w] => Ok((h, w, 1)),
        [h, w, c] => Ok((h, w, c)),
        _ => Err(value_error(format!(
            "{name} must be (H, W) or (H, W, C), got shape {shape:?}"
        ))),
    }
}

/// Encodes a uint8 or uint16 image array, `(H, W)` or `(H, W, C)`, with `encode` (PNG and
/// TIFF take the same pixels).
fn encode_8_or_16<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
    encode: fn(png::Pixels<'_>, usize, usize, usize) -> shoal_core::Result<Vec<u8>>,
) -> NativeResult<Bound<'py, PyBytes>> {
    let untyped = array
        .cast::<PyUntypedArray>()
        .map_err(|_| type_error("array must be a numpy array of uint8 or uint16"))?;
    let (h, w, c) = image_shape(untyped.shape(), "array")?;
    let out = if untyped.dtype().is_equiv_to(&numpy::dtype::<u8>(py)) {
        let arg = ArrayArg::<u8, IxDyn>::new(array, "array", "a uint8 or uint16 numpy array")?;
        let px = arg.as_slice();
        run_detached(py, px.len(), || encode(png::Pixels::U8(px), h, w, c))?
    } else if untyped.dtype().is_equiv_to(&numpy::dtype::<u16>(py)) {
        let arg = ArrayArg::<u16, IxDyn>::new(array, "array", "a uint8 or uint16 numpy array")?;
        let px = arg.as_slice();
        run_detached(py, px.len() * 2, || encode(png::Pixels::U16(px), h, w, c))?
    } else {
        return Err(type_error(format!(
            "array must be uint8 or uint16, got {}",
            untyped.dtype()
        )));
    };
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn png_encode<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    encode_8_or_16(py, array, png::encode)
}

/// An 8-bit image encoder of the core: pixels, height, width, channels.
type EncodeU8 = fn(&[u8], usize, usize, usize) -> shoal_core::Result<Vec<u8>>;

/// Encodes a uint8 image array, `(H, W)` or `(H, W, C)`, with `encode` (BMP, WebP).
fn encode_u8<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
    encode: EncodeU8,
) -> NativeResult<Bound<'py, PyBytes>> {
    let arg = ArrayArg::<u8, IxDyn>::new(array, "array", "a uint8 numpy array")?;
    let (h, w, c) = image_shape(&arg.shape(), "array")?;
    let px = arg.as_slice();
    let out = run_detached(py, px.len(), || encode(px, h, w, c))?;
    Ok(PyBytes::new(py, &out))
}

/// Decodes one image file of a format: `probe` reads its header (shape and pixel type),
/// `decode_into` fills the array allocated for it.
fn decode_file<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    probe: fn(&[u8]) -> shoal_core::Result<ImageInfo>,
    decode_into: fn(&[u8], &mut [u8]) -> shoal_core::Result<()>,
) -> NativeResult<Bound<'py, PyAny>> {
    let data = ReadBuf::new(data, "data")?;
    let bytes = data.as_slice();
    let info = probe(bytes)?;
    decode_image(py, info, |out| decode_into(bytes, out))
}

/// Allocates the output array for `info` and decodes into it with `decode`.
fn decode_image<'py>(
    py: Python<'py>,
    info: ImageInfo,
    decode: impl Send + FnOnce(&mut [u8]) -> shoal_core::Result<()>,
) -> NativeResult<Bound<'py, PyAny>> {
    let nbytes = info.nbytes()?;
    let shape = info.shape();
    match info.dtype {
        PixelType::U8 => {
            let array = zeros::<u8>(py, &shape)?;
            {
                let mut rw = array
                    .try_readwrite()
                    .map_err(|e| value_error(format!("output array: {e}")))?;
                let out = rw
                    .as_slice_mut()
                    .map_err(|e| value_error(format!("output array: {e}")))?;
                run_detached(py, nbytes, || decode(out))?;
            }
            Ok(array.into_any())
        }
        PixelType::U16 => {
            let array = zeros::<u16>(py, &shape)?;
            {
                let mut rw = array
                    .try_readwrite()
                    .map_err(|e| value_error(format!("output array: {e}")))?;
                let out = rw
                    .as_slice_mut()
                    .map_err(|e| value_error(format!("output array: {e}")))?;
                let out: &mut [u8] = bytemuck::cast_slice_mut(out);
                run_detached(py, nbytes, || decode(out))?;
            }
            Ok(array.into_any())
        }
    }
}

#[pyfunction]
fn png_decode<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> NativeResult<Bound<'py, PyAny>> {
    decode_file(py, data, png::probe, png::decode_into)
}

#[pyfunction]
#[pyo3(signature = (array, quality = 75))]
fn jpeg_encode<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
    quality: i64,
) -> NativeResult<Bound<'py, PyBytes>> {
    let arg = ArrayArg::<u8, IxDyn>::new(array, "array", "a uint8 numpy array")?;
    let (h, w, c) = image_shape(&arg.shape(), "array")?;
    let quality = i32::try_from(quality)
        .map_err(|_| value_error(format!("JPEG quality must be in 1..=100, got {quality}")))?;
    let px = arg.as_slice();
    let out = run_detached(py, px.len(), || jpeg::encode(px, h, w, c, quality))?;
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn jpeg_decode<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> NativeResult<Bound<'py, PyAny>> {
    let data = ReadBuf::new(data, "data")?;
    let bytes = data.as_slice();
    let info = jpeg::probe(bytes)?;
    decode_image(py, info, |out| {
        jpeg::JpegDecoder::new().decode_into(bytes, out)
    })
}

#[pyfunction]
fn bmp_encode<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    encode_u8(py, array, bmp::encode)
}

#[pyfunction]
fn bmp_decode<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> NativeResult<Bound<'py, PyAny>> {
    decode_file(py, data, bmp::probe, bmp::decode_into)
}

#[pyfunction]
fn tiff_encode<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    encode_8_or_16(py, array, tiff::encode)
}

#[pyfunction]
fn tiff_decode<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> NativeResult<Bound<'py, PyAny>> {
    decode_file(py, data, tiff::probe, tiff::decode_into)
}

#[pyfunction]
fn webp_encode<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
) -> NativeResult<Bound<'py, PyBytes>> {
    encode_u8(py, array, webp::encode)
}

#[pyfunction]
fn webp_decode<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> NativeResult<Bound<'py, PyAny>> {
    decode_file(py, data, webp::probe, webp::decode_into)
}

#[pyfunction]
fn probe_image<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> NativeResult<(&'static str, Bound<'py, PyTuple>, &'static str)> {
    let data = ReadBuf::new(data, "data")?;
    let info = codec::probe(data.as_slice())?;
    Ok((
        info.format.name(),
        PyTuple::new(py, info.shape())?,
        info.dtype.name(),
    ))
}
