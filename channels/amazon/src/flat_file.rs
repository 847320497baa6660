//! Amazon's tab-delimited flat-file reports: rows by column name, and the dates and amounts they hold in the
//! formats Amazon writes per marketplace. Pure.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;

/// One row of a flat file, read by column name.
pub struct Row<'a> {
    pub number: usize,
    columns: &'a HashMap<String, usize>,
    cells: Vec<String>,
}

impl Row<'_> {
    /// The cell of `column`, trimmed; empty when the column is absent or the cell blank.
    pub fn get(&self, column: &str) -> &str {
        self.columns
            .get(column)
            .and_then(|&i| self.cells.get(i))
            .map(|c| c.trim())
            .unwrap_or("")
    }

    /// A cell that must not be empty.
    pub fn required(&self, column: &str) -> Result<&str, String> {
        match self.get(column) {
            "" => Err(format!("row {}: {column}: missing", self.number)),
            value => Ok(value),
        }
    }

    pub fn amount(&self, column: &str) -> Result<Decimal, String> {
        let raw = self.required(column)?;
        amount(raw).ok_or_else(|| {
            format!(
                "row {}: {column}: not an amount (value: {raw:?})",
                self.number
            )
        })
    }

    pub fn time(&self, column: &str) -> Result<DateTime<Utc>, String> {
        let raw = self.required(column)?;
        time(raw)
            .ok_or_else(|| format!("row {}: {column}: not a date (value: {raw:?})", self.number))
    }
}

/// Reads a tab-delimited report with a header row; `each` sees every data row (numbered from 2, as in a
/// spreadsheet). Fails naming the first missing column of `required`.
pub fn read<T>(
    text: &str,
    required: &[&str],
    mut each: impl FnMut(Row<'_>) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .quoting(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("the report has no header row: {e}"))?;
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, name)| (name.trim().to_string(), i))
        .collect();
    if let Some(missing) = required.iter().find(|c| !columns.contains_key(**c)) {
        return Err(format!("the report has no {missing:?} column"));
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.push(each(Row {
            number: i + 2,
            columns: &columns,
            cells: record.iter().map(str::to_string).collect(),
        })?);
    }
    Ok(out)
}

/// An amount as Amazon writes it: `1234.56`, `-3.00`, or with a decimal comma (`1234,56`) in European
/// marketplaces.
pub fn amount(raw: &str) -> Option<Decimal> {
    let normal = if raw.contains(',') && !raw.contains('.') {
        raw.replace(',', ".")
    } else {
        raw.replace(',', "")
    };
    normal.parse().ok()
}

/// A time as Amazon's flat files write it: RFC 3339, `2026-11-14 07:00:00 UTC`, `14.11.2026 07:00:00 UTC`,
/// or a date alone (midnight UTC).
pub fn time(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let bare = raw.trim_end_matches(" UTC").trim_end_matches(" GMT");
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(bare, format) {
            return Some(t.and_utc());
        }
    }
    for format in ["%Y-%m-%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(bare, format) {
            return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_in_amazons_formats() {
        assert_eq!(amount("-3.00"), Some(Decimal::new(-300, 2)));
        assert_eq!(amount("1234,56"), Some(Decimal::new(123_456, 2)));
        assert_eq!(amount("1,234.56"), Some(Decimal::new(123_456, 2)));
        assert_eq!(amount("x"), None);
        let t = time("2026-11-14 07:00:00 UTC").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-14T07:00:00+00:00");
        assert_eq!(time("14.11.2026 07:00:00 UTC"), Some(t));
        assert_eq!(time("2026-11-14T07:00:00+00:00"), Some(t));
        assert!(time("2026-11-14").is_some());
    }

    #[test]
    fn rows_are_read_by_column_and_a_missing_column_is_named() {
        let text = "a\tb\n1\t2\n\n3\t\n";
        let rows = read(text, &["a"], |row| {
            Ok((row.get("a").to_string(), row.get("b").to_string()))
        })
        .unwrap();
        assert_eq!(
            rows,
            vec![("1".into(), "2".into()), ("3".into(), "".into())]
        );
        assert_eq!(
            read(text, &["c"], |_| Ok(())).unwrap_err(),
            "the report has no \"c\" column"
        );
    }
}
