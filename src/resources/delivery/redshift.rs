//! A delivery that loads into a warehouse (`to.warehouse`): Firehose stages the records as
//! objects under the delivery's bucket and prefix, then runs Redshift's `COPY` from them ("An
//! Amazon Redshift destination requires an S3 bucket as intermediate location", Firehose API
//! Reference, `CreateDeliveryStream`). Firehose signs in with the warehouse's admin secret
//! (`SecretsManagerConfiguration`, `{"username", "password"}`), which its role may read, and the
//! `COPY` reads the staged objects with the role too. The table is created first, from the
//! catalog table's columns (`warehouse::table`); `COPY … JSON 'auto'` matches the records'
//! fields to its columns by name.
//!
//! What changes in place (UpdateDestination with a `RedshiftDestinationUpdate`, every member
//! sent, since AWS merges and moto replaces nested members whole): the staging prefix, buffer,
//! compression, the table and its columns, the retry duration. Moving to another warehouse, or
//! between S3 and Redshift, replaces the delivery (`warehouse` forces it).

use aws_sdk_firehose::types::{
    CopyCommand, RedshiftDestinationConfiguration, RedshiftDestinationDescription, RedshiftDestinationUpdate,
    RedshiftRetryOptions, S3DestinationConfiguration, S3DestinationUpdate, SecretsManagerConfiguration,
};
use serde_json::{json, Value};

use super::super::kit::{build_error, AwsError, Context};
use super::super::warehouse::table::{ensure, TableLoad};
use super::{buffering, compression_format, encryption};
use crate::iam::Arns;
use crate::model::{DesiredResource, ResourceId};
use crate::names::warehouse_secret_name;
use crate::spec::{self, Column};

/// What a delivery loads into: the warehouse and its database, the admin secret, the table and
/// its columns, and how long Firehose retries a failed `COPY`.
#[derive(Debug, Clone)]
pub struct WarehouseLoad {
    pub warehouse: String,
    pub database: String,
    pub secret: String,
    pub table: String,
    pub columns: Vec<Column>,
    pub retry_seconds: i64,
}

impl WarehouseLoad {
    /// The load `delivery` asks for, when it names a warehouse and catalog table of `spec`.
    pub fn of(spec: &spec::Spec, delivery: &spec::Delivery) -> Option<WarehouseLoad> {
        let target = delivery.to.warehouse.as_ref()?;
        let warehouse = spec.warehouses.iter().find(|warehouse| warehouse.name == target.name)?;
        let table = spec.catalog.iter().flat_map(|catalog| &catalog.tables).find(|table| table.name == target.table)?;
        Some(WarehouseLoad {
            warehouse: warehouse.name.clone(),
            database: warehouse.database.clone(),
            secret: warehouse_secret_name(&spec.pipeline, &warehouse.name),
            table: table.name.clone(),
            columns: table.columns.clone(),
            retry_seconds: target.retry_seconds,
        })
    }

    /// `DataTableColumns`: the columns `COPY` fills, in order.
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|column| column.name.as_str()).collect::<Vec<_>>().join(",")
    }

    /// `CopyOptions`: JSON records, their fields matched to the columns by name, gzip when
    /// Firehose compresses what it stages.
    pub fn copy_options(&self, compression: spec::Compression) -> String {
        match compression {
            spec::Compression::Gzip => "JSON 'auto' GZIP".to_string(),
            _ => "JSON 'auto'".to_string(),
        }
    }
}

/// The load as DescribeDeliveryStream reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLoad {
    /// The cluster identifier, the first label of the JDBC URL's host.
    pub warehouse: String,
    pub table: String,
    pub columns: String,
    pub copy_options: String,
    pub retry_seconds: i64,
}

/// The load `description` reports, and its staging location (as an S3 destination).
pub fn live_load(description: &RedshiftDestinationDescription) -> LiveLoad {
    let url = description.cluster_jdbcurl();
    let host = url.split("://").nth(1).unwrap_or_default();
    let copy = description.copy_command();
    LiveLoad {
        warehouse: host.split('.').next().unwrap_or_default().to_string(),
        table: copy.map(|copy| copy.data_table_name().to_string()).unwrap_or_default(),
        columns: copy.and_then(CopyCommand::data_table_columns).unwrap_or_default().to_string(),
        copy_options: copy.and_then(CopyCommand::copy_options).unwrap_or_default().to_string(),
        retry_seconds: i64::from(
            description.retry_options().and_then(RedshiftRetryOptions::duration_in_seconds).unwrap_or(3600),
        ),
    }
}

/// The statements a loading delivery's role adds: the `COPY` reads what was staged, and
/// Firehose reads the admin secret to sign in ("Grant Firehose access to an Amazon Redshift
/// destination" and "Authenticate with AWS Secrets Manager in Amazon Data Firehose", Amazon
/// Data Firehose Developer Guide). Secrets Manager ends a secret's ARN with six random
/// characters, hence `-??????`.
pub fn load_statements(load: &WarehouseLoad, staged: &str, arns: &Arns) -> Vec<Value> {
    let secret = format!(
        "arn:{}:secretsmanager:{}:{}:secret:{}-??????",
        arns.partition, arns.region, arns.account_id, load.secret
    );
    vec![
        json!({"Sid": "ReadStagedObjects", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [staged]}),
        json!({"Sid": "ReadWarehouseSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret]}),
    ]
}

/// What the destination reads, once its table exists: the JDBC URL of the live cluster and the
/// ARN of its secret, read at create and update (both exist by then: the delivery depends on
/// the warehouse, which depends on the secret); the table is created first if it does not exist.
async fn prepare(ctx: &Context, id: &ResourceId, load: &WarehouseLoad) -> Result<(String, String), AwsError> {
    let (address, port) = super::super::warehouse::endpoint(&ctx.clients, &load.warehouse).await?;
    let secret_arn = super::super::secret::arn(&ctx.clients, &load.secret).await?;
    let table = TableLoad {
        warehouse: &load.warehouse,
        database: &load.database,
        secret: &secret_arn,
        table: &load.table,
        columns: &load.columns,
    };
    ensure(ctx, id, &table).await?;
    Ok((super::super::warehouse::jdbc_url(&address, port, &load.database), secret_arn))
}

fn copy_command(id: &ResourceId, load: &WarehouseLoad, delivery: &spec::Delivery) -> Result<CopyCommand, AwsError> {
    CopyCommand::builder()
        .data_table_name(&load.table)
        .data_table_columns(load.column_list())
        .copy_options(load.copy_options(delivery.compression))
        .build()
        .map_err(|e| build_error(id, "CopyCommand", e))
}

fn secrets(id: &ResourceId, secret_arn: &str) -> Result<SecretsManagerConfiguration, AwsError> {
    SecretsManagerConfiguration::builder()
        .enabled(true)
        .secret_arn(secret_arn)
        .build()
        .map_err(|e| build_error(id, "SecretsManagerConfiguration", e))
}

fn retry(load: &WarehouseLoad) -> RedshiftRetryOptions {
    RedshiftRetryOptions::builder().duration_in_seconds(i32::try_from(load.retry_seconds).unwrap_or(3600)).build()
}

/// The Redshift destination of a new delivery, once its table exists.
pub async fn destination(
    ctx: &Context,
    resource: &DesiredResource,
    delivery: &spec::Delivery,
    load: &WarehouseLoad,
    role_arn: &str,
) -> Result<RedshiftDestinationConfiguration, AwsError> {
    let id = &resource.id;
    let (jdbc_url, secret_arn) = prepare(ctx, id, load).await?;
    let staging = S3DestinationConfiguration::builder()
        .role_arn(role_arn)
        .bucket_arn(ctx.arns.bucket(&delivery.to.bucket))
        .prefix(&delivery.to.prefix)
        .set_error_output_prefix(delivery.to.error_prefix.clone())
        .buffering_hints(buffering(delivery))
        .compression_format(compression_format(delivery.compression))
        .encryption_configuration(encryption(id, delivery)?)
        .build()
        .map_err(|e| build_error(id, "S3Configuration", e))?;
    RedshiftDestinationConfiguration::builder()
        .role_arn(role_arn)
        .cluster_jdbcurl(jdbc_url)
        .copy_command(copy_command(id, load, delivery)?)
        .s3_configuration(staging)
        .retry_options(retry(load))
        .secrets_manager_configuration(secrets(id, &secret_arn)?)
        .build()
        .map_err(|e| build_error(id, "CreateDeliveryStream", e))
}

/// The update that brings a loading delivery to the spec: every member, the table created
/// first if the spec names a new one.
pub async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    delivery: &spec::Delivery,
    load: &WarehouseLoad,
    role_arn: &str,
) -> Result<RedshiftDestinationUpdate, AwsError> {
    let id = &resource.id;
    let (jdbc_url, secret_arn) = prepare(ctx, id, load).await?;
    let staging = S3DestinationUpdate::builder()
        .role_arn(role_arn)
        .bucket_arn(ctx.arns.bucket(&delivery.to.bucket))
        .prefix(&delivery.to.prefix)
        .error_output_prefix(delivery.to.error_prefix.clone().unwrap_or_default())
        .buffering_hints(buffering(delivery))
        .compression_format(compression_format(delivery.compression))
        .encryption_configuration(encryption(id, delivery)?)
        .build();
    Ok(RedshiftDestinationUpdate::builder()
        .role_arn(role_arn)
        .cluster_jdbcurl(jdbc_url)
        .copy_command(copy_command(id, load, delivery)?)
        .s3_update(staging)
        .retry_options(retry(load))
        .secrets_manager_configuration(secrets(id, &secret_arn)?)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_copies_json_by_column_name_and_reads_only_its_secret() {
        let column = |name: &str| Column { name: name.to_string(), data_type: "string".to_string(), comment: None };
        let load = WarehouseLoad {
            warehouse: "analytics".to_string(),
            database: "dev".to_string(),
            secret: "pipectl/p/analytics/admin".to_string(),
            table: "clicks".to_string(),
            columns: vec![column("event_id"), column("user_id")],
            retry_seconds: 600,
        };
        assert_eq!(load.column_list(), "event_id,user_id");
        assert_eq!(load.copy_options(spec::Compression::Gzip), "JSON 'auto' GZIP");
        assert_eq!(load.copy_options(spec::Compression::None), "JSON 'auto'");
        let statements = load_statements(&load, "arn:aws:s3:::lake/staging/*", &Arns::new("123456789012", "eu-west-1"));
        assert_eq!(
            statements[1]["Resource"],
            json!(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:pipectl/p/analytics/admin-??????"])
        );
        assert_eq!(statements[0]["Action"], json!(["s3:GetObject"]));
    }
}
