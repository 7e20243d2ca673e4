//! Reading sequence datasets from CSV files, in long or wide format.
//!
//! **Long format** ([`LongCsvLayout`], [`read_long_csv`]): one row per sample and step,
//! `id,time,feature...,target...`. Rows may come in any order: the rows of an id are sorted by
//! their (numeric) time, and samples keep the order in which their id first appears. The time
//! values only order the steps (gaps are not checked); dates must be converted to numbers first.
//!
//! ```text
//! patient,hour,hr,spo2,outcome
//! p1,0,80,97,died
//! p1,1,85,95,died
//! p2,0,70,99,survived
//! p2,1,72,98,survived
//! ```
//!
//! **Wide format** ([`WideCsvLayout`], [`read_wide_csv`]): one row per sample; each feature lists
//! its columns in step order, e.g. `hr_0,hr_1,...,hr_23` (see [`WideFeature::numbered`]).
//!
//! **Targets** ([`CsvTarget`]): regression columns, one class column (string labels mapped to
//! indices; the labels become the dataset's target names), or per-step columns (long format only).
//! In long format a per-sample target (regression or class) may be written on every row of its
//! sample or only on some (e.g. the last); empty cells are ignored, but two different values for
//! one sample are an error.
//!
//! **Missing values** ([`MissingValues`]): a missing value is an empty cell (pandas writes NaN
//! that way). `NaN` and `inf` written out are errors, not missing values.
//!
//! Every error names the file (`<memory>` for readers), the 1-based line (the header is line 1)
//! and the column.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::{SequenceDataset, SequenceSample, Target, TargetKind};
use crate::error::{DataError, Result};
use crate::pad::{Truncation, pad_steps};

/// The name shown as the file path in errors about data read from a reader.
pub const MEMORY_SOURCE: &str = "<memory>";

/// What to do with an empty cell in a feature or per-step target column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissingValues {
    /// Refuse the file with an error naming line and column (the default).
    #[default]
    Error,
    /// Copy the value of the previous step of the same sample (same id in long format, previous
    /// step column in wide format). A value missing at the first step is an error.
    ForwardFill,
    /// Drop the row: one step in long format, the whole sample in wide format. A sample left
    /// without any step is an error.
    DropRow,
}

/// Which columns hold the targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CsvTarget {
    /// K regression values per sample, one column each.
    Regression(Vec<String>),
    /// One column of class labels (any text). With `labels`, those are the classes in index order
    /// and any other label is an error; without, the observed labels sorted (numerically when they
    /// are all integers, otherwise as text), so files with the same label set agree.
    Class {
        /// The label column.
        column: String,
        /// The classes, in index order, when fixed by the caller.
        labels: Option<Vec<String>>,
    },
    /// K values at every step, one column each (long format only).
    PerStep(Vec<String>),
}

impl CsvTarget {
    /// Regression on the given columns.
    pub fn regression(columns: &[&str]) -> Self {
        Self::Regression(columns.iter().map(|c| c.to_string()).collect())
    }

    /// Classification on the labels of `column`, classes sorted as described on [`CsvTarget::Class`].
    pub fn class(column: &str) -> Self {
        Self::Class {
            column: column.to_string(),
            labels: None,
        }
    }

    /// Classification on the labels of `column` with the classes given in index order.
    pub fn class_with_labels(column: &str, labels: &[&str]) -> Self {
        Self::Class {
            column: column.to_string(),
            labels: Some(labels.iter().map(|l| l.to_string()).collect()),
        }
    }

    /// Per-step regression on the given columns (long format only).
    pub fn per_step(columns: &[&str]) -> Self {
        Self::PerStep(columns.iter().map(|c| c.to_string()).collect())
    }
}

/// The columns and policies of a long-format CSV file (one row per sample and step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongCsvLayout {
    /// The sample id column (any text).
    pub id: String,
    /// The time column (numbers), used to order the steps of each id.
    pub time: String,
    /// The D feature columns, in feature order.
    pub features: Vec<String>,
    /// The target columns.
    pub target: CsvTarget,
    /// The policy for empty cells in feature and per-step target columns.
    pub missing: MissingValues,
    /// Pad every sample to this many steps (with zeros, keeping its length). Without it, samples
    /// with different numbers of steps are an error.
    pub pad_to: Option<usize>,
    /// What to do with samples longer than `pad_to`.
    pub truncation: Truncation,
}

impl LongCsvLayout {
    /// A layout with [`MissingValues::Error`], no padding and [`Truncation::Error`].
    pub fn new(id: &str, time: &str, features: &[&str], target: CsvTarget) -> Self {
        Self {
            id: id.to_string(),
            time: time.to_string(),
            features: features.iter().map(|f| f.to_string()).collect(),
            target,
            missing: MissingValues::Error,
            pad_to: None,
            truncation: Truncation::Error,
        }
    }

    /// Sets the missing value policy.
    pub fn with_missing(mut self, missing: MissingValues) -> Self {
        self.missing = missing;
        self
    }

    /// Pads every sample to `steps` steps, cutting longer ones by `truncation`.
    pub fn with_padding(mut self, steps: usize, truncation: Truncation) -> Self {
        self.pad_to = Some(steps);
        self.truncation = truncation;
        self
    }
}

/// One feature of a wide-format file: its name and its columns in step order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WideFeature {
    /// The feature name (becomes the dataset's feature name).
    pub name: String,
    /// One column per step, step 0 first.
    pub columns: Vec<String>,
}

impl WideFeature {
    /// A feature with explicit columns in step order.
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// The columns `{name}_0, {name}_1, ..., {name}_{steps-1}` (e.g. `hr_0..hr_23`).
    pub fn numbered(name: &str, steps: usize) -> Self {
        Self {
            name: name.to_string(),
            columns: (0..steps).map(|t| format!("{name}_{t}")).collect(),
        }
    }

    /// The columns made by replacing `{t}` in `pattern` with each step number in `steps`
    /// (e.g. `("hr", "hr[{t}]", 1..25)` gives `hr[1]..hr[24]`).
    pub fn pattern(name: &str, pattern: &str, steps: std::ops::Range<usize>) -> Self {
        Self {
            name: name.to_string(),
            columns: steps
                .map(|t| pattern.replace("{t}", &t.to_string()))
                .collect(),
        }
    }
}

/// The columns and policy of a wide-format CSV file (one row per sample).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WideCsvLayout {
    /// The sample id column; without one, a sample's id is its 0-based data row number.
    pub id: Option<String>,
    /// The D features; all must list the same number of step columns T.
    pub features: Vec<WideFeature>,
    /// The target columns ([`CsvTarget::PerStep`] is not supported in wide format).
    pub target: CsvTarget,
    /// The policy for empty cells ([`MissingValues::DropRow`] drops the whole sample).
    pub missing: MissingValues,
}

impl WideCsvLayout {
    /// A layout with [`MissingValues::Error`].
    pub fn new(id: Option<&str>, features: Vec<WideFeature>, target: CsvTarget) -> Self {
        Self {
            id: id.map(str::to_string),
            features,
            target,
            missing: MissingValues::Error,
        }
    }

    /// Sets the missing value policy.
    pub fn with_missing(mut self, missing: MissingValues) -> Self {
        self.missing = missing;
        self
    }
}

/// Reads a long-format CSV file (see the [module docs](self)).
pub fn read_long_csv(path: impl AsRef<Path>, layout: &LongCsvLayout) -> Result<SequenceDataset> {
    let path = path.as_ref();
    read_long(open(path)?, path.to_path_buf(), layout)
}

/// Reads long-format CSV text from `reader`; errors show the path as `<memory>`.
pub fn read_long_csv_from_reader(
    reader: impl Read,
    layout: &LongCsvLayout,
) -> Result<SequenceDataset> {
    read_long(reader, PathBuf::from(MEMORY_SOURCE), layout)
}

/// Reads a wide-format CSV file (see the [module docs](self)).
pub fn read_wide_csv(path: impl AsRef<Path>, layout: &WideCsvLayout) -> Result<SequenceDataset> {
    let path = path.as_ref();
    read_wide(open(path)?, path.to_path_buf(), layout)
}

/// Reads wide-format CSV text from `reader`; errors show the path as `<memory>`.
pub fn read_wide_csv_from_reader(
    reader: impl Read,
    layout: &WideCsvLayout,
) -> Result<SequenceDataset> {
    read_wide(reader, PathBuf::from(MEMORY_SOURCE), layout)
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })
}

/// A whole CSV file in memory: header and data rows with their line numbers.
struct Table {
    path: PathBuf,
    headers: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    fn read(reader: impl Read, path: PathBuf) -> Result<Self> {
        let mut csv_reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(reader);
        let headers: Vec<String> = csv_reader
            .headers()
            .map_err(|e| csv_error(&path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(DataError::Csv {
                path,
                line: 1,
                column: None,
                message: "empty file: no header row".into(),
            });
        }
        let mut rows = Vec::new();
        for record in csv_reader.records() {
            let record = record.map_err(|e| csv_error(&path, e))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != headers.len() {
                return Err(DataError::Csv {
                    path,
                    line,
                    column: None,
                    message: format!(
                        "expected {} fields as in the header, found {}",
                        headers.len(),
                        record.len()
                    ),
                });
            }
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            return Err(DataError::Csv {
                path,
                line: 1,
                column: None,
                message: "no data rows below the header".into(),
            });
        }
        Ok(Self {
            path,
            headers,
            rows,
        })
    }

    fn error(&self, line: u64, column: Option<&str>, message: impl Into<String>) -> DataError {
        DataError::Csv {
            path: self.path.clone(),
            line,
            column: column.map(str::to_string),
            message: message.into(),
        }
    }

    /// The index of the column called `name`.
    fn column(&self, name: &str) -> Result<usize> {
        let mut found = self.headers.iter().enumerate().filter(|(_, h)| *h == name);
        match (found.next(), found.next()) {
            (Some((index, _)), None) => Ok(index),
            (Some(_), Some(_)) => Err(self.error(
                1,
                Some(name),
                "the column name appears more than once in the header",
            )),
            (None, _) => Err(self.error(
                1,
                Some(name),
                format!(
                    "unknown column; the header has: {}",
                    self.headers.join(", ")
                ),
            )),
        }
    }

    fn columns(&self, names: &[String]) -> Result<Vec<usize>> {
        names.iter().map(|n| self.column(n)).collect()
    }

    /// Parses a numeric cell; `None` when it is empty.
    fn number(&self, text: &str, line: u64, column: &str) -> Result<Option<f32>> {
        if text.is_empty() {
            return Ok(None);
        }
        let value: f32 = text.parse().map_err(|_| {
            self.error(
                line,
                Some(column),
                format!("cannot parse `{text}` as a number"),
            )
        })?;
        if !value.is_finite() {
            return Err(self.error(
                line,
                Some(column),
                format!(
                    "non-finite value `{text}` (NaN and infinities are not allowed; leave the cell empty for a missing value)"
                ),
            ));
        }
        Ok(Some(value))
    }
}

fn csv_error(path: &Path, error: ::csv::Error) -> DataError {
    let line = error.position().map_or(0, |p| p.line());
    match error.kind() {
        ::csv::ErrorKind::Io(e) => DataError::Io {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        },
        _ => DataError::Csv {
            path: path.to_path_buf(),
            line,
            column: None,
            message: error.to_string(),
        },
    }
}

/// The per-sample target columns and how to read them.
enum SampleTarget {
    None,
    Regression(Vec<(String, usize)>),
    Class(String, usize),
}

fn sample_target(table: &Table, target: &CsvTarget) -> Result<SampleTarget> {
    Ok(match target {
        CsvTarget::Regression(names) => {
            non_empty(names, "regression target columns")?;
            SampleTarget::Regression(names.iter().cloned().zip(table.columns(names)?).collect())
        }
        CsvTarget::Class { column, labels } => {
            if let Some(labels) = labels {
                non_empty(labels, "class labels")?;
            }
            SampleTarget::Class(column.clone(), table.column(column)?)
        }
        CsvTarget::PerStep(names) => {
            non_empty(names, "per-step target columns")?;
            SampleTarget::None
        }
    })
}

fn non_empty(names: &[String], what: &str) -> Result<()> {
    if names.is_empty() {
        return Err(DataError::InvalidParameter(format!(
            "the layout lists no {what}"
        )));
    }
    Ok(())
}

/// A per-sample target read from the file, before class labels become indices.
enum RawTarget {
    Values(Vec<f32>),
    Label { label: String, line: u64 },
}

/// Turns raw targets into [`Target`]s: regression values as they are, labels into indices.
/// Returns the targets, the target kind and the target names.
fn resolve_targets(
    table: &Table,
    target: &CsvTarget,
    raw: Vec<RawTarget>,
) -> Result<(Vec<Target>, TargetKind, Vec<String>)> {
    match target {
        CsvTarget::Regression(names) => {
            let targets = raw
                .into_iter()
                .map(|r| match r {
                    RawTarget::Values(v) => Target::Regression(v),
                    RawTarget::Label { .. } => unreachable!("regression targets are numbers"),
                })
                .collect();
            Ok((
                targets,
                TargetKind::Regression {
                    outputs: names.len(),
                },
                names.clone(),
            ))
        }
        CsvTarget::Class { column, labels } => {
            let labels = match labels {
                Some(labels) => labels.clone(),
                None => observed_labels(raw.iter().filter_map(|r| match r {
                    RawTarget::Label { label, .. } => Some(label.as_str()),
                    RawTarget::Values(_) => None,
                })),
            };
            let index: HashMap<&str, usize> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.as_str(), i))
                .collect();
            let targets = raw
                .iter()
                .map(|r| match r {
                    RawTarget::Label { label, line } => index
                        .get(label.as_str())
                        .map(|&i| Target::Class(i))
                        .ok_or_else(|| {
                            table.error(
                                *line,
                                Some(column),
                                format!(
                                    "label `{label}` is not one of the given classes [{}]",
                                    labels.join(", ")
                                ),
                            )
                        }),
                    RawTarget::Values(_) => unreachable!("class targets are labels"),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((
                targets,
                TargetKind::Classification {
                    classes: labels.len(),
                },
                labels,
            ))
        }
        CsvTarget::PerStep(_) => unreachable!("per-step targets are read with the steps"),
    }
}

/// Distinct labels, sorted numerically when all are integers, otherwise as text.
fn observed_labels<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut distinct: Vec<String> = labels.map(str::to_string).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.iter().all(|l| l.parse::<i64>().is_ok()) {
        distinct.sort_by_key(|l| l.parse::<i64>().unwrap_or_default());
    }
    distinct
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

fn read_long(reader: impl Read, path: PathBuf, layout: &LongCsvLayout) -> Result<SequenceDataset> {
    non_empty(&layout.features, "feature columns")?;
    if layout.pad_to == Some(0) {
        return Err(DataError::InvalidParameter(
            "pad_to must be at least 1 step".into(),
        ));
    }
    let table = Table::read(reader, path)?;
    let built = long_samples(&table, layout, true)?;
    let num_features = layout.features.len();
    let per_step_outputs = layout_per_step_outputs(layout);

    // One number of steps for all samples: the common one, or pad_to.
    let steps_of = |values: &Vec<f32>| values.len() / num_features;
    let num_steps = match layout.pad_to {
        Some(steps) => steps,
        None => {
            let (first_id, _, first_values, _, _) = &built[0];
            let common = steps_of(first_values);
            if let Some((id, line, values, _, _)) =
                built.iter().find(|(_, _, v, _, _)| steps_of(v) != common)
            {
                return Err(table.error(
                    *line,
                    Some(&layout.id),
                    format!(
                        "id `{id}` has {} steps but id `{first_id}` has {common}; set `pad_to` to pad samples to one length",
                        steps_of(values)
                    ),
                ));
            }
            common
        }
    };

    let mut samples = Vec::with_capacity(built.len());
    let mut raw_targets = Vec::with_capacity(built.len());
    for (id, _, values, per_step, raw_target) in built {
        let what = format!("{}: id `{id}`", table.path.display());
        let padded = pad_steps(&values, num_features, num_steps, layout.truncation, &what)?;
        let target = if per_step_outputs > 0 {
            let padded_target = pad_steps(
                &per_step,
                per_step_outputs,
                num_steps,
                layout.truncation,
                &what,
            )?;
            Some(Target::PerStep(padded_target.values))
        } else {
            raw_targets.push(raw_target.expect("per-sample target read for every sample"));
            None
        };
        samples.push((id, padded, target));
    }

    let (targets, kind, target_names) = match &layout.target {
        CsvTarget::PerStep(names) => (
            samples
                .iter_mut()
                .map(|(_, _, t)| t.take().expect("per-step target built above"))
                .collect(),
            TargetKind::PerStep {
                outputs: names.len(),
            },
            names.clone(),
        ),
        target => resolve_targets(&table, target, raw_targets)?,
    };
    let samples = samples
        .into_iter()
        .zip(targets)
        .map(|((id, padded, _), target)| SequenceSample {
            id,
            values: padded.values,
            length: padded.length,
            target,
        })
        .collect();
    SequenceDataset::new(samples, num_steps, num_features, kind)?
        .with_feature_names(layout.features.clone())?
        .with_target_names(target_names)
}

/// The number of per-step target columns of a layout (0 unless many-to-many).
fn layout_per_step_outputs(layout: &LongCsvLayout) -> usize {
    match &layout.target {
        CsvTarget::PerStep(names) => names.len(),
        _ => 0,
    }
}

/// Reads sequences without targets from a long-format CSV file (one row per sequence and step:
/// `id`, `time` and the `features` columns, rows in any order), e.g. new data to predict on.
/// Returns `(id, steps × D values)` per sequence in first-appearance order; sequences may have
/// different lengths. Errors as [`read_long_csv`] (unknown columns, unparsable or non-finite
/// numbers, missing values, duplicate times), naming the file, line and column.
pub fn read_long_sequences(
    path: impl AsRef<Path>,
    id: &str,
    time: &str,
    features: &[&str],
) -> Result<Vec<(String, Vec<Vec<f32>>)>> {
    let path = path.as_ref();
    let layout = LongCsvLayout::new(id, time, features, CsvTarget::PerStep(Vec::new()));
    non_empty(&layout.features, "feature columns")?;
    let table = Table::read(open(path)?, path.to_path_buf())?;
    if table.rows.is_empty() {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: None,
            message: "no data rows after the header".into(),
        });
    }
    Ok(long_samples(&table, &layout, false)?
        .into_iter()
        .map(|(id, _, values, _, _)| {
            let steps = values.chunks(features.len()).map(<[f32]>::to_vec).collect();
            (id, steps)
        })
        .collect())
}

/// One sample of a long file before padding: id, first line, `steps × D` features,
/// `steps × K` per-step targets and the raw per-sample target.
type LongSample = (String, u64, Vec<f32>, Vec<f32>, Option<RawTarget>);

/// Groups the rows of a long file by id (first-appearance order), sorts each group by time,
/// rejects duplicate times and applies the missing value policy.
fn long_samples(
    table: &Table,
    layout: &LongCsvLayout,
    with_targets: bool,
) -> Result<Vec<LongSample>> {
    let id_col = table.column(&layout.id)?;
    let time_col = table.column(&layout.time)?;
    let per_step_names: &[String] = match (&layout.target, with_targets) {
        (CsvTarget::PerStep(names), true) => names,
        _ => &[],
    };
    let cell_names: Vec<&String> = layout.features.iter().chain(per_step_names).collect();
    let cell_cols = table.columns(&layout.features)?;
    let cell_cols: Vec<usize> = cell_cols
        .into_iter()
        .chain(table.columns(per_step_names)?)
        .collect();
    let sample_target = if with_targets {
        sample_target(table, &layout.target)?
    } else {
        SampleTarget::None
    };
    let target_cols: Vec<(String, usize)> = match &sample_target {
        SampleTarget::None => Vec::new(),
        SampleTarget::Regression(cols) => cols.clone(),
        SampleTarget::Class(name, col) => vec![(name.clone(), *col)],
    };

    // Group rows by id, ids in first-appearance order.
    let mut groups: Vec<(String, Vec<LongRow>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (line, fields) in &table.rows {
        let line = *line;
        let id = &fields[id_col];
        if id.is_empty() {
            return Err(table.error(line, Some(&layout.id), "missing sample id"));
        }
        let time_text = &fields[time_col];
        let time: f64 = time_text.parse().map_err(|_| {
            table.error(
                line,
                Some(&layout.time),
                format!("time `{time_text}` is not a number"),
            )
        })?;
        if !time.is_finite() {
            return Err(table.error(
                line,
                Some(&layout.time),
                format!("time `{time_text}` is not finite"),
            ));
        }
        let cells = cell_cols
            .iter()
            .zip(&cell_names)
            .map(|(&c, name)| table.number(&fields[c], line, name))
            .collect::<Result<Vec<_>>>()?;
        let target_cells = target_cols
            .iter()
            .map(|(_, c)| fields[*c].clone())
            .collect();
        let row = LongRow {
            line,
            time,
            cells,
            target_cells,
        };
        let group = *group_of.entry(id.clone()).or_insert_with(|| {
            groups.push((id.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[group].1.push(row);
    }

    let num_features = layout.features.len();
    let per_step_outputs = per_step_names.len();
    let mut built = Vec::with_capacity(groups.len());
    for (id, mut rows) in groups {
        rows.sort_by(|a, b| a.time.total_cmp(&b.time));
        for pair in rows.windows(2) {
            if pair[0].time == pair[1].time {
                let (first, second) = if pair[0].line < pair[1].line {
                    (&pair[0], &pair[1])
                } else {
                    (&pair[1], &pair[0])
                };
                return Err(table.error(
                    second.line,
                    Some(&layout.time),
                    format!(
                        "duplicate row for id `{id}` at time {} (first on line {})",
                        second.time, first.line
                    ),
                ));
            }
        }
        let raw_target = long_sample_target(table, &id, &rows, &sample_target)?;
        let first_line = rows.iter().map(|r| r.line).min().unwrap_or(0);
        let steps = fill_missing(table, &id, rows, &cell_names, layout.missing)?;
        let mut values = Vec::with_capacity(steps.len() * num_features);
        let mut per_step = Vec::with_capacity(steps.len() * per_step_outputs);
        for step in &steps {
            values.extend_from_slice(&step[..num_features]);
            per_step.extend_from_slice(&step[num_features..]);
        }
        built.push((id, first_line, values, per_step, raw_target));
    }
    Ok(built)
}

/// Applies the missing value policy to the time-ordered rows of one id: the cells of each kept
/// step, all present.
fn fill_missing(
    table: &Table,
    id: &str,
    rows: Vec<LongRow>,
    names: &[&String],
    policy: MissingValues,
) -> Result<Vec<Vec<f32>>> {
    let mut filled: Vec<Vec<f32>> = Vec::with_capacity(rows.len());
    let first_line = rows[0].line;
    for row in rows {
        let missing = row.cells.iter().position(Option::is_none);
        let cells = match (missing, policy) {
            (None, _) => row.cells.into_iter().flatten().collect(),
            (Some(_), MissingValues::DropRow) => continue,
            (Some(c), MissingValues::Error) => {
                return Err(table.error(
                    row.line,
                    Some(names[c]),
                    format!("missing value for id `{id}` (choose a MissingValues policy to fill or drop it)"),
                ));
            }
            (Some(c), MissingValues::ForwardFill) => {
                let Some(previous) = filled.last() else {
                    return Err(table.error(
                        row.line,
                        Some(names[c]),
                        format!("missing value at the first step of id `{id}`; forward fill has nothing to copy"),
                    ));
                };
                row.cells
                    .iter()
                    .zip(previous)
                    .map(|(cell, prev)| cell.unwrap_or(*prev))
                    .collect()
            }
        };
        filled.push(cells);
    }
    if filled.is_empty() {
        return Err(table.error(
            first_line,
            None,
            format!("every row of id `{id}` has a missing value; dropping them leaves no step"),
        ));
    }
    Ok(filled)
}

/// The per-sample target of one id in a long file: the non-empty cells of its rows must agree.
fn long_sample_target(
    table: &Table,
    id: &str,
    rows: &[LongRow],
    target: &SampleTarget,
) -> Result<Option<RawTarget>> {
    let columns: Vec<&str> = match target {
        SampleTarget::None => return Ok(None),
        SampleTarget::Regression(cols) => cols.iter().map(|(n, _)| n.as_str()).collect(),
        SampleTarget::Class(name, _) => vec![name.as_str()],
    };
    // For each target column, the first non-empty cell in file order and its line.
    let mut by_line: Vec<&LongRow> = rows.iter().collect();
    by_line.sort_by_key(|r| r.line);
    let mut chosen: Vec<(u64, &str)> = Vec::with_capacity(columns.len());
    for (k, column) in columns.iter().enumerate() {
        let mut value: Option<(u64, &str)> = None;
        for row in &by_line {
            let cell = row.target_cells[k].as_str();
            if cell.is_empty() {
                continue;
            }
            match value {
                None => value = Some((row.line, cell)),
                Some((line, first)) if !same_target(first, cell, target) => {
                    return Err(table.error(
                        row.line,
                        Some(column),
                        format!(
                            "id `{id}` has target `{cell}` here but `{first}` on line {line}; a sample has one target"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let value = value.ok_or_else(|| {
            table.error(
                by_line[0].line,
                Some(column),
                format!("id `{id}` has no value in this target column"),
            )
        })?;
        chosen.push(value);
    }
    Ok(Some(match target {
        SampleTarget::Class(..) => RawTarget::Label {
            label: chosen[0].1.to_string(),
            line: chosen[0].0,
        },
        _ => RawTarget::Values(
            chosen
                .iter()
                .zip(&columns)
                .map(|((line, text), column)| {
                    table
                        .number(text, *line, column)
                        .map(|v| v.expect("non-empty cell"))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    }))
}

/// Whether two target cells mean the same target (numbers compare as numbers).
fn same_target(a: &str, b: &str, target: &SampleTarget) -> bool {
    match target {
        SampleTarget::Regression(_) => match (a.parse::<f32>(), b.parse::<f32>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        },
        _ => a == b,
    }
}

fn read_wide(reader: impl Read, path: PathBuf, layout: &WideCsvLayout) -> Result<SequenceDataset> {
    if layout.features.is_empty() {
        return Err(DataError::InvalidParameter(
            "the layout lists no features".into(),
        ));
    }
    let num_steps = layout.features[0].columns.len();
    if num_steps == 0 {
        return Err(DataError::InvalidParameter(format!(
            "feature `{}` lists no step columns",
            layout.features[0].name
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
            layout.features[0].name
        )));
    }
    if matches!(layout.target, CsvTarget::PerStep(_)) {
        return Err(DataError::InvalidParameter(
            "per-step targets need the long format (one row per step)".into(),
        ));
    }
    let table = Table::read(reader, path)?;
    let id_col = layout.id.as_ref().map(|c| table.column(c)).transpose()?;
    // Step-major column order: for each step, every feature.
    let mut cell_cols = Vec::with_capacity(num_steps * layout.features.len());
    for t in 0..num_steps {
        for feature in &layout.features {
            let name = &feature.columns[t];
            cell_cols.push((name.as_str(), table.column(name)?));
        }
    }
    let num_features = layout.features.len();
    let sample_target = sample_target(&table, &layout.target)?;

    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    let mut samples = Vec::new();
    let mut raw_targets = Vec::new();
    'rows: for (row_index, (line, fields)) in table.rows.iter().enumerate() {
        let line = *line;
        let id = match (&layout.id, id_col) {
            (Some(name), Some(col)) => {
                let id = &fields[col];
                if id.is_empty() {
                    return Err(table.error(line, Some(name), "missing sample id"));
                }
                if let Some(first) = first_line_of.insert(id.clone(), line) {
                    return Err(table.error(
                        line,
                        Some(name),
                        format!("duplicate row for id `{id}` (first on line {first})"),
                    ));
                }
                id.clone()
            }
            _ => row_index.to_string(),
        };
        let mut values = Vec::with_capacity(cell_cols.len());
        for (i, (name, col)) in cell_cols.iter().enumerate() {
            let value = match (table.number(&fields[*col], line, name)?, layout.missing) {
                (Some(v), _) => v,
                (None, MissingValues::DropRow) => continue 'rows,
                (None, MissingValues::ForwardFill) if i >= num_features => values[i - num_features],
                (None, MissingValues::ForwardFill) => {
                    return Err(table.error(
                        line,
                        Some(name),
                        format!("missing value at the first step of id `{id}`; forward fill has nothing to copy"),
                    ));
                }
                (None, MissingValues::Error) => {
                    return Err(table.error(
                        line,
                        Some(name),
                        format!("missing value for id `{id}` (choose a MissingValues policy to fill or drop it)"),
                    ));
                }
            };
            values.push(value);
        }
        let raw_target = match &sample_target {
            SampleTarget::Regression(cols) => {
                let mut targets = Vec::with_capacity(cols.len());
                for (name, col) in cols {
                    match table.number(&fields[*col], line, name)? {
                        Some(v) => targets.push(v),
                        None if layout.missing == MissingValues::DropRow => continue 'rows,
                        None => {
                            return Err(table.error(
                                line,
                                Some(name),
                                format!("missing target for id `{id}`"),
                            ));
                        }
                    }
                }
                RawTarget::Values(targets)
            }
            SampleTarget::Class(name, col) => {
                let label = &fields[*col];
                if label.is_empty() {
                    if layout.missing == MissingValues::DropRow {
                        continue 'rows;
                    }
                    return Err(table.error(
                        line,
                        Some(name),
                        format!("missing class label for id `{id}`"),
                    ));
                }
                RawTarget::Label {
                    label: label.clone(),
                    line,
                }
            }
            SampleTarget::None => unreachable!("per-step targets are rejected above"),
        };
        samples.push((id, values));
        raw_targets.push(raw_target);
    }
    if samples.is_empty() {
        return Err(DataError::Empty(format!(
            "{}: every row has a missing value; dropping them leaves no sample",
            table.path.display()
        )));
    }
    let (targets, kind, target_names) = resolve_targets(&table, &layout.target, raw_targets)?;
    let samples = samples
        .into_iter()
        .zip(targets)
        .map(|((id, values), target)| SequenceSample {
            id,
            values,
            length: num_steps,
            target,
        })
        .collect();
    SequenceDataset::new(samples, num_steps, num_features, kind)?
        .with_feature_names(layout.features.iter().map(|f| f.name.clone()).collect())?
        .with_target_names(target_names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(text: &str, layout: &LongCsvLayout) -> Result<SequenceDataset> {
        read_long_csv_from_reader(text.as_bytes(), layout)
    }

    fn wide(text: &str, layout: &WideCsvLayout) -> Result<SequenceDataset> {
        read_wide_csv_from_reader(text.as_bytes(), layout)
    }

    #[test]
    fn sequences_without_targets_keep_their_own_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.csv");
        std::fs::write(&path, "id,t,a,b\nq,1,3,4\np,0,1,2\nq,0,5,6\n").unwrap();
        let sequences = read_long_sequences(&path, "id", "t", &["b", "a"]).unwrap();
        assert_eq!(
            sequences,
            vec![
                ("q".to_string(), vec![vec![6.0, 5.0], vec![4.0, 3.0]]),
                ("p".to_string(), vec![vec![2.0, 1.0]]),
            ]
        );
        let err = read_long_sequences(&path, "id", "t", &["c"]).unwrap_err();
        assert!(err.to_string().contains("`c`"), "{err}");
        std::fs::write(&path, "id,t,a,b\n").unwrap();
        let err = read_long_sequences(&path, "id", "t", &["a"]).unwrap_err();
        assert!(err.to_string().contains("no data rows"), "{err}");
    }

    fn reg_layout() -> LongCsvLayout {
        LongCsvLayout::new("id", "t", &["a", "b"], CsvTarget::regression(&["y"]))
    }

    fn expect_csv_error(
        result: Result<SequenceDataset>,
        line: u64,
        column: Option<&str>,
    ) -> String {
        match result {
            Err(DataError::Csv {
                path,
                line: l,
                column: c,
                message,
            }) => {
                assert_eq!(path, PathBuf::from(MEMORY_SOURCE));
                assert_eq!((l, c.as_deref()), (line, column), "{message}");
                message
            }
            other => panic!("expected a CSV error, got {other:?}"),
        }
    }

    #[test]
    fn long_sorts_by_time_and_keeps_id_order() {
        let text = "id,t,a,b,y\n\
                    q,1,30,31,2\n\
                    p,1,10,11,\n\
                    q,0,20,21,2\n\
                    p,0,0,1,5\n";
        let data = long(text, &reg_layout()).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!((data.num_steps(), data.num_features()), (2, 2));
        let q = &data.samples()[0];
        assert_eq!(q.id, "q");
        assert_eq!(q.values, vec![20.0, 21.0, 30.0, 31.0]);
        assert_eq!(q.target, Target::Regression(vec![2.0]));
        let p = &data.samples()[1];
        assert_eq!(p.values, vec![0.0, 1.0, 10.0, 11.0]);
        assert_eq!(p.target, Target::Regression(vec![5.0]));
        assert_eq!(data.feature_names(), &["a", "b"]);
        assert_eq!(data.target_names(), &["y"]);
    }

    #[test]
    fn long_class_labels_and_per_step_targets() {
        let layout = LongCsvLayout::new("id", "t", &["a"], CsvTarget::class("label"));
        let text =
            "t,id,a,label\n0,x,1,sick\n1,x,2,sick\n0,y,3,well\n1,y,4,well\n0,z,5,sick\n1,z,6,\n";
        let data = long(text, &layout).unwrap();
        assert_eq!(
            data.target_kind(),
            TargetKind::Classification { classes: 2 }
        );
        assert_eq!(data.target_names(), &["sick", "well"]);
        let classes: Vec<_> = data.samples().iter().map(|s| s.target.clone()).collect();
        assert_eq!(
            classes,
            vec![Target::Class(0), Target::Class(1), Target::Class(0)]
        );

        let fixed = LongCsvLayout::new(
            "id",
            "t",
            &["a"],
            CsvTarget::class_with_labels("label", &["well", "sick"]),
        );
        let data = long(text, &fixed).unwrap();
        assert_eq!(data.samples()[0].target, Target::Class(1));
        let unknown = LongCsvLayout::new(
            "id",
            "t",
            &["a"],
            CsvTarget::class_with_labels("label", &["well"]),
        );
        let msg = expect_csv_error(long(text, &unknown), 2, Some("label"));
        assert!(msg.contains("sick"), "{msg}");

        let conflict = "id,t,a,label\nx,0,1,sick\nx,1,2,well\n";
        expect_csv_error(long(conflict, &layout), 3, Some("label"));

        let per_step = LongCsvLayout::new("id", "t", &["a"], CsvTarget::per_step(&["y1", "y2"]));
        let text = "id,t,a,y1,y2\ns,1,2,20,21\ns,0,1,10,11\n";
        let data = long(text, &per_step).unwrap();
        assert_eq!(data.target_kind(), TargetKind::PerStep { outputs: 2 });
        assert_eq!(
            data.samples()[0].target,
            Target::PerStep(vec![10.0, 11.0, 20.0, 21.0])
        );
    }

    #[test]
    fn integer_labels_sort_numerically() {
        assert_eq!(
            observed_labels(["10", "2", "1", "2"].into_iter()),
            vec!["1", "2", "10"]
        );
        assert_eq!(
            observed_labels(["b", "a", "10"].into_iter()),
            vec!["10", "a", "b"]
        );
    }

    #[test]
    fn long_errors_name_line_and_column() {
        let layout = reg_layout();
        // Ragged row / wrong number of fields.
        let msg = expect_csv_error(long("id,t,a,b,y\np,0,1,2,3\np,1,1,2\n", &layout), 3, None);
        assert!(msg.contains("expected 5 fields"), "{msg}");
        expect_csv_error(long("id,t,a,b,y\np,0,1,2,3,4\n", &layout), 2, None);
        // Unparsable number, NaN and infinity.
        let msg = expect_csv_error(long("id,t,a,b,y\np,0,1,x,3\n", &layout), 2, Some("b"));
        assert!(msg.contains("`x`"), "{msg}");
        expect_csv_error(long("id,t,a,b,y\np,0,NaN,1,3\n", &layout), 2, Some("a"));
        expect_csv_error(long("id,t,a,b,y\np,0,1,inf,3\n", &layout), 2, Some("b"));
        expect_csv_error(long("id,t,a,b,y\np,0,1,2,-inf\n", &layout), 2, Some("y"));
        // Empty file and header only.
        let msg = expect_csv_error(long("", &layout), 1, None);
        assert!(msg.contains("empty file"), "{msg}");
        let msg = expect_csv_error(long("id,t,a,b,y\n", &layout), 1, None);
        assert!(msg.contains("no data rows"), "{msg}");
        // Duplicate (id, time).
        let msg = expect_csv_error(
            long("id,t,a,b,y\np,0,1,2,3\nq,0,1,2,3\np,0,4,5,3\n", &layout),
            4,
            Some("t"),
        );
        assert!(msg.contains("line 2"), "{msg}");
        // Unknown column.
        let bad = LongCsvLayout::new("id", "t", &["a", "c"], CsvTarget::regression(&["y"]));
        let msg = expect_csv_error(long("id,t,a,b,y\np,0,1,2,3\n", &bad), 1, Some("c"));
        assert!(msg.contains("unknown column"), "{msg}");
        // Non-numeric time.
        expect_csv_error(long("id,t,a,b,y\np,monday,1,2,3\n", &layout), 2, Some("t"));
        // Different numbers of steps without padding.
        let msg = expect_csv_error(
            long("id,t,a,b,y\np,0,1,2,3\np,1,1,2,3\nq,0,1,2,3\n", &layout),
            4,
            Some("id"),
        );
        assert!(msg.contains("pad_to"), "{msg}");
        // A sample without any target value.
        expect_csv_error(long("id,t,a,b,y\np,0,1,2,\n", &layout), 2, Some("y"));
    }

    #[test]
    fn long_missing_value_policies() {
        let text = "id,t,a,b,y\np,0,1,2,9\np,1,,4,9\np,2,5,,9\n";
        let msg = expect_csv_error(long(text, &reg_layout()), 3, Some("a"));
        assert!(msg.contains("missing"), "{msg}");
        let filled = long(text, &reg_layout().with_missing(MissingValues::ForwardFill)).unwrap();
        assert_eq!(
            filled.samples()[0].values,
            vec![1.0, 2.0, 1.0, 4.0, 5.0, 4.0]
        );
        let dropped = long(text, &reg_layout().with_missing(MissingValues::DropRow)).unwrap();
        assert_eq!(dropped.samples()[0].values, vec![1.0, 2.0]);
        assert_eq!(dropped.num_steps(), 1);
        let first_missing = "id,t,a,b,y\np,1,1,2,9\np,0,,4,9\n";
        let msg = expect_csv_error(
            long(
                first_missing,
                &reg_layout().with_missing(MissingValues::ForwardFill),
            ),
            3,
            Some("a"),
        );
        assert!(msg.contains("first step"), "{msg}");
        let all_missing = "id,t,a,b,y\np,0,,2,9\n";
        expect_csv_error(
            long(
                all_missing,
                &reg_layout().with_missing(MissingValues::DropRow),
            ),
            2,
            None,
        );
    }

    #[test]
    fn long_padding_and_truncation() {
        let text = "id,t,a,b,y\np,0,1,2,9\np,1,3,4,9\np,2,5,6,9\nq,0,7,8,1\n";
        let layout = reg_layout().with_padding(2, Truncation::KeepLast);
        let data = long(text, &layout).unwrap();
        assert_eq!(data.num_steps(), 2);
        assert_eq!(data.samples()[0].values, vec![3.0, 4.0, 5.0, 6.0]);
        assert_eq!(data.samples()[0].length, 2);
        assert_eq!(data.samples()[1].values, vec![7.0, 8.0, 0.0, 0.0]);
        assert_eq!(data.samples()[1].length, 1);
        let err = long(text, &reg_layout().with_padding(2, Truncation::Error)).unwrap_err();
        assert!(err.to_string().contains("id `p`"), "{err}");
        assert!(err.to_string().contains(MEMORY_SOURCE), "{err}");
        let data = long(text, &reg_layout().with_padding(4, Truncation::Error)).unwrap();
        assert_eq!(data.samples()[0].length, 3);
    }

    fn wide_layout() -> WideCsvLayout {
        WideCsvLayout::new(
            Some("id"),
            vec![
                WideFeature::numbered("hr", 3),
                WideFeature::numbered("bp", 3),
            ],
            CsvTarget::class("died"),
        )
    }

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
    fn wide_missing_values_and_errors() {
        let header = "id,hr_0,hr_1,hr_2,bp_0,bp_1,bp_2,died\n";
        let text = format!("{header}a,80,,82,100,101,102,1\nb,70,71,72,90,91,92,0\n");
        expect_csv_error(wide(&text, &wide_layout()), 2, Some("hr_1"));
        let filled = wide(
            &text,
            &wide_layout().with_missing(MissingValues::ForwardFill),
        )
        .unwrap();
        assert_eq!(
            filled.samples()[0].values,
            vec![80.0, 100.0, 80.0, 101.0, 82.0, 102.0]
        );
        let dropped = wide(&text, &wide_layout().with_missing(MissingValues::DropRow)).unwrap();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped.samples()[0].id, "b");
        let first = format!("{header}a,,81,82,100,101,102,1\n");
        expect_csv_error(
            wide(
                &first,
                &wide_layout().with_missing(MissingValues::ForwardFill),
            ),
            2,
            Some("hr_0"),
        );

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
            wide(&text, &uneven),
            Err(DataError::InvalidParameter(_))
        ));
        let mut per_step = wide_layout();
        per_step.target = CsvTarget::per_step(&["y"]);
        assert!(matches!(
            wide(&text, &per_step),
            Err(DataError::InvalidParameter(_))
        ));
    }

    #[test]
    fn files_show_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vitals.csv");
        std::fs::write(&path, "id,t,a,b,y\np,0,1,2,3\np,1,4,5,3\n").unwrap();
        let data = read_long_csv(&path, &reg_layout()).unwrap();
        assert_eq!(data.samples()[0].values, vec![1.0, 2.0, 4.0, 5.0]);

        std::fs::write(&path, "id,t,a,b,y\np,0,1,2,3\np,1,4,oops,3\n").unwrap();
        let err = read_long_csv(&path, &reg_layout()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("vitals.csv, line 3, column `b`"), "{text}");

        let wide_path = dir.path().join("wide.csv");
        std::fs::write(
            &wide_path,
            "id,hr_0,hr_1,hr_2,bp_0,bp_1,bp_2,died\na,1,2,3,4,5,6,yes\n",
        )
        .unwrap();
        let data = read_wide_csv(&wide_path, &wide_layout()).unwrap();
        assert_eq!(data.target_names(), &["yes"]);

        let missing = dir.path().join("absent.csv");
        assert!(matches!(
            read_long_csv(&missing, &reg_layout()),
            Err(DataError::Io { .. })
        ));
    }
}
