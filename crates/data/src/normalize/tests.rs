use super::*;
use crate::dataset::SequenceSample;
use proptest::prelude::*;

fn sample(values: Vec<f32>, length: usize, target: Target) -> SequenceSample {
    SequenceSample {
        id: "s".into(),
        values,
        length,
        target,
    }
}

/// Two samples, T = 2, D = 2; the second has one valid step and a padding step of 999s.
fn data() -> SequenceDataset {
    SequenceDataset::new(
        vec![
            sample(vec![1.0, 10.0, 3.0, 10.0], 2, Target::Regression(vec![2.0])),
            sample(
                vec![5.0, 10.0, 999.0, 999.0],
                1,
                Target::Regression(vec![6.0]),
            ),
        ],
        2,
        2,
        TargetKind::Regression { outputs: 1 },
    )
    .unwrap()
}

#[test]
fn zscore_counts_valid_steps_and_keeps_padding() {
    let norm = Normalizer::fit(&data(), NormalizationKind::ZScore, true).unwrap();
    // Feature 0 over valid steps: 1, 3, 5 → mean 3, population std sqrt(8/3).
    assert!((norm.features.offset[0] - 3.0).abs() < 1e-12);
    assert!((norm.features.scale[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
    // Feature 1 is constant: scale 1, maps to 0.
    assert_eq!(norm.features.scale[1], 1.0);
    let targets = norm.targets.as_ref().unwrap();
    assert_eq!((targets.offset[0], targets.scale[0]), (4.0, 2.0));
    let applied = norm.apply(&data()).unwrap();
    let second = &applied.samples()[1];
    assert_eq!(&second.values[2..], &[0.0, 0.0], "padding stays 0");
    assert_eq!(second.values[1], 0.0);
    assert_eq!(second.target, Target::Regression(vec![1.0]));
    let back = norm.denormalize_targets(&[1.0, -1.0]).unwrap();
    assert_eq!(back, vec![6.0, 2.0]);
}

#[test]
fn minmax_maps_training_data_to_unit_range() {
    let norm = Normalizer::fit(&data(), NormalizationKind::MinMax, false).unwrap();
    assert!(norm.targets.is_none());
    let applied = norm.apply(&data()).unwrap();
    assert_eq!(applied.samples()[0].values, vec![0.0, 0.0, 0.5, 0.0]);
    assert_eq!(applied.samples()[1].values[0], 1.0);
    // Targets untouched, denormalize_targets is the identity.
    assert_eq!(applied.samples()[1].target, Target::Regression(vec![6.0]));
    assert_eq!(norm.denormalize_targets(&[3.5]).unwrap(), vec![3.5]);
    assert_eq!(
        norm.denormalize_features(&[0.5, 7.0]).unwrap(),
        vec![3.0, 17.0]
    );
    assert!(norm.denormalize_features(&[0.5]).is_err());
}

#[test]
fn per_step_targets_use_valid_steps_only() {
    let data = SequenceDataset::new(
        vec![
            sample(vec![0.0, 0.0], 2, Target::PerStep(vec![1.0, 3.0])),
            sample(vec![0.0, 0.0], 1, Target::PerStep(vec![5.0, 100.0])),
        ],
        2,
        1,
        TargetKind::PerStep { outputs: 1 },
    )
    .unwrap();
    let norm = Normalizer::fit(&data, NormalizationKind::MinMax, true).unwrap();
    let t = norm.targets.as_ref().unwrap();
    assert_eq!((t.offset[0], t.scale[0]), (1.0, 4.0));
    let applied = norm.apply(&data).unwrap();
    assert_eq!(applied.samples()[1].target, Target::PerStep(vec![1.0, 0.0]));
}

#[test]
fn json_round_trip_and_errors() {
    let norm = Normalizer::fit(&data(), NormalizationKind::ZScore, true).unwrap();
    let json = norm.to_json().unwrap();
    assert_eq!(Normalizer::from_json(&json).unwrap(), norm);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("normalizer.json");
    norm.save(&path).unwrap();
    assert_eq!(Normalizer::load(&path).unwrap(), norm);
    assert!(Normalizer::from_json("{").is_err());
    let mut broken = norm.clone();
    broken.features.scale[0] = 0.0;
    assert!(Normalizer::from_json(&broken.to_json().unwrap()).is_err());

    let classes = SequenceDataset::new(
        vec![sample(vec![0.0, 1.0], 2, Target::Class(0))],
        2,
        1,
        TargetKind::Classification { classes: 2 },
    )
    .unwrap();
    assert!(Normalizer::fit(&classes, NormalizationKind::ZScore, true).is_err());
    let features_only = Normalizer::fit(&classes, NormalizationKind::ZScore, false).unwrap();
    assert!(features_only.apply(&data()).is_err(), "D differs");
    assert!(norm.apply(&classes).is_err());
}

proptest! {
    #[test]
    fn normalize_then_denormalize_is_identity(
        rows in prop::collection::vec(prop::collection::vec(-1.0e4f32..1.0e4, 3), 1..40),
        minmax in any::<bool>(),
    ) {
        let kind = if minmax { NormalizationKind::MinMax } else { NormalizationKind::ZScore };
        let n = rows.len();
        let flat: Vec<f32> = rows.concat();
        let samples = rows
            .iter()
            .map(|r| sample(r[..2].to_vec(), 1, Target::Regression(vec![r[2]])))
            .collect();
        let data = SequenceDataset::new(samples, 1, 2, TargetKind::Regression { outputs: 1 }).unwrap();
        let norm = Normalizer::fit(&data, kind, true).unwrap();
        let applied = norm.apply(&data).unwrap();
        for i in 0..n {
            let s = &applied.samples()[i];
            let back = norm.denormalize_features(&s.values).unwrap();
            let Target::Regression(t) = &s.target else { unreachable!() };
            let back_t = norm.denormalize_targets(t).unwrap();
            let original = &flat[i * 3..i * 3 + 3];
            for (c, (&x, &y)) in original.iter().zip(back.iter().chain(&back_t)).enumerate() {
                let offset = if c < 2 { norm.features.offset[c] } else { norm.targets.as_ref().unwrap().offset[0] };
                let tolerance = 1e-6 * (1.0 + x.abs() as f64 + offset.abs());
                prop_assert!(((x - y).abs() as f64) <= tolerance, "column {c}: {x} → {y}");
            }
        }
    }
}
