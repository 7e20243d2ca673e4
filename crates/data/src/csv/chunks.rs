//! Reading the series of a long file a few at a time, for files too big to hold in memory
//! (the on-disk conversion, [`crate::ondisk`]).
//!
//! The file is read record by record; rows are gathered until at least `min_rows` are held and
//! the id changes, and those rows are then read exactly as the whole-file reader reads a file
//! (sorted by time, duplicates refused, the missing-value policy applied). A series must
//! therefore have its rows together (any order within them): an id that comes back after
//! other series' rows were passed on is an error naming its line. Without an id column the
//! file is one series and is held whole.

use std::collections::HashSet;
use std::path::Path;

use super::forecast::{forecast_inputs, series_layout};
use super::long_samples::long_samples;
use super::spec::DataSpec;
use super::table::{Row, Table, csv_error, open};
use crate::error::{DataError, Result};

/// One series of a long file, in time order.
pub(crate) struct SeriesRows {
    /// Its id ([`super::ONE_SERIES`] without an id column).
    pub(crate) id: String,
    /// The time of each row.
    pub(crate) times: Vec<f64>,
    /// `rows × C` values of the forecast inputs ([`DataSpec::input_names`]), row-major.
    pub(crate) values: Vec<f32>,
}

/// Calls `each` on every series of the long file `path` read with `spec`'s forecast inputs, in
/// the order their ids first appear, holding about `min_rows` rows at a time (see the module).
pub(crate) fn for_each_series(
    path: &Path,
    spec: &DataSpec,
    min_rows: usize,
    each: &mut dyn FnMut(SeriesRows) -> Result<()>,
) -> Result<()> {
    let columns = forecast_inputs(spec);
    let layout = series_layout(spec, &columns);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, open(path)?));
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let bad = |line: u64, column: Option<&str>, message: String| DataError::Csv {
        path: path.to_path_buf(),
        line,
        column: column.map(str::to_string),
        message,
    };
    if headers.iter().all(String::is_empty) {
        return Err(bad(1, None, "empty file: no header row".into()));
    }
    let id_index = match spec.id.as_deref() {
        Some(name) => Some(headers.iter().position(|h| h == name).ok_or_else(|| {
            bad(
                1,
                Some(name),
                format!("unknown column; the header has: {}", headers.join(", ")),
            )
        })?),
        None => None,
    };
    let mut passed_on: HashSet<String> = HashSet::new();
    let mut held: Vec<Row> = Vec::new();
    let mut any = false;
    let mut flush = |rows: Vec<Row>, passed_on: &mut HashSet<String>| -> Result<()> {
        let table = Table::from_parts(path.to_path_buf(), headers.clone(), rows);
        for series in long_samples(&table, &layout, None)? {
            passed_on.insert(series.id.clone());
            each(SeriesRows {
                id: series.id,
                times: series.times,
                values: series.values,
            })?;
        }
        Ok(())
    };
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != headers.len() {
            return Err(bad(
                line,
                None,
                format!(
                    "expected {} fields as in the header, found {}",
                    headers.len(),
                    record.len()
                ),
            ));
        }
        any = true;
        if let Some(index) = id_index {
            let id = &record[index];
            let new_id = held.last().is_some_and(|last| last.fields[index] != id);
            if new_id && held.len() >= min_rows {
                flush(std::mem::take(&mut held), &mut passed_on)?;
            }
            if passed_on.contains(id) {
                return Err(bad(
                    line,
                    spec.id.as_deref(),
                    format!(
                        "the rows of series `{id}` are not together: it comes back after other \
                         series; the on-disk conversion reads a series' rows together, so sort \
                         the file by id (or train in memory)"
                    ),
                ));
            }
        }
        held.push(Row {
            line,
            fields: record.iter().map(str::to_string).collect(),
        });
    }
    if !any {
        return Err(bad(1, None, "no data rows below the header".into()));
    }
    flush(held, &mut passed_on)
}
