//! The `burn-rnn` command line end to end: inspect, train, evaluate and predict on small CSV
//! files for classification (string labels, long format, variable lengths), regression (wide
//! format) and forecasting (many series), every task on disk as in memory (`on_disk`), a
//! config reloaded with `--config`, inference in bf16 (`bf16`), and a clear error — never a
//! panic — for each flag's bad values.

#[path = "cli/bf16.rs"]
mod bf16;
#[path = "cli/on_disk.rs"]
mod on_disk;

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use burn_rnn::train::Predictor;

/// Runs `burn-rnn` in `dir` with the arguments of `line` (split at spaces); returns (success,
/// stdout, stderr).
fn cli(dir: &Path, line: &str) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_burn-rnn"))
        .current_dir(dir)
        .args(line.split_whitespace())
        .env("NO_COLOR", "1")
        .output()
        .expect("burn-rnn runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `burn-rnn` and expects success; returns stdout.
fn ok(dir: &Path, line: &str) -> String {
    let (success, stdout, stderr) = cli(dir, line);
    assert!(success, "burn-rnn {line} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs `burn-rnn` and expects a clear error containing every needle, not a panic.
fn fails(dir: &Path, line: &str, needles: &[&str]) {
    let (success, stdout, stderr) = cli(dir, line);
    assert!(!success, "burn-rnn {line} succeeded:\n{stdout}");
    assert!(!stderr.contains("panicked"), "{line} panicked:\n{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{line}: `{needle}` not in:\n{stderr}"
        );
    }
}

/// The bits of every parameter of the model a run kept, in visiting order.
fn weights(run: &Path) -> Vec<Vec<u32>> {
    struct Collect(Vec<Vec<u32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().try_to_vec::<f32>().unwrap();
            self.0.push(values.iter().map(|v| v.to_bits()).collect());
        }
    }
    let predictor = Predictor::load(run, &Device::flex()).unwrap();
    let mut collect = Collect(Vec::new());
    predictor.model().visit(&mut collect);
    collect.0
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Patients with 3 to 6 hours of heart rate and temperature; "sick" ones run hot and fast.
fn vitals(patients: std::ops::Range<usize>, labels: bool) -> String {
    let mut csv = String::from("id,time,hr,temp,ward");
    csv += if labels { ",outcome\n" } else { "\n" };
    for p in patients {
        let sick = p % 3 == 0;
        for t in 0..3 + p % 4 {
            let (hr, temp) = if sick {
                (110 + t, 39.0)
            } else {
                (70 + t % 2, 36.8)
            };
            csv += &format!("p{p},{t},{hr},{temp},w{}", p % 2);
            csv += if !labels {
                "\n"
            } else if sick {
                ",sick\n"
            } else {
                ",well\n"
            };
        }
    }
    csv
}

/// Asserts that `text` contains every needle.
fn shows(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
}

#[test]
fn classification_with_string_labels_in_long_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train.csv", &vitals(0..30, true));
    write(d, "test.csv", &vitals(30..42, true));
    write(d, "new.csv", &vitals(42..45, false));

    let seen = ok(d, "inspect --data train.csv --target outcome");
    shows(
        &seen,
        &[
            "features   hr, temp (2)",
            "task       classify",
            "3–6 steps (padded to 6",
            "sick (10), well (20)",
            "ward (not numeric)",
        ],
    );
    let trained = ok(
        d,
        "train --data train.csv --target outcome --epochs 8 --out run --quiet",
    );
    shows(&trained, &["model      gru, 32 hidden", "kept epoch"]);
    for file in [
        "model.bpk",
        "train.toml",
        "data.json",
        "metrics.csv",
        "loss.png",
    ] {
        assert!(d.join("run").join(file).is_file(), "{file}");
    }

    let scored = ok(d, "evaluate --run run --data test.csv");
    shows(
        &scored,
        &["accuracy", "macro-F1", "majority class \"well\""],
    );
    let metrics = std::fs::read_to_string(d.join("run/metrics.json")).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    let accuracy = metrics["classification"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "{metrics}");
    assert_eq!(metrics["classification"]["classes"][0]["name"], "sick");
    assert!(d.join("run/confusion.png").is_file());

    let predicted = ok(d, "predict --run run --data new.csv");
    let lines: Vec<&str> = predicted.lines().collect();
    assert_eq!(lines[0], "id,class,p(sick),p(well)");
    assert!(
        lines[1].starts_with("p42,sick,") && lines[2].starts_with("p43,well,"),
        "{predicted}"
    );

    // The saved settings train again, flags overriding them.
    let again = ok(
        d,
        "train --config run/train.toml --epochs 1 --out again --quiet",
    );
    shows(
        &again,
        &["settings from run/train.toml", "1 epochs at most"],
    );
    let toml = std::fs::read_to_string(d.join("again/train.toml")).unwrap();
    shows(&toml, &["epochs = 1", "targets = [\"outcome\"]"]);

    // A test label the model never saw is an error naming the line.
    write(
        d,
        "unseen.csv",
        "id,time,hr,temp,ward,outcome\nq,0,80,37,w1,dead\n",
    );
    fails(
        d,
        "evaluate --run run --data unseen.csv",
        &["unseen.csv, line 2", "`dead`", "sick, well"],
    );
}

#[test]
fn regression_in_wide_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // y = the mean of x over 4 steps.
    let mut csv = String::from("id,x_0,x_1,x_2,x_3,y\n");
    let mut new = String::from("id,x_0,x_1,x_2,x_3\n");
    for i in 0..40 {
        let x: Vec<f32> = (0..4).map(|t| ((i * 7 + t * 3) % 11) as f32).collect();
        let y = x.iter().sum::<f32>() / 4.0;
        csv += &format!("s{i},{},{},{},{},{y}\n", x[0], x[1], x[2], x[3]);
        new += &format!("s{i},{},{},{},{}\n", x[0], x[1], x[2], x[3]);
    }
    write(d, "wide.csv", &csv);
    write(d, "new.csv", &new);
    let seen = ok(d, "inspect --data wide.csv");
    shows(&seen, &["wide (one row per sequence", "task       regress"]);
    ok(
        d,
        "train --data wide.csv --epochs 3 --out run --quiet --cell lstm",
    );
    // Data-parallel on two flex devices: the same run directory, evaluated the same way.
    let two = ok(
        d,
        "train --data wide.csv --epochs 3 --out run2 --quiet --devices flex,flex",
    );
    shows(&two, &["devices flex,flex (batch 32 per device)"]);
    let toml = std::fs::read_to_string(d.join("run2/train.toml")).unwrap();
    assert!(toml.contains("devices = \"flex,flex\""), "{toml}");
    shows(
        &ok(d, "evaluate --run run2 --data wide.csv"),
        &["MAE training mean"],
    );
    let scored = ok(d, "evaluate --run run --data wide.csv");
    shows(&scored, &["MAE training mean", "y "]);
    assert!(d.join("run/predictions.png").is_file());
    let printed = ok(d, "predict --run run --data new.csv --output out.csv");
    assert!(printed.is_empty());
    let written = std::fs::read_to_string(d.join("out.csv")).unwrap();
    assert_eq!(written.lines().count(), 41);
    assert!(written.starts_with("id,y\ns0,"), "{written}");
}

#[test]
fn forecasting_many_series() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two stores, a weekly cycle and promotions.
    let mut csv = String::from("store,day,promo,sales\n");
    for store in 0..2 {
        for day in 0..70 {
            let promo = usize::from(day % 10 == 3);
            let sales = 20 + 10 * store + [0, 1, 2, 3, 8, 12, 5][day % 7] + 6 * promo;
            csv += &format!("s{store},{day},{promo},{sales}\n");
        }
    }
    write(d, "sales.csv", &csv);
    let flags = "--id store --time day --target sales --window 14 --horizon 3";
    let seen = ok(d, &format!("inspect --data sales.csv {flags}"));
    shows(
        &seen,
        &[
            "task       forecast",
            "windows    108",
            "inputs     promo, sales",
        ],
    );
    ok(
        d,
        &format!("train --data sales.csv --epochs 3 --out run --quiet {flags}"),
    );
    let scored = ok(
        d,
        "evaluate --run run --data sales.csv --season 7 --average 7",
    );
    shows(
        &scored,
        &[
            "sales t+3",
            "sales (all steps)",
            "seasonal naive (7)",
            "moving average (7)",
            "last value",
        ],
    );
    assert!(d.join("run/forecast.png").is_file());
    let predicted = ok(d, "predict --run run --data sales.csv");
    let lines: Vec<&str> = predicted.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 3, "{predicted}");
    assert_eq!(lines[0], "store,step,day,sales");
    assert!(
        lines[1].starts_with("s0,1,70,") && lines[6].starts_with("s1,3,72,"),
        "{predicted}"
    );
    fails(
        d,
        "evaluate --run run --data sales.csv --season 30",
        &["seasonal naive (30)", "1 to 14 steps"],
    );
}

#[test]
fn bad_flag_values_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train.csv", &vitals(0..12, true));
    for (extra, needles) in [
        ("--epochs abc", &["--epochs", "abc"][..]),
        ("--epochs 0", &["--epochs", "at least 1"]),
        ("--batch-size 0", &["--batch-size"]),
        ("--lr 0", &["--lr", "(0, 1]"]),
        ("--lr nan", &["--lr"]),
        ("--hidden 0", &["--hidden"]),
        ("--layers 0", &["--layers"]),
        ("--dropout 1.5", &["--dropout"]),
        ("--valid-fraction 1.5", &["--valid-fraction"]),
        ("--cell transformer", &["--cell", "transformer"]),
        ("--device tpu", &["unknown device `tpu`", "flex"]),
        ("--devices flex,,flex", &["--devices", "entry 2 is empty"]),
        ("--devices flex,cuda", &["--devices", "different backends"]),
        ("--devices flex:1,flex", &["--devices", "only cuda devices"]),
        ("--devices cuda:x", &["--devices", "device index"]),
        ("--devices tpu", &["unknown device `tpu`"]),
        (
            "--device flex --devices flex,flex",
            &["--devices", "--device"],
        ),
        ("--format tall", &["--format", "long or wide"]),
        (
            "--task cluster",
            &["--task", "classify, regress or forecast"],
        ),
        ("--window 0", &["--window"]),
        ("--horizon 0", &["--horizon"]),
        ("--max-steps 0", &["--max-steps"]),
        (
            "--features nope",
            &["train.csv, line 1, column `nope`", "unknown column"],
        ),
        ("--features ward", &["column `ward`", "numbers"]),
        ("--id nope", &["column `nope`"]),
        ("--task forecast", &["--window"]),
        (
            "--task regress",
            &["column `outcome`", "cannot parse `sick` as a number"],
        ),
        ("--valid missing.csv", &["missing.csv", "cannot open"]),
        ("--config missing.toml", &["--config fixes the columns"]),
    ] {
        fails(
            d,
            &format!("train --data train.csv --target outcome --quiet {extra}"),
            needles,
        );
    }
    fails(d, "train --quiet", &["--data FILE is required"]);
    fails(d, "train --data nope.csv", &["nope.csv", "cannot open"]);
    fails(d, "train --config missing.toml", &["missing.toml"]);
    write(d, "bad.toml", "data = 3\n");
    fails(
        d,
        "train --config bad.toml",
        &["bad.toml", "not a valid train config"],
    );
    write(d, "empty.csv", "");
    fails(d, "inspect --data empty.csv", &["empty.csv", "empty file"]);
    fails(
        d,
        "evaluate --run nope --data train.csv",
        &["no such run directory"],
    );
    fails(
        d,
        "evaluate --run nope --data train.csv --season 0",
        &["--season"],
    );
    fails(
        d,
        "predict --run nope --data train.csv --device tpu",
        &["unknown device `tpu`"],
    );
    fails(d, "inspect", &["--data"]);
}

/// A `burn-rnn serve-device` child process, killed when dropped.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    /// Starts a server on a free port of this machine, with `token`; waits until it listens.
    fn start(token: &str) -> Server {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_burn-rnn"))
            .args(["serve-device", "--port", "0", "--token", token])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("burn-rnn serve-device runs");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // The server logs its sessions to stdout: read it to the end, so that it neither blocks
        // on a full pipe nor dies writing to a closed one.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let port = line
            .split("on port ")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `burn-rnn` with the remote token `token` in its environment.
fn cli_with_token(dir: &Path, line: &str, token: &str) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_burn-rnn"))
        .current_dir(dir)
        .args(line.split_whitespace())
        .env("NO_COLOR", "1")
        .env("BURN_RNN_REMOTE_TOKEN", token)
        .output()
        .expect("burn-rnn runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `serve-device` hosts flex over WebSocket on 127.0.0.1; `train` and `predict` run on it with
/// `--device remote:ws://127.0.0.1:PORT` and the token; the wrong token, a closed port and
/// malformed addresses get clear errors.
#[test]
fn training_on_a_device_that_serve_device_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train.csv", &vitals(0..24, true));
    write(d, "new.csv", &vitals(42..45, false));
    let server = Server::start("s3cret");
    let remote = format!("remote:ws://127.0.0.1:{}", server.port);

    let line = format!(
        "train --data train.csv --target outcome --epochs 2 --out run --quiet --device {remote}"
    );
    let (success, trained, stderr) = cli_with_token(d, &line, "s3cret");
    assert!(success, "{trained}\n{stderr}");
    shows(&trained, &[&format!("device {remote}"), "kept epoch"]);
    assert!(d.join("run/model.bpk").is_file());
    let line = format!("predict --run run --data new.csv --device {remote}");
    let (success, predicted, stderr) = cli_with_token(d, &line, "s3cret");
    assert!(success, "{stderr}");
    assert_eq!(predicted.lines().count(), 4, "{predicted}");

    let (success, _, stderr) = cli_with_token(d, &line, "wrong");
    assert!(!success && !stderr.contains("panicked"), "{stderr}");
    shows(&stderr, &["cannot connect to the remote device", "--token"]);
    drop(server);
    let (success, _, stderr) = cli_with_token(d, &line, "s3cret");
    assert!(!success && !stderr.contains("panicked"), "{stderr}");
    shows(&stderr, &["cannot connect to the remote device"]);

    for (device, needle) in [
        ("remote", "remote:ws://HOST:PORT"),
        ("remote:ws://127.0.0.1", "needs a port"),
        ("remote:http://127.0.0.1:3000", "must start with ws://"),
    ] {
        let line = format!("train --data train.csv --target outcome --device {device}");
        fails(d, &line, &[needle]);
    }
    fails(
        d,
        "train --data train.csv --target outcome --devices remote:ws://127.0.0.1:1,flex",
        &["a remote device trains alone"],
    );
}
