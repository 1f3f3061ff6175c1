//! The partitions a job's Spark steps read, registered before they run. A catalog table's date
//! partitions exist for Athena only as partition projection, and "Partition projection is usable
//! only when the table is queried through Athena. If the same table is read through another
//! service such as Amazon Redshift Spectrum or Amazon EMR, the standard partition metadata is
//! used" (Amazon Athena User Guide, "Partition projection with Amazon Athena", considerations):
//! without registered partitions Spark on the cluster reads such a table as empty, and says
//! nothing.
//!
//! So the first states of a job on a cluster that uses the Glue Data Catalog add, for every
//! projected table of the spec, the partitions of the execution's start day and the day before
//! (UTC, the clock Firehose's `!{timestamp:…}` folders follow; every hour of both days for an
//! hourly table; for a table of several keys, such as Hive-style `dt=…/hour=…/` folders, the
//! value of each key, all from the same moment as Firehose writes them, at the folder the
//! projection's `storage.location.template` names) — the input of a nightly batch whatever its time zone, as a local day falls
//! within those two UTC days on either side of UTC. Each table takes two calls of the AWS SDK
//! integration: Glue `GetTable` (its storage descriptor, kept in a variable) and
//! `BatchCreatePartition` with that descriptor at each partition's folder. The Glue API rather
//! than Athena's `ALTER TABLE ADD IF NOT EXISTS PARTITION`: no query results location, no
//! workgroup and no scan limit are involved, and a partition that exists already is not an
//! error of the call but an entry of its `Errors` list (`AlreadyExistsException`, Glue API,
//! BatchCreatePartition), which the next state ignores; any other entry fails the job before it
//! resizes anything. The days are computed in JSONata (`QueryLanguage: JSONata` on these states
//! only: "Transforming data with JSONata in Step Functions"), which has the date arithmetic
//! JSONPath lacks.

use serde_json::{json, Map, Value};

use super::definition::retry;
use crate::spec::DatePartition;

/// A table whose date partitions a job registers.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePartitions {
    pub database: String,
    pub table: String,
    /// The XPath picture (`$fromMillis`) of each key's Java date pattern, in key order:
    /// `[Y0001]-[M01]-[D01]` for `yyyy-MM-dd`, `[H01]` for `HH`.
    pub pictures: Vec<String>,
    /// Whether the keys have hours (`HH`): then every hour of the two days is a partition.
    pub hourly: bool,
    /// The partition's folder is these texts with each key's value between them (one text more
    /// than keys, from the projection's template).
    pub location: Vec<String>,
}

/// What separates the keys' values in the one string `$fromMillis` writes; no picture has it
/// (`spec::partitioning` allows only date fields and `/-_.=` in a pattern).
const SEPARATOR: &str = "|";

impl TablePartitions {
    /// The partitions of `partition`, a table `database.table`; None if its template does not
    /// hold every key (no layout `spec` derives).
    pub fn new(database: &str, table: &str, partition: &DatePartition) -> Option<Self> {
        let mut location = Vec::new();
        let mut rest = partition.template.as_str();
        for key in &partition.keys {
            let (before, after) = rest.split_once(&DatePartition::placeholder(&key.name))?;
            location.push(before.to_string());
            rest = after;
        }
        location.push(rest.to_string());
        Some(TablePartitions {
            database: database.to_string(),
            table: table.to_string(),
            pictures: partition.keys.iter().map(|key| picture(&key.format)).collect(),
            hourly: partition.unit == "HOURS",
            location,
        })
    }
}

/// The state a partition error leads to, that puts the errors where the failure path expects
/// them (`$.failure`).
const NOT_REGISTERED: &str = "PartitionsNotRegistered";
/// The check of the errors the tables' calls gave.
const REGISTERED: &str = "PartitionsRegistered";

/// The XPath picture of a Java date pattern of `yyyy`, `MM`, `dd`, `HH` and literal characters
/// (the letters `spec::catalog` lets a projected folder use).
pub fn picture(pattern: &str) -> String {
    let mut picture = pattern.replace('[', "[[").replace(']', "]]");
    for (java, xpath) in [("yyyy", "[Y0001]"), ("MM", "[M01]"), ("dd", "[D01]"), ("HH", "[H01]")] {
        picture = picture.replace(java, xpath);
    }
    picture
}

/// The state name of table `index` (from 0): `ReadTable-1`, `AddPartitions-1`.
fn names(index: usize) -> (String, String) {
    (format!("ReadTable-{}", index + 1), format!("AddPartitions-{}", index + 1))
}

/// A JSONata string literal of `text` (JSON's escapes are JSONata's).
fn literal(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The JSONata expression of the `PartitionInputList`: each partition of the start day and the
/// day before (the values of its keys, written together with one picture and split apart), at
/// its folder, with the table's storage descriptor (`$storage`).
pub fn partition_list(table: &TablePartitions) -> String {
    let (count, step) = if table.hourly { (47, 3_600_000) } else { (1, 86_400_000) };
    let values: Vec<String> = (0..table.pictures.len()).map(|index| format!("$p[{index}]")).collect();
    let mut location = Vec::new();
    for (index, text) in table.location.iter().enumerate() {
        location.push(literal(text));
        if let Some(value) = values.get(index) {
            location.push(value.clone());
        }
    }
    format!(
        "{{% ($start := $toMillis($states.context.Execution.StartTime); $day := $start - $start % 86400000; \
         $values := $distinct($map([0..{count}], function($i) {{ $fromMillis($day - 86400000 + $i * {step}, {picture}) }})); \
         $append([], $map($values, function($v) {{ ($p := $split($v, {separator}); {{\"Values\": [{values}], \"StorageDescriptor\": $merge([$storage, {{\"Location\": {location}}}])}}) }}))) %}}",
        picture = literal(&table.pictures.join(SEPARATOR)),
        separator = literal(SEPARATOR),
        values = values.join(", "),
        location = location.join(" & "),
    )
}

/// The states that register `tables`' partitions, then go on to `next`; an error goes to
/// `failed` with the error under `$.failure`. Returns the first state's name (`next` when there
/// is no table) and the states.
pub fn states(partition: &str, tables: &[TablePartitions], next: &str, failed: &str) -> (String, Map<String, Value>) {
    let mut states = Map::new();
    if tables.is_empty() {
        return (next.to_string(), states);
    }
    let integration = |action: &str| format!("arn:{partition}:states:::aws-sdk:glue:{action}");
    // A JSONata state's catcher shapes the output itself ("Output"), as ResultPath does for the
    // JSONPath states the failure path is made of.
    let catch = json!([{
        "ErrorEquals": ["States.ALL"],
        "Output": "{% $merge([$states.input, {\"failure\": $states.errorOutput}]) %}",
        "Next": failed
    }]);
    for (index, table) in tables.iter().enumerate() {
        let (read, add) = names(index);
        let after = if index + 1 < tables.len() { names(index + 1).0 } else { REGISTERED.to_string() };
        states.insert(
            read,
            json!({
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": integration("getTable"),
                "Arguments": {"DatabaseName": table.database, "Name": table.table},
                "Assign": {"storage": "{% $states.result.Table.StorageDescriptor %}"},
                "Output": "{% $states.input %}",
                "Retry": retry(),
                "Catch": catch,
                "Next": add
            }),
        );
        states.insert(
            add,
            json!({
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": integration("batchCreatePartition"),
                "Arguments": {
                    "DatabaseName": table.database,
                    "TableName": table.table,
                    "PartitionInputList": partition_list(table)
                },
                // Partitions that exist already are what a second run of the night meets.
                "Output": "{% $merge([$states.input, {\"partition_errors\": $append($states.input.partition_errors, $states.result.Errors[ErrorDetail.ErrorCode != \"AlreadyExistsException\"])}]) %}",
                "Retry": retry(),
                "Catch": catch,
                "Next": after
            }),
        );
    }
    states.insert(
        REGISTERED.to_string(),
        json!({
            "Type": "Choice",
            "Choices": [{"Variable": "$.partition_errors", "IsPresent": true, "Next": NOT_REGISTERED}],
            "Default": next
        }),
    );
    states.insert(
        NOT_REGISTERED.to_string(),
        json!({"Type": "Pass", "InputPath": "$.partition_errors", "ResultPath": "$.failure", "Next": failed}),
    );
    (names(0).0, states)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pattern: &str) -> TablePartitions {
        TablePartitions {
            database: "clickstream".to_string(),
            table: "events".to_string(),
            pictures: vec![picture(pattern)],
            hourly: pattern.contains("HH"),
            location: vec!["s3://lake/raw/events/".to_string(), "/".to_string()],
        }
    }

    #[test]
    fn java_date_patterns_become_xpath_pictures() {
        assert_eq!(picture("yyyy-MM-dd"), "[Y0001]-[M01]-[D01]");
        assert_eq!(picture("yyyy/MM/dd/HH"), "[Y0001]/[M01]/[D01]/[H01]");
        assert_eq!(picture("dt=yyyy[MM]"), "dt=[Y0001][[[M01]]]");
    }

    #[test]
    fn each_table_is_read_then_its_days_added_and_other_errors_fail_the_job() {
        let tables = [table("yyyy-MM-dd"), table("yyyy/MM/dd/HH")];
        let (first, states) = states("aws", &tables, "RecordScale", "NotifyFailure");
        assert_eq!(first, "ReadTable-1");
        assert_eq!(states["ReadTable-1"]["Resource"], "arn:aws:states:::aws-sdk:glue:getTable");
        assert_eq!(states["ReadTable-1"]["Arguments"], json!({"DatabaseName": "clickstream", "Name": "events"}));
        assert_eq!(states["ReadTable-1"]["Next"], "AddPartitions-1");
        assert_eq!(states["AddPartitions-1"]["Resource"], "arn:aws:states:::aws-sdk:glue:batchCreatePartition");
        assert_eq!(states["AddPartitions-1"]["Next"], "ReadTable-2");
        assert_eq!(states["AddPartitions-2"]["Next"], REGISTERED);
        assert_eq!(states[REGISTERED]["Default"], "RecordScale");
        assert_eq!(states[REGISTERED]["Choices"][0]["Next"], NOT_REGISTERED);
        assert_eq!(states[NOT_REGISTERED]["Next"], "NotifyFailure");
        for state in ["ReadTable-1", "AddPartitions-1", "ReadTable-2", "AddPartitions-2"] {
            assert_eq!(states[state]["QueryLanguage"], "JSONata", "{state}");
            assert_eq!(states[state]["Catch"][0]["Next"], "NotifyFailure", "{state}");
        }
        // Two days; every hour of them for an hourly table; at the table's folders.
        let daily = states["AddPartitions-1"]["Arguments"]["PartitionInputList"].as_str().unwrap();
        assert!(
            daily.contains(
                "$map([0..1], function($i) { $fromMillis($day - 86400000 + $i * 86400000, \"[Y0001]-[M01]-[D01]\") })"
            ),
            "{daily}"
        );
        assert!(daily.contains("\"Values\": [$p[0]]"), "{daily}");
        assert!(daily.contains("\"Location\": \"s3://lake/raw/events/\" & $p[0] & \"/\""), "{daily}");
        let hourly = states["AddPartitions-2"]["Arguments"]["PartitionInputList"].as_str().unwrap();
        assert!(hourly.contains("[0..47]") && hourly.contains("$i * 3600000"), "{hourly}");
        // Only errors other than "exists already" count.
        let output = states["AddPartitions-1"]["Output"].as_str().unwrap();
        assert!(output.contains("ErrorDetail.ErrorCode != \"AlreadyExistsException\""), "{output}");
        // No table, no state.
        let (first, none) = super::states("aws", &[], "RecordScale", "Failed");
        assert_eq!((first.as_str(), none.len()), ("RecordScale", 0));
    }

    #[test]
    fn a_hive_style_table_registers_each_keys_value_at_the_templates_folder() {
        let prefix = "raw/events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/";
        let partition = crate::spec::layout("lake", prefix, "dt").unwrap().partition.unwrap();
        let table = TablePartitions::new("clickstream", "events", &partition).unwrap();
        assert_eq!(table.pictures, ["[Y0001]-[M01]-[D01]", "[H01]"]);
        assert!(table.hourly);
        assert_eq!(table.location, ["s3://lake/raw/events/dt=", "/hour=", "/"]);
        let list = partition_list(&table);
        assert!(list.contains("$i * 3600000, \"[Y0001]-[M01]-[D01]|[H01]\")"), "{list}");
        assert!(list.contains("$p := $split($v, \"|\")"), "{list}");
        assert!(list.contains("\"Values\": [$p[0], $p[1]]"), "{list}");
        assert!(
            list.contains("\"Location\": \"s3://lake/raw/events/dt=\" & $p[0] & \"/hour=\" & $p[1] & \"/\""),
            "{list}"
        );
    }
}
