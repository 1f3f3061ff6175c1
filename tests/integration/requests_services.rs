//! The services of `requests` whose calls name their resources in a JSON body, a query body (SNS,
//! CloudWatch) or a REST path (Scheduler): which parameter names the resource, which role a call
//! passes, which tags it sets.

use serde_json::Value;

use super::{find_all, json_tags, prefix, query_tags, text, Ask, Requests};

impl Requests {
    pub(super) fn json_service(&mut self, service: &str, line: &Value) -> Result<Ask, String> {
        let operation = text(&line["operation"]);
        let region = text(&line["region"]);
        let body = if line["json"].is_null() { &line["params"] } else { &line["json"] };
        let action = format!("{}:{operation}", prefix(service));
        let field = |name: &str| body[name].as_str().map(str::to_string);
        let account = self.account.clone();
        let arn = |service: &str, resource: &str| format!("arn:aws:{service}:{region}:{account}:{resource}");
        let ask = Ask::default();
        let listing = operation.starts_with("List")
            && ![
                "ListTagsForStream",
                "ListTagsForResource",
                "ListTagsForDeliveryStream",
                "ListInstanceGroups",
                "ListSteps",
                "ListExecutions",
                "ListNamedQueries",
                "ListSubscriptionsByTopic",
                "ListBootstrapActions",
                "ListQueueTags",
                "ListInstanceFleets",
            ]
            .contains(&operation.as_str());
        if listing || operation == "GetResources" || operation == "GetCrawlers" || operation == "DescribeClusters" {
            return Ok(ask.on(&action, "*"));
        }
        match service {
            "kinesis" => {
                let stream = field("StreamARN")
                    .unwrap_or_else(|| arn("kinesis", &format!("stream/{}", field("StreamName").unwrap_or_default())));
                let tags = json_tags(&body["Tags"]);
                let ask = ask.on(&action, &stream);
                match operation.as_str() {
                    "CreateStream" if !tags.is_empty() => {
                        Ok(ask.on("kinesis:AddTagsToStream", &stream).tags(tags, &[stream]))
                    }
                    "CreateStream" | "AddTagsToStream" => Ok(ask.tags(tags, &[stream])),
                    "RemoveTagsFromStream" => Ok(untag(ask, &body["TagKeys"], stream)),
                    _ => Ok(ask),
                }
            }
            "firehose" => {
                let stream =
                    arn("firehose", &format!("deliverystream/{}", field("DeliveryStreamName").unwrap_or_default()));
                let tags = json_tags(&body["Tags"]);
                let mut ask = ask.on(&action, &stream);
                let mut roles = Vec::new();
                find_all(body, "RoleARN", &mut roles);
                for role in roles {
                    ask = self.pass(ask, &role, "firehose.amazonaws.com");
                }
                let calls = TagCalls {
                    create: "CreateDeliveryStream",
                    tag_action: "firehose:TagDeliveryStream",
                    tag: "TagDeliveryStream",
                    untag: Some(("UntagDeliveryStream", "TagKeys")),
                };
                Ok(calls.ask(ask, &operation, stream, tags, body))
            }
            "elasticmapreduce" | "emr" => self.emr(ask, &action, &operation, body, &region, line),
            "states" => {
                let resource = field("stateMachineArn")
                    .or_else(|| field("executionArn"))
                    .or_else(|| field("resourceArn"))
                    .unwrap_or_else(|| arn("states", &format!("stateMachine:{}", field("name").unwrap_or_default())));
                let tags = json_tags(&body["tags"]);
                let mut ask = ask.on(&action, &resource);
                if let Some(role) = field("roleArn") {
                    ask = self.pass(ask, &role, "states.amazonaws.com");
                }
                let calls = TagCalls {
                    create: "CreateStateMachine",
                    tag_action: "states:TagResource",
                    tag: "TagResource",
                    untag: Some(("UntagResource", "tagKeys")),
                };
                Ok(calls.ask(ask, &operation, resource, tags, body))
            }
            "glue" => self.glue(ask, &action, &operation, body, &region),
            "athena" => self.athena(ask, &action, &operation, body, &region, line),
            "sqs" => {
                let name = field("QueueUrl")
                    .map(|url| url.rsplit('/').next().unwrap_or_default().to_string())
                    .or_else(|| field("QueueName"))
                    .unwrap_or_default();
                let queue = arn("sqs", &name);
                let tags = json_tags(if body["tags"].is_null() { &body["Tags"] } else { &body["tags"] });
                let ask = ask.on(&action, &queue);
                let calls = TagCalls {
                    create: "CreateQueue",
                    tag_action: "sqs:TagQueue",
                    tag: "TagQueue",
                    untag: Some(("UntagQueue", "TagKeys")),
                };
                Ok(calls.ask(ask, &operation, queue, tags, body))
            }
            "sns" => {
                let topic = field("TopicArn")
                    .or_else(|| field("ResourceArn"))
                    .or_else(|| {
                        field("SubscriptionArn").map(|s| s.rsplit_once(':').map(|(t, _)| t.to_string()).unwrap_or(s))
                    })
                    .unwrap_or_else(|| arn("sns", &field("Name").unwrap_or_default()));
                let resource = if operation == "Unsubscribe" { "*".to_string() } else { topic.clone() };
                let tags = query_tags(body, "Tags.member.");
                let ask = ask.on(&action, &resource);
                let calls =
                    TagCalls { create: "CreateTopic", tag_action: "sns:TagResource", tag: "TagResource", untag: None };
                Ok(calls.ask(ask, &operation, topic, tags, body))
            }
            "monitoring" => cloudwatch(ask, &action, &operation, body, &arn),
            "dynamodb" => {
                let table = arn("dynamodb", &format!("table/{}", field("TableName").unwrap_or_default()));
                let item = if body["Key"].is_null() { &body["Item"] } else { &body["Key"] };
                Ok(match item["pipeline"]["S"].as_str() {
                    Some(key) => ask.with(&action, &table, "dynamodb:LeadingKeys", key),
                    None => ask.on(&action, &table),
                })
            }
            "scheduler" => self.scheduler(ask, &operation, line),
            "apigateway" => self.apigateway(ask, line, &region),
            "logs" => {
                let group =
                    field("resourceArn").map(|arn| arn.trim_end_matches(":*").to_string()).unwrap_or_else(|| {
                        arn("logs", &format!("log-group:{}", field("logGroupName").unwrap_or_default()))
                    });
                let tags = json_tags(&body["tags"]);
                let ask = if operation == "DescribeLogGroups" { ask.on(&action, "*") } else { ask.on(&action, &group) };
                let calls = TagCalls {
                    create: "CreateLogGroup",
                    tag_action: "logs:TagResource",
                    tag: "TagResource",
                    untag: Some(("UntagResource", "tagKeys")),
                };
                Ok(calls.ask(ask, &operation, group, tags, body))
            }
            "redshift" => Ok(self.redshift(ask, &action, &operation, body, &region)),
            "secretsmanager" => Ok(self.secretsmanager(ask, &action, &operation, body, &region)),
            "redshift-data" => Ok(self.redshift_data(ask, &action, body, &region)),
            _ => Err(format!("no IAM mapping for the service {service}")),
        }
    }

    fn emr(
        &mut self,
        ask: Ask,
        action: &str,
        operation: &str,
        body: &Value,
        region: &str,
        line: &Value,
    ) -> Result<Ask, String> {
        let cluster = |id: &str| self.arn("elasticmapreduce", region, &format!("cluster/{id}"));
        let mut ids: Vec<String> = ["ClusterId", "JobFlowId", "ResourceId"]
            .iter()
            .filter_map(|k| body[k].as_str())
            .map(str::to_string)
            .collect();
        if let Some(list) = body["JobFlowIds"].as_array() {
            ids.extend(list.iter().map(text));
        }
        if operation == "RunJobFlow" {
            let response: Value = serde_json::from_str(&text(&line["response"])).unwrap_or(Value::Null);
            let created = response["JobFlowId"].as_str().map(cluster);
            let tags = json_tags(&body["Tags"]);
            // RunJobFlow has no resource type (Service Authorization Reference, Amazon EMR).
            let mut ask = ask.on(action, "*");
            if let Some(role) = body["ServiceRole"].as_str() {
                ask = self.pass(ask, role, "elasticmapreduce.amazonaws.com");
            }
            if let Some(role) = body["AutoScalingRole"].as_str() {
                ask = self.pass(ask, role, "elasticmapreduce.amazonaws.com");
            }
            if let Some(profile) = body["JobFlowRole"].as_str() {
                let role = self
                    .profile_roles
                    .get(profile)
                    .cloned()
                    .ok_or("an instance profile no AddRoleToInstanceProfile filled")?;
                ask = self.pass(ask, &role, "ec2.amazonaws.com");
            }
            // Tags at RunJobFlow are authorised as AddTags on the literal ARN `…:cluster/*` (the
            // cluster has no id yet; the AccessDenied AWS answers without it names that ARN,
            // docs/deployer-policy.md, `TagClustersAtStart`).
            // The tags land on the cluster RunJobFlow created: later calls carry them.
            if let (Some(created), false) = (created, tags.is_empty()) {
                ask = ask.on("elasticmapreduce:AddTags", &cluster("*")).tags(tags, &[created]);
            }
            return Ok(ask);
        }
        if operation.ends_with("SecurityConfiguration") {
            // No resource type (Service Authorization Reference, Amazon EMR).
            return Ok(ask.on(action, "*"));
        }
        if ids.is_empty() {
            return Err("no cluster id in the request".to_string());
        }
        let mut ask = ask;
        for id in &ids {
            ask = ask.on(action, &cluster(id));
        }
        let resources: Vec<String> = ids.iter().map(|id| cluster(id)).collect();
        match operation {
            "AddTags" => Ok(ask.tags(json_tags(&body["Tags"]), &resources)),
            "RemoveTags" => Ok(untag(ask, &body["TagKeys"], resources[0].clone())),
            _ => Ok(ask),
        }
    }

    fn glue(&mut self, ask: Ask, action: &str, operation: &str, body: &Value, region: &str) -> Result<Ask, String> {
        let arn = |resource: &str| self.arn("glue", region, resource);
        let catalog = arn("catalog");
        let text_of = |value: &Value| value.as_str().map(str::to_string);
        let tags = json_tags(&body["Tags"]);
        if let Some(resource) = text_of(&body["ResourceArn"]) {
            let ask = ask.on(action, &resource);
            return Ok(match operation {
                "TagResource" => ask.tags(json_tags(&body["TagsToAdd"]), &[resource]),
                "UntagResource" => untag(ask, &body["TagsToRemove"], resource),
                _ => ask,
            });
        }
        if operation.contains("Crawler") {
            let crawler = arn(&format!("crawler/{}", text_of(&body["Name"]).unwrap_or_default()));
            // CreateCrawler has no resource type (Service Authorization Reference, AWS Glue).
            let resource = if operation == "CreateCrawler" { "*".to_string() } else { crawler.clone() };
            let mut ask = ask.on(action, &resource);
            if let Some(role) = text_of(&body["Role"]) {
                ask = self.pass(ask, &role, "glue.amazonaws.com");
            }
            if operation == "CreateCrawler" && !tags.is_empty() {
                ask = ask.on("glue:TagResource", &crawler).tags(tags, &[crawler]);
            }
            return Ok(ask);
        }
        let database = text_of(&body["DatabaseName"])
            .or_else(|| text_of(&body["DatabaseInput"]["Name"]))
            .or_else(|| text_of(&body["Name"]));
        let Some(database) = database else { return Ok(ask.on(action, &catalog)) };
        let database_arn = arn(&format!("database/{database}"));
        let mut ask = ask.on(action, &catalog).on(action, &database_arn);
        let table =
            text_of(&body["TableInput"]["Name"]).or_else(|| body["DatabaseName"].as_str().and(text_of(&body["Name"])));
        match (operation, table) {
            ("GetTables", _) => ask = ask.on(action, &arn(&format!("table/{database}/*"))),
            (_, Some(table)) => ask = ask.on(action, &arn(&format!("table/{database}/{table}"))),
            _ => {}
        }
        if operation == "CreateDatabase" && !tags.is_empty() {
            ask = ask.on("glue:TagResource", &database_arn).tags(tags, &[database_arn]);
        }
        Ok(ask)
    }

    fn scheduler(&mut self, ask: Ask, operation: &str, line: &Value) -> Result<Ask, String> {
        let region = text(&line["region"]);
        let path = text(&line["path"]);
        let query = text(&line["query"]);
        let method = text(&line["method"]);
        let body = &line["json"];
        let decode = |text: &str| percent_decode(text);
        if let Some(resource) = path.strip_prefix("/tags/") {
            let resource = decode(resource);
            let (action, tags) = match method.as_str() {
                "GET" => ("scheduler:ListTagsForResource", Vec::new()),
                "POST" => ("scheduler:TagResource", json_tags(&body["Tags"])),
                _ => ("scheduler:UntagResource", Vec::new()),
            };
            return Ok(ask.on(action, &resource).tags(tags, std::slice::from_ref(&resource)));
        }
        let group = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("groupName="))
            .map(decode)
            .or_else(|| body["GroupName"].as_str().map(str::to_string))
            .unwrap_or_else(|| "default".to_string());
        if let Some(name) = path.strip_prefix("/schedules/") {
            let schedule = self.arn("scheduler", &region, &format!("schedule/{group}/{}", decode(name)));
            let mut ask = ask.on(&format!("scheduler:{operation}"), &schedule);
            if let Some(role) = body["Target"]["RoleArn"].as_str() {
                ask = self.pass(ask, role, "scheduler.amazonaws.com");
            }
            return Ok(ask);
        }
        if path == "/schedules" || path == "/schedule-groups" {
            let action = if path == "/schedules" { "scheduler:ListSchedules" } else { "scheduler:ListScheduleGroups" };
            return Ok(ask.on(action, "*"));
        }
        Err(format!("a Scheduler path this table does not know: {method} {path}"))
    }
}

/// The call removes the tag keys in `keys` (a list) from `resource`.
/// The tag calls of a kind whose create may carry tags: such a create also needs the kind's tag
/// action on the new resource; the tag call gives the resource its tags; the untag call (and the
/// request field listing the keys) takes them away.
struct TagCalls {
    create: &'static str,
    tag_action: &'static str,
    tag: &'static str,
    untag: Option<(&'static str, &'static str)>,
}

impl TagCalls {
    /// `ask` for `operation` on `resource`, with what it does to the resource's tags.
    fn ask(&self, ask: Ask, operation: &str, resource: String, tags: Vec<(String, String)>, body: &Value) -> Ask {
        match self.untag {
            _ if operation == self.create && !tags.is_empty() => {
                ask.on(self.tag_action, &resource).tags(tags, &[resource])
            }
            _ if operation == self.tag => ask.tags(tags, &[resource]),
            Some((untag, keys)) if operation == untag => self::untag(ask, &body[keys], resource),
            _ => ask,
        }
    }
}

pub(super) fn untag(mut ask: Ask, keys: &Value, resource: String) -> Ask {
    ask.untagged = keys.as_array().into_iter().flatten().map(text).collect();
    ask.tagged = vec![resource];
    ask
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()),
        ) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Requests {
    /// API Gateway's REST API: the action is the request's HTTP verb on the path's ARN
    /// (`arn:aws:apigateway:<region>::/restapis/…`); what is under a REST API, usage plan or API
    /// key carries its tags for access control; creates tag the new resource (its id is in the
    /// answer); an integration passes its role to API Gateway.
    fn apigateway(&mut self, mut ask: Ask, line: &Value, region: &str) -> Result<Ask, String> {
        let method = text(&line["method"]);
        let action = match method.as_str() {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => format!("apigateway:{method}"),
            other => return Err(format!("no API Gateway action for the method {other}")),
        };
        let path = percent_decode(&text(&line["path"]));
        let arn = |path: &str| format!("arn:aws:apigateway:{region}::{path}");
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // The resource whose tags decide: the REST API, usage plan or API key the path is under,
        // or the resource a tagging call names.
        let owner = match segments.as_slice() {
            ["restapis" | "usageplans" | "apikeys" | "domainnames", id, ..] => {
                Some(arn(&format!("/{}/{id}", segments[0])))
            }
            ["tags", ..] => path.strip_prefix("/tags/").map(str::to_string),
            _ => None,
        };
        let held = owner.as_ref().and_then(|owner| self.tags.get(owner)).cloned().unwrap_or_default();
        let extra = held.iter().map(|(key, value)| (format!("aws:ResourceTag/{key}"), value.clone())).collect();
        ask.items.push((action, arn(&path), extra));
        let body = &line["json"];
        if let Some(role) = body["credentials"].as_str() {
            ask = self.pass(ask, role, "apigateway.amazonaws.com");
        }
        let created = serde_json::from_str::<Value>(&text(&line["response"])).ok();
        let created = created.as_ref().and_then(|answer| answer["id"].as_str().or(answer["domainName"].as_str()));
        match (method.as_str(), segments.as_slice(), created) {
            ("POST", [kind @ ("restapis" | "usageplans" | "apikeys" | "domainnames")], Some(id)) => {
                Ok(ask.tags(json_tags(&body["tags"]), &[arn(&format!("/{kind}/{id}"))]))
            }
            ("PUT", ["tags", ..], _) => Ok(ask.tags(json_tags(&body["tags"]), &owner.into_iter().collect::<Vec<_>>())),
            _ => Ok(ask),
        }
    }

    /// Athena: the workgroup a call names, or the one its named queries were created in.
    fn athena(
        &mut self,
        ask: Ask,
        action: &str,
        operation: &str,
        body: &Value,
        region: &str,
        line: &Value,
    ) -> Result<Ask, String> {
        let account = self.account.clone();
        let arn = |service: &str, resource: &str| format!("arn:aws:{service}:{region}:{account}:{resource}");
        let field = |name: &str| body[name].as_str().map(str::to_string);
        let workgroup = |name: &str| arn("athena", &format!("workgroup/{name}"));
        let mut ids = Vec::new();
        find_all(body, "NamedQueryId", &mut ids);
        if let Some(list) = body["NamedQueryIds"].as_array() {
            ids.extend(list.iter().map(text));
        }
        let named = field("WorkGroup").or_else(|| field("Name"));
        let response: Value = serde_json::from_str(&text(&line["response"])).unwrap_or(Value::Null);
        if let Some(group) = &named {
            let mut answered = Vec::new();
            find_all(&response, "NamedQueryId", &mut answered);
            if let Some(list) = response["NamedQueryIds"].as_array() {
                answered.extend(list.iter().map(text));
            }
            answered.into_iter().for_each(|id| {
                self.named_queries.insert(id, group.clone());
            });
        }
        let resource = match (field("ResourceARN"), named) {
            (Some(resource), _) => resource,
            (None, Some(group)) => workgroup(&group),
            (None, None) => {
                let group = ids
                    .iter()
                    .find_map(|id| self.named_queries.get(id))
                    .ok_or("a named query of no known workgroup")?;
                workgroup(group)
            }
        };
        let tags = json_tags(&body["Tags"]);
        let ask = ask.on(action, &resource);
        let calls = TagCalls {
            create: "CreateWorkGroup",
            tag_action: "athena:TagResource",
            tag: "TagResource",
            untag: Some(("UntagResource", "TagKeys")),
        };
        Ok(calls.ask(ask, operation, resource, tags, body))
    }
}

/// CloudWatch: the alarms a call names (`*` when it names none).
fn cloudwatch(
    ask: Ask,
    action: &str,
    operation: &str,
    body: &Value,
    arn: &dyn Fn(&str, &str) -> String,
) -> Result<Ask, String> {
    let field = |name: &str| body[name].as_str().map(str::to_string);
    let alarm = |name: &str| arn("cloudwatch", &format!("alarm:{name}"));
    let mut names: Vec<String> = body
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("AlarmNames.member.") || *k == "AlarmName")
        .map(|(_, v)| text(v))
        .collect();
    if let Some(list) = body["AlarmNames"].as_array() {
        names.extend(list.iter().map(text));
    }
    let resources: Vec<String> = match field("ResourceARN") {
        Some(resource) => vec![resource],
        // A prefix read is evaluated on the alarms the prefix names.
        None if names.is_empty() => match field("AlarmNamePrefix") {
            Some(prefix) => vec![alarm(&format!("{prefix}*"))],
            None => vec!["*".to_string()],
        },
        None => names.iter().map(|name| alarm(name)).collect(),
    };
    let mut tags = query_tags(body, "Tags.member.");
    tags.extend(json_tags(&body["Tags"]));
    let mut ask = ask;
    for resource in &resources {
        ask = ask.on(action, resource);
    }
    match operation {
        "PutMetricAlarm" if !tags.is_empty() => {
            Ok(ask.on("cloudwatch:TagResource", &resources[0]).tags(tags, &resources))
        }
        "TagResource" => Ok(ask.tags(tags, &resources)),
        _ => Ok(ask),
    }
}
