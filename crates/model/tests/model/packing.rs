//! Inference passes keep their packed weights for the next pass (the native scan's cache):
//! streamed steps must still follow the weights a model has now, whatever became of the
//! weights before.

use burn::optim::{GradientsParams, SgdConfig};

use super::*;

/// One streamed step of `rnn` against its step-by-step reference (tensor operations, no
/// packing).
fn step_matches_reference(rnn: &Recurrent, x: &Tensor<2>, what: &str) -> Vec<f32> {
    let (streamed, _) = rnn.step(x.clone(), None).unwrap();
    let reference = rnn
        .forward_step_by_step(x.clone().unsqueeze_dim(1), None, None, None)
        .unwrap();
    let streamed = values(streamed);
    assert_close(what, &streamed, &values(reference.output), 1e-6);
    streamed
}

/// Models made and dropped one after the other: their weights' memory is freed and taken
/// again by the next model's, and no step sees the packing of an earlier model.
#[test]
fn steps_of_successive_models_use_their_own_weights() {
    let device = Device::flex();
    for cell in all_cells() {
        let mut previous: Option<Vec<f32>> = None;
        for round in 0..12 {
            let rnn = RecurrentConfig::new(5, 24)
                .with_cell(cell)
                .with_num_layers(2)
                .init(&device)
                .unwrap();
            let x = Tensor::<2>::ones([3, 5], &device);
            let what = format!("{} round {round}", cell.name());
            let y = step_matches_reference(&rnn, &x, &what);
            // Twice: the second step takes the kept packing.
            assert_eq!(step_matches_reference(&rnn, &x, &what), y);
            assert_ne!(
                previous.as_ref(),
                Some(&y),
                "{what}: the same output as before"
            );
            previous = Some(y);
        }
    }
}

/// A model updated by an optimizer streams with its new weights, and the model before the
/// update, still held, with its old ones.
#[test]
fn steps_follow_an_optimizer_update() {
    let device = Device::flex().autodiff();
    let rnn = RecurrentConfig::new(4, 16)
        .with_cell(CellKind::Lstm)
        .init(&device)
        .unwrap();
    let x = random_input(3, 5, 4, &device);
    let step = x.clone().inner().slice([0..3, 0..1, 0..4]).reshape([3, 4]);
    let before = rnn.valid();
    let y_before = step_matches_reference(&before, &step, "before the update");
    let loss = rnn
        .forward(x, None, None)
        .unwrap()
        .output
        .powf_scalar(2.0)
        .sum();
    let grads = GradientsParams::from_grads(loss.backward(), &rnn);
    let updated = SgdConfig::new().init().step(0.5, rnn, grads).valid();
    let y_after = step_matches_reference(&updated, &step, "after the update");
    assert_ne!(y_after, y_before);
    assert_eq!(
        step_matches_reference(&before, &step, "the old model again"),
        y_before
    );
}

/// Threads streaming the same model and models of their own at once, sharing the cache: every
/// step gives the numbers of the same step run alone.
#[test]
fn threads_streaming_at_once_share_the_packing() {
    let device = Device::flex();
    let shared = RecurrentConfig::new(5, 40)
        .with_cell(CellKind::Gru)
        .init(&device)
        .unwrap();
    let x = Tensor::<2>::ones([2, 5], &device);
    let alone = step_matches_reference(&shared, &x, "alone");
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (shared, x, alone) = (&shared, &x, &alone);
            scope.spawn(move || {
                for round in 0..20 {
                    let what = format!("thread {thread} round {round}");
                    let (y, _) = shared.step(x.clone(), None).unwrap();
                    assert_eq!(values(y), *alone, "{what}: the shared model");
                    // A model of this thread's own, made and dropped meanwhile.
                    let own = RecurrentConfig::new(5, 40)
                        .with_cell(CellKind::Lstm)
                        .init(&x.device())
                        .unwrap();
                    step_matches_reference(&own, x, &what);
                }
            });
        }
    });
}
