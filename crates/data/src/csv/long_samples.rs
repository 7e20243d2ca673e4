//! The samples of a long-format file before padding: rows grouped by id, ordered by time, with
//! the missing-value policy applied and each sample's one per-sample target agreed on.

use std::collections::HashMap;

use super::layout::LongCsvLayout;
use super::missing::{CellAt, Filled, MissingValues};
use super::table::{Column, Row, Table};
use super::targets::{CsvTarget, RawTarget, SampleTarget};
use crate::error::Result;

/// The id of the one series of a long file read without an id column.
pub const ONE_SERIES: &str = "series";

/// One sample of a long file before padding.
pub(super) struct LongSample {
    /// The sample id.
    pub(super) id: String,
    /// The first line on which the id appears.
    pub(super) first_line: u64,
    /// The time of each kept step, in order.
    pub(super) times: Vec<f64>,
    /// `steps × D` feature values, step-major, in time order.
    pub(super) values: Vec<f32>,
    /// `steps × K` per-step target values, step-major (empty without per-step targets).
    pub(super) per_step: Vec<f32>,
    /// The per-sample target; `None` with per-step targets or none read.
    pub(super) raw_target: Option<RawTarget>,
}

impl LongSample {
    /// The number of steps, given D.
    pub(super) fn steps(&self, num_features: usize) -> usize {
        self.values.len() / num_features
    }
}

/// One row of a long file, parsed.
struct LongRow {
    line: u64,
    time: f64,
    /// Feature cells then per-step target cells; `None` when empty.
    cells: Vec<Option<f32>>,
    /// The raw per-sample target cells (regression columns or the class column).
    target_cells: Vec<String>,
}

/// The rows of one id, in file order.
struct IdRows {
    id: String,
    rows: Vec<LongRow>,
}

/// The columns of a long file that a sample is read from.
struct LongColumns {
    /// `None`: the whole file is one series.
    id: Option<Column>,
    time: Column,
    /// The feature columns, then the per-step target columns.
    cells: Vec<Column>,
    /// The per-sample target columns.
    target: SampleTarget,
}

/// Groups the rows of a long file by id (first-appearance order), sorts each group by time,
/// rejects duplicate times and applies the missing value policy. With `target` (the layout's
/// target, or `None` to read no targets), also reads per-step and per-sample targets.
pub(super) fn long_samples(
    table: &Table,
    layout: &LongCsvLayout,
    target: Option<&CsvTarget>,
) -> Result<Vec<LongSample>> {
    // An empty id column name reads the whole file as one series.
    let id = if layout.id.is_empty() {
        None
    } else {
        Some(table.column(&layout.id)?)
    };
    let time = table.column(&layout.time)?;
    let per_step_names = target.map_or(&[][..], CsvTarget::per_step_columns);
    let mut cells = table.columns(&layout.features)?;
    cells.extend(table.columns(per_step_names)?);
    let target = match target {
        Some(target) => SampleTarget::find(table, target)?,
        None => SampleTarget::None,
    };
    let columns = LongColumns {
        id,
        time,
        cells,
        target,
    };
    let groups = group_by_id(table, &columns)?;

    let num_features = layout.features.len();
    let per_step_outputs = per_step_names.len();
    let mut samples = Vec::with_capacity(groups.len());
    for IdRows { id, mut rows } in groups {
        rows.sort_by(|a, b| a.time.total_cmp(&b.time));
        reject_duplicate_times(table, &columns, &id, &rows)?;
        let raw_target = sample_target(table, &id, &rows, &columns.target)?;
        let first_line = rows.iter().map(|r| r.line).min().unwrap_or(0);
        let (times, steps) = fill_missing(table, &id, rows, &columns.cells, layout.missing)?;
        let mut values = Vec::with_capacity(steps.len() * num_features);
        let mut per_step = Vec::with_capacity(steps.len() * per_step_outputs);
        for step in &steps {
            values.extend_from_slice(&step[..num_features]);
            per_step.extend_from_slice(&step[num_features..]);
        }
        samples.push(LongSample {
            id,
            first_line,
            times,
            values,
            per_step,
            raw_target,
        });
    }
    Ok(samples)
}

/// Parses every row and groups the rows by id, ids in first-appearance order.
fn group_by_id(table: &Table, columns: &LongColumns) -> Result<Vec<IdRows>> {
    let mut groups: Vec<IdRows> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let id = match &columns.id {
            Some(column) => row.cell(column),
            None => ONE_SERIES,
        };
        if let (Some(column), true) = (&columns.id, id.is_empty()) {
            return Err(table.error(row.line, Some(&column.name), "missing sample id"));
        }
        let parsed = parse_row(table, columns, row)?;
        let group = *group_of.entry(id.to_string()).or_insert_with(|| {
            groups.push(IdRows {
                id: id.to_string(),
                rows: Vec::new(),
            });
            groups.len() - 1
        });
        groups[group].rows.push(parsed);
    }
    Ok(groups)
}

/// Parses the time, feature and per-step target cells of one row; keeps its target cells as text.
fn parse_row(table: &Table, columns: &LongColumns, row: &Row) -> Result<LongRow> {
    let line = row.line;
    let time_text = row.cell(&columns.time);
    let time: f64 = time_text.parse().map_err(|_| {
        table.error(
            line,
            Some(&columns.time.name),
            format!("time `{time_text}` is not a number"),
        )
    })?;
    if !time.is_finite() {
        return Err(table.error(
            line,
            Some(&columns.time.name),
            format!("time `{time_text}` is not finite"),
        ));
    }
    let cells = columns
        .cells
        .iter()
        .map(|column| table.number_at(row, column))
        .collect::<Result<Vec<_>>>()?;
    let target_cells = columns
        .target
        .columns()
        .iter()
        .map(|column| row.cell(column).to_string())
        .collect();
    Ok(LongRow {
        line,
        time,
        cells,
        target_cells,
    })
}

/// An error naming the later line when two time-ordered rows of `id` share a time.
fn reject_duplicate_times(
    table: &Table,
    columns: &LongColumns,
    id: &str,
    rows: &[LongRow],
) -> Result<()> {
    for pair in rows.windows(2) {
        if pair[0].time == pair[1].time {
            let (first, second) = if pair[0].line < pair[1].line {
                (&pair[0], &pair[1])
            } else {
                (&pair[1], &pair[0])
            };
            return Err(table.error(
                second.line,
                Some(&columns.time.name),
                format!(
                    "duplicate row for id `{id}` at time {} (first on line {})",
                    second.time, first.line
                ),
            ));
        }
    }
    Ok(())
}

/// Applies the missing value policy to the time-ordered rows of one id: the time and the cells
/// of each kept step, all present.
fn fill_missing(
    table: &Table,
    id: &str,
    rows: Vec<LongRow>,
    columns: &[Column],
    policy: MissingValues,
) -> Result<(Vec<f64>, Vec<Vec<f32>>)> {
    let mut filled: Vec<Vec<f32>> = Vec::with_capacity(rows.len());
    let mut times = Vec::with_capacity(rows.len());
    let first_line = rows[0].line;
    'rows: for row in rows {
        let previous = filled.last();
        let mut cells = Vec::with_capacity(row.cells.len());
        for (c, (cell, column)) in row.cells.iter().zip(columns).enumerate() {
            let at = CellAt {
                table,
                line: row.line,
                column: &column.name,
                id,
            };
            match policy.fill(*cell, previous.map(|p| p[c]), at)? {
                Filled::Value(value) => cells.push(value),
                Filled::DropRow => continue 'rows,
            }
        }
        filled.push(cells);
        times.push(row.time);
    }
    if filled.is_empty() {
        return Err(table.error(
            first_line,
            None,
            format!("every row of id `{id}` has a missing value; dropping them leaves no step"),
        ));
    }
    Ok((times, filled))
}

/// A target cell chosen for a sample: the first non-empty one in file order.
#[derive(Clone, Copy)]
struct TargetCell<'a> {
    line: u64,
    text: &'a str,
}

/// The per-sample target of one id in a long file: the non-empty cells of its rows must agree.
fn sample_target(
    table: &Table,
    id: &str,
    rows: &[LongRow],
    target: &SampleTarget,
) -> Result<Option<RawTarget>> {
    if let SampleTarget::None = target {
        return Ok(None);
    }
    let columns = target.columns();
    let mut by_line: Vec<&LongRow> = rows.iter().collect();
    by_line.sort_by_key(|r| r.line);
    let mut chosen: Vec<TargetCell<'_>> = Vec::with_capacity(columns.len());
    for (k, column) in columns.iter().enumerate() {
        let mut value: Option<TargetCell<'_>> = None;
        for row in &by_line {
            let cell = row.target_cells[k].as_str();
            if cell.is_empty() {
                continue;
            }
            match value {
                None => {
                    value = Some(TargetCell {
                        line: row.line,
                        text: cell,
                    })
                }
                Some(first) if !target.same(first.text, cell) => {
                    return Err(table.error(
                        row.line,
                        Some(&column.name),
                        format!(
                            "id `{id}` has target `{cell}` here but `{}` on line {}; a sample has one target",
                            first.text, first.line
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let value = value.ok_or_else(|| {
            table.error(
                by_line[0].line,
                Some(&column.name),
                format!("id `{id}` has no value in this target column"),
            )
        })?;
        chosen.push(value);
    }
    Ok(Some(match target {
        SampleTarget::Class(_) => RawTarget::Label {
            label: chosen[0].text.to_string(),
            line: chosen[0].line,
        },
        _ => RawTarget::Values(
            chosen
                .iter()
                .zip(columns)
                .map(|(cell, column)| {
                    table
                        .number(cell.text, cell.line, &column.name)
                        .map(|v| v.expect("non-empty cell"))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    }))
}
