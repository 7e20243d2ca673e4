//! Helpers shared by the unit tests of the CSV readers: readers over text and files, the layouts
//! most tests use, and the check that an error names the expected line and column.

use std::path::PathBuf;

use super::{
    CsvTarget, LongCsvLayout, MEMORY_SOURCE, WideCsvLayout, WideFeature, read_long_csv_from_reader,
    read_wide_csv_from_reader,
};
use crate::dataset::SequenceDataset;
use crate::error::{DataError, Result};

/// Reads long-format `text`.
pub(super) fn long(text: &str, layout: &LongCsvLayout) -> Result<SequenceDataset> {
    read_long_csv_from_reader(text.as_bytes(), layout)
}

/// Reads wide-format `text`.
pub(super) fn wide(text: &str, layout: &WideCsvLayout) -> Result<SequenceDataset> {
    read_wide_csv_from_reader(text.as_bytes(), layout)
}

/// Writes `text` to the file `name` in `dir`; the file's path.
pub(super) fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Long format: `id`, `t`, features `a` and `b`, regression target `y`.
pub(super) fn reg_layout() -> LongCsvLayout {
    LongCsvLayout::new("id", "t", &["a", "b"], CsvTarget::regression(&["y"]))
}

/// Wide format: `id`, features `hr_0..hr_2` and `bp_0..bp_2`, class target `died`.
pub(super) fn wide_layout() -> WideCsvLayout {
    WideCsvLayout::new(
        Some("id"),
        vec![
            WideFeature::numbered("hr", 3),
            WideFeature::numbered("bp", 3),
        ],
        CsvTarget::class("died"),
    )
}

/// Asserts that `result` is a CSV error about `<memory>` at `line` and `column`; its message.
pub(super) fn expect_csv_error(
    result: Result<SequenceDataset>,
    line: u64,
    column: Option<&str>,
) -> String {
    match result {
        Err(DataError::Csv {
            path,
            line: l,
            column: c,
            message,
        }) => {
            assert_eq!(path, PathBuf::from(MEMORY_SOURCE));
            assert_eq!((l, c.as_deref()), (line, column), "{message}");
            message
        }
        other => panic!("expected a CSV error, got {other:?}"),
    }
}
