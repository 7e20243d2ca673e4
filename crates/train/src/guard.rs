//! What the training loop's pieces share while a run goes on: which epoch and batch is running
//! (for error messages), the global-norm clipping of each step, and the first loss or gradient
//! that stopped being finite, which stops the run at that batch.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::train::Interrupter;

use crate::clipping::{GradientNorms, clip_global_norm, scale_gradients};
use crate::config::ClipScope;

/// A loss or gradient that stopped being finite, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Divergence {
    /// The epoch (1-based).
    pub epoch: usize,
    /// The batch of the epoch's split (1-based).
    pub batch: usize,
    /// Which quantity.
    pub what: String,
    /// Its value.
    pub value: f64,
}

/// The split a batch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Training batches (with a backward pass).
    Train,
    /// Validation batches.
    Valid,
}

/// Shared by the loaders (which start each epoch) and the training steps (which check each
/// batch); clones share one state.
#[derive(Clone)]
pub struct StepGuard {
    state: Arc<GuardState>,
    clip: Option<f32>,
    /// What each step's gradients are multiplied by after clipping: `1 / devices` when several
    /// devices train together, since burn's multi-device strategy sums their gradients.
    share: f32,
}

struct GuardState {
    epoch: AtomicUsize,
    batch: [AtomicUsize; 2],
    divergence: Mutex<Option<Divergence>>,
    interrupter: Interrupter,
}

impl fmt::Debug for StepGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepGuard")
            .field("epoch", &self.state.epoch.load(Ordering::Relaxed))
            .field("clip", &self.clip)
            .finish()
    }
}

impl StepGuard {
    /// A guard that stops the run through `interrupter`; `clip` is the global-norm limit when
    /// the run clips by the global norm.
    pub(crate) fn new(interrupter: Interrupter, clip: Option<(f32, ClipScope)>) -> Self {
        Self {
            state: Arc::new(GuardState {
                epoch: AtomicUsize::new(0),
                batch: [AtomicUsize::new(0), AtomicUsize::new(0)],
                divergence: Mutex::new(None),
                interrupter,
            }),
            clip: clip.and_then(|(norm, scope)| (scope == ClipScope::Global).then_some(norm)),
            share: 1.0,
        }
    }

    /// The same guard for a step that is one of `devices` shares of a combined batch: its
    /// gradients are divided by `devices`, so that the sum burn's multi-device strategy hands
    /// the optimiser is the mean over the combined batch (as one device with it would compute).
    pub(crate) fn with_devices(mut self, devices: usize) -> Self {
        self.share = 1.0 / devices.max(1) as f32;
        self
    }

    /// A pass over `phase`'s split of `epoch` begins.
    pub(crate) fn start_epoch(&self, phase: Phase, epoch: usize) {
        self.state.epoch.store(epoch, Ordering::SeqCst);
        self.state.batch[phase as usize].store(0, Ordering::SeqCst);
    }

    /// Counts a batch of `phase`; returns its number in the epoch (1-based).
    fn next_batch(&self, phase: Phase) -> usize {
        self.state.batch[phase as usize].fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The first divergence seen, if any.
    pub(crate) fn divergence(&self) -> Option<Divergence> {
        self.state
            .divergence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records a divergence (the first one only) and asks the loop to stop.
    fn diverged(&self, batch: usize, what: String, value: f64) {
        let mut slot = self
            .state
            .divergence
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(Divergence {
                epoch: self.state.epoch.load(Ordering::SeqCst),
                batch,
                what: what.clone(),
                value,
            });
            self.state
                .interrupter
                .stop(Some(&format!("the {what} became {value}")));
        }
    }

    /// Checks a validation batch's loss.
    pub(crate) fn check_valid_loss(&self, loss: &Tensor<1>) {
        let batch = self.next_batch(Phase::Valid);
        let value = scalar(loss);
        if !value.is_finite() {
            self.diverged(batch, "validation loss".into(), value);
        }
    }

    /// One training step's gradients: `None` when the loss or a gradient is not finite (the
    /// run is stopping; the step must change nothing), else the gradients of `module`'s
    /// parameters, clipped to the global norm when the run does that.
    pub(crate) fn train_gradients<M: Module>(
        &self,
        module: &M,
        loss: &Tensor<1>,
    ) -> Option<GradientsParams> {
        burn_rnn_io::crash::point(burn_rnn_io::crash::CrashSite::Step);
        let batch = self.next_batch(Phase::Train);
        let value = scalar(loss);
        if !value.is_finite() {
            self.diverged(batch, "training loss".into(), value);
            return None;
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), module);
        let norms = GradientNorms::of(module, &grads);
        if let Some((name, norm)) = norms.first_non_finite() {
            self.diverged(
                batch,
                format!("gradient norm of `{name}`"),
                f64::from(*norm),
            );
            return None;
        }
        if !norms.global.is_finite() {
            // Every tensor's norm is finite but their sum of squares overflows f32.
            self.diverged(
                batch,
                "global gradient norm".into(),
                f64::from(norms.global),
            );
            return None;
        }
        if let Some(max_norm) = self.clip {
            clip_global_norm(module, &mut grads, &norms, max_norm);
        }
        if self.share != 1.0 {
            scale_gradients(module, &mut grads, self.share);
        }
        Some(grads)
    }
}

/// The value of a one-element tensor.
fn scalar(tensor: &Tensor<1>) -> f64 {
    tensor
        .clone()
        .into_data()
        .try_into_vec_as::<f64>()
        .ok()
        .and_then(|values| values.first().copied())
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, TensorData};

    use super::*;

    /// The gradient of `sum(model(x))` for one fixed input, as a flat list per parameter.
    fn gradients(guard: &StepGuard) -> Vec<Vec<f32>> {
        let device = Device::flex().autodiff();
        device.seed(3);
        let model: Linear = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5], [1, 3]), &device);
        let loss = model.forward(x).sum();
        let grads = guard.train_gradients(&model, &loss).expect("finite");
        let mut out = Vec::new();
        let weight = grads.get::<2>(model.weight.id).unwrap();
        out.push(weight.into_data().try_to_vec::<f32>().unwrap());
        let bias = grads.get::<1>(model.bias.as_ref().unwrap().id).unwrap();
        out.push(bias.into_data().try_to_vec::<f32>().unwrap());
        out
    }

    #[test]
    fn a_share_of_several_devices_divides_its_gradient_by_their_count() {
        let whole = gradients(&StepGuard::new(Interrupter::new(), None));
        let share = gradients(&StepGuard::new(Interrupter::new(), None).with_devices(2));
        assert!(whole.iter().flatten().any(|g| g.abs() > 0.1), "{whole:?}");
        for (w, s) in whole.iter().flatten().zip(share.iter().flatten()) {
            assert_eq!(*s, w / 2.0);
        }
    }
}
