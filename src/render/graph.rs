//! `pipectl graph`: the spec's dependency graph as Graphviz dot or a Mermaid flowchart, to paste
//! into a pull request or render. An edge runs from a resource to one that depends on it (the
//! order apply creates them in); with a plan, each resource is coloured by its action and the
//! resources the plan deletes are drawn too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::model::{Action, DesiredResource, LiveState, ResourceId};
use crate::plan::Plan;

/// One resource of the picture and what it depends on.
struct Node {
    id: ResourceId,
    depends_on: Vec<ResourceId>,
    /// With a plan: what it does to this resource (`None`: unchanged).
    action: Option<Action>,
}

/// The resources to draw: the desired graph, and with a plan the live resources it deletes.
/// `planned` is `None` for the spec alone.
fn nodes(desired: &[DesiredResource], planned: Option<(&Plan, &LiveState)>) -> (Vec<Node>, bool) {
    let actions: BTreeMap<&ResourceId, Action> = planned
        .map(|(plan, _)| plan.changes.iter().map(|change| (&change.resource, change.action)).collect())
        .unwrap_or_default();
    let mut nodes: Vec<Node> = desired
        .iter()
        .map(|resource| Node {
            id: resource.id.clone(),
            depends_on: resource.depends_on.clone(),
            action: actions.get(&resource.id).copied(),
        })
        .collect();
    if let Some((plan, live)) = planned {
        for change in plan.changes.iter().filter(|change| change.action == Action::Delete) {
            let depends_on = live.resources.get(&change.resource).map(|r| r.depends_on.clone()).unwrap_or_default();
            nodes.push(Node { id: change.resource.clone(), depends_on, action: Some(Action::Delete) });
        }
    }
    (nodes, planned.is_some())
}

/// Edges as (dependency, dependent) index pairs, between drawn resources only, without repeats.
fn edges(nodes: &[Node]) -> BTreeSet<(usize, usize)> {
    let index: BTreeMap<&ResourceId, usize> = nodes.iter().enumerate().map(|(i, node)| (&node.id, i)).collect();
    nodes
        .iter()
        .enumerate()
        .flat_map(|(to, node)| node.depends_on.iter().filter_map(|dep| index.get(dep)).map(move |&from| (from, to)))
        .filter(|(from, to)| from != to)
        .collect()
}

/// The fill colour and label suffix of an action; unchanged resources stay white.
fn look(action: Option<Action>) -> (&'static str, String) {
    match action {
        None => ("#ffffff", "unchanged".to_string()),
        Some(action) => {
            let colour = match action {
                Action::Create => "#d4f7d4",
                Action::Update => "#fff3c4",
                Action::Replace => "#f3d4f7",
                Action::Delete => "#f7d4d4",
            };
            (colour, format!("{} {}", action.symbol(), action.as_str()))
        }
    }
}

/// The graph as Graphviz dot (`dot -Tsvg`).
pub fn graph_dot(pipeline: &str, desired: &[DesiredResource], planned: Option<(&Plan, &LiveState)>) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let (nodes, coloured) = nodes(desired, planned);
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(pipeline));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"];");
    for node in &nodes {
        let (kind, name) = (node.id.kind.as_str(), node.id.name.as_str());
        if coloured {
            let (colour, label) = look(node.action);
            let label = quote(&format!("{kind}\n{name}\n{label}")).replace('\n', "\\n");
            let _ = writeln!(out, "  {} [label={label}, fillcolor=\"{colour}\"];", quote(&node.id.to_string()));
        } else {
            let label = quote(&format!("{kind}\n{name}")).replace('\n', "\\n");
            let _ = writeln!(out, "  {} [label={label}];", quote(&node.id.to_string()));
        }
    }
    for (from, to) in edges(&nodes) {
        let _ = writeln!(out, "  {} -> {};", quote(&nodes[from].id.to_string()), quote(&nodes[to].id.to_string()));
    }
    out.push_str("}\n");
    out
}

/// Mermaid node ids: the resource id with everything but letters and digits as `_`, made
/// unique with the index where two ids would read the same.
fn mermaid_ids(nodes: &[Node]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let id: String =
                node.id.to_string().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            if seen.insert(id.clone()) {
                id
            } else {
                format!("{id}_{index}")
            }
        })
        .collect()
}

/// The graph as a Mermaid flowchart (GitHub and GitLab render a ```mermaid block).
pub fn graph_mermaid(desired: &[DesiredResource], planned: Option<(&Plan, &LiveState)>) -> String {
    let (nodes, coloured) = nodes(desired, planned);
    let ids = mermaid_ids(&nodes);
    let escape = |text: &str| text.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (node, id) in nodes.iter().zip(&ids) {
        let (kind, name) = (escape(node.id.kind.as_str()), escape(&node.id.name));
        let label = if coloured {
            format!("{kind}<br/>{name}<br/>{}", look(node.action).1)
        } else {
            format!("{kind}<br/>{name}")
        };
        let _ = writeln!(out, "  {id}[\"{label}\"]");
    }
    for (from, to) in edges(&nodes) {
        let _ = writeln!(out, "  {} --> {}", ids[from], ids[to]);
    }
    if coloured {
        for action in [None, Some(Action::Create), Some(Action::Update), Some(Action::Replace), Some(Action::Delete)] {
            let members: Vec<&str> =
                nodes.iter().zip(&ids).filter(|(node, _)| node.action == action).map(|(_, id)| id.as_str()).collect();
            if members.is_empty() {
                continue;
            }
            let class = action.map_or("unchanged", Action::as_str);
            let _ = writeln!(out, "  classDef {class} fill:{},stroke:#555", look(action).0);
            let _ = writeln!(out, "  class {} {class}", members.join(","));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::test_kinds::TestKind;
    use crate::model::{Attributes, DesiredConfig, Kind};
    use crate::plan::Change;

    const NET: Kind = Kind::of(&TestKind { name: "vpc", rank: 0, replaces: &[], inside: None });
    const SUBNET: Kind = Kind::of(&TestKind { name: "subnet", rank: 1, replaces: &[], inside: Some("vpc") });

    #[derive(Debug)]
    struct Nothing;

    impl DesiredConfig for Nothing {
        fn attributes(&self) -> Attributes {
            Attributes::new()
        }
    }

    fn desired() -> Vec<DesiredResource> {
        let vpc = ResourceId::new(NET, "main");
        let node = |id: ResourceId, depends_on| DesiredResource {
            id,
            tags: Default::default(),
            depends_on,
            config: Arc::new(Nothing),
        };
        vec![
            node(vpc.clone(), vec![]),
            node(ResourceId::new(SUBNET, "a.b"), vec![vpc.clone()]),
            node(ResourceId::new(SUBNET, "a-b"), vec![vpc]),
        ]
    }

    #[test]
    fn dot_has_a_node_per_resource_and_an_edge_per_dependency() {
        let dot = graph_dot("demo", &desired(), None);
        assert!(dot.starts_with("digraph \"demo\" {\n"), "{dot}");
        assert!(dot.contains("  \"subnet/a.b\" [label=\"subnet\\na.b\"];\n"), "{dot}");
        assert!(dot.contains("  \"vpc/main\" -> \"subnet/a.b\";\n"), "{dot}");
        assert!(dot.contains("  \"vpc/main\" -> \"subnet/a-b\";\n"), "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 2);
    }

    #[test]
    fn mermaid_ids_stay_unique_and_a_plan_colours_by_action() {
        let graph = desired();
        let change = Change {
            resource: ResourceId::new(SUBNET, "a.b"),
            action: Action::Create,
            fields: vec![],
            notes: vec![],
            destroys_data: false,
        };
        let plan = Plan::new("demo", vec![change], vec![]);
        let mermaid = graph_mermaid(&graph, Some((&plan, &LiveState::default())));
        assert!(mermaid.contains("  subnet_a_b[\"subnet<br/>a.b<br/>+ create\"]\n"), "{mermaid}");
        assert!(mermaid.contains("  subnet_a_b_2[\"subnet<br/>a-b<br/>unchanged\"]\n"), "{mermaid}");
        assert!(mermaid.contains("  vpc_main --> subnet_a_b\n"), "{mermaid}");
        assert!(mermaid.contains("  class subnet_a_b create\n"), "{mermaid}");
        assert!(mermaid.contains("  class vpc_main,subnet_a_b_2 unchanged\n"), "{mermaid}");
    }
}
