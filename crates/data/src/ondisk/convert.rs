//! Converting a long CSV file into the on-disk form, a few series at a time.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::UNIX_EPOCH;

use burn_rnn_io::Crc32;

use super::format::{HEADER_LEN, Header, Index, SeriesEntry, SourceStamp, io_error};
use crate::csv::{DataSpec, Task, for_each_series};
use crate::error::{DataError, Result};

/// Rows of the CSV file held at a time while converting (a series is always held whole).
const CHUNK_ROWS: usize = 1 << 16;

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
            "on-disk datasets hold forecasting windows over long series; the task `{}` reads \
             its sequences into memory",
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
    let temp = out.with_extension("converting");
    let file = File::create(&temp).map_err(|e| io_error(&temp, "create", e))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let write_error = |e| io_error(&temp, "write", e);
    writer
        .write_all(&[0; HEADER_LEN as usize])
        .map_err(write_error)?;
    let mut crc = Crc32::new();
    let mut offset = HEADER_LEN;
    let mut series = Vec::new();
    let mut bytes = Vec::new();
    for_each_series(csv, spec, chunk_rows, &mut |one| {
        bytes.clear();
        let columns = one.values.len() / one.times.len().max(1);
        for (row, time) in one.values.chunks(columns.max(1)).zip(&one.times) {
            bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
            bytes.extend(time.to_le_bytes());
        }
        crc.update(&bytes);
        writer.write_all(&bytes).map_err(write_error)?;
        let rows = one.times.len() as u64;
        series.push(SeriesEntry {
            id: one.id,
            rows,
            offset,
        });
        offset += bytes.len() as u64;
        Ok(())
    })?;
    let index = Index {
        spec: spec.clone(),
        inputs,
        target_inputs,
        source,
        series,
    };
    let json =
        serde_json::to_vec(&index).map_err(|e| DataError::InvalidParameter(e.to_string()))?;
    writer.write_all(&json).map_err(write_error)?;
    let header = Header {
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
