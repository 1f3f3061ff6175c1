//! `pipectl graph`: the spec's dependency graph in Graphviz dot or Mermaid, from the spec alone
//! (no AWS call); with `--live`, coloured by the plan's action for each resource.

use clap::{Args, ValueEnum};

use super::session::Session;
use super::{emit, CommandError, GlobalArgs, Status};
use crate::aws::calls::CallCounter;
use crate::model::{DesiredResource, LiveState};
use crate::plan::Plan;
use crate::render::{graph_dot, graph_mermaid};
use crate::resources::desired_graph;
use crate::spec::load_file;

/// The language `pipectl graph` draws in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// The arguments of `pipectl graph` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Graphviz dot (`| dot -Tsvg`) or Mermaid (renders in GitHub and GitLab Markdown).
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Read live state and colour each resource by the plan's action.
    #[arg(long)]
    pub live: bool,
}

pub async fn exec(global: &GlobalArgs, args: &GraphArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let draw = |desired: &[DesiredResource], planned: Option<(&Plan, &LiveState)>, pipeline: &str| match args.format {
        GraphFormat::Dot => graph_dot(pipeline, desired, planned),
        GraphFormat::Mermaid => graph_mermaid(desired, planned),
    };
    let text = if args.live {
        let session = Session::open(global, counter).await?;
        let run = session.plan(false, false, &[]).await?;
        draw(&run.desired, Some((&run.plan, &run.live)), &session.loaded.spec.pipeline)
    } else {
        let loaded = load_file(global.spec_file())?;
        let desired = desired_graph(&loaded.spec, &loaded.spec.region, chrono::Utc::now());
        draw(&desired, None, &loaded.spec.pipeline)
    };
    emit(text.as_bytes())
}
