//! The wide-format reader (one row per sample, each feature's steps in columns of their own).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::layout::{WideCsvLayout, WideFeature};
use super::missing::{CellAt, Filled, MissingValues};
use super::stream::CsvRecords;
use super::table::{Column, MEMORY_SOURCE, Row, Table, open};
use super::targets::{CsvTarget, RawTarget, ResolvedTargets, SampleTarget, UntargetedSample};
use crate::dataset::SequenceDataset;
use crate::error::{DataError, Result};

/// Reads a wide-format CSV file (see the [module docs](super)).
pub fn read_wide_csv(path: impl AsRef<Path>, layout: &WideCsvLayout) -> Result<SequenceDataset> {
    let path = path.as_ref();
    read_wide(open(path)?, path.to_path_buf(), layout)
}

/// Reads wide-format CSV text from `reader`; errors show the path as `<memory>`.
///
/// ```
/// use burn_rnn_data::{CsvTarget, WideCsvLayout, WideFeature, read_wide_csv_from_reader};
///
/// let csv = "\
/// patient,hr_0,hr_1,hr_2,next_hr
/// p1,80,82,84,86
/// p2,70,70,71,71
/// ";
/// let layout = WideCsvLayout::new(
///     Some("patient"),
///     vec![WideFeature::numbered("hr", 3)], // hr_0, hr_1, hr_2
///     CsvTarget::regression(&["next_hr"]),
/// );
/// let data = read_wide_csv_from_reader(csv.as_bytes(), &layout)?;
/// assert_eq!((data.len(), data.num_steps(), data.num_features()), (2, 3, 1));
/// assert_eq!(data.samples()[0].values, [80.0, 82.0, 84.0]);
/// # Ok::<(), burn_rnn_data::DataError>(())
/// ```
pub fn read_wide_csv_from_reader(
    reader: impl Read,
    layout: &WideCsvLayout,
) -> Result<SequenceDataset> {
    read_wide(reader, PathBuf::from(MEMORY_SOURCE), layout)
}

fn read_wide(reader: impl Read, path: PathBuf, layout: &WideCsvLayout) -> Result<SequenceDataset> {
    if matches!(layout.target, CsvTarget::PerStep(_)) {
        return Err(DataError::InvalidParameter(
            "per-step targets need the long format (one row per step)".into(),
        ));
    }
    check_features(layout)?;
    let table = Table::read(reader, path)?;
    let sample_target = SampleTarget::find(&table, &layout.target)?;
    let (samples, raw_targets) = wide_samples(&table, layout, Some(&sample_target))?;
    let num_steps = samples[0].length;
    let resolved = ResolvedTargets::resolve(&table, &layout.target, raw_targets)?;
    let feature_names = layout.features.iter().map(|f| f.name.clone()).collect();
    resolved.into_dataset(samples, num_steps, feature_names)
}

/// Reads sequences without targets from a wide-format CSV file (one row per sequence; each of
/// `features` lists its step columns), e.g. new data to predict on. Returns `(id, [T][D] values)`
/// per row in file order; without an `id` column a sequence's id is its 0-based row number.
/// Errors as [`read_wide_csv`], naming the file, line and column.
pub fn read_wide_sequences(
    path: impl AsRef<Path>,
    id: Option<&str>,
    features: Vec<WideFeature>,
) -> Result<Vec<(String, Vec<Vec<f32>>)>> {
    let path = path.as_ref();
    let layout = WideCsvLayout::new(id, features, CsvTarget::PerStep(Vec::new()));
    let num_features = layout.features.len();
    check_features(&layout)?;
    let table = Table::read(open(path)?, path.to_path_buf())?;
    let (samples, _) = wide_samples(&table, &layout, None)?;
    Ok(samples
        .into_iter()
        .map(|s| {
            let steps = s.values.chunks(num_features).map(<[f32]>::to_vec).collect();
            (s.id, steps)
        })
        .collect())
}

/// The rows of a wide table as samples (step-major values) with their raw targets (none without
/// `target`), after the missing value policy; an error when no row is left.
fn wide_samples(
    table: &Table,
    layout: &WideCsvLayout,
    target: Option<&SampleTarget>,
) -> Result<(Vec<UntargetedSample>, Vec<RawTarget>)> {
    let columns = WideColumns::find(table, layout)?;
    let mut seen = SeenRows::default();
    let mut samples = Vec::new();
    let mut raw_targets = Vec::new();
    for row in &table.rows {
        if let Some((sample, raw_target)) =
            wide_row(table, row, &columns, &mut seen, layout.missing, target)?
        {
            samples.push(sample);
            raw_targets.extend(raw_target);
        }
    }
    if samples.is_empty() {
        return Err(no_sample_left(&table.path));
    }
    Ok((samples, raw_targets))
}

/// Calls `each` on every sample of the wide file `path` read with `layout` (with its raw
/// target when `with_target`), in file order, holding `chunk_rows` rows at a time: the same
/// samples, checks and errors as [`read_wide_csv`], for files too big to hold in memory.
pub(super) fn for_each_wide_sample(
    path: &Path,
    layout: &WideCsvLayout,
    with_target: bool,
    chunk_rows: usize,
    each: &mut dyn FnMut(UntargetedSample, Option<RawTarget>) -> Result<()>,
) -> Result<()> {
    if with_target && matches!(layout.target, CsvTarget::PerStep(_)) {
        return Err(DataError::InvalidParameter(
            "per-step targets need the long format (one row per step)".into(),
        ));
    }
    check_features(layout)?;
    let mut records = CsvRecords::open(path)?;
    let header = records.header_table();
    let target = match with_target {
        true => Some(SampleTarget::find(&header, &layout.target)?),
        false => None,
    };
    let columns = WideColumns::find(&header, layout)?;
    let mut seen = SeenRows::default();
    let mut any = false;
    loop {
        let mut rows = Vec::new();
        while rows.len() < chunk_rows.max(1) {
            match records.next_row()? {
                Some(row) => rows.push(row),
                None => break,
            }
        }
        if rows.is_empty() {
            break;
        }
        let table = records.table(rows);
        for row in &table.rows {
            let read = wide_row(
                &table,
                row,
                &columns,
                &mut seen,
                layout.missing,
                target.as_ref(),
            )?;
            if let Some((sample, raw_target)) = read {
                any = true;
                each(sample, raw_target)?;
            }
        }
    }
    records.finish()?;
    if !any {
        return Err(no_sample_left(path));
    }
    Ok(())
}

/// The error for a file whose every row was dropped.
fn no_sample_left(path: &Path) -> DataError {
    DataError::Empty(format!(
        "{}: every row has a missing value; dropping them leaves no sample",
        path.display()
    ))
}

/// The columns a wide file's samples are read from.
struct WideColumns {
    id: Option<Column>,
    /// Step-major: for each step, every feature's column.
    cells: Vec<Column>,
    num_features: usize,
    num_steps: usize,
}

impl WideColumns {
    /// Finds the layout's columns in the header of `table`.
    fn find(table: &Table, layout: &WideCsvLayout) -> Result<Self> {
        let num_steps = layout.features[0].columns.len();
        let id = layout.id.as_ref().map(|c| table.column(c)).transpose()?;
        let mut cells = Vec::with_capacity(num_steps * layout.features.len());
        for t in 0..num_steps {
            for feature in &layout.features {
                cells.push(table.column(&feature.columns[t])?);
            }
        }
        Ok(Self {
            id,
            cells,
            num_features: layout.features.len(),
            num_steps,
        })
    }
}

/// What reading earlier rows of a file left behind: the ids seen (with their first line) and
/// the number of rows read (a row's number is its id without an id column).
#[derive(Default)]
struct SeenRows {
    first_line_of: HashMap<String, u64>,
    rows: usize,
}

/// One row of a wide file as a sample with its raw target (with `target`), after the missing
/// value policy; `None` when the policy drops it.
fn wide_row(
    table: &Table,
    row: &Row,
    columns: &WideColumns,
    seen: &mut SeenRows,
    missing: MissingValues,
    target: Option<&SampleTarget>,
) -> Result<Option<(UntargetedSample, Option<RawTarget>)>> {
    let row_index = seen.rows;
    seen.rows += 1;
    let id = row_id(
        table,
        row,
        row_index,
        columns.id.as_ref(),
        &mut seen.first_line_of,
    )?;
    let mut values = Vec::with_capacity(columns.cells.len());
    for (i, column) in columns.cells.iter().enumerate() {
        let cell = table.number_at(row, column)?;
        let previous = i.checked_sub(columns.num_features).map(|p| values[p]);
        let at = CellAt {
            table,
            line: row.line,
            column: &column.name,
            id: &id,
        };
        match missing.fill(cell, previous, at)? {
            Filled::Value(value) => values.push(value),
            Filled::DropRow => return Ok(None),
        }
    }
    let raw_target = match target {
        Some(target) => match row_target(table, row, &id, target, missing)? {
            Some(raw) => Some(raw),
            None => return Ok(None),
        },
        None => None,
    };
    let sample = UntargetedSample {
        id,
        values,
        length: columns.num_steps,
    };
    Ok(Some((sample, raw_target)))
}

/// The id of `row`: its cell in `id_column`, unique and non-empty (`first_line_of` records the
/// ids seen so far), or without an id column its 0-based data row number `row_index`.
fn row_id(
    table: &Table,
    row: &Row,
    row_index: usize,
    id_column: Option<&Column>,
    first_line_of: &mut HashMap<String, u64>,
) -> Result<String> {
    let Some(column) = id_column else {
        return Ok(row_index.to_string());
    };
    let id = row.cell(column);
    if id.is_empty() {
        return Err(table.error(row.line, Some(&column.name), "missing sample id"));
    }
    if let Some(first) = first_line_of.insert(id.to_string(), row.line) {
        return Err(table.error(
            row.line,
            Some(&column.name),
            format!("duplicate row for id `{id}` (first on line {first})"),
        ));
    }
    Ok(id.to_string())
}

/// Checks that the layout lists features, all with the same positive number of step columns;
/// that number, T.
fn check_features(layout: &WideCsvLayout) -> Result<usize> {
    let Some(first) = layout.features.first() else {
        return Err(DataError::InvalidParameter(
            "the layout lists no features".into(),
        ));
    };
    let num_steps = first.columns.len();
    if num_steps == 0 {
        return Err(DataError::InvalidParameter(format!(
            "feature `{}` lists no step columns",
            first.name
        )));
    }
    if let Some(f) = layout
        .features
        .iter()
        .find(|f| f.columns.len() != num_steps)
    {
        return Err(DataError::InvalidParameter(format!(
            "feature `{}` lists {} step columns but feature `{}` lists {num_steps}",
            f.name,
            f.columns.len(),
            first.name
        )));
    }
    Ok(num_steps)
}

/// The per-sample target of one row; `None` when a target cell is empty and the policy drops
/// the row (any other policy makes it an error).
fn row_target(
    table: &Table,
    row: &Row,
    id: &str,
    target: &SampleTarget,
    missing: MissingValues,
) -> Result<Option<RawTarget>> {
    let line = row.line;
    Ok(Some(match target {
        SampleTarget::Regression(columns) => {
            let mut targets = Vec::with_capacity(columns.len());
            for column in columns {
                match table.number_at(row, column)? {
                    Some(v) => targets.push(v),
                    None if missing == MissingValues::DropRow => return Ok(None),
                    None => {
                        return Err(table.error(
                            line,
                            Some(&column.name),
                            format!("missing target for id `{id}`"),
                        ));
                    }
                }
            }
            RawTarget::Values(targets)
        }
        SampleTarget::Class(column) => {
            let label = row.cell(column);
            if label.is_empty() {
                if missing == MissingValues::DropRow {
                    return Ok(None);
                }
                return Err(table.error(
                    line,
                    Some(&column.name),
                    format!("missing class label for id `{id}`"),
                ));
            }
            RawTarget::Label {
                label: label.to_string(),
                line,
            }
        }
        SampleTarget::None => unreachable!("per-step targets are rejected above"),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::WideFeature;
    use super::super::test_support::{expect_csv_error, wide, wide_layout};
    use super::*;
    use crate::dataset::Target;

    #[test]
    fn wide_reads_steps_in_column_order() {
        let text = "bp_0,id,hr_2,hr_0,hr_1,bp_1,bp_2,died\n\
                    100,a,82,80,81,101,102,1\n\
                    90,b,72,70,71,91,92,0\n";
        let data = wide(text, &wide_layout()).unwrap();
        assert_eq!((data.num_steps(), data.num_features()), (3, 2));
        assert_eq!(
            data.samples()[0].values,
            vec![80.0, 100.0, 81.0, 101.0, 82.0, 102.0]
        );
        assert_eq!(data.samples()[0].target, Target::Class(1));
        assert_eq!(data.samples()[1].id, "b");
        assert_eq!(data.feature_names(), &["hr", "bp"]);
        assert_eq!(data.target_names(), &["0", "1"]);

        let no_id = WideCsvLayout::new(
            None,
            vec![WideFeature::pattern("x", "x[{t}]", 1..3)],
            CsvTarget::regression(&["y"]),
        );
        let data = wide("x[1],x[2],y\n1,2,3\n4,5,6\n", &no_id).unwrap();
        assert_eq!(data.samples()[1].id, "1");
        assert_eq!(data.samples()[1].values, vec![4.0, 5.0]);
        assert_eq!(data.samples()[1].target, Target::Regression(vec![6.0]));
    }

    #[test]
    fn wide_errors_name_line_and_column() {
        let header = "id,hr_0,hr_1,hr_2,bp_0,bp_1,bp_2,died\n";
        let dup = format!("{header}a,1,2,3,4,5,6,1\na,1,2,3,4,5,6,1\n");
        let msg = expect_csv_error(wide(&dup, &wide_layout()), 3, Some("id"));
        assert!(msg.contains("line 2"), "{msg}");
        let ragged = format!("{header}a,1,2,3,4,5,1\n");
        expect_csv_error(wide(&ragged, &wide_layout()), 2, None);
        let nan = format!("{header}a,1,NaN,3,4,5,6,1\n");
        expect_csv_error(wide(&nan, &wide_layout()), 2, Some("hr_1"));
        let short_header = "id,hr_0,hr_1,bp_0,bp_1,bp_2,died\na,1,2,4,5,6,1\n";
        expect_csv_error(wide(short_header, &wide_layout()), 1, Some("hr_2"));
        expect_csv_error(wide("", &wide_layout()), 1, None);

        let mut uneven = wide_layout();
        uneven.features[1] = WideFeature::numbered("bp", 2);
        assert!(matches!(
            wide(&dup, &uneven),
            Err(DataError::InvalidParameter(_))
        ));
        let mut per_step = wide_layout();
        per_step.target = CsvTarget::per_step(&["y"]);
        assert!(matches!(
            wide(&dup, &per_step),
            Err(DataError::InvalidParameter(_))
        ));
    }
}
