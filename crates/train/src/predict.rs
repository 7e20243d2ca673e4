//! Prediction in real units from a trained model (in memory or loaded from a run directory),
//! and the reports that compare predictions with targets.

use std::path::Path;

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use burn_rnn_data::{Normalizer, SequenceDataset, Target, TargetKind};
use burn_rnn_model::SequenceModel;

use crate::artifacts::{DataSchema, RunDir};
use crate::error::{Result, TrainError};
use crate::task::Objective;

/// Sequences per forward pass when predicting many.
const CHUNK: usize = 256;

/// One prediction, in the data's real units.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// K values (many-to-one regression).
    Values(Vec<f32>),
    /// The most likely class, its name and every class's probability.
    Class {
        /// The class index.
        class: usize,
        /// The class name from the training data.
        name: String,
        /// Softmax probabilities, one per class.
        probabilities: Vec<f32>,
    },
    /// K values at every step of the sequence (many-to-many), `[steps][K]`.
    PerStep(Vec<Vec<f32>>),
}

/// A trained model with what it needs to take raw sequences and answer in real units.
///
/// Usually loaded from a run directory ([`Predictor::load`], see [`train`](crate::train)); here
/// built from parts, with an untrained model:
///
/// ```
/// use burn::tensor::Device;
/// use burn_rnn_data::synth::SineConfig;
/// use burn_rnn_data::{NormalizationKind, Normalizer};
/// use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};
/// use burn_rnn_train::{DataSchema, Prediction, Predictor};
///
/// let device = Device::flex();
/// let data = SineConfig::default().generate()?.next_value_dataset()?;
/// let model = SequenceModelConfig::new(RecurrentConfig::new(1, 8), 1).init(&device)?;
/// let normalizer = Normalizer::fit(&data, NormalizationKind::ZScore, true)?;
/// let predictor = Predictor::new(model, normalizer, DataSchema::of(&data), &device)?;
///
/// // Raw sequences, `[steps][D]`, of any lengths (they are padded and masked).
/// let predictions = predictor.predict(&[vec![vec![0.1], vec![0.5]], vec![vec![0.3]; 10]])?;
/// assert!(matches!(&predictions[1], Prediction::Values(v) if v.len() == 1));
/// // A step with the wrong number of features is an error naming the sequence.
/// assert!(predictor.predict(&[vec![vec![0.1, 0.2]]]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Predictor {
    model: SequenceModel,
    normalizer: Normalizer,
    schema: DataSchema,
    objective: Objective,
    device: Device,
}

impl Predictor {
    /// A predictor from parts (e.g. right after training). Tunes the process's allocator
    /// ([`crate::keep_freed_memory`]).
    pub fn new(
        model: SequenceModel,
        normalizer: Normalizer,
        schema: DataSchema,
        device: &Device,
    ) -> Result<Self> {
        crate::memory::keep_freed_memory();
        let objective = Objective::for_target(schema.target_kind);
        if model.d_output() != schema.target_kind.outputs() {
            return Err(TrainError::InvalidConfig(format!(
                "the model has {} outputs but the data schema needs {}",
                model.d_output(),
                schema.target_kind.outputs()
            )));
        }
        Ok(Self {
            model: model.valid(),
            normalizer,
            schema,
            objective,
            device: device.clone(),
        })
    }

    /// Loads a run directory written by [`train`](crate::train): config, schema, normalizer and
    /// weights. Missing files, a corrupt weight file or a config that does not match the
    /// weights give an error naming the file (and tensor).
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = RunDir::open(dir.as_ref())?;
        let schema = dir.read_schema()?;
        let normalizer = dir.read_normalizer()?;
        let model = dir.read_model(device)?;
        Self::new(model, normalizer, schema, device)
    }

    /// The data schema the model was trained with (feature and target names, T, D).
    pub fn schema(&self) -> &DataSchema {
        &self.schema
    }

    /// The model.
    pub fn model(&self) -> &SequenceModel {
        &self.model
    }

    /// Predicts for raw sequences, each `[steps][D]` in the training data's units; sequences
    /// may have different lengths (they are padded and masked).
    pub fn predict(&self, sequences: &[Vec<Vec<f32>>]) -> Result<Vec<Prediction>> {
        let mut predictions = Vec::with_capacity(sequences.len());
        for (chunk_index, chunk) in sequences.chunks(CHUNK).enumerate() {
            let (input, lengths) = self.input(chunk, chunk_index * CHUNK)?;
            predictions.extend(self.run(input, &lengths)?);
        }
        Ok(predictions)
    }

    /// Predicts for every sample of a dataset in raw units (targets are ignored).
    pub fn predict_dataset(&self, data: &SequenceDataset) -> Result<Vec<Prediction>> {
        let d = data.num_features();
        let sequences: Vec<Vec<Vec<f32>>> = data
            .samples()
            .iter()
            .map(|s| {
                s.values[..s.length * d]
                    .chunks(d)
                    .map(<[f32]>::to_vec)
                    .collect()
            })
            .collect();
        self.predict(&sequences)
    }

    /// For a many-to-one regression model: the prediction it would make after each step of
    /// `sequence` (`[steps][K]`, real units) — the head applied to every step's hidden state.
    pub fn predict_every_step(&self, sequence: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        if !self.objective.is_regression() {
            return Err(TrainError::InvalidConfig(
                "predictions after every step are real values; this is a classifier".into(),
            ));
        }
        let (input, lengths) = self.input(std::slice::from_ref(&sequence.to_vec()), 0)?;
        let output = self.model.forward_many_to_many(input, Some(&lengths))?;
        let k = self.model.d_output();
        let values = self.normalizer.denormalize_targets(&read_floats(output)?)?;
        Ok(values.chunks(k).map(<[f32]>::to_vec).collect())
    }

    /// Checks, normalises and pads sequences into `[B, T, D]` with their lengths.
    fn input(&self, sequences: &[Vec<Vec<f32>>], first: usize) -> Result<(Tensor<3>, Vec<usize>)> {
        let d = self.schema.num_features;
        let bad = |index: usize, message: String| {
            TrainError::InvalidConfig(format!("sequence {}: {message}", first + index))
        };
        let mut lengths = Vec::with_capacity(sequences.len());
        for (i, sequence) in sequences.iter().enumerate() {
            if sequence.is_empty() {
                return Err(bad(i, "has no steps".into()));
            }
            for (t, step) in sequence.iter().enumerate() {
                if step.len() != d {
                    return Err(bad(
                        i,
                        format!(
                            "step {t} has {} values; the model reads {d} features ({})",
                            step.len(),
                            self.schema.feature_names.join(", ")
                        ),
                    ));
                }
                if let Some(value) = step.iter().find(|v| !v.is_finite()) {
                    return Err(bad(
                        i,
                        format!("step {t} holds the non-finite value {value}"),
                    ));
                }
            }
            lengths.push(sequence.len());
        }
        if sequences.is_empty() {
            return Err(TrainError::InvalidConfig("no sequences to predict".into()));
        }
        let steps = lengths.iter().copied().max().unwrap_or(1);
        let mut values = vec![0.0f32; sequences.len() * steps * d];
        for (i, sequence) in sequences.iter().enumerate() {
            let raw: Vec<f32> = sequence.iter().flatten().copied().collect();
            let normalized = self.normalizer.normalize_features(&raw)?;
            let start = i * steps * d;
            values[start..start + normalized.len()].copy_from_slice(&normalized);
        }
        let input = Tensor::from_data(
            TensorData::new(values, [sequences.len(), steps, d]),
            &self.device,
        );
        Ok((input, lengths))
    }

    fn run(&self, input: Tensor<3>, lengths: &[usize]) -> Result<Vec<Prediction>> {
        let k = self.model.d_output();
        match self.objective {
            Objective::Regression => {
                let output = self.model.forward_many_to_one(input, Some(lengths))?;
                let values = self.normalizer.denormalize_targets(&read_floats(output)?)?;
                Ok(values
                    .chunks(k)
                    .map(|v| Prediction::Values(v.to_vec()))
                    .collect())
            }
            Objective::Classification => {
                let logits = self.model.forward_many_to_one(input, Some(lengths))?;
                let probabilities = read_floats(softmax(logits, 1))?;
                Ok(probabilities
                    .chunks(k)
                    .map(|p| {
                        let class = argmax(p);
                        Prediction::Class {
                            class,
                            name: self.schema.target_names[class].clone(),
                            probabilities: p.to_vec(),
                        }
                    })
                    .collect())
            }
            Objective::PerStepRegression => {
                let [_, steps, _] = input.dims();
                let output = self.model.forward_many_to_many(input, Some(lengths))?;
                let values = self.normalizer.denormalize_targets(&read_floats(output)?)?;
                Ok(values
                    .chunks(steps * k)
                    .zip(lengths)
                    .map(|(sequence, &len)| {
                        Prediction::PerStep(
                            sequence[..len * k].chunks(k).map(<[f32]>::to_vec).collect(),
                        )
                    })
                    .collect())
            }
        }
    }
}

/// Reads a tensor back to the host as `f32`s.
pub(crate) fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .try_into_data()
        .map_err(|e| TrainError::Training(format!("reading a result from the device: {e}")))?
        .try_into_vec_as::<f32>()
        .map_err(|e| TrainError::Training(format!("reading a result from the device: {e:?}")))
}

fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Mean absolute and root-mean-square error per output, in real units.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionReport {
    /// Output names.
    pub names: Vec<String>,
    /// MAE per output.
    pub mae: Vec<f64>,
    /// RMSE per output.
    pub rmse: Vec<f64>,
}

impl RegressionReport {
    /// Compares `predictions` with `targets`, both `[samples][K]`.
    pub fn compute(
        predictions: &[Vec<f32>],
        targets: &[Vec<f32>],
        names: &[String],
    ) -> Result<Self> {
        let k = names.len();
        if predictions.len() != targets.len() || predictions.is_empty() {
            return Err(TrainError::InvalidConfig(format!(
                "{} predictions for {} targets",
                predictions.len(),
                targets.len()
            )));
        }
        let mut abs = vec![0.0f64; k];
        let mut sq = vec![0.0f64; k];
        for (p, t) in predictions.iter().zip(targets) {
            if p.len() != k || t.len() != k {
                return Err(TrainError::InvalidConfig(format!(
                    "a prediction or target does not have {k} values"
                )));
            }
            for j in 0..k {
                let e = f64::from(p[j]) - f64::from(t[j]);
                abs[j] += e.abs();
                sq[j] += e * e;
            }
        }
        let n = predictions.len() as f64;
        Ok(Self {
            names: names.to_vec(),
            mae: abs.iter().map(|a| a / n).collect(),
            rmse: sq.iter().map(|s| (s / n).sqrt()).collect(),
        })
    }
}

/// Accuracy of class predictions, with the majority-class baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Accuracy of always answering the most frequent class of `reference_classes`.
    pub majority_accuracy: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationReport {
    /// Compares predicted with true classes; the majority class is taken from
    /// `reference_classes` (the training split) and scored on `truth`.
    pub fn compute(
        predicted: &[usize],
        truth: &[usize],
        reference_classes: &[usize],
        classes: usize,
    ) -> Result<Self> {
        if predicted.len() != truth.len() || truth.is_empty() {
            return Err(TrainError::InvalidConfig(format!(
                "{} predictions for {} targets",
                predicted.len(),
                truth.len()
            )));
        }
        let mut counts = vec![0usize; classes];
        for &c in reference_classes {
            if c < classes {
                counts[c] += 1;
            }
        }
        let majority = argmax(&counts.iter().map(|&c| c as f32).collect::<Vec<_>>());
        let mut confusion = vec![vec![0usize; classes]; classes];
        for (&p, &t) in predicted.iter().zip(truth) {
            if p >= classes || t >= classes {
                return Err(TrainError::InvalidConfig(format!(
                    "class {} is out of range for {classes} classes",
                    p.max(t)
                )));
            }
            confusion[t][p] += 1;
        }
        let n = truth.len() as f64;
        let correct = (0..classes).map(|c| confusion[c][c]).sum::<usize>() as f64;
        let majority_correct = truth.iter().filter(|&&t| t == majority).count() as f64;
        Ok(Self {
            accuracy: correct / n,
            majority_accuracy: majority_correct / n,
            confusion,
        })
    }
}

/// The targets of a many-to-one dataset: `[samples][K]` values or class indices.
pub fn dataset_targets(data: &SequenceDataset) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut values = Vec::new();
    let mut classes = Vec::new();
    for sample in data.samples() {
        match &sample.target {
            Target::Regression(v) => values.push(v.clone()),
            Target::Class(c) => classes.push(*c),
            Target::PerStep(v) => {
                if let TargetKind::PerStep { outputs } = data.target_kind() {
                    values.extend(
                        v[..sample.length * outputs]
                            .chunks(outputs)
                            .map(<[f32]>::to_vec),
                    );
                }
            }
        }
    }
    (values, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_report_per_output() {
        let report = RegressionReport::compute(
            &[vec![1.0, 2.0], vec![3.0, 4.0]],
            &[vec![2.0, 2.0], vec![3.0, 8.0]],
            &["a".into(), "b".into()],
        )
        .unwrap();
        assert_eq!(report.mae, vec![0.5, 2.0]);
        assert!((report.rmse[1] - 8f64.sqrt()).abs() < 1e-12);
        assert!(RegressionReport::compute(&[], &[], &[]).is_err());
    }

    #[test]
    fn classification_report_and_majority() {
        let report =
            ClassificationReport::compute(&[0, 1, 1, 0], &[0, 1, 0, 0], &[0, 0, 1], 2).unwrap();
        assert_eq!(report.accuracy, 0.75);
        assert_eq!(report.majority_accuracy, 0.75);
        assert_eq!(report.confusion, vec![vec![2, 1], vec![0, 1]]);
    }
}
