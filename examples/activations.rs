//! Why the recurrence computes `tanh` and `sigmoid` through `exp` on large states: the cost per
//! element of each activation on a 256×512 tensor (the `large` benchmark's state), and the
//! recurrence step `h·W + x` with and without `tanh`, on the chosen backend.
//!
//! ```text
//! cargo run --release --example activations -- --device flex
//! ```

use std::time::Instant;

use anyhow::Result;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Distribution, Tensor};
use burn_rnn::train::Backend;
use clap::Parser;

/// Time activations and a bare recurrence step.
#[derive(Parser, Debug)]
struct Args {
    /// Backend: flex, ndarray, wgpu or cuda (what this build has).
    #[arg(long, default_value = "flex")]
    device: String,
    /// Timed repeats (the fastest is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

const ROWS: usize = 256;
const COLUMNS: usize = 512;
const STEPS: usize = 128;

/// An element-wise function of a state, with its name.
type Named = (&'static str, fn(Tensor<2>) -> Tensor<2>);

/// The fastest of `repeats` runs of `f`, in seconds.
fn fastest(repeats: usize, device: &Device, mut f: impl FnMut()) -> f64 {
    (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            device.sync().ok();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Freed large tensors are reused: no page faults in the training loop (BENCHMARKS.md). Not
/// when `tests/examples.rs` includes this file as a module.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: burn_rnn::train::CachingAllocator = burn_rnn::train::CachingAllocator;

fn main() -> Result<()> {
    let args = Args::parse();
    let backend: Backend = args.device.parse()?;
    let device = backend.device()?;
    let x = Tensor::<2>::random([ROWS, COLUMNS], Distribution::Normal(0.0, 2.0), &device);
    let elements = (STEPS * ROWS * COLUMNS) as f64;

    println!("{backend}: ns per element over {STEPS} × {ROWS}×{COLUMNS}");
    let activations: [Named; 4] = [
        ("tanh", tanh),
        ("sigmoid", sigmoid),
        ("exp", |x| x.exp()),
        ("tanh as (e^2x − 1)/(e^2x + 1)", |x| {
            let e = (x.clamp(-15.0, 15.0) * 2.0).exp();
            (e.clone() - 1.0) / (e + 1.0)
        }),
    ];
    for (name, activation) in activations {
        let seconds = fastest(args.repeats, &device, || {
            for _ in 0..STEPS {
                let _ = activation(x.clone()).into_data();
            }
        });
        println!("  {name:<32} {:>6.2}", seconds / elements * 1e9);
    }

    let w = Tensor::<2>::random([COLUMNS, COLUMNS], Distribution::Normal(0.0, 0.04), &device);
    let flops = STEPS as f64 * 2.0 * (ROWS * COLUMNS * COLUMNS) as f64;
    println!("recurrence step, {STEPS} steps of h = f(h·W + x), GFLOP/s of the products:");
    let steps: [Named; 2] = [("f = identity", |x| x), ("f = tanh", tanh)];
    for (name, f) in steps {
        let seconds = fastest(args.repeats, &device, || {
            let mut h = x.clone();
            for _ in 0..STEPS {
                h = f(h.matmul(w.clone()) + x.clone());
            }
            let _ = h.into_data();
        });
        println!("  {name:<32} {:>6.1}", flops / seconds / 1e9);
    }
    Ok(())
}
