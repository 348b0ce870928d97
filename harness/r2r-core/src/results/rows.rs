//! The rows of the result CSV files under one name, with the functions that write and read
//! them ([`crate::results::csv_rows`]); each row type lives in its file's module.

pub use crate::results::csv_rows::{from_csv, header, number, to_csv, CsvFile, Fixed};
pub use crate::results::history::{HistoryRow, HISTORY_COLUMNS};
pub use crate::results::layers::LayerCsvRow;
pub use crate::results::sharing::SharingRow;
pub use crate::results::sizes::SizeRow;
