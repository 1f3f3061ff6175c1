//! What IAM sees of each request pipectl made, read from pipectl-proxy's `--record` file and not
//! from pipectl: for every recorded call, the IAM requests it needs authorised — the action, the
//! resource ARN and the condition keys the call carries (the tags it sets, the tags the resource
//! holds as earlier calls of the recording set them, the role it passes and to which service, the
//! managed policy it attaches, the permissions boundary, the lock item's partition key, the
//! create call an EC2 tag belongs to). Table-driven per service: which parameter names the
//! resource. The permissions test evaluates them against the printed policy.
//!
//! Sources: each service's "Actions, resources, and condition keys" page of the Service
//! Authorization Reference (action names, resource types and their ARN formats, which keys an
//! action takes); "Grant permission to tag resources during creation" (Amazon EC2 User Guide:
//! `ec2:CreateTags` with `ec2:CreateAction` for tags given to a create call); "Granting a user
//! permissions to pass a role to an AWS service" (IAM User Guide: `iam:PassRole` on the role,
//! `iam:PassedToService`); "Amazon S3 API operations and the permissions they require".

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command};

use pipectl::iam::evaluate::Request;
use serde_json::Value;

/// pipectl-proxy in front of `upstream`, recording every request to a file; stopped on drop.
pub struct RecordingProxy {
    child: Child,
    pub url: String,
    pub file: std::path::PathBuf,
}

impl RecordingProxy {
    pub fn start(upstream: &str, file: std::path::PathBuf) -> RecordingProxy {
        let (child, url) = crate::proxy::spawn(
            Command::new(crate::support::proxy_binary()).args(["--upstream", upstream, "--record"]).arg(&file),
        );
        RecordingProxy { child, url, file }
    }

    /// Every line recorded so far.
    pub fn lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
    }
}

/// One recorded call as IAM sees it.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// `service:Operation` as recorded.
    pub label: String,
    pub requests: Vec<Request>,
}

/// Calls whose resource ARN the recording cannot give, each with why; they are checked on `*`
/// as IAM would see an unscoped action, and listed rather than silently passed.
pub const UNSCOPED: &[(&str, &str)] =
    &[("sts:GetCallerIdentity", "needs no permission (\"GetCallerIdentity\", AWS STS API Reference)")];

/// The state the mapping learns from earlier calls of the recording.
pub struct Requests {
    account: String,
    /// Tags of each resource ARN, from the create and tag calls seen.
    tags: HashMap<String, BTreeMap<String, String>>,
    /// IAM paths of roles and instance profiles by name (CreateRole's, CreateInstanceProfile's
    /// `Path`, or a GetRole answer's).
    paths: HashMap<String, String>,
    /// The role in each instance profile (AddRoleToInstanceProfile).
    profile_roles: HashMap<String, String>,
    /// Permissions boundary of each role (CreateRole, PutRolePermissionsBoundary).
    boundaries: HashMap<String, String>,
    /// EC2 route table of each association id (AssociateRouteTable's answer).
    associations: HashMap<String, String>,
    /// Athena workgroup of each named query id.
    named_queries: HashMap<String, String>,
}

/// An action on a resource ARN, with the condition keys only it carries.
type Item = (String, String, Vec<(String, String)>);

/// What one call asks for before context is added.
#[derive(Default)]
struct Ask {
    items: Vec<Item>,
    /// The tags the call sets (`aws:RequestTag`, `aws:TagKeys`).
    tags: Vec<(String, String)>,
    /// The ARNs the tags are set on (learned if the call succeeded).
    tagged: Vec<String>,
    /// Tag keys the call removes from `tagged`.
    untagged: Vec<String>,
}

impl Ask {
    fn on(mut self, action: &str, resource: &str) -> Ask {
        self.items.push((action.to_string(), resource.to_string(), Vec::new()));
        self
    }

    fn with(mut self, action: &str, resource: &str, key: &str, value: &str) -> Ask {
        self.items.push((action.to_string(), resource.to_string(), vec![(key.to_string(), value.to_string())]));
        self
    }

    fn tags(mut self, tags: Vec<(String, String)>, on: &[String]) -> Ask {
        self.tags = tags;
        self.tagged = on.to_vec();
        self
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// Tags as a JSON map (`{"k": "v"}`) or list of `{Key, Value}` / `{key, value}`.
fn json_tags(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(list) => list
            .iter()
            .map(|tag| {
                let key = if tag["Key"].is_null() { &tag["key"] } else { &tag["Key"] };
                let value = if tag["Value"].is_null() { &tag["value"] } else { &tag["Value"] };
                (text(key), text(value))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Tags in query parameters: `{prefix}.N.Key` / `{prefix}.N.Value`.
fn query_tags(params: &Value, prefix: &str) -> Vec<(String, String)> {
    let Some(params) = params.as_object() else { return Vec::new() };
    let mut tags = Vec::new();
    for (name, key) in params {
        if let Some(index) = name.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(".Key")) {
            tags.push((text(key), text(&params[&format!("{prefix}{index}.Value")])));
        }
    }
    tags
}

/// Every string value under a key named `name`, anywhere in `value`.
fn find_all(value: &Value, name: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == name {
                    if let Some(text) = inner.as_str() {
                        found.push(text.to_string());
                    }
                }
                find_all(inner, name, found);
            }
        }
        Value::Array(list) => list.iter().for_each(|inner| find_all(inner, name, found)),
        _ => {}
    }
}

/// The text between `<tag>` and `</tag>`, every time.
fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close).map(|(inside, _)| inside.to_string())).collect()
}

/// The IAM action prefix of a SigV4 signing name.
fn prefix(service: &str) -> &str {
    match service {
        "monitoring" => "cloudwatch",
        "emr" => "elasticmapreduce",
        "tagging" => "tag",
        other => other,
    }
}

impl Requests {
    /// For a recording whose calls were made in `account`; the IAM paths of roles and instance
    /// profiles are learned from the whole recording first (a role is read before it is created).
    pub fn new(account: &str, lines: &[Value]) -> Requests {
        let mut paths = HashMap::new();
        for line in lines.iter().filter(|line| line["service"] == "iam") {
            let params = &line["params"];
            if let (Some(path), Some(role)) = (params["Path"].as_str(), params["RoleName"].as_str()) {
                paths.insert(role.to_string(), path.to_string());
            }
            if let (Some(path), Some(profile)) = (params["Path"].as_str(), params["InstanceProfileName"].as_str()) {
                paths.insert(format!("profile:{profile}"), path.to_string());
            }
        }
        Requests {
            account: account.to_string(),
            tags: HashMap::new(),
            paths,
            profile_roles: HashMap::new(),
            boundaries: HashMap::new(),
            associations: HashMap::new(),
            named_queries: HashMap::new(),
        }
    }

    fn arn(&self, service: &str, region: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{region}:{}:{resource}", self.account)
    }

    fn role(&self, name_or_arn: &str) -> String {
        if name_or_arn.starts_with("arn:") {
            return name_or_arn.to_string();
        }
        let path = self.paths.get(name_or_arn).map_or("/", String::as_str);
        format!("arn:aws:iam::{}:role{path}{name_or_arn}", self.account)
    }

    fn profile(&self, name: &str) -> String {
        let path = self.paths.get(&format!("profile:{name}")).map_or("/", String::as_str);
        format!("arn:aws:iam::{}:instance-profile{path}{name}", self.account)
    }

    /// The IAM requests of one recorded line; Err for a call this table does not know (the test
    /// lists those, so a new call cannot pass unchecked).
    pub fn map(&mut self, line: &Value) -> Result<Mapped, String> {
        let service = text(&line["service"]);
        let label = format!("{service}:{}", self.operation(line));
        let ask = match service.as_str() {
            "sts" => Ok(Ask::default()),
            "s3" => self.s3(line),
            "ec2" => self.ec2(line),
            "iam" => self.iam(line),
            _ => self.json_service(&service, line),
        }
        .map_err(|why| format!("{label}: {why}"))?;
        let ok = line["status"].as_u64().is_some_and(|status| (200..300).contains(&status));
        let requests = self.contextualise(&ask);
        if ok {
            for arn in &ask.tagged {
                let held = self.tags.entry(arn.clone()).or_default();
                held.extend(ask.tags.iter().cloned());
                ask.untagged.iter().for_each(|key| {
                    held.remove(key);
                });
            }
        }
        Ok(Mapped { label, requests })
    }

    /// The operation name: the recorded one, or S3's from its REST shape.
    fn operation(&self, line: &Value) -> String {
        if line["service"] == "s3" {
            return s3_operation(line).0;
        }
        text(&line["operation"])
    }

    /// Each item as a request with the call's tags, the resource's held tags and TLS.
    fn contextualise(&self, ask: &Ask) -> Vec<Request> {
        ask.items
            .iter()
            .map(|(action, resource, extra)| {
                let mut request = Request::new(action, resource).with("aws:SecureTransport", &["true"]);
                for (key, value) in &ask.tags {
                    request = request.with(&format!("aws:RequestTag/{key}"), &[value.as_str()]);
                }
                if !ask.tags.is_empty() {
                    let keys: Vec<&str> = ask.tags.iter().map(|(key, _)| key.as_str()).collect();
                    request = request.with("aws:TagKeys", &keys);
                }
                // S3 buckets and objects are not evaluated on aws:ResourceTag here (the S3 actions
                // pipectl calls list no such key in the Service Authorization Reference).
                if !resource.starts_with("arn:aws:s3:") {
                    for (key, value) in self.tags.get(resource).into_iter().flatten() {
                        request = request.with(&format!("aws:ResourceTag/{key}"), &[value.as_str()]);
                    }
                }
                for (key, value) in extra {
                    request = request.with(key, &[value.as_str()]);
                }
                request
            })
            .collect()
    }
}

/// S3's operation (as its API Reference names it), IAM actions, bucket and key from the REST shape.
fn s3_operation(line: &Value) -> (String, Vec<&'static str>, String, String) {
    let method = text(&line["method"]);
    let path = text(&line["path"]);
    let query = text(&line["query"]);
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let bucket = segments.next().unwrap_or_default().to_string();
    let key = segments.next().unwrap_or_default().to_string();
    let sub: Vec<&str> = query
        .split('&')
        .map(|pair| pair.split('=').next().unwrap_or_default())
        .filter(|name| !name.is_empty())
        .collect();
    let has = |name: &str| sub.contains(&name);
    let (operation, actions): (&str, Vec<&'static str>) = match (method.as_str(), bucket.is_empty(), key.is_empty()) {
        ("GET", true, _) => ("ListBuckets", vec!["s3:ListAllMyBuckets"]),
        ("PUT", false, false) => ("PutObject", vec!["s3:PutObject"]),
        ("GET" | "HEAD", false, false) => ("GetObject", vec!["s3:GetObject"]),
        ("DELETE", false, false) if has("versionId") => ("DeleteObject", vec!["s3:DeleteObjectVersion"]),
        ("DELETE", false, false) => ("DeleteObject", vec!["s3:DeleteObject"]),
        ("POST", false, true) if has("delete") => ("DeleteObjects", vec!["s3:DeleteObject", "s3:DeleteObjectVersion"]),
        (method, false, true) => {
            let sub_resources: [(&str, &str, &str, &str, &str); 7] = [
                ("tagging", "GetBucketTagging", "s3:GetBucketTagging", "PutBucketTagging", "s3:PutBucketTagging"),
                (
                    "versioning",
                    "GetBucketVersioning",
                    "s3:GetBucketVersioning",
                    "PutBucketVersioning",
                    "s3:PutBucketVersioning",
                ),
                (
                    "lifecycle",
                    "GetBucketLifecycleConfiguration",
                    "s3:GetLifecycleConfiguration",
                    "PutBucketLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                ),
                (
                    "encryption",
                    "GetBucketEncryption",
                    "s3:GetEncryptionConfiguration",
                    "PutBucketEncryption",
                    "s3:PutEncryptionConfiguration",
                ),
                (
                    "publicAccessBlock",
                    "GetPublicAccessBlock",
                    "s3:GetBucketPublicAccessBlock",
                    "PutPublicAccessBlock",
                    "s3:PutBucketPublicAccessBlock",
                ),
                ("policy", "GetBucketPolicy", "s3:GetBucketPolicy", "PutBucketPolicy", "s3:PutBucketPolicy"),
                (
                    "ownershipControls",
                    "GetBucketOwnershipControls",
                    "s3:GetBucketOwnershipControls",
                    "PutBucketOwnershipControls",
                    "s3:PutBucketOwnershipControls",
                ),
            ];
            if let Some((_, get, get_action, put, put_action)) = sub_resources.iter().find(|(name, ..)| has(name)) {
                match method {
                    "GET" => (*get, vec![*get_action]),
                    // Deleting a bucket's policy is its own action; deleting the others is a put.
                    "DELETE" if *put == "PutBucketPolicy" => ("DeleteBucketPolicy", vec!["s3:DeleteBucketPolicy"]),
                    _ => (*put, vec![*put_action]),
                }
            } else if has("location") {
                ("GetBucketLocation", vec!["s3:GetBucketLocation"])
            } else if has("versions") {
                ("ListObjectVersions", vec!["s3:ListBucketVersions"])
            } else {
                match method {
                    "PUT" => ("CreateBucket", vec!["s3:CreateBucket"]),
                    "DELETE" => ("DeleteBucket", vec!["s3:DeleteBucket"]),
                    "HEAD" => ("HeadBucket", vec!["s3:ListBucket"]),
                    "GET" => ("ListObjectsV2", vec!["s3:ListBucket"]),
                    _ => ("", Vec::new()),
                }
            }
        }
        _ => ("", Vec::new()),
    };
    let operation = if operation.is_empty() { format!("{method} {path}?{query}") } else { operation.to_string() };
    (operation, actions, bucket, key)
}

impl Requests {
    fn s3(&mut self, line: &Value) -> Result<Ask, String> {
        let (operation, actions, bucket, key) = s3_operation(line);
        if actions.is_empty() {
            return Err("an S3 request this table does not know".to_string());
        }
        let body = text(&line["body"]);
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        let mut ask = Ask::default();
        match operation.as_str() {
            "ListBuckets" => return Ok(ask.on("s3:ListAllMyBuckets", "*")),
            "DeleteObjects" => {
                let keys = xml_all(&body, "Key");
                let versioned = !xml_all(&body, "VersionId").is_empty();
                for key in keys {
                    let object = format!("{bucket_arn}/{key}");
                    ask = ask.on(if versioned { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" }, &object);
                }
                return Ok(ask);
            }
            _ => {}
        }
        let resource = if key.is_empty() { bucket_arn.clone() } else { format!("{bucket_arn}/{key}") };
        // A listing carries its prefix as the `s3:prefix` condition key (Service Authorization
        // Reference, Amazon S3, ListBucket), which `pipectl verify`'s grant is scoped by.
        let prefix = text(&line["query"])
            .split('&')
            .find_map(|pair| pair.strip_prefix("prefix=").map(pipectl::iam::percent_decode));
        for action in actions {
            ask = match (&prefix, operation.as_str()) {
                (Some(prefix), "ListObjectsV2") => ask.with(action, &resource, "s3:prefix", prefix),
                _ => ask.on(action, &resource),
            };
        }
        let tags: Vec<(String, String)> = xml_all(&body, "Tag")
            .iter()
            .map(|tag| (xml_all(tag, "Key").concat(), xml_all(tag, "Value").concat()))
            .collect();
        if operation == "CreateBucket" && !tags.is_empty() {
            // Tags given at creation are authorised by s3:TagResource too ("CreateBucket", S3 API Reference).
            ask = ask.on("s3:TagResource", &bucket_arn);
        }
        if operation == "CreateBucket" || operation == "PutBucketTagging" {
            ask = ask.tags(tags, &[bucket_arn]);
        }
        Ok(ask)
    }
}

/// EC2 resource types by id prefix (Service Authorization Reference, Amazon EC2, resource types).
const EC2_IDS: &[(&str, &str)] = &[
    ("vpc-", "vpc"),
    ("subnet-", "subnet"),
    ("sg-", "security-group"),
    ("rtb-", "route-table"),
    ("igw-", "internet-gateway"),
    ("vpce-", "vpc-endpoint"),
    ("nat-", "natgateway"),
    ("eipalloc-", "elastic-ip"),
    ("i-", "instance"),
    ("eni-", "network-interface"),
];

/// The parameters of an EC2 call that name the resources it acts on (with `.N` indexes).
const EC2_RESOURCE_PARAMS: &[&str] = &[
    "VpcId",
    "SubnetId",
    "GroupId",
    "RouteTableId",
    "InternetGatewayId",
    "VpcEndpointId",
    "NatGatewayId",
    "AllocationId",
    "InstanceId",
    "NetworkInterfaceId",
    "ResourceId",
];

/// The answer's element that holds the id a create returns.
const EC2_CREATED: &[(&str, &str)] = &[
    ("CreateVpc", "vpcId"),
    ("CreateSubnet", "subnetId"),
    ("CreateSecurityGroup", "groupId"),
    ("CreateRouteTable", "routeTableId"),
    ("CreateInternetGateway", "internetGatewayId"),
    ("CreateVpcEndpoint", "vpcEndpointId"),
    ("CreateNatGateway", "natGatewayId"),
    ("AllocateAddress", "allocationId"),
];

impl Requests {
    fn ec2_arn(&self, region: &str, id: &str) -> Option<String> {
        let (_, kind) = EC2_IDS.iter().find(|(prefix, _)| id.starts_with(prefix))?;
        Some(self.arn("ec2", region, &format!("{kind}/{id}")))
    }

    fn ec2(&mut self, line: &Value) -> Result<Ask, String> {
        let operation = text(&line["operation"]);
        let region = text(&line["region"]);
        let params = &line["params"];
        let action = format!("ec2:{operation}");
        if operation.starts_with("Describe") {
            return Ok(Ask::default().on(&action, "*"));
        }
        let mut named: Vec<String> = Vec::new();
        for (name, value) in params.as_object().into_iter().flatten() {
            let (base, index) = name.split_once('.').unwrap_or((name, ""));
            if EC2_RESOURCE_PARAMS.contains(&base) && index.chars().all(|c| c.is_ascii_digit()) {
                named.extend(self.ec2_arn(&region, value.as_str().unwrap_or_default()));
            }
        }
        if let Some(association) = params["AssociationId"].as_str() {
            let table = self.associations.get(association).cloned().ok_or("an association id no answer gave")?;
            named.extend(self.ec2_arn(&region, &table));
        }
        let response = text(&line["response"]);
        if operation == "AssociateRouteTable" {
            if let (Some(id), Some(table)) =
                (xml_all(&response, "associationId").first(), params["RouteTableId"].as_str())
            {
                self.associations.insert(id.clone(), table.to_string());
            }
        }
        let mut ask = Ask::default();
        match operation.as_str() {
            "CreateTags" | "DeleteTags" => {
                let tags = query_tags(params, "Tag.");
                for arn in &named {
                    ask = ask.on(&action, arn);
                }
                if operation == "CreateTags" {
                    return Ok(ask.tags(tags, &named));
                }
                ask.untagged = tags.into_iter().map(|(key, _)| key).collect();
                ask.tagged = named;
                return Ok(ask);
            }
            _ => {}
        }
        let created = EC2_CREATED
            .iter()
            .find(|(create, _)| *create == operation)
            .and_then(|(_, element)| xml_all(&response, element).into_iter().next())
            .and_then(|id| self.ec2_arn(&region, &id));
        let tags = query_tags(params, "TagSpecification.1.Tag.");
        for arn in named.iter().chain(&created) {
            ask = ask.on(&action, arn);
        }
        if let Some(created) = created {
            if !tags.is_empty() {
                // Tags given to a create are authorised by ec2:CreateTags with ec2:CreateAction.
                ask = ask.with("ec2:CreateTags", &created, "ec2:CreateAction", &operation);
            }
            ask = ask.tags(tags, &[created]);
        } else if named.is_empty() {
            ask = ask.on(&action, "*");
        }
        Ok(ask)
    }

    fn iam(&mut self, line: &Value) -> Result<Ask, String> {
        let operation = text(&line["operation"]);
        let params = &line["params"];
        let action = format!("iam:{operation}");
        let param = |name: &str| params[name].as_str().map(str::to_string);
        let response = text(&line["response"]);
        if let (Some(name), Some(path)) = (param("RoleName"), xml_all(&response, "Path").first()) {
            self.paths.entry(name).or_insert_with(|| path.clone());
        }
        if let (Some(name), Some(path)) = (param("RoleName"), param("Path")) {
            self.paths.insert(name, path);
        }
        if let (Some(name), Some(path)) = (param("InstanceProfileName"), param("Path")) {
            self.paths.insert(format!("profile:{name}"), path);
        }
        if let (Some(profile), Some(role), "AddRoleToInstanceProfile") =
            (param("InstanceProfileName"), param("RoleName"), operation.as_str())
        {
            self.profile_roles.insert(profile, role);
        }
        if let (Some(role), Some(boundary)) = (param("RoleName"), param("PermissionsBoundary")) {
            self.boundaries.insert(role, boundary);
        }
        let mut ask = Ask::default();
        let resource = if let Some(profile) = param("InstanceProfileName") {
            self.profile(&profile)
        } else if let Some(role) = param("RoleName") {
            self.role(&role)
        } else {
            "*".to_string()
        };
        // The Service Authorization Reference gives these actions the iam:PermissionsBoundary key.
        let bounded = ["CreateRole", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy"]
            .contains(&operation.as_str())
            || operation.ends_with("RolePermissionsBoundary");
        let boundary = param("RoleName").and_then(|role| self.boundaries.get(&role).cloned());
        ask = match (boundary, bounded) {
            (Some(boundary), true) => ask.with(&action, &resource, "iam:PermissionsBoundary", &boundary),
            _ => ask.on(&action, &resource),
        };
        if let Some(policy) = param("PolicyArn") {
            ask.items[0].2.push(("iam:PolicyARN".to_string(), policy));
        }
        let tags = query_tags(params, "Tags.member.");
        match operation.as_str() {
            "CreateRole" | "TagRole" | "CreateInstanceProfile" | "TagInstanceProfile" => {
                if operation == "CreateRole" && !tags.is_empty() {
                    ask = ask.on("iam:TagRole", &resource);
                }
                Ok(ask.tags(tags, &[resource]))
            }
            "UntagRole" | "UntagInstanceProfile" => {
                ask.untagged = params
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with("TagKeys.member."))
                    .map(|(_, v)| text(v))
                    .collect();
                ask.tagged = vec![resource];
                Ok(ask)
            }
            _ => Ok(ask),
        }
    }

    /// `iam:PassRole` on `role` (a name or an ARN) to `service`.
    fn pass(&self, ask: Ask, role: &str, service: &str) -> Ask {
        ask.with("iam:PassRole", &self.role(role), "iam:PassedToService", service)
    }
}

#[path = "requests_services.rs"]
mod services;

#[path = "requests_warehouse.rs"]
mod warehouse;
