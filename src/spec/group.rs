//! Which EMR instance group a spec name means — `core`, or a task group by its name — parsed
//! once, with the one definition of a group's baseline size that validation, the desired graph
//! and `pipectl scale` share.

use std::fmt;

use super::types::Cluster;

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
