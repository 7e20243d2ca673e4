//! Training on a device another process hosts (burn-remote over WebSocket, on 127.0.0.1): a
//! server on flex in this process, a client device connected to it, and the same run trained
//! locally. Each layer-direction's scan crosses the connection as one custom operation forward
//! and one backward (the server runs its native scan), as it runs locally: the losses agree to
//! float rounding, for every cell and for a stacked, bidirectional, projected, layer-normalised
//! LSTM.

use burn::tensor::Device;
use burn_rnn::data::synth::SineConfig;
use burn_rnn::model::{
    CellKind, ElmanActivation, RecurrentConfig, SequenceModelConfig, gpu_kernel_launches,
    remote_scans_sent,
};
use burn_rnn::train::{LrSchedule, Objective, RunDir, TrainedRun, TrainingConfig, remote, train};

use crate::QUIET;

/// A server of `device` on a free port of 127.0.0.1, in this process, with `token`; its port.
fn serve(device: Device, token: &'static str) -> u16 {
    let (ready, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        remote::serve(device, 0, Some(token), |port| ready.send(port).unwrap()).unwrap()
    });
    port.recv().unwrap()
}

/// A regression run's settings, 3 epochs.
fn config(recurrent: RecurrentConfig) -> TrainingConfig {
    TrainingConfig::new(
        SequenceModelConfig::new(recurrent, 1),
        Objective::Regression,
    )
    .with_num_epochs(3)
    .with_batch_size(6)
    .with_lr_schedule(LrSchedule::Constant)
    .with_early_stopping_patience(None)
    .with_seed(3)
}

/// The validation losses of two runs agree within `tolerance` (relative).
fn assert_same_losses(a: &TrainedRun, b: &TrainedRun, tolerance: f64, what: &str) {
    assert_eq!(a.history.len(), b.history.len());
    for (r, l) in a.history.iter().zip(&b.history) {
        let (a, b) = (r.valid_loss, l.valid_loss);
        assert!(
            (a - b).abs() <= tolerance * b.abs().max(1.0),
            "{what}: {a} vs {b}"
        );
    }
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
    let port = serve(Device::flex(), "t0ken");
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
        let config = config(recurrent);
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
        let what = format!("{:?}", config.model.recurrent);
        assert_same_losses(&remote_run, &local_run, 1e-4, &what);
        let first = remote_run.history[0].train_loss;
        let last = remote_run.history[2].train_loss;
        assert!(last < first, "training lowered the loss: {first} → {last}");
    }

    let wrong = remote::connect(&address, Some("wrong"))
        .map(|_| ())
        .unwrap_err();
    assert!(wrong.to_string().contains("cannot connect"), "{wrong}");
}

/// A wgpu server (lavapipe here) runs the scans that cross with its CubeCL kernels, and trains as
/// local wgpu does.
#[test]
fn a_remote_wgpu_device_runs_the_scans_with_the_gpu_kernels() {
    let Some((_, wgpu)) = crate::common::backends()
        .into_iter()
        .find(|(backend, _)| backend.is_gpu())
    else {
        eprintln!("no wgpu adapter: the remote wgpu server is not tested here");
        return;
    };
    let port = serve(wgpu.clone(), "gpu");
    let device = remote::connect(&format!("ws://127.0.0.1:{port}"), Some("gpu")).unwrap();
    let config = config(RecurrentConfig::new(1, 8).with_cell(CellKind::Lstm));
    let (sent, launches) = (remote_scans_sent(), gpu_kernel_launches());
    let remote_run = run(&config, &device);
    // 21 scans crossed; the server launched a kernel for each (one process: one counter).
    assert!(remote_scans_sent() - sent >= 21);
    assert!(gpu_kernel_launches() - launches >= 21);
    let local_run = run(&config, &wgpu);
    assert_same_losses(&remote_run, &local_run, 1e-3, "LSTM on wgpu");
}
