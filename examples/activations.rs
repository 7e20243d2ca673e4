//! Why the recurrence computes `tanh` and `sigmoid` through `exp` on large states: the cost per
//! element of each activation on a 256×512 tensor (the `large` benchmark's state), and the
//! recurrence step `h·W + x` with and without `tanh`, on the chosen backend.
//!
//! ```text
//! cargo run --release --example activations -- --device flex
//! ```

mod common;

use anyhow::Result;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Distribution, Tensor};
use burn_rnn::train::throughput::time_runs;
use clap::Parser;

/// Time activations and a bare recurrence step.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    pub device: common::DeviceArg,
    /// Timed repeats (the fastest is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
}

/// What the example measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Nanoseconds per element of each activation, in the order printed.
    pub activations: Vec<(&'static str, f64)>,
    /// GFLOP/s of the recurrence step's products, without and with `tanh`.
    pub steps: Vec<(&'static str, f64)>,
    /// The largest difference between `tanh` and `tanh` computed through `exp` on the input.
    pub tanh_through_exp_error: f32,
}

const ROWS: usize = 256;
const COLUMNS: usize = 512;
const STEPS: usize = 128;

/// An element-wise function of a state, with its name.
type Named = (&'static str, fn(Tensor<2>) -> Tensor<2>);

fn main() -> std::process::ExitCode {
    common::main(|| run(&Args::parse()))
}

/// Times the activations and the recurrence step, printing ns per element and GFLOP/s.
pub fn run(args: &Args) -> Result<Report> {
    let device = args.device.open()?;
    // The fastest of `--repeats` runs of `f`, in seconds.
    let fastest = |f: &mut dyn FnMut()| -> Result<f64> {
        let seconds = time_runs(0, args.repeats.max(1), &device, || {
            f();
            Ok(())
        })?;
        Ok(seconds[0])
    };
    let x = Tensor::<2>::random([ROWS, COLUMNS], Distribution::Normal(0.0, 2.0), &device);
    let elements = (STEPS * ROWS * COLUMNS) as f64;

    println!(
        "{}: ns per element over {STEPS} × {ROWS}×{COLUMNS}",
        args.device.device
    );
    let activations: [Named; 4] = [
        ("tanh", tanh),
        ("sigmoid", sigmoid),
        ("exp", |x| x.exp()),
        ("tanh as (e^2x − 1)/(e^2x + 1)", tanh_through_exp),
    ];
    let mut report = Report {
        activations: Vec::new(),
        steps: Vec::new(),
        tanh_through_exp_error: f32::NAN,
    };
    for (name, activation) in activations {
        let seconds = fastest(&mut || {
            for _ in 0..STEPS {
                let _ = activation(x.clone()).into_data();
            }
        })?;
        let nanoseconds = seconds / elements * 1e9;
        println!("  {name:<32} {nanoseconds:>6.2}");
        report.activations.push((name, nanoseconds));
    }

    let w = Tensor::<2>::random([COLUMNS, COLUMNS], Distribution::Normal(0.0, 0.04), &device);
    let flops = STEPS as f64 * 2.0 * (ROWS * COLUMNS * COLUMNS) as f64;
    println!("recurrence step, {STEPS} steps of h = f(h·W + x), GFLOP/s of the products:");
    let steps: [Named; 2] = [("f = identity", |x| x), ("f = tanh", tanh)];
    for (name, f) in steps {
        let seconds = fastest(&mut || {
            let mut h = x.clone();
            for _ in 0..STEPS {
                h = f(h.matmul(w.clone()) + x.clone());
            }
            let _ = h.into_data();
        })?;
        let gflops = flops / seconds / 1e9;
        println!("  {name:<32} {gflops:>6.1}");
        report.steps.push((name, gflops));
    }
    let error = (tanh(x.clone()) - tanh_through_exp(x)).abs().max();
    report.tanh_through_exp_error = error.into_scalar::<f32>();
    Ok(report)
}

/// `tanh` through `exp`, clamped so that `e^2x` stays finite.
fn tanh_through_exp(x: Tensor<2>) -> Tensor<2> {
    let e = (x.clamp(-15.0, 15.0) * 2.0).exp();
    (e.clone() - 1.0) / (e + 1.0)
}
