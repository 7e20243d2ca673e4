//! The command line on a run trained here: `predict` from the saved artifacts, and clear
//! errors for bad input (a missing or damaged run, mismatched data).

use std::path::Path;
use std::process::Command;

use crate::*;

/// Runs the `burn-rnn` command line; returns (success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_burn-rnn"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn command_line_predicts_and_reports_bad_input_clearly() {
    let (train_set, valid_set) = vitals();
    let dir = tempfile::tempdir().unwrap();
    let run_path = dir.path().join("run");
    let run = train(
        &forecast_config(2),
        &train_set,
        &valid_set,
        &RunDir::new(&run_path),
        &Device::flex(),
        QUIET,
    )
    .unwrap();
    let predictor = Predictor::new(
        run.model,
        run.normalizer,
        DataSchema::of(&train_set),
        &Device::flex(),
    )
    .unwrap();

    // Two patients in long format, rows shuffled.
    let names = train_set.feature_names();
    let mut csv = format!(
        "id,time,\"{}\",\"{}\",\"{}\"\n",
        names[0], names[1], names[2]
    );
    let mut rows = Vec::new();
    for sample in &valid_set.samples()[..2] {
        for t in 0..sample.length {
            let v = &sample.values[t * 3..t * 3 + 3];
            rows.push(format!("{},{t},{},{},{}\n", sample.id, v[0], v[1], v[2]));
        }
    }
    rows.reverse();
    csv.extend(rows);
    let input = dir.path().join("input.csv");
    std::fs::write(&input, csv).unwrap();
    let run_arg = run_path.to_str().unwrap();
    let input_arg = input.to_str().unwrap();

    let (ok, stdout, stderr) = cli(&["predict", "--run", run_arg, "--data", input_arg]);
    assert!(ok, "{stderr}");
    let expected = values_of(
        predictor
            .predict_dataset(&valid_set.subset(&[0, 1]).unwrap())
            .unwrap(),
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (sample, values) in valid_set.samples().iter().zip(&expected) {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{},", sample.id)))
            .unwrap_or_else(|| panic!("no prediction for {} in {stdout}", sample.id));
        let fields: Vec<&str> = line.split(',').collect();
        for (field, value) in fields[1..].iter().zip(values) {
            let printed: f32 = field.parse().unwrap();
            assert!((printed - value).abs() < 1e-3, "{line} vs {values:?}");
        }
    }

    // On wgpu without a display: the predictions, and no `error: XDG_RUNTIME_DIR ...` lines
    // from Wayland's client library, which wgpu's probe loads (they appear without the fix).
    if common::backends().iter().any(|(b, _)| b.name == "wgpu") {
        let output = Command::new(env!("CARGO_BIN_EXE_burn-rnn"))
            .args(["predict", "--run", run_arg, "--data", input_arg])
            .args(["--device", "wgpu"])
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 3);
    }

    // Bad input: a clear message naming the problem and a non-zero exit, never a panic.
    let predict_from = |run: &Path, extra: &[&str], needles: &[&str]| {
        let mut args = vec![
            "predict",
            "--run",
            run.to_str().unwrap(),
            "--data",
            input_arg,
        ];
        args.extend(extra);
        let (ok, _, stderr) = cli(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
        }
    };
    predict_from(
        &run_path,
        &["--device", "tpu"],
        &["unknown device `tpu`", "flex"],
    );
    predict_from(&dir.path().join("nope"), &[], &["no such run directory"]);

    let corrupt = dir.path().join("corrupt");
    copy_dir(&run_path, &corrupt);
    std::fs::write(corrupt.join("model.bpk"), b"not a model").unwrap();
    predict_from(&corrupt, &[], &["model.bpk"]);

    let mismatched = dir.path().join("mismatched");
    copy_dir(&run_path, &mismatched);
    let config_path = mismatched.join("training.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        config.replace("\"d_hidden\": 16", "\"d_hidden\": 8"),
    )
    .unwrap();
    predict_from(
        &mismatched,
        &[],
        &["model.bpk", "shape", "different configuration"],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
