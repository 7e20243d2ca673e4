//! The packed products against their definition, in `f32` and bf16.

use super::*;

/// Every start, ragged sizes (partial panels and row blocks, odd depths) and column ranges,
/// on the `gemm` fallback and the packed kernel in `f32` and in bf16 (when the CPU has
/// them), against the definition. The values are small integers, exact in bf16.
#[test]
fn products_match_the_definition() {
    let isa = Isa::best();
    let kernels = [
        (false, false),
        (isa.has_avx512(), false),
        (isa.has_avx512(), isa.has_avx512_bf16()),
    ];
    for (packed, bf16) in kernels {
        let pack = |w: StepWeights| if bf16 { w.in_bf16() } else { w };
        for (m, k, n) in [(1, 1, 1), (13, 7, 70), (8, 33, 64), (21, 64, 100)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            let x: Vec<f32> = (0..m * n).map(|i| ((i * 3) % 7) as f32).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.5).collect();
            let weights = pack(StepWeights::with_kernel(&w, k, n, 0, n, packed));
            let product =
                |i: usize, j: usize| (0..k).map(|p| a[i * k + p] * w[p * n + j]).sum::<f32>();
            // A second product, of another depth, for `Start::Product`.
            let k2 = k + 3;
            let a2: Vec<f32> = (0..m * k2).map(|i| ((i * 3) % 5) as f32 - 2.0).collect();
            let w2: Vec<f32> = (0..k2 * n).map(|i| ((i * 7) % 9) as f32 - 4.0).collect();
            let second = pack(StepWeights::with_kernel(&w2, k2, n, 0, n, packed));
            let product2 =
                |i: usize, j: usize| (0..k2).map(|p| a2[i * k2 + p] * w2[p * n + j]).sum::<f32>();
            for chunks in [1, 2, 3] {
                let starts = [
                    (Start::Zero, 0),
                    (Start::Destination, 1),
                    (
                        Start::Rows {
                            values: &x,
                            columns: n,
                            bias: None,
                        },
                        2,
                    ),
                    (
                        Start::Rows {
                            values: &x,
                            columns: n,
                            bias: Some(&bias),
                        },
                        3,
                    ),
                    (Start::Bias(&bias), 4),
                    (
                        Start::Product {
                            a: &a2,
                            weights: &second,
                            bias: &bias,
                        },
                        5,
                    ),
                ];
                for (start, kind) in starts {
                    let mut c: Vec<f32> = (0..m * n).map(|i| i as f32).collect();
                    let dst = Destination::of(&mut c, n);
                    for index in 0..chunks {
                        let columns = StepWeights::columns(n, index, chunks);
                        // SAFETY: c is m×n, apart from a and x.
                        unsafe { weights.product(dst, m, &a, start, columns) };
                    }
                    for i in 0..m {
                        for j in 0..n {
                            let from = match kind {
                                0 => 0.0,
                                1 => (i * n + j) as f32,
                                2 => x[i * n + j],
                                3 => x[i * n + j] + bias[j],
                                4 => bias[j],
                                _ => bias[j] + product2(i, j),
                            };
                            let expected = from + product(i, j);
                            assert_eq!(
                                c[i * n + j],
                                expected,
                                "({i}, {j}) of {m}×{k}×{n}, start {kind}, packed {packed}, \
                                 bf16 {bf16}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// bf16 rounding: to nearest, ties to even, the `vcvtne2ps2bf16` way; a bf16 product rounds
/// both sides (so its error against `f32` is that of the rounding, not more).
#[test]
fn bf16_rounds_to_nearest_even() {
    let bits = |x: f32| bf16(x);
    assert_eq!(bits(1.0), 0x3f80);
    assert_eq!(bits(f32::from_bits(0x3f80_8000)), 0x3f80); // a tie, to the even 0x3f80
    assert_eq!(bits(f32::from_bits(0x3f81_8000)), 0x3f82); // a tie, to the even 0x3f82
    assert_eq!(bits(f32::from_bits(0x3f80_8001)), 0x3f81);
    assert_eq!(bits(-2.0), 0xc000);
    assert!(f32::from_bits(u32::from(bits(f32::NAN)) << 16).is_nan());
    if !Isa::best().has_avx512_bf16() {
        return;
    }
    let (m, k, n) = (3, 5, 40);
    let a: Vec<f32> = (0..m * k).map(|i| 1.0 + i as f32 / 97.0).collect();
    let w: Vec<f32> = (0..k * n).map(|i| 0.5 - i as f32 / 389.0).collect();
    let round = |x: f32| f32::from_bits(u32::from(bf16(x)) << 16);
    let weights = StepWeights::with_kernel(&w, k, n, 0, n, true).in_bf16();
    let mut c = vec![0.0; m * n];
    // SAFETY: c is m×n, apart from a.
    unsafe { weights.product(Destination::of(&mut c, n), m, &a, Start::Zero, 0..n) };
    for i in 0..m {
        for j in 0..n {
            let rounded: f64 = (0..k)
                .map(|p| round(a[i * k + p]) as f64 * round(w[p * n + j]) as f64)
                .sum();
            let exact: f64 = (0..k)
                .map(|p| a[i * k + p] as f64 * w[p * n + j] as f64)
                .sum();
            assert!((c[i * n + j] as f64 - rounded).abs() < 1e-5, "({i}, {j})");
            assert!((c[i * n + j] as f64 - exact).abs() < 2e-2, "({i}, {j})");
        }
    }
}

/// Within `sharing_lhs`, bf16 products that share their left-hand sides (a step's gates,
/// with a second product each) give what they give alone.
#[test]
fn shared_left_hand_sides_give_the_same_products() {
    if !Isa::best().has_avx512_bf16() {
        return;
    }
    let (m, k, k2, n) = (11, 9, 6, 64);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.3 - 1.0).collect();
    let x: Vec<f32> = (0..m * k2).map(|i| (i % 5) as f32 * 0.7 - 1.5).collect();
    let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01).collect();
    let weight = |k: usize, seed: usize| -> Vec<f32> {
        (0..k * n)
            .map(|i| ((i * seed) % 13) as f32 * 0.1 - 0.6)
            .collect()
    };
    let gates: Vec<(StepWeights, StepWeights)> = (1..4)
        .map(|g| {
            let w = StepWeights::with_kernel(&weight(k, 2 * g + 1), k, n, 0, n, true);
            let u = StepWeights::with_kernel(&weight(k2, 3 * g + 2), k2, n, 0, n, true);
            (w.in_bf16(), u.in_bf16())
        })
        .collect();
    let run = |shared: bool| {
        let mut out = vec![vec![0.0; m * n]; gates.len()];
        let mut products = || {
            for ((w, u), c) in gates.iter().zip(&mut out) {
                let start = Start::Product {
                    a: &x,
                    weights: u,
                    bias: &bias,
                };
                // SAFETY: c is m×n, apart from a and x.
                unsafe { w.product(Destination::of(c, n), m, &a, start, 0..n) };
            }
        };
        match shared {
            // SAFETY: a and x do not change meanwhile.
            true => unsafe { StepWeights::sharing_lhs(products) },
            false => products(),
        }
        out
    };
    assert_eq!(run(true), run(false));
    // A panic inside ends the sharing too: a later product whose left-hand side lies at the
    // same address with other values is rounded again.
    let mut reused = a.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: nothing changes `reused` within; c is m×n, apart from it.
        unsafe {
            StepWeights::sharing_lhs(|| {
                let mut c = vec![0.0; m * n];
                let (w, _) = &gates[0];
                w.product(Destination::of(&mut c, n), m, &reused, Start::Zero, 0..n);
                panic!("a chunk fails")
            })
        }
    }));
    assert!(panicked.is_err());
    reused.iter_mut().for_each(|v| *v += 1.0);
    let (w, _) = &gates[0];
    let product = |lhs: &[f32]| {
        let mut c = vec![0.0; m * n];
        // SAFETY: c is m×n, apart from lhs.
        unsafe { w.product(Destination::of(&mut c, n), m, lhs, Start::Zero, 0..n) };
        c
    };
    assert_eq!(product(&reused), product(&reused.clone()));
}

/// A gate's block packs that block: its products equal those of the block copied out.
#[test]
fn gate_blocks_multiply_their_own_columns() {
    let (m, k, n) = (5, 9, 40);
    let w: Vec<f32> = (0..k * 3 * n)
        .map(|i| ((i * 5) % 11) as f32 - 5.0)
        .collect();
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    for (g, gate) in StepWeights::gates(&w, k, 3, n, Isa::best())
        .iter()
        .enumerate()
    {
        let mut c = vec![0.0; m * n];
        let dst = Destination::of(&mut c, n);
        // SAFETY: c is m×n, apart from a.
        unsafe { gate.product(dst, m, &a, Start::Zero, 0..n) };
        for i in 0..m {
            for j in 0..n {
                let expected: f32 = (0..k)
                    .map(|p| a[i * k + p] * w[p * 3 * n + g * n + j])
                    .sum();
                assert_eq!(c[i * n + j], expected);
            }
        }
    }
}

/// The chunks' column ranges cover `0..n` in whole panels, in order, without overlap.
#[test]
fn columns_split_whole_panels() {
    for (n, count) in [(32, 2), (100, 2), (512, 2), (512, 3), (2048, 16), (40, 4)] {
        let mut next = 0;
        for index in 0..count {
            let columns = StepWeights::columns(n, index, count);
            assert_eq!(columns.start, next);
            assert!(columns.start.is_multiple_of(PANEL));
            next = columns.end;
        }
        assert_eq!(next, n);
    }
}
