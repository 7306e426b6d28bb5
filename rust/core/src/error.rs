//! The one error type of the core crate.

/// Everything that can go wrong in `shoal-core`.
///
/// The Python binding maps each variant to one exception: [`Error::Corrupt`] to
/// `CorruptDataError`, [`Error::Truncated`] to `TruncatedDataError`, [`Error::Codec`] to
/// `CodecError`, [`Error::InvalidArgument`] to `ValueError` and [`Error::OutOfRange`] to
/// `IndexError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bytes read from storage do not parse.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// The structure being parsed, e.g. `"chunk header"`.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// Bytes end before the structure they hold does.
    #[error("truncated {what}: {needed} bytes needed, only {available} given")]
    Truncated {
        /// The structure being parsed.
        what: &'static str,
        /// Total number of bytes the structure needs (exact when known, else a lower bound).
        needed: usize,
        /// Number of bytes that were given.
        available: usize,
    },
    /// Encoding or decoding an image or an lz4 stream failed.
    #[error("{codec}: {detail}")]
    Codec {
        /// The codec: `"lz4"`, `"png"` or `"jpeg"`.
        codec: &'static str,
        /// What failed.
        detail: String,
    },
    /// A caller-supplied argument is invalid (bad shape, bad plan, unknown codec, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// An index is past the end of what it indexes.
    #[error("{what} {index} is out of range (length {len})")]
    OutOfRange {
        /// What the index refers to, e.g. `"sample index"`.
        what: &'static str,
        /// The offending index.
        index: i64,
        /// The number of valid indices.
        len: u64,
    },
    /// A bug in shoal, e.g. a worker thread that panicked.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Corrupt`] for `what`.
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what,
            detail: detail.into(),
        }
    }

    /// A [`Error::Codec`] for `codec`.
    pub(crate) fn codec(codec: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Codec {
            codec,
            detail: detail.to_string(),
        }
    }

    /// An [`Error::InvalidArgument`].
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidArgument(detail.into())
    }
}
