//! The Redshift tables deliveries load into, created through the Redshift Data API before the
//! delivery: Firehose's `COPY` needs the table ("The table must already exist in the database",
//! Firehose API Reference, `CopyCommand.DataTableName`). The columns are the catalog table's,
//! each Glue type mapped to Redshift's; the statement is `CREATE TABLE IF NOT EXISTS`, so an
//! existing table — with the rows it holds and any column a person added — is left as it is.
//! pipectl never alters or drops a warehouse table: changing one is a migration of its data,
//! done in SQL, and deleting the warehouse deletes its tables (a delete the plan marks).
//!
//! The Data API is asynchronous ("Calls to the Data API are asynchronous", Amazon Redshift
//! Management Guide): ExecuteStatement answers an id, and DescribeStatement is asked until the
//! statement is `FINISHED`, `FAILED` (with Redshift's error) or `ABORTED`. It reaches the cluster
//! through AWS, whatever the cluster's network. It signs in with the warehouse's admin secret.

use aws_sdk_redshiftdata::types::StatusString;

use super::super::kit::wait::{wait_until, Poll};
use super::super::kit::{aws_error, AwsError, Context};
use crate::model::ResourceId;

/// What a delivery loads into: the warehouse (its cluster), the database, the admin secret,
/// and the table with its columns (names and Glue types).
pub struct TableLoad<'a> {
    pub warehouse: &'a str,
    pub database: &'a str,
    pub secret: &'a str,
    pub table: &'a str,
    pub columns: &'a [crate::spec::Column],
}

/// The Redshift type of a Glue/Hive type (canonical: lower case, no spaces), by the closest
/// Redshift data type ("Data types", Amazon Redshift Database Developer Guide): `string` is
/// `VARCHAR(65535)`, Redshift's longest; `array`, `map` and `struct` are `SUPER` (semi-structured,
/// which `COPY … JSON 'auto'` loads); `binary` is `VARBYTE`.
pub fn redshift_type(glue: &str) -> String {
    let glue = crate::spec::canonical_type(glue);
    match glue.as_str() {
        "string" => "VARCHAR(65535)".to_string(),
        "boolean" => "BOOLEAN".to_string(),
        "tinyint" | "smallint" => "SMALLINT".to_string(),
        "int" | "integer" => "INTEGER".to_string(),
        "bigint" => "BIGINT".to_string(),
        "float" => "REAL".to_string(),
        "double" => "DOUBLE PRECISION".to_string(),
        "date" => "DATE".to_string(),
        "timestamp" => "TIMESTAMP".to_string(),
        "binary" => "VARBYTE".to_string(),
        "decimal" => "DECIMAL(10,0)".to_string(),
        other if other.starts_with("decimal(") || other.starts_with("varchar(") || other.starts_with("char(") => {
            other.to_uppercase()
        }
        _ => "SUPER".to_string(),
    }
}

/// `CREATE TABLE IF NOT EXISTS "<table>" ("<column>" <type>, …)`: names quoted, as the catalog's
/// are lowercase letters, digits and `_` already (validation), so quoting only keeps Redshift's
/// reserved words usable as column names.
pub fn create_statement(table: &str, columns: &[crate::spec::Column]) -> String {
    let columns: Vec<String> =
        columns.iter().map(|column| format!("\"{}\" {}", column.name, redshift_type(&column.data_type))).collect();
    format!("CREATE TABLE IF NOT EXISTS \"{table}\" ({})", columns.join(", "))
}

/// Creates the table of `load` unless it exists, and waits for Redshift to finish. `id` is the
/// delivery's, which errors name. An emulator whose answer the SDK cannot read (moto's Data API
/// answers timestamps as text, where AWS's JSON protocol sends numbers) gets a warning and no
/// table: against AWS the same is an error.
pub async fn ensure(ctx: &Context, id: &ResourceId, load: &TableLoad<'_>) -> Result<(), AwsError> {
    let data = &ctx.clients.redshift_data;
    let executed = data
        .execute_statement()
        .cluster_identifier(load.warehouse)
        .database(load.database)
        .secret_arn(load.secret)
        .sql(create_statement(load.table, load.columns))
        .send()
        .await
        .map_err(|error| aws_error(id, "ExecuteStatement", error));
    let executed = match executed {
        Ok(executed) => executed,
        Err(error) if ctx.clients.emulated && error.code.is_none() => {
            ctx.progress.warn(&format!(
                "{id}: the endpoint does not implement redshift-data:ExecuteStatement; table {} is not created",
                load.table
            ));
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    let statement = executed.id().unwrap_or_default().to_string();
    let goal = format!("table {} created in warehouse {}", load.table, load.warehouse);
    wait_until(id, &goal, ctx.wait, &ctx.progress, || async {
        let described = data.describe_statement().id(&statement).send().await;
        let described = described.map_err(|error| aws_error(id, "DescribeStatement", error))?;
        Ok(match described.status() {
            Some(StatusString::Finished) => Poll::Ready,
            Some(StatusString::Failed) => Poll::Failed(format!(
                "Redshift refused `{}`: {}",
                described.query_string().unwrap_or_default(),
                described.error().unwrap_or("no reason given")
            )),
            Some(StatusString::Aborted) => Poll::Failed("the statement was aborted".to_string()),
            Some(status) => Poll::Pending(status.as_str().to_string()),
            None => Poll::Pending("no status yet".to_string()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
    use aws_sdk_redshiftdata::operation::execute_statement::ExecuteStatementOutput;
    use aws_sdk_redshiftdata::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;
    use crate::spec::Column;

    /// A context whose Data API answers as AWS documents (ExecuteStatement: the statement's
    /// `Id`; DescribeStatement: its `Status`, and `Error` when it FAILED), replayed by the SDK's
    /// mock client: no emulator serves an answer the SDK can read.
    fn context_answering(describe: DescribeStatementOutput, emulated: bool) -> (Context, ResourceId) {
        let execute = mock!(Client::execute_statement)
            .match_requests(|request| {
                request.sql().is_some_and(|sql| sql.starts_with("CREATE TABLE IF NOT EXISTS \"orders\""))
                    && request.cluster_identifier() == Some("analytics")
                    && request.secret_arn() == Some("arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf")
            })
            .then_output(|| ExecuteStatementOutput::builder().id("d9b6c0c9-0747-4bf4-b142-e8883122f766").build());
        let running = mock!(Client::describe_statement)
            .then_output(|| DescribeStatementOutput::builder().id("x").status(StatusString::Started).build().unwrap());
        let done = mock!(Client::describe_statement).then_output(move || describe.clone());
        let mut clients = crate::resources::test_support::clients();
        clients.emulated = emulated;
        clients.redshift_data = mock_client!(aws_sdk_redshiftdata, RuleMode::Sequential, [&execute, &running, &done]);
        let live = crate::model::LiveState::default();
        let ctx = crate::resources::test_support::context(clients, std::time::Duration::from_secs(5), &live);
        (ctx, super::super::id("analytics"))
    }

    fn load(columns: &[Column]) -> TableLoad<'_> {
        TableLoad {
            warehouse: "analytics",
            database: "dev",
            secret: "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf",
            table: "orders",
            columns,
        }
    }

    #[tokio::test]
    async fn the_table_is_created_once_redshift_finishes_and_a_refusal_says_why() {
        let columns = [column("order_id", "string")];
        let finished = DescribeStatementOutput::builder().id("x").status(StatusString::Finished).build().unwrap();
        let (ctx, id) = context_answering(finished, false);
        ensure(&ctx, &id, &load(&columns)).await.expect("FINISHED creates the table");
        let failed = DescribeStatementOutput::builder()
            .id("x")
            .status(StatusString::Failed)
            .query_string("CREATE TABLE IF NOT EXISTS \"orders\" (\"order_id\" VARCHAR(65535))")
            .error("ERROR: permission denied for schema public")
            .build()
            .unwrap();
        let (ctx, id) = context_answering(failed, false);
        let error = ensure(&ctx, &id, &load(&columns)).await.expect_err("FAILED is an error");
        assert!(error.to_string().contains("permission denied for schema public"), "{error}");
        assert!(error.to_string().contains("warehouse/analytics"), "{error}");
    }

    fn column(name: &str, data_type: &str) -> Column {
        Column { name: name.to_string(), data_type: data_type.to_string(), comment: None }
    }

    /// moto's answer to ExecuteStatement, its timestamp as text: the SDK cannot read it.
    #[tokio::test]
    async fn an_emulators_unreadable_answer_is_a_warning_and_the_same_from_aws_an_error() {
        let columns = [column("order_id", "string")];
        for emulated in [true, false] {
            let unreadable = mock!(Client::execute_statement).then_http_response(|| {
                let body = r#"{"Id": "d9b6c0c9-0747-4bf4-b142-e8883122f766", "CreatedAt": "2026-12-08T00:33:34Z"}"#;
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                    aws_smithy_types::body::SdkBody::from(body),
                )
            });
            let mut clients = crate::resources::test_support::clients();
            clients.emulated = emulated;
            clients.redshift_data = mock_client!(aws_sdk_redshiftdata, [&unreadable]);
            let live = crate::model::LiveState::default();
            let ctx = crate::resources::test_support::context(clients, std::time::Duration::from_secs(5), &live);
            let id = super::super::id("analytics");
            let answer = ensure(&ctx, &id, &load(&columns)).await;
            assert_eq!(answer.is_ok(), emulated, "emulated: {emulated}: {answer:?}");
        }
    }

    #[test]
    fn the_catalogs_columns_become_a_redshift_table() {
        let columns = [
            column("event_id", "string"),
            column("amount", "decimal(10, 2)"),
            column("at", "timestamp"),
            column("tags", "array<string>"),
            column("n", "int"),
        ];
        assert_eq!(
            create_statement("clicks", &columns),
            "CREATE TABLE IF NOT EXISTS \"clicks\" (\"event_id\" VARCHAR(65535), \"amount\" DECIMAL(10,2), \"at\" TIMESTAMP, \"tags\" SUPER, \"n\" INTEGER)"
        );
        assert_eq!(redshift_type("varchar(20)"), "VARCHAR(20)");
        assert_eq!(redshift_type("struct<a:int>"), "SUPER");
    }
}
