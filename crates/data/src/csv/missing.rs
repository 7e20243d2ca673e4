//! The missing-value policy: what an empty feature or per-step target cell becomes, applied one
//! cell at a time by both readers so that they fill, drop and refuse alike.

use serde::{Deserialize, Serialize};

use super::table::Table;
use crate::error::Result;

/// What to do with an empty cell in a feature or per-step target column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissingValues {
    /// Refuse the file with an error naming line and column (the default).
    #[default]
    Error,
    /// Copy the value of the previous step of the same sample (same id in long format, previous
    /// step column in wide format). A value missing at the first step is an error.
    ForwardFill,
    /// Drop the row: one step in long format, the whole sample in wide format. A sample left
    /// without any step is an error.
    DropRow,
}

/// What the policy makes of one cell.
pub(super) enum Filled {
    /// The cell's value, or the previous step's when it was empty and is forward-filled.
    Value(f32),
    /// The cell is empty and its row is to be dropped.
    DropRow,
}

/// Where a cell stands, for the errors about it.
#[derive(Clone, Copy)]
pub(super) struct CellAt<'a> {
    /// The table the cell is read from.
    pub(super) table: &'a Table,
    /// The cell's line.
    pub(super) line: u64,
    /// The cell's column name.
    pub(super) column: &'a str,
    /// The id of the sample the cell belongs to.
    pub(super) id: &'a str,
}

impl MissingValues {
    /// Applies the policy to `cell`, `None` when empty; `previous` is the same column's value at
    /// the sample's previous kept step, `None` at its first step.
    pub(super) fn fill(
        self,
        cell: Option<f32>,
        previous: Option<f32>,
        at: CellAt<'_>,
    ) -> Result<Filled> {
        let CellAt {
            table,
            line,
            column,
            id,
        } = at;
        match (cell, self, previous) {
            (Some(value), _, _) => Ok(Filled::Value(value)),
            (None, Self::DropRow, _) => Ok(Filled::DropRow),
            (None, Self::ForwardFill, Some(value)) => Ok(Filled::Value(value)),
            (None, Self::ForwardFill, None) => Err(table.error(
                line,
                Some(column),
                format!(
                    "missing value at the first step of id `{id}`; forward fill has nothing to copy"
                ),
            )),
            (None, Self::Error, _) => Err(table.error(
                line,
                Some(column),
                format!(
                    "missing value for id `{id}` (choose a MissingValues policy to fill or drop it)"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{expect_csv_error, long, reg_layout, wide, wide_layout};
    use super::*;

    #[test]
    fn long_missing_value_policies() {
        let text = "id,t,a,b,y\np,0,1,2,9\np,1,,4,9\np,2,5,,9\n";
        let msg = expect_csv_error(long(text, &reg_layout()), 3, Some("a"));
        assert!(msg.contains("missing"), "{msg}");
        let filled = long(text, &reg_layout().with_missing(MissingValues::ForwardFill)).unwrap();
        assert_eq!(
            filled.samples()[0].values,
            vec![1.0, 2.0, 1.0, 4.0, 5.0, 4.0]
        );
        let dropped = long(text, &reg_layout().with_missing(MissingValues::DropRow)).unwrap();
        assert_eq!(dropped.samples()[0].values, vec![1.0, 2.0]);
        assert_eq!(dropped.num_steps(), 1);
        let first_missing = "id,t,a,b,y\np,1,1,2,9\np,0,,4,9\n";
        let msg = expect_csv_error(
            long(
                first_missing,
                &reg_layout().with_missing(MissingValues::ForwardFill),
            ),
            3,
            Some("a"),
        );
        assert!(msg.contains("first step"), "{msg}");
        let all_missing = "id,t,a,b,y\np,0,,2,9\n";
        expect_csv_error(
            long(
                all_missing,
                &reg_layout().with_missing(MissingValues::DropRow),
            ),
            2,
            None,
        );
    }

    #[test]
    fn wide_missing_value_policies() {
        let header = "id,hr_0,hr_1,hr_2,bp_0,bp_1,bp_2,died\n";
        let text = format!("{header}a,80,,82,100,101,102,1\nb,70,71,72,90,91,92,0\n");
        expect_csv_error(wide(&text, &wide_layout()), 2, Some("hr_1"));
        let filled = wide(
            &text,
            &wide_layout().with_missing(MissingValues::ForwardFill),
        )
        .unwrap();
        assert_eq!(
            filled.samples()[0].values,
            vec![80.0, 100.0, 80.0, 101.0, 82.0, 102.0]
        );
        let dropped = wide(&text, &wide_layout().with_missing(MissingValues::DropRow)).unwrap();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped.samples()[0].id, "b");
        let first = format!("{header}a,,81,82,100,101,102,1\n");
        expect_csv_error(
            wide(
                &first,
                &wide_layout().with_missing(MissingValues::ForwardFill),
            ),
            2,
            Some("hr_0"),
        );
    }
}
