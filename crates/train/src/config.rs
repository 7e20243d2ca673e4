//! Every hyper-parameter of a training run, saved as JSON next to the model.

use burn::config::Config;
use burn_rnn_data::SequenceDataset;
use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};

use crate::error::{Result, TrainError};
use crate::task::Objective;

/// How the learning rate changes over the run.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum LrSchedule {
    /// The same learning rate throughout.
    Constant,
    /// Cosine annealing from the learning rate down to `learning_rate × final_fraction` at the
    /// last epoch.
    Cosine {
        /// The final learning rate as a fraction of the initial one.
        final_fraction: f64,
    },
}

/// What a gradient-clipping norm is measured over.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ClipScope {
    /// The norm of all parameters' gradients taken together, as PyTorch's
    /// `torch.nn.utils.clip_grad_norm_` and Keras's `global_clipnorm` measure it: when it exceeds
    /// the limit, every gradient is scaled by the same factor `limit / (norm + 1e-6)`, so the
    /// update keeps its direction.
    Global,
    /// Each parameter tensor's gradient on its own (burn-optim's `GradientClippingConfig::Norm`,
    /// Keras's `clipnorm`): tensors are scaled by different factors, which changes the
    /// direction of the update.
    PerTensor,
}

/// A training run: the model, the objective and the optimisation settings.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// The network to train.
    pub model: SequenceModelConfig,
    /// What it learns (follows from the data's targets).
    pub objective: Objective,
    /// Passes over the training split.
    #[config(default = 60)]
    pub num_epochs: usize,
    /// Sequences per batch.
    #[config(default = 16)]
    pub batch_size: usize,
    /// Adam's initial learning rate.
    #[config(default = 5e-3)]
    pub learning_rate: f64,
    /// Learning-rate schedule.
    #[config(default = "LrSchedule::Cosine { final_fraction: 0.05 }")]
    pub lr_schedule: LrSchedule,
    /// Clip gradients to this L2 norm (the exploding gradients of docs/design.md), measured as
    /// [`grad_clip_scope`](Self::grad_clip_scope) says. `None` turns clipping off.
    #[config(default = "Some(1.0)")]
    pub grad_clip_norm: Option<f32>,
    /// Whether `grad_clip_norm` bounds the global norm of all gradients (`None`, the default,
    /// or `Some(ClipScope::Global)`: as PyTorch and Keras's `global_clipnorm` do) or each
    /// parameter tensor's norm (`Some(ClipScope::PerTensor)`: burn-optim's own clipping). An
    /// `Option` so that configs saved before the setting existed still load.
    #[config(default = "None")]
    pub grad_clip_scope: Option<ClipScope>,
    /// Stop when the validation loss has not improved for this many epochs; `None` never stops early.
    #[config(default = "Some(15)")]
    pub early_stopping_patience: Option<usize>,
    /// Seed for weight initialisation, shuffling and dropout (CPU runs are repeatable).
    #[config(default = 42)]
    pub seed: u64,
    /// Z-score the input features with training-split statistics. Turn off for inputs that are
    /// already on a sensible scale, such as one-hot tokens: z-scoring a rare word's column
    /// divides it by `√(p(1 − p))`, blowing a word seen once in a thousand steps up to ≈ 30.
    /// Regression targets are still normalised.
    #[config(default = true)]
    pub normalize_inputs: bool,
}

impl TrainingConfig {
    /// A run that fits `data`: `recurrent` under a head with as many outputs as the data's
    /// targets need (K values, or one logit per class), trained for the objective they call for.
    /// `recurrent` reads the data's features, `RecurrentConfig::new(data.num_features(), H)`;
    /// a mismatch is reported by [`train`](crate::train). Other settings are the defaults, except
    /// that data laid out in streams (stateful training) sets the batch size to their count.
    ///
    /// ```
    /// # use burn_rnn_data::synth::HealthcareConfig;
    /// # use burn_rnn_model::RecurrentConfig;
    /// # use burn_rnn_train::{Objective, TrainingConfig};
    /// let cohort = HealthcareConfig { patients: 10, ..Default::default() }.generate()?;
    /// let data = cohort.deterioration_dataset()?;
    /// let config = TrainingConfig::for_dataset(&data, RecurrentConfig::new(data.num_features(), 32));
    /// assert_eq!((config.model.d_output, config.objective), (2, Objective::Classification));
    /// # Ok::<(), burn_rnn_data::DataError>(())
    /// ```
    pub fn for_dataset(data: &SequenceDataset, recurrent: RecurrentConfig) -> Self {
        let kind = data.target_kind();
        let config = Self::new(
            SequenceModelConfig::new(recurrent, kind.outputs()),
            Objective::for_target(kind),
        );
        match data.streams() {
            // Stateful data: one window of each stream per batch.
            Some(streams) => config.with_batch_size(streams.count),
            None => config,
        }
    }

    /// What `grad_clip_norm` is measured over ([`ClipScope::Global`] unless set).
    pub fn clip_scope(&self) -> ClipScope {
        self.grad_clip_scope.unwrap_or(ClipScope::Global)
    }

    /// Checks every value, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(TrainError::InvalidConfig(msg));
        self.model.recurrent.validate()?;
        if self.model.d_output == 0 {
            return bad("the model needs at least one output".into());
        }
        if self.num_epochs == 0 {
            return bad("num_epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        // burn's schedulers accept rates in (0, 1].
        if !(self.learning_rate.is_finite()
            && self.learning_rate > 0.0
            && self.learning_rate <= 1.0)
        {
            return bad(format!(
                "learning_rate must be in (0, 1], got {}",
                self.learning_rate
            ));
        }
        if let LrSchedule::Cosine { final_fraction } = self.lr_schedule
            && !(0.0..=1.0).contains(&final_fraction)
        {
            return bad(format!(
                "the cosine schedule's final_fraction must be in [0, 1], got {final_fraction}"
            ));
        }
        if let Some(norm) = self.grad_clip_norm
            && !(norm.is_finite() && norm > 0.0)
        {
            return bad(format!("grad_clip_norm must be positive, got {norm}"));
        }
        if self.early_stopping_patience == Some(0) {
            return bad("early_stopping_patience must be at least 1 (or none)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrainingConfig {
        TrainingConfig::new(
            SequenceModelConfig::new(RecurrentConfig::new(3, 8), 3),
            Objective::Regression,
        )
    }

    #[test]
    fn defaults_are_valid_and_round_trip_through_json() {
        let config = config();
        config.validate().unwrap();
        let json = serde_json::to_string(&config).unwrap();
        let back: TrainingConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.learning_rate, config.learning_rate);
        assert_eq!(back.lr_schedule, config.lr_schedule);
        assert_eq!(back.objective, Objective::Regression);
        assert!(back.normalize_inputs);
    }

    #[test]
    fn a_config_for_a_dataset_takes_its_outputs_and_objective() {
        use burn_rnn_data::{SequenceSample, Target, TargetKind};
        let sample = SequenceSample {
            id: "a".into(),
            values: vec![0.0; 4],
            length: 2,
            target: Target::PerStep(vec![0.0; 6]),
        };
        let data =
            SequenceDataset::new(vec![sample], 2, 2, TargetKind::PerStep { outputs: 3 }).unwrap();
        let config = TrainingConfig::for_dataset(&data, RecurrentConfig::new(2, 8));
        assert_eq!(config.model.d_output, 3);
        assert_eq!(config.objective, Objective::PerStepRegression);
        assert_eq!(config.model.recurrent.d_input, 2);
        config.validate().unwrap();
    }

    #[test]
    fn configs_saved_before_the_clip_scope_existed_still_load() {
        let mut json = serde_json::to_value(config()).unwrap();
        json.as_object_mut().unwrap().remove("grad_clip_scope");
        let back: TrainingConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.clip_scope(), ClipScope::Global);
        let per_tensor = config().with_grad_clip_scope(Some(ClipScope::PerTensor));
        let json = serde_json::to_string(&per_tensor).unwrap();
        let back: TrainingConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.clip_scope(), ClipScope::PerTensor);
    }

    #[test]
    fn input_normalisation_can_be_turned_off() {
        let config = config().with_normalize_inputs(false);
        let json = serde_json::to_string(&config).unwrap();
        let back: TrainingConfig = serde_json::from_str(&json).unwrap();
        assert!(!back.normalize_inputs);
    }

    #[test]
    fn rejects_bad_values_by_name() {
        for (config, name) in [
            (config().with_num_epochs(0), "num_epochs"),
            (config().with_batch_size(0), "batch_size"),
            (config().with_learning_rate(f64::NAN), "learning_rate"),
            (config().with_grad_clip_norm(Some(-1.0)), "grad_clip_norm"),
            (
                config().with_early_stopping_patience(Some(0)),
                "early_stopping_patience",
            ),
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
