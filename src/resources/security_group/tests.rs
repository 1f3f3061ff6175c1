//! Unit tests of the `security_group` kind: its desired state, what it reads back, and its calls against
//! replayed AWS answers.

use super::delete as delete_group;
use super::*;
use crate::spec::Ports;

fn rule(protocol: &str, ports: Option<Ports>, cidr: Option<&str>, group: Option<&str>) -> Rule {
    Rule {
        protocol: protocol.to_string(),
        ports,
        cidr: cidr.map(str::to_string),
        group: group.map(str::to_string),
        description: None,
    }
}

#[test]
fn merged_aws_permissions_compare_equal_to_the_spec() {
    let group = spec::SecurityGroup {
        name: "web".to_string(),
        description: "d".to_string(),
        ingress: vec![
            rule("tcp", Some(Ports::Single(443)), Some("10.0.0.0/8"), None),
            rule("tcp", Some(Ports::Single(443)), Some("0.0.0.0/0"), None),
            rule("tcp", Some(Ports::Range("8000-8100".into())), None, Some("web")),
        ],
        egress: None,
    };
    // AWS merges both 443 ranges into one permission and lists them in its own order.
    let aws = vec![
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(8000)
            .to_port(8100)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").build())
            .build(),
        IpPermission::builder()
            .ip_protocol("6")
            .from_port(443)
            .to_port(443)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .build(),
    ];
    let egress = vec![IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()];
    let live = Live {
        vpc_id: "vpc-1".to_string(),
        description: "d".to_string(),
        ingress: flatten_permissions(&aws),
        egress: flatten_permissions(&egress),
        rules_managed_by_emr: false,
    };
    let (attributes, _) = live.describe("sg-1", &Names::default());
    assert_eq!(attributes, Desired::from(group).attributes());
    assert_eq!(attributes["ingress"], json!(["tcp 443 0.0.0.0/0", "tcp 443 10.0.0.0/8", "tcp 8000-8100 group self"]));
    assert_eq!(attributes["egress"], json!(["all 0.0.0.0/0"]));
}

#[test]
fn groups_depend_on_their_peers_and_carry_emr_tag_when_a_cluster_uses_them() {
    let spec: crate::spec::Spec = serde_saphyr::from_str(
        "version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a}\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b}\n  security_groups:\n    - name: master\n      ingress:\n        - {protocol: tcp, ports: 22, group: core}\n        - {protocol: tcp, ports: 8443, group: self}\n        - {protocol: tcp, ports: 9443, group: core}\n      egress:\n        - {protocol: all, group: web}\n    - {name: core, ingress: [{protocol: all, group: core}]}\n    - {name: web}\nclusters:\n  - {name: spark, release: emr-7.0.0, applications: [Spark], subnet: b, security_groups: [master, core], master: {type: m5.xlarge}, core: {type: m5.xlarge, nodes: 2}}\n",
    )
    .unwrap();
    let arns = crate::iam::Arns::new("123456789012", "eu-west-1");
    let graph = GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() };
    let groups = SecurityGroup.desired(&graph);
    let ids: Vec<String> = groups.iter().map(|node| node.id.to_string()).collect();
    assert_eq!(ids, ["security_group/master", "security_group/core", "security_group/web"]);
    let depends_on: Vec<String> = groups[0].depends_on.iter().map(ToString::to_string).collect();
    assert_eq!(depends_on, ["vpc/p", "security_group/core", "security_group/web"]);
    assert_eq!(groups[1].depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(), ["vpc/p"]);
    let emr = |node: &DesiredResource| node.tags.get(crate::names::EMR_MANAGED_TAG.0).cloned();
    assert_eq!(groups.iter().map(emr).collect::<Vec<_>>(), [Some("true".to_string()), Some("true".to_string()), None]);
    assert_eq!(groups[2].tags.get("Name").map(String::as_str), Some("p-web"));
    let subnets = super::super::subnet::Subnet.desired(&graph);
    assert_eq!(subnets.iter().map(emr).collect::<Vec<_>>(), [None, Some("true".to_string())]);
    assert_eq!(subnets[1].depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(), ["vpc/p"]);
}

/// The groups of a cluster as EMR leaves them (rules as "Working with Amazon EMR-managed
/// security groups" lists them): primary and core/task groups open to each other, the
/// service-access group open on 9443 from the primary node's group and sending 8443 to both.
fn emr_written_groups() -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    let pair = |group: &str| UserIdGroupPair::builder().group_id(group).user_id("123456789012").build();
    let all_from = |groups: &[&str]| {
        let mut permission = IpPermission::builder().ip_protocol("tcp").from_port(0).to_port(65535);
        for group in groups {
            permission = permission.user_id_group_pairs(pair(group));
        }
        permission.build()
    };
    let anywhere =
        IpPermission::builder().ip_protocol("-1").ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build()).build();
    let tags = |name: &str| {
        [
            ("pipectl:pipeline", "p".to_string()),
            ("pipectl:resource", format!("security_group/{name}")),
            (EMR_RULES_TAG.0, EMR_RULES_TAG.1.to_string()),
        ]
        .map(|(key, value)| aws_sdk_ec2::types::Tag::builder().key(key).value(value).build())
    };
    let group = |id: &str, name: &str, ingress: Vec<IpPermission>, egress: Vec<IpPermission>| {
        aws_sdk_ec2::types::SecurityGroup::builder()
            .group_id(id)
            .group_name(format!("p-{name}"))
            .vpc_id("vpc-1")
            .description("EMR-managed")
            .set_ip_permissions(Some(ingress))
            .set_ip_permissions_egress(Some(egress))
            .set_tags(Some(tags(name).to_vec()))
            .build()
    };
    let from_service = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(8443)
        .to_port(8443)
        .user_id_group_pairs(pair("sg-s"))
        .build();
    let service_in = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(9443)
        .to_port(9443)
        .user_id_group_pairs(pair("sg-m"))
        .build();
    let service_out = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(8443)
        .to_port(8443)
        .user_id_group_pairs(pair("sg-m"))
        .user_id_group_pairs(pair("sg-c"))
        .build();
    vec![
        // EMR lists 8443 from the service group after the all-ports rule; as text it sorts first.
        group("sg-m", "spark-emr-master", vec![all_from(&["sg-m", "sg-c"]), from_service], vec![anywhere.clone()]),
        group("sg-c", "spark-emr-core", vec![all_from(&["sg-m", "sg-c"])], vec![anywhere]),
        group("sg-s", "spark-emr-service", vec![service_in], vec![service_out]),
    ]
}

fn emr_spec_graph() -> (crate::spec::Spec, crate::iam::Arns) {
    let spec: crate::spec::Spec = serde_saphyr::from_str(
        "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets: [{name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a}]\n  endpoints: [s3]\nclusters:\n  - {name: spark, release: emr-7.2.0, applications: [Spark], subnet: a, master: {type: m5.xlarge}, core: {type: m5.xlarge, nodes: 2}}\n",
    )
    .unwrap();
    (spec, crate::iam::Arns::new("123456789012", "us-east-1"))
}

#[test]
fn rules_emr_writes_are_not_drift_but_a_missing_rule_of_pipectls_is() {
    let (spec, arns) = emr_spec_graph();
    let desired = crate::resources::graph_in(&spec, &arns, chrono::Utc::now());
    let mut live = crate::model::LiveState::default();
    for group in emr_written_groups() {
        let tags = from_ec2(group.tags());
        let detail = Live {
            vpc_id: "vpc-1".into(),
            description: "EMR-managed".into(),
            ingress: flatten_permissions(group.ip_permissions()),
            egress: flatten_permissions(group.ip_permissions_egress()),
            rules_managed_by_emr: rules_managed_by_emr(&tags),
        };
        let resource = LiveResource::new(claimed_id(&tags, KIND).unwrap(), group.group_id().unwrap(), tags, detail);
        live.resources.insert(resource.id.clone(), resource);
    }
    live.describe();
    // EMR made the groups reference each other; no dependency cycle comes of it.
    for resource in live.resources.values() {
        assert!(resource.depends_on.is_empty(), "{}: {:?}", resource.id, resource.depends_on);
    }
    for node in desired.iter().filter(|node| node.id.kind == KIND) {
        let current = &live.resources[&node.id];
        let mut after = node.attributes();
        after.insert("description".into(), json!("EMR-managed"));
        after.insert("tags".into(), current.attributes["tags"].clone());
        KIND.adjust_desired(current, &mut after, false);
        let fields = crate::plan::diff_attributes(&current.attributes, &after, |_| false);
        assert!(fields.is_empty(), "{}: {fields:?}", node.id);
    }
    // Without the 9443 rule, the plan adds it back (and only it).
    let service = security_group_id("spark-emr-service");
    let mut current = live.resources[&service].clone();
    current.attributes.insert("ingress".into(), json!([]));
    let node = desired.iter().find(|node| node.id == service).unwrap();
    let mut after = node.attributes();
    after.insert("description".into(), json!("EMR-managed"));
    after.insert("tags".into(), current.attributes["tags"].clone());
    KIND.adjust_desired(&current, &mut after, false);
    assert_eq!(after["ingress"], json!(["tcp 9443 group spark-emr-master"]));
}

fn security_group_id(name: &str) -> ResourceId {
    id(name)
}

#[tokio::test]
async fn deleting_an_emr_group_first_revokes_what_ties_the_groups_together() {
    use crate::resources::test_support::{ec2_client, ec2_context as context, ec2_error};
    use aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupOutput;
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput;
    use aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressOutput;
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, RuleMode};
    let describe = mock!(Client::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder().set_security_groups(Some(emr_written_groups())).build()
    });
    let peers = |request: &aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressInput| {
        request
            .ip_permissions()
            .iter()
            .flat_map(|p| p.user_id_group_pairs())
            .filter_map(|pair| pair.group_id().map(str::to_string))
            .collect::<Vec<_>>()
    };
    // Its own rules, all of them; in the other groups, only those naming it.
    let own_ingress = mock!(Client::revoke_security_group_ingress)
        .match_requests(move |r| r.group_id() == Some("sg-m") && peers(r) == ["sg-m", "sg-c", "sg-s"])
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    let core_ingress = mock!(Client::revoke_security_group_ingress)
        .match_requests(move |r| r.group_id() == Some("sg-c") && peers(r) == ["sg-m"])
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    // Deleted in parallel a moment ago: its rules are gone with it, which is no failure.
    let service_ingress = mock!(Client::revoke_security_group_ingress)
        .match_requests(move |r| r.group_id() == Some("sg-s") && peers(r) == ["sg-m"])
        .then_http_response(|| ec2_error("InvalidGroup.NotFound", "The security group 'sg-s' does not exist"));
    let own_egress = mock!(Client::revoke_security_group_egress)
        .match_requests(|r| r.group_id() == Some("sg-m"))
        .then_output(|| RevokeSecurityGroupEgressOutput::builder().build());
    let service_egress = mock!(Client::revoke_security_group_egress)
        .match_requests(|r| {
            let peers: Vec<&str> =
                r.ip_permissions().iter().flat_map(|p| p.user_id_group_pairs()).filter_map(|p| p.group_id()).collect();
            r.group_id() == Some("sg-s") && peers == ["sg-m"] && r.ip_permissions()[0].from_port() == Some(8443)
        })
        .then_output(|| RevokeSecurityGroupEgressOutput::builder().build());
    let delete = mock!(Client::delete_security_group)
        .sequence()
        .http_response(|| ec2_error("DependencyViolation", "resource sg-m has a dependent object"))
        .output(|| DeleteSecurityGroupOutput::builder().build())
        .build();
    let interfaces = mock!(Client::describe_network_interfaces).then_output(|| {
        aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput::builder().build()
    });
    let ec2 = ec2_client(
        RuleMode::MatchAny,
        &[&describe, &own_ingress, &core_ingress, &service_ingress, &own_egress, &service_egress, &delete, &interfaces],
    );
    let ctx = context(ec2, std::time::Duration::from_secs(5));
    let tags = Tags::from([(EMR_RULES_TAG.0.to_string(), EMR_RULES_TAG.1.to_string())]);
    let detail = Live {
        vpc_id: "vpc-1".into(),
        description: "EMR-managed".into(),
        ingress: vec![],
        egress: vec![],
        rules_managed_by_emr: true,
    };
    let live = LiveResource::new(id("spark-emr-master"), "sg-m", tags, detail.clone());
    delete_group(&ctx, &live, &detail).await.unwrap();
    for (name, rule) in [
        ("own ingress", &own_ingress),
        ("core ingress naming it", &core_ingress),
        ("service ingress naming it", &service_ingress),
        ("own egress", &own_egress),
        ("service egress naming it", &service_egress),
    ] {
        assert_eq!(rule.num_calls(), 1, "{name} was not revoked as expected");
    }
    assert_eq!(delete.num_calls(), 2, "the DependencyViolation was retried");
}

#[test]
fn a_new_description_replaces_the_group_with_a_note() {
    assert!(KIND.forces_replacement("description"));
    assert!(!KIND.forces_replacement("ingress"));
    assert!(KIND.lives_in(super::super::vpc::KIND));
    assert_eq!(KIND.change_notes(Action::Replace, None, None).len(), 1);
    assert!(KIND.change_notes(Action::Update, None, None).is_empty());
}

#[test]
fn protocol_all_and_open_ports_render_plainly() {
    let all = flatten(&rule("all", None, Some("10.0.0.0/16"), None), "g");
    assert_eq!(all.to_string(), "all 10.0.0.0/16");
    let open = flatten(&rule("udp", None, None, Some("other")), "g");
    assert_eq!(open.to_string(), "udp all ports group other");
}
