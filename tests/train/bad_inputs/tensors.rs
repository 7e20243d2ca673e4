//! `forward` (shapes and lengths) and predictions.

use super::*;

/// The cases of this surface.
pub(super) fn cases(fixture: &Fixture) -> Vec<Case> {
    let device = fixture.device.clone();
    let good_run = fixture.good_run.clone();
    let mut cases: Vec<Case> = Vec::new();

    // --- forward: shapes and lengths. ---
    let model = Arc::new(config().model.init(&device).unwrap());
    let x = |b: usize, t: usize, d: usize| Tensor::<3>::zeros([b, t, d], &Device::flex());
    // (what, [B, T, D], lengths, words of the error)
    type Forward = (&'static str, [usize; 3], Option<Vec<usize>>, &'static str);
    let forward_cases: Vec<Forward> = vec![
        (
            "3 features for a model reading 1",
            [2, 5, 3],
            None,
            "[2, 5, 3]",
        ),
        (
            "lengths longer than T",
            [2, 5, 1],
            Some(vec![6, 5]),
            "length",
        ),
        ("a zero length", [2, 5, 1], Some(vec![0, 5]), "length"),
        (
            "3 lengths for a batch of 2",
            [2, 5, 1],
            Some(vec![5, 5, 5]),
            "length",
        ),
        (
            "1 length for a batch of 2",
            [2, 5, 1],
            Some(vec![5]),
            "length",
        ),
        ("an empty batch (B = 0)", [0, 5, 1], None, "batch"),
        ("no steps (T = 0)", [2, 0, 1], None, "time ≥ 1"),
        (
            "no steps (T = 0) with lengths",
            [2, 0, 1],
            Some(vec![0, 0]),
            "time ≥ 1",
        ),
    ];
    for (name, [b, t, d], lengths, needle) in forward_cases {
        let (m1, m2) = (model.clone(), model.clone());
        let l1 = lengths.clone();
        cases.push(case("forward_many_to_one", name, &[needle], move || {
            refused(m1.forward_many_to_one(x(b, t, d), l1.as_deref()))
        }));
        cases.push(case("forward_many_to_many", name, &[needle], move || {
            refused(m2.forward_many_to_many(x(b, t, d), lengths.as_deref()))
        }));
    }
    {
        let m = model.clone();
        cases.push(case(
            "step",
            "a [2, 3] step for a model reading 1 feature",
            &["input", "[2, 3]"],
            move || refused(m.step(Tensor::<2>::zeros([2, 3], &Device::flex()), None)),
        ));
        let recurrent = RecurrentConfig::new(1, 6).init(&device).unwrap();
        let wrong_state = recurrent.zero_state(3, &device);
        let r = Arc::new(recurrent);
        cases.push(case(
            "Recurrent::forward",
            "an initial state for 3 sequences with a batch of 2",
            &["state"],
            move || refused(r.forward(x(2, 4, 1), Some(wrong_state.clone()), None)),
        ));
    }

    // --- Predictions. ---
    let predictor = Arc::new(Predictor::load(&good_run, &device).unwrap());
    type Sequences = Vec<Vec<Vec<f32>>>;
    let predict_cases: Vec<(&str, Sequences, &'static str)> = vec![
        ("a sequence with no steps", vec![vec![]], "no steps"),
        (
            "a step with 2 features for 1",
            vec![vec![vec![0.1, 0.2]]],
            "feature",
        ),
        ("a step with no features", vec![vec![vec![]]], "feature"),
        (
            "ragged steps",
            vec![vec![vec![0.1], vec![0.1, 0.2]]],
            "feature",
        ),
        ("a NaN feature", vec![vec![vec![f32::NAN]]], "finite"),
        (
            "an infinite feature",
            vec![vec![vec![f32::INFINITY]]],
            "finite",
        ),
    ];
    for (name, sequences, needle) in predict_cases {
        let p = predictor.clone();
        cases.push(case("Predictor::predict", name, &[needle], move || {
            refused(p.predict(&sequences))
        }));
    }
    {
        let p = predictor.clone();
        cases.push(case(
            "Predictor::predict_every_step",
            "no steps",
            &["no steps"],
            move || refused(p.predict_every_step(&[])),
        ));
        let p = predictor.clone();
        cases.push(case(
            "Predictor::predict_every_step",
            "a step with 3 features",
            &["feature"],
            move || refused(p.predict_every_step(&[vec![0.1, 0.2, 0.3]])),
        ));
        let p = predictor.clone();
        let three = from_nested(
            &[vec![vec![0.0; 3]; 4]],
            vec![Target::Regression(vec![0.0])],
            TargetKind::Regression { outputs: 1 },
        )
        .unwrap();
        cases.push(case(
            "Predictor::predict_dataset",
            "a dataset with 3 features for 1",
            &["feature"],
            move || refused(p.predict_dataset(&three)),
        ));
    }
    cases
}
