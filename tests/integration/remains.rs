//! What of a pipeline remains on a stack: one read of every kind a pipeline can create (the
//! network's VPC, subnets, security groups, route tables, internet and NAT gateways, endpoints
//! and addresses; buckets, streams and deliveries; roles and instance profiles; the EMR cluster,
//! schedules, the schedules' queue and the jobs' state machines; the Glue database and crawlers,
//! the Athena workgroup; alarms and their topic). Every list is read to its last page: the
//! emulators (and AWS) return a page at a time, and CI's stacks hold far more than one page of
//! other tests' streams and deliveries. Empty after a clean destroy.

use aws_sdk_ec2::types::{Filter, NatGatewayState, Tag};

use crate::support::Stack;

/// Everything of `pipeline` that remains on `stack`, as `kind: [names or ids]` lines, empty when
/// nothing does. `named` are names the spec gives that need not start with the pipeline's (its
/// buckets, its Glue database).
pub async fn remains(stack: Stack, pipeline: &str, named: &[String]) -> Vec<String> {
    let clients = stack.clients().await;
    let mut left = Vec::new();
    let mut note = |kind: &str, ids: Vec<String>| {
        if !ids.is_empty() {
            left.push(format!("{kind}: {ids:?}"));
        }
    };
    for (kind, ids) in network(&clients.ec2, pipeline).await {
        note(kind, ids);
    }
    for (kind, ids) in data(&clients, pipeline, named).await {
        note(kind, ids);
    }
    for (kind, ids) in identities(&clients.iam, pipeline).await {
        note(kind, ids);
    }
    for (kind, ids) in compute(&clients, pipeline).await {
        note(kind, ids);
    }
    for (kind, ids) in catalog_and_alarms(&clients, pipeline, named).await {
        note(kind, ids);
    }
    left
}

type Found = Vec<(&'static str, Vec<String>)>;

/// True when EC2 tags say the resource is the pipeline's. The tag filter is also sent, but moto
/// ignores it on some describes (`DescribeNatGateways`), so the tags are checked here too.
pub fn tagged(tags: &[Tag], pipeline: &str) -> bool {
    tags.iter().any(|tag| tag.key() == Some("pipectl:pipeline") && tag.value() == Some(pipeline))
}

fn ids<'a>(found: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    found.flatten().map(str::to_string).collect()
}

/// The network, every describe read to its last page (`NextToken`), except DescribeAddresses,
/// which has none.
async fn network(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Found {
    let tag = || Filter::builder().name("tag:pipectl:pipeline").values(pipeline).build();
    let ours = |tags: &[Tag]| tagged(tags, pipeline);
    let vpcs = ec2.describe_vpcs().filters(tag()).into_paginator().send().try_collect().await.expect("vpcs");
    let subnets = ec2.describe_subnets().filters(tag()).into_paginator().send().try_collect().await.expect("subnets");
    let groups =
        ec2.describe_security_groups().filters(tag()).into_paginator().send().try_collect().await.expect("groups");
    let tables =
        ec2.describe_route_tables().filters(tag()).into_paginator().send().try_collect().await.expect("route tables");
    let gateways =
        ec2.describe_internet_gateways().filters(tag()).into_paginator().send().try_collect().await.expect("gateways");
    let nats = ec2.describe_nat_gateways().filter(tag()).into_paginator().send().try_collect().await.expect("nats");
    let endpoints =
        ec2.describe_vpc_endpoints().filters(tag()).into_paginator().send().try_collect().await.expect("endpoints");
    let addresses = ec2.describe_addresses().filters(tag()).send().await.expect("addresses");
    // The emulators list deleted NAT gateways and endpoints for a while, as AWS does.
    let endpoint_live = |state: Option<&aws_sdk_ec2::types::State>| {
        state.is_some_and(|state| !state.as_str().eq_ignore_ascii_case("deleted"))
    };
    vec![
        ("vpc", ids(vpcs.iter().flat_map(|p| p.vpcs()).filter(|v| ours(v.tags())).map(|v| v.vpc_id()))),
        ("subnet", ids(subnets.iter().flat_map(|p| p.subnets()).filter(|s| ours(s.tags())).map(|s| s.subnet_id()))),
        (
            "security_group",
            ids(groups.iter().flat_map(|p| p.security_groups()).filter(|g| ours(g.tags())).map(|g| g.group_id())),
        ),
        (
            "route_table",
            ids(tables.iter().flat_map(|p| p.route_tables()).filter(|t| ours(t.tags())).map(|t| t.route_table_id())),
        ),
        (
            "internet_gateway",
            ids(gateways
                .iter()
                .flat_map(|p| p.internet_gateways())
                .filter(|g| ours(g.tags()))
                .map(|g| g.internet_gateway_id())),
        ),
        (
            "nat_gateway",
            ids(nats
                .iter()
                .flat_map(|p| p.nat_gateways())
                .filter(|n| ours(n.tags()) && n.state() != Some(&NatGatewayState::Deleted))
                .map(|n| n.nat_gateway_id())),
        ),
        (
            "vpc_endpoint",
            ids(endpoints
                .iter()
                .flat_map(|p| p.vpc_endpoints())
                .filter(|e| ours(e.tags()) && endpoint_live(e.state()))
                .map(|e| e.vpc_endpoint_id())),
        ),
        ("elastic_ip", ids(addresses.addresses().iter().filter(|a| ours(a.tags())).map(|a| a.allocation_id()))),
    ]
}

/// Buckets (by name: the pipeline's prefix or one the spec names), streams and deliveries (by the
/// pipeline's prefix), each list read to its last page.
async fn data(clients: &pipectl::aws::Clients, pipeline: &str, named: &[String]) -> Found {
    let prefix = format!("{pipeline}-");
    let ours = |name: &str| name.starts_with(&prefix) || named.iter().any(|n| n == name);
    let buckets = clients.s3.list_buckets().into_paginator().send().try_collect().await.expect("buckets");
    let buckets = ids(buckets.iter().flat_map(|p| p.buckets()).map(|b| b.name()).filter(|n| n.is_some_and(ours)));
    // ListStreams pages by the last name seen (`ExclusiveStartStreamName`, `HasMoreStreams`).
    let mut streams = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page =
            clients.kinesis.list_streams().set_exclusive_start_stream_name(start.take()).send().await.expect("streams");
        streams.extend(page.stream_names().iter().filter(|n| ours(n)).cloned());
        if !page.has_more_streams() || page.stream_names().is_empty() {
            break;
        }
        start = page.stream_names().last().cloned();
    }
    // ListDeliveryStreams likewise (`ExclusiveStartDeliveryStreamName`, `HasMoreDeliveryStreams`).
    let mut deliveries = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let request = clients.firehose.list_delivery_streams().set_exclusive_start_delivery_stream_name(start.take());
        let page = request.send().await.expect("deliveries");
        deliveries.extend(page.delivery_stream_names().iter().filter(|n| ours(n)).cloned());
        if !page.has_more_delivery_streams() || page.delivery_stream_names().is_empty() {
            break;
        }
        start = page.delivery_stream_names().last().cloned();
    }
    vec![("bucket", buckets), ("stream", streams), ("delivery", deliveries)]
}

/// Roles and instance profiles under the pipeline's path (but the lock's), every page.
async fn identities(iam: &aws_sdk_iam::Client, pipeline: &str) -> Found {
    // moto ignores ListInstanceProfiles' PathPrefix: the path is checked here too.
    let path = pipectl::names::legacy_role_path(pipeline);
    let roles = iam.list_roles().path_prefix(&path).into_paginator().send().try_collect().await.expect("roles");
    let profiles =
        iam.list_instance_profiles().path_prefix(&path).into_paginator().send().try_collect().await.expect("profiles");
    vec![
        (
            "role",
            roles
                .iter()
                .flat_map(|p| p.roles())
                .filter(|r| r.path().starts_with(&path) && !r.path().ends_with("lock/"))
                .map(|r| r.role_name().to_string())
                .collect(),
        ),
        (
            "instance_profile",
            profiles
                .iter()
                .flat_map(|p| p.instance_profiles())
                .filter(|p| p.path().starts_with(&path))
                .map(|p| p.instance_profile_name().to_string())
                .collect(),
        ),
    ]
}

/// EMR clusters not terminated (every page of ListClusters), schedules, the schedules' queue and
/// the jobs' state machines, by the names pipectl derives.
async fn compute(clients: &pipectl::aws::Clients, pipeline: &str) -> Found {
    use pipectl::names;
    let clusters = pipectl::resources::cluster::list_active(&clients.emr, &names::emr_cluster_prefix(pipeline))
        .await
        .expect("clusters");
    let schedule_prefix = names::schedule_prefix(pipeline);
    let schedules = clients.scheduler.list_schedules().name_prefix(&schedule_prefix).into_paginator();
    let schedules = schedules.send().try_collect().await.expect("schedules");
    let queues = clients.sqs.list_queues().queue_name_prefix(format!("{pipeline}-")).into_paginator();
    let queues = queues.send().try_collect().await.expect("queues");
    let machine_prefix = names::state_machine_prefix(pipeline);
    let machines = clients.sfn.list_state_machines().into_paginator().send().try_collect().await.expect("machines");
    vec![
        ("cluster", clusters.into_iter().map(|(id, name)| format!("{name} {id}")).collect()),
        ("schedule", ids(schedules.iter().flat_map(|p| p.schedules()).map(|s| s.name()))),
        ("queue", queues.iter().flat_map(|p| p.queue_urls()).cloned().collect()),
        (
            "state_machine",
            machines
                .iter()
                .flat_map(|p| p.state_machines())
                .filter(|m| m.name().starts_with(&machine_prefix))
                .map(|m| m.name().to_string())
                .collect(),
        ),
    ]
}

/// The Glue database (the pipeline's default name, or one the spec names) and crawlers, the
/// Athena workgroup, the alarms and the alarms' topic, every page.
async fn catalog_and_alarms(clients: &pipectl::aws::Clients, pipeline: &str, named: &[String]) -> Found {
    use pipectl::names;
    let database = names::glue_database_name(pipeline);
    let databases = clients.glue.get_databases().into_paginator().send().try_collect().await.expect("databases");
    let crawler_prefix = names::crawler_prefix(pipeline);
    let crawlers = clients.glue.get_crawlers().into_paginator().send().try_collect().await.expect("crawlers");
    let workgroup = names::athena_workgroup_name(pipeline);
    let workgroups = clients.athena.list_work_groups().into_paginator().send().try_collect().await.expect("workgroups");
    let alarm_prefix = names::alarm_prefix(pipeline);
    let alarms = clients.cloudwatch.describe_alarms().alarm_name_prefix(&alarm_prefix).into_paginator();
    let alarms = alarms.send().try_collect().await.expect("alarms");
    let topic = format!(":{}", names::alarm_topic_name(pipeline));
    let topics = clients.sns.list_topics().into_paginator().send().try_collect().await.expect("topics");
    vec![
        (
            "catalog_database",
            databases
                .iter()
                .flat_map(|p| p.database_list())
                .map(|d| d.name())
                .filter(|n| *n == database || named.iter().any(|named| named.as_str() == *n))
                .map(str::to_string)
                .collect(),
        ),
        (
            "crawler",
            ids(crawlers.iter().flat_map(|p| p.crawlers()).map(|c| c.name()))
                .into_iter()
                .filter(|n| n.starts_with(&crawler_prefix))
                .collect(),
        ),
        (
            "workgroup",
            ids(workgroups.iter().flat_map(|p| p.work_groups()).map(|w| w.name()))
                .into_iter()
                .filter(|n| *n == workgroup)
                .collect(),
        ),
        (
            "alarm",
            ids(alarms
                .iter()
                .flat_map(|p| {
                    let metric = p.metric_alarms().iter().map(|a| a.alarm_name());
                    metric.chain(p.composite_alarms().iter().map(|a| a.alarm_name())).collect::<Vec<_>>()
                })
                .map(|name| name.filter(|n| n.starts_with(&alarm_prefix)))),
        ),
        (
            "topic",
            ids(topics.iter().flat_map(|p| p.topics()).map(|t| t.topic_arn()))
                .into_iter()
                .filter(|arn| arn.ends_with(&topic))
                .collect(),
        ),
    ]
}
