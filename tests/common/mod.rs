//! Helpers shared by the integration tests: the backends to test on and numeric comparisons.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor};
use burn_rnn::train::Backend;

/// Set (as CI does) to make a missing GPU adapter a test failure instead of a skip.
pub const REQUIRE_WGPU: &str = "BURN_RNN_REQUIRE_WGPU";

/// Every backend compiled into this build that can be opened here, as `(name, device)`.
/// A GPU backend without an adapter is skipped with a message, unless `BURN_RNN_REQUIRE_WGPU`
/// is set, in which case the test fails.
pub fn backends() -> Vec<(Backend, Device)> {
    let mut out = Vec::new();
    for backend in Backend::compiled() {
        match backend.device() {
            Ok(device) => out.push((backend, device)),
            Err(e) if backend == Backend::Wgpu && std::env::var_os(REQUIRE_WGPU).is_none() => {
                eprintln!("skipping the wgpu backend: {e}");
            }
            Err(e) if backend == Backend::Cuda => eprintln!("skipping the cuda backend: {e}"),
            Err(e) => panic!("backend {backend} is compiled in but cannot be opened: {e}"),
        }
    }
    out
}

/// Absolute tolerance for a backend: GPU float arithmetic (fused, reordered) gets a little slack.
pub fn tolerance(backend: Backend, cpu: f32) -> f32 {
    if backend.is_gpu() { cpu * 10.0 } else { cpu }
}

/// A tensor's values on the host.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Fails with the worst element when `actual` and `expected` differ by more than `tol`.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} values, expected {}",
        actual.len(),
        expected.len()
    );
    let (worst, diff) = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold((0, 0.0f32), |best, (i, d)| {
            if d > best.1 || d.is_nan() {
                (i, d)
            } else {
                best
            }
        });
    assert!(
        diff <= tol,
        "{what}: element {worst} is {} but PyTorch gives {} (|diff| {diff:e} > {tol:e})",
        actual[worst],
        expected[worst]
    );
}

/// `[rows, cols]` row-major values transposed to `[cols, rows]`.
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}
