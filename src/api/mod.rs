//! `stepsim serve`: the AWS Step Functions, Lambda, S3 and CloudWatch Logs APIs over HTTP, so that boto3 and the
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
pub mod error;
pub mod http;
pub mod iam;
pub mod lambda;
pub mod logs;
pub mod mock_cases;
pub mod names;
pub mod pool;
pub mod request;
pub mod runner;
pub mod s3;
pub mod sfn;
pub mod state;
pub mod url;
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
}

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
        },
        registry: Mutex::new(Registry::default()),
        functions: RwLock::new(Functions {
            registry: config.functions,
            meta: Default::default(),
        }),
        catalog: config.catalog,
        store: config.store,
        logs: Logs::new(seed, config.max_log_bytes),
        iam: config.iam,
        pool: pool::ExecPool::new(config.workers),
        tokens: Mutex::new(Default::default()),
        ids: Mutex::new(SimRng::derived(seed, "serve/ids")),
        nonce: std::sync::atomic::AtomicU64::new(0),
        started: state::wall_now(),
    })
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server running on its own thread (for the CLI, tests and benchmarks).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: Arc<ApiState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and serves on a background thread. Binding
    /// errors (port in use, no permission) are returned here.
    pub fn start(config: ServerConfig, addr: SocketAddr) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = build_state(config);
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
        })
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
