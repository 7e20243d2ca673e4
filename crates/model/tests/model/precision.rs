//! bf16 inference on the CPU (`set_inference_precision`): close to `f32` on every cell and
//! option, actually in bf16, and confined to inference passes on the thread that asks.

use burn_rnn_model::{InferencePrecision, inference_precision, set_inference_precision};

use super::*;

/// Every value of an inference pass: the output and the final states.
fn pass(rnn: &Recurrent, x: &Tensor<3>, lengths: Option<&[usize]>) -> Vec<f32> {
    let out = rnn.forward(x.clone(), None, lengths).unwrap();
    let mut all = values(out.output);
    all.extend(values(out.state.hidden));
    if let Some(cell) = out.state.cell {
        all.extend(values(cell));
    }
    all
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Runs `check` with bf16 set on this thread (when the CPU has it; else checks the error and
/// that nothing changed), then sets `f32` back.
fn with_bf16(check: impl FnOnce()) -> bool {
    match set_inference_precision(InferencePrecision::Bf16) {
        Ok(()) => {
            check();
            set_inference_precision(InferencePrecision::F32).unwrap();
            true
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("AVX512-BF16"), "{message}");
            assert_eq!(inference_precision(), InferencePrecision::F32);
            false
        }
    }
}

/// Each cell, stacked, bidirectional and padded, and an LSTM with a projection: bf16 inference
/// stays within 1e-2 of `f32` (4e-3 measured) on states in `[-1, 1]` (an LSTM's cell state a
/// little beyond) and differs from it (the products really are in bf16); layer norm's scans
/// stay `f32` exactly; and `f32` set back gives the `f32` numbers exactly. The shapes are
/// large enough for the team of threads.
#[test]
fn bf16_inference_stays_close_to_f32() {
    let device = Device::flex();
    let (batch, steps, features, hidden) = (48, 7, 5, 40);
    let lengths: Vec<usize> = (0..batch).map(|b| [7, 3, 1, 6][b % 4]).collect();
    let mut configs: Vec<(String, RecurrentConfig)> = all_cells()
        .into_iter()
        .map(|cell| {
            let config = RecurrentConfig::new(features, hidden)
                .with_cell(cell)
                .with_num_layers(2)
                .with_bidirectional(true);
            (cell.name().to_string(), config)
        })
        .collect();
    let lstm = RecurrentConfig::new(features, hidden).with_cell(CellKind::Lstm);
    configs.push(("projected lstm".into(), lstm.clone().with_proj_size(24)));
    configs.push(("layer-norm lstm".into(), lstm.with_layer_norm(true)));
    let gru = RecurrentConfig::new(features, hidden).with_cell(CellKind::Gru);
    configs.push(("layer-norm gru".into(), gru.with_layer_norm(true)));
    for (name, config) in configs {
        let layer_norm = name.starts_with("layer-norm");
        device.seed(3);
        let rnn = config.init(&device).unwrap();
        let x = random_input(batch, steps, features, &device);
        for lengths in [None, Some(&lengths[..])] {
            let what = format!("{name}, padded {}", lengths.is_some());
            let f32s = pass(&rnn, &x, lengths);
            let ran = with_bf16(|| {
                let bf16s = pass(&rnn, &x, lengths);
                let difference = largest_difference(&f32s, &bf16s);
                match layer_norm {
                    true => assert_eq!(difference, 0.0, "{what}: layer norm stays f32"),
                    false => {
                        assert!(
                            difference > 0.0,
                            "{what}: the bf16 pass gave the f32 numbers"
                        );
                        assert!(difference < 1e-2, "{what}: bf16 {difference} from f32");
                    }
                }
            });
            assert_eq!(
                pass(&rnn, &x, lengths),
                f32s,
                "{what}: f32 again (ran bf16: {ran})"
            );
        }
    }
}

/// bf16 applies to inference passes only: with it set, an autodiff (training) pass gives the
/// `f32` numbers exactly and other threads stay in `f32`; a streamed step of two sequences is
/// in bf16 too, and `f32` set back gives its `f32` numbers (not the bf16 pairs kept for the
/// next step).
#[test]
fn bf16_leaves_training_and_other_threads_in_f32() {
    let device = Device::flex();
    device.seed(5);
    let train = device.clone().autodiff();
    let rnn = RecurrentConfig::new(4, 64)
        .with_cell(CellKind::Lstm)
        .init(&train)
        .unwrap();
    let x = random_input(32, 6, 4, &train);
    let trained = values(rnn.forward(x.clone(), None, None).unwrap().output);
    let inference = rnn.valid();
    let f32s = pass(&inference, &x.clone().inner(), None);
    with_bf16(|| {
        let again = values(rnn.forward(x.clone(), None, None).unwrap().output);
        assert_eq!(again, trained, "an autodiff pass under bf16");
        let elsewhere = std::thread::scope(|scope| {
            scope
                .spawn(|| pass(&inference, &x.clone().inner(), None))
                .join()
                .unwrap()
        });
        assert_eq!(elsewhere, f32s, "another thread's inference pass");
        assert_ne!(pass(&inference, &x.clone().inner(), None), f32s);
        // A streamed step of two sequences is in bf16 too (its pairs kept for the next step),
        // and f32 set back gives the f32 numbers (not the kept pairs).
        let step = x.clone().inner().slice([0..2, 0..1, 0..4]).reshape([2, 4]);
        let (y, _) = inference.step(step.clone(), None).unwrap();
        set_inference_precision(InferencePrecision::F32).unwrap();
        let (f32_y, _) = inference.step(step.clone(), None).unwrap();
        set_inference_precision(InferencePrecision::Bf16).unwrap();
        let (y_again, _) = inference.step(step, None).unwrap();
        let (y, f32_y) = (values(y), values(f32_y));
        assert_ne!(y, f32_y, "a streamed step of two sequences");
        assert!(largest_difference(&y, &f32_y) < 1e-2);
        assert_eq!(values(y_again), y);
    });
}
