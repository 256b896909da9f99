//! `stepsim serve`: runs the Step Functions, Lambda, S3 and IAM APIs on localhost until Ctrl-C.
//! The projects' IAM roles and policies exist from the start; executions' and handlers' calls
//! are checked against the roles IAM knows unless `--no-iam` says otherwise.
//!
//! The server accepts any credentials, region and signature. It says so in its banner, and it
//! binds to loopback unless `--host` says otherwise.
//!
//! The request log goes to stderr through `tracing`: `RUST_LOG` sets what is shown (default
//! `info`, which includes one line per request; `RUST_LOG=stepsim::request=off` or `--quiet`
//! drops it). Lines keep the shape they had before tracing: `TIME MESSAGE`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::time::FormatTime;

use crate::api::sfn::{create_machine, create_or_update_machine, MachineSpec};
use crate::api::{check_time_scale, Server, ServerConfig};
use crate::handlers::default_catalog;
use crate::project::Project;
use crate::sim::{FunctionRegistry, FunctionSpec, Iam};
use crate::storage::Store;

use super::{EXIT_OK, EXIT_USAGE};

/// Arguments of `stepsim serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on. Anything but loopback exposes an unauthenticated service.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8083)]
    pub port: u16,
    /// A project folder (repeatable): its functions are served, its seed objects are put into
    /// S3, and its state machine is created under the project's name.
    #[arg(long = "project", value_name = "DIR")]
    pub projects: Vec<PathBuf>,
    /// A functions file (TOML) binding Lambda function names to built-in handlers (added
    /// after the projects' functions, replacing those of the same name).
    #[arg(long, value_name = "FILE")]
    pub functions: Option<PathBuf>,
    /// The S3 store: `memory`, `dir:PATH` (each bucket a subfolder) or `s3://BUCKET?endpoint=URL`.
    #[arg(long, value_name = "SPEC", default_value = "memory")]
    pub store: String,
    /// Buckets to create at start (repeatable).
    #[arg(long = "bucket", value_name = "NAME")]
    pub buckets: Vec<String>,
    /// Show results at this many simulated seconds per real second (default: as soon as they
    /// are computed).
    #[arg(long, value_name = "S")]
    pub time_scale: Option<f64>,
    /// Executions kept in memory; the oldest finished ones are dropped first.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_executions: usize,
    /// Memory, in MiB, that kept executions (inputs, outputs, histories; estimated) may hold;
    /// past it the oldest finished ones are dropped, whatever --max-executions allows.
    #[arg(long, value_name = "MIB", default_value_t = 384)]
    pub max_memory: u64,
    /// CloudWatch Logs keeps at most this many MiB of log events (message bytes plus 26 per
    /// event, as AWS counts them); the oldest events are dropped first.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_log_mb: u64,
    /// The master seed every execution's random streams derive from (default 0). Giving it
    /// also pins request ids, unnamed executions' names and log stream ids, which otherwise
    /// are new at each start.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The Region in ARNs.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The account id in ARNs.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// The largest S3 object accepted, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_object_mb: usize,
    /// Simulations computed at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Do not log requests.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not check executions' and handlers' calls against IAM roles (the IAM API still
    /// answers).
    #[arg(long)]
    pub no_iam: bool,
    /// A Step Functions Local mock file (default: $SFN_MOCK_CONFIG): StartExecution on
    /// `STATE_MACHINE_ARN#TestCase` runs that test case.
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<PathBuf>,
    /// Put the projects' seed objects into the store even where an object of that key
    /// exists (by default existing objects, such as ones changed through PutObject in a
    /// `dir:` store, are kept).
    #[arg(long)]
    pub reseed: bool,
    /// Answer requests whose `Host` is NAME (repeatable). Loopback names and the listening
    /// address are always answered; any other host gets 403, which keeps web pages from
    /// reaching the server through DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Keep state machines (with their versions, aliases and tags), executions, their
    /// histories and map runs in DIR (an append-only journal,
    /// `DIR/journal.jsonl`) and restore them at the next start, even after kill -9.
    /// Executions that were running come back ABORTED. Off by default: nothing is written.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}

fn load_projects(args: &ServeArgs) -> Result<Vec<Project>, String> {
    args.projects
        .iter()
        .map(|p| Project::load(p).map_err(|e| e.to_string()))
        .collect()
}

fn config(args: &ServeArgs, projects: &[Project]) -> Result<ServerConfig, String> {
    let catalog = default_catalog();
    let mut functions = FunctionRegistry::new();
    let extra = match &args.functions {
        Some(path) => Some(FunctionRegistry::load(path, &catalog).map_err(|e| e.to_string())?),
        None => None,
    };
    let sources = projects.iter().map(|p| &p.functions).chain(extra.as_ref());
    for registry in sources {
        for spec in registry.iter() {
            functions
                .register_spec(FunctionSpec::clone(spec))
                .map_err(|e| e.to_string())?;
        }
    }
    let store = Store::open(&args.store).map_err(|e| e.to_string())?;
    // The projects' roles and policies, created when the server starts.
    let iam = Iam::new();
    let now = crate::api::state::wall_now();
    for p in projects {
        p.install_iam(&iam, &args.account, now)
            .map_err(|e| format!("project {}: {e}", p.name))?;
    }
    // DynamoDB, SQS, SNS and EventBridge, with what the projects' services.toml declare.
    let services = crate::sim::AwsServices::new(&args.region, &args.account);
    for p in projects {
        p.install_services(&services, now)
            .map_err(|e| format!("project {}: {e}", p.name))?;
    }
    let time_scale = args.time_scale.map(check_time_scale).transpose()?;
    let mut config = ServerConfig {
        region: args.region.clone(),
        account: args.account.clone(),
        functions,
        catalog,
        store,
        time_scale,
        max_executions: args.max_executions.max(1),
        max_log_bytes: args.max_log_mb.saturating_mul(1024 * 1024).max(1024),
        seed: args.seed.unwrap_or(0),
        ids_seed: Some(args.seed.unwrap_or_else(fresh_seed)),
        max_object_bytes: args.max_object_mb.saturating_mul(1024 * 1024).max(1024),
        log_requests: !args.quiet,
        iam,
        enforce_iam: !args.no_iam,
        allow_hosts: args.allow_hosts.clone(),
        max_retained_bytes: args.max_memory.saturating_mul(1024 * 1024).max(1024 * 1024),
        services,
        state_dir: args.state_dir.clone(),
        ..ServerConfig::default()
    };
    if let Some(w) = args.workers {
        config.workers = w.max(1);
    }
    let mock_file = args.mock_config.clone().or_else(|| {
        std::env::var_os("SFN_MOCK_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(file) = mock_file {
        let mocks = crate::sim::mock_config::MockConfig::load(&file).map_err(|e| e.to_string())?;
        config.mock_config = Some(std::sync::Arc::new(mocks));
    }
    Ok(config)
}

/// A seed that differs from one start to the next (wall clock and process id).
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Wall-clock timestamps in the format the rest of stepsim prints times in.
struct WallClock;

impl FormatTime for WallClock {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = crate::api::state::wall_now();
        write!(w, "{}", crate::engine::history::format_time(now))
    }
}

/// Sends `tracing` events to stderr as `TIME MESSAGE` lines, filtered by `RUST_LOG` (default
/// `info`; a directive that does not parse is skipped). The structured fields stay on the events
/// for any other subscriber; this one prints only the message, which already says them.
fn init_log() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let fields = debug_fn(|w, field, value| {
        if field.name() == "message" {
            write!(w, "{value:?}")
        } else {
            Ok(())
        }
    });
    // Fails only when a subscriber is already installed (a second `run` in one process), in
    // which case that one keeps logging.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_timer(WallClock)
        .with_level(false)
        .with_target(false)
        .fmt_fields(fields)
        .try_init();
}

/// Runs `stepsim serve` until Ctrl-C. Returns the exit code.
pub fn run(args: ServeArgs) -> i32 {
    init_log();
    let projects = match load_projects(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stepsim serve: {e}");
            return EXIT_USAGE;
        }
    };
    let config = match config(&args, &projects) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stepsim serve: {e}");
            return EXIT_USAGE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stepsim serve: cannot start a runtime: {e}");
            return EXIT_USAGE;
        }
    };
    for b in &args.buckets {
        if let Err(e) = rt.block_on(config.store.create_bucket(b)) {
            eprintln!("stepsim serve: cannot create bucket {b}: {e}");
            return EXIT_USAGE;
        }
    }
    for p in &projects {
        let now = crate::api::state::wall_now();
        match rt.block_on(p.seed_objects(&config.store, now, args.reseed)) {
            Ok((_, 0)) => {}
            Ok((_, kept)) => eprintln!(
                "stepsim serve: project {}: kept {kept} existing seed object(s) as they are \
                 (--reseed replaces them)",
                p.name
            ),
            Err(e) => {
                eprintln!("stepsim serve: project {}: {e}", p.name);
                return EXIT_USAGE;
            }
        }
    }
    let addr = match resolve(&args.host, args.port) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stepsim serve: {e}");
            return EXIT_USAGE;
        }
    };
    let summary = describe(&config);
    let server = match Server::start(config, addr) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            eprintln!("stepsim serve: {e}");
            return EXIT_USAGE;
        }
        Err(e) => {
            eprintln!("stepsim serve: cannot listen on {addr}: {e}");
            return EXIT_USAGE;
        }
    };
    let mut machines = Vec::new();
    for p in &projects {
        // The project's own role when it names one (its calls are then checked against it).
        let role = match p.role {
            Some(_) => p.role_arn(&args.account),
            None => format!("arn:aws:iam::{}:role/stepsim", args.account),
        };
        // A machine restored from --state-dir takes the project's current definition.
        let create = if args.state_dir.is_some() {
            create_or_update_machine
        } else {
            create_machine
        };
        let spec = MachineSpec::standard(&p.name, &p.definition_text, &role);
        match create(server.state(), spec) {
            Ok((arn, _)) => machines.push(arn),
            Err(e) => {
                eprintln!("stepsim serve: project {}: {e}", p.name);
                return EXIT_USAGE;
            }
        }
        // The project's other machines (machines/NAME.asl.json), which its Tasks may start.
        for (name, text) in p.machine_definitions() {
            let spec = MachineSpec::standard(&name, &text, &role);
            match create(server.state(), spec) {
                Ok((arn, _)) => machines.push(arn),
                Err(e) => {
                    eprintln!("stepsim serve: project {}: machines/{name}: {e}", p.name);
                    return EXIT_USAGE;
                }
            }
        }
    }
    let endpoint = server.endpoint();
    println!(
        "stepsim serve: Step Functions, Lambda, S3, CloudWatch Logs and IAM APIs on {endpoint}"
    );
    println!(
        "  NOT SECURE: any credentials, region and signature are accepted and nothing is \
         checked; this is a local simulator for development, not a service to expose."
    );
    if !server.local_addr().ip().is_loopback() {
        println!(
            "  WARNING: listening on {}, which is not loopback: anyone who can reach it can \
             use it.",
            server.local_addr().ip()
        );
    }
    println!("  {summary}");
    if let Some(line) = restored_line(&args, &server) {
        println!("  {line}");
    }
    for arn in &machines {
        println!("  state machine {arn}");
    }
    println!(
        "  boto3: boto3.client('stepfunctions', endpoint_url='{endpoint}', region_name='{}')",
        args.region
    );
    println!("  Ctrl-C or SIGTERM stops it.");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let signal = match rt.block_on(stop_signal()) {
        Ok(name) => name,
        Err(e) => {
            eprintln!("stepsim serve: cannot wait for signals ({e}); serving until killed");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    };
    println!("stepsim serve: {signal}: stopping (requests in flight get up to 3 s)");
    let store = server.state().store.clone();
    server.stop();
    // A `dir:` store writes through; flushing makes sure the files are on disk before exit.
    if let Err(e) = store.sync() {
        eprintln!("stepsim serve: flushing the store: {e}");
    }
    EXIT_OK
}

/// What `--state-dir` restored, for the banner.
fn restored_line(args: &ServeArgs, server: &Server) -> Option<String> {
    let (dir, r) = (args.state_dir.as_ref()?, server.restored()?);
    let aborted = if r.aborted > 0 {
        format!(" ({} that were running are now ABORTED)", r.aborted)
    } else {
        String::new()
    };
    let torn = if r.torn {
        "; dropped a torn last line"
    } else {
        ""
    };
    Some(format!(
        "state dir {}: restored {} state machine(s) and {} execution(s){aborted}{torn}",
        dir.display(),
        r.machines,
        r.executions,
    ))
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (`docker stop`, systemd) and says which came.
async fn stop_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            biased;
            r = tokio::signal::ctrl_c() => r.map(|_| "SIGINT"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|_| "Ctrl-C")
    }
}

fn describe(c: &ServerConfig) -> String {
    let time = match c.time_scale {
        None => "virtual time, results shown as soon as computed".to_string(),
        Some(s) => format!("virtual time, results shown at {s} simulated s per real s"),
    };
    format!(
        "account {}, region {}; {} function(s); store {}; {time}; keeps {} executions \
         within {} MiB",
        c.account,
        c.region,
        c.functions.len(),
        c.store.spec(),
        c.max_executions,
        c.max_retained_bytes / (1024 * 1024)
    ) + &mocks_line(c)
}

/// `; mocks FILE (N test cases)` when a mock file is loaded.
fn mocks_line(c: &ServerConfig) -> String {
    c.mock_config.as_ref().map_or(String::new(), |m| {
        let cases: usize = m.machines.values().map(|t| t.len()).sum();
        format!(
            "; mocks {} ({cases} test case(s), start MACHINE_ARN#TestCase)",
            m.path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn defaults_and_checks() {
        let cli = Cli::try_parse_from(["serve"]).unwrap();
        assert_eq!((cli.args.host.as_str(), cli.args.port), ("127.0.0.1", 8083));
        let c = config(&cli.args, &[]).unwrap();
        assert!(c.time_scale.is_none() && c.log_requests);
        let cli = Cli::try_parse_from(["serve", "--time-scale", "0"]).unwrap();
        assert!(config(&cli.args, &[]).unwrap_err().contains("time scale"));
        let cli = Cli::try_parse_from(["serve", "--store", "nope:x"]).unwrap();
        assert!(config(&cli.args, &[]).is_err());
        let cli = Cli::try_parse_from(["serve", "--functions", "/no/such/file.toml"]).unwrap();
        assert!(config(&cli.args, &[]).is_err());
    }

    #[test]
    fn projects_bring_their_functions() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/asl-examples/cosmic-ai");
        let cli = Cli::try_parse_from(["serve", "--project", dir]).unwrap();
        let projects = load_projects(&cli.args).unwrap();
        assert_eq!(projects[0].name, "team2-COSMIC-AI-7078ea12");
        let c = config(&cli.args, &projects).unwrap();
        assert!(c.functions.get("fmi_init").is_some());
        assert!(c.functions.get("summarize").is_some());
        let cli = Cli::try_parse_from(["serve", "--project", "/no/such/project"]).unwrap();
        assert!(load_projects(&cli.args).is_err());
    }
}
