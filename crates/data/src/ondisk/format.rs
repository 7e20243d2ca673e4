//! The on-disk file: a 64-byte header, the series' rows, and a JSON index at the end.
//!
//! ```text
//! 0   8  magic "BRNNSER\0"          32  4  CRC-32 of the rows
//! 8   4  version (1)                36  4  CRC-32 of the index
//! 12  4  header length (64)         40 24  zero
//! 16  8  rows length (bytes)
//! 24  8  index length (bytes)
//! 64  ...  per series, per row: C f32 values, then the row's f64 time (little-endian), so
//!          that one read gets a window's values and times
//! 64 + rows length  ...  the index (JSON): the spec, the input columns, each series' id, row
//!                        count and offset
//! ```
//!
//! Opening checks the header against the file's length before reading anything it sizes, then
//! the index's checksum and every series' extent, so a truncated, damaged or foreign file is an
//! error naming the file, never a panic or a huge allocation.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::csv::DataSpec;
use crate::error::{DataError, Result};

/// The first 8 bytes of every on-disk dataset file.
pub const MAGIC: &[u8; 8] = b"BRNNSER\0";
/// The format version this crate writes and reads.
pub const VERSION: u32 = 1;
/// The header's length in bytes; the rows start after it.
pub const HEADER_LEN: u64 = 64;

/// The fixed-size header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) rows_len: u64,
    pub(super) index_len: u64,
    pub(super) rows_crc: u32,
    pub(super) index_crc: u32,
}

/// Where the CSV file a dataset was converted from stood, to tell when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SourceStamp {
    pub(super) path: PathBuf,
    pub(super) len: u64,
    /// Seconds and nanoseconds since the Unix epoch of its last change, when known.
    pub(super) modified: Option<(u64, u32)>,
}

/// One series in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SeriesEntry {
    pub(super) id: String,
    pub(super) rows: u64,
    /// Its first row's offset from the start of the file.
    pub(super) offset: u64,
}

/// The index at the end of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Index {
    pub(super) spec: DataSpec,
    /// The C columns of each row: the forecast inputs, in order.
    pub(super) inputs: Vec<String>,
    /// For each target, its column among the inputs.
    pub(super) target_inputs: Vec<usize>,
    pub(super) source: SourceStamp,
    pub(super) series: Vec<SeriesEntry>,
}

impl Header {
    pub(super) fn to_bytes(self) -> [u8; HEADER_LEN as usize] {
        let mut bytes = [0u8; HEADER_LEN as usize];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        bytes[16..24].copy_from_slice(&self.rows_len.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.index_len.to_le_bytes());
        bytes[32..36].copy_from_slice(&self.rows_crc.to_le_bytes());
        bytes[36..40].copy_from_slice(&self.index_crc.to_le_bytes());
        bytes
    }

    /// Parses and checks a header against the length of its file.
    pub(super) fn parse(bytes: &[u8], file_len: u64, path: &Path) -> Result<Self> {
        let bad = |message: String| corrupt(path, message);
        if file_len < HEADER_LEN || bytes.len() < HEADER_LEN as usize {
            return Err(bad(format!(
                "{file_len} bytes is shorter than the {HEADER_LEN}-byte header (truncated?)"
            )));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad(
                "not an on-disk dataset (wrong magic number); convert the CSV file first".into(),
            ));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads version {VERSION}; convert the CSV file again"
            )));
        }
        if u32_at(12) != HEADER_LEN as u32 {
            return Err(bad(format!(
                "header length {}, expected {HEADER_LEN}",
                u32_at(12)
            )));
        }
        let header = Self {
            rows_len: u64_at(16),
            index_len: u64_at(24),
            rows_crc: u32_at(32),
            index_crc: u32_at(36),
        };
        let expected = HEADER_LEN
            .checked_add(header.rows_len)
            .and_then(|n| n.checked_add(header.index_len));
        if expected != Some(file_len) {
            return Err(bad(format!(
                "the header describes {} bytes of rows and {} bytes of index, but the file holds \
                 {file_len} bytes in all (truncated or damaged)",
                header.rows_len, header.index_len
            )));
        }
        Ok(header)
    }
}

impl Index {
    /// Checks the index against the header: columns, targets, windows and every series'
    /// extent inside the rows, in order and without gaps.
    pub(super) fn check(&self, header: &Header, path: &Path) -> Result<()> {
        let bad = |message: String| corrupt(path, message);
        self.spec
            .validate()
            .map_err(|e| bad(format!("its spec: {e}")))?;
        if self.spec.forecast.is_none() {
            return Err(bad("its spec has no forecast windows".into()));
        }
        let columns = self.inputs.len() as u64;
        if columns == 0 {
            return Err(bad("no input columns".into()));
        }
        if self.target_inputs.len() != self.spec.targets.len()
            || self.target_inputs.iter().any(|&c| c as u64 >= columns)
        {
            return Err(bad("the target columns do not match the inputs".into()));
        }
        let row_bytes = columns * 4 + 8;
        let mut next = HEADER_LEN;
        for (s, series) in self.series.iter().enumerate() {
            let bytes = series.rows.checked_mul(row_bytes);
            if series.rows == 0 || series.offset != next || bytes.is_none() {
                return Err(bad(format!(
                    "series {s} (`{}`): {} rows at offset {} do not follow the previous series",
                    series.id, series.rows, series.offset
                )));
            }
            next = bytes
                .and_then(|b| next.checked_add(b))
                .ok_or_else(|| bad(format!("series {s} is too long")))?;
        }
        if next != HEADER_LEN + header.rows_len {
            return Err(bad(format!(
                "the series take {} bytes but the header says {}",
                next - HEADER_LEN,
                header.rows_len
            )));
        }
        Ok(())
    }
}

/// The error for a damaged or foreign file.
pub(super) fn corrupt(path: &Path, message: String) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        message: format!("not a valid on-disk dataset: {message}"),
    }
}

/// An I/O error naming the file.
pub(super) fn io_error(path: &Path, what: &str, error: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        message: format!("cannot {what}: {error}"),
    }
}

/// Fills `buf` from `offset` of `file` with one positioned read (no shared cursor, so readers
/// on several threads need no lock); a short file is an error.
pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}
