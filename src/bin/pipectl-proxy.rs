//! pipectl-proxy: a loopback HTTP proxy between pipectl and an emulator, for benchmarks and
//! fault tests. It adds a fixed delay to every request, counts requests by service and
//! operation, and can fail a seeded, reproducible share of them the way AWS does: HTTP 500 and
//! 503, throttling errors in each protocol's own shape, and dropped connections.
//!
//!   pipectl-proxy --upstream http://127.0.0.1:5000 [--listen 127.0.0.1:0] [--delay-ms 50]
//!                 [--fault-rate 0.1 --seed 7 --faults 500,503,throttle,drop]
//!
//! It prints `listening on ADDRESS` once ready. `GET /__proxy/stats` returns the counts as
//! JSON; `POST /__proxy/reset` zeroes them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Internal,
    Unavailable,
    Throttle,
    Drop,
}

impl Fault {
    fn parse(name: &str) -> Option<Fault> {
        match name {
            "500" => Some(Fault::Internal),
            "503" => Some(Fault::Unavailable),
            "throttle" => Some(Fault::Throttle),
            "drop" => Some(Fault::Drop),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Throttle => "throttle",
            Fault::Drop => "drop",
        }
    }
}

struct Options {
    listen: String,
    upstream: String,
    delay: Duration,
    fault_rate: f64,
    faults: Vec<Fault>,
    seed: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:0".to_string(),
        upstream: String::new(),
        delay: Duration::ZERO,
        fault_rate: 0.0,
        faults: vec![Fault::Internal, Fault::Unavailable, Fault::Throttle, Fault::Drop],
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => options.listen = value()?,
            "--upstream" => options.upstream = value()?.trim_start_matches("http://").trim_end_matches('/').to_string(),
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

/// A small deterministic generator (xorshift64*), so a seed reproduces a run's faults.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Stats {
    requests: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
    /// Time the upstream took to answer, in milliseconds, summed per operation.
    upstream_ms: BTreeMap<String, u64>,
}

struct Shared {
    options: Options,
    random: Mutex<Random>,
    stats: Mutex<Stats>,
}

/// One HTTP/1.1 message head and body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads a head and a body framed by Content-Length or chunked encoding; None at a clean EOF.
async fn read_message<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    response_to_head: bool,
) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut message = Message { head, body: Vec::new() };
    let status_without_body = message.head.split_whitespace().nth(1).is_some_and(|code| code == "204" || code == "304");
    if response_to_head || status_without_body {
        return Ok(Some(message));
    }
    if let Some(length) = message.header("content-length").and_then(|value| value.parse::<usize>().ok()) {
        message.body = vec![0; length];
        reader.read_exact(&mut message.body).await?;
    } else if message.header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        // Keep the chunked framing as it is: the client decodes it.
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).await?;
            message.body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if message.head.starts_with("HTTP/") {
        reader.read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

/// `service:Operation` from SigV4's credential scope and the protocol's operation marker.
fn operation(request: &Message) -> String {
    let service = request
        .header("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    let name = if let Some(target) = request.header("x-amz-target") {
        target.rsplit('.').next().unwrap_or(target).to_string()
    } else if let Some(action) =
        String::from_utf8_lossy(&request.body).split('&').find_map(|pair| pair.strip_prefix("Action="))
    {
        action.to_string()
    } else {
        let mut parts = request.head.split_whitespace();
        let method = parts.next().unwrap_or("?");
        let path = parts.next().unwrap_or("/");
        let query = path
            .split_once('?')
            .map(|(_, q)| q.split('&').next().unwrap_or("").split('=').next().unwrap_or(""))
            .unwrap_or("");
        if query.is_empty() {
            method.to_string()
        } else {
            format!("{method} ?{query}")
        }
    };
    format!("{service}:{name}")
}

/// A throttling error in the shape the request's protocol uses.
fn throttle_response(request: &Message, service: &str) -> String {
    let (status, content_type, body) = if request.header("x-amz-target").is_some() {
        let code = if service == "kinesis" || service == "firehose" {
            "LimitExceededException"
        } else {
            "ThrottlingException"
        };
        ("400 Bad Request", "application/x-amz-json-1.1", format!(r#"{{"__type":"{code}","message":"Rate exceeded"}}"#))
    } else if service == "ec2" {
        ("503 Service Unavailable", "text/xml", "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>proxy</RequestID></Response>".to_string())
    } else if service == "s3" {
        (
            "503 Slow Down",
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_string(),
        )
    } else if String::from_utf8_lossy(&request.body).contains("Action=") {
        ("400 Bad Request", "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>".to_string())
    } else {
        ("429 Too Many Requests", "application/json", r#"{"message":"Rate exceeded"}"#.to_string())
    };
    let extra = if status.starts_with("429") { "x-amzn-ErrorType: ThrottlingException\r\n" } else { "" };
    format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len())
}

fn plain_response(status: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

fn stats_json(stats: &Stats) -> String {
    let object =
        |map: &BTreeMap<String, u64>| map.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",");
    let total: u64 = stats.requests.values().sum();
    let faults: u64 = stats.faults.values().sum();
    format!(
        r#"{{"total":{total},"faults_total":{faults},"requests":{{{}}},"faults":{{{}}},"upstream_ms":{{{}}}}}"#,
        object(&stats.requests),
        object(&stats.faults),
        object(&stats.upstream_ms)
    )
}

async fn serve(client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read_half, mut write_half) = client.into_split();
    let mut reader = BufReader::new(read_half);
    let mut upstream: Option<(BufReader<tokio::net::tcp::OwnedReadHalf>, tokio::net::tcp::OwnedWriteHalf)> = None;
    while let Some(request) = read_message(&mut reader, false).await? {
        let path = request.head.split_whitespace().nth(1).unwrap_or("/").to_string();
        if path.starts_with("/__proxy/") {
            let body = {
                let mut stats = shared.stats.lock().unwrap_or_else(PoisonError::into_inner);
                if path.starts_with("/__proxy/reset") {
                    *stats = Stats::default();
                }
                stats_json(&stats)
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            write_half.write_all(response.as_bytes()).await?;
            continue;
        }
        let operation = operation(&request);
        let service = operation.split(':').next().unwrap_or("").to_string();
        *shared.stats.lock().unwrap_or_else(PoisonError::into_inner).requests.entry(operation.clone()).or_default() +=
            1;
        tokio::time::sleep(shared.options.delay).await;
        let fault = {
            let mut random = shared.random.lock().unwrap_or_else(PoisonError::into_inner);
            let roll = random.next();
            let pick = random.next();
            (roll < shared.options.fault_rate && !shared.options.faults.is_empty()).then(|| {
                shared.options.faults
                    [(pick * shared.options.faults.len() as f64) as usize % shared.options.faults.len()]
            })
        };
        if let Some(fault) = fault {
            *shared
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .faults
                .entry(format!("{} {operation}", fault.name()))
                .or_default() += 1;
            match fault {
                Fault::Drop => return Ok(()),
                Fault::Internal => {
                    write_half
                        .write_all(plain_response("500 Internal Server Error", "injected by pipectl-proxy").as_bytes())
                        .await?
                }
                Fault::Unavailable => {
                    write_half
                        .write_all(plain_response("503 Service Unavailable", "injected by pipectl-proxy").as_bytes())
                        .await?
                }
                Fault::Throttle => write_half.write_all(throttle_response(&request, &service).as_bytes()).await?,
            }
            continue;
        }
        // A kept-alive upstream connection may have been closed by the emulator: on an IO
        // error, forward once more over a fresh connection, then answer 502.
        let started = std::time::Instant::now();
        let mut response = None;
        for _ in 0..2 {
            if upstream.is_none() {
                if let Ok(stream) = TcpStream::connect(&shared.options.upstream).await {
                    let (read, write) = stream.into_split();
                    upstream = Some((BufReader::new(read), write));
                }
            }
            let Some((upstream_reader, upstream_writer)) = upstream.as_mut() else { continue };
            let is_head = request.head.starts_with("HEAD ");
            let attempt = async {
                upstream_writer.write_all(request.head.as_bytes()).await?;
                upstream_writer.write_all(&request.body).await?;
                read_message(upstream_reader, is_head).await
            };
            match attempt.await {
                Ok(Some(answer)) => {
                    response = Some(answer);
                    break;
                }
                _ => upstream = None,
            }
        }
        let Some(response) = response else {
            write_half
                .write_all(plain_response("502 Bad Gateway", "pipectl-proxy: the upstream did not answer").as_bytes())
                .await?;
            continue;
        };
        let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        *shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upstream_ms
            .entry(operation.clone())
            .or_default() += took;
        write_half.write_all(response.head.as_bytes()).await?;
        write_half.write_all(&response.body).await?;
        if response.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close")) {
            upstream = None;
        }
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("pipectl-proxy: {message}");
            std::process::exit(1);
        }
    };
    let listener = match TcpListener::bind(&options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("pipectl-proxy: cannot listen on {}: {error}", options.listen);
            std::process::exit(1);
        }
    };
    let address: Option<SocketAddr> = listener.local_addr().ok();
    println!("listening on {}", address.map_or_else(|| options.listen.clone(), |a| a.to_string()));
    let seed = options.seed.max(1);
    let shared = Arc::new(Shared { options, random: Mutex::new(Random(seed)), stats: Mutex::new(Stats::default()) });
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = serve(client, shared).await;
        });
    }
}
