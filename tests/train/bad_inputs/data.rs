//! CSV files and datasets built in memory.

use super::*;

/// The cases of this surface.
pub(super) fn cases(fixture: &Fixture) -> Vec<Case> {
    let files = fixture.files.clone();
    let mut cases: Vec<Case> = Vec::new();

    // --- CSV files. ---
    let long_csvs: Vec<(&str, &str, &'static str)> = vec![
        ("an empty file", "", "line"),
        ("only a header", "id,time,x\n", "no"),
        ("no x column", "id,time,y\na,0,1\n", "x"),
        ("no id column", "time,x\n0,1\n", "id"),
        ("a word for a value", "id,time,x\na,0,one\n", "line 2"),
        ("NaN written out", "id,time,x\na,0,NaN\n", "line 2"),
        ("inf written out", "id,time,x\na,0,inf\n", "line 2"),
        ("a word for a time", "id,time,x\na,zero,1\n", "line 2"),
        ("the same time twice", "id,time,x\na,0,1\na,0,2\n", "line 3"),
        ("a short row", "id,time,x\na,0\n", "line 2"),
        ("a long row", "id,time,x\na,0,1,2\n", "line 2"),
        ("binary bytes", "id,time,x\na,0,\u{0}\u{1}\u{2}\n", "line 2"),
        (
            "an empty cell without a missing-value policy",
            "id,time,x\na,0,\n",
            "line 2",
        ),
    ];
    for (name, text, needle) in long_csvs {
        let path = write(&files, &format!("long {name}.csv"), text);
        cases.push(case("read_long_sequences", name, &[needle], move || {
            refused(read_long_sequences(&path, "id", "time", &["x"]))
        }));
    }
    {
        let path = write(&files, "long target.csv", "id,time,x,y\na,0,1,2\na,1,1,3\n");
        cases.push(case(
            "read_long_csv",
            "two different targets for one sample",
            &["y"],
            move || {
                let layout =
                    LongCsvLayout::new("id", "time", &["x"], CsvTarget::regression(&["y"]));
                refused(read_long_csv(&path, &layout))
            },
        ));
        let missing = files.join("no-such.csv");
        cases.push(case(
            "read_long_sequences",
            "a file that does not exist",
            &["no-such.csv"],
            move || refused(read_long_sequences(&missing, "id", "time", &["x"])),
        ));
    }
    let wide_csvs: Vec<(&str, &str, &'static str)> = vec![
        ("an empty file", "", "line"),
        ("a missing step column", "x_0,y\n1,2\n", "x_1"),
        ("a word for a value", "x_0,x_1,y\n1,one,2\n", "line 2"),
        ("NaN written out", "x_0,x_1,y\n1,NaN,2\n", "line 2"),
        ("a short row", "x_0,x_1,y\n1,2\n", "line 2"),
        ("no target column", "x_0,x_1\n1,2\n", "y"),
    ];
    for (name, text, needle) in wide_csvs {
        let path = write(&files, &format!("wide {name}.csv"), text);
        cases.push(case("read_wide_csv", name, &[needle], move || {
            let layout = WideCsvLayout::new(
                None,
                vec![WideFeature::numbered("x", 2)],
                CsvTarget::regression(&["y"]),
            );
            refused(read_wide_csv(&path, &layout))
        }));
    }

    // --- Datasets built in memory. ---
    let sample = |values: Vec<f32>, length: usize, target: Target| SequenceSample {
        id: "s".into(),
        values,
        length,
        target,
    };
    let datasets: Vec<(&str, Vec<SequenceSample>, TargetKind, &'static str)> = vec![
        (
            "no samples",
            vec![],
            TargetKind::Regression { outputs: 1 },
            "sample",
        ),
        (
            "3 values for T×D = 2×1",
            vec![sample(vec![0.0; 3], 2, Target::Regression(vec![0.0]))],
            TargetKind::Regression { outputs: 1 },
            "values",
        ),
        (
            "a zero length",
            vec![sample(vec![0.0; 2], 0, Target::Regression(vec![0.0]))],
            TargetKind::Regression { outputs: 1 },
            "length",
        ),
        (
            "a length of 3 for T = 2",
            vec![sample(vec![0.0; 2], 3, Target::Regression(vec![0.0]))],
            TargetKind::Regression { outputs: 1 },
            "length",
        ),
        (
            "class 5 of 2",
            vec![sample(vec![0.0; 2], 2, Target::Class(5))],
            TargetKind::Classification { classes: 2 },
            "class",
        ),
        (
            "2 targets for 1 output",
            vec![sample(vec![0.0; 2], 2, Target::Regression(vec![0.0, 1.0]))],
            TargetKind::Regression { outputs: 1 },
            "target",
        ),
        (
            "a classification target for regression",
            vec![sample(vec![0.0; 2], 2, Target::Class(0))],
            TargetKind::Regression { outputs: 1 },
            "target",
        ),
    ];
    for (name, samples, kind, needle) in datasets {
        cases.push(case("SequenceDataset::new", name, &[needle], move || {
            refused(SequenceDataset::new(samples.clone(), 2, 1, kind))
        }));
    }
    cases.push(case("from_nested", "ragged steps", &["step"], || {
        refused(from_nested(
            &[vec![vec![0.0], vec![0.0, 1.0]]],
            vec![Target::Regression(vec![0.0])],
            TargetKind::Regression { outputs: 1 },
        ))
    }));
    cases.push(case(
        "from_nested",
        "2 targets for 1 sequence",
        &["target"],
        || {
            refused(from_nested(
                &[vec![vec![0.0]]],
                vec![Target::Regression(vec![0.0]); 2],
                TargetKind::Regression { outputs: 1 },
            ))
        },
    ));
    cases
}
