//! Which EMR instance group a spec name means — `core`, or a task group by its name — parsed
//! once, with the one definition of a group's baseline size and of its cap (the most nodes
//! `pipectl scale` and schedules may give it) that validation, the desired graph and
//! `pipectl scale` share.

use std::fmt;

use super::clusters::Cluster;
use super::pipeline::Spec;

/// A group without `max_nodes` or managed scaling may grow to this many times its baseline...
pub const DEFAULT_CAP_FACTOR: i64 = 4;
/// ...or to this many nodes, whichever is more, so that a group of 0 to 5 nodes can still take
/// a night batch of 20 while a mistyped extra digit (20 → 200, 2000) is refused.
pub const DEFAULT_CAP_FLOOR: i64 = 20;

/// Where a group's cap comes from, for messages that say how to raise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapSource {
    /// The group's `max_nodes`.
    MaxNodes,
    /// The cluster's `managed_scaling.max`.
    ManagedScaling,
    /// Neither is set: the larger of `DEFAULT_CAP_FACTOR` × baseline and `DEFAULT_CAP_FLOOR`.
    Default,
}

/// The most nodes a group may be given, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub nodes: i64,
    pub source: CapSource,
}

impl Cap {
    /// `max_nodes (30)`, `managed_scaling.max (30)`, `the default cap (20 = max(4 × 0, 20))`.
    pub fn describe(&self, baseline: i64) -> String {
        match self.source {
            CapSource::MaxNodes => format!("max_nodes ({})", self.nodes),
            CapSource::ManagedScaling => format!("managed_scaling.max ({})", self.nodes),
            CapSource::Default => format!(
                "the default cap ({} = max({DEFAULT_CAP_FACTOR} × {baseline}, {DEFAULT_CAP_FLOOR}))",
                self.nodes
            ),
        }
    }
}

/// Which EMR instance group a spec name means: `core`, or a task group by its name. Parsed
/// once from the spec or the command line; the master group has no spec name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    Core,
    Task(String),
}

impl Group {
    /// `core` is the core group; any other name is a task group's.
    pub fn parse(name: &str) -> Group {
        if name == "core" {
            Group::Core
        } else {
            Group::Task(name.to_string())
        }
    }

    /// The spec name: `core` or the task group's name.
    pub fn name(&self) -> &str {
        match self {
            Group::Core => "core",
            Group::Task(name) => name,
        }
    }

    /// The size the spec gives the group, if the cluster has it.
    pub fn baseline(&self, cluster: &Cluster) -> Option<i64> {
        match self {
            Group::Core => Some(cluster.core.nodes),
            Group::Task(name) => cluster.task_groups.iter().find(|group| group.name == *name).map(|group| group.nodes),
        }
    }

    /// The EC2 instance type of the group's nodes, if the cluster has it.
    pub fn instance_type<'a>(&self, cluster: &'a Cluster) -> Option<&'a str> {
        match self {
            Group::Core => Some(&cluster.core.instance_type),
            Group::Task(name) => {
                cluster.task_groups.iter().find(|group| group.name == *name).map(|group| group.instance_type.as_str())
            }
        }
    }

    /// Whether the group's nodes are spot instances (only task groups may be).
    pub fn is_spot(&self, cluster: &Cluster) -> bool {
        match self {
            Group::Core => false,
            Group::Task(name) => cluster
                .task_groups
                .iter()
                .any(|group| group.name == *name && group.market == super::clusters::Market::Spot),
        }
    }

    /// The group's cap: its `max_nodes`, else the cluster's `managed_scaling.max`, else the
    /// larger of `DEFAULT_CAP_FACTOR` × its baseline and `DEFAULT_CAP_FLOOR`.
    pub fn cap(&self, cluster: &Cluster) -> Option<Cap> {
        let (baseline, max_nodes) = match self {
            Group::Core => (cluster.core.nodes, cluster.core.max_nodes),
            Group::Task(name) => {
                let group = cluster.task_groups.iter().find(|group| group.name == *name)?;
                (group.nodes, group.max_nodes)
            }
        };
        Some(match (max_nodes, &cluster.managed_scaling) {
            (Some(nodes), _) => Cap { nodes, source: CapSource::MaxNodes },
            (None, Some(scaling)) => Cap { nodes: scaling.max, source: CapSource::ManagedScaling },
            (None, None) => Cap {
                nodes: baseline.saturating_mul(DEFAULT_CAP_FACTOR).max(DEFAULT_CAP_FLOOR),
                source: CapSource::Default,
            },
        })
    }

    /// Where the spec sets the group's cap: `clusters[0].task_groups[1].max_nodes`.
    pub fn max_nodes_path(&self, spec: &Spec, cluster: &Cluster) -> String {
        let index = spec.clusters.iter().position(|c| c.name == cluster.name).unwrap_or(0);
        match self {
            Group::Core => format!("clusters[{index}].core.max_nodes"),
            Group::Task(name) => {
                let task = cluster.task_groups.iter().position(|group| group.name == *name).unwrap_or(0);
                format!("clusters[{index}].task_groups[{task}].max_nodes")
            }
        }
    }

    /// How people read it: `core group` or `task group 'batch'`.
    pub fn label(&self) -> String {
        match self {
            Group::Core => "core group".to_string(),
            Group::Task(name) => format!("task group '{name}'"),
        }
    }

    /// The attribute key of one of the group's fields: `core.nodes`, `task.batch.nodes`.
    pub fn field(&self, field: &str) -> String {
        match self {
            Group::Core => format!("core.{field}"),
            Group::Task(name) => format!("task.{name}.{field}"),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra_core: &str, extra_task: &str, cluster_extra: &str) -> Spec {
        serde_saphyr::from_str(&format!("version: 1\npipeline: p\nregion: us-east-1\nclusters:\n  - name: other\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n  - name: a\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 8{extra_core}}}\n    task_groups:\n      - {{name: etl, type: m5.xlarge, nodes: 1}}\n      - {{name: batch, type: m5.xlarge, nodes: 0{extra_task}}}\n{cluster_extra}")).unwrap()
    }

    #[test]
    fn the_cap_is_max_nodes_then_managed_scaling_then_the_default() {
        let plain = spec("", "", "");
        let cluster = &plain.clusters[1];
        let batch = Group::parse("batch");
        // 4 × 0 < 20: a night batch of 20 fits by default; 4 × 8 = 32 for core.
        assert_eq!(batch.cap(cluster), Some(Cap { nodes: 20, source: CapSource::Default }));
        assert_eq!(Group::Core.cap(cluster), Some(Cap { nodes: 32, source: CapSource::Default }));
        assert_eq!(Group::parse("nope").cap(cluster), None);
        assert_eq!(
            (Group::Core.instance_type(cluster), Group::parse("nope").instance_type(cluster)),
            (Some("m5.xlarge"), None)
        );
        assert_eq!(batch.cap(cluster).unwrap().describe(0), "the default cap (20 = max(4 × 0, 20))");

        let managed = spec("", "", "    managed_scaling: {min: 1, max: 30}\n");
        assert_eq!(batch.cap(&managed.clusters[1]), Some(Cap { nodes: 30, source: CapSource::ManagedScaling }));

        let explicit = spec(", max_nodes: 10", ", max_nodes: 50", "    managed_scaling: {min: 1, max: 30}\n");
        assert_eq!(batch.cap(&explicit.clusters[1]), Some(Cap { nodes: 50, source: CapSource::MaxNodes }));
        assert_eq!(Group::Core.cap(&explicit.clusters[1]).unwrap().describe(8), "max_nodes (10)");
        assert_eq!(batch.max_nodes_path(&explicit, &explicit.clusters[1]), "clusters[1].task_groups[1].max_nodes");
        assert_eq!(Group::Core.max_nodes_path(&explicit, &explicit.clusters[1]), "clusters[1].core.max_nodes");
    }
}
