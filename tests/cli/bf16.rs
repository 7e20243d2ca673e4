//! `evaluate --bf16` and `predict --bf16`: the trained model's predictions in bf16 stay close
//! to the f32 ones; on another backend than flex, or a CPU without AVX512-BF16, a clear error.

use super::{cli, fails, ok, shows, write};

/// The predictions of `predict`'s CSV output (`id,y` rows).
fn predictions(csv: &str) -> Vec<f64> {
    csv.lines()
        .skip(1)
        .map(|line| line.split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn bf16_predictions_stay_close_to_f32() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // y = a weighted sum of x over 8 steps, for 200 sequences.
    let mut csv = String::from("id");
    (0..8).for_each(|t| csv += &format!(",x_{t}"));
    csv += ",y\n";
    for i in 0..200 {
        let x: Vec<f32> = (0..8).map(|t| ((i * 7 + t * 3) % 11) as f32).collect();
        let y: f32 = x
            .iter()
            .enumerate()
            .map(|(t, x)| x * (t + 1) as f32)
            .sum::<f32>()
            / 36.0;
        let row: Vec<String> = x.iter().map(f32::to_string).collect();
        csv += &format!("s{i},{},{y}\n", row.join(","));
    }
    write(d, "wide.csv", &csv);
    ok(
        d,
        "train --data wide.csv --epochs 4 --hidden 128 --cell lstm --out run --quiet",
    );
    let f32s = predictions(&ok(d, "predict --run run --data wide.csv"));
    let (bf16_ran, stdout, stderr) = cli(d, "predict --run run --data wide.csv --bf16");
    if !bf16_ran {
        shows(&stderr, &["AVX512-BF16"]);
        return;
    }
    let bf16s = predictions(&stdout);
    assert_eq!(bf16s.len(), f32s.len());
    let scale = f32s.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    for (a, b) in f32s.iter().zip(&bf16s) {
        assert!((a - b).abs() < 1e-2 * scale, "bf16 {b} against f32 {a}");
    }
    shows(
        &ok(d, "evaluate --run run --data wide.csv --bf16 --out bf16"),
        &["MAE training mean"],
    );
    fails(
        d,
        "predict --run run --data wide.csv --bf16 --device ndarray",
        &["--bf16 runs on the flex backend", "ndarray"],
    );
}
