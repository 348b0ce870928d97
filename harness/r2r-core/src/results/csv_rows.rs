//! How a result CSV file is written and read: a row type states its columns once (its fields,
//! in order, under their serde names), [`to_csv`] writes the header from the type and one
//! line per row, [`from_csv`] reads rows back by the columns' names. Each file's row type
//! lives in its own module beside its file name ([`crate::results::sizes`],
//! [`crate::results::startup_runs`], ...) and ties itself to the file with [`CsvFile`].
//!
//! Cells: integers in decimal, an absent value is an empty cell, lists are `;`-joined.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A row type that is one line of a result CSV file: the file's name, and the columns a file
/// must have to be read (files written by an older r2r may lack newer columns). The header is
/// the type's fields ([`header`]).
pub trait CsvFile: Serialize + DeserializeOwned {
    /// The file's name in a run directory.
    const NAME: &'static str;
    /// Columns every readable file has.
    const REQUIRED: &'static [&'static str];
}

/// A number written with `DIGITS` decimals (and a `+` on positive values when `PLUS`); an
/// absent number is an empty cell. Read back, a cell gives the number it shows.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Fixed<const DIGITS: usize, const PLUS: bool = false>(pub Option<f64>);

impl<const DIGITS: usize, const PLUS: bool> Serialize for Fixed<DIGITS, PLUS> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(value) if PLUS => serializer.serialize_str(&format!("{value:+.DIGITS$}")),
            Some(value) => serializer.serialize_str(&format!("{value:.DIGITS$}")),
            None => serializer.serialize_str(""),
        }
    }
}

impl<'de, const DIGITS: usize, const PLUS: bool> Deserialize<'de> for Fixed<DIGITS, PLUS> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let cell = String::deserialize(deserializer)?;
        if cell.is_empty() {
            return Ok(Fixed(None));
        }
        cell.parse()
            .map(|value| Fixed(Some(value)))
            .map_err(|_| serde::de::Error::custom(format!("'{cell}' is not a number")))
    }
}

/// The column names of a row type: its fields in order, under their serde names (read from
/// the type's `Deserialize`, so a row type states its columns once).
pub fn header<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error, Visitor};
    struct FieldNames<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("a row type is a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("only the field names were wanted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// Writes rows as CSV: the header from the row type (also when there are no rows), then one
/// line per row.
pub fn to_csv<T: Serialize + DeserializeOwned>(rows: &[T]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    writer.write_record(header::<T>())?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// Reads every row of CSV bytes by the columns' names (run directories are read with
/// [`crate::results::reading::read_csv`], which also names missing columns).
pub fn from_csv<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, csv::Error> {
    csv::Reader::from_reader(bytes).deserialize().collect()
}

/// The number in column `column` of a row, read by the column's name through the row's
/// serde form (so that readers need no list of columns); `None` for an empty cell, a cell
/// that is not a number, or no such column.
pub fn number<T: Serialize>(row: &T, column: &str) -> Option<f64> {
    match serde_json::to_value(row).ok()? {
        serde_json::Value::Object(map) => map.get(column)?.as_f64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::history::HistoryRow;
    use crate::results::layers::LayerCsvRow;
    use crate::results::sharing::SharingRow;
    use crate::results::sizes::SizeRow;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(rows: Vec<T>) {
        let bytes = to_csv(&rows).unwrap();
        let back: Vec<T> = from_csv(&bytes).unwrap();
        assert_eq!(back, rows, "{}", String::from_utf8_lossy(&bytes));
        // And written again, the same bytes.
        assert_eq!(to_csv(&back).unwrap(), bytes);
    }

    #[test]
    fn the_header_is_the_field_names_also_without_rows() {
        assert_eq!(
            header::<HistoryRow>(),
            ["run_id", "image", "metric", "value", "dotnet"]
        );
        assert_eq!(
            to_csv::<SharingRow>(&[]).unwrap(),
            b"set,figure,image,total_bytes,owned_bytes,shared_bytes,set_sum_bytes,set_stored_once_bytes,set_saved_bytes\n"
        );
    }

    #[test]
    fn size_rows_round_trip() {
        round_trip(vec![
            SizeRow {
                image: "no-composite.webapi".into(),
                reference: "r2r/quick:no-composite-webapi".into(),
                variants: "no-composite;aspnet-composite".into(),
                role: "webapi".into(),
                layers: 4,
                engine_size_bytes: Some(231_456_789),
                content_bytes: 231_456_789,
                tar_bytes: 236_000_256,
                gzip_bytes: 92_000_001,
                zstd_bytes: 80_000_002,
                wasted_bytes: 17,
                registry_bytes: Some(92_100_000),
                engine_blob_bytes: Some(91_900_000),
                engine_blob_compression: "gzip".into(),
            },
            SizeRow {
                image: "app:latest".into(),
                reference: "app:latest".into(),
                variants: String::new(),
                role: String::new(),
                layers: 1,
                engine_size_bytes: None,
                content_bytes: 5,
                tar_bytes: 2048,
                gzip_bytes: 120,
                zstd_bytes: 110,
                wasted_bytes: 0,
                registry_bytes: None,
                engine_blob_bytes: None,
                engine_blob_compression: String::new(),
            },
        ]);
    }

    #[test]
    fn size_rows_written_before_the_engine_blob_columns_still_read() {
        let old = b"image,reference,variants,role,layers,engine_size_bytes,content_bytes,tar_bytes,gzip_bytes,zstd_bytes,wasted_bytes,registry_bytes\nrt,r2r/q:rt,a,runtime,2,10,10,2048,120,110,0,\n";
        let rows: Vec<SizeRow> = from_csv(old).unwrap();
        assert_eq!(rows[0].engine_blob_bytes, None);
        assert_eq!(rows[0].engine_blob_compression, "");
        assert_eq!(rows[0].gzip_bytes, 120);
    }

    #[test]
    fn layer_rows_round_trip() {
        round_trip(vec![LayerCsvRow {
            chain_id: "sha256:aa".into(),
            diff_id: "sha256:bb".into(),
            created_by: "/bin/sh -c #(nop) COPY dir:x in / , with \"quotes\"".into(),
            entries: 4518,
            content_bytes: 80_590_324,
            tar_bytes: 83_814_400,
            gzip_bytes: 32_000_978,
            zstd_bytes: 26_770_000,
            registry_bytes: None,
            images: "runtime-deps;no-composite.runtime".into(),
        }]);
    }

    #[test]
    fn sharing_rows_round_trip() {
        round_trip(vec![SharingRow {
            set: "all".into(),
            figure: "gzip".into(),
            image: "runtime-deps".into(),
            total_bytes: 100,
            owned_bytes: 0,
            shared_bytes: 100,
            set_sum_bytes: 1000,
            set_stored_once_bytes: 400,
            set_saved_bytes: 600,
        }]);
    }

    #[test]
    fn history_rows_round_trip() {
        round_trip(vec![
            HistoryRow {
                run_id: "20261124T203435Z".into(),
                image: "no-composite.console".into(),
                metric: "gzip_bytes".into(),
                value: 68_587_642.0,
                dotnet: "10.0.14".into(),
            },
            HistoryRow {
                run_id: "20261124T203435Z".into(),
                image: "no-composite.console".into(),
                metric: "startup_warm_total_median_ms".into(),
                value: 412.125,
                dotnet: String::new(),
            },
        ]);
    }

    #[test]
    fn history_files_without_the_version_column_still_read() {
        let rows: Vec<HistoryRow> =
            from_csv(b"run_id,image,metric,value\n20261124T203435Z,a,gzip_bytes,5\n").unwrap();
        assert_eq!(rows[0].dotnet, "");
        assert_eq!(rows[0].value, 5.0);
    }

    #[test]
    fn fixed_numbers_are_written_with_their_digits_and_read_back() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Row {
            a: Fixed<3>,
            b: Fixed<1, true>,
            c: Fixed<2>,
        }
        let rows = vec![
            Row {
                a: Fixed(Some(1.5)),
                b: Fixed(Some(2.5)),
                c: Fixed(None),
            },
            Row {
                a: Fixed(Some(-0.25)),
                b: Fixed(Some(-3.0)),
                c: Fixed(Some(12.0)),
            },
        ];
        let bytes = to_csv(&rows).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "a,b,c\n1.500,+2.5,\n-0.250,-3.0,12.00\n"
        );
        round_trip(rows);
        let error = from_csv::<Row>(b"a,b,c\nx,,\n").unwrap_err().to_string();
        assert!(error.contains("'x' is not a number"), "{error}");
    }
}
