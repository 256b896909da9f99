//! Running a sweep: every point of the grid, each repetition, on every core, with results that
//! do not depend on how many cores there are.
//!
//! Determinism: each point gets a fresh world on its own virtual runtime, seeded from the
//! master seed and the point's parameter values (so adding a point changes no other point);
//! its repetitions run one after the other in that world, `spacing_seconds` apart, so
//! environments stay warm between them as they would on AWS. Workers pick points from a shared
//! counter, but every result is stored at its point's index, so the output is the same for any
//! `--jobs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::spec::{FunctionField, Records, SweepSpec, Target};
use crate::engine::{ExecutionStatus, HistoryMode};
use crate::project::{self, Project, RunOptions, RunReport};
use crate::rng::derive_seed;
use crate::sim::{Architecture, Money, Simulation};

/// One execution of a sweep.
#[derive(Clone, Debug)]
pub struct Row {
    pub point: usize,
    /// The parameter values, in grid order.
    pub values: Vec<Value>,
    /// 1-based.
    pub repetition: u32,
    pub seed: u64,
    pub execution_name: String,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub duration_seconds: f64,
    /// The largest configured memory among the functions the execution invoked.
    pub memory_mb: u32,
    pub cost: Money,
    /// The same execution priced on max memory used instead of configured memory (not how
    /// AWS bills; for published tables that priced that way).
    pub cost_max_memory_used: Money,
    pub cost_by_component: BTreeMap<String, Money>,
    pub records: Option<f64>,
    pub throughput_rps: Option<f64>,
    pub cold_starts: u64,
    pub billed_gb_s: f64,
    pub transitions: u64,
    pub lambda_invocations: u64,
    pub throttles: u64,
    pub s3_requests: u64,
    pub start_date: String,
}

/// Options of a sweep run.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Worker threads (at least 1).
    pub jobs: usize,
    pub store: String,
}

/// A sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{0}")]
    Project(#[from] project::ProjectError),
    #[error("grid.{param}: {message}")]
    Param { param: String, message: String },
    #[error("sweep worker failed: {0}")]
    Worker(String),
}

/// A point's rows, or why it could not run.
type PointResult = Result<Vec<Row>, String>;

/// The seed of a point: the master seed and the point's values, nothing else.
pub fn point_seed(master: u64, spec: &SweepSpec, values: &[Value]) -> u64 {
    let label: Vec<String> = spec
        .grid
        .iter()
        .zip(values)
        .map(|(p, v)| format!("{}={}", p.name, v))
        .collect();
    derive_seed(master, &label.join("&"))
}

/// Applies a point's parameters: function fields to a copy of the project, input fields to the
/// input.
pub fn apply_point(
    base: &Project,
    spec: &SweepSpec,
    values: &[Value],
) -> Result<(Project, Value), SweepError> {
    let mut project = base.clone();
    let mut input = base.input.clone();
    for (k, v) in &spec.set {
        project::set_path(&mut input, k, v.clone()).map_err(|m| SweepError::Param {
            param: format!("(set) {k}"),
            message: m,
        })?;
    }
    for (p, v) in spec.grid.iter().zip(values) {
        let perr = |m: String| SweepError::Param {
            param: p.name.clone(),
            message: m,
        };
        match &p.target {
            Target::Input(name) => project::set_path(&mut input, name, v.clone()).map_err(perr)?,
            Target::Function { function, field } => {
                let spec = project.functions.get(function).ok_or_else(|| {
                    perr(format!(
                        "the project has no function '{function}' (functions: {})",
                        project
                            .functions
                            .iter()
                            .map(|f| f.name.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                let mut s = (**spec).clone();
                let c = &mut s.config;
                match field {
                    FunctionField::MemoryMb => c.memory_mb = v.as_u64().unwrap_or(128) as u32,
                    FunctionField::TimeoutSeconds => {
                        c.timeout = Duration::from_secs_f64(v.as_f64().unwrap_or(3.0))
                    }
                    FunctionField::Architecture => {
                        c.architecture = if v.as_str() == Some("arm64") {
                            Architecture::Arm64
                        } else {
                            Architecture::X86_64
                        }
                    }
                    FunctionField::Runtime => {
                        c.runtime = v.as_str().unwrap_or_default().to_string()
                    }
                    FunctionField::ReservedConcurrency => {
                        c.reserved_concurrency = v.as_u64().map(|n| n as u32)
                    }
                    FunctionField::ProvisionedConcurrency => {
                        c.provisioned_concurrency = v.as_u64().unwrap_or(0) as u32
                    }
                    FunctionField::EphemeralStorageMb => {
                        c.ephemeral_storage_mb = v.as_u64().unwrap_or(512) as u32
                    }
                    FunctionField::HandlerCpuMs => c.handler_cpu_ms = v.as_f64().unwrap_or(0.0),
                }
                project
                    .functions
                    .register_spec(s)
                    .map_err(|e| perr(e.to_string()))?;
            }
        }
    }
    Ok((project, input))
}

/// Checks every point's parameters before any work starts.
pub fn check(spec: &SweepSpec, base: &Project) -> Result<(), SweepError> {
    for values in spec.points() {
        apply_point(base, spec, &values)?;
    }
    Ok(())
}

/// Runs the whole sweep. `progress` is called after each execution with (done, total).
pub fn run(
    spec: &SweepSpec,
    base: &Project,
    opts: &SweepOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Row>, SweepError> {
    let all: Vec<usize> = (0..spec.points().len()).collect();
    run_points(spec, base, opts, &all, progress)
}

/// Runs the given points (indexes into `spec.points()`, in canonical order) with all their
/// repetitions: one slice of a partitioned sweep, or all of them. A point's rows do not depend
/// on which other points run beside it.
pub fn run_points(
    spec: &SweepSpec,
    base: &Project,
    opts: &SweepOptions,
    selected: &[usize],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Row>, SweepError> {
    let mut rows = Vec::with_capacity(selected.len() * spec.repetitions as usize);
    run_points_into(spec, base, opts, selected, progress, &mut |r: Vec<Row>| {
        rows.extend(r);
        Ok(())
    })?;
    Ok(rows)
}

/// What [`run_points_into`]'s workers share: finished points wait in `pending` until every
/// point before them has gone to the sink, so the sink sees canonical order.
struct Emitter<'s> {
    next: usize,
    pending: BTreeMap<usize, PointResult>,
    sink: &'s mut (dyn FnMut(Vec<Row>) -> Result<(), String> + Send),
    failed: Option<String>,
}

impl Emitter<'_> {
    fn finished(&mut self, slot: usize, r: PointResult) {
        self.pending.insert(slot, r);
        while self.failed.is_none() {
            match self.pending.remove(&self.next) {
                Some(Ok(rows)) => {
                    if let Err(e) = (self.sink)(rows) {
                        self.failed = Some(e);
                    }
                    self.next += 1;
                }
                Some(Err(e)) => {
                    // Put it back: the error is reported once every worker is done.
                    self.pending.insert(self.next, Err(e));
                    break;
                }
                None => break,
            }
        }
    }
}

/// Like [`run_points`], but hands each point's rows to `sink` as soon as every point before
/// it is done, in canonical order, and keeps no rows itself: memory stays flat in the number
/// of executions (at most about one point per worker waits for a slower one before it).
pub fn run_points_into(
    spec: &SweepSpec,
    base: &Project,
    opts: &SweepOptions,
    selected: &[usize],
    progress: &(dyn Fn(usize, usize) + Sync),
    sink: &mut (dyn FnMut(Vec<Row>) -> Result<(), String> + Send),
) -> Result<(), SweepError> {
    check(spec, base)?;
    let grid = spec.points();
    if spec.carry_over {
        return run_carried_over(spec, base, opts, selected, progress, sink);
    }
    if let Some(bad) = selected.iter().find(|i| **i >= grid.len()) {
        return Err(SweepError::Worker(format!(
            "point {bad} is not in the grid of {} points",
            grid.len()
        )));
    }
    let total = selected.len() * spec.repetitions as usize;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let emitter = Mutex::new(Emitter {
        next: 0,
        pending: BTreeMap::new(),
        sink,
        failed: None,
    });
    let jobs = opts.jobs.clamp(1, selected.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let slot = next.fetch_add(1, Ordering::SeqCst);
                if slot >= selected.len() {
                    break;
                }
                let i = selected[slot];
                let r = run_point(spec, base, opts, i, &grid[i], &|| {
                    let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                    progress(d, total);
                });
                if let Ok(mut e) = emitter.lock() {
                    e.finished(slot, r);
                }
            });
        }
    });
    let mut e = emitter
        .into_inner()
        .map_err(|_| SweepError::Worker("a worker panicked".into()))?;
    if let Some(err) = e.failed {
        return Err(SweepError::Worker(err));
    }
    if e.next < selected.len() {
        let i = selected[e.next];
        return Err(match e.pending.remove(&e.next) {
            Some(Err(err)) => SweepError::Worker(format!("point {i}: {err}")),
            _ => SweepError::Worker(format!("point {i} was not run")),
        });
    }
    Ok(())
}

/// A `carry_over` sweep: one simulation runs every point's repetitions in grid order,
/// `spacing_seconds` apart, so the environments one point leaves are there for the next.
fn run_carried_over(
    spec: &SweepSpec,
    base: &Project,
    opts: &SweepOptions,
    selected: &[usize],
    progress: &(dyn Fn(usize, usize) + Sync),
    sink: &mut (dyn FnMut(Vec<Row>) -> Result<(), String> + Send),
) -> Result<(), SweepError> {
    let grid = spec.points();
    if selected.len() != grid.len() || selected.iter().enumerate().any(|(k, i)| *i != k) {
        return Err(SweepError::Worker(
            "a carry_over sweep replays one sequence of executions and cannot be split into \
             parts; run it whole"
                .to_string(),
        ));
    }
    if let Some(p) = spec
        .grid
        .iter()
        .find(|p| !matches!(p.target, Target::Input(_)))
    {
        return Err(SweepError::Param {
            param: p.name.clone(),
            message: "a carry_over sweep runs every point on one world, so only input fields \
                      may vary (function settings would need a world each)"
                .to_string(),
        });
    }
    let seed = derive_seed(spec.seed, "carry-over");
    let run_opts = RunOptions {
        seed,
        store: opts.store.clone(),
        history: HistoryMode::CountOnly,
        logs: crate::sim::LogCapture::Off,
        ..RunOptions::default()
    };
    let sim = base.simulation(&run_opts).map_err(SweepError::Project)?;
    let total = grid.len() * spec.repetitions as usize;
    let mut done = 0;
    for (index, values) in grid.iter().enumerate() {
        let (project, input) = apply_point(base, spec, values)?;
        let pseed = point_seed(spec.seed, spec, values);
        let mut rows = Vec::new();
        for rep in 1..=spec.repetitions {
            if done > 0 {
                sim.advance(Duration::from_secs_f64(spec.spacing_seconds));
            }
            let at = Execution {
                spec,
                project: &project,
                input: &input,
                run_opts: &run_opts,
                index,
                values,
            };
            rows.push(at.run(&sim, pseed, rep));
            done += 1;
            progress(done, total);
        }
        sink(rows).map_err(SweepError::Worker)?;
    }
    Ok(())
}

/// One point's execution context: what [`Execution::run`] needs besides the simulation.
struct Execution<'a> {
    spec: &'a SweepSpec,
    project: &'a Project,
    input: &'a Value,
    run_opts: &'a RunOptions,
    index: usize,
    values: &'a [Value],
}

impl Execution<'_> {
    /// Runs repetition `rep` of the point whose seed is `point_seed` and makes its row.
    fn run(&self, sim: &Simulation, point_seed: u64, rep: u32) -> Row {
        let exec_seed = derive_seed(point_seed, &format!("rep-{rep}"));
        let name = format!("p{:08x}-r{rep}", point_seed as u32);
        let eopts = self
            .project
            .execution_options(self.run_opts, &name, exec_seed);
        let report = sim.run(&self.project.plan, self.input.clone(), &eopts);
        let records = sim.block_on(records_of(
            self.spec,
            self.values,
            self.input,
            &report,
            sim.world(),
        ));
        let mut r = row(
            self.index,
            self.values,
            rep,
            exec_seed,
            &name,
            self.project,
            &report,
            records,
        );
        r.cost_max_memory_used = max_memory_cost(&report, sim.world().prices());
        r
    }
}

fn run_point(
    spec: &SweepSpec,
    base: &Project,
    opts: &SweepOptions,
    index: usize,
    values: &[Value],
    tick: &dyn Fn(),
) -> Result<Vec<Row>, String> {
    let (project, input) = apply_point(base, spec, values).map_err(|e| e.to_string())?;
    let seed = point_seed(spec.seed, spec, values);
    let run_opts = RunOptions {
        seed,
        store: opts.store.clone(),
        history: HistoryMode::CountOnly,
        logs: crate::sim::LogCapture::Off,
        ..RunOptions::default()
    };
    let mut sim = project.simulation(&run_opts).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for rep in 1..=spec.repetitions {
        if rep > 1 {
            sim.advance(Duration::from_secs_f64(spec.spacing_seconds));
            if !spec.warm {
                // A cold point: a fresh world (same seed stream) for every repetition.
                let world_seed = derive_seed(seed, &format!("world-{rep}"));
                project
                    .refresh_world(&mut sim, &run_opts, world_seed)
                    .map_err(|e| e.to_string())?;
            }
        }
        let at = Execution {
            spec,
            project: &project,
            input: &input,
            run_opts: &run_opts,
            index,
            values,
        };
        rows.push(at.run(&sim, seed, rep));
        tick();
    }
    Ok(rows)
}

async fn records_of(
    spec: &SweepSpec,
    values: &[Value],
    input: &Value,
    report: &RunReport,
    world: &crate::sim::World,
) -> Option<f64> {
    if report.outcome.status != ExecutionStatus::Succeeded {
        return None;
    }
    match &spec.records {
        Records::None => None,
        Records::Expression(e) => {
            let lookup = |name: &str| -> Option<f64> {
                spec.grid
                    .iter()
                    .zip(values)
                    .find(|(p, _)| p.column() == name)
                    .and_then(|(_, v)| number(v))
                    .or_else(|| {
                        spec.set
                            .iter()
                            .find(|(k, _)| k == name)
                            .and_then(|(_, v)| number(v))
                    })
            };
            e.eval(&lookup)
        }
        Records::Pointer(p) => {
            let doc = report.to_json(false, false);
            doc.pointer(p).and_then(number)
        }
        Records::Object { address, pointer } => {
            let filled = fill(address, input);
            let rest = filled.strip_prefix("s3://")?;
            let (bucket, key) = rest.split_once('/')?;
            let (_, bytes) = world.store().get(bucket, key).await.ok()?;
            let v: Value = serde_json::from_slice(&bytes).ok()?;
            v.pointer(pointer).and_then(number)
        }
    }
}

/// `{field}` in an address is replaced by that input field.
fn fill(address: &str, input: &Value) -> String {
    let mut out = String::new();
    let mut rest = address;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                let name = &rest[start + 1..start + end];
                let v = input.get(name).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                out.push_str(&v.unwrap_or_default());
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A number, or a string holding one (the notebook writes some numbers as strings).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    point: usize,
    values: &[Value],
    repetition: u32,
    seed: u64,
    name: &str,
    project: &Project,
    r: &RunReport,
    records: Option<f64>,
) -> Row {
    let o = &r.outcome;
    let duration_seconds = o.duration().as_secs_f64();
    let memory_mb = r
        .usage
        .functions
        .keys()
        .filter_map(|f| project.functions.get(f).map(|s| s.config.memory_mb))
        .max()
        .unwrap_or(0);
    let mut cost_by_component = BTreeMap::new();
    let mut billed_gb_s = 0.0;
    for l in &r.bill.lines {
        let e = cost_by_component
            .entry(component_group(&l.component))
            .or_insert(Money::ZERO);
        *e = e.saturating_add(l.amount);
        if l.unit == "GB-s" && l.component.starts_with("lambda.") {
            billed_gb_s += l.quantity;
        }
    }
    let f = &r.usage.functions;
    Row {
        point,
        values: values.to_vec(),
        repetition,
        seed,
        execution_name: name.to_string(),
        status: o.status.as_str().to_string(),
        error: o.error.clone(),
        cause: o.cause.clone(),
        duration_seconds,
        memory_mb,
        cost: r.bill.total,
        // Set by the caller, which has the price table.
        cost_max_memory_used: Money::ZERO,
        cost_by_component,
        throughput_rps: records
            .and_then(|n| (duration_seconds > 0.0).then(|| n / duration_seconds)),
        records,
        cold_starts: f.values().map(|u| u.cold_starts).sum(),
        billed_gb_s,
        transitions: r.usage.transitions,
        lambda_invocations: f.values().map(|u| u.invocations).sum(),
        throttles: f.values().map(|u| u.throttles).sum(),
        s3_requests: r.usage.s3.get_requests + r.usage.s3.put_requests,
        start_date: crate::engine::history::format_time(o.start_date),
    }
}

/// The execution priced on max memory used (the basis of published tables such as the
/// COSMIC-AI paper's; AWS bills configured memory).
fn max_memory_cost(r: &RunReport, prices: &crate::sim::PriceTable) -> Money {
    let options = crate::sim::BillingOptions {
        memory: crate::sim::MemoryBasis::MaxUsed,
        ..r.bill.options
    };
    crate::sim::billing::Bill::for_execution(&r.usage, prices, &options).total
}

/// Bill components grouped for reports: Step Functions, Lambda requests, Lambda compute, S3.
pub fn component_group(component: &str) -> String {
    if component.starts_with("sfn.") {
        "step_functions".into()
    } else if component == "lambda.requests" {
        "lambda_requests".into()
    } else if component.starts_with("lambda.") {
        "lambda_compute".into()
    } else if component.starts_with("s3.") {
        "s3".into()
    } else {
        component.replace('.', "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn address_filling() {
        let input = json!({"result_path": "results/x", "n": 3});
        assert_eq!(
            fill("s3://b/{result_path}/combined_data.json", &input),
            "s3://b/results/x/combined_data.json"
        );
        assert_eq!(fill("s3://b/{n}-{missing}", &input), "s3://b/3-");
        assert_eq!(fill("s3://b/{open", &input), "s3://b/{open");
    }

    #[test]
    fn finished_points_reach_the_sink_in_canonical_order() {
        let row = |point: usize| Row {
            point,
            values: Vec::new(),
            repetition: 1,
            seed: 0,
            execution_name: String::new(),
            status: "SUCCEEDED".into(),
            error: None,
            cause: None,
            duration_seconds: 0.0,
            memory_mb: 0,
            cost: Money::ZERO,
            cost_max_memory_used: Money::ZERO,
            cost_by_component: BTreeMap::new(),
            records: None,
            throughput_rps: None,
            cold_starts: 0,
            billed_gb_s: 0.0,
            transitions: 0,
            lambda_invocations: 0,
            throttles: 0,
            s3_requests: 0,
            start_date: String::new(),
        };
        let mut seen = Vec::new();
        let mut sink = |rows: Vec<Row>| {
            seen.extend(rows.iter().map(|r| r.point));
            Ok(())
        };
        let mut e = Emitter {
            next: 0,
            pending: BTreeMap::new(),
            sink: &mut sink,
            failed: None,
        };
        e.finished(2, Ok(vec![row(20)]));
        e.finished(1, Ok(vec![row(10)]));
        assert_eq!(e.pending.len(), 2, "nothing before slot 0 is done");
        e.finished(0, Ok(vec![row(0)]));
        assert!(e.pending.is_empty());
        // A failed point holds back everything after it and stays to be reported.
        e.finished(4, Ok(vec![row(40)]));
        e.finished(3, Err("boom".into()));
        assert_eq!(e.next, 3);
        assert!(matches!(e.pending.get(&3), Some(Err(m)) if m == "boom"));
        drop(e);
        assert_eq!(seen, vec![0, 10, 20]);
    }

    #[test]
    fn components() {
        assert_eq!(component_group("sfn.transitions"), "step_functions");
        assert_eq!(component_group("lambda.duration.x86_64"), "lambda_compute");
        assert_eq!(component_group("lambda.requests"), "lambda_requests");
        assert_eq!(component_group("s3.get"), "s3");
    }
}
