//! One execution environment as a real process: the runtime process itself (killed with its
//! process group when dropped, and by the kernel if stepsim dies), its Lambda Runtime API
//! server and its loopback S3 endpoint (each on its own OS thread), and the channel on which all
//! three report to the simulation thread. The simulation thread never awaits any of this: it
//! blocks on [`EnvProcess::wait`] with a real-time bound, so virtual time cannot move while the
//! process works.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sim::runtime::http::{self, ReadError};
use crate::sim::runtime::s3::{self as loopback_s3, S3Call};

/// The Runtime API's path prefix.
const PREFIX: &str = "/2018-06-01/runtime";

/// What the environment's threads report to the simulation thread, in arrival order.
#[derive(Debug)]
pub(crate) enum Event {
    /// The runtime asked for the next invocation (`GET .../invocation/next`).
    NextAsked,
    Response {
        request_id: String,
        body: Vec<u8>,
    },
    Error {
        request_id: String,
        body: Vec<u8>,
        error_type: Option<String>,
    },
    InitError {
        body: Vec<u8>,
        error_type: Option<String>,
    },
    /// An S3 request from the handler, waiting for its answer.
    S3(S3Call),
    /// One line the process wrote to stdout or stderr.
    Output(String),
    /// The process closed its output (it is exiting).
    OutputClosed,
}

/// An invocation handed to the runtime on its next `GET .../next`.
#[derive(Debug)]
pub(crate) struct NextInvocation {
    pub request_id: String,
    /// Epoch milliseconds (real time: the process's clock is real).
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
    pub body: Vec<u8>,
}

/// What waiting on the environment gave.
#[derive(Debug)]
pub(crate) enum Waited {
    Event(Event),
    Exited(ExitStatus),
    TimedOut,
}

/// How to start the runtime process.
#[derive(Debug)]
pub(crate) struct Launch {
    pub program: PathBuf,
    pub args: Vec<PathBuf>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// Variables of stepsim's own environment the process must not see.
    pub remove: Vec<String>,
}

/// A loopback listener on its own thread; dropping it stops the accept loop.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port and serves each connection with `serve` on a thread.
    fn start<F>(name: &str, serve: F) -> std::io::Result<Server>
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let serve = Arc::new(serve);
        std::thread::Builder::new()
            .name(format!("stepsim-{name}"))
            .spawn(move || {
                for conn in listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    // Requests and answers are small and latency-bound.
                    let _ = stream.set_nodelay(true);
                    let serve = serve.clone();
                    let _ = std::thread::Builder::new()
                        .name("stepsim-conn".into())
                        .spawn(move || serve(stream));
                }
            })?;
        Ok(Server { addr, stop })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept so that the thread sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// A running execution environment.
pub(crate) struct EnvProcess {
    child: Child,
    events: Receiver<Event>,
    next_tx: Sender<NextInvocation>,
    /// Whether the runtime has asked for an invocation since it started.
    pub asked_next: bool,
    // Dropped after the child is killed (field order is drop order only after `drop` runs).
    _api: Server,
    _s3: Server,
}

impl std::fmt::Debug for EnvProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvProcess")
            .field("pid", &self.child.id())
            .finish()
    }
}

impl EnvProcess {
    /// Starts the servers, then the process with `AWS_LAMBDA_RUNTIME_API` and the S3 endpoint
    /// pointing at them (`launch.env` comes last, so the function's variables win).
    pub fn spawn(launch: Launch) -> std::io::Result<EnvProcess> {
        let (events_tx, events) = mpsc::channel::<Event>();
        let (next_tx, next_rx) = mpsc::channel::<NextInvocation>();
        let next_rx = Arc::new(Mutex::new(next_rx));
        let api_events = Mutex::new(events_tx.clone());
        let api = Server::start("runtime-api", move |stream| {
            let tx = api_events.lock().map(|t| t.clone());
            if let Ok(tx) = tx {
                serve_runtime_api(stream, &tx, &next_rx);
            }
        })?;
        let s3_events = Mutex::new(events_tx.clone());
        let s3 = Server::start("s3", move |stream| {
            let tx = s3_events.lock().map(|t| t.clone());
            if let Ok(tx) = tx {
                loopback_s3::serve_connection(stream, |call| tx.send(Event::S3(call)).is_ok());
            }
        })?;
        let (reader, writer) = output_pipe()?;
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .current_dir(&launch.cwd)
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer)
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_ENDPOINT_URL", format!("http://{}", s3.addr))
            .env("AWS_ENDPOINT_URL_S3", format!("http://{}", s3.addr));
        for k in &launch.remove {
            cmd.env_remove(k);
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        // SAFETY: the closure runs in the forked child before exec and only calls
        // async-signal-safe functions (setpgid, prctl).
        unsafe {
            cmd.pre_exec(|| {
                // Its own process group, so that killing the environment kills what it started.
                libc::setpgid(0, 0);
                // Killed by the kernel when stepsim (the spawning thread) dies.
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn();
        // The parent's copies of the pipe's write end must be gone before `spawn` returns, or
        // the reader would never see end-of-file: `cmd` holds them.
        drop(cmd);
        let child = child?;
        std::thread::Builder::new()
            .name("stepsim-output".into())
            .spawn(move || read_output(reader, &events_tx))?;
        Ok(EnvProcess {
            child,
            events,
            next_tx,
            asked_next: false,
            _api: api,
            _s3: s3,
        })
    }

    /// Queues an invocation for the runtime's next `GET .../next`.
    pub fn send(&self, next: NextInvocation) -> bool {
        self.next_tx.send(next).is_ok()
    }

    /// Blocks until the next event, the process's exit, or `until` (real time).
    pub fn wait(&mut self, until: Instant) -> Waited {
        loop {
            let now = Instant::now();
            if now >= until {
                return Waited::TimedOut;
            }
            // Short slices, so that an exit that closes no pipe (a grandchild holds it) is seen.
            let slice = (until - now).min(Duration::from_millis(50));
            match self.events.recv_timeout(slice) {
                Ok(Event::NextAsked) => {
                    self.asked_next = true;
                    return Waited::Event(Event::NextAsked);
                }
                Ok(e) => return Waited::Event(e),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        return Waited::Exited(status);
                    }
                }
            }
        }
    }

    /// An event already waiting, if any (no blocking).
    pub fn try_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// CPU seconds (user + system) the process has used, from `/proc` (Linux only).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the `(comm)` (which may hold spaces): utime is the 12th, stime the 13th.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (ticks > 0).then(|| (utime + stime) / ticks as f64)
    }
}

impl Drop for EnvProcess {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: plain signal to the process group the child leads.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        // SIGKILL cannot be caught: the wait returns as soon as the kernel has reaped it.
        let _ = self.child.wait();
    }
}

/// A pipe for the process's stdout and stderr (one pipe, so their lines keep their order):
/// the read end as a file, the write end to hand to the child. Both are close-on-exec, so no
/// other process stepsim starts inherits them.
fn output_pipe() -> std::io::Result<(std::fs::File, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into the array when it succeeds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and nothing else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((std::fs::File::from(read), write))
}

/// Reads the process's output, line by line, onto the event channel.
fn read_output(reader: std::fs::File, tx: &Sender<Event>) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if tx.send(Event::Output(line)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Event::OutputClosed);
}

/// Serves one Runtime API connection until the runtime closes it.
fn serve_runtime_api(
    stream: TcpStream,
    events: &Sender<Event>,
    next_rx: &Mutex<Receiver<NextInvocation>>,
) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut out = write_half;
    let mut reader = BufReader::new(stream);
    loop {
        let req = match http::read_request(&mut reader, http::MAX_RUNTIME_BODY) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(m)) => {
                let body = format!(
                    "{{\"errorMessage\":{:?},\"errorType\":\"InvalidRequest\"}}",
                    m
                );
                let _ = http::write_response(&mut out, 400, &[], body.as_bytes(), None);
                return;
            }
        };
        let close = req.wants_close();
        let path = req.path.strip_prefix(PREFIX).unwrap_or("");
        let error_type = req
            .header("lambda-runtime-function-error-type")
            .map(str::to_string);
        let accepted: &[u8] = b"{\"status\":\"OK\"}";
        let ok = match (req.method.as_str(), path) {
            ("GET", "/invocation/next") => {
                if events.send(Event::NextAsked).is_err() {
                    return;
                }
                // Long poll: the runtime waits here between invocations. The wait ends when
                // an invocation comes or the environment is torn down (the sender drops).
                let next = match next_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(n) = next else { return };
                let headers = [
                    ("Content-Type", "application/json".to_string()),
                    ("Lambda-Runtime-Aws-Request-Id", n.request_id),
                    ("Lambda-Runtime-Deadline-Ms", n.deadline_ms.to_string()),
                    ("Lambda-Runtime-Invoked-Function-Arn", n.function_arn),
                    ("Lambda-Runtime-Trace-Id", n.trace_id),
                ];
                http::write_response(&mut out, 200, &headers, &n.body, None)
            }
            ("POST", "/init/error") => {
                let _ = events.send(Event::InitError {
                    body: req.body,
                    error_type,
                });
                http::write_response(&mut out, 202, &[], accepted, None)
            }
            ("POST", p) if p.starts_with("/invocation/") => {
                let rest = &p["/invocation/".len()..];
                let event = match rest.rsplit_once('/') {
                    Some((id, "response")) => Some(Event::Response {
                        request_id: id.to_string(),
                        body: req.body,
                    }),
                    Some((id, "error")) => Some(Event::Error {
                        request_id: id.to_string(),
                        body: req.body,
                        error_type,
                    }),
                    _ => None,
                };
                match event {
                    Some(e) => {
                        let _ = events.send(e);
                        http::write_response(&mut out, 202, &[], accepted, None)
                    }
                    None => http::write_response(&mut out, 404, &[], b"", None),
                }
            }
            _ => http::write_response(&mut out, 404, &[], b"", None),
        };
        if ok.is_err() || close {
            return;
        }
    }
}
