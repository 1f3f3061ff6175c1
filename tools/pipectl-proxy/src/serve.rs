//! The serve loop: reads each request of a client connection, answers the proxy's own endpoints,
//! records it (`--record`), counts it, waits the fixed delay, injects a drawn fault or a permission fault, lets fidelity
//! mode refuse it, and otherwise forwards it over a kept-alive upstream connection, counting the
//! time the upstream took and letting fidelity mode rewrite the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::call::Call;
use crate::faults::{self, access_denied_response, fault_response, is_create_bucket_with_tags, Random};
use crate::fidelity::{Fidelity, Rule};
use crate::http::{plain_response, read_message, Message};
use crate::options::Options;
use crate::record::{own_answer, upstream_answer, Recorder};
use crate::stats::{control_response, operation, Stats};

/// What every connection shares: the options, the fault generator, the counts and fidelity mode.
pub struct Shared {
    pub options: Options,
    pub random: Mutex<Random>,
    pub stats: Mutex<Stats>,
    /// Fidelity mode, when any rule is on.
    pub fidelity: Option<Fidelity>,
    /// Where each request is recorded (`--record`).
    pub recorder: Option<Recorder>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a rule's answer or rewrite as `rule service:Operation`, e.g.
    /// `fresh-iam scheduler:CreateSchedule`.
    fn count_fidelity(&self, rule: Rule, call: &Call) {
        *self.stats().fidelity.entry(format!("{} {}:{}", rule.name(), call.service, call.operation)).or_default() += 1;
    }
}

/// What the client gets for one request.
enum Answer {
    /// An answer of the proxy itself: its endpoints, an injected fault, a fidelity refusal, 502.
    Own(String),
    /// The upstream's answer, possibly rewritten by fidelity mode.
    Upstream(Message),
    /// Nothing: the connection is dropped (the `drop` fault).
    Drop,
}

/// One kept-alive connection per upstream (requests of several services share a client
/// connection, and `--route` may send them to different emulators).
#[derive(Default)]
struct Upstreams(HashMap<String, (BufReader<OwnedReadHalf>, OwnedWriteHalf)>);

impl Upstreams {
    /// Sends the request to `address` and reads its answer. A kept-alive upstream connection may
    /// have been closed by the emulator: on an IO error, forwards once more over a fresh
    /// connection; None when that fails too.
    async fn forward(&mut self, address: &str, request: &Message) -> Option<Message> {
        for _ in 0..2 {
            if !self.0.contains_key(address) {
                if let Ok(stream) = TcpStream::connect(address).await {
                    let (read, write) = stream.into_split();
                    self.0.insert(address.to_string(), (BufReader::new(read), write));
                }
            }
            let Some((upstream_reader, upstream_writer)) = self.0.get_mut(address) else { continue };
            let is_head = request.head.starts_with("HEAD ");
            let attempt = async {
                upstream_writer.write_all(request.head.as_bytes()).await?;
                upstream_writer.write_all(&request.body).await?;
                read_message(upstream_reader, is_head).await
            };
            match attempt.await {
                Ok(Some(answer)) => return Some(answer),
                _ => {
                    self.0.remove(address);
                }
            }
        }
        None
    }
}

/// Whether `request` is for the proxy's own endpoints (`/__proxy/…`).
fn is_control(request: &Message) -> bool {
    request.head.split_whitespace().nth(1).is_some_and(|path| path.starts_with("/__proxy/"))
}

/// Serves one client connection until it closes, asks to close, or a fault drops it.
pub async fn serve(client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read_half, mut write_half) = client.into_split();
    let mut reader = BufReader::new(read_half);
    let mut upstreams = Upstreams::default();
    while let Some(request) = read_message(&mut reader, false).await? {
        // A client that asks to close after this request reads its answer to the end.
        let close = request.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let answer = answer(&request, &shared, &mut upstreams).await;
        if let Some(recorder) = shared.recorder.as_ref().filter(|_| !is_control(&request)) {
            let answered = match &answer {
                Answer::Own(response) => Some(own_answer(response)),
                Answer::Upstream(response) => Some(upstream_answer(response)),
                Answer::Drop => None,
            };
            recorder.record(&request, answered.as_ref().map(|(head, body)| (head.as_str(), body.as_slice())));
        }
        match answer {
            Answer::Own(response) => write_half.write_all(response.as_bytes()).await?,
            Answer::Upstream(response) => {
                write_half.write_all(response.head.as_bytes()).await?;
                write_half.write_all(&response.body).await?;
            }
            Answer::Drop => return Ok(()),
        }
        if close {
            return Ok(());
        }
    }
    Ok(())
}

/// The answer to one request, in the order the proxy decides it: its own endpoints; then, for a
/// counted and delayed request, an injected fault, a denied tagged CreateBucket, a fidelity
/// refusal, or the upstream's answer (502 when there is none).
async fn answer(request: &Message, shared: &Shared, upstreams: &mut Upstreams) -> Answer {
    if is_control(request) {
        let path = request.head.split_whitespace().nth(1).unwrap_or("/");
        return Answer::Own(control_response(&mut shared.stats(), path));
    }
    let operation = operation(request);
    let service = operation.split(':').next().unwrap_or("").to_string();
    *shared.stats().requests.entry(operation.clone()).or_default() += 1;
    tokio::time::sleep(shared.options.delay).await;
    let fault = {
        let mut random = shared.random.lock().unwrap_or_else(PoisonError::into_inner);
        faults::draw(&mut random, shared.options.fault_rate, &shared.options.faults)
    };
    if let Some(fault) = fault {
        *shared.stats().faults.entry(format!("{} {operation}", fault.name())).or_default() += 1;
        return fault_response(fault, request, &service).map_or(Answer::Drop, Answer::Own);
    }
    if shared.options.deny_create_bucket_tags && is_create_bucket_with_tags(request, &service) {
        *shared.stats().faults.entry(format!("deny-create-bucket-tags {operation}")).or_default() += 1;
        return Answer::Own(access_denied_response());
    }
    let call = shared.fidelity.as_ref().map(|_| Call::parse(request));
    if let (Some(fidelity), Some(call)) = (&shared.fidelity, &call) {
        if let Some((rule, refusal)) = fidelity.refuse(call, Instant::now()) {
            shared.count_fidelity(rule, call);
            return Answer::Own(refusal.render());
        }
    }
    let address = shared.options.upstream_for(&service).to_string();
    let started = Instant::now();
    let Some(mut response) = upstreams.forward(&address, request).await else {
        return Answer::Own(plain_response("502 Bad Gateway", "pipectl-proxy: the upstream did not answer"));
    };
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    *shared.stats().upstream_ms.entry(operation).or_default() += took;
    if let (Some(fidelity), Some(call)) = (&shared.fidelity, &call) {
        for rule in fidelity.observe(call, &mut response, Instant::now()) {
            shared.count_fidelity(rule, call);
        }
    }
    if response.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close")) {
        upstreams.0.remove(&address);
    }
    Answer::Upstream(response)
}
