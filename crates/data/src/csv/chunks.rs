//! Reading the sequences of a long file a few ids at a time, for files too big to hold in
//! memory (the on-disk conversions and the lazy readers, [`crate::ondisk`]).
//!
//! The file is read record by record; rows are gathered until at least `min_rows` are held and
//! the id changes, and those rows are then read exactly as the whole-file reader reads a file
//! (sorted by time, duplicates refused, the missing-value policy applied, one target per
//! sequence). An id must therefore have its rows together (any order within them): an id that
//! comes back after other ids' rows were passed on is an error naming its line. Without an id
//! column the file is one sequence and is held whole. Memory: the rows held, and the set of
//! ids passed on (to catch one coming back).

use std::collections::HashSet;
use std::path::Path;

use super::forecast::{forecast_inputs, series_layout};
use super::layout::LongCsvLayout;
use super::long_samples::{LongSample, long_samples};
use super::spec::DataSpec;
use super::stream::CsvRecords;
use super::summary::sequence_lengths;
use super::table::{Row, Table};
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
    for_each_long_sample(path, &layout, false, min_rows, &mut |series, _| {
        each(SeriesRows {
            id: series.id,
            times: series.times,
            values: series.values,
        })
    })
}

/// Calls `each` on every sequence of the long file `path` read with `layout` (with its
/// per-sample target when `with_target`), in the order their ids first appear, with the number
/// of rows the sequence has in the file (before any is dropped as missing), holding about
/// `min_rows` rows at a time (see the module).
pub(super) fn for_each_long_sample(
    path: &Path,
    layout: &LongCsvLayout,
    with_target: bool,
    min_rows: usize,
    each: &mut dyn FnMut(LongSample, usize) -> Result<()>,
) -> Result<()> {
    let id = (!layout.id.is_empty()).then_some(layout.id.as_str());
    let target = with_target.then_some(&layout.target);
    for_each_id_chunk(path, id, min_rows, &mut |table| {
        // Both in first-appearance order of the ids.
        let rows = sequence_lengths(&table, id)?;
        for (sample, rows) in long_samples(&table, layout, target)?.into_iter().zip(rows) {
            each(sample, rows)?;
        }
        Ok(())
    })
}

/// Calls `each` on tables of whole ids of `path`, each of at least `min_rows` rows but the
/// last, in file order; without an `id` column, on one table of the whole file.
fn for_each_id_chunk(
    path: &Path,
    id_name: Option<&str>,
    min_rows: usize,
    each: &mut dyn FnMut(Table) -> Result<()>,
) -> Result<()> {
    let mut records = CsvRecords::open(path)?;
    let id_index = match id_name {
        Some(name) => Some(records.header_table().column(name)?.index),
        None => None,
    };
    let mut passed_on: HashSet<String> = HashSet::new();
    let mut held: Vec<Row> = Vec::new();
    while let Some(row) = records.next_row()? {
        if let Some(index) = id_index {
            let id = &row.fields[index];
            let new_id = held.last().is_some_and(|last| last.fields[index] != *id);
            if new_id && held.len() >= min_rows {
                let mut previous: Option<&str> = None;
                for held_row in &held {
                    let held_id = held_row.fields[index].as_str();
                    if previous != Some(held_id) {
                        passed_on.insert(held_id.to_string());
                        previous = Some(held_id);
                    }
                }
                each(records.table(std::mem::take(&mut held)))?;
            }
            if passed_on.contains(id) {
                return Err(DataError::Csv {
                    path: path.to_path_buf(),
                    line: row.line,
                    column: id_name.map(str::to_string),
                    message: format!(
                        "the rows of id `{id}` are not together: it comes back after other ids; \
                         reading the file a part at a time (on disk) needs each id's rows \
                         together, so sort the file by id (or read it in memory, --in-memory)"
                    ),
                });
            }
        }
        held.push(row);
    }
    records.finish()?;
    each(records.table(held))
}
