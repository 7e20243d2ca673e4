//! What `burn-rnn train` would make of a CSV file, inferred from its header and cells: the
//! format, the id, time, feature and target columns, the task, and what the sequences look like.
//! The user's choices ([`DataHints`]) win; the rest follows the rules below, and an ambiguous
//! file gets an error that says which flag settles it.
//!
//! - Format: long when the file has the time column (`time`, or `--time`), otherwise wide when
//!   some columns are numbered steps of a feature (`hr_0, hr_1, ...`).
//! - Id: `--id`, or a column called `id`; without one a long file is one series and a wide file's
//!   rows are numbered.
//! - Target: `--target` (one or more), or a column called `target`, `label`, `class` or `y`.
//! - Task: `--task`; else forecasting when `--window` is given, classification when a target
//!   is not numeric, otherwise regression (one value per sequence).
//! - Features: `--features`, or every numeric column (wide: every numbered feature) that is
//!   not the id, time or a target.
//!
//! A file of at least [`crate::ON_DISK_THRESHOLD_BYTES`] is inferred from its first
//! [`INSPECTED_ROWS`] rows (and the counts are theirs, as a note says), so that inspecting a file
//! bigger than memory holds a bounded part of it; every row is checked when the file is read.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::missing::MissingValues;
use super::spec::{DataSpec, ForecastWindows, Format, Task};
use super::stream::read_first_rows;
use super::summary::{Inspection, step_groups, summarise};
use super::table::{Table, open};
use crate::error::{DataError, Result};

/// Column names taken as the target when `--target` is not given, in order of preference.
pub const TARGET_NAMES: [&str; 4] = ["target", "label", "class", "y"];

/// The user's choices; `None` or empty means "infer it".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataHints {
    /// Long or wide.
    pub format: Option<Format>,
    /// The sequence id column.
    pub id: Option<String>,
    /// The time column (long format).
    pub time: Option<String>,
    /// The feature columns.
    pub features: Vec<String>,
    /// The target columns.
    pub targets: Vec<String>,
    /// What to learn.
    pub task: Option<Task>,
    /// Forecasting: the steps read.
    pub window: Option<usize>,
    /// Forecasting: the steps forecast (default 1).
    pub horizon: Option<usize>,
    /// Forecasting: the steps between windows (default 1).
    pub stride: Option<usize>,
    /// Keep at most this many (the last) steps of a sequence.
    pub max_steps: Option<usize>,
}

/// The rows a file of at least [`crate::ON_DISK_THRESHOLD_BYTES`] is inferred from.
pub const INSPECTED_ROWS: usize = 200_000;

/// Infers how to read `path` (see the module docs), checking every column named.
///
/// ```
/// use burn_rnn_data::csv::{DataHints, Format, Task, inspect_csv};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("vitals.csv");
/// std::fs::write(
///     &path,
///     "id,time,hr,note,label\np1,0,80,ok,died\np1,1,85,ok,died\np2,0,70,ok,survived\n",
/// )?;
/// let seen = inspect_csv(&path, &DataHints::default())?;
/// assert_eq!(seen.spec.format, Format::Long);
/// assert_eq!(seen.spec.features, ["hr"]); // `note` is not numeric
/// assert_eq!(seen.spec.task, Task::Classify); // the labels are text
/// assert_eq!((seen.sequences, seen.steps), (2, (1, 2)));
/// assert_eq!(seen.classes, [("died".to_string(), 1), ("survived".to_string(), 1)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn inspect_csv(path: impl AsRef<Path>, hints: &DataHints) -> Result<Inspection> {
    let path = path.as_ref();
    let big = std::fs::metadata(path).is_ok_and(|m| m.len() >= crate::ON_DISK_THRESHOLD_BYTES);
    inspect_first_rows(path, hints, big.then_some(INSPECTED_ROWS))
}

/// [`inspect_csv`] from the first `max_rows` data rows of `path` (all of them when `None`).
pub(super) fn inspect_first_rows(
    path: &Path,
    hints: &DataHints,
    max_rows: Option<usize>,
) -> Result<Inspection> {
    let (table, cut) = match max_rows {
        Some(max) => read_first_rows(path, max)?,
        None => (Table::read(open(path)?, path.to_path_buf())?, false),
    };
    let headers = table.headers().to_vec();
    let has = |name: &str| headers.iter().any(|h| h == name);
    let mut notes = Vec::new();
    for name in hints.id.iter().chain(&hints.time).chain(&hints.targets) {
        table.column(name)?;
    }

    let groups = step_groups(&headers);
    let time_name = hints
        .time
        .clone()
        .or_else(|| has("time").then(|| "time".to_string()));
    let format = match hints.format {
        Some(format) => format,
        None if time_name.is_some() => Format::Long,
        None if !groups.is_empty() => {
            notes.push("wide format: numbered step columns and no time column".into());
            Format::Wide
        }
        None => {
            return Err(table.error(
                1,
                None,
                "cannot tell the format: there is no time column (`time`, or name it with \
                 --time) for the long format, and no numbered step columns (`hr_0, hr_1, ...`) \
                 for the wide format",
            ));
        }
    };
    let id = hints
        .id
        .clone()
        .or_else(|| has("id").then(|| "id".to_string()));
    let time = match format {
        Format::Long => Some(time_name.ok_or_else(|| {
            table.error(
                1,
                None,
                "the long format needs a time column: none is called `time`; name it with --time",
            )
        })?),
        Format::Wide => None,
    };
    let targets = match hints.targets.is_empty() {
        false => hints.targets.clone(),
        true => {
            let found = TARGET_NAMES.iter().find(|n| has(n)).ok_or_else(|| {
                table.error(
                    1,
                    None,
                    format!(
                        "no target column: name it with --target (no column is called {}); the \
                         columns are: {}",
                        TARGET_NAMES.join(", "),
                        headers.join(", ")
                    ),
                )
            })?;
            notes.push(format!(
                "target `{found}` found by its name; --target chooses another"
            ));
            vec![found.to_string()]
        }
    };

    let numeric = numeric_columns(&table);
    let is_numeric = |c: &str| numeric.iter().any(|n| n == c);
    let task = infer_task(
        &table,
        hints,
        format,
        id.as_deref(),
        &targets,
        &is_numeric,
        &mut notes,
    )?;
    let forecast = match task {
        Task::Forecast => Some(ForecastWindows {
            window: hints.window.ok_or_else(|| {
                DataError::InvalidParameter("forecasting needs --window T (the steps read)".into())
            })?,
            horizon: hints.horizon.unwrap_or(1),
            stride: hints.stride.unwrap_or(1),
        }),
        _ => None,
    };
    let used: Vec<&str> = id
        .iter()
        .chain(&time)
        .chain(&targets)
        .map(String::as_str)
        .collect();
    let features = infer_features(&table, hints, format, &groups, &used, &is_numeric)?;
    if features.is_empty() && task != Task::Forecast {
        return Err(table.error(
            1,
            None,
            format!(
                "no feature columns: no numeric column is left besides {}; name them with --features",
                used.join(", ")
            ),
        ));
    }
    let spec = DataSpec {
        format,
        id,
        time,
        features,
        targets,
        task,
        forecast,
        max_steps: hints.max_steps,
        missing: MissingValues::Error,
    };
    spec.validate()?;
    if cut {
        notes.push(format!(
            "a big file: inferred from its first {} rows, whose counts these are; every row is \
             checked when the file is read",
            table.rows.len()
        ));
    }
    summarise(path, &table, spec, &groups, &numeric, notes)
}

/// The task: given, forecasting with a window, classification for text labels, else regression
/// when each sequence has one target value.
fn infer_task(
    table: &Table,
    hints: &DataHints,
    format: Format,
    id: Option<&str>,
    targets: &[String],
    is_numeric: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Result<Task> {
    if let Some(task) = hints.task {
        return Ok(task);
    }
    if hints.window.is_some() {
        notes.push("task forecast: --window is given".into());
        return Ok(Task::Forecast);
    }
    if let Some(text) = targets.iter().find(|t| !is_numeric(t)) {
        notes.push(format!("task classify: the target `{text}` is not numeric"));
        return Ok(Task::Classify);
    }
    if format == Format::Long {
        let id = id.map(|name| table.column(name)).transpose()?;
        for target in targets {
            let column = table.column(target)?;
            let mut seen: HashMap<&str, &str> = HashMap::new();
            for row in &table.rows {
                let key = id.as_ref().map_or("", |c| row.cell(c));
                let value = row.cell(&column);
                if value.is_empty() {
                    continue;
                }
                if let Some(first) = seen.insert(key, value)
                    && first.parse::<f64>().ok() != value.parse::<f64>().ok()
                {
                    return Err(table.error(
                        row.line,
                        Some(target),
                        format!(
                            "the target changes within a sequence (`{first}`, then `{value}`), so \
                             one value per sequence cannot be learned from it: to forecast it, \
                             pass --window T (and --horizon H); to regress or classify, give \
                             each sequence one value"
                        ),
                    ));
                }
            }
        }
    }
    let labels = distinct_cells(table, &targets[0]);
    if targets.len() == 1 && labels.len() <= 10 && labels.iter().all(|l| l.parse::<i64>().is_ok()) {
        notes.push(format!(
            "task regress: the target is numeric; its values {} look like class labels: pass \
             --task classify to classify",
            labels.join(", ")
        ));
    } else {
        notes.push("task regress: the target is numeric, one value per sequence".into());
    }
    Ok(Task::Regress)
}

/// The features: given (checked), or every numeric column not `used` (long), or every numbered
/// feature not `used` (wide).
fn infer_features(
    table: &Table,
    hints: &DataHints,
    format: Format,
    groups: &BTreeMap<String, Vec<String>>,
    used: &[&str],
    is_numeric: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>> {
    match (format, hints.features.is_empty()) {
        (Format::Long, false) => {
            for name in &hints.features {
                table.column(name)?;
                if !is_numeric(name) {
                    return Err(table.error(1, Some(name), "a feature column must hold numbers"));
                }
            }
            Ok(hints.features.clone())
        }
        (Format::Wide, false) => {
            for name in &hints.features {
                if !groups.contains_key(name) {
                    return Err(table.error(
                        1,
                        Some(name),
                        format!("no step columns `{name}_0`, `{name}_1`, ... for this feature"),
                    ));
                }
            }
            Ok(hints.features.clone())
        }
        (Format::Long, true) => Ok(table
            .headers()
            .iter()
            .filter(|h| !used.contains(&h.as_str()) && is_numeric(h))
            .cloned()
            .collect()),
        (Format::Wide, true) => Ok(groups
            .keys()
            .filter(|g| !used.contains(&g.as_str()))
            .cloned()
            .collect()),
    }
}

/// The columns whose every non-empty cell is a finite number (and that have one).
fn numeric_columns(table: &Table) -> Vec<String> {
    (0..table.headers().len())
        .filter(|&c| {
            let mut any = false;
            let all = table.rows.iter().all(|row| {
                let cell = &row.fields[c];
                any |= !cell.is_empty();
                cell.is_empty() || cell.parse::<f32>().is_ok_and(f32::is_finite)
            });
            all && any
        })
        .map(|c| table.headers()[c].clone())
        .collect()
}

/// The distinct non-empty cells of `column`, sorted (numerically when all are integers).
fn distinct_cells(table: &Table, column: &str) -> Vec<String> {
    let Ok(column) = table.column(column) else {
        return Vec::new();
    };
    let mut cells: Vec<String> = table
        .rows
        .iter()
        .map(|r| r.cell(&column).to_string())
        .filter(|c| !c.is_empty())
        .collect();
    cells.sort();
    cells.dedup();
    cells
}

#[cfg(test)]
mod tests {
    use super::super::test_support::write_file;
    use super::*;

    fn hints() -> DataHints {
        DataHints::default()
    }

    #[test]
    fn long_classification_with_string_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            &dir,
            "a.csv",
            "id,time,hr,temp,ward,label\np,0,80,37,A,sick\np,1,82,38,A,sick\nq,0,70,36.5,B,well\nr,0,71,36,B,well\nr,1,70,36,B,well\nr,2,75,36,B,well\n",
        );
        let seen = inspect_csv(&path, &hints()).unwrap();
        assert_eq!(seen.spec.features, ["hr", "temp"]);
        assert_eq!(seen.ignored, [("ward".to_string(), "not numeric")]);
        assert_eq!(seen.spec.task, Task::Classify);
        assert_eq!((seen.sequences, seen.steps), (3, (1, 3)));
        assert_eq!(seen.classes, [("sick".into(), 1), ("well".into(), 2)]);
        let text = seen.to_string();
        assert!(
            text.contains("padded to 3, lengths kept as masks"),
            "{text}"
        );

        let data = seen.spec.read(&path, None).unwrap().dataset;
        assert_eq!((data.len(), data.num_steps()), (3, 3));
        assert_eq!(data.samples()[1].length, 1);
        let cut = DataSpec {
            max_steps: Some(2),
            ..seen.spec.clone()
        };
        let data = cut.read(&path, None).unwrap().dataset;
        assert_eq!(data.samples()[2].values, [70.0, 36.0, 75.0, 36.0]);
        // Test labels are mapped onto the training classes; an unseen one is an error.
        let classes = ["well".to_string(), "sick".into()];
        let data = seen.spec.read(&path, Some(&classes)).unwrap().dataset;
        assert_eq!(data.samples()[0].target, crate::Target::Class(1));
        let err = seen
            .spec
            .read(&path, Some(&classes[..1]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("`sick`"), "{err}");
    }

    #[test]
    fn a_big_file_is_inferred_from_its_first_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("id,time,hr,label\n");
        for p in 0..10 {
            for t in 0..3 {
                text += &format!("p{p},{t},{},{}\n", 70 + t, ["sick", "well"][p % 2]);
            }
        }
        let path = write_file(&dir, "big.csv", &text);
        let whole = inspect_csv(&path, &hints()).unwrap();
        let first = inspect_first_rows(&path, &hints(), Some(7)).unwrap();
        assert_eq!(first.spec, whole.spec);
        assert_eq!((first.rows, first.sequences), (7, 3));
        assert_eq!((whole.rows, whole.sequences), (30, 10));
        assert!(first.to_string().contains("first 7 rows"), "{first}");
        let all = inspect_first_rows(&path, &hints(), Some(30)).unwrap();
        assert_eq!(all.rows, 30);
        for whole in [whole, all] {
            assert!(!whole.to_string().contains("a big file"), "{whole}");
        }
    }

    #[test]
    fn wide_regression_and_ambiguous_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            &dir,
            "w.csv",
            "id,hr_0,hr_1,hr_2,bp_0,bp_1,bp_2,age,y\na,1,2,3,4,5,6,50,7.5\nb,1,2,3,4,5,6,60,8\n",
        );
        let seen = inspect_csv(&path, &hints()).unwrap();
        assert_eq!(seen.spec.format, Format::Wide);
        assert_eq!(seen.spec.features, ["bp", "hr"]);
        assert_eq!(seen.spec.task, Task::Regress);
        assert_eq!(seen.ignored, [("age".to_string(), "not chosen")]);
        let data = seen.spec.read(&path, None).unwrap().dataset;
        assert_eq!(data.samples()[0].values, [4.0, 1.0, 5.0, 2.0, 6.0, 3.0]);
        let inputs = seen.spec.read_inputs(&path).unwrap();
        assert_eq!(inputs.sequences[1][2], [6.0, 3.0]);

        let no_target = write_file(&dir, "n.csv", "id,time,a\np,0,1\n");
        let err = inspect_csv(&no_target, &hints()).unwrap_err().to_string();
        assert!(
            err.contains("--target") && err.contains("id, time, a"),
            "{err}"
        );
        let varying = write_file(&dir, "v.csv", "id,time,a,y\np,0,1,2\np,1,1,3\n");
        let err = inspect_csv(&varying, &hints()).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("--window"), "{err}");
        let no_format = write_file(&dir, "f.csv", "a,b,y\n1,2,3\n");
        let err = inspect_csv(&no_format, &hints()).unwrap_err().to_string();
        assert!(err.contains("--time"), "{err}");
        let bad_feature = DataHints {
            features: vec!["nope".into()],
            window: Some(1),
            ..hints()
        };
        let err = inspect_csv(&varying, &bad_feature).unwrap_err().to_string();
        assert!(
            err.contains("`nope`") && err.contains("unknown column"),
            "{err}"
        );
        let forecast = DataHints {
            window: Some(1),
            ..hints()
        };
        let seen = inspect_csv(&varying, &forecast).unwrap();
        assert_eq!((seen.spec.task, seen.windows), (Task::Forecast, Some(1)));
    }
}
