//! The on-disk file: a 64-byte header, the records, and a JSON index at the end.
//!
//! ```text
//! 0   8  magic "BRNNSER\0"          32  4  CRC-32 of the records
//! 8   4  version (1)                36  4  CRC-32 of the index
//! 12  4  header length (64)         40  4  kind: 0 series (forecasting), 1 sequences
//! 16  8  records length (bytes)     44 20  zero
//! 24  8  index length (bytes)
//! 64 ...  the records, one per entry of the index, back to back:
//!         series:    per row, C f32 values then the row's f64 time (little-endian), so that
//!                    one read gets a window's values and times;
//!         sequences: the target (K f32 values, or a class's u32 code), then the sequence's
//!                    steps × D f32 values
//! 64 + records length ...  the index (JSON): the spec, the input columns, each entry's id,
//!         rows (steps) and offset; for sequences also T, the target kind and names, and the
//!         label of each class code
//! ```
//!
//! Opening checks the header against the file's length before reading anything it sizes, then
//! the index's checksum, its kind and every entry's extent, so a truncated, damaged or foreign
//! file is an error naming the file, never a panic or a huge allocation. Files written before
//! the kind existed have zeros there: series.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::csv::{DataSpec, Task};
use crate::dataset::TargetKind;
use crate::error::{DataError, Result};

/// The first 8 bytes of every on-disk dataset file.
pub const MAGIC: &[u8; 8] = b"BRNNSER\0";
/// The format version this crate writes and reads.
pub const VERSION: u32 = 1;
/// The header's length in bytes; the rows start after it.
pub const HEADER_LEN: u64 = 64;

/// What a file's records hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    /// Long series, cut into forecasting windows when read ([`super::OnDiskDataset`]).
    Series = 0,
    /// One sequence per sample with its target ([`super::OnDiskSequences`]).
    Sequences = 1,
}

impl FileKind {
    fn name(self) -> &'static str {
        match self {
            FileKind::Series => "forecasting series",
            FileKind::Sequences => "sequences",
        }
    }
}

/// The fixed-size header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) kind: FileKind,
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

/// One series (or sequence) in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) id: String,
    /// Its rows (a sequence: its steps).
    pub(super) rows: u64,
    /// Its first row's offset from the start of the file.
    pub(super) offset: u64,
}

/// The index at the end of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Index {
    pub(super) spec: DataSpec,
    /// The C columns of each row: the forecast inputs, or a sequence's D features, in order.
    pub(super) inputs: Vec<String>,
    /// For each forecast target, its column among the inputs (none for sequences).
    pub(super) target_inputs: Vec<usize>,
    pub(super) source: SourceStamp,
    /// The series or sequences, in order.
    #[serde(alias = "series")]
    pub(super) entries: Vec<Entry>,
    /// For sequences: their shape and targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sequences: Option<SequenceLayout>,
}

/// What the index of a sequences file records beyond its entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SequenceLayout {
    /// T, the steps every sequence is padded to when read.
    pub(super) num_steps: usize,
    /// The kind and size of the targets.
    pub(super) target_kind: TargetKind,
    /// The regression columns, or the class names in class order.
    pub(super) target_names: Vec<String>,
    /// For classification: the label of each class code written in the records (the labels in
    /// the order they first appear, or the classes given to the conversion).
    pub(super) labels: Vec<String>,
    /// Whether the classes were given to the conversion (a file read onto a model's classes)
    /// rather than found in the file.
    pub(super) given_classes: bool,
}

impl SequenceLayout {
    /// The bytes of a record's target: K `f32` values, or a class's `u32` code.
    pub(super) fn target_bytes(&self) -> u64 {
        match self.target_kind {
            TargetKind::Classification { .. } => 4,
            kind => 4 * kind.outputs() as u64,
        }
    }

    /// Each label code's class index; `None` when a label is not one of the classes.
    pub(super) fn class_of_code(&self) -> Option<Vec<usize>> {
        self.labels
            .iter()
            .map(|label| self.target_names.iter().position(|n| n == label))
            .collect()
    }
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
        bytes[40..44].copy_from_slice(&(self.kind as u32).to_le_bytes());
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
        let kind = match u32_at(40) {
            0 => FileKind::Series,
            1 => FileKind::Sequences,
            other => return Err(bad(format!("unknown kind {other} (a newer format?)"))),
        };
        let header = Self {
            kind,
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
    /// Checks the index against the header: its kind, columns, targets and every entry's
    /// extent inside the records, in order and without gaps.
    pub(super) fn check(&self, header: &Header, path: &Path) -> Result<()> {
        let bad = |message: String| corrupt(path, message);
        self.spec
            .validate()
            .map_err(|e| bad(format!("its spec: {e}")))?;
        let columns = self.inputs.len() as u64;
        if columns == 0 {
            return Err(bad("no input columns".into()));
        }
        // Each entry takes `fixed + rows × per_row` bytes; a sequence has at most T steps.
        let (fixed, per_row, max_rows) = match (header.kind, &self.sequences) {
            (FileKind::Series, None) => {
                if self.spec.forecast.is_none() {
                    return Err(bad("its spec has no forecast windows".into()));
                }
                if self.target_inputs.len() != self.spec.targets.len()
                    || self.target_inputs.iter().any(|&c| c as u64 >= columns)
                {
                    return Err(bad("the target columns do not match the inputs".into()));
                }
                (0, columns * 4 + 8, u64::MAX)
            }
            (FileKind::Sequences, Some(layout)) => {
                self.check_sequences(layout, path)?;
                (layout.target_bytes(), columns * 4, layout.num_steps as u64)
            }
            (kind, _) => {
                return Err(bad(format!(
                    "the header says {} but the index does not describe them",
                    kind.name()
                )));
            }
        };
        let mut next = HEADER_LEN;
        for (e, entry) in self.entries.iter().enumerate() {
            let bytes = entry
                .rows
                .checked_mul(per_row)
                .and_then(|b| b.checked_add(fixed));
            if entry.rows == 0 || entry.rows > max_rows || entry.offset != next || bytes.is_none() {
                return Err(bad(format!(
                    "entry {e} (`{}`): {} rows at offset {} do not follow the previous entry",
                    entry.id, entry.rows, entry.offset
                )));
            }
            next = bytes
                .and_then(|b| next.checked_add(b))
                .ok_or_else(|| bad(format!("entry {e} is too long")))?;
        }
        if next != HEADER_LEN + header.rows_len {
            return Err(bad(format!(
                "the entries take {} bytes but the header says {}",
                next - HEADER_LEN,
                header.rows_len
            )));
        }
        Ok(())
    }

    /// Checks a sequences file's layout: its task, shape, target names and class codes.
    fn check_sequences(&self, layout: &SequenceLayout, path: &Path) -> Result<()> {
        let bad = |message: String| Err(corrupt(path, message));
        let outputs = layout.target_kind.outputs();
        let regression = matches!(layout.target_kind, TargetKind::Regression { .. });
        let task_fits = matches!(
            (self.spec.task, layout.target_kind),
            (Task::Classify, TargetKind::Classification { .. })
                | (Task::Regress, TargetKind::Regression { .. })
        );
        if !task_fits {
            return bad(format!(
                "its targets {:?} do not fit the task `{}`",
                layout.target_kind, self.spec.task
            ));
        }
        if self.inputs != self.spec.features || layout.num_steps == 0 {
            return bad("its features or steps do not match its spec".into());
        }
        if outputs == 0 || layout.target_names.len() != outputs {
            return bad(format!(
                "{} target names for {outputs} outputs",
                layout.target_names.len()
            ));
        }
        if regression != layout.labels.is_empty() || layout.class_of_code().is_none() {
            return bad("its class labels are not the classes".into());
        }
        Ok(())
    }
}

/// Opens an on-disk file of `kind` and reads its header and index, checked (see the module).
pub(super) fn open_checked(path: &Path, kind: FileKind) -> Result<(File, Header, Index)> {
    let file = File::open(path).map_err(|e| io_error(path, "open", e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error(path, "read the metadata of", e))?
        .len();
    let mut bytes = [0u8; HEADER_LEN as usize];
    let head = usize::try_from(len.min(HEADER_LEN)).unwrap_or(0);
    read_exact_at(&file, &mut bytes[..head], 0).map_err(|e| io_error(path, "read", e))?;
    let header = Header::parse(&bytes[..head], len, path)?;
    if header.kind != kind {
        return Err(corrupt(
            path,
            format!(
                "it holds {}, not {}; convert the CSV file for this task",
                header.kind.name(),
                kind.name()
            ),
        ));
    }
    // The header was checked against the file's length, so this allocation is backed by it.
    let mut json = vec![0u8; header.index_len as usize];
    read_exact_at(&file, &mut json, HEADER_LEN + header.rows_len)
        .map_err(|e| io_error(path, "read", e))?;
    if burn_rnn_io::crc32(&json) != header.index_crc {
        return Err(corrupt(path, "the index's checksum does not match".into()));
    }
    let index: Index = serde_json::from_slice(&json)
        .map_err(|e| corrupt(path, format!("unreadable index: {e}")))?;
    index.check(&header, path)?;
    Ok((file, header, index))
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
