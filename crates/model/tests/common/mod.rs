//! Helpers shared by the integration tests (also the workspace's, through `#[path]`): the
//! backends to test on and numeric comparisons.
#![allow(dead_code)]

use std::fmt;

use burn::tensor::{Device, Tensor};

/// Set (as CI does) to make a missing GPU adapter a test failure instead of a skip.
pub const REQUIRE_WGPU: &str = "BURN_RNN_REQUIRE_WGPU";
/// Set (as `bench/gpu-run.sh` does) to make a missing CUDA device a failure, in a `cuda` build.
pub const REQUIRE_CUDA: &str = "BURN_RNN_REQUIRE_CUDA";

/// A backend to test on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    pub name: &'static str,
    pub gpu: bool,
}

impl Backend {
    pub fn is_gpu(self) -> bool {
        self.gpu
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// The CPU backends, and wgpu where an adapter answers. Without one the wgpu tests are skipped
/// with a message, unless `BURN_RNN_REQUIRE_WGPU` is set: then the test fails.
#[allow(deprecated)] // burn-ndarray is deprecated in favour of flex, but still a backend
pub fn backends() -> Vec<(Backend, Device)> {
    let cpu = |name| Backend { name, gpu: false };
    let mut out = vec![
        (cpu("flex"), Device::flex()),
        (cpu("ndarray"), Device::ndarray()),
    ];
    // The first operation proves an adapter: opening one can succeed lazily.
    let wgpu = std::panic::catch_unwind(|| {
        let device = Device::wgpu(Default::default());
        Tensor::<1>::ones([2], &device).into_data();
        device
    });
    match wgpu {
        Ok(device) => out.push((
            Backend {
                name: "wgpu",
                gpu: true,
            },
            device,
        )),
        Err(_) if std::env::var_os(REQUIRE_WGPU).is_some() => {
            panic!("{REQUIRE_WGPU} is set but no wgpu adapter answers")
        }
        Err(_) => eprintln!("skipping the wgpu backend: no adapter answers"),
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

/// Fails with the worst element when `actual` and `expected` differ by more than `tol`;
/// returns the largest difference.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tol: f32) -> f32 {
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
    diff
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
