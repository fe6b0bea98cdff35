//! Exports for finance and BI: rows, each a list of named fields, written as
//! RFC 4180 CSV (a header row first, CRLF line ends) or as one JSON object
//! per line, and streamed in chunks of whole rows by a writer task
//! ([`spawn`]). Values are written as they are: a spreadsheet opening a CSV
//! of ids that start with `=`, `+`, `-` or `@` may take them for formulas.
use std::future::Future;

use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::error::AppError;

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

/// Where a writer sends its chunks.
#[derive(Clone, Debug)]
pub struct Sink {
    tx: mpsc::Sender<Result<Vec<u8>, AppError>>,
}

impl Sink {
    /// Sends whole rows; false once the receiver is gone (the client hung
    /// up), which ends the export quietly.
    pub async fn send(&self, chunk: String) -> bool {
        chunk.is_empty() || self.tx.send(Ok(chunk.into_bytes())).await.is_ok()
    }
}

/// The chunks `write` sends, as they come, inside `span`. An error it
/// returns ends the stream with that error; a writer that dies mid-way ends
/// it with an error too, never with a short file that looks whole.
pub fn spawn<F, Fut>(span: tracing::Span, write: F) -> mpsc::Receiver<Result<Vec<u8>, AppError>>
where
    F: FnOnce(Sink) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let sink = Sink { tx: tx.clone() };
    let writer = tokio::spawn(
        async move {
            let failed = sink.clone();
            if let Err(e) = write(sink).await {
                let _ = failed.tx.send(Err(e)).await;
            }
        }
        .instrument(span),
    );
    tokio::spawn(async move {
        if let Err(e) = writer.await {
            let stopped = AppError::Internal(anyhow::anyhow!("export stopped: {e}"));
            let _ = tx.send(Err(stopped)).await;
        }
    });
    rx
}

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
