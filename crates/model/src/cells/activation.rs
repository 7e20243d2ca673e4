//! The activations the cells share, in both representations: on tensors (through `exp` on
//! large tensors) and as scalar functions that the native row kernels vectorise.

use burn::tensor::Tensor;
use burn::tensor::activation;

/// Below this many elements the backends' own activations win: the `exp` forms below add
/// autodiff nodes, whose fixed cost dominates small steps (measured with `examples/bench.rs`:
/// `healthcare`, 32×32 states, trained 30 % slower with them; `medium`/`large` 35–90 % faster).
const EXP_FORM_MIN_ELEMENTS: usize = 4096;

fn large(x: &Tensor<2>) -> bool {
    let [rows, columns] = x.dims();
    rows * columns >= EXP_FORM_MIN_ELEMENTS
}

/// `tanh`, computed through `exp` on large tensors: the CPU backends vectorise `exp` but
/// evaluate `tanh` one element at a time, about 4× slower, and it dominated the Elman step.
/// Within 2e-7 of `tanh`; the clamp keeps `exp` and its gradient finite (`tanh(±15)` is `±1`
/// in f32).
pub(crate) fn tanh(x: Tensor<2>) -> Tensor<2> {
    if !large(&x) {
        return activation::tanh(x);
    }
    let e = (x.clamp(-15.0, 15.0) * 2.0).exp();
    (e.clone() - 1.0) / (e + 1.0)
}

/// The logistic sigmoid, through `exp` on large tensors for the same reason as [`tanh`].
/// Within 1e-7 of the exact value; the clamp keeps `exp` finite (`σ(±30)` is within 1e-13 of
/// 0 and 1).
pub(crate) fn sigmoid(x: Tensor<2>) -> Tensor<2> {
    if !large(&x) {
        return activation::sigmoid(x);
    }
    ((-x.clamp(-30.0, 30.0)).exp() + 1.0).recip()
}

/// minGRU's `g(x)`: `x + ½` for `x ≥ 0`, `σ(x)` below (continuous, positive, linear for large
/// `x`; Feng et al. 2024).
pub(crate) fn g<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let positive = x.clone().greater_equal_elem(0.0);
    activation::sigmoid(x.clone()).mask_where(positive, x + 0.5)
}

/// `log g(x)`, computed without taking the logarithm of a small number: `log(x + ½)` for
/// `x ≥ 0`, `log σ(x)` below.
pub(crate) fn log_g<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let positive = x.clone().greater_equal_elem(0.0);
    let above = (activation::relu(x.clone()) + 0.5).log();
    activation::log_sigmoid(x).mask_where(positive, above)
}

/// `σ'` from the sigmoid's output `s`.
pub(crate) fn sigmoid_slope(s: Tensor<2>) -> Tensor<2> {
    s.clone().neg() * s.clone() + s
}

/// `tanh'` from tanh's output `y`.
pub(crate) fn tanh_slope(y: Tensor<2>) -> Tensor<2> {
    y.clone().neg() * y + 1.0
}

/// `tanh` as a rational function (Eigen's `ptanh_float`), with only multiplications, additions
/// and one division so that it vectorises; within 1e-6 of `tanh` (tested below). `libm`'s
/// `tanhf` is scalar and ~10× slower.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Eigen's coefficients, as published.
pub(crate) fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525_2e-3;
    const B2: f32 = 2.268_434_6e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2.mul_add(A13, A11);
    p = x2.mul_add(p, A9);
    p = x2.mul_add(p, A7);
    p = x2.mul_add(p, A5);
    p = x2.mul_add(p, A3);
    p = x2.mul_add(p, A1);
    p *= x;
    let mut q = x2.mul_add(B6, B4);
    q = x2.mul_add(q, B2);
    q = x2.mul_add(q, B0);
    p / q
}

/// The logistic sigmoid through [`fast_tanh`]: `σ(x) = (1 + tanh(x/2)) / 2`.
#[inline(always)]
pub(crate) fn fast_sigmoid(x: f32) -> f32 {
    0.5f32.mul_add(fast_tanh(0.5 * x), 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// The rational `tanh` and the sigmoid built on it stay within 1e-6 of the exact functions
    /// over the whole range.
    #[test]
    fn fast_activations_match_the_exact_ones() {
        let mut worst_tanh = 0.0f64;
        let mut worst_sigmoid = 0.0f64;
        for i in -400_000..=400_000 {
            let x = i as f32 * 1e-4;
            let exact = (x as f64).tanh();
            worst_tanh = worst_tanh.max((fast_tanh(x) as f64 - exact).abs());
            let exact = 1.0 / (1.0 + (-(x as f64)).exp());
            worst_sigmoid = worst_sigmoid.max((fast_sigmoid(x) as f64 - exact).abs());
        }
        assert!(worst_tanh < 1e-6, "tanh off by {worst_tanh}");
        assert!(worst_sigmoid < 1e-6, "sigmoid off by {worst_sigmoid}");
        // Saturated, it stays within 3e-7 of ±1 (as f32's tanh(7.9) does) and never beyond.
        assert!((fast_tanh(1e4) - 1.0).abs() < 3e-7 && fast_tanh(1e4) <= 1.0);
        assert!((fast_tanh(-1e4) + 1.0).abs() < 3e-7 && fast_tanh(-1e4) >= -1.0);
        assert!(fast_tanh(f32::NAN).is_nan());
    }

    /// The `exp` forms (used on large tensors) match the backend's activations in value and in
    /// gradient, including far in the saturated tails.
    #[test]
    fn exp_forms_match_the_native_activations() {
        let device = Device::flex().autodiff();
        let x =
            Tensor::<2>::random([64, 128], Distribution::Normal(0.0, 8.0), &device).require_grad();
        let weights = Tensor::<2>::random([64, 128], Distribution::Normal(0.0, 1.0), &device);
        assert!(large(&x));
        type Activation = fn(Tensor<2>) -> Tensor<2>;
        let pairs: [(Activation, Activation); 2] =
            [(tanh, activation::tanh), (sigmoid, activation::sigmoid)];
        let read = |t: Tensor<2>| {
            t.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        };
        let worst = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max)
        };
        for (fast, native) in pairs {
            let values = |f: Activation| {
                let y = f(x.clone());
                let grads = (y.clone() * weights.clone()).sum().backward();
                let grad = x.grad(&grads).unwrap();
                (read(y.inner()), read(grad))
            };
            let (fast_y, fast_grad) = values(fast);
            let (native_y, native_grad) = values(native);
            let (dy, dg) = (worst(&fast_y, &native_y), worst(&fast_grad, &native_grad));
            assert!(dy < 1e-6, "values differ by {dy}");
            assert!(dg < 1e-5, "gradients differ by {dg}");
            assert!(fast_grad.iter().all(|g| g.is_finite()));
        }
    }
}
