//! The command line (`burn-rnn predict`).

use super::*;

/// The cases of this surface.
pub(super) fn cases(fixture: &Fixture) -> Vec<Case> {
    let good_run = fixture.good_run.clone();
    let files = fixture.files.clone();
    let mut cases: Vec<Case> = Vec::new();

    // --- The command line. ---
    let input = write(
        &files,
        "cli input.csv",
        "id,time,sine 0\na,0,0.5\na,1,0.25\n",
    );
    let bad_input = write(&files, "cli bad input.csv", "id,time,sine 0\na,0,high\n");
    let other_columns = write(&files, "cli other columns.csv", "id,time,pressure\na,0,1\n");
    let empty = write(&files, "cli empty.csv", "");
    let corrupt_run = copy_run(&good_run, &files.join("cli corrupt run"));
    std::fs::write(corrupt_run.join("model.bpk"), b"garbage").unwrap();
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    // `burn-rnn predict --run RUN --data DATA` and more arguments.
    let predict = |run: &Path, data: &Path, more: &[&str]| -> Vec<String> {
        let mut args = vec![
            "predict".into(),
            "--run".into(),
            arg(run),
            "--data".into(),
            arg(data),
        ];
        args.extend(more.iter().map(|a| a.to_string()));
        args
    };
    let cli_cases: Vec<(&str, Vec<String>, Vec<&'static str>)> = vec![
        ("no arguments", vec![], vec!["Usage"]),
        ("an unknown subcommand", vec!["fly".into()], vec!["fly"]),
        (
            "predict without --data",
            vec!["predict".into(), "--run".into(), arg(&good_run)],
            vec!["--data"],
        ),
        (
            "predict without --run",
            vec!["predict".into(), "--data".into(), arg(&input)],
            vec!["--run"],
        ),
        (
            "an unknown flag",
            predict(&good_run, &input, &["--fast"]),
            vec!["--fast"],
        ),
        (
            "--device tpu",
            predict(&good_run, &input, &["--device", "tpu"]),
            vec!["tpu"],
        ),
        (
            "a run directory that does not exist",
            predict(&files.join("nope"), &input, &[]),
            vec!["no such run directory"],
        ),
        (
            "an input file that does not exist",
            predict(&good_run, &files.join("nope.csv"), &[]),
            vec!["nope.csv"],
        ),
        (
            "a word for a value",
            predict(&good_run, &bad_input, &[]),
            vec!["line 2"],
        ),
        (
            "a file without the feature column",
            predict(&good_run, &other_columns, &[]),
            vec!["sine 0", "unknown column"],
        ),
        (
            "an empty input file",
            predict(&good_run, &empty, &[]),
            vec!["cli empty.csv"],
        ),
        (
            "a corrupt model.bpk",
            predict(&corrupt_run, &input, &[]),
            vec!["model.bpk"],
        ),
        (
            "--id-column that is not in the file",
            predict(&good_run, &input, &["--id-column", "patient"]),
            vec!["patient"],
        ),
    ];
    for (name, args, needles) in cli_cases {
        cases.push(Case {
            surface: "burn-rnn predict",
            input: name.into(),
            needles: needles.clone(),
            run: Box::new(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                cli(&args)
            }),
        });
    }
    cases
}
