//! Training on a device another process hosts (burn-remote over WebSocket, on 127.0.0.1): a
//! server on flex in this process, a client device connected to it, and the same run trained
//! locally. The recurrence runs as the tensor scan on the remote device (operation by operation
//! over the connection) and natively on local flex: the weights agree to float rounding.

use burn::tensor::Device;
use burn_rnn::data::synth::SineConfig;
use burn_rnn::model::{CellKind, RecurrentConfig, SequenceModelConfig};
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
    let config = TrainingConfig::new(
        SequenceModelConfig::new(RecurrentConfig::new(1, 8).with_cell(CellKind::Gru), 1),
        Objective::Regression,
    )
    .with_num_epochs(3)
    .with_batch_size(6)
    .with_lr_schedule(LrSchedule::Constant)
    .with_early_stopping_patience(None)
    .with_seed(3);
    let (remote_run, local_run) = {
        let _seed = crate::multi_device::flex_seed();
        (run(&config, &device), run(&config, &Device::flex()))
    };
    assert_eq!(remote_run.history.len(), 3);
    for (r, l) in remote_run.history.iter().zip(&local_run.history) {
        let (a, b) = (r.valid_loss, l.valid_loss);
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
    }
    let first = remote_run.history[0].train_loss;
    let last = remote_run.history[2].train_loss;
    assert!(last < first, "training lowered the loss: {first} → {last}");

    let wrong = remote::connect(&address, Some("wrong"))
        .map(|_| ())
        .unwrap_err();
    assert!(wrong.to_string().contains("cannot connect"), "{wrong}");
}
