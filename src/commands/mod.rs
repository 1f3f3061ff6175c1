//! One thin function per command, tying the spec, the live read, the planner, the renderer and
//! the executor together. Returns the exit status; all printing of results happens here.

pub mod adopt;
pub mod init;
pub mod run;
pub mod scale;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::aws::calls::CallCounter;
use crate::aws::{clients, endpoint_override, AwsError, AwsOptions, Clients, Failure};
use crate::cli::{Cli, Command, GlobalArgs, GraphFormat, OutputFormat, PermissionsFor, PlanOutput, ScaleArgs};
use crate::commands::scale::{parse_until, scale, ScaleError, ScaleRequest};
use crate::execute::{apply, ApplyReport};
use crate::iam::deployer::Purpose;
use crate::iam::Arns;
use crate::model::{DesiredResource, LiveResource, LiveState, ResourceId, PIPELINE_TAG, RESOURCE_TAG};
use crate::plan::file::{Origin, PlanFile};
use crate::plan::{build_plan, Plan};
use crate::pricing::{estimate, Estimate, PriceTable, Subject};
use crate::progress::Progress;
use crate::render::{
    graph_dot, graph_mermaid, plan_json, render_cost, render_cost_markdown, render_markdown, render_plan,
    render_report, report_json, Style,
};
use crate::resources::kit::{Context, WaitOptions};
use crate::resources::{desired_graph, parse_id, read_live};
use crate::spec::{load_file, LoadedSpec, SpecError};

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    /// `plan --detailed-exitcode` found changes.
    Changes,
}

/// Why a command failed: the report at the edge, printed as one `error:` line (or a few).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An AWS call failed; `advice` says it for people (what to check, what to run).
    #[error("{advice}")]
    Aws {
        advice: String,
        #[source]
        error: Box<AwsError>,
    },
    #[error(transparent)]
    Lock(Box<crate::aws::lock::LockError>),
    #[error(transparent)]
    Scale(Box<ScaleError>),
    /// pipectl would not do it (a conflict, data loss without consent, a cancelled prompt).
    #[error("{0}")]
    Refused(String),
    /// It was tried and did not complete; the details were printed above.
    #[error("{0}")]
    Failed(String),
}

/// Set by Ctrl-C: apply starts nothing new, and a run that has not changed anything yet stops.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub async fn run(cli: Cli) -> Result<Status, AppError> {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("warning: interrupted: finishing the calls in flight, starting nothing new");
        }
    });
    let counter = CallCounter::default();
    let result = match run_command(&cli, &counter).await {
        // Spec errors show the offending lines; styled only for a terminal that wants color.
        Err(AppError::Spec(error)) => Err(AppError::Spec(error.with_color(stderr_color(&cli.global)))),
        other => other,
    };
    if cli.global.verbose > 0 && counter.total() > 0 {
        eprintln!("{}", counter.summary());
    }
    result
}

async fn run_command(cli: &Cli, counter: &CallCounter) -> Result<Status, AppError> {
    let global = &cli.global;
    let style = Style { color: use_color(global) };
    match &cli.command {
        Command::Validate => validate(global),
        Command::Init { template, file } => init_spec(template, file.as_deref().unwrap_or(&global.file)),
        Command::Schema => emit(crate::spec::spec_schema_text().as_bytes()),
        Command::Completions { shell } => emit(&crate::cli::shell::completions(*shell)),
        Command::Man => emit(&crate::cli::shell::man_page().map_err(|error| AppError::Failed(error.to_string()))?),
        Command::Plan { detailed_exitcode, output, reset_scale, out } => {
            let session = Session::open(global, counter).await?;
            let plan = session.plan(false, *reset_scale, &[]).await?;
            print_plan(&plan, *output, style, Some(counter));
            if let Some(path) = out {
                session.save_plan(&plan, path)?;
            }
            Ok(if *detailed_exitcode && !plan.plan.is_empty() { Status::Changes } else { Status::Success })
        }
        Command::Apply { auto_approve, allow_destroy, output, reset_scale, plan_file } => {
            let how = Execution {
                command: "Apply",
                auto_approve: *auto_approve,
                allow_destroy: *allow_destroy,
                output: *output,
                style,
            };
            let saved = plan_file.as_deref().map(read_plan_file).transpose()?;
            let reset_scale = saved.as_ref().map_or(*reset_scale, |saved| saved.reset_scale);
            change(global, counter, &how, false, reset_scale, saved.as_ref()).await
        }
        Command::Destroy { auto_approve, allow_destroy, output } => {
            let how = Execution {
                command: "Destroy",
                auto_approve: *auto_approve,
                allow_destroy: *allow_destroy,
                output: *output,
                style,
            };
            change(global, counter, &how, true, false, None).await
        }
        Command::Graph { format, live } => graph(global, counter, *format, *live).await,
        Command::Adopt { resource, all: _, auto_approve } => {
            let session = Session::open(global, counter).await?;
            let lock = session.lock("adopt", global).await?;
            let result = session.adopt(resource.as_deref(), *auto_approve, style).await;
            session.unlock(lock, result).await
        }
        // scale is one EMR call on one group; it does not wait for the pipeline's lock.
        Command::Scale(args) => {
            let session = Session::open(global, counter).await?;
            session.scale(args, global).await
        }
        Command::Run { job, wait, poll, output } => {
            let session = Session::open(global, counter).await?;
            session.run_job(job, wait.then_some(*poll), *output).await
        }
        Command::Runs { job, limit, output } => {
            let session = Session::open(global, counter).await?;
            session.list_runs(job.as_deref(), *limit, *output).await
        }
        Command::Permissions { purpose, account_id } => {
            let loaded = load_file(&global.file)?;
            let region = global.region.clone().unwrap_or_else(|| loaded.spec.region.clone());
            let purpose = match purpose {
                PermissionsFor::All => Purpose::Everything,
                PermissionsFor::Plan => Purpose::Plan,
            };
            let policy = crate::iam::deployer::policy(&loaded.spec, &region, account_id, purpose);
            println!("{}", serde_json::to_string_pretty(&policy).unwrap_or_default());
            Ok(Status::Success)
        }
        Command::Unlock => {
            let session = Session::open(global, counter).await?;
            let pipeline = &session.loaded.spec.pipeline;
            match crate::aws::lock::break_lock(&session.clients, pipeline)
                .await
                .map_err(|error| session.explain(error))?
            {
                Some(holder) => println!("Broke the lock of pipeline \"{pipeline}\" held by {holder}."),
                None => println!("Pipeline \"{pipeline}\" is not locked."),
            }
            Ok(Status::Success)
        }
    }
}

/// apply (or, with `destroy`, destroy): lock, plan, confirm, carry out, unlock. With a `saved`
/// plan, the plan made now under the lock must be exactly that one, or nothing is changed.
async fn change(
    global: &GlobalArgs,
    counter: &CallCounter,
    how: &Execution,
    destroy: bool,
    reset_scale: bool,
    saved: Option<&PlanFile>,
) -> Result<Status, AppError> {
    let session = Session::open(global, counter).await?;
    let lock = session.lock(&how.command.to_lowercase(), global).await?;
    let result = async {
        let plan = session.plan(destroy, reset_scale, lock.adoptable()).await?;
        if let Some(saved) = saved {
            let differences = saved.differences(&session.plan_file(&plan));
            if !differences.is_empty() {
                return Err(AppError::Refused(format!(
                    "refusing to apply the saved plan:\n  {}\nNothing was changed. Run `pipectl plan --out` again and review the new plan.",
                    differences.join("\n  ")
                )));
            }
        }
        session.execute(plan, how, &lock).await
    }
    .await;
    session.unlock(lock, result).await
}

fn read_plan_file(path: &Path) -> Result<PlanFile, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| AppError::Failed(format!("cannot read the plan file {}: {error}", path.display())))?;
    PlanFile::parse(&text).map_err(|error| AppError::Refused(format!("{}: {error}", path.display())))
}

/// `pipectl graph`: the spec's graph, needing no AWS call; with `live`, coloured by the plan.
async fn graph(
    global: &GlobalArgs,
    counter: &CallCounter,
    format: GraphFormat,
    live: bool,
) -> Result<Status, AppError> {
    let draw = |desired: &[DesiredResource], planned: Option<(&Plan, &LiveState)>, pipeline: &str| match format {
        GraphFormat::Dot => graph_dot(pipeline, desired, planned),
        GraphFormat::Mermaid => graph_mermaid(desired, planned),
    };
    let text = if live {
        let session = Session::open(global, counter).await?;
        let run = session.plan(false, false, &[]).await?;
        draw(&run.desired, Some((&run.plan, &run.live)), &session.loaded.spec.pipeline)
    } else {
        let loaded = load_file(&global.file)?;
        let desired = desired_graph(&loaded.spec, &Arns::new("000000000000", &loaded.spec.region), &Default::default());
        draw(&desired, None, &loaded.spec.pipeline)
    };
    print!("{text}");
    Ok(Status::Success)
}

/// Neither `--no-color` nor `NO_COLOR`.
fn color_wanted(global: &GlobalArgs) -> bool {
    !global.no_color && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn use_color(global: &GlobalArgs) -> bool {
    color_wanted(global) && std::io::stdout().is_terminal()
}

/// Like `use_color`, for what goes to stderr.
fn stderr_color(global: &GlobalArgs) -> bool {
    color_wanted(global) && std::io::stderr().is_terminal()
}

/// Prints generated text (schema, completions, man page) to stdout.
fn emit(bytes: &[u8]) -> Result<Status, AppError> {
    crate::cli::shell::emit(bytes)
        .map(|()| Status::Success)
        .map_err(|error| AppError::Failed(format!("cannot write to stdout: {error}")))
}

fn validate(global: &GlobalArgs) -> Result<Status, AppError> {
    let loaded = load_file(&global.file)?;
    let graph = desired_graph(&loaded.spec, &Arns::new("000000000000", &loaded.spec.region), &Default::default());
    println!(
        "{}: pipeline \"{}\" is valid ({} resources in {}).",
        loaded.file.display(),
        loaded.spec.pipeline,
        graph.len(),
        loaded.spec.region
    );
    Ok(Status::Success)
}

fn init_spec(template: &str, file: &Path) -> Result<Status, AppError> {
    let text = init::find(template).ok_or_else(|| {
        let names: Vec<&str> = init::TEMPLATES.iter().map(|(name, _, _)| *name).collect();
        AppError::Refused(format!("no template named `{template}`; choose one of: {}", names.join(", ")))
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut handle = options.open(file).map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => AppError::Refused(format!(
            "{} already exists; pipectl init never overwrites a file (choose another name)",
            file.display()
        )),
        _ => AppError::Failed(format!("cannot write {}: {error}", file.display())),
    })?;
    // The template's schema comment points into the repository; the written spec points at the
    // schema written beside it, which works offline and matches this pipectl.
    let text = text.replacen(crate::spec::SCHEMA_COMMENT_IN_REPOSITORY, crate::spec::SCHEMA_COMMENT_BESIDE_SPEC, 1);
    handle
        .write_all(text.as_bytes())
        .map_err(|error| AppError::Failed(format!("cannot write {}: {error}", file.display())))?;
    println!(
        "Wrote the `{template}` starter spec to {}. Next: edit it, then `pipectl plan -f {}`.",
        file.display(),
        file.display()
    );
    let schema = file.with_file_name(crate::spec::SCHEMA_FILE);
    let written =
        options.open(&schema).and_then(|mut handle| handle.write_all(crate::spec::spec_schema_text().as_bytes()));
    match written {
        Ok(()) => println!(
            "Wrote its JSON Schema to {} for your editor (refresh it with `pipectl schema`).",
            schema.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            println!("Kept {}; `pipectl schema > {}` refreshes it.", schema.display(), schema.display())
        }
        Err(error) => return Err(AppError::Failed(format!("cannot write {}: {error}", schema.display()))),
    }
    Ok(Status::Success)
}

/// How apply or destroy carries a plan out, from the command line.
#[derive(Clone, Copy)]
struct Execution {
    /// `Apply` or `Destroy`, for messages.
    command: &'static str,
    auto_approve: bool,
    allow_destroy: bool,
    output: OutputFormat,
    style: Style,
}

/// A plan together with what it was computed from, so apply acts on exactly what was shown.
struct PlannedRun {
    plan: Plan,
    desired: Vec<DesiredResource>,
    live: LiveState,
    reset_scale: bool,
    /// What the resources the plan creates cost, from the price table.
    cost: Estimate,
}

/// A loaded spec and the AWS clients for it.
struct Session {
    loaded: LoadedSpec,
    options: AwsOptions,
    clients: Clients,
    progress: Progress,
    global_parallelism: usize,
    wait: WaitOptions,
}

impl Session {
    async fn open(global: &GlobalArgs, counter: &CallCounter) -> Result<Session, AppError> {
        let loaded = load_file(&global.file)?;
        let region = global.region.clone().unwrap_or_else(|| loaded.spec.region.clone());
        check_region(&loaded, &region)?;
        let options = AwsOptions {
            profile: global.profile.clone(),
            region,
            endpoint_url: global.endpoint_url.clone(),
            localstack: global.localstack,
            connect_timeout: global.connect_timeout,
            read_timeout: global.read_timeout,
            max_attempts: 5,
            max_in_flight: usize::from(global.max_in_flight),
        };
        let clients = clients(&options, counter).await;
        Ok(Session {
            loaded,
            options,
            clients,
            progress: Progress::new(!global.no_color),
            global_parallelism: usize::from(global.parallelism),
            wait: WaitOptions { timeout: global.timeout, ..WaitOptions::default() },
        })
    }

    /// Reads live state and plans; `destroy` plans the deletion of everything.
    /// `adoptable` names resources a crashed run was creating (from the lock it left).
    async fn plan(&self, destroy: bool, reset_scale: bool, adoptable: &[String]) -> Result<PlannedRun, AppError> {
        let spec = &self.loaded.spec;
        // Names do not depend on the account, so the lookup can start before the account is known.
        let lookup = if destroy {
            Vec::new()
        } else {
            desired_graph(spec, &Arns::new("000000000000", &self.options.region), &Default::default())
        };
        let adoptable: Vec<ResourceId> = adoptable.iter().filter_map(|id| parse_id(id)).collect();
        let live = read_live(&self.clients, spec, &lookup, &adoptable).await.map_err(|error| self.explain(error))?;
        for warning in &live.warnings {
            self.progress.warn(warning);
        }
        if !live.conflicts.is_empty() {
            let count = live.conflicts.len();
            return Err(AppError::Refused(format!(
                "{}\n{count} resource{} in the way; nothing was changed",
                live.conflicts.iter().map(|c| format!("error: {c}")).collect::<Vec<_>>().join("\n"),
                if count == 1 { " is" } else { "s are" }
            )));
        }
        let desired = if destroy {
            Vec::new()
        } else {
            desired_graph(spec, &Arns::new(&live.account_id, &self.options.region), &live.physical_ids())
        };
        let plan = build_plan(&spec.pipeline, &desired, &live, reset_scale);
        let cost = plan_cost(spec, &self.options.region, &plan);
        Ok(PlannedRun { plan, desired, live, reset_scale, cost })
    }

    async fn execute(
        &self,
        run: PlannedRun,
        how: &Execution,
        lock: &crate::aws::lock::Lock,
    ) -> Result<Status, AppError> {
        let Execution { command, auto_approve, allow_destroy, output, style } = *how;
        print_plan(&run, output, style, None);
        if run.plan.is_empty() {
            return Ok(Status::Success);
        }
        let losses: Vec<String> =
            run.plan.data_loss().map(|change| format!("  {}: {}", change.resource, change.notes.join("; "))).collect();
        if !run.plan.refusals.is_empty() {
            return Err(AppError::Refused(format!("{}\nNothing was changed.", run.plan.refusals.join("\n"))));
        }
        if !losses.is_empty() && !allow_destroy {
            return Err(AppError::Refused(format!(
                "refusing to destroy data without --allow-destroy (--auto-approve only answers the prompt):\n{}\nNothing was changed.",
                losses.join("\n")
            )));
        }
        if !auto_approve {
            confirm()?;
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(AppError::Refused("interrupted before any change was made; nothing was changed".to_string()));
        }
        let mut ctx =
            Context::new(self.clients.clone(), &self.loaded.spec, self.wait, self.progress.clone(), &run.live);
        ctx.reset_scale = run.reset_scale;
        ctx.journal = Some(lock.journal());
        let ctx = Arc::new(ctx);
        let report = apply(ctx, &run.plan, &run.desired, &run.live, self.global_parallelism, &INTERRUPTED).await;
        print_report(&run.plan, &report, command, output, style);
        if report.succeeded() {
            Ok(Status::Success)
        } else {
            Err(AppError::Failed(format!("{} did not complete; see above", command.to_lowercase())))
        }
    }

    /// The plan file of `run`: its plan, and fingerprints of the spec and the live state.
    fn plan_file(&self, run: &PlannedRun) -> PlanFile {
        let spec = &self.loaded.spec;
        let spec_graph = desired_graph(spec, &Arns::new("000000000000", &self.options.region), &Default::default());
        let spec_file = self.loaded.file.display().to_string();
        let origin = Origin {
            spec_file: &spec_file,
            region: &self.options.region,
            spec_graph: &spec_graph,
            live: &run.live,
            reset_scale: run.reset_scale,
        };
        PlanFile::new(&origin, &run.plan)
    }

    /// `plan --out FILE`: writes the plan file; says so on stderr, since stdout holds the plan.
    fn save_plan(&self, run: &PlannedRun, path: &Path) -> Result<(), AppError> {
        std::fs::write(path, self.plan_file(run).to_json())
            .map_err(|error| AppError::Failed(format!("cannot write the plan file {}: {error}", path.display())))?;
        eprintln!("Saved the plan to {}; `pipectl apply {}` applies exactly it.", path.display(), path.display());
        Ok(())
    }

    /// `pipectl adopt`: finds the untagged resources the request names, shows them and the plan
    /// that follows, and on confirmation tags them as the pipeline's.
    async fn adopt(&self, request: Option<&str>, auto_approve: bool, style: Style) -> Result<Status, AppError> {
        let spec = &self.loaded.spec;
        let lookup = desired_graph(spec, &Arns::new("000000000000", &self.options.region), &Default::default());
        let requested = crate::commands::adopt::requested(request, &lookup).map_err(AppError::Refused)?;
        let mut live =
            read_live(&self.clients, spec, &lookup, &requested).await.map_err(|error| self.explain(error))?;
        for warning in &live.warnings {
            self.progress.warn(warning);
        }
        let blocking: Vec<String> =
            crate::commands::adopt::blocking(&live.conflicts, &requested).into_iter().cloned().collect();
        if !blocking.is_empty() {
            return Err(AppError::Refused(format!(
                "{}\nA resource tagged by another pipeline, or one pipectl cannot read, is never adopted; nothing was changed.",
                blocking.iter().map(|conflict| format!("error: {conflict}")).collect::<Vec<_>>().join("\n")
            )));
        }
        let candidates = crate::commands::adopt::candidates(&live, &requested);
        if candidates.is_empty() {
            match request {
                Some(id) if live.resources.keys().any(|found| found.to_string() == id) => {
                    println!("{id} is already the pipeline's; nothing to adopt.")
                }
                Some(id) => println!("{id} does not exist; nothing to adopt (`pipectl apply` creates it)."),
                None => println!("Nothing to adopt: no resource with a name the spec uses is untagged."),
            }
            return Ok(Status::Success);
        }
        println!("pipectl will adopt, tagging {PIPELINE_TAG}={} and {RESOURCE_TAG}=<kind/name>:", spec.pipeline);
        for id in &candidates {
            let physical = live.resources.get(id).map_or("", |resource| resource.physical_id.as_str());
            println!("  {id} ({physical}, not tagged by any pipeline)");
        }
        let originals: Vec<LiveResource> = candidates.iter().filter_map(|id| live.resources.get(id).cloned()).collect();
        crate::commands::adopt::assume_adopted(&mut live, &spec.pipeline, &candidates);
        let desired = desired_graph(spec, &Arns::new(&live.account_id, &self.options.region), &live.physical_ids());
        let next = build_plan(&spec.pipeline, &desired, &live, false);
        println!("\nThen the next plan is:\n");
        print!("{}", render_plan(&next, style));
        for conflict in live.conflicts.iter().filter(|conflict| !blocking.contains(conflict)) {
            self.progress.warn(&format!("the next plan still stops on: {conflict}"));
        }
        if !auto_approve {
            confirm()?;
        }
        for resource in &originals {
            crate::commands::adopt::tag(&self.clients, resource, &spec.pipeline)
                .await
                .map_err(|error| self.explain(error))?;
            println!("Adopted {}: tagged as pipeline \"{}\"'s.", resource.id, spec.pipeline);
        }
        Ok(Status::Success)
    }

    /// Takes the pipeline's lock (see `lock`), waiting up to `--lock-timeout`.
    async fn lock(&self, command: &str, global: &GlobalArgs) -> Result<crate::aws::lock::Lock, AppError> {
        let file = self.loaded.file.display().to_string();
        let request = crate::aws::lock::LockRequest {
            pipeline: &self.loaded.spec.pipeline,
            command,
            file: &file,
            wait: global.lock_timeout,
            lease: global.lock_lease,
        };
        crate::aws::lock::acquire(&self.clients, &request, &self.progress).await.map_err(|error| match error {
            crate::aws::lock::LockError::Aws { source, .. } => self.explain(source),
            held => AppError::Lock(Box::new(held)),
        })
    }

    /// Releases the lock whatever the result was.
    async fn unlock(&self, lock: crate::aws::lock::Lock, result: Result<Status, AppError>) -> Result<Status, AppError> {
        if let Err(error) = lock.release().await {
            self.progress.warn(&format!("could not release the lock ({error}); `pipectl unlock` breaks it"));
        }
        result
    }

    /// `pipectl scale`: one deliberate resize, printed as `task group 'batch' of cluster 'spark': 4 → 20`.
    async fn scale(&self, args: &ScaleArgs, global: &GlobalArgs) -> Result<Status, AppError> {
        let until = match (&args.until, args.duration) {
            (Some(text), _) => Some(parse_until(text, &args.timezone, chrono::Utc::now()).map_err(AppError::Refused)?),
            (None, Some(length)) => chrono::Duration::from_std(length).ok().map(|length| chrono::Utc::now() + length),
            (None, None) => None,
        };
        let request = ScaleRequest {
            cluster: args.cluster.clone(),
            group: args.group.clone(),
            nodes: args.nodes,
            reset: args.reset,
            until,
            wait: args.wait.then_some(global.timeout),
        };
        let result =
            scale(&self.clients, &self.loaded.spec, &request, &self.progress).await.map_err(|error| match error {
                ScaleError::Aws(error) => self.explain(error),
                other => AppError::Scale(Box::new(other)),
            })?;
        match args.output {
            OutputFormat::Json => println!("{}", serde_json::to_string(&result).unwrap_or_default()),
            OutputFormat::Human => {
                println!("{}", result.headline());
                println!("Cost: {}.", result.cost.describe(result.from, result.to));
                if let (Some(until), Some(schedule)) = (&result.until, &result.scale_back_schedule) {
                    println!("Back to {} at {until} (UTC) by the EventBridge Scheduler schedule {schedule}, even if this machine is off.", result.baseline);
                }
                if args.reset {
                    println!("The scale record and any pending scale-back are removed; plans compare with the baseline again.");
                } else if result.to != result.baseline {
                    println!("Recorded on the cluster: `pipectl plan` shows this as information, not as a change; `pipectl scale --reset` returns to {}.", result.baseline);
                }
                if !args.wait {
                    println!("EMR is resizing now; follow it with `pipectl scale {} --group {} --nodes {} --wait` or `aws emr list-instance-groups --cluster-id {}`.", result.cluster, result.group, result.to, result.cluster_id);
                }
            }
        }
        Ok(Status::Success)
    }

    async fn run_job(
        &self,
        name: &str,
        wait: Option<std::time::Duration>,
        output: OutputFormat,
    ) -> Result<Status, AppError> {
        let spec = &self.loaded.spec;
        let job = crate::commands::run::find_job(spec, name).map_err(|error| AppError::Refused(error.to_string()))?;
        let started =
            crate::commands::run::start(&self.clients, spec, job, wait, &self.progress).await.map_err(|error| {
                match error {
                    crate::commands::run::RunError::Aws(error) => self.explain(error),
                    other => AppError::Refused(other.to_string()),
                }
            })?;
        match output {
            OutputFormat::Json => println!("{}", serde_json::to_string(&started).unwrap_or_default()),
            OutputFormat::Human if wait.is_none() => println!(
                "Job {} is running: {}\nFollow it with `pipectl run {} --wait` next time, or `pipectl runs {}`.",
                started.job, started.execution_arn, started.job, started.job
            ),
            OutputFormat::Human => println!("Job {} {}.", started.job, started.status),
        }
        if started.succeeded() {
            return Ok(Status::Success);
        }
        let why = started.error.as_deref().unwrap_or("no error given");
        Err(AppError::Refused(format!("job {} ended {}: {why}", started.job, started.status)))
    }

    async fn list_runs(&self, name: Option<&str>, limit: i32, output: OutputFormat) -> Result<Status, AppError> {
        let spec = &self.loaded.spec;
        let job = name
            .map(|name| crate::commands::run::find_job(spec, name))
            .transpose()
            .map_err(|error| AppError::Refused(error.to_string()))?;
        let runs = crate::commands::run::runs(&self.clients, spec, job, limit).await.map_err(|error| match error {
            crate::commands::run::RunError::Aws(error) => self.explain(error),
            other => AppError::Refused(other.to_string()),
        })?;
        match output {
            OutputFormat::Json => println!("{}", serde_json::to_string(&runs).unwrap_or_default()),
            OutputFormat::Human if runs.is_empty() => println!("No runs yet."),
            OutputFormat::Human => {
                println!(
                    "{:<24} {:<10} {:<26} {:>9} {:>10}  EXECUTION",
                    "JOB", "OUTCOME", "STARTED", "DURATION", "NODE-HOURS"
                );
                for run in &runs {
                    let duration = run.seconds.map(|s| format!("{}m{:02}s", s / 60, s % 60)).unwrap_or_default();
                    let node_hours = run.node_hours.map(|h| format!("{h:.1}")).unwrap_or_default();
                    println!(
                        "{:<24} {:<10} {:<26} {:>9} {:>10}  {}",
                        run.job, run.status, run.started, duration, node_hours, run.execution
                    );
                }
            }
        }
        Ok(Status::Success)
    }

    /// An AWS failure in one line, with what to do about the usual causes (by the class of
    /// failure the AWS layer decided, never by the message's text).
    fn explain(&self, error: AwsError) -> AppError {
        let endpoint = endpoint_override(&self.options)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| format!("AWS in {}", self.options.region));
        let advice = match error.failure {
            Failure::Connection => format!("cannot connect to {endpoint} (connection refused): is it running? For the local emulators run localstack/start.sh"),
            Failure::Credentials => "no valid AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or use --localstack for the local emulators)".to_string(),
            Failure::Timeout => format!("{endpoint} did not answer in time during {} {}: check the endpoint, or raise --connect-timeout/--read-timeout", error.resource, error.operation),
            Failure::NotAws => format!(
                "{endpoint} answered {} {} with something that is not an AWS response: is the endpoint right?",
                error.resource, error.operation
            ),
            Failure::Service | Failure::Request => error.to_string(),
        };
        AppError::Aws { advice, error: Box::new(error) }
    }
}

/// `--region` other than the spec's: the spec is validated again as if it named that region
/// (zones, IAM role names carrying the region's code, ARNs of its partition), so nothing is sent
/// to AWS for a spec that could not work there.
fn check_region(loaded: &LoadedSpec, region: &str) -> Result<(), AppError> {
    if region == loaded.spec.region {
        return Ok(());
    }
    let moved = crate::spec::Spec { region: region.to_string(), ..loaded.spec.clone() };
    let problems = crate::spec::validate(&moved);
    if problems.is_empty() {
        return Ok(());
    }
    let problems: Vec<String> =
        problems.iter().map(|problem| format!("  {}: {}", problem.path, problem.message)).collect();
    Err(AppError::Refused(format!(
        "--region {region} does not match the spec's region {} in {}; there the spec has {} problem(s):\n{}\nNothing was sent to AWS.",
        loaded.spec.region,
        loaded.file.display(),
        problems.len(),
        problems.join("\n")
    )))
}

fn confirm() -> Result<(), AppError> {
    if !std::io::stdin().is_terminal() {
        return Err(AppError::Refused("stdin is not a terminal, so pipectl cannot ask for confirmation: re-run with --auto-approve. Nothing was changed.".to_string()));
    }
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| AppError::Failed(format!("cannot read the answer: {error}")))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(AppError::Refused("cancelled; nothing was changed".to_string()))
    }
}

/// Prints the plan; the JSON of `plan` also says how many AWS requests reading took.
fn print_plan(run: &PlannedRun, output: impl Into<PlanOutput>, style: Style, counter: Option<&CallCounter>) {
    match output.into() {
        PlanOutput::Human => print!("{}{}", render_plan(&run.plan, style), render_cost(&run.cost)),
        PlanOutput::Markdown => print!("{}{}", render_markdown(&run.plan), render_cost_markdown(&run.cost)),
        PlanOutput::Json => {
            let mut value = plan_json(&run.plan);
            if let Some(object) = value.as_object_mut() {
                object.insert("cost".to_string(), serde_json::json!(run.cost));
            }
            if let (Some(counter), Some(object)) = (counter, value.as_object_mut()) {
                object.insert("api_calls".to_string(), serde_json::json!(counter.snapshot()));
            }
            println!("{value}");
        }
    }
}

/// What the resources `plan` creates cost in `region`, named as the plan names them.
fn plan_cost(spec: &crate::spec::Spec, region: &str, plan: &Plan) -> Estimate {
    let created: Vec<&ResourceId> = plan
        .changes
        .iter()
        .filter(|change| change.action == crate::model::Action::Create)
        .map(|change| &change.resource)
        .collect();
    estimate(&PriceTable::embedded(), spec, region, |subject: &Subject| {
        let id = crate::resources::priced_id(subject);
        created.contains(&&id).then(|| id.to_string())
    })
}

fn print_report(plan: &Plan, report: &ApplyReport, command: &str, output: OutputFormat, style: Style) {
    match output {
        OutputFormat::Human => print!("\n{}", render_report(report, command, style)),
        OutputFormat::Json => println!("{}", report_json(plan, report)),
    }
}
