//! The command line: `--upstream`, `--route`, `--delay-ms`, the fault flags, the fidelity
//! flags and `--record` (documented in `main.rs`), read into `Options`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::faults::Fault;
use crate::fidelity::{FidelityOptions, Rule};

/// The command line: see the crate documentation for every flag.
pub struct Options {
    pub listen: String,
    pub upstream: String,
    /// Upstreams by SigV4 signing name, for the services that do not go to `upstream`.
    pub routes: BTreeMap<String, String>,
    pub delay: Duration,
    pub fault_rate: f64,
    pub faults: Vec<Fault>,
    pub seed: u64,
    /// The fidelity rules to apply (none unless `--fidelity` or `--fidelity-rules`).
    pub fidelity: FidelityOptions,
    /// Refuse CreateBucket with tags as AccessDenied (`--deny-create-bucket-tags`).
    pub deny_create_bucket_tags: bool,
    /// Where `--record` writes one JSON line per request (`record.rs`).
    pub record: Option<String>,
}

impl Options {
    /// Where a request signed for `service` goes.
    pub fn upstream_for(&self, service: &str) -> &str {
        self.routes.get(service).map_or(self.upstream.as_str(), String::as_str)
    }
}

/// `HOST:PORT` of an `http://HOST:PORT/` URL.
fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").trim_end_matches('/').to_string()
}

/// Reads the command line; an error is one line for the user.
pub fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:0".to_string(),
        upstream: String::new(),
        routes: BTreeMap::new(),
        delay: Duration::ZERO,
        fault_rate: 0.0,
        faults: vec![Fault::Internal, Fault::Unavailable, Fault::Throttle, Fault::Drop],
        seed: 1,
        fidelity: FidelityOptions::default(),
        deny_create_bucket_tags: false,
        record: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => options.listen = value()?,
            "--upstream" => options.upstream = host_port(&value()?),
            "--route" => {
                let route = value()?;
                let (service, url) =
                    route.split_once('=').ok_or_else(|| format!("--route takes SERVICE=URL, not `{route}`"))?;
                options.routes.insert(service.to_string(), host_port(url));
            }
            "--fidelity" => options.fidelity.rules = Rule::ALL.to_vec(),
            "--deny-create-bucket-tags" => options.deny_create_bucket_tags = true,
            "--record" => options.record = Some(value()?),
            "--fidelity-rules" => {
                options.fidelity.rules = value()?
                    .split(',')
                    .map(|name| {
                        Rule::parse(name).ok_or_else(|| {
                            let known: Vec<&str> = Rule::ALL.iter().map(|rule| rule.name()).collect();
                            format!("unknown fidelity rule `{name}` ({})", known.join(", "))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            "--iam-propagation-secs" => {
                options.fidelity.iam_propagation =
                    Duration::from_secs(value()?.parse().map_err(|_| "--iam-propagation-secs takes seconds")?)
            }
            "--dependency-secs" => {
                options.fidelity.dependency =
                    Duration::from_secs(value()?.parse().map_err(|_| "--dependency-secs takes seconds")?)
            }
            "--consistency-secs" => {
                options.fidelity.consistency =
                    Duration::from_secs(value()?.parse().map_err(|_| "--consistency-secs takes seconds")?)
            }
            "--index-lag-secs" => {
                options.fidelity.index_lag =
                    Duration::from_secs(value()?.parse().map_err(|_| "--index-lag-secs takes seconds")?)
            }
            "--delay-ms" => {
                options.delay = Duration::from_millis(value()?.parse().map_err(|_| "--delay-ms takes milliseconds")?)
            }
            "--fault-rate" => {
                options.fault_rate = value()?.parse().map_err(|_| "--fault-rate takes a number between 0 and 1")?
            }
            "--seed" => options.seed = value()?.parse().map_err(|_| "--seed takes a number")?,
            "--faults" => {
                options.faults = value()?
                    .split(',')
                    .map(|name| {
                        Fault::parse(name).ok_or_else(|| format!("unknown fault `{name}` (500, 503, throttle, drop)"))
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.upstream.is_empty() {
        return Err("--upstream http://HOST:PORT is required".to_string());
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_send_a_service_to_its_own_upstream() {
        let mut options = Options {
            listen: String::new(),
            upstream: host_port("http://127.0.0.1:4566/"),
            routes: BTreeMap::new(),
            delay: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            seed: 1,
            fidelity: FidelityOptions::default(),
            deny_create_bucket_tags: false,
            record: None,
        };
        options.routes.insert("elasticmapreduce".to_string(), host_port("http://127.0.0.1:5000"));
        assert_eq!(options.upstream_for("elasticmapreduce"), "127.0.0.1:5000");
        assert_eq!(options.upstream_for("ec2"), "127.0.0.1:4566");
    }
}
