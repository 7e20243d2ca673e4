//! The design notes' lesson on vanishing and exploding gradients, measured.
//!
//! 1. **Gradient norms.** A one-unit Elman RNN `h_t = relu(w·h_{t−1} + x_t)` with `|w| = 2` and
//!    `|w| = 0.5`, fed 1 at the first step and 0 after, keeps every pre-activation positive, so
//!    ReLU is the identity and `∂h_T/∂h_{T−k} = w^k` exactly: 2^50 ≈ 10^15 ("→ ∞"), 0.5^50 ≈ 10^−15
//!    ("→ 0"). An LSTM (16 units, random inputs) carries its memory in the cell state
//!    `c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t`, so its gradient is multiplied by the forget gate
//!    `f_t ∈ (0, 1)`, which is learned, instead of by a fixed weight; its forget-gate bias starts at
//!    `--forget-bias` (3 by default, so `f ≈ σ(3) ≈ 0.95`: "remember unless told otherwise", the
//!    usual LSTM initialisation). ∂loss/∂h_t is read by adding a zero "probe" tensor that requires a
//!    gradient to each hidden state, `h_t + p_t`, and asking autodiff for `∂loss/∂p_t`.
//! 2. **A task that needs a long memory.** Each sequence has T steps of two features (a value and
//!    a "first step" marker); the first value is ±1, the others are uniform noise in (−1, 1). The
//!    label is the sign of the first value, seen T steps before the answer. An Elman RNN (tanh,
//!    PyTorch's initialisation) and an LSTM (as above) are trained with Adam for each T.
//! 3. **Clipping.** An Elman ReLU RNN whose recurrent weight is `2·I` (|w| = 2 in every
//!    direction) trained on the T = 20 task with plain SGD, once as is and once with every update
//!    clipped to norm 1.
//!
//! Training here is a short hand-written loop (not `burn_rnn::train::train`) because the
//! experiments set weights by hand (`w`, the forget-gate bias) and because the clipping lesson needs
//! plain SGD: Adam divides every step by the gradient's running magnitude, which already tames an
//! exploding gradient as long as it stays finite.
//!
//! ```text
//! cargo run --release --example gradients
//! cargo run --release --example gradients -- --device wgpu --epochs 60
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_rnn::model::{
    CellKind, ElmanActivation, Recurrent, RecurrentConfig, SequenceModel, SequenceModelConfig,
};
use burn_rnn::train::Backend;
use burn_rnn::train::plot::{Panel, Series, write_png};
use clap::Parser;

/// Measure vanishing and exploding gradients, and train Elman vs LSTM on a long-memory task.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    /// Backend: flex (CPU, default), ndarray (CPU), wgpu (GPU, or lavapipe), cuda.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Passes over the training sequences of the long-memory task, per model and T.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Seed for the weights and the generated sequences.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Directory for the plots.
    #[arg(long, default_value = "artifacts/gradients")]
    pub out: PathBuf,
    /// How many steps back the gradient is followed (the notes: 50).
    #[arg(long, default_value_t = 50)]
    pub steps_back: usize,
    /// Sequence lengths T of the long-memory task, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,20,50")]
    pub lengths: Vec<usize>,
    /// Training sequences per T (validation: half as many more).
    #[arg(long, default_value_t = 512)]
    pub samples: usize,
    /// Hidden units of the networks trained on the long-memory task and of the measured LSTM.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    /// Initial bias of the LSTM's forget gate.
    #[arg(long, default_value_t = 3.0)]
    pub forget_bias: f32,
    /// SGD steps of the clipping demonstration.
    #[arg(long, default_value_t = 60)]
    pub clip_steps: usize,
}

/// ‖∂loss/∂h_{T−k}‖ for k = 0..=steps back, for one network.
#[derive(Debug, Clone)]
pub struct GradientCurve {
    /// Which network.
    pub name: String,
    /// `norms[k]` = ‖∂loss/∂h_{T−k}‖ / ‖∂loss/∂h_T‖.
    pub norms: Vec<f64>,
}

/// Validation accuracy of both cells on the long-memory task for one T.
#[derive(Debug, Clone, Copy)]
pub struct MemoryResult {
    /// Sequence length T.
    pub steps: usize,
    /// Elman (tanh) accuracy in [0, 1].
    pub elman: f64,
    /// LSTM accuracy in [0, 1].
    pub lstm: f64,
}

/// The losses of one SGD run of the clipping demonstration.
#[derive(Debug, Clone)]
pub struct SgdTrace {
    /// Training loss at each step, up to and including the first non-finite one.
    pub losses: Vec<f64>,
    /// The first step (1-based) whose loss or weights were no longer finite.
    pub diverged_at: Option<usize>,
}

/// What the example measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Elman |w| = 2, Elman |w| = 0.5, LSTM.
    pub curves: Vec<GradientCurve>,
    /// One row per T.
    pub memory: Vec<MemoryResult>,
    /// SGD without clipping.
    pub unclipped: SgdTrace,
    /// SGD with updates clipped to norm 1.
    pub clipped: SgdTrace,
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> Result<()> {
    run(&Args::parse()).map(|_| ())
}

/// Runs the three experiments, prints what they show and writes `gradients.png` to `--out`.
pub fn run(args: &Args) -> Result<Report> {
    anyhow::ensure!(args.steps_back >= 1, "--steps-back must be at least 1");
    anyhow::ensure!(!args.lengths.is_empty(), "--lengths needs at least one T");
    anyhow::ensure!(args.lengths.iter().all(|&t| t >= 1), "every T must be ≥ 1");
    let backend: Backend = args.device.parse()?;
    let device = backend.device()?;
    let autodiff = device.clone().autodiff();
    autodiff.seed(args.seed);
    let n = args.steps_back;

    println!(
        "== 1. The gradient ‖∂loss/∂h_(T−k)‖ at k steps back in time (loss = sum of h_T / √H) =="
    );
    let curves = vec![
        GradientCurve {
            name: "Elman, w = 2".into(),
            norms: elman_gradients(2.0, n, &autodiff)?,
        },
        GradientCurve {
            name: "Elman, w = 0.5".into(),
            norms: elman_gradients(0.5, n, &autodiff)?,
        },
        GradientCurve {
            name: format!("LSTM, forget bias {}", args.forget_bias),
            norms: lstm_gradients(args, &autodiff)?,
        },
    ];
    let lstm_steps = &curves[2].norms[1..];
    let lstm_low = lstm_steps.iter().copied().fold(f64::INFINITY, f64::min);
    let lstm_high = lstm_steps.iter().copied().fold(0.0, f64::max);
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10}",
        "steps back k", "1", "10", "25", n
    );
    for curve in &curves {
        let at = |k: usize| curve.norms[k.min(n)];
        println!(
            "{:<24} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e}",
            curve.name,
            at(1),
            at(10),
            at(25),
            at(n)
        );
    }
    println!(
        "With |w| = 2 the gradient doubles at every step back: 2^{n} = {:.2e} (it explodes). With \
         |w| = 0.5 it halves: 0.5^{n} = {:.2e} (it vanishes; step T−{n} cannot be learned from).\n\
         (ReLU with positive states is the identity, so these are exactly w^k.)\n\
         The LSTM's gradient passes through its forget gate instead of a fixed weight: over the \
         {n} steps it stays between {:.1e} and {:.1e}, within {} order(s) of magnitude, and the \
         gate is learned.",
        2f64.powi(n as i32),
        0.5f64.powi(n as i32),
        lstm_low,
        lstm_high,
        orders(lstm_high / lstm_low),
    );

    println!(
        "\n== 2. Recall the sign of the first of T values ({} training, {} validation sequences, \
         {} epochs, chance = 50 %) ==",
        args.samples,
        args.samples / 2,
        args.epochs
    );
    println!("{:>4} {:>12} {:>12}", "T", "Elman (tanh)", "LSTM");
    let mut memory = Vec::new();
    for (i, &steps) in args.lengths.iter().enumerate() {
        let seed = args.seed + 100 * i as u64;
        let train = memory_task(args.samples, steps, seed);
        let valid = memory_task((args.samples / 2).max(1), steps, seed + 1);
        let elman = train_memory(
            CellKind::Elman(ElmanActivation::Tanh),
            &train,
            &valid,
            args,
            &autodiff,
        )?;
        let lstm = train_memory(CellKind::Lstm, &train, &valid, args, &autodiff)?;
        println!(
            "{steps:>4} {:>10.1} % {:>10.1} %",
            100.0 * elman,
            100.0 * lstm
        );
        memory.push(MemoryResult { steps, elman, lstm });
    }
    if let Some(last) = memory.last() {
        let verdict = if last.lstm > last.elman + 0.1 {
            "the LSTM remembers where the Elman RNN has forgotten"
        } else {
            "this run did not separate them (try more --epochs)"
        };
        println!(
            "At T = {}: Elman {:.0} %, LSTM {:.0} %: {verdict}.",
            last.steps,
            100.0 * last.elman,
            100.0 * last.lstm
        );
    }

    println!(
        "\n== 3. Clipping: Elman ReLU with recurrent weight 2·I, T = 20, plain SGD (lr 0.01), \
         {} steps ==",
        args.clip_steps
    );
    let clip_data = memory_task(args.samples, 20, args.seed + 999);
    let unclipped = train_exploding(&clip_data, None, args, &autodiff)?;
    let clipped = train_exploding(&clip_data, Some(1.0), args, &autodiff)?;
    for (name, trace) in [
        ("without clipping", &unclipped),
        ("clipped to norm 1", &clipped),
    ] {
        let first = trace.losses.first().copied().unwrap_or(f64::NAN);
        match trace.diverged_at {
            Some(step) => println!(
                "{name:<18}: loss {first:.3e} at step 1, no longer finite at step {step}: \
                 the update was as large as the exploded gradient and threw the weights to \
                 infinity (diverged)"
            ),
            None => println!(
                "{name:<18}: loss {first:.3e} at step 1, {:.3e} at step {}, finite throughout \
                 (largest {:.3e})",
                trace.losses.last().copied().unwrap_or(f64::NAN).abs(),
                trace.losses.len(),
                trace.losses.iter().copied().fold(0.0, f64::max),
            ),
        }
    }
    println!(
        "Clipping caps the size of each update, so one exploded gradient cannot wreck the \
         weights; it does not bring back a vanished gradient (that is what the LSTM's gates do)."
    );

    let report = Report {
        curves,
        memory,
        unclipped,
        clipped,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let plot = args.out.join("gradients.png");
    plot_report(&plot, &report)?;
    println!("\nwrote {}", plot.display());
    Ok(report)
}

/// How many orders of magnitude `ratio` is away from 1, rounded up.
fn orders(ratio: f64) -> i32 {
    ratio.log10().abs().ceil() as i32
}

fn floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .try_into_vec_as::<f32>()
        .map_err(|e| anyhow!("reading a tensor from the device: {e:?}"))
}

fn l2_norm(values: &[f32]) -> f64 {
    values
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// A `[rows, cols]` parameter from row-major values.
fn param(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// Runs `inputs` (`[1, D]` each) through `recurrent` one step at a time, adding a zero probe that
/// requires a gradient to every hidden state; loss = sum of the last hidden state / √H, so that
/// ‖∂loss/∂h_T‖ = 1. Returns ‖∂loss/∂h_{T−k}‖ / ‖∂loss/∂h_T‖ for k = 0..=T.
fn probe_gradients(recurrent: &Recurrent, inputs: Vec<Tensor<2>>) -> Result<Vec<f64>> {
    let device = inputs[0].device();
    let shape = [1, 1, recurrent.d_hidden];
    let mut state = recurrent.zero_state(1, &device);
    let mut probes = Vec::with_capacity(inputs.len() + 1);
    for input in inputs {
        let probe = Tensor::<3>::zeros(shape, &device).require_grad();
        state.hidden = state.hidden + probe.clone();
        probes.push(probe);
        state = recurrent.step(input, Some(state))?.1;
    }
    let probe = Tensor::<3>::zeros(shape, &device).require_grad();
    let loss = (state.hidden + probe.clone()).sum() / (recurrent.d_hidden as f64).sqrt();
    probes.push(probe);
    let grads = loss.backward();
    let mut norms = Vec::with_capacity(probes.len());
    for probe in probes.iter().rev() {
        let grad = probe
            .grad(&grads)
            .ok_or_else(|| anyhow!("no gradient reached a hidden state"))?;
        norms.push(l2_norm(&floats(grad)?));
    }
    let last = norms[0];
    Ok(norms.into_iter().map(|g| g / last).collect())
}

/// One ReLU unit, `h_t = relu(w·h_{t−1} + x_t)`, input 1 then 0: the gradient is exactly `w^k`.
fn elman_gradients(w: f32, steps: usize, device: &Device) -> Result<Vec<f64>> {
    let mut recurrent = RecurrentConfig::new(1, 1)
        .with_cell(CellKind::Elman(ElmanActivation::Relu))
        .with_bias(false)
        .init(device)?;
    recurrent.layers[0].hidden_weight = param(vec![w], [1, 1], device);
    recurrent.layers[0].input_weight = param(vec![1.0], [1, 1], device);
    let inputs = (0..steps)
        .map(|t| Tensor::from_data(TensorData::new(vec![f32::from(t == 0)], [1, 1]), device))
        .collect();
    probe_gradients(&recurrent, inputs)
}

/// Sets the forget gate's input bias (gate block 1 of `i, f, g, o`) of every LSTM layer.
fn set_forget_bias(recurrent: &mut Recurrent, bias: f32) -> Result<()> {
    let h = recurrent.d_hidden;
    for layer in &mut recurrent.layers {
        let old = layer
            .input_bias
            .as_ref()
            .ok_or_else(|| anyhow!("the LSTM was built without biases"))?
            .val();
        let device = old.device();
        let mut values = floats(old)?;
        values[h..2 * h].fill(bias);
        layer.input_bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(values, [4 * h]),
            &device,
        )));
    }
    Ok(())
}

/// A freshly initialised LSTM fed uniform noise in (−1, 1).
fn lstm_gradients(args: &Args, device: &Device) -> Result<Vec<f64>> {
    let mut recurrent = RecurrentConfig::new(1, args.hidden)
        .with_cell(CellKind::Lstm)
        .init(device)?;
    set_forget_bias(&mut recurrent, args.forget_bias)?;
    let mut rng = Rng(args.seed);
    let inputs = (0..args.steps_back)
        .map(|_| Tensor::from_data(TensorData::new(vec![rng.uniform()], [1, 1]), device))
        .collect();
    probe_gradients(&recurrent, inputs)
}

/// SplitMix64: a tiny deterministic generator for the synthetic sequences.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (−1, 1).
    fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Sequences of the long-memory task: `[N·T·2]` values (value, first-step marker) and labels
/// (1 when the first value is +1).
struct MemoryTask {
    values: Vec<f32>,
    labels: Vec<i64>,
    steps: usize,
}

fn memory_task(n: usize, steps: usize, seed: u64) -> MemoryTask {
    let mut rng = Rng(seed);
    let mut values = Vec::with_capacity(n * steps * 2);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let positive = rng.next() & 1 == 1;
        labels.push(i64::from(positive));
        values.extend([if positive { 1.0 } else { -1.0 }, 1.0]);
        for _ in 1..steps {
            values.extend([rng.uniform(), 0.0]);
        }
    }
    MemoryTask {
        values,
        labels,
        steps,
    }
}

impl MemoryTask {
    fn len(&self) -> usize {
        self.labels.len()
    }

    /// Inputs `[B, T, 2]` and labels `[B]` of sequences `range`.
    fn batch(&self, range: std::ops::Range<usize>, device: &Device) -> (Tensor<3>, Tensor<1, Int>) {
        let b = range.len();
        let per = self.steps * 2;
        let x = TensorData::new(
            self.values[range.start * per..range.end * per].to_vec(),
            [b, self.steps, 2],
        );
        let y = TensorData::new(self.labels[range].to_vec(), [b]);
        (Tensor::from_data(x, device), Tensor::from_data(y, device))
    }
}

const BATCH: usize = 32;

fn memory_model(cell: CellKind, args: &Args, device: &Device) -> Result<SequenceModel> {
    let mut model =
        SequenceModelConfig::new(RecurrentConfig::new(2, args.hidden).with_cell(cell), 2)
            .init(device)?;
    if cell == CellKind::Lstm {
        set_forget_bias(&mut model.recurrent, args.forget_bias)?;
    }
    Ok(model)
}

/// Trains `cell` with Adam (lr 0.01, updates clipped to norm 1) and returns validation accuracy.
fn train_memory(
    cell: CellKind,
    train: &MemoryTask,
    valid: &MemoryTask,
    args: &Args,
    device: &Device,
) -> Result<f64> {
    let mut model = memory_model(cell, args, device)?;
    let mut optimizer = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    for _ in 0..args.epochs {
        for start in (0..train.len()).step_by(BATCH) {
            let (x, y) = train.batch(start..(start + BATCH).min(train.len()), device);
            let logits = model.forward_many_to_one(x, None)?;
            let loss = loss_fn.forward(logits, y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(1e-2, model, grads);
        }
    }
    accuracy(&model.valid(), valid)
}

fn accuracy(model: &SequenceModel, data: &MemoryTask) -> Result<f64> {
    let device = model.head.weight.val().device();
    let (x, _) = data.batch(0..data.len(), &device);
    let logits = floats(model.forward_many_to_one(x, None)?)?;
    let correct = logits
        .chunks(2)
        .zip(&data.labels)
        .filter(|(l, y)| i64::from(l[1] > l[0]) == **y)
        .count();
    Ok(correct as f64 / data.len() as f64)
}

/// The clipping demonstration: Elman ReLU, recurrent weight 2·I, SGD with lr 0.01.
fn train_exploding(
    data: &MemoryTask,
    clip: Option<f32>,
    args: &Args,
    device: &Device,
) -> Result<SgdTrace> {
    device.seed(args.seed);
    let h = args.hidden;
    let mut model = SequenceModelConfig::new(
        RecurrentConfig::new(2, h).with_cell(CellKind::Elman(ElmanActivation::Relu)),
        2,
    )
    .init(device)?;
    let identity: Vec<f32> = (0..h * h)
        .map(|i| if i % (h + 1) == 0 { 2.0 } else { 0.0 })
        .collect();
    model.recurrent.layers[0].hidden_weight = param(identity, [h, h], device);
    let mut optimizer = SgdConfig::new()
        .with_gradient_clipping(clip.map(GradientClippingConfig::Norm))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let batches = data.len().div_ceil(BATCH);
    let mut losses = Vec::with_capacity(args.clip_steps);
    for step in 0..args.clip_steps {
        let start = (step % batches) * BATCH;
        let (x, y) = data.batch(start..(start + BATCH).min(data.len()), device);
        let logits = model.forward_many_to_one(x, None)?;
        let loss = loss_fn.forward(logits, y);
        let value = f64::from(floats(loss.clone())?[0]);
        losses.push(value);
        if !value.is_finite() {
            return Ok(SgdTrace {
                losses,
                diverged_at: Some(step + 1),
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-2, model, grads);
    }
    Ok(SgdTrace {
        losses,
        diverged_at: None,
    })
}

fn plot_report(path: &Path, report: &Report) -> Result<()> {
    let mut gradients = Panel::new(
        "‖∂loss/∂h‖ going back in time (relative to the last step)",
        "steps back k",
        "gradient norm (log scale)",
    )
    .log_scale();
    for curve in &report.curves {
        let points = curve
            .norms
            .iter()
            .enumerate()
            .filter(|(_, g)| g.is_finite() && **g > 0.0)
            .map(|(k, &g)| (k as f64, g))
            .collect();
        gradients = gradients.with(Series::line(curve.name.clone(), points));
    }
    let memory = Panel::new(
        "Recall the first value after T steps",
        "sequence length T",
        "validation accuracy (%)",
    )
    .with(Series::marked(
        "Elman (tanh)",
        report
            .memory
            .iter()
            .map(|m| (m.steps as f64, 100.0 * m.elman))
            .collect(),
    ))
    .with(Series::marked(
        "LSTM",
        report
            .memory
            .iter()
            .map(|m| (m.steps as f64, 100.0 * m.lstm))
            .collect(),
    ))
    .with(Series::line(
        "chance",
        report
            .memory
            .iter()
            .map(|m| (m.steps as f64, 50.0))
            .collect(),
    ));
    let trace = |name: &str, t: &SgdTrace| {
        Series::marked(
            name,
            t.losses
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_finite())
                .map(|(i, &l)| ((i + 1) as f64, l))
                .collect(),
        )
    };
    let unclipped_name = match report.unclipped.diverged_at {
        Some(step) => format!("no clipping (NaN from step {step})"),
        None => "no clipping".into(),
    };
    let clipping = Panel::new(
        "Elman ReLU, |w| = 2, plain SGD: training loss",
        "SGD step",
        "cross-entropy",
    )
    .with(trace(&unclipped_name, &report.unclipped))
    .with(trace("updates clipped to norm 1", &report.clipped));
    write_png(
        path,
        "Vanishing and exploding gradients",
        &[gradients, memory, clipping],
        3,
    )
    .context("writing the gradients plot")
}
