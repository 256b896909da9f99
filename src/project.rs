//! A workflow project on disk, and the [`Simulation`] it runs in. Shared by the
//! applications (`stepsim run`, `stepsim sweep`, `stepsim serve`), which is why it sits below
//! them: it knows the language, the engine, the world model and the workload packs.
//!
//! A project is either a definition file, or a folder holding:
//!
//! | file | what it is |
//! |---|---|
//! | `state-machine.asl.json` | the definition (required) |
//! | `input.json` | the default execution input |
//! | `functions.toml` | the Lambda functions: handler kind, parameters and configuration |
//! | `project.toml` | optional: a name, the state machine's `role`, and `[[seed]]` generators that fill S3 before a run |
//! | `seed/BUCKET/KEY...` | optional: files copied into S3 before a run |
//! | `machines/NAME.asl.json` | optional: other state machines that `states:startExecution` Tasks start (see [`crate::sim::nested`]) |
//! | `services.toml` | optional: DynamoDB tables (with seed items), SQS queues and SNS topics that exist before a run (see [`crate::sim::services::ServicesFile`]) |
//! | `iam/roles/NAME.json`, `iam/policies/NAME.json` | optional: IAM roles and managed policies (see [`crate::sim::iam::files`]); the calls of executions whose role is declared here are checked against it |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::asl::model::{ExecutionType, StateMachine};
use crate::engine::{self, ExecutionOptions, HistoryMode, Plan, SimTime};
pub use crate::sim::RunReport;
use crate::sim::{
    BillingOptions, FaultPlan, FunctionRegistry, Iam, IamDeclarations, LogCapture, PriceTable,
    Simulation,
};
use crate::storage::Store;

/// Something a project could not be loaded or run for. Each names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}: the definition is invalid:\n{diagnostics}")]
    Definition { path: PathBuf, diagnostics: String },
    #[error("input: {0}")]
    Input(String),
    #[error("store: {0}")]
    Store(String),
    #[error("world: {0}")]
    World(String),
    #[error("seed generator '{generator}': {message}")]
    Seed { generator: String, message: String },
}

fn file_err(path: &Path, message: impl std::fmt::Display) -> ProjectError {
    ProjectError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// An IAM file error, naming the file (and the JSON pointer inside it).
fn iam_file_err(e: crate::sim::iam::IamFileError) -> ProjectError {
    let at = if e.pointer.is_empty() {
        String::new()
    } else {
        format!("{}: ", e.pointer)
    };
    file_err(&e.path, format!("{at}{}", e.message))
}

/// A `[[seed]]` entry of `project.toml`.
#[derive(Clone, Debug)]
pub struct SeedSpec {
    pub generator: String,
    pub params: Value,
}

/// A loaded project.
#[derive(Clone)]
pub struct Project {
    pub name: String,
    /// The folder, when the project is one.
    pub dir: Option<PathBuf>,
    pub definition_path: PathBuf,
    pub definition_text: String,
    pub machine: StateMachine,
    pub plan: Arc<Plan>,
    /// The default input (`input.json`, or `{}`).
    pub input: Value,
    pub functions: FunctionRegistry,
    pub seeds: Vec<SeedSpec>,
    /// The roles and managed policies of `iam/`.
    pub iam: IamDeclarations,
    /// The state machine's execution role (`project.toml`'s `role`): a role name (one of
    /// `iam/roles`, or of the account) or an ARN. `None`: a made-up `NAME-role` nobody checks.
    pub role: Option<String>,
}

impl Project {
    /// Loads a definition file or a project folder.
    pub fn load(path: &Path) -> Result<Project, ProjectError> {
        let (dir, def_path) = if path.is_dir() {
            (
                Some(path.to_path_buf()),
                path.join("state-machine.asl.json"),
            )
        } else {
            (None, path.to_path_buf())
        };
        let text = std::fs::read_to_string(&def_path).map_err(|e| {
            if dir.is_some() && e.kind() == std::io::ErrorKind::NotFound {
                file_err(&def_path, "the folder has no state-machine.asl.json")
            } else {
                file_err(&def_path, e)
            }
        })?;
        let machine = crate::asl::load_str(&text).map_err(|e| ProjectError::Definition {
            path: def_path.clone(),
            diagnostics: e
                .diagnostics
                .iter()
                .map(|d| format!("  {}:{d}", def_path.display()))
                .collect::<Vec<_>>()
                .join("\n"),
        })?;
        let plan = Plan::compile(&machine).map_err(|e| file_err(&def_path, e))?;
        let mut project = Project {
            name: "StateMachine".into(),
            dir: dir.clone(),
            definition_path: def_path,
            definition_text: text,
            machine,
            plan: Arc::new(plan),
            input: Value::Object(Default::default()),
            functions: FunctionRegistry::new(),
            seeds: Vec::new(),
            iam: IamDeclarations::default(),
            role: None,
        };
        if let Some(dir) = &dir {
            project.name = dir
                .file_name()
                .map(|n| sanitize_name(&n.to_string_lossy()))
                .unwrap_or_else(|| "StateMachine".into());
            let input = dir.join("input.json");
            if input.is_file() {
                project.input = read_json(&input)?;
            }
            let functions = dir.join("functions.toml");
            if functions.is_file() {
                project.functions = load_functions(&functions)?;
            }
            let manifest = dir.join("project.toml");
            if manifest.is_file() {
                project.read_manifest(&manifest)?;
            }
            project.iam = IamDeclarations::load(dir).map_err(iam_file_err)?;
        }
        Ok(project)
    }

    fn read_manifest(&mut self, path: &Path) -> Result<(), ProjectError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
        let doc: toml::Table = toml::from_str(&text).map_err(|e| file_err(path, e))?;
        for key in doc.keys() {
            if !matches!(key.as_str(), "name" | "role" | "seed") {
                return Err(file_err(
                    path,
                    format!("unknown key '{key}' (expected 'name', 'role' or '[[seed]]')"),
                ));
            }
        }
        if let Some(name) = doc.get("name") {
            let name = name
                .as_str()
                .ok_or_else(|| file_err(path, "'name' must be a string"))?;
            self.name = sanitize_name(name);
        }
        if let Some(role) = doc.get("role") {
            let role = role
                .as_str()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| file_err(path, "'role' must be a role name or ARN"))?;
            self.role = Some(role.to_string());
        }
        if let Some(seeds) = doc.get("seed") {
            let seeds = seeds
                .as_array()
                .ok_or_else(|| file_err(path, "'seed' must be an array of tables ([[seed]])"))?;
            for (i, s) in seeds.iter().enumerate() {
                let t = s
                    .as_table()
                    .ok_or_else(|| file_err(path, format!("seed[{i}] must be a table")))?;
                let generator = t
                    .get("generator")
                    .and_then(|g| g.as_str())
                    .ok_or_else(|| file_err(path, format!("seed[{i}]: 'generator' is required")))?;
                if crate::handlers::seed_generator(generator).is_none() {
                    return Err(file_err(
                        path,
                        format!("seed[{i}]: unknown generator '{generator}'"),
                    ));
                }
                let params = t
                    .get("params")
                    .map(crate::sim::function::toml_to_json)
                    .unwrap_or(Value::Object(Default::default()));
                self.seeds.push(SeedSpec {
                    generator: generator.to_string(),
                    params,
                });
            }
        }
        Ok(())
    }

    /// Replaces the functions with those of a functions file.
    pub fn use_functions_file(&mut self, path: &Path) -> Result<(), ProjectError> {
        self.functions = load_functions(path)?;
        Ok(())
    }

    /// Puts the project's seed objects (the `seed/` folder and the generators) into `store`.
    pub async fn seed(&self, store: &Store, now: SimTime) -> Result<usize, ProjectError> {
        self.seed_objects(store, now, true)
            .await
            .map(|(written, _)| written)
    }

    /// Puts the project's seed objects into `store`. With `overwrite` false an object that
    /// already exists is left as it is (a restarted `serve` over a `dir:` store keeps what
    /// users changed through PutObject). Returns the objects written and the ones kept.
    pub async fn seed_objects(
        &self,
        store: &Store,
        now: SimTime,
        overwrite: bool,
    ) -> Result<(usize, usize), ProjectError> {
        let mut objects: Vec<(String, String, Vec<u8>)> = Vec::new();
        if let Some(dir) = &self.dir {
            let seed_dir = dir.join("seed");
            if seed_dir.is_dir() {
                collect_seed_files(&seed_dir, &mut objects).map_err(|e| file_err(&seed_dir, e))?;
            }
        }
        for s in &self.seeds {
            let generate = crate::handlers::seed_generator(&s.generator).ok_or_else(|| {
                ProjectError::Seed {
                    generator: s.generator.clone(),
                    message: "unknown generator".into(),
                }
            })?;
            objects.extend(generate(&s.params).map_err(|message| ProjectError::Seed {
                generator: s.generator.clone(),
                message,
            })?);
        }
        let (mut written, mut kept) = (0, 0);
        for (bucket, key, body) in objects {
            if !store
                .bucket_exists(&bucket)
                .await
                .map_err(|e| ProjectError::Store(e.to_string()))?
            {
                store
                    .create_bucket(&bucket)
                    .await
                    .map_err(|e| ProjectError::Store(format!("bucket '{bucket}': {e}")))?;
            }
            if !overwrite {
                match store.head(&bucket, &key).await {
                    Ok(_) => {
                        kept += 1;
                        continue;
                    }
                    Err(crate::storage::StoreError::NoSuchKey { .. }) => {}
                    Err(e) => return Err(ProjectError::Store(format!("s3://{bucket}/{key}: {e}"))),
                }
            }
            store
                .put(&bucket, &key, body.into(), now)
                .await
                .map_err(|e| ProjectError::Store(format!("s3://{bucket}/{key}: {e}")))?;
            written += 1;
        }
        Ok((written, kept))
    }
}

/// State machine names allow letters, digits, `-` and `_`.
fn sanitize_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    if n.is_empty() {
        "StateMachine".into()
    } else {
        n
    }
}

/// Every file below `dir` (not following deeper than `max_depth` folders), in sorted path
/// order so that anything built from the list is reproducible.
pub fn files_below(dir: &Path, max_depth: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                if depth < max_depth {
                    pending.push((p, depth + 1));
                }
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The `seed/BUCKET/KEY...` files as `(bucket, key, body)`; a file directly under `seed/` has
/// no bucket and is skipped.
fn collect_seed_files(
    root: &Path,
    out: &mut Vec<(String, String, Vec<u8>)>,
) -> std::io::Result<()> {
    for p in files_below(root, usize::MAX)? {
        let Ok(rel) = p.strip_prefix(root) else {
            continue;
        };
        let mut parts = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let Some(bucket) = parts.next() else { continue };
        let key: Vec<String> = parts.collect();
        if key.is_empty() {
            continue;
        }
        out.push((bucket, key.join("/"), std::fs::read(&p)?));
    }
    Ok(())
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value, ProjectError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| file_err(path, format!("not valid JSON: {e}")))
}

/// Loads a functions file with every handler kind this crate ships.
pub fn load_functions(path: &Path) -> Result<FunctionRegistry, ProjectError> {
    FunctionRegistry::load(path, &crate::handlers::default_catalog()).map_err(|e| match e {
        // It names the file already: keep only the line and the message.
        crate::sim::ConfigError::File {
            line: Some(n),
            message,
            ..
        } => file_err(path, format!("line {n}: {message}")),
        crate::sim::ConfigError::File { message, .. } => file_err(path, message),
        other => file_err(path, other),
    })
}

/// Parses `--input`: a file path, or inline JSON.
pub fn parse_input_arg(arg: &str) -> Result<Value, ProjectError> {
    let p = Path::new(arg);
    if p.is_file() {
        return read_json(p);
    }
    serde_json::from_str(arg).map_err(|e| {
        ProjectError::Input(format!(
            "'{}' is neither a file nor valid JSON ({e})",
            if arg.len() > 60 { &arg[..60] } else { arg }
        ))
    })
}

/// Applies `--set NAME=VALUE` to an input: NAME is a dotted name (`a.b`) or a JSON pointer
/// (`/a/b`); VALUE is JSON when it parses as JSON, else a string.
pub fn set_input_field(input: &mut Value, assignment: &str) -> Result<(), ProjectError> {
    let (name, raw) = assignment.split_once('=').ok_or_else(|| {
        ProjectError::Input(format!("--set '{assignment}' must look like NAME=VALUE"))
    })?;
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    set_path(input, name.trim(), value).map_err(ProjectError::Input)
}

/// Sets a value at a dotted name or JSON pointer, creating objects on the way.
pub fn set_path(root: &mut Value, name: &str, value: Value) -> Result<(), String> {
    let parts: Vec<String> = if let Some(p) = name.strip_prefix('/') {
        p.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    } else {
        name.split('.').map(String::from).collect()
    };
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("'{name}' is not a field name or JSON pointer"));
    }
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match cur {
            Value::Object(m) => {
                if last {
                    m.insert(part.clone(), value);
                    return Ok(());
                }
                cur = m
                    .entry(part.clone())
                    .or_insert_with(|| Value::Object(Default::default()));
            }
            Value::Array(a) => {
                let idx: usize = part
                    .parse()
                    .map_err(|_| format!("'{part}' in '{name}' is not an array index"))?;
                let len = a.len();
                let slot = a
                    .get_mut(idx)
                    .ok_or_else(|| format!("index {idx} in '{name}' is past the end ({len})"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                cur = slot;
            }
            _ => {
                return Err(format!(
                    "'{name}': '{}' is not an object",
                    parts[..i].join(".")
                ))
            }
        }
    }
    Ok(())
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: u64,
    /// `memory`, `dir:PATH`, or `s3://BUCKET?endpoint=URL`.
    pub store: String,
    pub history: HistoryMode,
    pub faults: FaultPlan,
    pub prices: PriceTable,
    pub billing: BillingOptions,
    pub logs: LogCapture,
    pub execution_name: String,
    pub execution_type: ExecutionType,
    pub origin: SimTime,
    pub max_transitions: u64,
    pub history_limit: Option<u64>,
    pub region: String,
    pub account: String,
    /// Check calls against the project's IAM (`--no-iam` turns it off).
    pub iam: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 0,
            store: "memory".into(),
            history: HistoryMode::Full,
            faults: FaultPlan::none(),
            prices: PriceTable::default(),
            billing: BillingOptions::default(),
            logs: LogCapture::Reports,
            execution_name: "run-1".into(),
            execution_type: ExecutionType::Standard,
            origin: engine::clock::default_origin(),
            max_transitions: 1_000_000,
            history_limit: Some(engine::HISTORY_EVENT_LIMIT),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            iam: true,
        }
    }
}

impl Project {
    /// A simulation of this project's world: its functions, with the options' store (seeded
    /// from the project's seed files and generators), faults, prices and billing rules.
    pub fn simulation(&self, opts: &RunOptions) -> Result<Simulation, ProjectError> {
        let store = Store::open(&opts.store).map_err(|e| ProjectError::Store(e.to_string()))?;
        let sim = Simulation::builder()
            .seed(opts.seed)
            .origin(opts.origin)
            .store(store)
            .functions(self.functions.clone())
            .faults(opts.faults.clone())
            .prices(opts.prices.clone())
            .billing(opts.billing)
            .region(opts.region.clone())
            .account(opts.account.clone())
            .services(self.services(opts)?)
            .log_capture(opts.logs);
        let sim = match self.machines(opts)? {
            Some(m) => sim.machines(m),
            None => sim,
        };
        let sim = match self.account_iam(opts)? {
            Some(iam) => sim.iam(iam),
            None => sim,
        }
        .build()
        .map_err(|e| ProjectError::World(e.to_string()))?;
        sim.block_on(self.seed(sim.world().store(), sim.now()))?;
        Ok(sim)
    }

    /// The account's DynamoDB, SQS, SNS and EventBridge, with the tables of the project's
    /// `services.toml` when it has one (see [`crate::sim::services::ServicesFile`]).
    pub fn services(&self, opts: &RunOptions) -> Result<crate::sim::AwsServices, ProjectError> {
        let services = crate::sim::AwsServices::new(&opts.region, &opts.account);
        self.install_services(&services, opts.origin)?;
        Ok(services)
    }

    /// The project's other definitions, `machines/NAME.asl.json`, which its
    /// `states:startExecution` Tasks may start (see [`crate::sim::nested::ProjectMachines`]).
    pub fn machines(
        &self,
        opts: &RunOptions,
    ) -> Result<Option<Arc<crate::sim::nested::ProjectMachines>>, ProjectError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let folder = dir.join("machines");
        if !folder.is_dir() {
            return Ok(None);
        }
        crate::sim::nested::ProjectMachines::load(&folder, &opts.region, &opts.account)
            .map(|m| Some(Arc::new(m)))
            .map_err(|m| file_err(&folder, m))
    }

    /// The Standard machines of the project's `machines/` folder as `(NAME, definition
    /// text)`, sorted, for `serve --project` to create (Express ones, `NAME.express.asl.json`,
    /// are left to the API, whose CreateStateMachine sets the type).
    pub fn machine_definitions(&self) -> Vec<(String, String)> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir.join("machines")) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().to_string();
                let name = file.strip_suffix(".asl.json")?;
                if name.ends_with(".express") {
                    return None;
                }
                let text = std::fs::read_to_string(e.path()).ok()?;
                Some((name.to_string(), text))
            })
            .collect();
        out.sort();
        out
    }

    /// Creates what the project's `services.toml` declares (when it has one) in `services`,
    /// at `now`.
    pub fn install_services(
        &self,
        services: &crate::sim::AwsServices,
        now: SimTime,
    ) -> Result<(), ProjectError> {
        if let Some(dir) = &self.dir {
            let path = dir.join("services.toml");
            if path.is_file() {
                let now = crate::sim::services::epoch_seconds(now);
                services
                    .load_file(&path, dir, now)
                    .map_err(|m| file_err(&path, m))?;
                // A queue's consumer must be one of the project's functions (AWS refuses an
                // event source mapping to a function that does not exist).
                for (queue, c) in services.consumers() {
                    let target = crate::sim::FunctionTarget::parse(&c.function);
                    if target.is_none_or(|t| self.functions.get(&t.name).is_none()) {
                        return Err(file_err(
                            &path,
                            format!(
                                "queues.{queue}: lambda `{}` is not a function of functions.toml",
                                c.function
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The IAM of `opts.account` with the project's roles and policies, when there are any and
    /// the options check calls.
    pub fn account_iam(&self, opts: &RunOptions) -> Result<Option<Iam>, ProjectError> {
        if !opts.iam || self.iam.is_empty() {
            return Ok(None);
        }
        let iam = Iam::new();
        self.install_iam(&iam, &opts.account, opts.origin)?;
        Ok(Some(iam))
    }

    /// Creates the project's roles and policies in `iam` (an account's), created at `now`.
    pub fn install_iam(&self, iam: &Iam, account: &str, now: SimTime) -> Result<(), ProjectError> {
        self.iam.install(iam, account, now).map_err(iam_file_err)
    }

    /// The state machine's execution role in `account` (see [`Project::role`]).
    pub fn role_arn(&self, account: &str) -> String {
        match &self.role {
            Some(r) if r.starts_with("arn:") => r.clone(),
            Some(name) => self
                .iam
                .role_arn(name, account)
                .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/{name}")),
            None => format!("arn:aws:iam::{account}:role/{}-role", self.name),
        }
    }

    /// Gives `sim` a fresh world (every environment cold, the clock going on) seeded with
    /// `seed`, over a newly opened and seeded store and fresh services, as
    /// [`Project::simulation`] would build it.
    pub fn refresh_world(
        &self,
        sim: &mut Simulation,
        opts: &RunOptions,
        seed: u64,
    ) -> Result<(), ProjectError> {
        let store = Store::open(&opts.store).map_err(|e| ProjectError::Store(e.to_string()))?;
        sim.block_on(self.seed(&store, sim.now()))?;
        // The services start again from the project's declarations, like the store.
        sim.set_services(self.services(opts)?);
        sim.fresh_world(seed, Some(store))
            .map_err(|e| ProjectError::World(e.to_string()))
    }

    /// The options of one execution of this project. `seed` is the execution's own seed.
    pub fn execution_options(
        &self,
        opts: &RunOptions,
        execution_name: &str,
        seed: u64,
    ) -> ExecutionOptions {
        ExecutionOptions {
            execution_name: execution_name.to_string(),
            state_machine_name: self.name.clone(),
            region: opts.region.clone(),
            account: opts.account.clone(),
            role_arn: self.role_arn(&opts.account),
            execution_type: opts.execution_type,
            history: opts.history,
            history_limit: opts.history_limit,
            max_transitions: opts.max_transitions,
            seed,
            ..Default::default()
        }
    }
}

/// Runs one execution of a project in a fresh simulation.
pub fn run_once(
    project: &Project,
    input: Value,
    opts: &RunOptions,
) -> Result<RunReport, ProjectError> {
    let sim = project.simulation(opts)?;
    let eopts = project.execution_options(opts, &opts.execution_name, opts.seed);
    Ok(sim.run(&project.plan, input, &eopts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_fields_by_name_and_pointer() {
        let mut v = json!({"a": {"b": 1}, "list": [1, 2]});
        set_input_field(&mut v, "a.b=2").unwrap();
        set_input_field(&mut v, "/c/d=\"x\"").unwrap();
        set_input_field(&mut v, "e=hello").unwrap();
        set_input_field(&mut v, "list.1={\"k\":true}").unwrap();
        assert_eq!(
            v,
            json!({"a": {"b": 2}, "list": [1, {"k": true}], "c": {"d": "x"}, "e": "hello"})
        );
        assert!(set_input_field(&mut v, "nope").is_err());
        assert!(set_input_field(&mut v, "a.b.c=1").is_err());
        assert!(set_input_field(&mut v, "list.9=1").is_err());
        assert!(set_input_field(&mut v, "a..b=1").is_err());
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize_name("cosmic-ai"), "cosmic-ai");
        assert_eq!(sanitize_name("a b/c"), "a-b-c");
        assert_eq!(sanitize_name(""), "StateMachine");
    }

    #[test]
    fn input_args() {
        assert_eq!(parse_input_arg("{\"a\":1}").unwrap(), json!({"a": 1}));
        assert!(parse_input_arg("{nope").is_err());
    }
}
