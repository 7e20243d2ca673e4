//! The scan on wgpu and cuda as CubeCL kernels (`kernel/`): a layer-direction is one kernel
//! launch forward and one backward, whatever the number of steps, where the tensor scan
//! dispatches a product and a dozen element-wise kernels per step.
//!
//! Design: each cube (workgroup) owns a few sequences of the batch, keeps their states in
//! shared memory and loops over all steps inside the kernel, reading `W_hh` from global memory
//! (or the cache); batch rows are independent, so cube-level barriers suffice. The input
//! projection of all steps before the scan, and the weight gradients over all steps after it,
//! stay large products (Burn's matmul). `plan.rs` cuts a scan into cubes and launches,
//! `forward.rs` and `backward.rs` launch the kernels.
//!
//! A projected LSTM (`proj_size`) has a second pass per step over the state's units, after the
//! cell's; recurrent dropout keeps the masked states, as they enter `W_hh`, beside the states.
//! Layer norm (Ba et al. 2016) runs inside the kernels too: each row's blocks of `H` values
//! (the hidden parts per gate, an LSTM's `c_t`) are reduced by the cube's units through shared
//! memory between the step's phases; backward, the gains' gradients are sums over all steps
//! after the kernel, from the raw hidden parts the forward pass keeps.
//!
//! Limits: `f32` tensors on Burn's unfused cube backend (`burn-cubecl` without its `fusion`
//! feature); the states of one sequence (and, backward, one step's gate gradients; under layer
//! norm, forward, the step's raw parts) must fit in a cube's shared memory (`H ≤ 512` for an
//! LSTM at WebGPU's default 16 KiB, `H ≤ 447` under layer norm, with fewer units per cube from
//! `H = 398`; more on real GPUs). Anything else returns `None`, and the caller runs the tensor
//! scan.

mod backward;
mod forward;
mod kernel;
mod plan;

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::backend::Cube;
use burn::tensor::{DType, Shape, Tensor};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

pub(crate) use backward::Backward;
pub(crate) use forward::forward;

/// Scan kernels launched so far in this process (forward and backward).
static LAUNCHES: AtomicU64 = AtomicU64::new(0);
thread_local! {
    /// Whether scans started on this thread may run the kernels (benchmarks and tests compare
    /// them with the tensor scan).
    static ENABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// How many GPU scan kernels this process has launched: one per layer-direction forward and
/// one per layer-direction backward. Tests use it to prove that the kernel path ran.
pub fn gpu_kernel_launches() -> u64 {
    LAUNCHES.load(Ordering::Relaxed)
}

/// Turns the GPU scan kernels on (the default) or off for the scans this thread runs (forward
/// passes and the backward passes it starts); off, wgpu and cuda run the tensor scan (the same
/// numbers, one dispatch per operation and step). For benchmarks and for comparing the paths.
pub fn set_gpu_kernels(enabled: bool) {
    ENABLED.set(enabled);
}

/// A plain tensor on Burn's cube backend as a contiguous `f32` [`CubeTensor`].
fn cube<const D: usize>(tensor: &Tensor<D>) -> Option<CubeTensor> {
    let primitive = tensor.clone().try_into_primitive::<Cube>().ok()?;
    // With burn-cubecl's `fusion` feature the primitive is a fusion tensor: not handled here.
    let any: Box<dyn Any> = Box::new(primitive);
    let tensor = *any.downcast::<CubeTensor>().ok()?;
    (tensor.dtype == DType::F32).then(|| into_contiguous(tensor))
}

/// A [`CubeTensor`] made here as a tensor of Burn's cube backend.
fn tensor<const D: usize>(tensor: CubeTensor) -> Tensor<D> {
    let any: Box<dyn Any> = Box::new(tensor);
    let Ok(primitive) = any.downcast::<burn::backend::tensor::FloatTensor<Cube>>() else {
        unreachable!("`cube` only accepts the unfused cube backend")
    };
    let primitive = *primitive;
    Tensor::from_primitive::<Cube>(primitive)
}

/// A new tensor on `like`'s device.
fn empty(like: &CubeTensor, shape: &[usize]) -> CubeTensor {
    let shape = Shape::from(shape.to_vec());
    empty_device_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

/// The element type a kernel is compiled for.
fn storage_type(tensor: &CubeTensor) -> ElemType {
    burn::backend::cubecl::dtype_to_storage_type(tensor.dtype)
}
