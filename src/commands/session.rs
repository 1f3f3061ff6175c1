//! What the commands that talk to AWS share: the loaded spec with its AWS clients (`Session`),
//! the plan computed from it and live state (`PlannedRun`), the pipeline's lock, and how an AWS
//! failure is explained to a person.

use std::path::Path;

use chrono::Utc;

use super::{CommandError, GlobalArgs, PlanOutput, Status};
use crate::aws::calls::CallCounter;
use crate::aws::{clients, endpoint_override, transport_warnings, AwsError, AwsOptions, Clients, Failure};
use crate::model::{DesiredResource, LiveState, ResourceId};
use crate::plan::file::{spec_fingerprint, Origin, PlanFile};
use crate::plan::{build_plan, Plan};
use crate::pricing::{live, Estimate};
use crate::progress::Progress;
use crate::render::{plan_json, render_cost, render_cost_markdown, render_markdown, render_plan, Style};
use crate::resources::kit::WaitOptions;
use crate::resources::{bind, desired_graph, estimate, journal_entries, read_live};
use crate::spec::{load_file, LoadedSpec};

/// A plan together with what it was computed from, so apply acts on exactly what was shown.
pub(super) struct PlannedRun {
    pub plan: Plan,
    pub desired: Vec<DesiredResource>,
    pub live: LiveState,
    pub reset_scale: bool,
    /// What the resources the plan creates cost, from the price table.
    pub cost: Estimate,
    /// The fingerprint of the spec's desired graph before it was bound (a saved plan's).
    pub spec_fingerprint: String,
    /// What a crashed run of the pipeline was creating, which this run may adopt.
    pub adoptable: Vec<ResourceId>,
}

/// A loaded spec and the AWS clients for it.
pub(super) struct Session {
    pub loaded: LoadedSpec,
    pub options: AwsOptions,
    pub clients: Clients,
    pub progress: Progress,
    pub parallelism: usize,
    pub wait: WaitOptions,
    /// Read prices the table lacks from the AWS Price List API (no `--offline-prices`).
    pub live_prices: bool,
}

impl Session {
    /// Loads and validates the spec (again for `--region` when it names another region) and
    /// builds the clients; nothing is sent to AWS yet.
    pub async fn open(global: &GlobalArgs, counter: &CallCounter) -> Result<Session, CommandError> {
        let loaded = load_file(global.spec_file())?;
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
        let environment: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        for warning in transport_warnings(&options, &environment) {
            eprintln!("warning: {warning}");
        }
        Ok(Session {
            loaded,
            options,
            clients,
            progress: Progress::new(!global.no_color),
            parallelism: usize::from(global.parallelism),
            wait: WaitOptions { timeout: global.ready_timeout(), ..WaitOptions::default() },
            live_prices: !global.offline_prices,
        })
    }

    /// The spec's desired graph as of now, built once per plan: the names the read looks up,
    /// and once bound to the account and what exists, what the plan compares with. Built when it
    /// is needed (after the lock, which may take a while), so that a schedule window that opened
    /// meanwhile counts.
    pub fn desired(&self) -> Vec<DesiredResource> {
        desired_graph(&self.loaded.spec, &self.options.region, Utc::now())
    }

    /// What `plan` creates and changes costs: from the offline table, completed from the AWS
    /// Price List API where it lacks a figure (see `pricing::live`).
    async fn estimate(&self, plan: &Plan, desired: &[DesiredResource]) -> Estimate {
        let region = &self.options.region;
        let client = self.clients.price_list(self.live_prices);
        let (cost, warning) = live::priced(client, region, |table| estimate(table, region, plan, desired)).await;
        if let Some(warning) = warning {
            self.progress.warn(&warning);
        }
        cost
    }

    /// Reads live state and plans; `destroy` plans the deletion of everything.
    /// `adoptable` names resources a crashed run was creating (from the lock it left).
    pub async fn plan(
        &self,
        destroy: bool,
        reset_scale: bool,
        adoptable: &[String],
    ) -> Result<PlannedRun, CommandError> {
        let spec = &self.loaded.spec;
        let desired = if destroy { Vec::new() } else { self.desired() };
        let adoptable = journal_entries(adoptable);
        let live = self.read(&desired, &adoptable).await?;
        if !live.conflicts.is_empty() {
            let count = live.conflicts.len();
            return Err(CommandError::Refused(format!(
                "{}\n{count} resource{} in the way; nothing was changed",
                live.conflicts.iter().map(|c| format!("error: {c}")).collect::<Vec<_>>().join("\n"),
                if count == 1 { " is" } else { "s are" }
            )));
        }
        let spec_fingerprint = spec_fingerprint(&spec.pipeline, &self.options.region, &desired);
        let desired = bind(&desired, &live);
        let mut plan = build_plan(&spec.pipeline, &desired, &live, reset_scale);
        plan.destroy = destroy;
        let cost = self.estimate(&plan, &desired).await;
        Ok(PlannedRun { plan, desired, live, reset_scale, cost, spec_fingerprint, adoptable })
    }

    /// Reads the pipeline's live state for `desired`, with the endpoint's warnings said on
    /// stderr.
    pub async fn read(&self, desired: &[DesiredResource], adoptable: &[ResourceId]) -> Result<LiveState, CommandError> {
        let spec = &self.loaded.spec;
        let live = read_live(&self.clients, spec, desired, adoptable).await.map_err(|error| self.explain(error))?;
        for warning in &live.warnings {
            self.progress.warn(warning);
        }
        Ok(live)
    }

    /// The plan file of `run`: its plan, and fingerprints of the spec and the live state.
    pub fn plan_file(&self, run: &PlannedRun) -> PlanFile {
        let spec_file = self.loaded.file.display().to_string();
        let origin = Origin {
            spec_file: &spec_file,
            region: &self.options.region,
            spec_fingerprint: &run.spec_fingerprint,
            live: &run.live,
            reset_scale: run.reset_scale,
        };
        PlanFile::new(&origin, &run.plan)
    }

    /// `plan --out FILE`: writes the plan file; says so on stderr, since stdout holds the plan.
    pub fn save_plan(&self, run: &PlannedRun, path: &Path) -> Result<(), CommandError> {
        std::fs::write(path, self.plan_file(run).to_json())
            .map_err(|error| CommandError::Failed(format!("cannot write the plan file {}: {error}", path.display())))?;
        eprintln!("Saved the plan to {}; `pipectl apply {}` applies exactly it.", path.display(), path.display());
        Ok(())
    }

    /// Takes the pipeline's lock (see `aws::lock`), waiting up to `--lock-timeout`.
    pub async fn lock(&self, command: &str, global: &GlobalArgs) -> Result<crate::aws::lock::Lock, CommandError> {
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
            held => CommandError::Lock(Box::new(held)),
        })
    }

    /// Releases the lock whatever the result was.
    pub async fn unlock(
        &self,
        lock: crate::aws::lock::Lock,
        result: Result<Status, CommandError>,
    ) -> Result<Status, CommandError> {
        if let Err(error) = lock.release().await {
            self.progress.warn(&format!("could not release the lock ({error}); `pipectl unlock` breaks it"));
        }
        result
    }

    /// An AWS failure in one line, with what to do about the usual causes (by the class of
    /// failure the AWS layer decided, never by the message's text).
    pub fn explain(&self, error: AwsError) -> CommandError {
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
        CommandError::Aws { advice, error: Box::new(error) }
    }
}

/// `--region` other than the spec's: the spec is validated again as if it named that region
/// (zones, IAM role names carrying the region's code, ARNs of its partition), so nothing is sent
/// to AWS for a spec that could not work there.
fn check_region(loaded: &LoadedSpec, region: &str) -> Result<(), CommandError> {
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
    Err(CommandError::Refused(format!(
        "--region {region} does not match the spec's region {} in {}; there the spec has {} problem(s):\n{}\nNothing was sent to AWS.",
        loaded.spec.region,
        loaded.file.display(),
        problems.len(),
        problems.join("\n")
    )))
}

/// Prints the plan; the JSON of `plan` also says how many AWS requests reading took.
pub(super) fn print_plan(run: &PlannedRun, output: PlanOutput, style: Style, counter: Option<&CallCounter>) {
    match output {
        PlanOutput::Human => out!("{}{}", render_plan(&run.plan, style), render_cost(&run.cost)),
        PlanOutput::Markdown => out!("{}{}", render_markdown(&run.plan, style.full), render_cost_markdown(&run.cost)),
        PlanOutput::Json => {
            let mut value = plan_json(&run.plan);
            if let Some(object) = value.as_object_mut() {
                object.insert("cost".to_string(), serde_json::json!(run.cost));
            }
            if let (Some(counter), Some(object)) = (counter, value.as_object_mut()) {
                object.insert("api_calls".to_string(), serde_json::json!(counter.snapshot()));
            }
            outln!("{value}");
        }
    }
}
