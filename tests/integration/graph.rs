//! `pipectl graph`: the spec's dependency graph in dot and Mermaid; with `--live`, coloured by
//! the plan's actions against what the emulator holds.

use crate::support::{pipectl, Scratch, Stack, TestPipeline};

fn the_graph_shows_kinds_names_and_dependencies(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("graph-{}", stack.tag()));
    let spec = TestPipeline::new(stack, "graph");
    let file = spec.write(&scratch);
    let vpc = format!("vpc/{}", spec.pipeline);

    let dot = pipectl(stack, &["graph", "-f", &file]).expect(0).stdout;
    assert!(dot.starts_with(&format!("digraph \"{}\" {{", spec.pipeline)), "{dot}");
    assert!(dot.contains(&format!("\"stream/{}\" [label=\"stream\\n{}\"];", spec.stream, spec.stream)), "{dot}");
    assert!(dot.contains(&format!("\"{vpc}\" -> \"subnet/public-a\";")), "{dot}");
    assert!(dot.contains(&format!("\"{vpc}\" -> \"security_group/spark\";")), "{dot}");
    assert!(!dot.contains(&format!("-> \"stream/{}\"", spec.stream)), "a stream depends on nothing here: {dot}");

    // Against the emulator: nothing exists yet, so every node is a create.
    let mermaid = pipectl(stack, &["graph", "-f", &file, "--format", "mermaid", "--live"]).expect(0).stdout;
    let vpc_node = format!("vpc_{}", spec.pipeline.replace('-', "_"));
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains(&format!("  {vpc_node}[\"vpc<br/>{}<br/>+ create\"]", spec.pipeline)), "{mermaid}");
    assert!(mermaid.contains(&format!("  {vpc_node} --> subnet_public_a\n")), "{mermaid}");
    assert!(mermaid.contains("  classDef create fill:"), "{mermaid}");
    assert!(!mermaid.contains("unchanged"), "{mermaid}");
}

on_both_stacks!(the_graph_shows_kinds_names_and_dependencies);
