use super::*;

/// A sample for tests.
pub(crate) fn sample(id: &str, values: Vec<f32>, length: usize, target: Target) -> SequenceSample {
    SequenceSample {
        id: id.into(),
        values,
        length,
        target,
    }
}

#[test]
fn builds_and_indexes() {
    let data = SequenceDataset::new(
        vec![
            sample(
                "a",
                vec![1.0, 2.0, 3.0, 4.0],
                2,
                Target::Regression(vec![5.0]),
            ),
            sample(
                "b",
                vec![1.0, 2.0, 0.0, 0.0],
                1,
                Target::Regression(vec![6.0]),
            ),
        ],
        2,
        2,
        TargetKind::Regression { outputs: 1 },
    )
    .unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(Dataset::get(&data, 1).unwrap().id, "b");
    assert_eq!(data.subset(&[1]).unwrap().samples()[0].id, "b");
    assert!(data.subset(&[2]).is_err());
}

/// Two samples of three steps with two features and per-step targets.
fn per_step() -> SequenceDataset {
    let target = |v: f32| Target::PerStep(vec![v, v + 1.0, v + 2.0]);
    SequenceDataset::new(
        vec![
            sample("a", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, target(10.0)),
            sample("b", vec![7.0, 8.0, 0.0, 0.0, 0.0, 0.0], 1, target(20.0)),
        ],
        3,
        2,
        TargetKind::PerStep { outputs: 1 },
    )
    .unwrap()
}

#[test]
fn steps_leave_the_padding_out() {
    let data = per_step();
    assert_eq!(
        data.steps(0).unwrap(),
        vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]
    );
    assert_eq!(data.steps(1).unwrap(), vec![vec![7.0, 8.0]]);
    assert_eq!(data.sequences()[1], data.steps(1).unwrap());
    let err = data.steps(2).unwrap_err().to_string();
    assert!(err.contains("index 2"), "{err}");
}

#[test]
fn first_steps_cut_inputs_lengths_and_per_step_targets() {
    let first = per_step().first_steps(2).unwrap();
    assert_eq!(first.num_steps(), 2);
    let [a, b] = first.samples() else {
        panic!("two samples");
    };
    assert_eq!(a.values, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!((a.length, b.length), (2, 1));
    assert_eq!(a.target, Target::PerStep(vec![10.0, 11.0]));

    let class = SequenceDataset::new(
        vec![sample("c", vec![1.0, 2.0, 3.0], 3, Target::Class(1))],
        3,
        1,
        TargetKind::Classification { classes: 2 },
    )
    .unwrap();
    assert_eq!(
        class.first_steps(1).unwrap().samples()[0].target,
        Target::Class(1)
    );
    for steps in [0, 4] {
        let err = class.first_steps(steps).unwrap_err().to_string();
        assert!(err.contains("1..=3"), "{err}");
    }
}

#[test]
fn rejects_bad_samples() {
    let kind = TargetKind::Regression { outputs: 1 };
    let ragged = sample("r", vec![1.0; 3], 2, Target::Regression(vec![0.0]));
    let err = SequenceDataset::new(vec![ragged], 2, 2, kind).unwrap_err();
    assert!(err.to_string().contains("\"r\""), "{err}");
    let nan = sample(
        "n",
        vec![1.0, f32::NAN, 0.0, 0.0],
        2,
        Target::Regression(vec![0.0]),
    );
    let err = SequenceDataset::new(vec![nan], 2, 2, kind).unwrap_err();
    assert!(err.to_string().contains("step 0, feature 1"), "{err}");
    let long = sample("l", vec![0.0; 4], 3, Target::Regression(vec![0.0]));
    assert!(SequenceDataset::new(vec![long], 2, 2, kind).is_err());
    let class = sample("c", vec![0.0; 4], 2, Target::Class(3));
    let err = SequenceDataset::new(vec![class], 2, 2, TargetKind::Classification { classes: 2 })
        .unwrap_err();
    assert!(err.to_string().contains("class 3"), "{err}");
    assert!(SequenceDataset::new(vec![], 2, 2, kind).is_err());
}
