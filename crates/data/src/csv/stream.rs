//! A CSV file read record by record, for files too big to hold in memory: the header, then one
//! checked [`Row`] at a time, gathered by the callers into small [`Table`]s that the whole-file
//! readers' code reads exactly as it reads a whole file.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::table::{Row, Table, csv_error, open};
use crate::error::{DataError, Result};

/// A CSV file open for reading one row at a time.
pub(super) struct CsvRecords {
    path: PathBuf,
    headers: Vec<String>,
    reader: ::csv::Reader<BufReader<File>>,
    record: ::csv::StringRecord,
    /// Data rows read so far.
    rows: usize,
}

impl CsvRecords {
    /// Opens `path` and reads its header; an empty file is an error naming line 1.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(BufReader::with_capacity(1 << 20, open(path)?));
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line: 1,
                column: None,
                message: "empty file: no header row".into(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            headers,
            reader,
            record: ::csv::StringRecord::new(),
            rows: 0,
        })
    }

    /// A table of the header alone, to find columns in and to name the file in errors.
    pub(super) fn header_table(&self) -> Table {
        self.table(Vec::new())
    }

    /// A table of `rows` of this file.
    pub(super) fn table(&self, rows: Vec<Row>) -> Table {
        Table::from_parts(self.path.clone(), self.headers.clone(), rows)
    }

    /// The next data row, `None` at the end; a row with another number of fields than the
    /// header is an error naming its line.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>> {
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| csv_error(&self.path, e))?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |p| p.line());
        if self.record.len() != self.headers.len() {
            return Err(DataError::Csv {
                path: self.path.clone(),
                line,
                column: None,
                message: format!(
                    "expected {} fields as in the header, found {}",
                    self.headers.len(),
                    self.record.len()
                ),
            });
        }
        self.rows += 1;
        Ok(Some(Row {
            line,
            fields: self.record.iter().map(str::to_string).collect(),
        }))
    }

    /// At the end of the file: an error when it had no data row.
    pub(super) fn finish(&self) -> Result<()> {
        if self.rows == 0 {
            return Err(DataError::Csv {
                path: self.path.clone(),
                line: 1,
                column: None,
                message: "no data rows below the header".into(),
            });
        }
        Ok(())
    }
}

/// The header and at most `max_rows` data rows of `path`, as a table (errors as [`Table::read`]
/// for those rows), and whether the file has more rows.
pub(super) fn read_first_rows(path: &Path, max_rows: usize) -> Result<(Table, bool)> {
    let mut records = CsvRecords::open(path)?;
    let mut rows = Vec::new();
    let more = loop {
        match records.next_row()? {
            Some(_) if rows.len() == max_rows => break true,
            Some(row) => rows.push(row),
            None => break false,
        }
    };
    records.finish()?;
    Ok((records.table(rows), more))
}
