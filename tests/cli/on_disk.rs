//! Every task on disk as in memory through the command line: `train --on-disk` keeps the
//! weights and metrics of `train --in-memory` bit for bit (forecasting windows; classification
//! in long format with a validation file; regression in wide format), and `evaluate` and
//! `predict` reading their file in chunks (`--on-disk`: sequences, or forecasting windows)
//! print and write what they do reading it whole.

use std::path::Path;

use super::{ok, shows, vitals, weights, write};

#[test]
fn forecasting_on_disk_trains_the_weights_of_forecasting_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Three stores of different lengths, rows of each store together.
    let mut csv = String::from("store,day,promo,sales\n");
    for (store, days) in [(0, 60), (1, 45), (2, 52)] {
        for day in 0..days {
            let promo = usize::from(day % 10 == 3);
            let sales = 20.0 + 7.5 * f64::from(store) + (f64::from(day) * 0.9).sin() * 4.0;
            csv += &format!("s{store},{day},{promo},{sales}\n");
        }
    }
    write(d, "sales.csv", &csv);
    let flags = "--id store --time day --target sales --window 10 --horizon 2 --stride 2 \
                 --epochs 2 --batch-size 8 --seed 7 --quiet";
    let memory = ok(
        d,
        &format!("train --data sales.csv --in-memory --out memory {flags}"),
    );
    shows(&memory, &["storage    in memory (--in-memory)"]);
    let disk = ok(
        d,
        &format!("train --data sales.csv --on-disk --out disk {flags}"),
    );
    shows(&disk, &["storage    on disk (--on-disk)"]);
    assert!(d.join("disk/data.windows").is_file());
    let summary = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("kept epoch"))
            .map(str::to_string)
    };
    assert_eq!(summary(&disk), summary(&memory), "the same windows");
    assert!(!weights(&d.join("disk")).is_empty());
    assert!(
        weights(&d.join("disk")) == weights(&d.join("memory")),
        "on flex the pipeline is deterministic: the same final weights, bit for bit"
    );
    let metrics = |run: &str| std::fs::read_to_string(d.join(run).join("metrics.csv")).unwrap();
    assert_eq!(metrics("disk"), metrics("memory"));
    // Small files stay in memory unless asked.
    let auto = ok(d, &format!("train --data sales.csv --out auto {flags}"));
    shows(
        &auto,
        &["storage    in memory (", "below the 256 MiB threshold"],
    );
    // Scores and predictions read in chunks are those of the file read whole: 20,085 windows
    // of a bigger file, two chunks of windows.
    let mut big = String::from("store,day,promo,sales\n");
    for store in 0..3 {
        for day in 0..13_400 {
            let promo = usize::from(day % 10 == 3);
            let sales = 20.0 + 7.5 * f64::from(store) + (f64::from(day) * 0.9).sin() * 4.0;
            big += &format!("s{store},{day},{promo},{sales}\n");
        }
    }
    write(d, "sales-big.csv", &big);
    score_both_ways(d, "disk", "sales-big.csv", "sales.csv");
}

/// Trains `data` (with `flags`) in memory and on disk into `<name>-memory` and `<name>-disk`,
/// and checks both runs: the same summary, metrics and final weights.
fn train_both_ways(d: &Path, name: &str, flags: &str, converted: &str) {
    let common = "--epochs 2 --batch-size 8 --seed 3 --quiet";
    let memory = ok(
        d,
        &format!("train {flags} {common} --in-memory --out {name}-memory"),
    );
    shows(&memory, &["storage    in memory (--in-memory)"]);
    let disk = ok(
        d,
        &format!("train {flags} {common} --on-disk --out {name}-disk"),
    );
    shows(&disk, &["storage    on disk (--on-disk)"]);
    assert!(d.join(format!("{name}-disk/{converted}")).is_file());
    let summary = |out: &str| {
        out.lines()
            .filter(|l| l.starts_with("kept epoch") || l.starts_with("validation loss"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!summary(&disk).is_empty(), "{disk}");
    assert_eq!(
        summary(&disk),
        summary(&memory),
        "{name}: the same sequences"
    );
    let run = |way: &str| d.join(format!("{name}-{way}"));
    let metrics = |way: &str| std::fs::read_to_string(run(way).join("metrics.csv")).unwrap();
    assert_eq!(metrics("disk"), metrics("memory"), "{name}");
    assert!(
        weights(&run("disk")) == weights(&run("memory")),
        "{name}: on flex the same final weights, bit for bit"
    );
}

/// `evaluate` and `predict` with the run `run`, reading their files whole and in chunks: the
/// same printed scores, metrics.json and predictions.
fn score_both_ways(d: &Path, run: &str, test: &str, new: &str) {
    let evaluate = |way: &str| {
        let out = format!("{run}-scores-{way}");
        let printed = ok(
            d,
            &format!("evaluate --run {run} --data {test} --{way} --out {out}"),
        );
        let scores: Vec<String> = printed
            .lines()
            .filter(|l| !l.starts_with("wrote"))
            .map(str::to_string)
            .collect();
        let metrics = std::fs::read_to_string(d.join(out).join("metrics.json")).unwrap();
        (scores, metrics)
    };
    let (chunked, whole) = (evaluate("on-disk"), evaluate("in-memory"));
    assert!(chunked.1.contains("\"samples\""), "{}", chunked.1);
    assert_eq!(chunked, whole, "{run}: evaluate");
    let predict = |way: &str| ok(d, &format!("predict --run {run} --data {new} --{way}"));
    let chunked = predict("on-disk");
    assert!(chunked.lines().count() > 1, "{chunked}");
    assert_eq!(chunked, predict("in-memory"), "{run}: predict");
}

#[test]
fn classification_and_wide_regression_on_disk_train_and_score_as_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train.csv", &vitals(0..40, true));
    write(d, "test.csv", &vitals(40..52, true));
    write(d, "new.csv", &vitals(52..58, false));
    train_both_ways(
        d,
        "split",
        "--data train.csv --target outcome",
        "data.sequences",
    );
    train_both_ways(
        d,
        "valid",
        "--data train.csv --valid test.csv --target outcome",
        "valid.sequences",
    );
    score_both_ways(d, "split-disk", "test.csv", "new.csv");

    // Wide regression: y = the mean of x over 5 steps, with a static column.
    let mut csv = String::from("id,x_0,x_1,x_2,x_3,x_4,z_0,z_1,z_2,z_3,z_4,y\n");
    for i in 0..60 {
        let x: Vec<f32> = (0..5)
            .map(|t| ((i * 7 + t * 3) % 11) as f32 * 0.7)
            .collect();
        let y = x.iter().sum::<f32>() / 5.0;
        let row: Vec<String> = x.iter().map(f32::to_string).collect();
        let z = (i % 4) as f32;
        csv += &format!("s{i},{},{z},{z},{z},{z},{z},{y}\n", row.join(","));
    }
    write(d, "wide.csv", &csv);
    let new: String = csv
        .lines()
        .map(|l| {
            l.rsplit_once(',')
                .map_or(l, |(inputs, _)| inputs)
                .to_string()
                + "\n"
        })
        .collect();
    write(d, "wide-new.csv", &new);
    train_both_ways(d, "wide", "--data wide.csv", "data.sequences");
    score_both_ways(d, "wide-disk", "wide.csv", "wide-new.csv");
}
