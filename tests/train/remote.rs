//! Training on a device another process hosts (burn-remote over WebSocket, on 127.0.0.1): a
//! server on flex in this process, a client device connected to it, and the same run trained
//! locally. Each layer-direction's scan crosses the connection as one custom operation forward
//! and one backward (the server runs its native scan), as it runs locally: the losses agree to
//! float rounding, for every cell and for a stacked, bidirectional, projected, layer-normalised
//! LSTM.

use burn::tensor::Device;
use burn_rnn::data::synth::SineConfig;
use burn_rnn::model::{
    CellKind, ElmanActivation, RecurrentConfig, SequenceModelConfig, remote_scans_sent,
};
use burn_rnn::train::{LrSchedule, Objective, RunDir, TrainedRun, TrainingConfig, remote, train};

use crate::QUIET;

/// A flex server on a free port of 127.0.0.1, in this process, with `token`; its port.
fn serve(token: &'static str) -> u16 {
    let (ready, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        remote::serve(Device::flex(), 0, Some(token), |port| {
            ready.send(port).unwrap()
        })
        .unwrap()
    });
    port.recv().unwrap()
}

fn run(config: &TrainingConfig, device: &Device) -> TrainedRun {
    let data = SineConfig {
        samples: 24,
        steps: 12,
        ..SineConfig::default()
    }
    .generate()
    .unwrap()
    .next_value_dataset()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (train_set, valid_set) = (
        data.subset(&(0..18).collect::<Vec<_>>()).unwrap(),
        data.subset(&(18..24).collect::<Vec<_>>()).unwrap(),
    );
    train(
        config,
        &train_set,
        &valid_set,
        &RunDir::new(dir.path()),
        device,
        QUIET,
    )
    .unwrap()
}

#[test]
fn a_remote_flex_device_trains_as_local_flex_does() {
    let port = serve("t0ken");
    let address = format!("ws://127.0.0.1:{port}");
    let device = remote::connect(&address, Some("t0ken")).unwrap();
    let recurrent = [
        RecurrentConfig::new(1, 8).with_cell(CellKind::Gru),
        RecurrentConfig::new(1, 8).with_cell(CellKind::Elman(ElmanActivation::Tanh)),
        RecurrentConfig::new(1, 8)
            .with_cell(CellKind::Lstm)
            .with_num_layers(2)
            .with_bidirectional(true)
            .with_proj_size(5)
            .with_layer_norm(true),
    ];
    for recurrent in recurrent {
        let config = TrainingConfig::new(
            SequenceModelConfig::new(recurrent, 1),
            Objective::Regression,
        )
        .with_num_epochs(3)
        .with_batch_size(6)
        .with_lr_schedule(LrSchedule::Constant)
        .with_early_stopping_patience(None)
        .with_seed(3);
        let sent = remote_scans_sent();
        let (remote_run, local_run) = {
            let _seed = crate::multi_device::flex_seed();
            (run(&config, &device), run(&config, &Device::flex()))
        };
        // Per epoch 3 training batches (forward and backward) and a validation batch (forward),
        // for each layer-direction: 21 scans over 3 epochs.
        let sent = remote_scans_sent() - sent;
        let directions =
            config.model.recurrent.num_layers * (1 + config.model.recurrent.bidirectional as usize);
        assert!(
            sent >= 21 * directions as u64,
            "{sent} scans crossed the connection"
        );
        assert_eq!(remote_run.history.len(), 3);
        for (r, l) in remote_run.history.iter().zip(&local_run.history) {
            let (a, b) = (r.valid_loss, l.valid_loss);
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                "{:?}: {a} vs {b}",
                config.model.recurrent
            );
        }
        let first = remote_run.history[0].train_loss;
        let last = remote_run.history[2].train_loss;
        assert!(last < first, "training lowered the loss: {first} → {last}");
    }

    let wrong = remote::connect(&address, Some("wrong"))
        .map(|_| ())
        .unwrap_err();
    assert!(wrong.to_string().contains("cannot connect"), "{wrong}");
}
