//! Training configs (each refused before anything is written to the run directory) and
//! resuming (nothing to resume, other settings, other data, every checkpoint damaged).

use super::*;

/// The cases of this surface.
pub(super) fn cases(fixture: &Fixture) -> Vec<Case> {
    let train_set = fixture.train_set.clone();
    let valid_set = fixture.valid_set.clone();
    let scratch = fixture.scratch.clone();
    let good_run = fixture.good_run.clone();
    let mut cases: Vec<Case> = Vec::new();

    // --- Training configs: each refused before anything is written to the run directory. ---
    let bad_configs: Vec<(&str, TrainingConfig, &'static str)> = vec![
        ("num_epochs = 0", config().with_num_epochs(0), "num_epochs"),
        ("batch_size = 0", config().with_batch_size(0), "batch_size"),
        (
            "learning_rate = 0",
            config().with_learning_rate(0.0),
            "learning_rate",
        ),
        (
            "learning_rate = -1",
            config().with_learning_rate(-1.0),
            "learning_rate",
        ),
        (
            "learning_rate = NaN",
            config().with_learning_rate(f64::NAN),
            "learning_rate",
        ),
        (
            "learning_rate = inf",
            config().with_learning_rate(f64::INFINITY),
            "learning_rate",
        ),
        (
            "learning_rate = 2",
            config().with_learning_rate(2.0),
            "learning_rate",
        ),
        (
            "cosine final_fraction = NaN",
            config().with_lr_schedule(LrSchedule::Cosine {
                final_fraction: f64::NAN,
            }),
            "final_fraction",
        ),
        (
            "cosine final_fraction = -0.5",
            config().with_lr_schedule(LrSchedule::Cosine {
                final_fraction: -0.5,
            }),
            "final_fraction",
        ),
        (
            "cosine final_fraction = 1.5",
            config().with_lr_schedule(LrSchedule::Cosine {
                final_fraction: 1.5,
            }),
            "final_fraction",
        ),
        (
            "grad_clip_norm = 0",
            config().with_grad_clip_norm(Some(0.0)),
            "grad_clip_norm",
        ),
        (
            "grad_clip_norm = -1",
            config().with_grad_clip_norm(Some(-1.0)),
            "grad_clip_norm",
        ),
        (
            "grad_clip_norm = NaN",
            config().with_grad_clip_norm(Some(f32::NAN)),
            "grad_clip_norm",
        ),
        (
            "grad_clip_norm = inf",
            config().with_grad_clip_norm(Some(f32::INFINITY)),
            "grad_clip_norm",
        ),
        (
            "early_stopping_patience = 0",
            config().with_early_stopping_patience(Some(0)),
            "early_stopping_patience",
        ),
    ];
    let model_configs: Vec<(&str, SequenceModelConfig, &'static str)> = vec![
        (
            "d_output = 0",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6), 0),
            "output",
        ),
        (
            "d_hidden = 0",
            SequenceModelConfig::new(RecurrentConfig::new(1, 0), 1),
            "d_hidden",
        ),
        (
            "d_input = 0",
            SequenceModelConfig::new(RecurrentConfig::new(0, 6), 1),
            "d_input",
        ),
        (
            "num_layers = 0",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_num_layers(0), 1),
            "num_layers",
        ),
        (
            "dropout = NaN",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_dropout(f64::NAN), 1),
            "dropout",
        ),
        (
            "dropout = 1",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_dropout(1.0), 1),
            "dropout",
        ),
        (
            "dropout = -0.1",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6).with_dropout(-0.1), 1),
            "dropout",
        ),
        (
            "d_input = 4 for data with 1 feature",
            SequenceModelConfig::new(RecurrentConfig::new(4, 6), 1),
            "d_input = 4",
        ),
        (
            "d_output = 2 for data with 1 target",
            SequenceModelConfig::new(RecurrentConfig::new(1, 6), 2),
            "d_output = 2",
        ),
    ];
    let mut all_configs: Vec<(String, TrainingConfig, &'static str)> = bad_configs
        .into_iter()
        .map(|(name, c, needle)| (name.to_string(), c, needle))
        .collect();
    for (name, model, needle) in model_configs {
        let mut c = config();
        c.model = model;
        all_configs.push((name.to_string(), c, needle));
    }
    let mut classification = config();
    classification.objective = Objective::Classification;
    all_configs.push((
        "a classification objective for regression data".into(),
        classification,
        "objective",
    ));
    for (name, bad, needle) in all_configs {
        let (train_set, valid_set) = (train_set.clone(), valid_set.clone());
        let target = copy_run(&good_run, &scratch.join(format!("config {name}")));
        cases.push(case("training config", name, &[needle], move || {
            let before = snapshot(&target);
            let result = train(
                &bad,
                &train_set,
                &valid_set,
                &RunDir::new(&target),
                &Device::flex(),
                QUIET,
            );
            assert!(snapshot(&target) == before, "the run directory was changed");
            refused(result)
        }));
    }

    // --- Resuming: nothing to resume, other settings, other data, every checkpoint damaged. ---
    let empty = scratch.join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    let damaged = scratch.join("resume-all-damaged");
    copy_dir_all(&good_run, &damaged);
    for entry in std::fs::read_dir(damaged.join("checkpoints/checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bpk") {
            std::fs::write(&path, b"torn").unwrap();
        }
    }
    let (other_lr, other_data) = (scratch.join("resume-lr"), scratch.join("resume-data"));
    copy_dir_all(&good_run, &other_lr);
    copy_dir_all(&good_run, &other_data);
    let resumes: Vec<(&str, PathBuf, TrainingConfig, bool, Vec<&'static str>)> = vec![
        (
            "an empty run directory",
            empty,
            config(),
            false,
            vec!["nothing to resume", "no complete checkpoint"],
        ),
        (
            "a directory that does not exist",
            scratch.join("no-such-run"),
            config(),
            false,
            vec!["nothing to resume", "does not exist"],
        ),
        (
            "another learning rate than the checkpoint's",
            other_lr,
            config().with_learning_rate(0.1),
            false,
            vec!["cannot resume", "learning_rate"],
        ),
        (
            "other training data than the checkpoint's",
            other_data,
            config(),
            true,
            vec!["cannot resume", "data differ"],
        ),
        (
            "every checkpoint damaged",
            damaged,
            config(),
            false,
            vec!["nothing to resume", "damaged"],
        ),
    ];
    for (name, dir, resumed, swap, needles) in resumes {
        let (t, v) = (train_set.clone(), valid_set.clone());
        let (t, v) = if swap { (v, t) } else { (t, v) };
        let options = TrainOptions {
            resume: true,
            ..QUIET
        };
        cases.push(Case {
            surface: "resume",
            input: name.into(),
            needles,
            run: Box::new(move || {
                refused(train(
                    &resumed,
                    &t,
                    &v,
                    &RunDir::new(&dir),
                    &Device::flex(),
                    options,
                ))
            }),
        });
    }
    cases
}
