//! The STO01 stock file: parsing the uploaded CSV (`"offer-sku";"quantity";"warehouse-code";"update-delete"`,
//! semicolon-separated, header first) and rendering the STO03 error report (line number, error reason, then
//! the line as sent, so the file can be fixed and imported again). Pure functions.

/// One data line of a stock file, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockLine {
    /// 1-based line number in the file, the header being line 1.
    pub line: usize,
    pub offer_sku: String,
    pub quantity: String,
    pub warehouse_code: String,
    pub update_delete: String,
}

/// A stock file that cannot be read at all (the import fails as a whole).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StockFileError {
    #[error("the file is empty")]
    Empty,
    #[error("the header has no column {0:?}")]
    MissingColumn(&'static str),
    #[error("the file is not valid CSV: {0}")]
    Csv(String),
}

/// Reads a stock file: columns are found by header name, so their order does not matter.
pub fn parse(text: &str) -> Result<Vec<StockLine>, StockFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| StockFileError::Csv(e.to_string()))?
        .clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(StockFileError::Empty);
    }
    let column = |name: &'static str| headers.iter().position(|h| h.trim() == name);
    let sku = column("offer-sku").ok_or(StockFileError::MissingColumn("offer-sku"))?;
    let quantity = column("quantity").ok_or(StockFileError::MissingColumn("quantity"))?;
    let warehouse = column("warehouse-code");
    let update_delete = column("update-delete");
    let mut lines = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| StockFileError::Csv(e.to_string()))?;
        let get = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        lines.push(StockLine {
            line: index + 2,
            offer_sku: get(Some(sku)),
            quantity: get(Some(quantity)),
            warehouse_code: get(warehouse),
            update_delete: get(update_delete),
        });
    }
    Ok(lines)
}

/// The STO03 error report of the lines in error, with Mirakl's reason for each.
pub fn error_report(errors: &[(StockLine, String)]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let _ = writer.write_record([
        "line",
        "error-message",
        "offer-sku",
        "quantity",
        "warehouse-code",
        "update-delete",
    ]);
    for (line, reason) in errors {
        let number = line.line.to_string();
        let _ = writer.write_record([
            number.as_str(),
            reason.as_str(),
            line.offer_sku.as_str(),
            line.quantity.as_str(),
            line.warehouse_code.as_str(),
            line.update_delete.as_str(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_and_lines_numbered_from_the_header() {
        let lines = parse("\"quantity\";\"offer-sku\"\n\"4\";\"A-1\"\n\"x\";\"B-2\"\n").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].offer_sku, "A-1");
        assert_eq!(lines[1].line, 3);
        assert_eq!(lines[1].quantity, "x");
    }

    #[test]
    fn a_file_without_the_sku_column_fails_whole() {
        assert_eq!(
            parse("sku;quantity\nA;1\n"),
            Err(StockFileError::MissingColumn("offer-sku"))
        );
    }

    #[test]
    fn the_error_report_starts_with_line_and_reason() {
        let line = parse("offer-sku;quantity\nA;-1\n").unwrap().remove(0);
        let report = error_report(&[(line, "Quantity must be positive".into())]);
        let second = report.lines().nth(1).unwrap();
        assert_eq!(
            second,
            "\"2\";\"Quantity must be positive\";\"A\";\"-1\";\"\";\"\""
        );
    }
}
