//! Cold starts of Lambda function binaries, measured against a local Lambda Runtime API.
//!
//! For each function, `runs` times: bind the documented Runtime API on 127.0.0.1 (a fresh port),
//! exec the binary with the environment Lambda gives (`AWS_LAMBDA_RUNTIME_API`, the function
//! variables, the ppx configuration), answer its first `GET /runtime/invocation/next` with one
//! event, and kill it as soon as it posts the response (or an error). Measured per run:
//!
//! - init: exec -> the first `/next` request (everything `main` does before the runtime loop);
//! - first invoke: exec -> the first response posted (init plus the first event's handling);
//! - peak RSS: `ru_maxrss` of the child, from `wait4`.
//!
//! ```text
//! coldstart [--runs N] [--moto URL] [--table NAME] [--timeout-secs S] [--json FILE] [--markdown FILE]
//!           [--logs DIR] [--env KEY=VALUE]... BINARY=EVENT...
//! ```
//!
//! EVENT is `scheduled` (an EventBridge scheduled event), `sns-ses` (an SNS notification
//! carrying an SES delivery record of no order of ours), `null`, or `METHOD /path` (an API
//! Gateway HTTP API v2 event; POSTs carry a `{}` JSON body). A function that reports an error, or
//! exits, or takes longer than `--timeout-secs` (default 20), fails the run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const API_PREFIX: &str = "/2018-06-01/runtime";
const FUNCTION_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";
/// 40 characters, like a real deployment's (the functions require at least 32).
const LINK_SECRET: &str = "coldstart-link-secret-0123456789abcdefgh";

struct Options {
    runs: usize,
    moto: Option<String>,
    table: String,
    timeout: Duration,
    json: Option<PathBuf>,
    markdown: Option<PathBuf>,
    logs: Option<PathBuf>,
    /// Extra variables for every function (`--env KEY=VALUE`), e.g. `SSL_CERT_FILE` for experiments.
    extra_env: Vec<(String, String)>,
    targets: Vec<Target>,
}

struct Target {
    name: String,
    binary: PathBuf,
    event_label: String,
    event: Vec<u8>,
}

/// What the Runtime API saw, in the order it saw it.
enum Seen {
    /// The first `GET /next` (later ones are held open until the child is killed).
    Next(Instant),
    /// The time and body of the first response.
    Response(Instant, String),
    InvocationError(String),
    InitError(String),
}

struct RunResult {
    init: Duration,
    first_invoke: Duration,
    peak_rss_kib: u64,
    /// User plus system CPU time of the whole process: init and the first event.
    cpu: Duration,
    /// Minor page faults: the pages of binary, heap and stacks the process touched.
    minor_faults: u64,
}

#[derive(Default)]
struct Summary {
    name: String,
    event: String,
    binary_bytes: u64,
    init_ms: Vec<f64>,
    invoke_ms: Vec<f64>,
    rss_kib: Vec<u64>,
    cpu_ms: Vec<f64>,
    minor_faults: Vec<f64>,
    failures: Vec<String>,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("coldstart: {message}");
            eprintln!(
                "usage: coldstart [--runs N] [--moto URL] [--table NAME] [--timeout-secs S] [--json FILE] \
                 [--markdown FILE] [--logs DIR] [--env KEY=VALUE] BINARY=EVENT..."
            );
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &options.logs
        && let Err(err) = std::fs::create_dir_all(dir)
    {
        eprintln!("coldstart: cannot create {}: {err}", dir.display());
        return ExitCode::FAILURE;
    }
    let mut summaries = Vec::new();
    for target in &options.targets {
        let mut summary = Summary {
            name: target.name.clone(),
            event: target.event_label.clone(),
            binary_bytes: std::fs::metadata(&target.binary).map(|m| m.len()).unwrap_or(0),
            ..Summary::default()
        };
        let log = options.logs.as_ref().map(|dir| dir.join(format!("{}.log", target.name)));
        if let Some(log) = &log {
            let _ = File::create(log);
        }
        eprint!("coldstart: {:<18} ", target.name);
        for run in 0..options.runs {
            match run_once(&options, target, run, log.as_deref()) {
                Ok(result) => {
                    summary.init_ms.push(ms(result.init));
                    summary.invoke_ms.push(ms(result.first_invoke));
                    summary.rss_kib.push(result.peak_rss_kib);
                    summary.cpu_ms.push(ms(result.cpu));
                    summary.minor_faults.push(result.minor_faults as f64);
                    eprint!(".");
                }
                Err(err) => {
                    eprint!("x");
                    summary.failures.push(format!("run {run}: {err}"));
                }
            }
        }
        eprintln!();
        for failure in summary.failures.iter().take(3) {
            eprintln!("coldstart:   {} {failure}", target.name);
        }
        summaries.push(summary);
    }
    let markdown = markdown_table(&summaries, options.runs);
    print!("{markdown}");
    let json = json_report(&summaries, options.runs);
    if let Some(path) = &options.json
        && let Err(err) = std::fs::write(path, serde_json::to_string_pretty(&json).unwrap_or_default() + "\n")
    {
        eprintln!("coldstart: cannot write {}: {err}", path.display());
        return ExitCode::FAILURE;
    }
    if let Some(path) = &options.markdown
        && let Err(err) = std::fs::write(path, &markdown)
    {
        eprintln!("coldstart: cannot write {}: {err}", path.display());
        return ExitCode::FAILURE;
    }
    if summaries.iter().any(|s| s.init_ms.is_empty()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        runs: 30,
        moto: None,
        table: "ppx-bench".to_owned(),
        timeout: Duration::from_secs(20),
        json: None,
        markdown: None,
        logs: None,
        extra_env: Vec::new(),
        targets: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => options.runs = value("--runs")?.parse().map_err(|_| "--runs needs a number")?,
            "--moto" => options.moto = Some(value("--moto")?),
            "--table" => options.table = value("--table")?,
            "--timeout-secs" => {
                options.timeout = Duration::from_secs(value("--timeout-secs")?.parse().map_err(|_| "bad timeout")?)
            }
            "--json" => options.json = Some(value("--json")?.into()),
            "--markdown" => options.markdown = Some(value("--markdown")?.into()),
            "--logs" => options.logs = Some(value("--logs")?.into()),
            "--env" => {
                let pair = value("--env")?;
                let (key, val) = pair.split_once('=').ok_or("--env needs KEY=VALUE")?;
                options.extra_env.push((key.to_owned(), val.to_owned()));
            }
            "-h" | "--help" => return Err("help".to_owned()),
            spec if !spec.starts_with("--") => options.targets.push(parse_target(spec)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.targets.is_empty() {
        return Err("name at least one BINARY=EVENT".to_owned());
    }
    if options.runs == 0 {
        return Err("--runs must be at least 1".to_owned());
    }
    Ok(options)
}

fn parse_target(spec: &str) -> Result<Target, String> {
    let (binary, event) = spec.split_once('=').ok_or_else(|| format!("{spec:?} is not BINARY=EVENT"))?;
    let binary = PathBuf::from(binary);
    if !binary.is_file() {
        return Err(format!("{} is not a file (build it with cargo build --release)", binary.display()));
    }
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("function").to_owned();
    let event_json = match event.trim() {
        "scheduled" => scheduled_event(),
        "sns-ses" => sns_ses_event(),
        "null" => serde_json::Value::Null,
        http => {
            let (method, path) = http.split_once(' ').ok_or_else(|| format!("event {http:?}: METHOD /path"))?;
            api_gateway_v2_event(method, path.trim())
        }
    };
    Ok(Target { name, binary, event_label: event.trim().to_owned(), event: event_json.to_string().into_bytes() })
}

fn now_epoch_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()
}

/// An API Gateway HTTP API (payload format 2.0) request, as AWS documents it.
fn api_gateway_v2_event(method: &str, path: &str) -> serde_json::Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let host = "abc123defg.execute-api.us-east-1.amazonaws.com";
    let mut headers = serde_json::json!({
        "accept": "*/*",
        "host": host,
        "user-agent": "ppx-coldstart",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    let body = if method.eq_ignore_ascii_case("POST") {
        headers["content-type"] = "application/json".into();
        serde_json::Value::String("{}".to_owned())
    } else {
        serde_json::Value::Null
    };
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": host,
            "domainPrefix": "abc123defg",
            "http": {
                "method": method.to_ascii_uppercase(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "ppx-coldstart"
            },
            "requestId": "coldstart-apigw-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": now_epoch_ms() as u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// An EventBridge scheduled event, as the review-request schedule sends it.
fn scheduled_event() -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/ppx-review-request"],
        "detail": {}
    })
}

/// An SNS notification as Lambda delivers one, carrying an SES delivery record (the SES developer
/// guide's sample, untagged: the mail feedback function drops it without a store request).
fn sns_ses_event() -> serde_json::Value {
    let record = serde_json::json!({
        "eventType": "Delivery",
        "mail": {
            "timestamp": "2016-10-19T23:20:52.240Z",
            "source": "sender@example.com",
            "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "destination": ["recipient@example.com"],
            "tags": { "ses:configuration-set": ["ConfigSet"] }
        },
        "delivery": {
            "timestamp": "2016-10-19T23:21:04.133Z",
            "processingTimeMillis": 11893,
            "recipients": ["recipient@example.com"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "mta.example.com"
        }
    });
    let topic = "arn:aws:sns:us-east-1:123456789012:ppx-bench-mail-feedback";
    serde_json::json!({"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": "2026-01-01T00:00:00.000Z",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "Message": record.to_string(),
            "MessageAttributes": {},
            "Type": "Notification",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "TopicArn": topic,
            "Subject": null
        }
    }]})
}

/// One cold start: a fresh Runtime API, a fresh process, one event.
fn run_once(options: &Options, target: &Target, run: usize, log: Option<&Path>) -> Result<RunResult, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let request_id = format!("coldstart-{}-{run}", target.name);
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let api = Arc::new(RuntimeApi {
        event: target.event.clone(),
        request_id: request_id.clone(),
        function_arn: format!("{FUNCTION_ARN_PREFIX}{}", target.name),
        deadline: options.timeout,
        served: AtomicBool::new(false),
        stop: stop.clone(),
        seen: tx,
    });
    let acceptor = {
        let api = api.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if api.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let api = api.clone();
                    thread::spawn(move || {
                        let _ = api.serve(stream);
                    });
                }
            }
        })
    };

    let mut command = Command::new(&target.binary);
    command.env_clear().envs(function_env(options, target, &addr.to_string())).stdin(Stdio::null());
    match log {
        Some(log) => {
            let file = File::options().append(true).create(true).open(log).map_err(|e| e.to_string())?;
            command.stdout(file.try_clone().map_err(|e| e.to_string())?).stderr(file);
        }
        None => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    let started = Instant::now();
    let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", target.binary.display()));
    let outcome = child.and_then(|child| {
        let pid = child.id() as libc::pid_t;
        let waited = wait_for_first_response(&rx, pid, started, options.timeout);
        // The sandbox is frozen after its response; here it is simply killed and reaped.
        let rusage = if waited.as_ref().is_err_and(|e| e.starts_with("exited")) {
            None
        } else {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            reap(pid, 0).map(|(_, rusage)| rusage)
        };
        let (init, first_invoke, response) = waited?;
        // The first run's response goes to the log, to show what the function answered.
        if let (0, Some(log)) = (run, log)
            && let Ok(mut file) = File::options().append(true).open(log)
        {
            let _ = writeln!(file, "coldstart: response of run 0: {}", truncate(&response));
        }
        let peak_rss_kib = rusage.map_or(0, |r| r.ru_maxrss as u64);
        let cpu = rusage.map_or(Duration::ZERO, |r| timeval(r.ru_utime) + timeval(r.ru_stime));
        let minor_faults = rusage.map_or(0, |r| r.ru_minflt as u64);
        Ok(RunResult { init, first_invoke, peak_rss_kib, cpu, minor_faults })
    });

    stop.store(true, Ordering::SeqCst);
    // Wakes the acceptor so that it sees `stop`.
    let _ = TcpStream::connect(addr);
    let _ = acceptor.join();
    outcome
}

/// Waits for the first response, noting the first `/next`; polls the child so that an exit is seen.
fn wait_for_first_response(
    rx: &mpsc::Receiver<Seen>,
    pid: libc::pid_t,
    started: Instant,
    timeout: Duration,
) -> Result<(Duration, Duration, String), String> {
    let mut init = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Seen::Next(at)) => init = init.or(Some(at - started)),
            Ok(Seen::Response(at, body)) => {
                let init = init.ok_or("a response before any /next")?;
                return Ok((init, at - started, body));
            }
            Ok(Seen::InvocationError(body)) => return Err(format!("invocation error: {}", truncate(&body))),
            Ok(Seen::InitError(body)) => return Err(format!("init error: {}", truncate(&body))),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err("runtime API stopped".to_owned()),
        }
        if let Some((status, _)) = reap(pid, libc::WNOHANG) {
            return Err(format!("exited before responding (wait status {status})"));
        }
        if started.elapsed() > timeout {
            return Err(format!("no response within {timeout:?}"));
        }
    }
}

/// `wait4` on the child: its wait status and resource usage (peak RSS), once it has ended.
fn reap(pid: libc::pid_t, flags: libc::c_int) -> Option<(libc::c_int, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, flags, &mut rusage) };
    (reaped == pid).then_some((status, rusage))
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The environment of a Lambda sandbox (provided.al2023), plus what every ppx function reads.
fn function_env(options: &Options, target: &Target, api: &str) -> Vec<(String, String)> {
    let mut env: Vec<(&str, String)> = vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", target.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", target.name)),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("PPX_TABLE", options.table.clone()),
        ("PPX_LINK_SECRET", LINK_SECRET.to_owned()),
        ("PPX_PUBLIC_URL", "https://ppx.example".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    if let Some(moto) = &options.moto {
        env.push(("AWS_ENDPOINT_URL", moto.clone()));
    }
    let mut env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.extend(options.extra_env.iter().cloned());
    env
}

/// The documented Lambda Runtime API, enough of it for one invocation.
struct RuntimeApi {
    event: Vec<u8>,
    request_id: String,
    function_arn: String,
    deadline: Duration,
    served: AtomicBool,
    stop: Arc<AtomicBool>,
    seen: mpsc::Sender<Seen>,
}

struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

impl RuntimeApi {
    /// One keep-alive connection from the runtime client.
    fn serve(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader)? {
            let at = Instant::now();
            let path = request.path.strip_prefix(API_PREFIX).unwrap_or(&request.path);
            match (request.method.as_str(), path) {
                ("GET", "/invocation/next") => {
                    if self.served.swap(true, Ordering::SeqCst) {
                        // The next event never comes: the sandbox is killed first.
                        while !self.stop.load(Ordering::SeqCst) {
                            thread::sleep(Duration::from_millis(2));
                        }
                        return Ok(());
                    }
                    let _ = self.seen.send(Seen::Next(at));
                    let deadline = now_epoch_ms() + self.deadline.as_millis();
                    let headers = [
                        ("Content-Type", "application/json".to_owned()),
                        ("Lambda-Runtime-Aws-Request-Id", self.request_id.clone()),
                        ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                        ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn.clone()),
                        ("Lambda-Runtime-Trace-Id", format!("Root=1-00000000-{:024x};Sampled=0", deadline)),
                    ];
                    write_response(&mut writer, "200 OK", &headers, &self.event)?;
                }
                ("POST", "/init/error") => {
                    let _ = self.seen.send(Seen::InitError(String::from_utf8_lossy(&request.body).into()));
                    write_response(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
                }
                ("POST", path) if path.starts_with("/invocation/") => {
                    let id = path["/invocation/".len()..].split('/').next().unwrap_or_default();
                    if id != self.request_id {
                        write_response(&mut writer, "400 Bad Request", &[], br#"{"errorType":"InvalidRequestID"}"#)?;
                        continue;
                    }
                    let seen = if path.ends_with("/response") {
                        Seen::Response(at, String::from_utf8_lossy(&request.body).into())
                    } else {
                        Seen::InvocationError(String::from_utf8_lossy(&request.body).into())
                    };
                    let _ = self.seen.send(seen);
                    write_response(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
                }
                _ => write_response(&mut writer, "404 Not Found", &[], br#"{"errorType":"NotFound"}"#)?,
            }
        }
        Ok(())
    }
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body); None at the end of the connection.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad request line"));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers (the streaming error trailers) up to the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(length) = headers.get("content-length") {
        let length: usize =
            length.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(HttpRequest { method, path, body }))
}

fn write_response(writer: &mut impl Write, status: &str, headers: &[(&str, String)], body: &[u8]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        head.push_str("Content-Type: application/json\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut message = head.into_bytes();
    message.extend_from_slice(body);
    writer.write_all(&message)?;
    writer.flush()
}

/// Nearest-rank percentile of a sample.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn fmt_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Targets from the issue: init within 1.5x of hello-world, binary under 8 MB, peak RSS under 32 MB.
fn markdown_table(summaries: &[Summary], runs: usize) -> String {
    let hello = summaries.iter().find(|s| s.name == "hello").and_then(|s| percentile(&s.init_ms, 50.0));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| function | event | binary (stripped) | init median / p90 (ms) | init vs hello | first invoke median / p90 (ms) | CPU user+sys median (ms) | peak RSS max (MiB) | ok runs |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for s in summaries {
        let init = percentile(&s.init_ms, 50.0);
        let ratio = match (init, hello) {
            (Some(init), Some(hello)) if s.name != "hello" && hello > 0.0 => {
                let ratio = init / hello;
                format!("{ratio:.2}x {}", if ratio <= 1.5 { "ok" } else { "OVER 1.5x" })
            }
            _ => "-".to_owned(),
        };
        let size = mib(s.binary_bytes);
        let rss = s.rss_kib.iter().max().map(|&kib| kib as f64 / 1024.0);
        let _ = writeln!(
            out,
            "| {} | `{}` | {:.2} MiB {} | {} / {} | {} | {} / {} | {} | {} | {}/{} |",
            s.name,
            s.event,
            size,
            if s.binary_bytes < 8_000_000 { "ok" } else { "OVER 8 MB" },
            fmt_ms(init),
            fmt_ms(percentile(&s.init_ms, 90.0)),
            ratio,
            fmt_ms(percentile(&s.invoke_ms, 50.0)),
            fmt_ms(percentile(&s.invoke_ms, 90.0)),
            fmt_ms(percentile(&s.cpu_ms, 50.0)),
            rss.map_or_else(
                || "-".to_owned(),
                |r| format!("{r:.1} {}", if r * 1024.0 * 1024.0 < 32_000_000.0 { "ok" } else { "OVER 32 MB" })
            ),
            s.init_ms.len(),
            runs,
        );
    }
    out
}

fn json_report(summaries: &[Summary], runs: usize) -> serde_json::Value {
    let functions: Vec<serde_json::Value> = summaries
        .iter()
        .map(|s| {
            serde_json::json!({
                "function": s.name,
                "event": s.event,
                "binary_bytes": s.binary_bytes,
                "runs": runs,
                "ok_runs": s.init_ms.len(),
                "init_ms": { "median": percentile(&s.init_ms, 50.0), "p90": percentile(&s.init_ms, 90.0),
                             "min": percentile(&s.init_ms, 0.0) },
                "first_invoke_ms": { "median": percentile(&s.invoke_ms, 50.0), "p90": percentile(&s.invoke_ms, 90.0),
                                     "min": percentile(&s.invoke_ms, 0.0) },
                "cpu_ms": { "median": percentile(&s.cpu_ms, 50.0), "p90": percentile(&s.cpu_ms, 90.0) },
                "minor_page_faults": { "median": percentile(&s.minor_faults, 50.0) },
                "peak_rss_kib": { "max": s.rss_kib.iter().max(), "median":
                                  percentile(&s.rss_kib.iter().map(|&v| v as f64).collect::<Vec<_>>(), 50.0) },
                "failures": s.failures,
            })
        })
        .collect();
    serde_json::json!({ "functions": functions })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> HttpRequest {
        read_request(&mut BufReader::new(raw.as_bytes())).expect("reads").expect("a request")
    }

    #[test]
    fn reads_a_request_with_content_length() {
        let r = request("POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nContent-Length: 4\r\n\r\nnull");
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.body.as_slice()),
            ("POST", "/2018-06-01/runtime/invocation/a/response", b"null".as_slice())
        );
    }

    #[test]
    fn reads_a_chunked_request_with_trailers() {
        let raw = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\
                   Lambda-Runtime-Function-Error-Type: E\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
        let mut reader = BufReader::new(raw.as_bytes());
        let first = read_request(&mut reader).unwrap().unwrap();
        assert_eq!(first.body, b"abcde");
        let second = read_request(&mut reader).unwrap().unwrap();
        assert_eq!((second.method.as_str(), second.path.as_str()), ("GET", "/next"));
        assert!(read_request(&mut reader).unwrap().is_none());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(5.0));
        assert_eq!(percentile(&values, 90.0), Some(9.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn http_events_are_api_gateway_v2() {
        let event = api_gateway_v2_event("post", "/webhooks/shopify/x?a=1");
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/webhooks/shopify/x");
        assert_eq!(event["rawQueryString"], "a=1");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["body"], "{}");
        assert!(api_gateway_v2_event("GET", "/").get("body").is_some_and(serde_json::Value::is_null));
    }
}
