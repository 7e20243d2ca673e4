//! Element-wise loops of the native scan, written so the compiler vectorises them, and compiled
//! three times (AVX-512, AVX2+FMA, baseline) with the best one picked at run time.

use crate::cell::ElmanActivation;

/// `tanh` as a rational function (Eigen's `ptanh_float`), with only multiplications, additions
/// and one division so that it vectorises; within 1e-6 of `tanh` (tested below). `libm`'s
/// `tanhf` is scalar and ~10× slower.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Eigen's coefficients, as published.
fn fast_tanh(x: f32) -> f32 {
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
fn fast_sigmoid(x: f32) -> f32 {
    0.5f32.mul_add(fast_tanh(0.5 * x), 0.5)
}

#[inline(always)]
fn activate(activation: ElmanActivation, x: f32) -> f32 {
    match activation {
        ElmanActivation::Tanh => fast_tanh(x),
        ElmanActivation::Sigmoid => fast_sigmoid(x),
        ElmanActivation::Relu => x.max(0.0),
    }
}

/// The activation's derivative from its output `y`.
#[inline(always)]
fn slope(activation: ElmanActivation, y: f32) -> f32 {
    match activation {
        ElmanActivation::Tanh => 1.0 - y * y,
        ElmanActivation::Sigmoid => y - y * y,
        ElmanActivation::Relu => {
            if y > 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Defines `$name` (safe, dispatching on the CPU's features) over an `#[inline(always)]` body.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            #[allow(clippy::too_many_arguments)]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4($($arg: $ty),*) { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) { body($($arg),*) }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

multiversion! {
    /// `x ← act(x)` in place.
    fn activate_in_place(x: &mut [f32], activation: ElmanActivation) {
        for v in x.iter_mut() {
            *v = activate(activation, *v);
        }
    }
}

multiversion! {
    /// One row of the Elman backward step, in place: `g ← (g + gh) · act'(h)`, where `g` comes
    /// in as the gradient of the step's output and leaves as that of its pre-activation.
    fn elman_grad_row(g: &mut [f32], gh: &[f32], h: &[f32], activation: ElmanActivation) {
        for ((g, &c), &h) in g.iter_mut().zip(gh).zip(h) {
            *g = (*g + c) * slope(activation, h);
        }
    }
}

multiversion! {
    /// `acc += x` element-wise.
    fn add_assign(acc: &mut [f32], x: &[f32]) {
        for (a, &v) in acc.iter_mut().zip(x) {
            *a += v;
        }
    }
}

multiversion! {
    /// One LSTM row over a range of hidden units: `i, f, g, o` come in as the gates'
    /// pre-activations and leave activated; `c` and `h` receive the new cell and hidden state.
    fn lstm_row(i: &mut [f32], f: &mut [f32], g: &mut [f32], o: &mut [f32], c_prev: &[f32], c: &mut [f32], h: &mut [f32]) {
        let n = c.len();
        // Slices of exactly `n` elements let the compiler drop the bounds checks and vectorise.
        let (i, f, g, o) = (&mut i[..n], &mut f[..n], &mut g[..n], &mut o[..n]);
        let (c_prev, h) = (&c_prev[..n], &mut h[..n]);
        for j in 0..n {
            i[j] = fast_sigmoid(i[j]);
            f[j] = fast_sigmoid(f[j]);
            g[j] = fast_tanh(g[j]);
            o[j] = fast_sigmoid(o[j]);
            c[j] = f[j].mul_add(c_prev[j], i[j] * g[j]);
            h[j] = o[j] * fast_tanh(c[j]);
        }
    }
}

multiversion! {
    /// One row of the LSTM backward step over a range of hidden units. `gates` holds the
    /// activated `i, f, g, o`, `c` the new and `c_prev` the previous cell state; `gy + gh` is
    /// the gradient of the new hidden state and `gc` that of the new cell state. Writes the
    /// gates' pre-activation gradients into `da` and the previous cell state's into `gc_prev`.
    fn lstm_grad_row(
        gates: [&[f32]; 4],
        c: &[f32],
        c_prev: &[f32],
        gy: &[f32],
        gh: &[f32],
        gc: &[f32],
        da: [&mut [f32]; 4],
        gc_prev: &mut [f32]
    ) {
        let n = c.len();
        let [i, f, g, o] = gates;
        let (i, f, g, o) = (&i[..n], &f[..n], &g[..n], &o[..n]);
        let [di, df, dg, d_o] = da;
        let (di, df, dg, d_o) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n]);
        let (c_prev, gy, gh, gc, gc_prev) = (&c_prev[..n], &gy[..n], &gh[..n], &gc[..n], &mut gc_prev[..n]);
        for j in 0..n {
            let g_h = gy[j] + gh[j];
            let tc = fast_tanh(c[j]);
            let g_c = gc[j] + g_h * o[j] * (1.0 - tc * tc);
            di[j] = g_c * g[j] * (i[j] - i[j] * i[j]);
            df[j] = g_c * c_prev[j] * (f[j] - f[j] * f[j]);
            dg[j] = g_c * i[j] * (1.0 - g[j] * g[j]);
            d_o[j] = g_h * tc * (o[j] - o[j] * o[j]);
            gc_prev[j] = g_c * f[j];
        }
    }
}

multiversion! {
    /// One GRU row over a range of hidden units: `x` is the input part (`r, z, n`, with
    /// `b_ih`), `hw` the hidden part (`h·W + b_hh`); `h` receives the new state and `gates`
    /// keeps `r, z, n, h_n` for the backward pass.
    fn gru_row(x: [&[f32]; 3], hw: [&[f32]; 3], h_prev: &[f32], gates: [&mut [f32]; 4], h: &mut [f32]) {
        let n = h.len();
        let [x_r, x_z, x_n] = x;
        let (x_r, x_z, x_n) = (&x_r[..n], &x_z[..n], &x_n[..n]);
        let [h_r, h_z, h_n] = hw;
        let (h_r, h_z, h_n) = (&h_r[..n], &h_z[..n], &h_n[..n]);
        let [r, z, nn, kept_hn] = gates;
        let (r, z, nn, kept_hn) = (&mut r[..n], &mut z[..n], &mut nn[..n], &mut kept_hn[..n]);
        let h_prev = &h_prev[..n];
        for j in 0..n {
            r[j] = fast_sigmoid(x_r[j] + h_r[j]);
            z[j] = fast_sigmoid(x_z[j] + h_z[j]);
            nn[j] = fast_tanh(r[j].mul_add(h_n[j], x_n[j]));
            kept_hn[j] = h_n[j];
            h[j] = z[j].mul_add(h_prev[j] - nn[j], nn[j]);
        }
    }
}

multiversion! {
    /// One row of the GRU backward step over a range of hidden units: from the kept
    /// `r, z, n, h_n`, the previous state and the new state's gradient `gy + gh`, writes the
    /// gradients of the input part (`dx`), of the hidden part (`dh`) and the direct path to the
    /// previous state (`direct`).
    fn gru_grad_row(
        gates: [&[f32]; 4],
        h_prev: &[f32],
        gy: &[f32],
        gh: &[f32],
        dx: [&mut [f32]; 3],
        dh: [&mut [f32]; 3],
        direct: &mut [f32]
    ) {
        let n = direct.len();
        let [r, z, nn, h_n] = gates;
        let (r, z, nn, h_n) = (&r[..n], &z[..n], &nn[..n], &h_n[..n]);
        let [dx_r, dx_z, dx_n] = dx;
        let (dx_r, dx_z, dx_n) = (&mut dx_r[..n], &mut dx_z[..n], &mut dx_n[..n]);
        let [dh_r, dh_z, dh_n] = dh;
        let (dh_r, dh_z, dh_n) = (&mut dh_r[..n], &mut dh_z[..n], &mut dh_n[..n]);
        let (h_prev, gy, gh) = (&h_prev[..n], &gy[..n], &gh[..n]);
        for j in 0..n {
            let g = gy[j] + gh[j];
            let d_z = g * (h_prev[j] - nn[j]) * (z[j] - z[j] * z[j]);
            let d_n = g * (1.0 - z[j]) * (1.0 - nn[j] * nn[j]);
            let d_r = d_n * h_n[j] * (r[j] - r[j] * r[j]);
            dx_r[j] = d_r;
            dx_z[j] = d_z;
            dx_n[j] = d_n;
            dh_r[j] = d_r;
            dh_z[j] = d_z;
            dh_n[j] = d_n * r[j];
            direct[j] = g * z[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The dispatching entry points compute the same as the scalar definitions.
    #[test]
    fn vectorised_loops_equal_the_scalar_definitions() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.013).collect();
        for activation in [
            ElmanActivation::Tanh,
            ElmanActivation::Sigmoid,
            ElmanActivation::Relu,
        ] {
            let mut y = x.clone();
            activate_in_place(&mut y, activation);
            for (a, b) in y.iter().zip(&x) {
                assert!((a - activate(activation, *b)).abs() <= 1e-7);
            }
            let mut da = x.clone();
            elman_grad_row(&mut da, &x, &y, activation);
            for i in 0..x.len() {
                let expected = 2.0 * x[i] * slope(activation, y[i]);
                assert!((da[i] - expected).abs() <= 1e-6);
            }
        }
    }
}
