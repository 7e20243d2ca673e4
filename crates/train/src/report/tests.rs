//! The reports against hand-computed figures.

use super::*;

#[test]
fn error_sums_in_chunks_give_the_report_of_all_samples_bit_for_bit() {
    let value = |i: usize, k: usize| ((i * 7 + k * 3) as f32 * 0.91).sin() * 5.3;
    let predictions: Vec<Vec<f32>> = (0..37).map(|i| vec![value(i, 0), value(i, 1)]).collect();
    let targets: Vec<Vec<f32>> = (0..37).map(|i| vec![value(i, 2), value(i, 5)]).collect();
    let names = vec!["a".to_string(), "b".to_string()];
    let whole = RegressionReport::compute(&predictions, &targets, &names).unwrap();
    for size in [1, 5, 36, 37] {
        let mut sums = ErrorSums::new(2);
        for (p, t) in predictions.chunks(size).zip(targets.chunks(size)) {
            sums.add(p, t).unwrap();
        }
        assert_eq!(sums.samples(), 37);
        assert_eq!(sums.report(&names).unwrap(), whole, "chunks of {size}");
    }
    assert!(ErrorSums::new(2).report(&names).is_err(), "no samples");
    let mut sums = ErrorSums::new(2);
    assert!(sums.add(&predictions[..2], &targets[..1]).is_err());
    assert!(sums.add(&[vec![1.0]], &[vec![1.0]]).is_err());
    sums.add(&predictions, &targets).unwrap();
    assert!(
        sums.report(&names[..1]).is_err(),
        "one name for two outputs"
    );
}

#[test]
fn regression_report_per_output() {
    let report = RegressionReport::compute(
        &[vec![1.0, 2.0], vec![3.0, 4.0]],
        &[vec![2.0, 2.0], vec![3.0, 8.0]],
        &["a".into(), "b".into()],
    )
    .unwrap();
    assert_eq!(report.mae, vec![0.5, 2.0]);
    assert!((report.rmse[1] - 8f64.sqrt()).abs() < 1e-12);
    assert!(RegressionReport::compute(&[], &[], &[]).is_err());
}

#[test]
fn classification_report_and_majority() {
    let report =
        ClassificationReport::compute(&[0, 1, 1, 0], &[0, 1, 0, 0], &[0, 0, 1], 2).unwrap();
    assert_eq!(report.accuracy, 0.75);
    assert_eq!(report.majority_class, 0);
    assert_eq!(report.majority_accuracy, 0.75);
    assert_eq!(report.confusion, vec![vec![2, 1], vec![0, 1]]);
    let names = ["stable".to_string(), "deteriorating".into()];
    assert_eq!(
        report.confusion_line(&names),
        "confusion (rows: truth, columns: predicted; stable, deteriorating): [[2, 1], [0, 1]]"
    );
    let err = ClassificationReport::compute(&[0], &[0], &[], 2).unwrap_err();
    assert!(err.to_string().contains("majority"), "{err}");
}

#[test]
fn forecast_track_scores_and_cuts() {
    let track = ForecastTrack::new([
        (5, 10.0, 11.0, 10.5),
        (6, 12.0, 12.0, 12.0),
        (7, 9.0, 9.5, 10.0),
        (8, 8.0, 9.0, 8.0),
    ])
    .unwrap();
    assert_eq!(track.model_mae(), (1.0 + 0.0 + 0.5 + 1.0) / 4.0);
    assert_eq!(track.baseline_mae(), (0.5 + 0.0 + 1.0 + 0.0) / 4.0);
    assert!((track.gain_percent() + 200.0 / 3.0).abs() < 1e-9);
    // Step 5: actual below the baseline, forecast above (wrong); 6 and 8 are skipped
    // (no move, no forecast move); 7: both below (right).
    assert_eq!(track.direction_accuracy(), 0.5);
    let last = track.last(2);
    assert_eq!(
        last.series(|p| 100.0 * p.model),
        [(7.0, 950.0), (8.0, 900.0)]
    );
    assert_eq!(last.mean(|p| p.actual), 8.5);
    assert_eq!(track.last(10), track);
    assert!(ForecastTrack::new([]).is_err());
}

fn report(names: &[&str], mae: Vec<f64>, rmse: Vec<f64>) -> RegressionReport {
    RegressionReport {
        names: names.iter().map(|n| n.to_string()).collect(),
        mae,
        rmse,
    }
}

#[test]
fn comparison_table_lines_up_under_its_headers() {
    let names = ["heart rate (bpm)", "systolic blood pressure (mmHg)"];
    let comparison = BaselineComparison::new(
        "RNN",
        report(&names, vec![1.8197, 2.9], vec![2.25, 3.0]),
        "last hour",
        report(&names, vec![2.04, 2.6], vec![2.56, 3.28]),
    )
    .unwrap();
    assert_eq!(comparison.wins(), 1);
    assert!((comparison.gain_percent(0) - 10.8).abs() < 0.1);
    let table = comparison.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines,
        [
            "                                           MAE                   RMSE       ",
            "                                   RNN  last hour RNN gain    RNN  last hour",
            "heart rate (bpm)                  1.82       2.04     11 %   2.25       2.56",
            "systolic blood pressure (mmHg)    2.90       2.60    -12 %   3.00       3.28",
        ]
    );
    let other = report(&["temperature (°C)"], vec![0.1], vec![0.1]);
    assert!(BaselineComparison::new("RNN", other.clone(), "x", other.clone()).is_ok());
    let err = BaselineComparison::new("RNN", other, "x", comparison.model).unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");
}
