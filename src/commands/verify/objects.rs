//! Looking for a canary in an object Firehose wrote: known by its content, not its name — gzip
//! (magic `1f 8b`) is decompressed first, Parquet (magic `PAR1`) is read row by row with the
//! `parquet` crate (snappy, gzip or no page compression, what Firehose's `ParquetSerDe` writes),
//! anything else is read as JSON text. Objects under the error prefix hold one JSON document per
//! failed record with the record itself base64-encoded in `rawData` and Firehose's `ErrorCode`
//! and `ErrorMessage` ("Handling errors for data format conversion", Amazon Data Firehose
//! Developer Guide).

use std::io::Read;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::Value;

/// What an object of the data prefix turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examined {
    /// `gzip JSON`, `JSON`, `Parquet`, `gzip Parquet`.
    pub format: String,
    /// Records read (JSON documents, Parquet rows).
    pub records: usize,
    /// Whether one of them is the canary.
    pub holds_canary: bool,
}

/// Reads `bytes` and looks for a record carrying `id` (in any top-level string field of a
/// Parquet row; anywhere in a JSON document).
pub fn examine(bytes: &[u8], id: &str) -> Result<Examined, String> {
    let (bytes, gzip) = gunzip(bytes)?;
    let zipped = |format: &str| if gzip { format!("gzip {format}") } else { format.to_string() };
    if bytes.starts_with(b"PAR1") {
        let (records, holds_canary) = parquet_rows(bytes, id)?;
        return Ok(Examined { format: zipped("Parquet"), records, holds_canary });
    }
    let documents = json_documents(&bytes);
    let holds_canary = documents.iter().any(|document| mentions(document, id));
    Ok(Examined { format: zipped("JSON"), records: documents.len(), holds_canary })
}

/// A record Firehose could not deliver or convert, from the error prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecord {
    pub code: String,
    pub message: String,
    /// Whether its `rawData` is the canary.
    pub is_canary: bool,
}

/// The failed records of an object under the error prefix.
pub fn failed_records(bytes: &[u8], id: &str) -> Result<Vec<FailedRecord>, String> {
    let (bytes, _) = gunzip(bytes)?;
    Ok(json_documents(&bytes)
        .iter()
        .map(|document| {
            let text = |key: &str| document.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
            // Conversion errors spell the keys `ErrorCode`, delivery errors `errorCode`.
            let either = |upper: &str, lower: &str| Some(text(upper)).filter(|v| !v.is_empty()).unwrap_or(text(lower));
            let raw = aws_smithy_types::base64::decode(text("rawData")).unwrap_or_default();
            FailedRecord {
                code: either("ErrorCode", "errorCode"),
                message: either("ErrorMessage", "errorMessage"),
                is_canary: String::from_utf8_lossy(&raw).contains(id),
            }
        })
        .collect())
}

/// The bytes decompressed when they are gzip, and whether they were.
fn gunzip(bytes: &[u8]) -> Result<(Vec<u8>, bool), String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok((bytes.to_vec(), false));
    }
    // Firehose may write several gzip members into one object; MultiGzDecoder reads them all.
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|error| format!("not readable as gzip: {error}"))?;
    Ok((out, true))
}

/// Every JSON document in `bytes`: one per line, or concatenated with no delimiter (what
/// Firehose writes without the `AppendDelimiterToRecord` processor); what does not parse ends
/// the reading.
fn json_documents(bytes: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(bytes).into_iter::<Value>().map_while(Result::ok).collect()
}

/// Whether `id` is one of the strings of `document`, at any depth.
fn mentions(document: &Value, id: &str) -> bool {
    match document {
        Value::String(text) => text == id,
        Value::Array(items) => items.iter().any(|item| mentions(item, id)),
        Value::Object(fields) => fields.values().any(|value| mentions(value, id)),
        _ => false,
    }
}

/// The rows of a Parquet file and whether one has a top-level string field equal to `id`.
fn parquet_rows(bytes: Vec<u8>, id: &str) -> Result<(usize, bool), String> {
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
        .map_err(|error| format!("not readable as Parquet: {error}"))?;
    let (mut rows, mut found) = (0, false);
    for row in reader.get_row_iter(None).map_err(|error| format!("not readable as Parquet: {error}"))? {
        let row = row.map_err(|error| format!("a Parquet row is not readable: {error}"))?;
        rows += 1;
        found |= row.get_column_iter().any(|(_, field)| matches!(field, Field::Str(text) if text == id));
    }
    Ok((rows, found))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::*;

    const ID: &str = "pipectl-canary-1-ab";

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A Parquet file of (event_id, n) rows, compressed as Firehose's ParquetSerDe may.
    fn parquet(ids: &[&str], compression: Compression) -> Vec<u8> {
        let schema =
            Arc::new(parse_message_type("message m { optional binary event_id (UTF8); optional int64 n; }").unwrap());
        let properties = Arc::new(WriterProperties::builder().set_compression(compression).build());
        let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        let values: Vec<ByteArray> = ids.iter().map(|id| ByteArray::from(*id)).collect();
        let levels = vec![1; ids.len()];
        column.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None).unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        let numbers: Vec<i64> = (0..ids.len() as i64).collect();
        column.typed::<Int64Type>().write_batch(&numbers, Some(&levels), None).unwrap();
        column.close().unwrap();
        group.close().unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn gzip_json_is_read_whether_records_are_delimited_or_not() {
        let lines = format!("{{\"a\":\"x\"}}\n{{\"pipectl_canary\":\"{ID}\"}}\n");
        let found = examine(&gzip(lines.as_bytes()), ID).unwrap();
        assert_eq!(found, Examined { format: "gzip JSON".into(), records: 2, holds_canary: true });
        // Without AppendDelimiterToRecord Firehose concatenates the records.
        let joined = format!("{{\"a\":\"x\"}}{{\"n\":1}}{{\"e\":{{\"id\":\"{ID}\"}}}}");
        assert_eq!(examine(joined.as_bytes(), ID).unwrap().records, 3);
        assert!(examine(joined.as_bytes(), ID).unwrap().holds_canary);
        // Another canary's id, or the id inside a longer string, is not this canary.
        let other = gzip(b"{\"pipectl_canary\":\"pipectl-canary-1-ab9\"}");
        assert!(!examine(&other, ID).unwrap().holds_canary);
        assert!(examine(&[0x1f, 0x8b, 0, 1], ID).unwrap_err().starts_with("not readable as gzip"));
    }

    #[test]
    fn parquet_is_read_with_the_codecs_firehose_writes() {
        for compression in [Compression::SNAPPY, Compression::GZIP(Default::default()), Compression::UNCOMPRESSED] {
            let file = parquet(&["e1", ID, "e3"], compression);
            let found = examine(&file, ID).unwrap();
            assert_eq!(found, Examined { format: "Parquet".into(), records: 3, holds_canary: true }, "{compression}");
            assert!(!examine(&parquet(&["e1"], compression), ID).unwrap().holds_canary);
        }
        assert_eq!(examine(&gzip(&parquet(&[ID], Compression::SNAPPY)), ID).unwrap().format, "gzip Parquet");
        assert!(examine(b"PAR1 and then nothing", ID).unwrap_err().starts_with("not readable as Parquet"));
    }

    #[test]
    fn failed_records_say_why_and_whether_they_are_the_canary() {
        let raw = aws_smithy_types::base64::encode(format!("{{\"pipectl_canary\":\"{ID}\",\"ts\":\"x\"}}"));
        let error = format!(
            "{{\"attemptsMade\":1,\"ErrorCode\":\"DataFormatConversion.MalformedData\",\"ErrorMessage\":\"bad ts\",\"rawData\":\"{raw}\"}}\n{{\"errorCode\":\"S3.AccessDenied\",\"errorMessage\":\"no\",\"rawData\":\"e30=\"}}"
        );
        let records = failed_records(&gzip(error.as_bytes()), ID).unwrap();
        assert_eq!(
            records,
            vec![
                FailedRecord {
                    code: "DataFormatConversion.MalformedData".into(),
                    message: "bad ts".into(),
                    is_canary: true
                },
                FailedRecord { code: "S3.AccessDenied".into(), message: "no".into(), is_canary: false },
            ]
        );
    }
}
