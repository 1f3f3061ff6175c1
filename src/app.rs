//! One thin function per command, tying the spec, the live read, the planner, the renderer and
//! the executor together. Returns the exit status; all printing of results happens here.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::apply::{apply, ApplyReport};
use crate::aws::{clients, endpoint_override, AwsError, AwsOptions, Clients, Failure};
use crate::calls::CallCounter;
use crate::cli::{Cli, Command, GlobalArgs, OutputFormat, PermissionsFor, ScaleArgs};
use crate::model::{DesiredResource, LiveState, ResourceId};
use crate::permissions::Purpose;
use crate::plan::{build_plan, Plan};
use crate::policy::Arns;
use crate::progress::Progress;
use crate::render::{plan_json, render_plan, render_report, report_json, Style};
use crate::resources::{desired_graph, parse_id, read_live, Context, WaitOptions};
use crate::scale::{parse_until, scale, ScaleError, ScaleRequest};
use crate::spec::{load_file, LoadedSpec, SpecError};
use crate::templates;

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
    Lock(Box<crate::lock::LockError>),
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
    let result = run_command(&cli, &counter).await;
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
        Command::Init { template, file } => init(template, file.as_deref().unwrap_or(&global.file)),
        Command::Plan { detailed_exitcode, output, reset_scale } => {
            let session = Session::open(global, counter).await?;
            let plan = session.plan(false, *reset_scale, &[]).await?;
            print_plan(&plan, *output, style, Some(counter));
            Ok(if *detailed_exitcode && !plan.plan.is_empty() { Status::Changes } else { Status::Success })
        }
        Command::Apply { auto_approve, allow_destroy, output, reset_scale } => {
            let how = Execution {
                command: "Apply",
                auto_approve: *auto_approve,
                allow_destroy: *allow_destroy,
                output: *output,
                style,
            };
            change(global, counter, &how, false, *reset_scale).await
        }
        Command::Destroy { auto_approve, allow_destroy, output } => {
            let how = Execution {
                command: "Destroy",
                auto_approve: *auto_approve,
                allow_destroy: *allow_destroy,
                output: *output,
                style,
            };
            change(global, counter, &how, true, false).await
        }
        // scale is one EMR call on one group; it does not wait for the pipeline's lock.
        Command::Scale(args) => {
            let session = Session::open(global, counter).await?;
            session.scale(args, global).await
        }
        Command::Permissions { purpose, account_id } => {
            let loaded = load_file(&global.file)?;
            let region = global.region.clone().unwrap_or_else(|| loaded.spec.region.clone());
            let purpose = match purpose {
                PermissionsFor::All => Purpose::Everything,
                PermissionsFor::Plan => Purpose::Plan,
            };
            let policy = crate::permissions::policy(&loaded.spec, &region, account_id, purpose);
            println!("{}", serde_json::to_string_pretty(&policy).unwrap_or_default());
            Ok(Status::Success)
        }
        Command::Unlock => {
            let session = Session::open(global, counter).await?;
            let pipeline = &session.loaded.spec.pipeline;
            match crate::lock::break_lock(&session.clients, pipeline).await.map_err(|error| session.explain(error))? {
                Some(holder) => println!("Broke the lock of pipeline \"{pipeline}\" held by {holder}."),
                None => println!("Pipeline \"{pipeline}\" is not locked."),
            }
            Ok(Status::Success)
        }
    }
}

/// apply (or, with `destroy`, destroy): lock, plan, confirm, carry out, unlock.
async fn change(
    global: &GlobalArgs,
    counter: &CallCounter,
    how: &Execution,
    destroy: bool,
    reset_scale: bool,
) -> Result<Status, AppError> {
    let session = Session::open(global, counter).await?;
    let lock = session.lock(&how.command.to_lowercase(), global).await?;
    let result = async {
        let plan = session.plan(destroy, reset_scale, lock.adoptable()).await?;
        session.execute(plan, how, &lock).await
    }
    .await;
    session.unlock(lock, result).await
}

fn use_color(global: &GlobalArgs) -> bool {
    !global.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        && std::io::stdout().is_terminal()
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

fn init(template: &str, file: &Path) -> Result<Status, AppError> {
    let text = templates::find(template).ok_or_else(|| {
        let names: Vec<&str> = templates::TEMPLATES.iter().map(|(name, _, _)| *name).collect();
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
    handle
        .write_all(text.as_bytes())
        .map_err(|error| AppError::Failed(format!("cannot write {}: {error}", file.display())))?;
    println!(
        "Wrote the `{template}` starter spec to {}. Next: edit it, then `pipectl plan -f {}`.",
        file.display(),
        file.display()
    );
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
        let live =
            read_live(&self.clients, &spec.pipeline, &lookup, &adoptable).await.map_err(|error| self.explain(error))?;
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
        Ok(PlannedRun { plan, desired, live, reset_scale })
    }

    async fn execute(&self, run: PlannedRun, how: &Execution, lock: &crate::lock::Lock) -> Result<Status, AppError> {
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
            Context::new(self.clients.clone(), &self.loaded.spec.pipeline, self.wait, self.progress.clone(), &run.live);
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

    /// Takes the pipeline's lock (see `lock`), waiting up to `--lock-timeout`.
    async fn lock(&self, command: &str, global: &GlobalArgs) -> Result<crate::lock::Lock, AppError> {
        let file = self.loaded.file.display().to_string();
        let request = crate::lock::LockRequest {
            pipeline: &self.loaded.spec.pipeline,
            command,
            file: &file,
            wait: global.lock_timeout,
            lease: global.lock_lease,
        };
        crate::lock::acquire(&self.clients, &request, &self.progress).await.map_err(|error| match error {
            crate::lock::LockError::Aws { source, .. } => self.explain(source),
            held => AppError::Lock(Box::new(held)),
        })
    }

    /// Releases the lock whatever the result was.
    async fn unlock(&self, lock: crate::lock::Lock, result: Result<Status, AppError>) -> Result<Status, AppError> {
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

fn check_region(loaded: &LoadedSpec, region: &str) -> Result<(), AppError> {
    if region == loaded.spec.region {
        return Ok(());
    }
    let zones: Vec<String> = loaded
        .spec
        .network
        .iter()
        .flat_map(|network| &network.subnets)
        .filter(|subnet| !subnet.availability_zone.starts_with(region))
        .map(|subnet| format!("{} ({})", subnet.name, subnet.availability_zone))
        .collect();
    if zones.is_empty() {
        return Ok(());
    }
    Err(AppError::Refused(format!(
        "--region {region} does not match the spec's region {}: subnets {} are in other zones; change `region:` and the zones in {} instead",
        loaded.spec.region,
        zones.join(", "),
        loaded.file.display()
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
fn print_plan(run: &PlannedRun, output: OutputFormat, style: Style, counter: Option<&CallCounter>) {
    match output {
        OutputFormat::Human => print!("{}", render_plan(&run.plan, style)),
        OutputFormat::Json => {
            let mut value = plan_json(&run.plan);
            if let (Some(counter), Some(object)) = (counter, value.as_object_mut()) {
                object.insert("api_calls".to_string(), serde_json::json!(counter.snapshot()));
            }
            println!("{value}");
        }
    }
}

fn print_report(plan: &Plan, report: &ApplyReport, command: &str, output: OutputFormat, style: Style) {
    match output {
        OutputFormat::Human => print!("\n{}", render_report(report, command, style)),
        OutputFormat::Json => println!("{}", report_json(plan, report)),
    }
}
