//! Prediction in real units from a trained model (in memory or loaded from a run directory).

use std::path::Path;

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use burn_rnn_data::{Normalizer, SequenceDataset};
use burn_rnn_model::SequenceModel;

use crate::artifacts::{DataSchema, RunDir};
use crate::error::{Result, TrainError};
use crate::task::Objective;

/// Sequences per forward pass when predicting many.
pub(crate) const CHUNK: usize = 256;

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

/// The answer of a classifier for one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPrediction {
    /// The most likely class.
    pub class: usize,
    /// Its name from the training data.
    pub name: String,
    /// Its softmax probability, in [0, 1].
    pub probability: f32,
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

    /// The statistics inputs are scaled with (and regression outputs mapped back with; their
    /// offsets are the training targets' means).
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
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
        self.predict(&data.sequences())
    }

    /// A regression model's predictions for every sample of `data` as rows of K values, in the
    /// order of [`dataset_targets`](crate::dataset_targets): one row per sample (many-to-one) or
    /// per valid step of every sample (many-to-many). A classifier is an error.
    pub fn predict_rows(&self, data: &SequenceDataset) -> Result<Vec<Vec<f32>>> {
        let mut rows = Vec::new();
        for prediction in self.predict_dataset(data)? {
            match prediction {
                Prediction::Values(values) => rows.push(values),
                Prediction::PerStep(steps) => rows.extend(steps),
                Prediction::Class { .. } => return Err(not_a(self.objective, "regression model")),
            }
        }
        Ok(rows)
    }

    /// A classifier's prediction for every sample of `data`. A regression model is an error.
    pub fn predict_classes(&self, data: &SequenceDataset) -> Result<Vec<ClassPrediction>> {
        self.predict_dataset(data)?
            .into_iter()
            .map(|prediction| match prediction {
                Prediction::Class {
                    class,
                    name,
                    probabilities,
                } => Ok(ClassPrediction {
                    class,
                    name,
                    probability: probabilities[class],
                }),
                _ => Err(not_a(self.objective, "classifier")),
            })
            .collect()
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

/// The error for asking a model of `objective` for what only a `wanted` gives.
fn not_a(objective: Objective, wanted: &str) -> TrainError {
    TrainError::InvalidInput(format!(
        "this model was trained for {objective:?}; the predictions asked for need a {wanted}"
    ))
}

#[cfg(test)]
mod tests {
    use burn_rnn_data::synth::HealthcareConfig;
    use burn_rnn_data::{NormalizationKind, Normalizer};
    use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};

    use super::*;

    /// An untrained predictor for `data` (its shapes, its normaliser).
    fn predictor(data: &SequenceDataset) -> Predictor {
        let device = Device::flex();
        let kind = data.target_kind();
        let model =
            SequenceModelConfig::new(RecurrentConfig::new(data.num_features(), 4), kind.outputs())
                .init(&device)
                .unwrap();
        let regression = Objective::for_target(kind).is_regression();
        let normalizer = Normalizer::fit(data, NormalizationKind::ZScore, regression).unwrap();
        Predictor::new(model, normalizer, DataSchema::of(data), &device).unwrap()
    }

    #[test]
    fn rows_and_classes_follow_the_targets() {
        let cohort = HealthcareConfig {
            patients: 5,
            hours: 6,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let per_step = cohort.forecasting_per_step_dataset().unwrap();
        let rows = predictor(&per_step).predict_rows(&per_step).unwrap();
        assert_eq!(rows.len(), crate::dataset_targets(&per_step).0.len());
        assert!(rows.iter().all(|r| r.len() == 3));

        let flags = cohort.deterioration_dataset().unwrap();
        let flagger = predictor(&flags);
        let classes = flagger.predict_classes(&flags).unwrap();
        assert_eq!(classes.len(), 5);
        for c in &classes {
            assert_eq!(c.name, flags.target_names()[c.class]);
            assert!((0.5..=1.0).contains(&c.probability), "{c:?}");
        }
        let err = flagger.predict_rows(&flags).unwrap_err().to_string();
        assert!(err.contains("regression model"), "{err}");
        let err = predictor(&per_step).predict_classes(&per_step).unwrap_err();
        assert!(err.to_string().contains("classifier"), "{err}");
    }
}
