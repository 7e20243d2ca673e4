//! Converting a long CSV file into the on-disk form of its series, a few series at a time,
//! and the writing of records that every on-disk file shares.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use burn_rnn_io::Crc32;

use super::format::{Entry, FileKind, HEADER_LEN, Header, Index, SourceStamp, io_error};
use crate::csv::{CHUNK_ROWS, DataSpec, Task, for_each_series};
use crate::error::{DataError, Result};

/// Where `csv` stands now: its length and last change.
pub(super) fn stamp(csv: &Path) -> Result<SourceStamp> {
    let meta = fs::metadata(csv).map_err(|e| io_error(csv, "read the metadata of", e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| (d.as_secs(), d.subsec_nanos()));
    Ok(SourceStamp {
        path: csv.to_path_buf(),
        len: meta.len(),
        modified,
    })
}

/// Writes the on-disk form of `csv` read with `spec` to `out` (through a temporary file renamed
/// at the end, so `out` is never left half-written).
pub(super) fn convert(csv: &Path, spec: &DataSpec, out: &Path) -> Result<()> {
    convert_in_chunks(csv, spec, out, CHUNK_ROWS)
}

/// [`convert`] holding about `chunk_rows` rows of the CSV file at a time.
pub(super) fn convert_in_chunks(
    csv: &Path,
    spec: &DataSpec,
    out: &Path,
    chunk_rows: usize,
) -> Result<()> {
    spec.validate()?;
    if spec.task != Task::Forecast {
        return Err(DataError::InvalidParameter(format!(
            "OnDiskDataset holds forecasting windows over long series; the task `{}` keeps one \
             sequence per sample on disk with OnDiskSequences",
            spec.task
        )));
    }
    let source = stamp(csv)?;
    let inputs = spec.input_names();
    let target_inputs = spec
        .targets
        .iter()
        .map(|t| inputs.iter().position(|i| i == t).unwrap_or_default())
        .collect();
    let mut body = BodyWriter::create(out)?;
    let mut entries = Vec::new();
    let mut bytes = Vec::new();
    for_each_series(csv, spec, chunk_rows, &mut |one| {
        bytes.clear();
        let columns = one.values.len() / one.times.len().max(1);
        for (row, time) in one.values.chunks(columns.max(1)).zip(&one.times) {
            bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
            bytes.extend(time.to_le_bytes());
        }
        let offset = body.write(&bytes)?;
        entries.push(Entry {
            id: one.id,
            rows: one.times.len() as u64,
            offset,
        });
        Ok(())
    })?;
    let index = Index {
        spec: spec.clone(),
        inputs,
        target_inputs,
        source,
        entries,
        sequences: None,
    };
    body.finish(FileKind::Series, &index, out)
}

/// The records of an on-disk file being written: a temporary file next to `out`, with the
/// records' checksum and length so far.
pub(super) struct BodyWriter {
    temp: PathBuf,
    writer: BufWriter<File>,
    crc: Crc32,
    offset: u64,
}

impl BodyWriter {
    /// Creates the temporary file and leaves room for the header.
    pub(super) fn create(out: &Path) -> Result<Self> {
        let temp = out.with_extension("converting");
        let file = File::create(&temp).map_err(|e| io_error(&temp, "create", e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        writer
            .write_all(&[0; HEADER_LEN as usize])
            .map_err(|e| io_error(&temp, "write", e))?;
        Ok(Self {
            temp,
            writer,
            crc: Crc32::new(),
            offset: HEADER_LEN,
        })
    }

    /// Appends one record; its offset from the start of the file.
    pub(super) fn write(&mut self, record: &[u8]) -> Result<u64> {
        self.crc.update(record);
        self.writer
            .write_all(record)
            .map_err(|e| io_error(&self.temp, "write", e))?;
        let at = self.offset;
        self.offset += record.len() as u64;
        Ok(at)
    }

    /// Writes `index` and the header of a `kind` file, and renames the file to `out`.
    pub(super) fn finish(self, kind: FileKind, index: &Index, out: &Path) -> Result<()> {
        let Self {
            temp,
            mut writer,
            crc,
            offset,
        } = self;
        let write_error = |e| io_error(&temp, "write", e);
        let json =
            serde_json::to_vec(index).map_err(|e| DataError::InvalidParameter(e.to_string()))?;
        writer.write_all(&json).map_err(write_error)?;
        let header = Header {
            kind,
            rows_len: offset - HEADER_LEN,
            index_len: json.len() as u64,
            rows_crc: crc.finish(),
            index_crc: burn_rnn_io::crc32(&json),
        };
        let mut file = writer
            .into_inner()
            .map_err(|e| write_error(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(write_error)?;
        file.write_all(&header.to_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        drop(file);
        fs::rename(&temp, out).map_err(|e| io_error(out, "rename the converted file to", e))
    }
}

/// Whether `index` was converted from `csv` as it is now (same length and modification time)
/// with `spec`.
pub(super) fn is_current(index: &Index, csv: &Path, spec: &DataSpec) -> Result<bool> {
    let now = stamp(csv)?;
    let source = &index.source;
    Ok(index.spec == *spec && (source.len, source.modified) == (now.len, now.modified))
}
