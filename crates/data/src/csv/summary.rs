//! The [`Inspection`] of a file: what `burn-rnn inspect` prints — the spec that
//! [`inspect_csv`](super::inspect_csv) inferred and what the sequences look like (counts,
//! lengths, classes, ignored columns) — and the counts it is made of.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::spec::{DataSpec, Format, Task};
use super::table::Table;
use crate::error::Result;

/// What a file holds and how it would be read: the resolved [`DataSpec`] and a summary.
/// Its `Display` is the report of `burn-rnn inspect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The file.
    pub path: PathBuf,
    /// Every choice, made.
    pub spec: DataSpec,
    /// Data rows in the file.
    pub rows: usize,
    /// Columns that are none of id, time, feature or target, with why.
    pub ignored: Vec<(String, &'static str)>,
    /// The number of sequences (series, for forecasting).
    pub sequences: usize,
    /// The shortest and longest sequence, in steps.
    pub steps: (usize, usize),
    /// For classification: each class and its number of sequences, in class order.
    pub classes: Vec<(String, usize)>,
    /// For forecasting: the number of windows.
    pub windows: Option<usize>,
    /// Why each choice was made, and hints.
    pub notes: Vec<String>,
}

/// The inspection's summary of a file read with `spec`.
pub(super) fn summarise(
    path: &Path,
    table: &Table,
    spec: DataSpec,
    groups: &BTreeMap<String, Vec<String>>,
    numeric: &[String],
    mut notes: Vec<String>,
) -> Result<Inspection> {
    let mut used: Vec<&str> = spec
        .id
        .iter()
        .chain(&spec.time)
        .chain(&spec.targets)
        .map(String::as_str)
        .collect();
    if spec.format == Format::Wide {
        for feature in &spec.features {
            used.extend(groups[feature].iter().map(String::as_str));
        }
    } else {
        used.extend(spec.features.iter().map(String::as_str));
    }
    let ignored = table
        .headers()
        .iter()
        .filter(|h| !used.contains(&h.as_str()))
        .map(|h| {
            let why = if numeric.contains(h) {
                "not chosen"
            } else {
                "not numeric"
            };
            (h.clone(), why)
        })
        .collect();
    let lengths = match spec.format {
        Format::Long => sequence_lengths(table, spec.id.as_deref())?,
        Format::Wide => {
            let steps = groups[&spec.features[0]].len();
            vec![steps; table.rows.len()]
        }
    };
    let steps = (
        lengths.iter().copied().min().unwrap_or(0),
        lengths.iter().copied().max().unwrap_or(0),
    );
    let windows = spec.forecast.map(|w| {
        lengths
            .iter()
            .filter(|&&n| n >= w.window + w.horizon)
            .map(|&n| (n - w.window - w.horizon) / w.stride + 1)
            .sum()
    });
    let classes = match spec.task {
        Task::Classify => class_counts(table, &spec)?,
        _ => Vec::new(),
    };
    if let Some(max) = spec.max_steps
        && max < steps.1
    {
        notes.push(format!(
            "sequences longer than {max} steps keep their last {max}"
        ));
    }
    Ok(Inspection {
        path: path.to_path_buf(),
        rows: table.rows.len(),
        ignored,
        sequences: lengths.len(),
        steps,
        classes,
        windows,
        notes,
        spec,
    })
}

/// Each class and how many sequences carry it, in the order the reader gives classes.
fn class_counts(table: &Table, spec: &DataSpec) -> Result<Vec<(String, usize)>> {
    let label = table.column(&spec.targets[0])?;
    let id = spec.id.as_deref().map(|c| table.column(c)).transpose()?;
    let mut label_of: HashMap<String, String> = HashMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        let key = match (&id, spec.format) {
            (Some(c), _) => row.cell(c).to_string(),
            (None, Format::Wide) => i.to_string(),
            (None, Format::Long) => String::new(),
        };
        let cell = row.cell(&label);
        if !cell.is_empty() {
            label_of.entry(key).or_insert_with(|| cell.to_string());
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for label in label_of.into_values() {
        *counts.entry(label).or_default() += 1;
    }
    let mut classes: Vec<(String, usize)> = counts.into_iter().collect();
    if classes.iter().all(|(l, _)| l.parse::<i64>().is_ok()) {
        classes.sort_by_key(|(l, _)| l.parse::<i64>().unwrap_or_default());
    }
    Ok(classes)
}

/// The number of rows of each sequence (by `id`, in first-appearance order; without an id the
/// file is one sequence).
pub(super) fn sequence_lengths(table: &Table, id: Option<&str>) -> Result<Vec<usize>> {
    let Some(id) = id else {
        return Ok(vec![table.rows.len()]);
    };
    let column = table.column(id)?;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut lengths = Vec::new();
    for row in &table.rows {
        let next = lengths.len();
        let i = *index.entry(row.cell(&column)).or_insert(next);
        if i == lengths.len() {
            lengths.push(0);
        }
        lengths[i] += 1;
    }
    Ok(lengths)
}

/// The numbered step columns of a header, `<name>_<t>`, grouped by name and sorted by step;
/// names with fewer than two steps are left out.
pub(super) fn step_groups(headers: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for header in headers {
        if let Some((name, step)) = header.rsplit_once('_')
            && !name.is_empty()
            && let Ok(step) = step.parse::<usize>()
        {
            groups
                .entry(name.to_string())
                .or_default()
                .push((step, header.clone()));
        }
    }
    groups
        .into_iter()
        .filter(|(_, steps)| steps.len() >= 2)
        .map(|(name, mut steps)| {
            steps.sort();
            (name, steps.into_iter().map(|(_, c)| c).collect())
        })
        .collect()
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = &self.spec;
        let format = match spec.format {
            Format::Long => "long (one row per sequence and step)",
            Format::Wide => "wide (one row per sequence, numbered step columns)",
        };
        writeln!(
            f,
            "file       {}: {} rows, {format}",
            self.path.display(),
            self.rows
        )?;
        let none = |what: &str| format!("(none: {what})");
        let id = spec.id.clone().unwrap_or_else(|| match spec.format {
            Format::Long => none("the file is one series"),
            Format::Wide => none("rows are numbered"),
        });
        writeln!(f, "id         {id}")?;
        if let Some(time) = &spec.time {
            writeln!(f, "time       {time}")?;
        }
        writeln!(
            f,
            "features   {} ({})",
            spec.features.join(", "),
            spec.features.len()
        )?;
        writeln!(f, "target     {}", spec.targets.join(", "))?;
        writeln!(f, "task       {}", spec.task)?;
        let (shortest, longest) = self.steps;
        let what = if spec.task == Task::Forecast {
            "series"
        } else {
            "sequences"
        };
        write!(
            f,
            "{what:<10} {}, {shortest}–{longest} steps",
            self.sequences
        )?;
        match (spec.task, spec.max_steps) {
            (Task::Forecast, _) => writeln!(f)?,
            (_, Some(max)) if max < longest => writeln!(
                f,
                " (cut to the last {max}, padded to {max}, lengths kept as masks)"
            )?,
            _ if shortest < longest => {
                writeln!(f, " (padded to {longest}, lengths kept as masks)")?
            }
            _ => writeln!(f)?,
        }
        if let (Some(windows), Some(w)) = (self.windows, spec.forecast) {
            writeln!(
                f,
                "windows    {windows}: {} steps in, the next {} out, every {} step(s)",
                w.window, w.horizon, w.stride
            )?;
            writeln!(f, "inputs     {}", spec.input_names().join(", "))?;
        }
        if !self.classes.is_empty() {
            let classes: Vec<String> = self
                .classes
                .iter()
                .map(|(c, n)| format!("{c} ({n})"))
                .collect();
            writeln!(f, "classes    {}", classes.join(", "))?;
        }
        if !self.ignored.is_empty() {
            let ignored: Vec<String> = self
                .ignored
                .iter()
                .map(|(c, why)| format!("{c} ({why})"))
                .collect();
            writeln!(f, "ignored    {}", ignored.join(", "))?;
        }
        for note in &self.notes {
            writeln!(f, "note       {note}")?;
        }
        Ok(())
    }
}
