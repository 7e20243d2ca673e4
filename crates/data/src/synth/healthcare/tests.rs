use super::*;

fn cohort(config: HealthcareConfig) -> PatientCohort {
    PatientCohort::generate(&config).unwrap()
}

#[test]
fn shapes_match_the_notes() {
    let cohort = cohort(HealthcareConfig::default());
    assert_eq!(cohort.len(), 100);
    assert_eq!(cohort.patients()[16].id, "patient-017");
    assert!(cohort.patients().iter().all(|p| p.vitals.len() == 25));

    let data = cohort.forecasting_dataset().unwrap();
    assert_eq!(
        (data.len(), data.num_steps(), data.num_features()),
        (100, 24, 3)
    );
    assert_eq!(data.target_kind(), TargetKind::Regression { outputs: 3 });
    assert_eq!(data.feature_names()[0], "heart rate (bpm)");
    let first = &cohort.patients()[0];
    assert_eq!(data.samples()[0].values[..3], first.vitals[0]);
    assert_eq!(
        data.samples()[0].target,
        Target::Regression(first.vitals[24].to_vec())
    );

    let per_step = cohort.forecasting_per_step_dataset().unwrap();
    assert_eq!(per_step.target_kind(), TargetKind::PerStep { outputs: 3 });
    match &per_step.samples()[0].target {
        Target::PerStep(values) => {
            assert_eq!(values.len(), 24 * 3);
            assert_eq!(values[..3], first.vitals[1]);
            assert_eq!(values[23 * 3..], first.vitals[24]);
        }
        other => panic!("unexpected target {other:?}"),
    }

    let classes = cohort.deterioration_dataset().unwrap();
    assert_eq!(classes.target_names(), ["stable", "deteriorating"]);
    assert_eq!(classes.num_steps(), 24);
}

#[test]
fn deterministic_per_seed() {
    let a = cohort(HealthcareConfig::default());
    let b = cohort(HealthcareConfig::default());
    assert_eq!(a, b);
    let c = cohort(HealthcareConfig {
        seed: 7,
        ..Default::default()
    });
    assert_ne!(a.patients()[0].vitals, c.patients()[0].vitals);
}

#[test]
fn exact_deteriorating_count() {
    for (patients, fraction, expected) in [(100, 0.3, 30), (10, 0.25, 3), (7, 0.0, 0), (7, 1.0, 7)]
    {
        let cohort = cohort(HealthcareConfig {
            patients,
            deteriorating_fraction: fraction,
            ..Default::default()
        });
        assert_eq!(cohort.deteriorating_count(), expected);
        for p in cohort.patients() {
            assert_eq!(p.deteriorates, p.onset_hour.is_some());
        }
    }
    // Shuffled: not simply the first 30 patients.
    let cohort = cohort(HealthcareConfig::default());
    assert!(cohort.patients()[..30].iter().any(|p| !p.deteriorates));
}

#[test]
fn values_are_plausible() {
    let ranges = [(40.0, 180.0), (60.0, 200.0), (34.0, 42.0)];
    for seed in [42, 1, 2, 3, 4] {
        let cohort = cohort(HealthcareConfig {
            seed,
            ..Default::default()
        });
        for p in cohort.patients() {
            assert!((0.0..24.0).contains(&p.admission_hour));
            if let Some(onset) = p.onset_hour {
                assert!((4.0..=16.0).contains(&onset), "{onset}");
            }
            for row in &p.vitals {
                for (d, &(lo, hi)) in ranges.iter().enumerate() {
                    assert!(
                        (lo..=hi).contains(&row[d]),
                        "{} vital {d}: {}",
                        p.id,
                        row[d]
                    );
                }
            }
        }
    }
}

#[test]
fn deteriorating_patients_drift() {
    let cohort = cohort(HealthcareConfig::default());
    let mean_last6 = |deteriorates: bool, vital: usize| {
        let values: Vec<f32> = cohort
            .patients()
            .iter()
            .filter(|p| p.deteriorates == deteriorates)
            .flat_map(|p| p.vitals[19..25].iter().map(move |row| row[vital]))
            .collect();
        values.iter().sum::<f32>() / values.len() as f32
    };
    assert!(mean_last6(true, 0) > mean_last6(false, 0) + 10.0);
    assert!(mean_last6(true, 1) < mean_last6(false, 1) - 8.0);
    assert!(mean_last6(true, 2) > mean_last6(false, 2) + 0.4);
}

#[test]
fn rejects_bad_configs() {
    let bad = [
        HealthcareConfig {
            patients: 0,
            ..Default::default()
        },
        HealthcareConfig {
            hours: 0,
            ..Default::default()
        },
        HealthcareConfig {
            deteriorating_fraction: 1.5,
            ..Default::default()
        },
        HealthcareConfig {
            deteriorating_fraction: f32::NAN,
            ..Default::default()
        },
        HealthcareConfig {
            noise: -1.0,
            ..Default::default()
        },
    ];
    for config in bad {
        let err = PatientCohort::generate(&config).unwrap_err();
        assert!(matches!(err, DataError::InvalidParameter(_)), "{err}");
    }
    // Tiny but valid configs work.
    let tiny = cohort(HealthcareConfig {
        patients: 1,
        hours: 1,
        noise: 0.0,
        ..Default::default()
    });
    assert_eq!(tiny.forecasting_dataset().unwrap().num_steps(), 1);
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (small, well-conditioned).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in 0..n {
            if row != col {
                let f = a[row][col] / a[col][col];
                let pivot_row = a[col].clone();
                for (value, pivot_value) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                    *value -= f * pivot_value;
                }
                b[row] -= f * b[col];
            }
        }
    }
    (0..n).map(|i| b[i] / a[i][i]).collect()
}

/// Predictors of the next hour from the history `h` (hours 0..T of one vital).
fn features(h: &[f64]) -> Vec<f64> {
    let mut x = h[h.len() - 6..].to_vec();
    x.push(h.iter().sum::<f64>() / h.len() as f64);
    x.push(1.0);
    x
}

/// Mean absolute errors `(last value, linear predictor)` per vital: the linear predictor
/// (last 6 hours, the stay's mean and a constant) is fitted by least squares on the first
/// half of the cohort and evaluated on the second half.
fn forecast_errors(cohort: &PatientCohort) -> [(f64, f64); 3] {
    let hours = cohort.hours();
    let (train, test) = cohort.patients().split_at(cohort.len() / 2);
    std::array::from_fn(|d| {
        let history = |p: &PatientRecord| -> Vec<f64> {
            p.vitals[..hours].iter().map(|r| f64::from(r[d])).collect()
        };
        let k = features(&history(&train[0])).len();
        let mut xtx = vec![vec![0.0; k]; k];
        let mut xty = vec![0.0; k];
        for p in train {
            let x = features(&history(p));
            let y = f64::from(p.vitals[hours][d]);
            for i in 0..k {
                xty[i] += x[i] * y;
                for j in 0..k {
                    xtx[i][j] += x[i] * x[j];
                }
            }
        }
        let w = solve(xtx, xty);
        let (mut naive, mut linear) = (0.0, 0.0);
        for p in test {
            let h = history(p);
            let y = f64::from(p.vitals[hours][d]);
            naive += (y - h[hours - 1]).abs();
            let pred: f64 = features(&h).iter().zip(&w).map(|(x, w)| x * w).sum();
            linear += (y - pred).abs();
        }
        (naive / test.len() as f64, linear / test.len() as f64)
    })
}

/// The next hour carries signal beyond the last value: a small linear predictor beats the
/// naive last-value forecast clearly on every vital, so a recurrent network has room to learn.
#[test]
fn next_hour_is_learnable_beyond_last_value() {
    let cohort = cohort(HealthcareConfig {
        patients: 4000,
        ..Default::default()
    });
    for (d, (naive, linear)) in forecast_errors(&cohort).into_iter().enumerate() {
        let gain = 1.0 - linear / naive;
        println!(
            "{}: last-value MAE {naive:.3}, linear MAE {linear:.3}, gain {:.1} %",
            VITALS[d].0,
            100.0 * gain
        );
        assert!(gain > 0.08, "{}: gain {gain}", VITALS[d].0);
    }
}
