//! A layer's input projection `x·W_ihᵀ` outside the steps: the product over all steps where
//! the part is projected before the scan, and where the scan computed it step by step
//! (`input_part.rs`) the gradients reaching `x`, `W_ihᵀ` and `b_ih` after the backward pass.
//! Both write into memory this crate allocates: flex's `matmul` output comes from
//! `FlexTensor::empty`, which zero-fills a buffer and then copies it to realign it (burn-flex
//! 0.22.1), two extra passes over memory as large as the result.

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor};

use super::matmul::{Product, View, matmul_ptr};
use super::memory::{Memory, add_assign, filled, tensor, unfilled};
use crate::drivers::scan::{DeferredInput, InputGrads};

/// `x · w` (`[n, k]·[k, m]`) for plain `f32` flex tensors. `None` for anything else, autodiff
/// tensors included (their product must be recorded).
pub(crate) fn project(x: &Tensor<2>, w: &Tensor<2>) -> Option<Tensor<2>> {
    let (x_memory, w_memory) = (Memory::of(x)?, Memory::of(w)?);
    let ([rows, inner], [_, columns]) = (x.dims(), w.dims());
    let product = Product {
        m: rows,
        n: columns,
        k: inner,
        lhs: View::rows(x_memory.values(), inner),
        rhs: View::rows(w_memory.values(), columns),
    };
    // SAFETY: `x` and `w` are rows×inner and inner×columns row-major.
    Some(unsafe { product_of(product) })
}

/// Whether the native scan takes `x`, a layer's input, and computes its input part step by
/// step ([`InputPart::Deferred`](crate::drivers::scan::InputPart)): for `f32` tensors on flex,
/// with or without autodiff (the scan's own operation then differentiates through the part).
pub(crate) fn defers_input(x: &Tensor<3>) -> bool {
    let on_flex = matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_));
    on_flex && x.dtype() == DType::F32
}

/// The gradients of a deferred part's inputs from `d_part` (`[T, B, GATES·H]`), for the flags
/// `[x, w, bias]` (see [`DeferredInput::grads`]). `None` unless every tensor is an `f32` flex
/// tensor.
pub(crate) fn input_grads(
    input: &DeferredInput,
    d_part: &Tensor<3>,
    [x, w, bias]: [bool; 3],
) -> Option<InputGrads> {
    let (inputs, weight, d) = (
        Memory::of(&input.x)?,
        Memory::of(&input.w)?,
        Memory::of(d_part)?,
    );
    let [steps, batch, width] = d_part.dims();
    let [_, _, d_in] = input.x.dims();
    let rows = steps * batch;
    let d = d.values();
    // SAFETY (both products): `d` is rows×width, `x` rows×d_in and `W_ihᵀ` d_in×width, all
    // row-major and read in place (transposed where the product needs it).
    let dx = x.then(|| {
        let product = Product {
            m: rows,
            n: d_in,
            k: width,
            lhs: View::rows(d, width),
            rhs: View::transposed(weight.values(), width),
        };
        let dx = unsafe { product_of(product) };
        dx.reshape([steps, batch, d_in])
    });
    let dw = w.then(|| {
        let product = Product {
            m: d_in,
            n: width,
            k: rows,
            lhs: View::transposed(inputs.values(), d_in),
            rhs: View::rows(d, width),
        };
        unsafe { product_of(product) }
    });
    let db = bias.then(|| {
        let mut sums = vec![0.0; width];
        for row in d.chunks_exact(width) {
            add_assign(&mut sums, row);
        }
        tensor(sums, [width])
    });
    Some(InputGrads {
        x: dx,
        w: dw,
        bias: db,
    })
}

/// `product` into a new `m×n` tensor that nothing fills before the product writes it.
///
/// # Safety
/// As [`matmul_ptr`]'s operands.
unsafe fn product_of(product: Product) -> Tensor<2> {
    let (m, n) = (product.m, product.n);
    let mut out = unfilled(m * n);
    // SAFETY: `out` is m×n and apart from the operands; the product writes it whole without
    // reading it.
    unsafe {
        matmul_ptr(out.as_mut_ptr().cast(), product, false);
        tensor(filled(out), [m, n])
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    /// The native gradients of a deferred part's inputs equal those of tensor operations, for
    /// every combination of the three flags.
    #[test]
    fn native_input_gradients_equal_the_tensor_ones() {
        let device = Device::flex();
        let random = |dims: [usize; 3]| Tensor::<3>::random(dims, Distribution::Default, &device);
        let (steps, batch, d_in, width) = (5, 3, 4, 12);
        let input = DeferredInput {
            x: random([steps, batch, d_in]),
            w: Tensor::random([d_in, width], Distribution::Default, &device),
            bias: Some(Tensor::random([width], Distribution::Default, &device)),
        };
        let d_part = random([steps, batch, width]);
        let read = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
        for flags in 0..8 {
            let wanted = [flags & 1 != 0, flags & 2 != 0, flags & 4 != 0];
            let native = input_grads(&input, &d_part, wanted).expect("flex tensors");
            let tensors = input.grads_by_tensors(d_part.clone(), wanted);
            let pairs = [
                (native.x, tensors.x),
                (
                    native.w.map(|w| w.unsqueeze()),
                    tensors.w.map(|w| w.unsqueeze()),
                ),
                (
                    native.bias.map(|b| b.unsqueeze()),
                    tensors.bias.map(|b| b.unsqueeze()),
                ),
            ];
            for (which, (ours, theirs)) in pairs.into_iter().enumerate() {
                assert_eq!(ours.is_some(), wanted[which], "flags {wanted:?}");
                let (Some(ours), Some(theirs)) = (ours, theirs) else {
                    continue;
                };
                assert_eq!(ours.dims(), theirs.dims());
                for (a, b) in read(ours).into_iter().zip(read(theirs)) {
                    assert!((a - b).abs() < 1e-5, "gradient {which}: {a} against {b}");
                }
            }
        }
    }

    /// The native product equals `matmul`, and declines autodiff tensors (whose product must
    /// be recorded).
    #[test]
    fn the_native_projection_equals_matmul() {
        let device = Device::flex();
        let x = Tensor::<2>::random([37, 5], Distribution::Default, &device);
        let w = Tensor::<2>::random([5, 24], Distribution::Default, &device);
        let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
        let ours = project(&x, &w).expect("flex tensors");
        assert_eq!(ours.dims(), [37, 24]);
        for (a, b) in read(ours)
            .into_iter()
            .zip(read(x.clone().matmul(w.clone())))
        {
            assert!((a - b).abs() < 1e-5, "{a} against {b}");
        }
        let autodiff = device.autodiff();
        let tracked = |t: &Tensor<2>| Tensor::<2>::from_data(t.to_data(), &autodiff);
        assert!(project(&tracked(&x), &tracked(&w)).is_none());
    }

    /// Inputs are deferred on flex, with or without autodiff, and only in `f32`.
    #[test]
    fn inputs_are_deferred_on_flex_in_f32() {
        let x = |device: &Device| Tensor::<3>::zeros([2, 3, 4], device);
        assert!(defers_input(&x(&Device::flex())));
        assert!(defers_input(&x(&Device::flex().autodiff())));
        let half = x(&Device::flex()).cast(DType::F16);
        assert!(!defers_input(&half));
    }
}
