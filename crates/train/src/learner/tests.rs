use burn_rnn_data::{SequenceDataset, SequenceSample, Target, TargetKind};
use burn_rnn_model::{RecurrentConfig, SequenceModelConfig};

use super::*;

/// Two samples of two steps with two features, regression targets.
fn data() -> SequenceDataset {
    let sample = |values: Vec<f32>, target: f32| SequenceSample {
        id: format!("s{target}"),
        values,
        length: 2,
        target: Target::Regression(vec![target]),
    };
    SequenceDataset::new(
        vec![
            sample(vec![1.0, 0.0, 0.0, 1.0], 3.0),
            sample(vec![0.0, 1.0, 1.0, 0.0], 5.0),
        ],
        2,
        2,
        TargetKind::Regression { outputs: 1 },
    )
    .unwrap()
}

fn config() -> TrainingConfig {
    TrainingConfig::new(
        SequenceModelConfig::new(RecurrentConfig::new(2, 4), 1),
        Objective::Regression,
    )
}

#[test]
fn inputs_pass_through_unscaled_when_normalisation_is_off() {
    let data = data();
    let on = fit_normalizer(&config(), &data).unwrap();
    assert_eq!(on.features.offset, vec![0.5, 0.5]);
    let off = fit_normalizer(&config().with_normalize_inputs(false), &data).unwrap();
    assert_eq!(off.features.offset, vec![0.0, 0.0]);
    assert_eq!(off.features.scale, vec![1.0, 1.0]);
    assert_eq!(off.normalize_features(&[1.0, 0.0]).unwrap(), vec![1.0, 0.0]);
    // Targets are still z-scored (mean 4, standard deviation 1).
    assert_eq!(off.targets, on.targets);
    assert_eq!(off.normalize_targets(&[5.0]).unwrap(), vec![1.0]);
}
