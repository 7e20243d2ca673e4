//! Throughput of recurrent models: a training step (forward, backward, Adam update) and an
//! inference pass on random data of a given shape, timed as the median of repeats after warm-up,
//! in sequences per second and GFLOP/s (`cargo run --release --example bench`, BENCHMARKS.md).

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Rnn, RnnConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use burn_rnn_model::{CellKind, SequenceModel};
use serde::Serialize;

use crate::error::{Result, TrainError};

/// The size of a benchmark workload: batch B, steps T, features D, hidden units H, layers L.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadShape {
    /// B, sequences per batch.
    pub batch: usize,
    /// T, steps per sequence.
    pub steps: usize,
    /// D, input features per step.
    pub features: usize,
    /// H, hidden units per layer.
    pub hidden: usize,
    /// L, stacked layers.
    pub layers: usize,
}

impl WorkloadShape {
    /// Floating-point operations of one forward pass over a batch, counting the matrix products
    /// (which dominate): `2·B·(D_in + H)·G·H` per step and layer, for a cell of `gates` gates
    /// (1 Elman, 4 LSTM, 3 GRU). A training step costs about three times this.
    pub fn forward_flops(&self, gates: usize) -> f64 {
        self.flops(gates, true)
    }

    /// [`forward_flops`](Self::forward_flops) for `cell`: without the `H` of `W_hh` for the
    /// cells whose gates read only the input (minGRU, minLSTM), whose products are `x·W_ih`.
    pub fn forward_flops_of(&self, cell: CellKind) -> f64 {
        self.flops(cell.gates(), cell.has_hidden_weight())
    }

    fn flops(&self, gates: usize, recurrent: bool) -> f64 {
        (0..self.layers)
            .map(|layer| {
                let d_in = if layer == 0 {
                    self.features
                } else {
                    self.hidden
                };
                let reads = d_in + if recurrent { self.hidden } else { 0 };
                let per_step = 2.0 * (self.batch * reads * gates * self.hidden) as f64;
                per_step * self.steps as f64
            })
            .sum()
    }
}

/// A model whose throughput can be measured: a many-to-one forward pass, `[B, T, D]` →
/// `[B, 1]`.
pub trait Regressor: Module {
    /// The prediction for a batch; errors when the input does not fit the model.
    fn predict(&self, x: Tensor<3>) -> Result<Tensor<2>>;
}

impl Regressor for SequenceModel {
    fn predict(&self, x: Tensor<3>) -> Result<Tensor<2>> {
        Ok(self.forward_many_to_one(x, None)?)
    }
}

/// Seconds per training step and per inference pass (medians).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Throughput {
    /// One training step: forward, MSE loss, backward and an Adam update.
    pub train_seconds: f64,
    /// One inference pass, without autodiff, results read back to the host.
    pub inference_seconds: f64,
}

impl Throughput {
    /// Training and inference GFLOP/s for a model of `forward_flops` per forward pass
    /// ([`WorkloadShape::forward_flops`]); a training step counts as three forward passes (the
    /// forward products, and two products backward).
    pub fn gflops(&self, forward_flops: f64) -> (f64, f64) {
        (
            3.0 * forward_flops / self.train_seconds / 1e9,
            forward_flops / self.inference_seconds / 1e9,
        )
    }

    /// Training and inference throughput in sequences per second for a batch of `batch`.
    pub fn sequences_per_second(&self, batch: usize) -> (f64, f64) {
        (
            batch as f64 / self.train_seconds,
            batch as f64 / self.inference_seconds,
        )
    }
}

/// Times training steps and inference passes of `model` (on an autodiff `device`) on random
/// normal inputs and targets of `shape` (D = `shape.features`, one output): `warmup` untimed
/// runs, then the median of `repeats` timed ones each. Errors when `repeats` is 0 or the model
/// rejects the input.
pub fn measure_throughput<M: Regressor>(
    model: M,
    shape: WorkloadShape,
    warmup: usize,
    repeats: usize,
    device: &Device,
) -> Result<Throughput> {
    let train = time_runs(
        warmup,
        repeats,
        device,
        training_steps(model.clone(), shape, device),
    )?;
    let inference = time_runs(
        warmup,
        repeats,
        device,
        inference_passes(model, shape, device),
    )?;
    Ok(Throughput {
        train_seconds: train[train.len() / 2],
        inference_seconds: inference[inference.len() / 2],
    })
}

/// Random normal inputs `[B, T, D]` and targets `[B, 1]` of `shape` on `device`.
fn random_batch(shape: WorkloadShape, device: &Device) -> (Tensor<3>, Tensor<2>) {
    let x = Tensor::<3>::random(
        [shape.batch, shape.steps, shape.features],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let y = Tensor::<2>::random([shape.batch, 1], Distribution::Normal(0.0, 1.0), device);
    (x, y)
}

/// A training step per call (forward, MSE loss, backward, Adam update) of `model` on a random
/// batch of `shape`, on an autodiff `device`.
pub fn training_steps<M: Regressor>(
    model: M,
    shape: WorkloadShape,
    device: &Device,
) -> impl FnMut() -> Result<()> {
    let (x, y) = random_batch(shape, device);
    let mut optimizer = AdamConfig::new().init();
    let mut trained = model;
    move || {
        let loss = MseLoss::new().forward(trained.predict(x.clone())?, y.clone(), Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &trained);
        trained = optimizer.step(1e-3, trained.clone(), grads);
        Ok(())
    }
}

/// An inference pass per call (no autodiff, the prediction read back to the host) of `model`
/// on a random batch of `shape`.
pub fn inference_passes<M: Regressor>(
    model: M,
    shape: WorkloadShape,
    device: &Device,
) -> impl FnMut() -> Result<()> {
    let inference_model = model.valid();
    let x = random_batch(shape, device).0.inner();
    move || {
        // A device that cannot run the pass (out of memory, a driver's buffer limit) is an
        // error naming the device's reason, not a panic.
        let prediction = inference_model.predict(x.clone())?;
        prediction.try_into_data().map_err(|e| {
            TrainError::Training(format!("the device could not run the inference pass: {e}"))
        })?;
        Ok(())
    }
}

/// CubeCL's log of the kernels it executes on GPU backends, to count them. CubeCL reads
/// `cubecl.toml` from the working directory when the first GPU device opens: [`KernelLog::start`]
/// writes one asking for the log into a fresh temporary directory and moves the process there,
/// so it must run before any GPU device opens (and relative paths change meaning after it).
pub struct KernelLog {
    dir: PathBuf,
    file: PathBuf,
}

impl KernelLog {
    /// Starts the log (see the type's docs).
    pub fn start() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("burn-rnn-kernels-{}", std::process::id()));
        let io = |what: &str, e: std::io::Error| TrainError::Io {
            path: dir.clone(),
            message: format!("{what}: {e}"),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("creating the directory", e))?;
        let file = dir.join("kernels.log");
        let config = format!(
            "[profiling.logger]\nlevel = \"minimal\"\nfile = {:?}\nappend = false\n",
            file.display().to_string()
        );
        std::fs::write(dir.join("cubecl.toml"), config)
            .map_err(|e| io("writing cubecl.toml", e))?;
        std::env::set_current_dir(&dir).map_err(|e| io("moving there", e))?;
        Ok(Self { dir, file })
    }

    /// Kernels launched by one call of `run`, after one call that compiles them.
    pub fn count(&self, device: &Device, mut run: impl FnMut() -> Result<()>) -> Result<usize> {
        let executed = || {
            device.sync().ok();
            // CubeCL writes the log from a background task.
            std::thread::sleep(std::time::Duration::from_millis(300));
            let log = std::fs::read_to_string(&self.file).unwrap_or_default();
            log.lines().filter(|l| l.starts_with("Executing")).count()
        };
        run()?;
        let before = executed();
        run()?;
        Ok(executed() - before)
    }

    /// Kernels one training step and one inference pass of `model` launch on `device` (see
    /// [`training_steps`], [`inference_passes`]).
    pub fn count_steps<M: Regressor>(
        &self,
        model: M,
        shape: WorkloadShape,
        device: &Device,
    ) -> Result<(usize, usize)> {
        let train = self.count(device, training_steps(model.clone(), shape, device))?;
        let inference = self.count(device, inference_passes(model, shape, device))?;
        Ok((train, inference))
    }
}

impl Drop for KernelLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A many-to-one regressor made of Burn's own `nn::Rnn` layers (Elman, tanh) and a linear
/// head, to compare with on the same workloads.
#[derive(Module, Debug)]
pub struct BurnRnnStack {
    layers: Vec<Rnn>,
    head: Linear,
}

impl BurnRnnStack {
    /// `shape.layers` layers of `shape.hidden` units over `shape.features` inputs, one output.
    pub fn new(shape: WorkloadShape, device: &Device) -> Self {
        let layers = (0..shape.layers)
            .map(|layer| {
                let d_in = if layer == 0 {
                    shape.features
                } else {
                    shape.hidden
                };
                RnnConfig::new(d_in, shape.hidden, true).init(device)
            })
            .collect();
        Self {
            layers,
            head: LinearConfig::new(shape.hidden, 1).init(device),
        }
    }
}

impl Regressor for BurnRnnStack {
    fn predict(&self, mut x: Tensor<3>) -> Result<Tensor<2>> {
        for layer in &self.layers {
            x = layer.forward(x, None).0;
        }
        let [batch, steps, hidden] = x.dims();
        let last = x.slice([0..batch, steps - 1..steps, 0..hidden]);
        Ok(self.head.forward(last.reshape([batch, hidden])))
    }
}

/// Runs `run` `warmup` times untimed, then `repeats` times timed, waiting for `device` to finish
/// after each; returns the timed runs' seconds in increasing order (the first is the fastest,
/// the middle one the median). Errors when `repeats` is 0 or a run fails.
pub fn time_runs(
    warmup: usize,
    repeats: usize,
    device: &Device,
    mut run: impl FnMut() -> Result<()>,
) -> Result<Vec<f64>> {
    if repeats == 0 {
        return Err(TrainError::InvalidInput(
            "at least one timed repeat is needed".into(),
        ));
    }
    for _ in 0..warmup {
        run()?;
    }
    // A device that cannot sync (none of ours) is timed without waiting.
    device.sync().ok();
    let mut seconds = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        run()?;
        device.sync().ok();
        seconds.push(start.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};

    use super::*;

    #[test]
    fn flops_count_every_layer_and_gate() {
        let shape = WorkloadShape {
            batch: 2,
            steps: 3,
            features: 4,
            hidden: 5,
            layers: 2,
        };
        // Layer 1: 2·2·(4 + 5)·G·5 per step, layer 2: 2·2·(5 + 5)·G·5, times 3 steps.
        assert_eq!(shape.forward_flops(1), 3.0 * (180.0 + 200.0));
        assert_eq!(shape.forward_flops(4), 4.0 * shape.forward_flops(1));
    }

    #[test]
    fn times_are_sorted_and_runs_counted() {
        let mut runs = 0;
        let seconds = time_runs(2, 3, &Device::flex(), || {
            runs += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((runs, seconds.len()), (5, 3));
        assert!(seconds.windows(2).all(|w| w[0] <= w[1]));
        assert!(time_runs(0, 0, &Device::flex(), || Ok(())).is_err());
        let failing = time_runs(0, 1, &Device::flex(), || {
            Err(TrainError::InvalidInput("no".into()))
        });
        assert!(failing.is_err());
    }

    #[test]
    fn measures_a_small_model() {
        let shape = WorkloadShape {
            batch: 4,
            steps: 5,
            features: 3,
            hidden: 8,
            layers: 1,
        };
        let device = Device::flex().autodiff();
        let model = SequenceModelConfig::new(RecurrentConfig::new(3, 8), 1)
            .init(&device)
            .unwrap();
        let throughput = measure_throughput(model, shape, 1, 3, &device).unwrap();
        let (train, inference) = throughput.sequences_per_second(shape.batch);
        assert!(train > 0.0 && inference > 0.0 && train.is_finite() && inference.is_finite());
        let seconds = Throughput {
            train_seconds: 3.0,
            inference_seconds: 0.5,
        };
        assert_eq!(seconds.gflops(1e9), (1.0, 2.0));
        assert_eq!(seconds.sequences_per_second(6), (2.0, 12.0));
        let wrong = WorkloadShape {
            features: 2,
            ..shape
        };
        let model = SequenceModelConfig::new(RecurrentConfig::new(3, 8), 1)
            .init(&device)
            .unwrap();
        assert!(measure_throughput(model, wrong, 0, 1, &device).is_err());
    }
}
