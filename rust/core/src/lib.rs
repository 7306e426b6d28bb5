//! Pure-Rust core of shoal: the Deep Lake v3 chunk and encoder formats, index lookups, the
//! lz4/png/jpeg codecs and the one-pass tensor assembler.
//!
//! Nothing here knows about Python. Every parser takes untrusted bytes and returns an
//! [`Error`] for anything malformed; none of them panics.

#![warn(missing_docs)]
// Untrusted input must never panic: index with `get`, convert with `try_from`, and never
// unwrap outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod assemble;
pub mod chunk;
pub mod codec;
pub mod encoders;
mod error;
pub mod lookup;
mod read;
mod table;
mod version;

pub use error::{Error, Result};
pub use table::{Table, TableView};
