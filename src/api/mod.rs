//! `stepsim serve`: the AWS Step Functions, Lambda, S3 and CloudWatch Logs APIs (and DynamoDB,
//! SQS, SNS and EventBridge: [`dynamodb`], [`sqs`], [`sns`], [`events`]) over HTTP, so that boto3 and the
//! AWS CLI work unchanged against a local simulation (only `endpoint_url` changes).
//!
//! The layout:
//!
//! - [`http`]: the axum front (routing by protocol, body limits, the request log);
//! - [`sfn`], [`lambda`], [`s3`], [`logs`], [`iam`]: the APIs;
//! - [`state`]: what the server remembers and what a client may see of an execution when;
//! - [`runner`]: one simulation per execution on its own virtual clock, task tokens, stops;
//! - [`pool`]: the threads simulations run on;
//! - [`names`], [`error`], [`request`]: names, ARNs, AWS's error shapes and JSON request bodies;
//! - [`url`], [`xml`]: URL escapes and S3's XML documents;
//! - [`console`]: the web console at `/console`.
//!
//! The HTTP side runs on a multi-thread tokio runtime and never runs the engine: the engine's
//! futures are not `Send`, so every execution is simulated on a pool thread with its own
//! current-thread runtime, and results come back through the shared [`state::ApiState`] (or a
//! oneshot channel for synchronous calls).
//!
//! Nothing is authenticated: any credentials, region and signature are accepted. The server
//! binds to loopback unless told otherwise.

pub mod console;
pub mod dynamodb;
pub mod error;
pub mod events;
pub mod hosts;
pub mod http;
pub mod iam;
pub mod journal;
pub mod lambda;
pub mod lambda_code;
pub mod logs;
pub mod map_runs;
pub mod mock_cases;
pub mod names;
pub mod nested;
pub mod page;
pub mod pool;
pub mod redrive;
pub mod request;
pub mod runner;
pub mod s3;
pub mod sfn;
pub mod sns;
pub mod sqs;
pub mod state;
pub mod url;
pub mod versions;
pub mod xml;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::rng::SimRng;
use crate::sim::{FunctionRegistry, HandlerCatalog, Iam, Logs};
use crate::storage::Store;

use self::state::{ApiState, Functions, Registry, Settings};

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The Region in ARNs (default `us-east-1`).
    pub region: String,
    /// The account id in ARNs (default `123456789012`).
    pub account: String,
    /// The functions executions and the Lambda API see.
    pub functions: FunctionRegistry,
    /// The handler kinds functions created through the Lambda API may use.
    pub catalog: HandlerCatalog,
    /// The S3 store shared by the S3 API, handlers and Distributed Map.
    pub store: Store,
    /// Simulated seconds per real second for showing results; `None` shows them as soon as
    /// they are computed.
    pub time_scale: Option<f64>,
    /// Executions kept in memory; the oldest finished ones are dropped first.
    pub max_executions: usize,
    /// The master seed.
    pub seed: u64,
    /// The largest S3 object (and Lambda API request body) accepted, in bytes.
    pub max_object_bytes: usize,
    /// One log line per request on stderr.
    pub log_requests: bool,
    /// Simulations computed at once (default: the number of CPUs).
    pub workers: usize,
    /// How long GetActivityTask waits for a task (AWS: 60 s).
    pub activity_poll: Duration,
    /// CloudWatch Logs keeps at most this many bytes of events; the oldest go first.
    pub max_log_bytes: u64,
    /// The account's IAM (roles and policies; the IAM API changes it).
    pub iam: Iam,
    /// Check the calls of executions and handlers against `iam` (default true).
    pub enforce_iam: bool,
    /// Step Functions Local's mock file: `StartExecution` on `MACHINE_ARN#TestCase` runs
    /// that test case (`--mock-config`, `SFN_MOCK_CONFIG`).
    pub mock_config: Option<Arc<crate::sim::mock_config::MockConfig>>,
    /// Host names answered besides loopback ones and the bound address (`--allow-host`).
    pub allow_hosts: Vec<String>,
    /// The address the server is bound to (set by [`Server::start`]); with `allow_hosts`,
    /// decides which `Host` headers are answered.
    pub bound: Option<std::net::IpAddr>,
    /// The seed of request ids, unnamed executions' names and log stream ids; `None` derives
    /// it from `seed`. `stepsim serve` without `--seed` sets a fresh one per start, so ids do
    /// not repeat across restarts.
    pub ids_seed: Option<u64>,
    /// How long a client may take to send headers or leave a connection idle
    /// (default [`HEADER_TIMEOUT`]).
    pub header_timeout: Duration,
    /// Connections served at once (default [`connection_cap`]).
    pub max_connections: usize,
    /// DynamoDB, SQS, SNS and EventBridge, shared by the APIs and every simulation.
    pub services: crate::sim::AwsServices,
    /// The memory (estimated) kept executions may hold before the oldest ended ones are
    /// dropped (default [`DEFAULT_RETAINED_BYTES`]).
    pub max_retained_bytes: u64,
    /// `--state-dir`: journal state machines, executions and histories there and restore
    /// them at start ([`journal`]). `None` keeps everything in memory only.
    pub state_dir: Option<std::path::PathBuf>,
}

/// The default budget of kept executions' inputs, outputs and histories: 384 MiB.
pub const DEFAULT_RETAINED_BYTES: u64 = 384 * 1024 * 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            region: "us-east-1".to_string(),
            account: "123456789012".to_string(),
            functions: FunctionRegistry::new(),
            catalog: crate::handlers::default_catalog(),
            store: Store::memory(),
            time_scale: None,
            max_executions: 1000,
            seed: 0,
            max_object_bytes: 64 * 1024 * 1024,
            log_requests: true,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            activity_poll: Duration::from_secs(60),
            max_log_bytes: crate::sim::logs::DEFAULT_RETENTION_BYTES,
            iam: Iam::new(),
            enforce_iam: true,
            mock_config: None,
            allow_hosts: Vec::new(),
            bound: None,
            ids_seed: None,
            header_timeout: HEADER_TIMEOUT,
            max_connections: connection_cap(),
            services: crate::sim::AwsServices::default(),
            max_retained_bytes: DEFAULT_RETAINED_BYTES,
            state_dir: None,
        }
    }
}

/// Checks a time scale: positive and finite.
pub fn check_time_scale(scale: f64) -> Result<f64, String> {
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(format!(
            "the time scale must be a positive number of simulated seconds per real second, \
             not {scale}"
        ))
    }
}

/// The shared state a router serves.
pub fn build_state(config: ServerConfig) -> Arc<ApiState> {
    let seed = config.seed;
    let ids_seed = config.ids_seed.unwrap_or(seed);
    Arc::new(ApiState {
        settings: Settings {
            region: config.region,
            account: config.account,
            time_scale: config.time_scale.filter(|s| s.is_finite() && *s > 0.0),
            max_executions: config.max_executions.max(1),
            seed,
            max_object_bytes: config.max_object_bytes,
            log_requests: config.log_requests,
            activity_poll: config.activity_poll,
            enforce_iam: config.enforce_iam,
            mock_config: config.mock_config,
            header_timeout: config.header_timeout.max(Duration::from_millis(1)),
            max_connections: config.max_connections.max(1),
            max_retained_bytes: config.max_retained_bytes,
            hosts: hosts::HostPolicy {
                bound: config.bound,
                allowed: config
                    .allow_hosts
                    .iter()
                    .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                    .collect(),
            },
        },
        registry: Mutex::new(Registry::default()),
        functions: RwLock::new(Functions {
            registry: config.functions,
            meta: Default::default(),
        }),
        catalog: config.catalog,
        store: config.store,
        logs: Logs::new(ids_seed, config.max_log_bytes),
        iam: config.iam,
        services: config.services,
        pool: pool::ExecPool::new(config.workers),
        tokens: Mutex::new(Default::default()),
        ids: Mutex::new(SimRng::derived(ids_seed, "serve/ids")),
        nonce: std::sync::atomic::AtomicU64::new(0),
        started: state::wall_now(),
        consuming: Mutex::new(Default::default()),
    })
}

/// How long a client may take to send a request's headers, and how long a kept-alive
/// connection may sit idle before the next request (hyper starts the same timer for both).
/// Slow or silent clients are closed after this; long polls are not affected (their headers
/// arrived at once).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long stopping waits for requests in flight before closing their connections.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Connections served at once when the file-descriptor limit allows; more wait in the
/// listen backlog until one closes.
pub const MAX_CONNECTIONS: usize = 10_000;

/// The connection cap: [`MAX_CONNECTIONS`], or less when the process may not open that many
/// files (a quarter of the limit is left for the store, logs and runtimes).
pub fn connection_cap() -> usize {
    // SAFETY: getrlimit only writes the struct it is given.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let files = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    MAX_CONNECTIONS.min(files - files / 4).max(16)
}

/// Serves on `listener` until `shutdown` completes, then stops accepting, lets requests in
/// flight finish for up to [`DRAIN_TIMEOUT`], and returns.
///
/// Each connection is HTTP/1.1 with a timeout on headers and idleness ([`HEADER_TIMEOUT`] by
/// default), and at most [`connection_cap`] (by default) are open at once: thousands of half-sent requests cannot use up the
/// process's file descriptors, and a well-behaved client is still answered while they are
/// held. An accept error (out of descriptors, say) pauses accepting briefly instead of ending
/// the server.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let (header_timeout, cap) = (
        state.settings.header_timeout,
        state.settings.max_connections,
    );
    let app = http::router(state);
    let permits = Arc::new(tokio::sync::Semaphore::new(cap));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(target: http::REQUEST_LOG, "accept failed: {e}; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            // A connection that ends badly (reset, timeout, bad request line) only ends itself.
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    Ok(())
}

/// A server running on its own thread (for the CLI, tests and benchmarks).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: Arc<ApiState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
    restored: Option<journal::Restored>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and serves on a background thread. Binding
    /// errors (port in use, no permission) are returned here, and so are a `state_dir`'s
    /// (kind `InvalidData`, the message naming the file and line).
    pub fn start(mut config: ServerConfig, addr: SocketAddr) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        config.bound = Some(addr.ip());
        let state_dir = config.state_dir.clone();
        let state = build_state(config);
        let restored = match &state_dir {
            Some(dir) => Some(journal::open(&state, dir).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("--state-dir: {e}"))
            })?),
            None => None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stepsim-http")
            .enable_all()
            .build()?;
        let serving = state.clone();
        std::thread::Builder::new()
            .name("stepsim-serve".to_string())
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    serve(listener, serving, async {
                        let _ = rx.await;
                    })
                    .await
                });
                if let Err(e) = result {
                    eprintln!("stepsim serve: the server stopped: {e}");
                }
                // Long polls may still be open; do not wait for them.
                runtime.shutdown_timeout(Duration::from_millis(100));
                let _ = done_tx.send(());
            })?;
        Ok(Server {
            addr,
            state,
            shutdown: Some(tx),
            done: Some(done_rx),
            restored,
        })
    }

    /// What `--state-dir` restored at start (`None` without one).
    pub fn restored(&self) -> Option<&journal::Restored> {
        self.restored.as_ref()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, the `endpoint_url` clients use.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state (for tests that look inside).
    pub fn state(&self) -> &Arc<ApiState> {
        &self.state
    }

    /// Stops accepting requests and waits (briefly) for the server thread to end.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            // Graceful shutdown waits for open connections; a client that keeps one open
            // must not hold the process.
            let _ = done.recv_timeout(Duration::from_secs(3));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}
