//! `pipectl unlock`: break the pipeline's lock left by a run that died, saying who held it.

use super::session::Session;
use super::{CommandError, GlobalArgs, Status};
use crate::aws::calls::CallCounter;

pub async fn exec(global: &GlobalArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let pipeline = &session.loaded.spec.pipeline;
    match crate::aws::lock::break_lock(&session.clients, pipeline).await.map_err(|error| session.explain(error))? {
        Some(holder) => outln!("Broke the lock of pipeline \"{pipeline}\" held by {holder}."),
        None => outln!("Pipeline \"{pipeline}\" is not locked."),
    }
    Ok(Status::Success)
}
