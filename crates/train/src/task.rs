//! The training objectives: a [`SequenceModel`] wrapped with its loss, as burn-train's Learner
//! wants it (`TrainStep` for training, `InferenceStep` for validation).

use std::sync::{Arc, Mutex};

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::tensor::{Device, ExecutionError, Int, Tensor, TensorData};
use burn::train::metric::{AccuracyInput, Adaptor, LossInput};
use burn::train::{
    ClassificationOutput, InferenceStep, ItemLazy, RegressionOutput, TrainOutput, TrainStep,
};
use burn_rnn_data::{BatchTargets, SequenceBatch, TargetKind};
use burn_rnn_model::{RecurrentState, SequenceModel};

use crate::guard::StepGuard;

/// What the network learns to predict; follows from the dataset's target kind.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Objective {
    /// K real values per sequence from its last valid step (MSE loss).
    Regression,
    /// A class per sequence from its last valid step (cross-entropy loss on the logits).
    Classification,
    /// K real values at every valid step (MSE over valid steps only).
    PerStepRegression,
}

impl Objective {
    /// The objective that fits a dataset's targets.
    pub fn for_target(kind: TargetKind) -> Self {
        match kind {
            TargetKind::Regression { .. } => Objective::Regression,
            TargetKind::Classification { .. } => Objective::Classification,
            TargetKind::PerStep { .. } => Objective::PerStepRegression,
        }
    }

    /// Whether predictions are real values (as opposed to class logits).
    pub fn is_regression(self) -> bool {
        !matches!(self, Objective::Classification)
    }
}

/// A sequence model together with its objective: the module the Learner trains.
#[derive(Module, Debug)]
pub struct Trainable {
    /// The network.
    pub model: SequenceModel,
    /// What it is trained for.
    #[module(skip)]
    pub objective: Objective,
    /// Inside [`train`](crate::train): stops the run at a non-finite loss or gradient and clips
    /// by the global norm. Without it, a step is a plain backward pass.
    #[module(skip)]
    pub(crate) guard: Option<StepGuard>,
    /// The final states of each phase's last stateful batch (see [`SequenceBatch::carry`]).
    #[module(skip)]
    carried: CarriedStates,
}

/// Where a batch's carried state is kept: training and validation each carry their own, and
/// a direct call to [`Trainable::forward_batch`] a third.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Train = 0,
    Valid = 1,
    Direct = 2,
}

/// The final states of the last stateful batch per [`Slot`], detached from the graph: the
/// next batch of the same streams starts from them (truncated backpropagation through time).
/// Clones share them, as the Learner's copy of the model for validation must.
#[derive(Debug, Clone, Default)]
struct CarriedStates(Arc<Mutex<[Option<RecurrentState>; 3]>>);

impl CarriedStates {
    /// The state a batch with these `carry` flags starts from: the stored one with the rows
    /// that start a new series zeroed; `None` (zeros) when nothing is stored for this batch size.
    fn start(&self, slot: Slot, carry: &[bool], device: &Device) -> Option<RecurrentState> {
        let stored = self.0.lock().expect("a carried state")[slot as usize].clone()?;
        let [_, batch, _] = stored.hidden.dims();
        if batch != carry.len() || !carry.iter().any(|&c| c) {
            return None;
        }
        let flags: Vec<f32> = carry.iter().map(|&c| if c { 1.0 } else { 0.0 }).collect();
        let keep = Tensor::<3>::from_data(TensorData::new(flags, [1, batch, 1]), device);
        Some(RecurrentState {
            hidden: stored.hidden * keep.clone(),
            cell: stored.cell.map(|c| c * keep),
        })
    }

    /// Keeps `state`, cut from the graph, for the next batch of `slot`.
    fn keep(&self, slot: Slot, state: RecurrentState) {
        let detached = RecurrentState {
            hidden: state.hidden.detach(),
            cell: state.cell.map(Tensor::detach),
        };
        self.0.lock().expect("a carried state")[slot as usize] = Some(detached);
    }
}

/// The prediction, target and loss of one batch, adapted to burn-train's metrics.
pub enum StepOutput {
    /// Regression (many-to-one, or the valid steps of many-to-many flattened to rows).
    Regression(RegressionOutput),
    /// Classification.
    Classification(ClassificationOutput),
}

impl Trainable {
    /// `model` trained for `objective`.
    pub fn new(model: SequenceModel, objective: Objective) -> Self {
        Self {
            model,
            objective,
            guard: None,
            carried: CarriedStates::default(),
        }
    }

    /// The same, with the checks and clipping of a run of [`train`](crate::train).
    pub(crate) fn with_guard(mut self, guard: StepGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Forward pass and loss for one batch. The model's shape checks were done when the data
    /// and the model were matched (see `learner::check_fit`), so a failure here is a bug. A
    /// stateful batch (`carry` set) starts from the final state of the previous one passed here.
    pub fn forward_batch(&self, batch: SequenceBatch) -> StepOutput {
        self.forward_in(Slot::Direct, batch)
    }

    fn forward_in(&self, slot: Slot, batch: SequenceBatch) -> StepOutput {
        const CHECKED: &str = "batch shapes were checked against the model before training";
        let lengths = batch.lengths.clone();
        let device = batch.inputs.device();
        let start = batch
            .carry
            .as_ref()
            .and_then(|carry| self.carried.start(slot, carry, &device));
        let (output, state) = match (self.objective, batch.targets) {
            (Objective::Regression, BatchTargets::Regression(targets)) => {
                let (output, state) = self
                    .model
                    .forward_many_to_one_from(batch.inputs, start, Some(&lengths))
                    .expect(CHECKED);
                let loss = MseLoss::new().forward(output.clone(), targets.clone(), Reduction::Mean);
                let output = RegressionOutput::new(loss, output, targets);
                (StepOutput::Regression(output), state)
            }
            (Objective::Classification, BatchTargets::Classes(targets)) => {
                let (output, state) = self
                    .model
                    .forward_many_to_one_from(batch.inputs, start, Some(&lengths))
                    .expect(CHECKED);
                let loss = CrossEntropyLossConfig::new()
                    .init(&output.device())
                    .forward(output.clone(), targets.clone());
                let output = ClassificationOutput::new(loss, output, targets);
                (StepOutput::Classification(output), state)
            }
            (Objective::PerStepRegression, BatchTargets::PerStep(targets)) => {
                let (output, state) = self
                    .model
                    .forward_many_to_many_from(batch.inputs, start, Some(&lengths))
                    .expect(CHECKED);
                let (loss, output, targets) = masked_mse(output, targets, &lengths);
                let output = RegressionOutput::new(loss, output, targets);
                (StepOutput::Regression(output), state)
            }
            (objective, _) => panic!(
                "a batch with targets of another kind reached a {objective:?} model; \
                 build the Trainable with Objective::for_target(dataset.target_kind())"
            ),
        };
        if batch.carry.is_some() {
            self.carried.keep(slot, state);
        }
        output
    }
}

/// Mean squared error over the valid steps only; returns the loss and the valid rows
/// (`[valid steps, K]`) of output and target, for metrics.
fn masked_mse(
    output: Tensor<3>,
    targets: Tensor<3>,
    lengths: &[usize],
) -> (Tensor<1>, Tensor<2>, Tensor<2>) {
    let [batch, steps, outputs] = output.dims();
    let device = output.device();
    let rows: Vec<i64> = lengths
        .iter()
        .enumerate()
        .flat_map(|(b, &len)| (0..len).map(move |t| (b * steps + t) as i64))
        .collect();
    let count = rows.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [count]), &device);
    let flat_output = output
        .reshape([batch * steps, outputs])
        .select(0, index.clone());
    let flat_targets = targets.reshape([batch * steps, outputs]).select(0, index);
    let loss = MseLoss::new().forward(flat_output.clone(), flat_targets.clone(), Reduction::Mean);
    (loss, flat_output, flat_targets)
}

impl TrainStep for Trainable {
    type Input = SequenceBatch;
    type Output = StepOutput;

    fn step(&self, batch: SequenceBatch) -> TrainOutput<StepOutput> {
        let output = self.forward_in(Slot::Train, batch);
        let Some(guard) = &self.guard else {
            let grads = output.loss().backward();
            return TrainOutput::new(self, grads, output);
        };
        // No gradients when the step diverged: the optimiser then changes nothing, and the run
        // stops before the epoch is checkpointed.
        let grads = guard
            .train_gradients(self, &output.loss())
            .unwrap_or_default();
        TrainOutput {
            grads,
            item: output,
        }
    }
}

impl InferenceStep for Trainable {
    type Input = SequenceBatch;
    type Output = StepOutput;

    fn step(&self, batch: SequenceBatch) -> StepOutput {
        let output = self.forward_in(Slot::Valid, batch);
        if let Some(guard) = &self.guard {
            guard.check_valid_loss(&output.loss());
        }
        output
    }
}

impl StepOutput {
    /// The batch's mean loss, `[1]`.
    pub fn loss(&self) -> Tensor<1> {
        match self {
            StepOutput::Regression(out) => out.loss.clone(),
            StepOutput::Classification(out) => out.loss.clone(),
        }
    }
}

impl ItemLazy for StepOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(match self {
            StepOutput::Regression(out) => StepOutput::Regression(out.sync()?),
            StepOutput::Classification(out) => StepOutput::Classification(out.sync()?),
        })
    }
}

impl Adaptor<LossInput> for StepOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss())
    }
}

impl Adaptor<AccuracyInput> for StepOutput {
    fn adapt(&self) -> AccuracyInput {
        match self {
            StepOutput::Classification(out) => out.adapt(),
            // The accuracy metric is registered for classification only (learner.rs).
            StepOutput::Regression(_) => {
                unreachable!("the accuracy metric is only registered for classification")
            }
        }
    }
}
