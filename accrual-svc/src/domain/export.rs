//! Rows for finance and BI: each a list of named fields, written as RFC 4180
//! CSV (a header row first, CRLF line ends) or as one JSON object per line.
//! Values are written as they are: a spreadsheet opening a CSV of ids that
//! start with `=`, `+`, `-` or `@` may take them for formulas.

/// How rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header.
    Csv,
    /// Newline-delimited JSON.
    Ndjson,
}

/// One field of CSV, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The header of `columns` (CSV only; NDJSON has none).
pub fn header(format: Format, columns: &[&str]) -> String {
    match format {
        Format::Csv => {
            let mut line = columns.join(",");
            line.push_str("\r\n");
            line
        }
        Format::Ndjson => String::new(),
    }
}

/// One row of `values`, named by `columns`, ending with a newline.
pub fn row(format: Format, columns: &[&str], values: &[String]) -> String {
    match format {
        Format::Csv => {
            let fields: Vec<String> = values.iter().map(|v| csv_field(v)).collect();
            let mut line = fields.join(",");
            line.push_str("\r\n");
            line
        }
        Format::Ndjson => {
            let object: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .zip(values)
                .map(|(c, v)| ((*c).to_owned(), serde_json::Value::String(v.clone())))
                .collect();
            let mut line = serde_json::Value::Object(object).to_string();
            line.push('\n');
            line
        }
    }
}

/// The columns of a rewards export.
pub const REWARDS: [&str; 12] = [
    "order_id",
    "customer_id",
    "occurred_at",
    "channel",
    "store_id",
    "kind",
    "campaign_id",
    "asset",
    "amount",
    "reversed",
    "net",
    "tax_treatment",
];

/// The columns of a tax report export.
pub const TAX: [&str; 8] = [
    "channel",
    "store_id",
    "purchases",
    "revenue",
    "cashback",
    "taxable_base",
    "currency",
    "other_rewards",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_ndjson_names_every_field() {
        let columns = ["order_id", "store_id"];
        let values = ["o,1".to_owned(), "say \"hi\"".to_owned()];
        assert_eq!(header(Format::Csv, &columns), "order_id,store_id\r\n");
        assert_eq!(
            row(Format::Csv, &columns, &values),
            "\"o,1\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(
            row(Format::Ndjson, &columns, &values),
            "{\"order_id\":\"o,1\",\"store_id\":\"say \\\"hi\\\"\"}\n"
        );
        assert_eq!(header(Format::Ndjson, &columns), "");
    }
}
