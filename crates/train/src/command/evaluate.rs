//! `burn-rnn evaluate`: a run's scores on a file, against naive baselines, with `metrics.json`
//! and a plot (the confusion matrix, predicted against actual values, or forecasts against what
//! happened).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use burn_rnn_data::{ForecastIndex, SequenceDataset, SpecData, Target, Task};

use super::RunData;
use super::chunked::{predict_with_targets, reads_in_chunks};
use super::forecast_scores::ForecastScores;
use crate::artifacts::RunDir;
use crate::baseline::{NaiveForecast, mean_forecast};
use crate::error::{Result, TrainError};
use crate::evaluate::Evaluation;
use crate::plot::{Panel, Series, write_confusion_png, write_png};
use crate::predict::{Prediction, Predictor};
use crate::report::dataset_targets;

/// Choices of [`evaluate_run`].
#[derive(Debug, Clone, Default)]
pub struct EvaluateOptions {
    /// Where `metrics.json` and the plot go; the run directory when `None`.
    pub out: Option<PathBuf>,
    /// Forecasting: the season length of the seasonal-naive baseline (7 for daily data with a
    /// weekly cycle); none without it.
    pub season: Option<usize>,
    /// Forecasting: the steps averaged by the moving-average baseline; the whole window when
    /// `None`.
    pub average: Option<usize>,
    /// Read the file a chunk of sequences (or forecasting windows) at a time (`true`,
    /// `--on-disk`) or whole (`false`, `--in-memory`); absent: in chunks for files of at least
    /// [`burn_rnn_data::ON_DISK_THRESHOLD_BYTES`]. The scores are the same either way.
    pub in_chunks: Option<bool>,
}

/// What [`evaluate_run`] measured and wrote.
#[derive(Debug, Clone)]
pub struct RunEvaluation {
    /// The scores (also in `metrics.json`).
    pub evaluation: Evaluation,
    /// The files written: `metrics.json` and the plot.
    pub files: Vec<PathBuf>,
    /// The data scored, in raw units; `None` when the file was read in chunks.
    pub data: Option<SpecData>,
    /// The model's predictions: classes, or `[samples][K]` values.
    pub predictions: Vec<Vec<f32>>,
}

/// Scores the run in `dir` on the file `data` (read as the run's training data was, labels
/// mapped onto its classes: an unseen label is an error naming its line; a big file a chunk at
/// a time, see [`EvaluateOptions::in_chunks`]), next to naive
/// baselines: the training set's majority class; the training mean; the last value, a moving
/// average and (with a season) the seasonal-naive forecast. Writes `metrics.json` and a plot.
pub fn evaluate_run(
    dir: &Path,
    data: &Path,
    device: &Device,
    options: &EvaluateOptions,
) -> Result<RunEvaluation> {
    let run_dir = RunDir::open(dir)?;
    let run_data = RunData::read(&run_dir)?.ok_or_else(|| TrainError::Io {
        path: run_dir.file(RunData::FILE),
        message:
            "missing: this run was trained from code, not with `burn-rnn train`, so how to read \
                  its files is unknown; score it with burn_rnn_train::Evaluation in code"
                .into(),
    })?;
    let predictor = Predictor::load(dir, device)?;
    let spec = &run_data.columns;
    let classes = (spec.task == Task::Classify).then(|| predictor.schema().target_names.clone());
    let out = options.out.clone().unwrap_or_else(|| dir.to_path_buf());
    let mut files = vec![out.join("metrics.json")];
    let per_sequence = spec.task != Task::Forecast;
    let in_chunks = reads_in_chunks(data, options.in_chunks)?;
    let (predicted, targets, read) = if in_chunks && per_sequence {
        let (predicted, targets) =
            predict_with_targets(&predictor, spec, data, classes.as_deref())?;
        (predicted, targets, None)
    } else if in_chunks {
        // Forecasting: the windows are read and scored below, a chunk at a time.
        (Vec::new(), Vec::new(), None)
    } else {
        let read = spec.read(data, classes.as_deref())?;
        let predicted = match per_sequence {
            true => predictor.predict_dataset(&read.dataset)?,
            false => Vec::new(),
        };
        let targets: Vec<Target> = read
            .dataset
            .samples()
            .iter()
            .map(|s| s.target.clone())
            .collect();
        (predicted, targets, Some(read))
    };
    let (evaluation, predictions) = match (spec.task, &read) {
        (Task::Classify, _) => {
            let predicted = predicted
                .iter()
                .map(|p| match p {
                    Prediction::Class { class, .. } => Ok(*class),
                    _ => Err(TrainError::InvalidInput(
                        "the run is not a classifier".into(),
                    )),
                })
                .collect::<Result<Vec<usize>>>()?;
            let truth: Vec<usize> = targets
                .iter()
                .filter_map(|t| match t {
                    Target::Class(c) => Some(*c),
                    _ => None,
                })
                .collect();
            let names = &predictor.schema().target_names;
            let evaluation =
                Evaluation::of_class_lists(&predicted, &truth, names, &run_data.class_counts)?;
            let confusion = &evaluation
                .classification
                .as_ref()
                .map(|c| c.confusion.clone())
                .unwrap_or_default();
            let plot = out.join("confusion.png");
            let title = format!("Confusion matrix, {}", file_name(data));
            write_confusion_png(&plot, &title, names, confusion)?;
            files.push(plot);
            (
                evaluation,
                predicted.iter().map(|&c| vec![c as f32]).collect(),
            )
        }
        (Task::Regress, _) => {
            let rows = predicted
                .into_iter()
                .map(|p| match p {
                    Prediction::Values(values) => Ok(values),
                    _ => Err(TrainError::InvalidInput(
                        "the run is not a many-to-one regression model".into(),
                    )),
                })
                .collect::<Result<Vec<_>>>()?;
            let actual: Vec<Vec<f32>> = targets
                .into_iter()
                .filter_map(|t| match t {
                    Target::Regression(values) => Some(values),
                    _ => None,
                })
                .collect();
            let means: Vec<f32> = (predictor.normalizer().targets.as_ref())
                .map(|t| t.offset.iter().map(|&m| m as f32).collect())
                .unwrap_or_default();
            let baseline = (
                "training mean".to_string(),
                mean_forecast(&means, rows.len()),
            );
            let names = &spec.targets;
            let evaluation =
                Evaluation::of_value_lists(Task::Regress, &rows, &actual, names, &[baseline], &[])?;
            let plot = out.join("predictions.png");
            write_png(
                &plot,
                &format!("Predicted against actual, {}", file_name(data)),
                &scatter_panels(&rows, &actual, names),
                2,
            )?;
            files.push(plot);
            (evaluation, rows)
        }
        (Task::Forecast, _) => {
            let window = spec.forecast.map_or(1, |w| w.window);
            let mut naive = vec![NaiveForecast::LastValue];
            naive.extend(options.season.map(NaiveForecast::Seasonal));
            naive.push(NaiveForecast::MovingAverage(
                options.average.unwrap_or(window),
            ));
            let mut scores = ForecastScores::new(&predictor, naive);
            let time = spec.time.as_deref().unwrap_or("time");
            let (evaluation, panels) = match &read {
                Some(read) => {
                    let index = read.forecast.as_ref().ok_or_else(|| {
                        TrainError::InvalidInput("forecast windows were not read".into())
                    })?;
                    scores.add(&read.dataset, index)?;
                    let evaluation = scores.evaluate(&index.targets)?;
                    let rows = scores.rows();
                    let panels = forecast_panels(rows, &read.dataset, index, &evaluation, time);
                    (evaluation, panels)
                }
                None => {
                    let (dataset, index) = scores.add_file_in_chunks(spec, data)?;
                    let evaluation = scores.evaluate(&index.targets)?;
                    let rows = scores.rows();
                    let panels = forecast_panels(rows, &dataset, &index, &evaluation, time);
                    (evaluation, panels)
                }
            };
            let plot = out.join("forecast.png");
            write_png(
                &plot,
                &format!("Forecasts against what happened, {}", file_name(data)),
                &panels,
                2,
            )?;
            files.push(plot);
            (evaluation, scores.into_rows())
        }
    };
    evaluation.write_json(&files[0])?;
    Ok(RunEvaluation {
        evaluation,
        files,
        data: read,
        predictions,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Predicted against actual values of each target (the first four), with the diagonal.
fn scatter_panels(rows: &[Vec<f32>], targets: &[Vec<f32>], names: &[String]) -> Vec<Panel> {
    names
        .iter()
        .enumerate()
        .take(4)
        .map(|(k, name)| {
            let points: Vec<(f64, f64)> = targets
                .iter()
                .zip(rows)
                .map(|(t, p)| (f64::from(t[k]), f64::from(p[k])))
                .collect();
            let (lo, hi) = points
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), &(x, _)| (l.min(x), h.max(x)));
            Panel::new(
                name.clone(),
                format!("actual {name}"),
                format!("predicted {name}"),
            )
            .with(Series::dots("sequences", points))
            .with(Series::line("perfect", vec![(lo, lo), (hi, hi)]))
        })
        .collect()
}

/// The first series' first target over time with the one-step and H-step forecasts, and the MAE
/// of each step ahead for the model and the baselines.
fn forecast_panels(
    rows: &[Vec<f32>],
    data: &SequenceDataset,
    index: &ForecastIndex,
    evaluation: &Evaluation,
    time: &str,
) -> Vec<Panel> {
    let k = index.targets.len();
    let h = index.horizon;
    let target = &index.targets[0];
    let mine: Vec<usize> = (0..index.windows.len())
        .filter(|&i| index.windows[i].series == 0)
        .collect();
    let (actual, _) = dataset_targets(data);
    let at = |i: usize, step: usize| index.windows[i].target_times[step];
    let mut observed: Vec<(f64, f64)> = mine
        .iter()
        .map(|&i| (at(i, 0), f64::from(actual[i][0])))
        .collect();
    if let Some(&last) = mine.last() {
        observed.extend((1..h).map(|s| (at(last, s), f64::from(actual[last][s * k]))));
    }
    let first: Vec<(f64, f64)> = mine
        .iter()
        .map(|&i| (at(i, 0), f64::from(rows[i][0])))
        .collect();
    let mut series = Panel::new(
        format!("{} — {target}", index.series[0]),
        time,
        target.as_str(),
    )
    .with(Series::line("actual", observed))
    .with(Series::line("forecast 1 step ahead", first));
    if h > 1 {
        let far: Vec<(f64, f64)> = mine
            .iter()
            .map(|&i| (at(i, h - 1), f64::from(rows[i][(h - 1) * k])))
            .collect();
        series = series.with(Series::line(format!("forecast {h} steps ahead"), far));
    }
    let per_step = |value: &dyn Fn(usize) -> f64| {
        (0..h)
            .map(|s| ((s + 1) as f64, value(s * k)))
            .collect::<Vec<_>>()
    };
    let mut errors = Panel::new(
        format!("MAE of {target} by steps ahead"),
        "steps ahead",
        format!("MAE ({target})"),
    )
    .with(Series::marked(
        "RNN",
        per_step(&|j| evaluation.outputs[j].mae),
    ));
    for (b, baseline) in evaluation.outputs[0].baselines.iter().enumerate() {
        errors = errors.with(Series::marked(
            baseline.name.clone(),
            per_step(&|j| evaluation.outputs[j].baselines[b].mae),
        ));
    }
    vec![series, errors]
}
