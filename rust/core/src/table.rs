//! Row-major 2-D tables, the in-memory form of every Deep Lake encoder.

use crate::{Error, Result};

/// An owned row-major table of `rows × cols` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> Table<T> {
    /// Wraps `data`, which must hold exactly `rows * cols` values.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        check_len(rows, cols, data.len())?;
        Ok(Self { rows, cols, data })
    }

    /// An empty table with `cols` columns.
    pub fn empty(cols: usize) -> Self {
        Self {
            rows: 0,
            cols,
            data: Vec::new(),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The values, row after row, by value.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// A borrowed view of the table.
    pub fn view(&self) -> TableView<'_, T> {
        TableView {
            rows: self.rows,
            cols: self.cols,
            data: &self.data,
        }
    }
}

/// A borrowed row-major table of `rows × cols` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableView<'a, T> {
    rows: usize,
    cols: usize,
    data: &'a [T],
}

impl<'a, T> TableView<'a, T> {
    /// Views `data`, which must hold exactly `rows * cols` values.
    pub fn new(rows: usize, cols: usize, data: &'a [T]) -> Result<Self> {
        check_len(rows, cols, data.len())?;
        Ok(Self { rows, cols, data })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values, row after row.
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }

    /// Row `i`, if it exists (an empty slice for every row of a 0-column table).
    pub fn row(&self, i: usize) -> Option<&'a [T]> {
        if i >= self.rows {
            return None;
        }
        let start = i.checked_mul(self.cols)?;
        self.data.get(start..start.checked_add(self.cols)?)
    }

    /// Iterates over the rows (none for a 0-column table).
    pub fn iter_rows(&self) -> impl Iterator<Item = &'a [T]> + 'a {
        let rows = if self.cols == 0 { 0 } else { self.rows };
        self.data.chunks_exact(self.cols.max(1)).take(rows)
    }

    /// Column `c` as a vector (empty if the column does not exist).
    pub fn column(&self, c: usize) -> Vec<T>
    where
        T: Copy,
    {
        self.iter_rows().filter_map(|r| r.get(c).copied()).collect()
    }
}

fn check_len(rows: usize, cols: usize, len: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(()),
        _ => Err(Error::invalid(format!(
            "a {rows}x{cols} table needs {} values, got {len}",
            rows.saturating_mul(cols)
        ))),
    }
}
