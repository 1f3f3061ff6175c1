//! What a lake delivery writes besides the records as they come: Parquet through record format
//! conversion with the catalog table's schema, and newline-delimited JSON for a table that reads
//! JSON lines (see the delivery module's header for the rules and their sources).

use aws_sdk_firehose::types::{
    DataFormatConversionConfiguration, Deserializer, InputFormatConfiguration, OpenXJsonSerDe,
    OutputFormatConfiguration, ParquetCompression, ParquetSerDe, ProcessingConfiguration, Processor, ProcessorType,
    SchemaConfiguration, Serializer,
};
use serde_json::{json, Value};

use super::{DeliveryConfig, LiveConversion, Schema};
use crate::iam::Arns;
use crate::spec::{self, TableFormat};

pub(super) fn parquet_compression(compression: spec::ParquetCompression) -> ParquetCompression {
    match compression {
        spec::ParquetCompression::Snappy => ParquetCompression::Snappy,
        spec::ParquetCompression::Gzip => ParquetCompression::Gzip,
        spec::ParquetCompression::Uncompressed => ParquetCompression::Uncompressed,
    }
}

/// The conversion a delivery asks for: its schema table and Parquet compression.
pub(super) fn conversion_of(config: &DeliveryConfig) -> Option<(&Schema, spec::ParquetCompression)> {
    let delivery = &config.delivery;
    (delivery.format == TableFormat::Parquet)
        .then_some(config.schema.as_ref())
        .flatten()
        .map(|schema| (schema, delivery.parquet_compression.unwrap_or_default()))
}

/// The `DataFormatConversionConfiguration` of `config`: JSON in through the OpenX SerDe, Parquet
/// out, the schema from the catalog table read with the delivery's role. `CatalogId`, `Region`
/// and `VersionId` are sent as AWS would default them (the account, the stream's region,
/// `LATEST`: "Firehose uses the most recent version", so column edits apply without an update).
/// A JSON delivery sends `Enabled: false`, which turns off a conversion set before (the other
/// members are "required if Enabled is set to true" only).
pub(super) fn conversion(config: &DeliveryConfig, role_arn: &str, arns: &Arns) -> DataFormatConversionConfiguration {
    let Some((schema, compression)) = conversion_of(config) else {
        return DataFormatConversionConfiguration::builder().enabled(false).build();
    };
    DataFormatConversionConfiguration::builder()
        .enabled(true)
        .schema_configuration(
            SchemaConfiguration::builder()
                .role_arn(role_arn)
                .catalog_id(&arns.account_id)
                .database_name(&schema.database)
                .table_name(&schema.table)
                .region(&arns.region)
                .version_id("LATEST")
                .build(),
        )
        .input_format_configuration(
            InputFormatConfiguration::builder()
                .deserializer(Deserializer::builder().open_x_json_ser_de(OpenXJsonSerDe::builder().build()).build())
                .build(),
        )
        .output_format_configuration(
            OutputFormatConfiguration::builder()
                .serializer(
                    Serializer::builder()
                        .parquet_ser_de(ParquetSerDe::builder().compression(parquet_compression(compression)).build())
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The conversion AWS reports, if it is enabled: `Enabled` "defaults to true" and the Parquet
/// `Compression` to `SNAPPY` when AWS leaves them out (Firehose API Reference,
/// `DataFormatConversionConfiguration`, `ParquetSerDe`).
pub(super) fn live_conversion(configuration: &DataFormatConversionConfiguration) -> Option<LiveConversion> {
    if !configuration.enabled().unwrap_or(true) {
        return None;
    }
    let schema = configuration.schema_configuration()?;
    let parquet = configuration
        .output_format_configuration()
        .and_then(|output| output.serializer())
        .and_then(|serializer| serializer.parquet_ser_de());
    let compression =
        parquet.and_then(|parquet| parquet.compression()).map_or("snappy".to_string(), |c| c.as_str().to_lowercase());
    Some(LiveConversion {
        schema: Schema {
            database: schema.database_name().unwrap_or_default().to_string(),
            table: schema.table_name().unwrap_or_default().to_string(),
        },
        parquet_compression: compression,
    })
}

/// Whether a catalog table reads what the JSON `delivery` writes: then its records must be
/// newline-delimited. A Parquet delivery writes files, not lines.
pub(super) fn read_as_json_lines(spec: &spec::Spec, delivery: &spec::Delivery) -> bool {
    delivery.format == TableFormat::Json
        && spec
            .catalog
            .iter()
            .flat_map(|catalog| &catalog.tables)
            .any(|table| table.delivery.as_deref() == Some(delivery.name.as_str()) && table.format == TableFormat::Json)
}

/// The processing that ends each record with a newline: an `AppendDelimiterToRecord` processor
/// with no parameter ("You don't have to put a processor parameter when you select
/// AppendDelimiterToRecord", Firehose API Reference, `Processor`), or processing turned off.
pub(super) fn newline_processing(on: bool) -> Result<ProcessingConfiguration, aws_sdk_firehose::error::BuildError> {
    let processors = if on {
        Some(vec![Processor::builder().r#type(ProcessorType::AppendDelimiterToRecord).build()?])
    } else {
        None
    };
    Ok(ProcessingConfiguration::builder().enabled(on).set_processors(processors).build())
}

/// Whether processing, as AWS reports it, appends a delimiter to each record.
pub(super) fn live_newline(processing: &ProcessingConfiguration) -> bool {
    processing.enabled().unwrap_or(false)
        && processing.processors().iter().any(|processor| processor.r#type() == &ProcessorType::AppendDelimiterToRecord)
}

/// The statement a converting delivery's role needs: reading the table's schema. Glue checks
/// table reads against the catalog, the database and the table ("Specifying AWS Glue resource
/// ARNs"); the actions are those "Grant Firehose access to AWS Glue for data format
/// conversion" lists (Amazon Data Firehose Developer Guide, "Controlling access").
pub(super) fn schema_statement(schema: &Schema, arns: &Arns) -> Value {
    json!({
        "Sid": "ReadConversionSchema",
        "Effect": "Allow",
        "Action": ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
        "Resource": [arns.glue_catalog(), arns.glue_database(&schema.database), arns.glue_table(&schema.database, &schema.table)],
    })
}
