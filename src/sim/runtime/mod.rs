//! User Lambda code run through the Lambda Runtime API: [`ProcessHandler`] is one more
//! [`Handler`], whose invocations are answered by a real runtime process (python3.x and
//! nodejs with a bootstrap stepsim ships, or the user's own `bootstrap` for `provided.*`).
//!
//! What it owns, and what it leaves to the Lambda service:
//! - The service decides everything about the platform: admission, cold or warm, INIT time,
//!   concurrency, timeouts on the virtual clock, billing, START/END/REPORT lines. The handler
//!   only maps the service's execution environments onto processes: a cold start spawns a
//!   process, a warm invocation reuses the process of the environment it was given (so module
//!   state survives), and at a cold start every idle process of the same function and world is
//!   killed, because the service only starts an environment when none of its idle ones is
//!   usable any more (keep-alive expired, recycled, discarded). Idle processes are kept per
//!   thread (a world lives on one thread): they die with the thread, and those of a world or
//!   handler that is gone are killed at the next invocation on the thread.
//! - Talking to the process is synchronous from the simulation's point of view: the handler
//!   blocks the simulation thread on the environment's event channel with a real-time bound,
//!   so virtual time cannot move while the process works, and the same seed gives the same
//!   bytes as long as the user code is deterministic. S3, DynamoDB, SQS and EventBridge
//!   requests the code makes through the loopback endpoint are run on the simulation thread as
//!   the invocation's own requests (modelled latency, billing, IAM), in the order the code
//!   made them.
//! - The real-time bound on a process's answer is `max(timeout, 30 s)` (the host may be slower
//!   than Lambda's CPU share; the model, not the host, decides the simulated duration);
//!   `STEPSIM_USER_CODE_WALL_SECONDS` overrides it. Past it the process is killed and the
//!   invocation times out as Lambda reports it (`Sandbox.Timedout`).
//! - The simulated duration is the model's (`handler_cpu_ms` through the service, plus the S3
//!   requests), unless the function says `duration = "measured"`: then the process's CPU time
//!   (user + system, from `/proc`) is charged at one vCPU's worth of the memory's CPU share.
//!   Measured durations are not deterministic.

mod http;
mod process;
mod s3;
mod services;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::sim::handler::{FunctionError, Handler, HandlerFuture, Invocation, InvocationHost};
use process::{EnvProcess, Event, Launch, NextInvocation, Waited};

/// The python bootstrap (client side of the Runtime API), written to a temporary folder.
const BOOTSTRAP_PY: &str = include_str!("bootstrap.py");
/// The node bootstrap (ESM; it loads ESM and CommonJS handlers).
const BOOTSTRAP_MJS: &str = include_str!("bootstrap.mjs");
/// The line the bootstraps write after a handler's output (then the request id).
const SENTINEL: &str = "\u{1e}stepsim:end:";
/// Most bytes of output kept per invocation; the rest is counted and dropped.
const MAX_LOG_BYTES: usize = 256 * 1024;
/// The default real-time bound on one answer of the process.
const MIN_WALL: Duration = Duration::from_secs(30);
/// How long to wait for the rest of a handler's output once it has answered.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How the simulated duration of an invocation is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DurationMode {
    /// From the model (`handler_cpu_ms`, S3 requests): deterministic.
    #[default]
    Model,
    /// The process's measured CPU time at the memory's CPU share: not deterministic.
    Measured,
}

/// The language a runtime identifier runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Python,
    Node,
    /// `provided.al2023` / `provided.al2`: the code folder's `bootstrap` executable.
    Provided,
}

impl Language {
    /// The language of an AWS runtime identifier, or why stepsim cannot run code on it.
    pub fn of(runtime: &str) -> Result<Language, String> {
        let r = runtime.to_ascii_lowercase();
        if r.starts_with("python3") {
            Ok(Language::Python)
        } else if r.starts_with("nodejs") {
            Ok(Language::Node)
        } else if r.starts_with("provided") {
            Ok(Language::Provided)
        } else {
            Err(format!(
                "stepsim cannot run user code on runtime `{runtime}` (it runs python3.x, \
                 nodejs*.x, provided.al2023 and provided.al2)"
            ))
        }
    }
}

/// A function's code: where it is and how Lambda would start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCode {
    /// The AWS runtime identifier (`python3.12`, `nodejs22.x`, `provided.al2023`).
    pub runtime: String,
    /// `module.function` as Lambda reads it (`app.handler`, `src/app.handler`).
    pub handler: String,
    /// The folder holding the code (Lambda's `/var/task`).
    pub code_dir: PathBuf,
    /// The function's environment variables.
    pub environment: BTreeMap<String, String>,
    pub duration: DurationMode,
}

impl UserCode {
    /// Checks that the runtime is one stepsim runs and that the folder holds the handler's
    /// file. The error names the key at fault (`runtime`, `code`, `handler`).
    pub fn check(&self) -> Result<Language, (&'static str, String)> {
        let language = Language::of(&self.runtime).map_err(|m| ("runtime", m))?;
        if !self.code_dir.is_dir() {
            return Err((
                "code",
                format!("the code folder {} does not exist", self.code_dir.display()),
            ));
        }
        let dir = self.code_dir.display();
        match language {
            Language::Provided => {
                let boot = self.code_dir.join("bootstrap");
                if !boot.is_file() {
                    return Err((
                        "code",
                        format!(
                            "a {} function needs an executable `bootstrap` in {dir}",
                            self.runtime
                        ),
                    ));
                }
            }
            Language::Python => {
                let (module, _) =
                    split_python_handler(&self.handler).map_err(|m| ("handler", m))?;
                let rel = module.replace('.', "/");
                let candidates = [format!("{rel}.py"), format!("{rel}/__init__.py")];
                if !candidates.iter().any(|c| self.code_dir.join(c).is_file()) {
                    return Err((
                        "handler",
                        format!(
                            "module `{module}` not found: no {} or {} in {dir}",
                            candidates[0], candidates[1]
                        ),
                    ));
                }
            }
            Language::Node => {
                let (module, _) = split_node_handler(&self.handler).map_err(|m| ("handler", m))?;
                let found = ["js", "mjs", "cjs"]
                    .iter()
                    .any(|ext| self.code_dir.join(format!("{module}.{ext}")).is_file());
                if !found {
                    return Err((
                        "handler",
                        format!("module `{module}` not found: no {module}.js, {module}.mjs or {module}.cjs in {dir}"),
                    ));
                }
            }
        }
        Ok(language)
    }
}

/// `pkg/app.handler` -> (`pkg.app`, `handler`), as Lambda's python runtime splits it.
fn split_python_handler(handler: &str) -> Result<(String, String), String> {
    match handler.rsplit_once('.') {
        Some((m, f)) if !m.is_empty() && !f.is_empty() => Ok((m.replace('/', "."), f.to_string())),
        _ => Err(format!(
            "`{handler}` is not `module.function` (e.g. `app.handler`)"
        )),
    }
}

/// `src/app.handler` -> (`src/app`, `handler`), as Lambda's node runtime splits it (at the
/// first dot after the last slash).
fn split_node_handler(handler: &str) -> Result<(String, String), String> {
    let slash = handler.rfind('/').map_or(0, |i| i + 1);
    match handler[slash..].split_once('.') {
        Some((m, f)) if !m.is_empty() && !f.is_empty() => {
            Ok((format!("{}{m}", &handler[..slash]), f.to_string()))
        }
        _ => Err(format!(
            "`{handler}` is not `module.function` (e.g. `index.handler`)"
        )),
    }
}

/// Writes the bootstraps to a folder named after their content (once per stepsim process).
fn bootstrap_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(BOOTSTRAP_PY.as_bytes());
        h.update(BOOTSTRAP_MJS.as_bytes());
        let digest = h.finalize();
        let tag: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("stepsim-bootstrap-{tag}"));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            for (name, text) in [
                ("bootstrap.py", BOOTSTRAP_PY),
                ("bootstrap.mjs", BOOTSTRAP_MJS),
            ] {
                let path = dir.join(name);
                if std::fs::read_to_string(&path).ok().as_deref() == Some(text) {
                    continue;
                }
                // Write then rename, so that a concurrent stepsim never runs half a file.
                let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
                std::fs::write(&tmp, text)?;
                std::fs::rename(&tmp, &path)?;
            }
            Ok(())
        };
        write().map(|()| dir.clone()).map_err(|e| {
            format!(
                "cannot write the runtime bootstraps to {}: {e}",
                dir.display()
            )
        })
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// An idle environment's key: the handler, the world (its host's address, stable while it
/// lives) and the environment id the Lambda service gave.
type EnvKey = (u64, usize, u64);

/// An idle process, with what tells whether its world and its handler still exist.
struct IdleEnv {
    process: EnvProcess,
    world: Weak<dyn InvocationHost>,
    handler: std::sync::Weak<()>,
}

thread_local! {
    /// The idle processes of the worlds running on this thread. A world lives on one thread
    /// (the simulation is single-threaded), so its processes are kept there: when the thread
    /// ends (a sweep worker, a server job) they are killed with it, and a world or handler that
    /// is gone has its processes killed at the next invocation on the thread.
    static IDLE: RefCell<BTreeMap<EnvKey, IdleEnv>> = const { RefCell::new(BTreeMap::new()) };
}

/// Removes the idle processes `doomed` selects and kills them (outside the borrow: killing
/// waits for the process).
fn reap_idle(doomed: impl Fn(&EnvKey, &IdleEnv) -> bool) {
    let removed: Vec<IdleEnv> = IDLE
        .try_with(|idle| {
            let mut idle = idle.borrow_mut();
            let keys: Vec<EnvKey> = idle
                .iter()
                .filter(|(k, e)| doomed(k, e))
                .map(|(k, _)| *k)
                .collect();
            keys.iter().filter_map(|k| idle.remove(k)).collect()
        })
        .unwrap_or_default();
    drop(removed);
}

/// Distinguishes handlers in [`IDLE`].
static NEXT_HANDLER_ID: AtomicU64 = AtomicU64::new(0);

/// User code as a [`Handler`]. Shared by every world that registers the function (sweep
/// workers on several threads); its processes are kept per thread, world and environment.
pub struct ProcessHandler {
    code: UserCode,
    language: Language,
    /// `STEPSIM_USER_CODE_WALL_SECONDS`, read once.
    wall_override: Option<Duration>,
    id: u64,
    /// Its processes check this to know that the handler still exists.
    alive: Arc<()>,
}

impl std::fmt::Debug for ProcessHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessHandler")
            .field("code", &self.code)
            .finish()
    }
}

impl ProcessHandler {
    /// A handler for `code`, checked (see [`UserCode::check`]).
    pub fn new(code: UserCode) -> Result<ProcessHandler, (&'static str, String)> {
        let language = code.check()?;
        let wall_override = std::env::var("STEPSIM_USER_CODE_WALL_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
        Ok(ProcessHandler {
            code,
            language,
            wall_override,
            id: NEXT_HANDLER_ID.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
        })
    }

    /// The code this handler runs.
    pub fn code(&self) -> &UserCode {
        &self.code
    }

    /// The real-time bound on one answer of the process.
    fn wall_bound(&self, timeout: Duration) -> Duration {
        self.wall_override.unwrap_or(timeout.max(MIN_WALL))
    }

    /// Starts the runtime process of a new environment.
    fn spawn(&self, ctx: &Invocation) -> Result<EnvProcess, FunctionError> {
        let boot =
            bootstrap_dir().map_err(|m| FunctionError::new("Runtime.InvalidEntrypoint", m))?;
        let interpreter = |var: &str, default: &str| {
            PathBuf::from(
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| default.to_string()),
            )
        };
        let (program, args) = match self.language {
            Language::Python => (
                interpreter("STEPSIM_PYTHON", "python3"),
                vec![boot.join("bootstrap.py")],
            ),
            Language::Node => (
                interpreter("STEPSIM_NODE", "node"),
                vec![boot.join("bootstrap.mjs")],
            ),
            Language::Provided => (self.code.code_dir.join("bootstrap"), Vec::new()),
        };
        let launch = Launch {
            program: program.clone(),
            args,
            cwd: self.code.code_dir.clone(),
            env: self.environment(ctx, boot),
            remove: vec!["AWS_PROFILE".into(), "AWS_DEFAULT_PROFILE".into()],
        };
        EnvProcess::spawn(launch).map_err(|e| {
            let hint = match self.language {
                Language::Python => " (set STEPSIM_PYTHON to choose the interpreter)",
                Language::Node => " (set STEPSIM_NODE to choose the interpreter)",
                Language::Provided => "",
            };
            FunctionError::new(
                "Runtime.InvalidEntrypoint",
                format!("cannot start {}: {e}{hint}", program.display()),
            )
        })
    }

    /// The variables Lambda sets, then the function's own.
    fn environment(&self, ctx: &Invocation, boot: &Path) -> Vec<(String, String)> {
        let cfg = ctx.config();
        let name = ctx.function_name();
        let region = ctx
            .arn_prefix
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_string();
        let task_root = std::fs::canonicalize(&self.code.code_dir)
            .unwrap_or_else(|_| self.code.code_dir.clone());
        let mut env: Vec<(String, String)> = [
            ("_HANDLER", self.code.handler.clone()),
            ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
            ("LAMBDA_RUNTIME_DIR", boot.display().to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("stepsim/[$LATEST]{:032x}", ctx.environment_id()),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
            (
                "AWS_EXECUTION_ENV",
                format!("AWS_Lambda_{}", self.code.runtime),
            ),
            ("AWS_REGION", region.clone()),
            ("AWS_DEFAULT_REGION", region),
            // Dummy credentials: the loopback endpoints accept any signature.
            ("AWS_ACCESS_KEY_ID", "ASIASTEPSIMLOCAL0000".to_string()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "stepsim/local/secret/key/not/a/real/one".to_string(),
            ),
            ("AWS_SESSION_TOKEN", "stepsim-local-session".to_string()),
            ("AWS_CONFIG_FILE", "/dev/null".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
            // Plain bodies: no aws-chunked uploads with trailing checksums.
            (
                "AWS_REQUEST_CHECKSUM_CALCULATION",
                "when_required".to_string(),
            ),
            (
                "AWS_RESPONSE_CHECKSUM_VALIDATION",
                "when_required".to_string(),
            ),
            ("PYTHONUNBUFFERED", "1".to_string()),
            ("PYTHONDONTWRITEBYTECODE", "1".to_string()),
            ("TZ", ":UTC".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(
            self.code
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        env
    }

    /// One invocation: find or start the environment's process, hand it the event, serve its
    /// requests until it answers.
    async fn invoke(&self, event: Value, ctx: &mut Invocation) -> Result<Value, FunctionError> {
        let world = Rc::as_ptr(&ctx.host) as *const () as usize;
        let key = (self.id, world, ctx.environment_id());
        // Processes of worlds and handlers that are gone; and, at a cold start, the idle
        // processes of this function in this world (see the module doc).
        let cold = ctx.is_cold_start();
        reap_idle(|k, e| {
            e.world.strong_count() == 0
                || e.handler.strong_count() == 0
                || (cold && k.0 == self.id && k.1 == world)
        });
        let found = if cold {
            None
        } else {
            IDLE.try_with(|idle| idle.borrow_mut().remove(&key))
                .ok()
                .flatten()
                .map(|e| e.process)
        };
        let process = match found {
            Some(p) => p,
            None => self.spawn(ctx)?,
        };
        let mut lease = Lease {
            key,
            world: Rc::downgrade(&ctx.host),
            handler: Arc::downgrade(&self.alive),
            process: Some(process),
            keep: false,
        };
        self.exchange(&mut lease, event, ctx).await
    }

    /// Sends the event and serves the process until its verdict; then logs its output and
    /// spends the measured time when asked to.
    async fn exchange(
        &self,
        lease: &mut Lease,
        event: Value,
        ctx: &mut Invocation,
    ) -> Result<Value, FunctionError> {
        let request_id = ctx.request_id().to_string();
        let Some(process) = lease.process.as_mut() else {
            return Err(FunctionError::new(
                "Runtime.ExitError",
                "no runtime process",
            ));
        };
        let cpu_before = (self.code.duration == DurationMode::Measured)
            .then(|| process.cpu_seconds())
            .flatten();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let sent = process.send(NextInvocation {
            request_id: request_id.clone(),
            deadline_ms: now_ms + ctx.remaining_time().as_millis() as u64,
            function_arn: ctx.function_arn(),
            trace_id: format!("Root=1-00000000-{};Sampled=0", trace_hex(&request_id)),
            body: serde_json::to_vec(&event).unwrap_or_else(|_| b"null".to_vec()),
        });
        let mut out = Output::default();
        let verdict = if sent {
            serve(
                process,
                ctx,
                &request_id,
                self.wall_bound(ctx.config().timeout),
                &mut out,
            )
            .await
        } else {
            Verdict::Fatal(FunctionError::new(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited without providing a reason"),
            ))
        };
        // The rest of the handler's output: up to the bootstrap's end line, or what is there.
        if let Some(p) = lease.process.as_mut() {
            let wait_for_end = self.language != Language::Provided
                && matches!(verdict, Verdict::Response(_) | Verdict::Error(_));
            out.finish(p, &request_id, wait_for_end);
        }
        let cpu_after = cpu_before.and(lease.process.as_ref().and_then(EnvProcess::cpu_seconds));
        for line in out.take_lines() {
            ctx.log(line);
        }
        if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
            ctx.compute_threads((b - a).max(0.0), 1).await;
        }
        match verdict {
            Verdict::Response(body) => {
                lease.keep = true;
                serde_json::from_slice(&body).map_err(|e| {
                    FunctionError::new(
                        "Runtime.MarshalError",
                        format!(
                            "Unable to marshal response: the function's response is not JSON ({e})"
                        ),
                    )
                })
            }
            Verdict::Error(e) => {
                lease.keep = true;
                Err(e)
            }
            Verdict::Fatal(e) => Err(e),
            Verdict::WallTimeout { asked_next } => {
                // Kill it now: the wall bound is the only thing that stops a stuck process.
                lease.process = None;
                let wall = self.wall_bound(ctx.config().timeout).as_secs_f64();
                if !asked_next {
                    return Err(FunctionError::new(
                        "Runtime.ExitError",
                        format!(
                            "RequestId: {request_id} Error: the runtime never asked for an invocation \
                             (GET /2018-06-01/runtime/invocation/next) within {wall:.2} s of real time; \
                             stepsim killed it"
                        ),
                    ));
                }
                ctx.log(format!(
                    "[stepsim] the process did not answer within {wall:.2} s of real time; killed"
                ));
                // Let the service's timeout fire, so the invocation ends as Lambda's do.
                ctx.sleep(ctx.remaining_time() + Duration::from_millis(1))
                    .await;
                Err(FunctionError::new(
                    "Sandbox.Timedout",
                    format!(
                        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                        ctx.config().timeout.as_secs_f64()
                    ),
                ))
            }
        }
    }
}

impl Handler for ProcessHandler {
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(self.invoke(event, ctx))
    }
}

/// A process taken from the idle map for one invocation. It goes back when the invocation
/// ends well (`keep`), and is killed otherwise: a crash, a timeout, or the invocation's future
/// dropped midway (the service discards that environment).
struct Lease {
    key: EnvKey,
    world: Weak<dyn InvocationHost>,
    handler: std::sync::Weak<()>,
    process: Option<EnvProcess>,
    keep: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (true, Some(process)) = (self.keep, self.process.take()) {
            let env = IdleEnv {
                process,
                world: self.world.clone(),
                handler: self.handler.clone(),
            };
            // When the thread is ending, the process is simply killed.
            let _ = IDLE.try_with(|idle| idle.borrow_mut().insert(self.key, env));
        }
    }
}

/// How the process answered.
enum Verdict {
    Response(Vec<u8>),
    /// The handler raised; the process stays usable.
    Error(FunctionError),
    /// The process is unusable (init failure, exit).
    Fatal(FunctionError),
    WallTimeout {
        asked_next: bool,
    },
}

/// The handler's output lines of one invocation, capped.
#[derive(Default)]
struct Output {
    lines: Vec<String>,
    bytes: usize,
    dropped: usize,
    /// The bootstrap's end line for the request was seen.
    ended: bool,
}

impl Output {
    fn push(&mut self, line: String, request_id: &str) {
        if let Some(id) = line.strip_prefix(SENTINEL) {
            self.ended |= id == request_id;
            return;
        }
        if self.bytes + line.len() > MAX_LOG_BYTES {
            self.dropped += line.len() + 1;
            return;
        }
        self.bytes += line.len() + 1;
        self.lines.push(line);
    }

    /// Collects what is left of the output: up to the end line when `wait_for_end`, else what
    /// has already arrived.
    fn finish(&mut self, p: &mut EnvProcess, request_id: &str, wait_for_end: bool) {
        let until = Instant::now() + OUTPUT_GRACE;
        while wait_for_end && !self.ended {
            match p.wait(until) {
                Waited::Event(Event::Output(line)) => self.push(line, request_id),
                Waited::Event(Event::OutputClosed) | Waited::Exited(_) | Waited::TimedOut => break,
                Waited::Event(_) => {}
            }
        }
        while let Some(e) = p.try_event() {
            if let Event::Output(line) = e {
                self.push(line, request_id);
            }
        }
    }

    fn take_lines(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(format!(
                "[stepsim] {} bytes of output dropped (at most {MAX_LOG_BYTES} bytes are kept per invocation)",
                self.dropped
            ));
        }
        lines
    }
}

/// Serves the process's requests until it answers `request_id`, exits or runs past `wall`
/// of real time spent waiting on it (time spent running its S3 requests does not count).
async fn serve(
    process: &mut EnvProcess,
    ctx: &mut Invocation,
    request_id: &str,
    wall: Duration,
    out: &mut Output,
) -> Verdict {
    let mut budget = wall;
    loop {
        let t0 = Instant::now();
        let waited = process.wait(t0 + budget);
        budget = budget.saturating_sub(t0.elapsed());
        match waited {
            Waited::Event(Event::S3(call)) => {
                let reply = services::route(ctx, &call.request).await;
                let _ = call.reply.send(reply);
            }
            Waited::Event(Event::Output(line)) => out.push(line, request_id),
            Waited::Event(Event::NextAsked | Event::OutputClosed) => {}
            Waited::Event(Event::Response {
                request_id: id,
                body,
            }) if id == request_id => return Verdict::Response(body),
            Waited::Event(Event::Error {
                request_id: id,
                body,
                error_type,
            }) if id == request_id => {
                return Verdict::Error(parse_error(&body, error_type.as_deref()))
            }
            // An answer to an earlier request (after a timeout): not this one's.
            Waited::Event(Event::Response { .. } | Event::Error { .. }) => {}
            Waited::Event(Event::InitError { body, error_type }) => {
                return Verdict::Fatal(parse_error(&body, error_type.as_deref()))
            }
            Waited::Exited(status) => {
                let why = match (
                    status.code(),
                    std::os::unix::process::ExitStatusExt::signal(&status),
                ) {
                    (Some(c), _) => format!("exit status {c}"),
                    (None, Some(s)) => format!("signal {s}"),
                    _ => "unknown".to_string(),
                };
                return Verdict::Fatal(FunctionError::new(
                    "Runtime.ExitError",
                    format!("RequestId: {request_id} Error: Runtime exited with error: {why}"),
                ));
            }
            Waited::TimedOut => {
                return Verdict::WallTimeout {
                    asked_next: process.asked_next,
                }
            }
        }
    }
}

/// 24 hex digits of the request id, for an X-Ray-shaped trace id (deterministic, like the id).
fn trace_hex(request_id: &str) -> String {
    request_id.chars().filter(|c| *c != '-').take(24).collect()
}

/// A function error from a Runtime API error body: `{errorType, errorMessage, stackTrace}`
/// (node runtimes call the trace `trace`); a body that is not such JSON becomes the message.
fn parse_error(body: &[u8], header_type: Option<&str>) -> FunctionError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error_type = v
        .get("errorType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .or(header_type)
        .unwrap_or("Unhandled")
        .to_string();
    let message = match v.get("errorMessage") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None if v.is_null() => String::from_utf8_lossy(body).into_owned(),
        None => String::new(),
    };
    let trace = v
        .get("stackTrace")
        .or_else(|| v.get("trace"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default();
    FunctionError::new(error_type, message).with_stack_trace(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_names_split_as_lambda_does() {
        assert_eq!(
            split_python_handler("pkg/app.main").unwrap(),
            ("pkg.app".into(), "main".into())
        );
        assert!(split_python_handler("app").is_err());
        assert_eq!(
            split_node_handler("src/index.handler").unwrap(),
            ("src/index".into(), "handler".into())
        );
        assert_eq!(
            split_node_handler("a.b.c").unwrap(),
            ("a".into(), "b.c".into())
        );
        assert!(split_node_handler("index.").is_err());
    }

    #[test]
    fn runtime_errors_parse() {
        let e = parse_error(
            br#"{"errorType":"ValueError","errorMessage":"bad","stackTrace":["l1"]}"#,
            None,
        );
        assert_eq!(
            (e.error_type.as_str(), e.error_message.as_str()),
            ("ValueError", "bad")
        );
        assert_eq!(e.stack_trace, vec!["l1".to_string()]);
        let e = parse_error(b"not json", Some("Unhandled"));
        assert_eq!(
            (e.error_type.as_str(), e.error_message.as_str()),
            ("Unhandled", "not json")
        );
        let e = parse_error(
            br#"{"errorMessage":"m","trace":["a","b"]}"#,
            Some("Runtime.X"),
        );
        assert_eq!(e.error_type, "Runtime.X");
        assert_eq!(e.stack_trace.len(), 2);
    }

    #[test]
    fn languages() {
        assert_eq!(Language::of("python3.12"), Ok(Language::Python));
        assert_eq!(Language::of("nodejs22.x"), Ok(Language::Node));
        assert_eq!(Language::of("provided.al2023"), Ok(Language::Provided));
        assert!(Language::of("java21").unwrap_err().contains("java21"));
    }
}
