//! The native scan against the tensor scan, for every cell, with the row kernels compiled for
//! every instruction set this CPU runs (the portable one included), and with the packed
//! product kernel and its `gemm` fallback; with layer norm too.

use burn::tensor::{Device, Tensor, TensorData};

use super::simd::Isa;
use super::split::Split;
use super::{Backward, InputMemory, forward_cell};
use crate::cells::{CellKind, StateNorm, with_cell};
use crate::drivers::scan::{
    DeferredInput, InputPart, ScanGrads, ScanInputs, ScanNorm, ScanRecord, ScanSpec, ScanWeights,
    Wanted,
};
use crate::drivers::tensor_scan;

/// Deterministic values in `[-scale, scale)` (no shared RNG between parallel tests).
fn values<const D: usize>(shape: [usize; D], seed: u64, scale: f32) -> Tensor<D> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), &Device::flex())
}

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Fails unless `a` and `b` agree within `2e-5` of the larger magnitude seen.
fn assert_close(what: &str, a: Tensor<3>, b: Tensor<3>) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let (a, b) = (read(a), read(b));
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 2e-5 * scale,
        "{what}: off by {worst:e} (scale {scale})"
    );
}

fn three<const D: usize>(t: Tensor<D>) -> Tensor<3> {
    let n = t.dims().iter().product();
    t.reshape([1, 1, n])
}

/// A scan's gradients by name, each as `[1, 1, n]` (or `[T, B, width]`).
fn listed(grads: ScanGrads) -> [(&'static str, Option<Tensor<3>>); 9] {
    [
        ("xp", grads.xp),
        ("w", grads.w.map(three)),
        ("bias", grads.bias.map(three)),
        ("h0", grads.h0.map(three)),
        ("c0", grads.c0.map(three)),
        ("projection", grads.projection.map(three)),
        ("hidden_gain", grads.hidden_gain.map(three)),
        ("state_gain", grads.state_gain.map(three)),
        ("state_bias", grads.state_bias.map(three)),
    ]
}

/// One scan's shape: steps, batch, hidden units, and the projection's size (LSTM).
#[derive(Clone, Copy, Debug)]
struct Case {
    steps: usize,
    batch: usize,
    hidden: usize,
    projection: Option<usize>,
}

#[test]
fn every_instruction_set_matches_the_tensor_scan() {
    // One step and one sequence; ragged panels; a shape large enough for a team of threads;
    // LSTM projections too (a partial panel; more than one panel); recurrent dropout.
    let variants = [
        (false, false, false),
        (true, true, false),
        (false, true, false),
        (false, false, true),
        (true, true, true),
    ];
    check_every_cell(&[(1, 1, 5), (5, 3, 40), (7, 64, 72)], &variants, false);
}

/// Layer norm in the native scan against the tensor scan's, for every cell: forward, the
/// tape and every gradient (the gains' and the state bias's too), reversed, padded, masked,
/// projected; with more threads than sequences, and steps split by a team of threads.
#[test]
fn layer_norm_matches_the_tensor_scan() {
    let variants = [
        (false, false, false),
        (true, true, false),
        (false, true, true),
    ];
    let shapes = [(1, 1, 5), (5, 3, 40), (3, 1, 300), (7, 64, 72)];
    check_every_cell(&shapes, &variants, true);
}

/// [`check`] for every cell with a hidden weight (projected too where it can be), every
/// `(steps, batch, hidden)` of `shapes` and every `(reverse, padded, masked)` of `variants`.
fn check_every_cell(shapes: &[(usize, usize, usize)], variants: &[(bool, bool, bool)], norm: bool) {
    for &(steps, batch, hidden) in shapes {
        for cell in CellKind::ALL
            .into_iter()
            .filter(CellKind::has_hidden_weight)
        {
            let mut projections = vec![None];
            if cell.supports_projection() {
                projections.push(Some(hidden / 2 + 1));
            }
            for projection in projections {
                let case = Case {
                    steps,
                    batch,
                    hidden,
                    projection,
                };
                for &(reverse, padded, masked) in variants {
                    check(cell, case, reverse, padded, masked, norm);
                }
            }
        }
    }
}

/// The native scan, forward and backward, on every instruction set, against the tensor scan;
/// `masked`: with a recurrent dropout mask (`p = 0.3`); `normed`: under layer norm.
fn check(cell: CellKind, case: Case, reverse: bool, padded: bool, masked: bool, normed: bool) {
    let Case {
        steps,
        batch,
        hidden,
        projection,
    } = case;
    let state = projection.unwrap_or(hidden);
    let width = cell.gates() * hidden;
    let seed = (steps * 1000 + batch * 10 + hidden + state) as u64;
    let lengths: Vec<usize> = (0..batch).map(|b| 1 + (b * 7) % steps).collect();
    let valid = padded.then(|| {
        let v: Vec<f32> = (0..steps * batch)
            .map(|i| (i / batch < lengths[i % batch]) as u8 as f32)
            .collect();
        Tensor::from_data(TensorData::new(v, [steps, batch, 1]), &Device::flex())
    });
    let mask = masked.then(|| {
        let kept = read(values([batch, state], seed + 7, 1.0));
        let kept = kept.iter().map(|&v| if v < -0.4 { 0.0 } else { 1.0 / 0.7 });
        let kept: Vec<f32> = kept.collect();
        Tensor::from_data(TensorData::new(kept, [batch, state]), &Device::flex())
    });
    let spec = ScanSpec {
        cell,
        reverse,
        valid,
        mask,
    };
    // The input part from a layer's input, both computed before the scan and deferred to it
    // (not under layer norm, which normalises the computed part).
    let d_in = hidden / 2 + 3;
    let deferred = InputPart::Deferred(DeferredInput {
        x: values([steps, batch, d_in], seed, 1.0),
        w: values([d_in, width], seed + 11, 0.3),
        // Without `b_ih` in the reversed variants (a layer built without biases).
        bias: (cell.separate_biases() && !reverse).then(|| values([width], seed + 12, 0.5)),
    });
    let inputs = ScanInputs {
        xp: InputPart::Projected(deferred.projected()),
        w: values([state, width], seed + 1, 0.3),
        bias: values([width], seed + 2, 0.5),
        h0: values([batch, state], seed + 3, 0.5),
        c0: values([batch, hidden], seed + 4, 0.5),
        projection: projection.map(|_| values([hidden, state], seed + 6, 0.4)),
        // Gains around 1, biases around 0.
        norm: normed.then(|| ScanNorm {
            hidden_gain: values([width], seed + 8, 0.5) + 1.0,
            state: cell.has_cell_state().then(|| StateNorm {
                gain: values([hidden], seed + 9, 0.5) + 1.0,
                bias: values([hidden], seed + 10, 0.5),
            }),
        }),
    };
    let weights = ScanWeights {
        w: inputs.w.clone(),
        h0: inputs.h0.clone(),
        c0: inputs.c0.clone(),
        projection: inputs.projection.clone(),
        norm: inputs.norm.clone(),
    };
    let grad = values([inputs.layout(cell).len()], seed + 5, 1.0);
    let wanted = Wanted {
        xp: true,
        w: true,
        bias: true,
        h0: true,
        c0: cell.has_cell_state(),
        projection: projection.is_some(),
        hidden_gain: normed,
        state_gain: normed && cell.has_cell_state(),
        state_bias: normed && cell.has_cell_state(),
    };
    let (expected, tape) = with_cell!(cell, c: C => {
        tensor_scan::forward(c, &spec, &inputs, true)
    });
    let record = |tape| ScanRecord {
        spec: spec.clone(),
        weights: weights.clone(),
        tape,
    };
    let expected_grads = listed(with_cell!(cell, c: C => {
        tensor_scan::backward(c, &record(tape), grad.clone(), wanted)
    }));
    // The entry point that the fused path calls runs it natively (`None`: declined).
    assert!(super::forward(&spec, &inputs, false).is_some());
    let mut parts = vec![inputs.clone()];
    if !normed {
        parts.push(ScanInputs {
            xp: deferred,
            ..inputs.clone()
        });
        assert!(super::forward(&spec, &parts[1], false).is_some());
    }
    // Both splits, the tape kept and not.
    let splits = [Split::Units, Split::Rows(8)];
    let runs = parts.iter().flat_map(|inputs| {
        let isas = Isa::available();
        isas.into_iter()
            .flat_map(move |isa| splits.map(|split| (inputs, isa, split)))
    });
    for (inputs, isa, split) in runs {
        let (memory, shape) = InputMemory::of(&spec, inputs).unwrap();
        let deferred = matches!(inputs.xp, InputPart::Deferred(_));
        let what = |part: &str| {
            format!(
                "{} {case:?} reverse {reverse} padded {padded} masked {masked} normed {normed} \
                 deferred {deferred} {isa:?} {split:?}: {part}",
                cell.name()
            )
        };
        let (out, tape) = with_cell!(cell, c: C => {
            forward_cell(c, isa, &shape, &memory, true, Some(split))
        });
        assert_close(&what("output"), three(out), three(expected.clone()));
        let (out, _) = with_cell!(cell, c: C => {
            forward_cell(c, isa, &shape, &memory, false, Some(split))
        });
        assert_close(
            &what("output, tape not kept"),
            three(out),
            three(expected.clone()),
        );
        let grads =
            Backward::of(&record(tape))
                .unwrap()
                .run_with(isa, grad.clone(), wanted, Some(split));
        let pairs = listed(grads).into_iter().zip(expected_grads.clone());
        for ((name, got), (_, want)) in pairs {
            match (got, want) {
                (Some(got), Some(want)) => assert_close(&what(name), got, want),
                (None, None) => {}
                (got, _) => panic!("{}: computed {}", what(name), got.is_some()),
            }
        }
    }
}
