//! A whole CSV file read into memory: header, data rows with their line numbers, and the errors
//! that name file, line and column, shared by the long and wide readers.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// The name shown as the file path in errors about data read from a reader.
pub const MEMORY_SOURCE: &str = "<memory>";

/// Opens `path` for reading; the error names the file.
pub(super) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })
}

/// A whole CSV file in memory: header and data rows with their line numbers.
pub(super) struct Table {
    /// The file shown in errors ([`MEMORY_SOURCE`] for readers).
    pub(super) path: PathBuf,
    /// The header's column names, in file order.
    headers: Vec<String>,
    /// The data rows, each with as many fields as the header; at least one.
    pub(super) rows: Vec<Row>,
}

/// One data row of a [`Table`].
pub(super) struct Row {
    /// The 1-based line the row starts on (the header is line 1).
    pub(super) line: u64,
    /// The row's cells, trimmed, one per header column.
    pub(super) fields: Vec<String>,
}

impl Row {
    /// The text of this row's cell in `column`.
    pub(super) fn cell(&self, column: &Column) -> &str {
        &self.fields[column.index]
    }
}

/// A column found in a [`Table`]'s header.
pub(super) struct Column {
    /// The column's name, as errors show it.
    pub(super) name: String,
    /// The column's index in each [`Row`]'s fields.
    pub(super) index: usize,
}

impl Table {
    /// Reads the header and every data row; errors on an empty file, a file without data rows
    /// and rows whose number of fields differs from the header's.
    pub(super) fn read(reader: impl Read, path: PathBuf) -> Result<Self> {
        let mut csv_reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(reader);
        let headers: Vec<String> = csv_reader
            .headers()
            .map_err(|e| csv_error(&path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(DataError::Csv {
                path,
                line: 1,
                column: None,
                message: "empty file: no header row".into(),
            });
        }
        let mut rows = Vec::new();
        for record in csv_reader.records() {
            let record = record.map_err(|e| csv_error(&path, e))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != headers.len() {
                return Err(DataError::Csv {
                    path,
                    line,
                    column: None,
                    message: format!(
                        "expected {} fields as in the header, found {}",
                        headers.len(),
                        record.len()
                    ),
                });
            }
            rows.push(Row {
                line,
                fields: record.iter().map(str::to_string).collect(),
            });
        }
        if rows.is_empty() {
            return Err(DataError::Csv {
                path,
                line: 1,
                column: None,
                message: "no data rows below the header".into(),
            });
        }
        Ok(Self {
            path,
            headers,
            rows,
        })
    }

    /// A table of some of a file's rows (at least one), for reading a file in parts.
    pub(super) fn from_parts(path: PathBuf, headers: Vec<String>, rows: Vec<Row>) -> Self {
        Self {
            path,
            headers,
            rows,
        }
    }

    /// The header's column names, in file order.
    pub(super) fn headers(&self) -> &[String] {
        &self.headers
    }

    /// An error about this file at `line` (and `column`, when one is at fault).
    pub(super) fn error(
        &self,
        line: u64,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> DataError {
        DataError::Csv {
            path: self.path.clone(),
            line,
            column: column.map(str::to_string),
            message: message.into(),
        }
    }

    /// The column called `name`; an error when the header has none or more than one.
    pub(super) fn column(&self, name: &str) -> Result<Column> {
        let mut found = self.headers.iter().enumerate().filter(|(_, h)| *h == name);
        match (found.next(), found.next()) {
            (Some((index, _)), None) => Ok(Column {
                name: name.to_string(),
                index,
            }),
            (Some(_), Some(_)) => Err(self.error(
                1,
                Some(name),
                "the column name appears more than once in the header",
            )),
            (None, _) => Err(self.error(
                1,
                Some(name),
                format!(
                    "unknown column; the header has: {}",
                    self.headers.join(", ")
                ),
            )),
        }
    }

    /// The columns called `names`, in that order.
    pub(super) fn columns(&self, names: &[String]) -> Result<Vec<Column>> {
        names.iter().map(|n| self.column(n)).collect()
    }

    /// Parses the numeric cell of `row` in `column`; `None` when it is empty.
    pub(super) fn number_at(&self, row: &Row, column: &Column) -> Result<Option<f32>> {
        self.number(row.cell(column), row.line, &column.name)
    }

    /// Parses a numeric cell; `None` when it is empty.
    pub(super) fn number(&self, text: &str, line: u64, column: &str) -> Result<Option<f32>> {
        if text.is_empty() {
            return Ok(None);
        }
        let value: f32 = text.parse().map_err(|_| {
            self.error(
                line,
                Some(column),
                format!("cannot parse `{text}` as a number"),
            )
        })?;
        if !value.is_finite() {
            return Err(self.error(
                line,
                Some(column),
                format!(
                    "non-finite value `{text}` (NaN and infinities are not allowed; leave the cell empty for a missing value)"
                ),
            ));
        }
        Ok(Some(value))
    }
}

/// A `csv` crate error as a [`DataError`]: I/O failures as such, the rest with their line.
pub(super) fn csv_error(path: &Path, error: ::csv::Error) -> DataError {
    let line = error.position().map_or(0, |p| p.line());
    match error.kind() {
        ::csv::ErrorKind::Io(e) => DataError::Io {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        },
        _ => DataError::Csv {
            path: path.to_path_buf(),
            line,
            column: None,
            message: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{reg_layout, wide_layout, write_file};
    use crate::csv::{read_long_csv, read_wide_csv};
    use crate::error::DataError;

    #[test]
    fn files_show_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir, "vitals.csv", "id,t,a,b,y\np,0,1,2,3\np,1,4,5,3\n");
        let data = read_long_csv(&path, &reg_layout()).unwrap();
        assert_eq!(data.samples()[0].values, vec![1.0, 2.0, 4.0, 5.0]);

        let path = write_file(&dir, "vitals.csv", "id,t,a,b,y\np,0,1,2,3\np,1,4,oops,3\n");
        let err = read_long_csv(&path, &reg_layout()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("vitals.csv, line 3, column `b`"), "{text}");

        let wide_path = write_file(
            &dir,
            "wide.csv",
            "id,hr_0,hr_1,hr_2,bp_0,bp_1,bp_2,died\na,1,2,3,4,5,6,yes\n",
        );
        let data = read_wide_csv(&wide_path, &wide_layout()).unwrap();
        assert_eq!(data.target_names(), &["yes"]);

        let missing = dir.path().join("absent.csv");
        assert!(matches!(
            read_long_csv(&missing, &reg_layout()),
            Err(DataError::Io { .. })
        ));
    }
}
