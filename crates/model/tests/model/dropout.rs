//! Dropout between layers and recurrent dropout inside the scan.

use super::*;
use crate::errors::expect_err;

#[test]
pub(crate) fn dropout_acts_only_while_training() {
    let device = Device::flex();
    let rnn = RecurrentConfig::new(3, 8)
        .with_num_layers(2)
        .with_dropout(0.5)
        .init(&device.clone().autodiff())
        .unwrap();
    let x = random_input(4, 6, 3, &device.clone().autodiff());
    let a = values(rnn.forward(x.clone(), None, None).unwrap().output);
    let b = values(rnn.forward(x.clone(), None, None).unwrap().output);
    assert_ne!(
        a, b,
        "dropout draws a new mask per forward pass while training"
    );
    let eval = rnn.valid();
    let x = x.inner();
    let c = values(eval.forward(x.clone(), None, None).unwrap().output);
    let d = values(eval.forward(x, None, None).unwrap().output);
    assert_eq!(c, d, "no dropout at inference");
}

/// Recurrent dropout while training: each sequence drops a unit of the state entering `W_hh`
/// for all its steps, so no gradient flows through a dropped unit's recurrent weights. With
/// known masks (batch 1), row `k` of `∂W_hh` is zero exactly where unit `k` is dropped (and
/// `∂h_0[k]` too for Elman and LSTM, whose `h_0` enters only through `W_hh`), on every backend.
/// With the masks `forward` draws, about `p` of the rows are zero: were a mask drawn anew at
/// every step, a row would be zero only if dropped at all 12 steps (`p^12`).
#[test]
pub(crate) fn recurrent_dropout_keeps_one_mask_per_sequence_and_trains_only_kept_units() {
    let (p, hidden) = (0.4, 32);
    for (backend, device) in backends() {
        let train = device.clone().autodiff();
        for cell in [CellKind::default(), CellKind::Lstm, CellKind::Gru] {
            let rnn = RecurrentConfig::new(3, hidden)
                .with_cell(cell)
                .with_recurrent_dropout(p)
                .init(&train)
                .unwrap();
            let width = cell.gates() * hidden;
            let x = random_input(1, 12, 3, &train);
            // The units whose rows of `∂W_hh` (and entries of `∂h0`) are zero.
            let zero_rows = |masks: Option<&[Tensor<2>]>| {
                let start = || Tensor::<3>::ones([1, 1, hidden], &train).require_grad();
                let (h0, c0) = (start(), cell.has_cell_state().then(start));
                let state = Some(RecurrentState {
                    hidden: h0.clone(),
                    cell: c0,
                });
                let out = match masks {
                    Some(masks) => rnn.forward_with_masks(x.clone(), state, None, masks),
                    None => rnn.forward(x.clone(), state, None),
                };
                let grads = out.unwrap().output.sum().backward();
                let w = rnn.layers[0].hidden_weight.as_ref().unwrap().val();
                let gw = values(w.grad(&grads).unwrap());
                let gh0 = values(h0.grad(&grads).unwrap());
                let rows: Vec<bool> = (0..hidden)
                    .map(|k| gw[k * width..(k + 1) * width].iter().all(|g| *g == 0.0))
                    .collect();
                (rows, gh0)
            };
            let kept: Vec<f32> = (0..hidden)
                .map(|k| {
                    if k % 3 == 1 {
                        0.0
                    } else {
                        1.0 / (1.0 - p as f32)
                    }
                })
                .collect();
            let mask = Tensor::<2>::from_data(TensorData::new(kept.clone(), [1, hidden]), &train);
            let (rows, gh0) = zero_rows(Some(&[mask]));
            for k in 0..hidden {
                let what = format!("{} on {backend}, unit {k}", cell.name());
                assert_eq!(
                    rows[k],
                    kept[k] == 0.0,
                    "{what}: ∂W_hh row zero {}",
                    rows[k]
                );
                if cell != CellKind::Gru {
                    assert_eq!(gh0[k] == 0.0, kept[k] == 0.0, "{what}: ∂h0 {}", gh0[k]);
                }
            }
            let dropped: usize = (0..10)
                .map(|_| zero_rows(None).0.into_iter().filter(|&z| z).count())
                .sum();
            let fraction = dropped as f64 / (10 * hidden) as f64;
            assert!(
                (fraction - p).abs() < 0.2,
                "{} on {backend}: {fraction} of the units dropped, expected about {p}",
                cell.name()
            );
        }
    }
}

/// The masks recurrent dropout draws hold 0 and `1/(1 − p)`, about `p` of them 0, mean 1; in
/// inference none is drawn and the output is deterministic, equal to all-kept masks; given
/// masks apply in inference too (Monte-Carlo dropout); masks of the wrong count or shape are
/// errors that say so.
#[test]
pub(crate) fn recurrent_dropout_masks_apply_while_training_or_when_given() {
    let device = Device::flex();
    let train = device.clone().autodiff();
    let p = 0.25;
    let rnn = RecurrentConfig::new(3, 8)
        .with_cell(CellKind::Gru)
        .with_num_layers(2)
        .with_bidirectional(true)
        .with_recurrent_dropout(p)
        .init(&train)
        .unwrap();
    let masks = rnn
        .recurrent_masks(2000, &train)
        .expect("training draws masks");
    assert_eq!(masks.len(), 4);
    let all: Vec<f32> = masks.iter().flat_map(|m| values(m.clone())).collect();
    let kept = 1.0 / (1.0 - p as f32);
    assert!(all.iter().all(|&v| v == 0.0 || (v - kept).abs() < 1e-6));
    let zeros = all.iter().filter(|&&v| v == 0.0).count() as f64 / all.len() as f64;
    let mean = all.iter().map(|&v| v as f64).sum::<f64>() / all.len() as f64;
    assert!((zeros - p).abs() < 0.02, "{zeros} of the units dropped");
    assert!((mean - 1.0).abs() < 0.03, "mean {mean}");

    let x = random_input(2, 5, 3, &train);
    let a = values(rnn.forward(x.clone(), None, None).unwrap().output);
    let b = values(rnn.forward(x.clone(), None, None).unwrap().output);
    assert_ne!(a, b, "a new mask per forward pass while training");

    let eval = rnn.valid();
    let x = x.inner();
    assert!(eval.recurrent_masks(2, &device).is_none());
    let plain = values(eval.forward(x.clone(), None, None).unwrap().output);
    assert_eq!(
        plain,
        values(eval.forward(x.clone(), None, None).unwrap().output)
    );
    let ones = vec![Tensor::<2>::ones([2, 8], &device); 4];
    let all_kept = eval
        .forward_with_masks(x.clone(), None, None, &ones)
        .unwrap();
    assert_close("all kept", &values(all_kept.output), &plain, 1e-6);
    let drawn: Vec<Tensor<2>> = rnn
        .recurrent_masks(2, &train)
        .unwrap()
        .into_iter()
        .map(|m| m.inner())
        .collect();
    let monte_carlo = eval
        .forward_with_masks(x.clone(), None, None, &drawn)
        .unwrap();
    assert_ne!(values(monte_carlo.output), plain);

    expect_err(
        eval.forward_with_masks(x.clone(), None, None, &ones[..3]),
        &["3 recurrent dropout masks", "4 layer-directions"],
    );
    let wrong = vec![Tensor::<2>::ones([2, 7], &device); 4];
    expect_err(
        eval.forward_with_masks(x, None, None, &wrong),
        &["recurrent dropout mask 0", "[2, 8]", "[2, 7]"],
    );
}
