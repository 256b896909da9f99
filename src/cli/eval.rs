//! `stepsim eval EXPR`: evaluates one JSONata expression (no `{% %}` delimiters) the way a
//! JSONata state would, against an optional input document and variables, and prints the result.
//!
//! The input document is `$$` and the top-level `$` (Step Functions itself evaluates without
//! one: there both are undefined). `--bind NAME=JSON` binds `$NAME`, `--states JSON` binds
//! `$states`. With `--json` the output is exactly one object: `{"value":V}`,
//! `{"undefined":true}` or `{"error":"CODE","message":"..."}`; errors exit with 1.
//!
//! Determinism: `$now()`/`$millis()` read `--now-millis` (default 0) and `$random()`/`$uuid()`
//! a generator seeded by `--seed`, so the same command prints the same bytes every time.
//! `--time-limit-ms` is a wall-clock bound on this command only (the evaluation runs on a
//! worker thread that is abandoned when the bound passes); simulations never use it.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::query::jsonata::{Expression, JsonataEnv, Limits, Outcome};
use crate::rng::SimRng;

/// Without `--time-limit-ms`, an evaluation may take this long before it is abandoned.
const DEFAULT_TIME_LIMIT_MS: u64 = 60_000;
/// Stack of the evaluation thread: the engine bounds its own recursion well inside this.
const EVAL_STACK_BYTES: usize = 256 << 20;
/// How much of it the engine may use (the rest is headroom for one level's frames).
const EVAL_STACK_BUDGET: usize = 240 << 20;
/// Default nesting bound of `stepsim eval`: deeper than Step Functions' default (jsonata-js
/// itself is bounded only by the JavaScript stack), so that recursive functions such as a
/// factorial of 170 evaluate.
const DEFAULT_MAX_DEPTH: usize = 20_000;
/// Default step budget of `stepsim eval`.
const DEFAULT_MAX_STEPS: u64 = 50_000_000;

/// Arguments of `stepsim eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The JSONata expression, without `{% %}` (it may start with `-`).
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The input document (`$$`, and `$` at the top level): inline JSON or a JSON file.
    #[arg(long)]
    pub input: Option<String>,
    /// Binds a variable: `--bind name=JSON` makes `$name` that value (repeatable).
    #[arg(long = "bind", value_name = "NAME=JSON")]
    pub binds: Vec<String>,
    /// `$states` as a state sees it (`{"input":...,"context":...}`): inline JSON or a file.
    #[arg(long)]
    pub states: Option<String>,
    /// Print exactly one JSON object: {"value":V}, {"undefined":true} or {"error":..}.
    #[arg(long)]
    pub json: bool,
    /// Deepest nesting of evaluation (expression depth plus function calls).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Wall-clock bound on the evaluation, in milliseconds (error U1001 when exceeded).
    #[arg(long)]
    pub time_limit_ms: Option<u64>,
    /// Units of work allowed (one per evaluated node and per item a built-in loops over).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Virtual time for `$now()` and `$millis()`, in milliseconds since the Unix epoch.
    #[arg(long, default_value_t = 0)]
    pub now_millis: i64,
    /// Seed of `$random()`, `$uuid()` and `$shuffle()`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The result of one evaluation, as printed.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalResult {
    Value(Value),
    Undefined,
    Error { code: String, message: String },
}

impl EvalResult {
    /// The `--json` form.
    pub fn to_json(&self) -> Value {
        match self {
            EvalResult::Value(v) => json!({ "value": v }),
            EvalResult::Undefined => json!({ "undefined": true }),
            EvalResult::Error { code, message } => json!({ "error": code, "message": message }),
        }
    }
}

/// Reads a JSON argument: inline JSON first, else the file it names.
fn json_arg(what: &str, text: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    let path = Path::new(text);
    if path.is_file() {
        let body = std::fs::read_to_string(path)
            .map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))?;
        return serde_json::from_str(&body)
            .map_err(|e| format!("{what}: {} is not JSON: {e}", path.display()));
    }
    Err(format!(
        "{what}: `{text}` is neither JSON nor an existing file"
    ))
}

/// Parses the `--bind NAME=JSON` arguments into a variable map.
fn bindings(binds: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for b in binds {
        let Some((name, value)) = b.split_once('=') else {
            return Err(format!("--bind {b}: expected NAME=JSON"));
        };
        let name = name.trim().trim_start_matches('$');
        if name.is_empty() {
            return Err(format!("--bind {b}: the variable name is empty"));
        }
        let v = json_arg(&format!("--bind {name}"), value)?;
        out.insert(name.to_string(), v);
    }
    Ok(out)
}

/// What one evaluation needs, owned so that it can move to the worker thread.
pub struct EvalRequest {
    pub expr: String,
    pub input: Option<Value>,
    pub vars: Map<String, Value>,
    pub states: Value,
    pub limits: Limits,
    pub now_millis: i64,
    pub seed: u64,
}

/// The limits `stepsim eval` uses unless told otherwise.
pub fn default_limits() -> Limits {
    Limits {
        max_depth: DEFAULT_MAX_DEPTH,
        max_steps: DEFAULT_MAX_STEPS,
    }
}

/// Parses and evaluates on the calling thread, which must have the stack of
/// [`evaluate_bounded`]'s thread (the engine is told it may use that much).
fn evaluate(req: &EvalRequest) -> EvalResult {
    let expr = match Expression::parse(&req.expr) {
        Ok(e) => e,
        Err(e) => {
            return EvalResult::Error {
                code: e.code,
                message: e.message,
            }
        }
    };
    let mut rng = SimRng::new(req.seed);
    let mut env = JsonataEnv {
        states: &req.states,
        variables: &req.vars,
        now_millis: req.now_millis,
        rng: &mut rng,
        limits: req.limits,
    };
    match expr.evaluate_with_stack(&mut env, req.input.as_ref(), Some(EVAL_STACK_BUDGET)) {
        Ok(Outcome::Value(v)) => EvalResult::Value(v),
        // A function has no JSON form; jsonata-js's JSON.stringify drops it likewise.
        Ok(Outcome::Undefined) | Ok(Outcome::Unsupported) => EvalResult::Undefined,
        Err(e) => EvalResult::Error {
            code: e.code,
            message: e.message,
        },
    }
}

/// Parses and evaluates on a worker thread with a large stack, waiting at most `time_limit`.
pub fn evaluate_bounded(req: EvalRequest, time_limit: Duration) -> EvalResult {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("stepsim-eval".into())
        .stack_size(EVAL_STACK_BYTES)
        .spawn(move || {
            let _ = tx.send(evaluate(&req));
        });
    if let Err(e) = spawned {
        return EvalResult::Error {
            code: "U1001".into(),
            message: format!("cannot start the evaluation thread: {e}"),
        };
    }
    match rx.recv_timeout(time_limit) {
        Ok(r) => r,
        Err(_) => EvalResult::Error {
            code: "U1001".into(),
            message: format!(
                "Expression evaluation timeout ({} ms): Check for infinite loop",
                time_limit.as_millis()
            ),
        },
    }
}

fn request(args: &EvalArgs) -> Result<EvalRequest, String> {
    let input = match &args.input {
        Some(t) => Some(json_arg("--input", t)?),
        None => None,
    };
    let states = match &args.states {
        Some(t) => json_arg("--states", t)?,
        None => json!({}),
    };
    let defaults = default_limits();
    let limits = Limits {
        max_depth: args.max_depth.unwrap_or(defaults.max_depth),
        max_steps: args.max_steps.unwrap_or(defaults.max_steps),
    };
    Ok(EvalRequest {
        expr: args.expr.clone(),
        input,
        vars: bindings(&args.binds)?,
        states,
        limits,
        now_millis: args.now_millis,
        seed: args.seed,
    })
}

pub fn run(args: EvalArgs) -> i32 {
    let req = match request(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stepsim eval: {e}");
            return EXIT_USAGE;
        }
    };
    let limit = Duration::from_millis(args.time_limit_ms.unwrap_or(DEFAULT_TIME_LIMIT_MS));
    let result = evaluate_bounded(req, limit);
    if args.json {
        println!("{}", result.to_json());
    } else {
        match &result {
            EvalResult::Value(v) => match serde_json::to_string_pretty(v) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("stepsim eval: cannot print the result: {e}"),
            },
            EvalResult::Undefined => eprintln!("(undefined)"),
            EvalResult::Error { code, message } => eprintln!("stepsim eval: {code}: {message}"),
        }
    }
    match result {
        EvalResult::Error { .. } => EXIT_FAILED,
        _ => EXIT_OK,
    }
}
