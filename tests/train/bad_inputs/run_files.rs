//! The normaliser's JSON and the run directory's other files.

use super::*;

/// The cases of this surface.
pub(super) fn cases(fixture: &Fixture) -> Vec<Case> {
    let good_run = fixture.good_run.clone();
    let files = fixture.files.clone();
    let mut cases: Vec<Case> = Vec::new();

    // --- Normaliser JSON. ---
    let good_normalizer = std::fs::read_to_string(good_run.join("normalizer.json")).unwrap();
    let scale = |value: &str| replace_array(&good_normalizer, "scale", value);
    let normalizer_json: Vec<(&str, String, &'static str)> = vec![
        ("an empty file", String::new(), "normalizer"),
        ("text", "scale everything by two".into(), "normalizer"),
        ("NaN written out", scale("[NaN]"), "normalizer"),
        ("a null scale", scale("null"), "scale"),
        ("a zero scale", scale("[0.0]"), "scale"),
        ("a negative scale", scale("[-1.0]"), "scale"),
        ("a scale of 1e400", scale("[1e400]"), "normalizer"),
        ("two scales for one offset", scale("[1.0, 2.0]"), "scale"),
        ("no scales", scale("[]"), "scale"),
        (
            "truncated",
            good_normalizer[..good_normalizer.len() / 2].into(),
            "normalizer",
        ),
        (
            "a string for the offsets",
            replace_array(&good_normalizer, "offset", "\"zero\""),
            "normalizer",
        ),
    ];
    for (name, json, needle) in normalizer_json {
        let j = json.clone();
        cases.push(case("Normalizer::from_json", name, &[], move || {
            refused(Normalizer::from_json(&j))
        }));
        let target = copy_run(&good_run, &files.join(format!("normalizer {name}")));
        std::fs::write(target.join("normalizer.json"), &json).unwrap();
        cases.push(case(
            "Predictor::load (normalizer.json)",
            name,
            &["normalizer.json", needle],
            move || refused(Predictor::load(&target, &Device::flex())),
        ));
    }

    // --- The run directory's other files. ---
    let good_training = std::fs::read_to_string(good_run.join("training.json")).unwrap();
    let good_schema = std::fs::read_to_string(good_run.join("schema.json")).unwrap();
    let run_files: Vec<(&str, &str, String, Vec<&'static str>)> = vec![
        (
            "training.json",
            "empty",
            String::new(),
            vec!["training.json"],
        ),
        (
            "training.json",
            "truncated",
            good_training[..good_training.len() / 2].into(),
            vec!["training.json"],
        ),
        (
            "training.json",
            "8 hidden units for weights of 6",
            good_training.replace("\"d_hidden\": 6", "\"d_hidden\": 8"),
            vec!["model.bpk", "different configuration"],
        ),
        (
            "training.json",
            "d_hidden = 0",
            good_training.replace("\"d_hidden\": 6", "\"d_hidden\": 0"),
            vec!["d_hidden"],
        ),
        (
            "training.json",
            "a negative d_input",
            good_training.replace("\"d_input\": 1", "\"d_input\": -1"),
            vec!["training.json"],
        ),
        ("schema.json", "empty", String::new(), vec!["schema.json"]),
        (
            "schema.json",
            "3 outputs for a model with 1",
            good_schema.replace("\"outputs\": 1", "\"outputs\": 3"),
            vec!["outputs"],
        ),
        (
            "schema.json",
            "an unknown target kind",
            good_schema.replace("Regression", "Guess"),
            vec!["schema.json"],
        ),
    ];
    for (file, name, text, needles) in run_files {
        let target = copy_run(&good_run, &files.join(format!("{file} {name}")));
        std::fs::write(target.join(file), &text).unwrap();
        cases.push(Case {
            surface: "Predictor::load (run directory)",
            input: format!("{file}: {name}"),
            needles,
            run: Box::new(move || refused(Predictor::load(&target, &Device::flex()))),
        });
    }
    for missing in [
        "training.json",
        "schema.json",
        "normalizer.json",
        "model.bpk",
    ] {
        let target = copy_run(&good_run, &files.join(format!("without {missing}")));
        std::fs::remove_file(target.join(missing)).unwrap();
        cases.push(case(
            "Predictor::load (run directory)",
            format!("no {missing}"),
            &[missing, "missing"],
            move || refused(Predictor::load(&target, &Device::flex())),
        ));
    }
    {
        let nothing = files.join("no-such-run");
        cases.push(case(
            "Predictor::load (run directory)",
            "a directory that does not exist",
            &["no such run directory"],
            move || refused(Predictor::load(&nothing, &Device::flex())),
        ));
    }
    cases
}
