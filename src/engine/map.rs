//! The Map state. Inline mode runs the item processor inside this execution, recording
//! `MapIteration*` events; Distributed mode starts one child execution per item (or batch),
//! each with its own history and transitions, under a map run.
//!
//! Iterations run concurrently up to MaxConcurrency and complete in virtual-time order; the
//! results keep item order. A failure beyond the tolerated threshold fails the state and
//! cancels the iterations still running.

use futures::stream::{self, StreamExt};
use std::sync::Arc;

use serde_json::Value;

use super::clock::SimTime;
use super::context::Scope;
use super::errors::{names, AslError};
use super::execution::{
    execute_body, ChildExecution, Exec, ExecutionOptions, ExecutionStatus, Frame, StateResult,
    StateRun,
};
use super::history::{details, Details, HistoryMode};
use super::jsonata::Expect;
use super::map_run::{
    ChildDetail, MapRunChild, MapRunReport, MapRunStatus, RunCounts, MAX_LISTED_CHILDREN,
};
use super::plan::{CompiledInt, CompiledMap};
use super::query::{Binding, StateQuery};
use super::redrive::{Branch, KeptChild, MapRunMark};
use crate::asl::model::{ExecutionType, ProcessorMode};

/// AWS runs at most 40 inline iterations at a time (calibration: "Inline Map").
pub const INLINE_MAX_CONCURRENCY: usize = 40;
/// A Distributed Map runs up to 10,000 child executions at a time by default (calibration:
/// "Distributed Map").
pub const DISTRIBUTED_MAX_CONCURRENCY: usize = 10_000;

/// Where a Map's items come from.
pub(crate) enum ItemSource<'a> {
    /// Already known (ItemsPath, Items, or the input).
    Ready(Vec<Value>),
    /// Read by a Distributed Map's ItemReader, inside the map run.
    Reader {
        reader: &'a crate::engine::plan::CompiledItemReader,
        params: Value,
        max_items: Option<i64>,
    },
}

/// How one item ended.
pub(crate) enum ItemOutcome {
    Succeeded(Value),
    Failed(AslError),
}

/// The result of a child execution, as the ResultWriter reports it.
#[derive(Clone, Debug)]
pub(crate) struct ChildRecord {
    pub(crate) execution_arn: String,
    pub(crate) input: Value,
    pub(crate) outcome: Result<Value, AslError>,
    pub(crate) start_date: String,
    pub(crate) stop_date: String,
    pub(crate) status: ExecutionStatus,
    /// The start and stop as times (the strings above are the ResultWriter's).
    pub(crate) started: SimTime,
    pub(crate) stopped: SimTime,
    /// Its input, result and history, when kept.
    pub(crate) detail: Option<Arc<ChildDetail>>,
}

impl Exec<'_> {
    /// One attempt of a Map state (Retry and Catch drive the attempts).
    pub(crate) async fn map_attempt(
        &self,
        run: &StateRun<'_>,
        m: &CompiledMap,
        raw_input: &Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        let q = self.bind(run, frame, raw_input.clone(), Binding::attempt(0))?;
        let items = self.map_items(m, &q)?;
        let result = self.map_phases(run, m, items, &q, frame, cursor).await?;
        q.finish(result)
    }

    /// Where the items come from: the ItemReader (its Parameters or Arguments evaluated
    /// here), or ItemsPath (JSONPath), `Items` or the input (JSONata).
    fn map_items<'m>(
        &self,
        m: &'m CompiledMap,
        q: &StateQuery<'_>,
    ) -> Result<ItemSource<'m>, AslError> {
        let (run, frame) = (q.run(), q.frame());
        if let Some(reader) = &m.item_reader {
            let (params, max_items) = match q.states() {
                None => {
                    let ctx = self.context(run, None, None, None);
                    let params = match &reader.parameters {
                        Some(t) => self.eval_template(run, t, q.input(), frame, &ctx)?,
                        None => Value::Object(serde_json::Map::new()),
                    };
                    (params, None)
                }
                Some(states) => {
                    let params = match &reader.arguments {
                        Some(a) => self.jeval(run, a, "ItemReader/Arguments", states, frame)?,
                        None => Value::Object(serde_json::Map::new()),
                    };
                    let max_items = match &reader.max_items {
                        Some(f @ CompiledInt::Expr(_)) => {
                            Some(q.int(f, "ItemReader/ReaderConfig/MaxItems")?)
                        }
                        _ => None,
                    };
                    (params, max_items)
                }
            };
            return Ok(ItemSource::Reader {
                reader,
                params,
                max_items,
            });
        }
        let items = match (q.states(), &m.items) {
            (None, _) => self.jsonpath_items(run, m, q.input(), frame)?,
            (Some(states), Some(items)) => {
                let v = self.jexpect(run, Expect::Array, items, "Items", states, frame)?;
                v.as_array().cloned().unwrap_or_default()
            }
            (Some(_), None) => match q.input() {
                Value::Array(a) => a.clone(),
                other => {
                    return Err(q.invalid(format!(
                        "Map state input must be an array but was: {}",
                        serde_json::to_string(other).unwrap_or_default()
                    )))
                }
            },
        };
        Ok(ItemSource::Ready(items))
    }

    /// The items of a JSONPath Map without an ItemReader: ItemsPath (default `$`).
    fn jsonpath_items(
        &self,
        run: &StateRun<'_>,
        m: &CompiledMap,
        effective: &Value,
        frame: &Frame,
    ) -> Result<Vec<Value>, AslError> {
        let items = match &m.items_path {
            None => Some(effective.clone()),
            Some(p) => self.ref_value(run, p, effective, frame),
        };
        let text = || {
            m.items_path
                .as_ref()
                .map(|p| p.text().to_string())
                .unwrap_or_else(|| "$".into())
        };
        match items {
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(self.runtime(
                run,
                format!(
                    "Invalid path '{}' : The ItemsPath field must point to an array but was: {}",
                    text(),
                    serde_json::to_string(&other).unwrap_or_default()
                ),
            )),
            None => Err(self.no_results(run, &text())),
        }
    }

    /// Applies ItemSelector (or legacy Parameters) to each item, with `$$.Map.Item` bound.
    fn item_inputs(
        &self,
        m: &CompiledMap,
        q: &StateQuery<'_>,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, AslError> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| q.item_input(m, i, item))
            .collect()
    }

    /// Resolves MaxConcurrency and the tolerated failure thresholds.
    fn map_limits(
        &self,
        run: &StateRun<'_>,
        m: &CompiledMap,
        q: &StateQuery<'_>,
    ) -> Result<MapLimits, AslError> {
        let max_concurrency = q
            .opt_int(m.max_concurrency.as_ref(), "MaxConcurrency")?
            .unwrap_or(0);
        let tolerated_count =
            q.opt_int(m.tolerated_failure_count.as_ref(), "ToleratedFailureCount")?;
        let tolerated_pct = match &m.tolerated_failure_percentage {
            Some(f) => Some(q.float(f, "ToleratedFailurePercentage")?),
            None => None,
        };
        MapLimits::new(max_concurrency, tolerated_count, tolerated_pct)
            .map_err(|msg| self.runtime(run, msg))
    }

    /// Runs a Map once its items are known (or, for a Distributed Map with an ItemReader, once
    /// their reader is), recording events in the order AWS records them. Inline: the limits
    /// are resolved first (their errors fail the state before MapStateStarted), then
    /// MapStateStarted with the item count, the iterations and MapStateSucceeded. Distributed:
    /// MapStateStarted (length 0), then the limits and the reader's MaxItems (their errors fail
    /// the state before the map run starts), MapRunStarted, reading, the child executions,
    /// MapRunSucceeded/MapRunFailed and MapStateSucceeded. MapStateFailed is recorded by the
    /// Retry/Catch handling.
    async fn map_phases(
        &self,
        run: &StateRun<'_>,
        m: &CompiledMap,
        items: ItemSource<'_>,
        q: &StateQuery<'_>,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<Value, AslError> {
        let effective = q.input();
        match m.mode {
            ProcessorMode::Inline => {
                let items = match items {
                    ItemSource::Ready(items) => items,
                    ItemSource::Reader { .. } => {
                        return Err(self.runtime(run, "An ItemReader needs a Distributed Map"))
                    }
                };
                let limits = self.map_limits(run, m, q)?;
                *cursor = self.event(*cursor, "MapStateStarted", || {
                    Some((
                        "mapStateStartedEventDetails",
                        details(vec![("length", items.len().into())]),
                    ))
                })?;
                let inputs = self.item_inputs(m, q, items)?;
                let inputs = match &m.item_batcher {
                    Some(b) => self.batch_items(run, b, inputs, effective, frame)?,
                    None => inputs,
                };
                let n = inputs.len();
                let started = *cursor;
                let conc = limits.concurrency(INLINE_MAX_CONCURRENCY, n);
                let outcomes = self
                    .run_inline(run, m, inputs, conc, &limits, frame, started)
                    .await;
                *cursor = self.history.len();
                let values = outcomes?;
                *cursor = self.event(*cursor, "MapStateSucceeded", || None)?;
                Ok(Value::Array(values))
            }
            ProcessorMode::Distributed => {
                *cursor = self.event(*cursor, "MapStateStarted", || {
                    Some((
                        "mapStateStartedEventDetails",
                        details(vec![("length", 0.into())]),
                    ))
                })?;
                let limits = self.map_limits(run, m, q)?;
                let cap = match &items {
                    ItemSource::Ready(_) => usize::MAX,
                    ItemSource::Reader {
                        reader, max_items, ..
                    } => self.reader_cap(run, reader, *max_items, effective, frame)?,
                };
                let run_no = self.map_runs.get() + 1;
                self.map_runs.set(run_no);
                // A redrive runs the same map run again, keeping the children that succeeded.
                let kept = frame.take_resume();
                let mark = match frame.take_map_run() {
                    Some(prev) => MapRunMark {
                        redrives: prev.redrives + 1,
                        ..prev
                    },
                    None => {
                        let (arn, child_prefix) = self.map_run_arn(m);
                        MapRunMark {
                            arn,
                            child_prefix,
                            redrives: 0,
                        }
                    }
                };
                let arn = mark.arn.clone();
                *cursor = if mark.redrives == 0 {
                    self.event(*cursor, "MapRunStarted", || {
                        Some((
                            "mapRunStartedEventDetails",
                            details(vec![("mapRunArn", Value::String(arn))]),
                        ))
                    })?
                } else {
                    self.event(*cursor, "MapRunRedriven", || {
                        Some((
                            "mapRunRedrivenEventDetails",
                            details(vec![
                                ("mapRunArn", Value::String(arn)),
                                ("redriveCount", mark.redrives.into()),
                            ]),
                        ))
                    })?
                };
                let report = self.open_map_run(&mark, &limits);
                let result = self
                    .map_run(run, m, items, cap, &limits, q, frame, &mark, kept, report)
                    .await;
                self.close_map_run(
                    report,
                    match result {
                        Ok(_) => MapRunStatus::Succeeded,
                        Err(_) => MapRunStatus::Failed,
                    },
                );
                match result {
                    Ok(v) => {
                        *cursor = self.event(*cursor, "MapRunSucceeded", || None)?;
                        *cursor = self.event(*cursor, "MapStateSucceeded", || None)?;
                        Ok(v)
                    }
                    Err(e) => {
                        let (err, cause) = (e.error.clone(), e.cause.clone());
                        *cursor = self.event(*cursor, "MapRunFailed", || {
                            let mut d = Vec::new();
                            if let Some(c) = cause {
                                d.push(("cause", Value::String(c)));
                            }
                            d.push(("error", Value::String(err)));
                            Some(("mapRunFailedEventDetails", details(d)))
                        })?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// The inside of a map run: read the items, select and batch them, run the children,
    /// apply the failure threshold and write the results.
    #[allow(clippy::too_many_arguments)]
    async fn map_run(
        &self,
        run: &StateRun<'_>,
        m: &CompiledMap,
        items: ItemSource<'_>,
        cap: usize,
        limits: &MapLimits,
        q: &StateQuery<'_>,
        frame: &Frame,
        mark: &MapRunMark,
        kept: Option<Vec<Branch>>,
        report: usize,
    ) -> Result<Value, AslError> {
        let map_run_arn = mark.arn.as_str();
        let effective = q.input();
        let items = match items {
            ItemSource::Ready(items) => items,
            ItemSource::Reader { reader, params, .. } => {
                self.read_items_with(run, reader, params, cap).await?
            }
        };
        let inputs = self.item_inputs(m, q, items)?;
        let inputs = match &m.item_batcher {
            Some(b) => self.batch_items(run, b, inputs, effective, frame)?,
            None => inputs,
        };
        let n = inputs.len();
        // Items per child: a batch carries its items under "Items".
        let weights: Vec<u64> = inputs
            .iter()
            .map(|input| match &m.item_batcher {
                Some(_) => input
                    .get("Items")
                    .and_then(Value::as_array)
                    .map_or(1, |a| a.len() as u64),
                None => 1,
            })
            .collect();
        let conc = limits.concurrency(DISTRIBUTED_MAX_CONCURRENCY, n);
        // Kept children are only valid for the same items.
        let kept = kept.filter(|k| k.len() == n);
        let records = self
            .run_children(m, inputs, conc, &mark.child_prefix, kept)
            .await;
        self.count_map_run(report, &records, &weights);
        if let Some(t) = &frame.track {
            t.set_map_run(mark.clone(), records.iter().map(kept_child).collect());
        }
        let failures = records.iter().filter(|r| r.outcome.is_err()).count();
        if limits.exceeded(failures, n) {
            return Err(AslError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            ));
        }
        if let Some(w) = &m.result_writer {
            let written = self
                .write_results(run, w, map_run_arn, &records, effective, frame)
                .await;
            if written.is_ok() {
                if let Some(r) = self.map_run_reports.borrow_mut().get_mut(report) {
                    r.items.results_written = r.items.total;
                    r.executions.results_written = r.executions.total;
                }
            }
            return written;
        }
        Ok(Value::Array(
            records
                .into_iter()
                .map(|r| match r.outcome {
                    Ok(v) => v,
                    Err(e) => e.to_error_output(),
                })
                .collect(),
        ))
    }

    /// Records a map run as started now; returns its place in the reports.
    fn open_map_run(&self, mark: &MapRunMark, limits: &MapLimits) -> usize {
        let map_run_arn = mark.arn.as_str();
        // The children's state machine: the map run's ARN without its id, as a state machine.
        let machine = map_run_arn
            .rsplit_once(':')
            .map_or(map_run_arn, |(a, _)| a)
            .replacen(":mapRun:", ":stateMachine:", 1);
        let mut reports = self.map_run_reports.borrow_mut();
        reports.push(MapRunReport {
            map_run_arn: map_run_arn.to_string(),
            state_machine_arn: machine,
            status: MapRunStatus::Running,
            start_date: self.clock.now(),
            stop_date: None,
            max_concurrency: limits.max_concurrency as u64,
            tolerated_failure_percentage: limits.tolerated_pct.unwrap_or(0.0),
            tolerated_failure_count: limits.tolerated_count.unwrap_or(0),
            items: RunCounts::default(),
            executions: RunCounts::default(),
            children: Vec::new(),
            redrive_count: mark.redrives,
            redrive_date: (mark.redrives > 0).then(|| self.clock.now()),
        });
        reports.len() - 1
    }

    /// Counts how a map run's children ended (`weights`: items per child).
    fn count_map_run(&self, report: usize, records: &[ChildRecord], weights: &[u64]) {
        let mut reports = self.map_run_reports.borrow_mut();
        let Some(r) = reports.get_mut(report) else {
            return;
        };
        for (rec, w) in records.iter().zip(weights) {
            count(&mut r.executions, rec.status, 1);
            count(&mut r.items, rec.status, *w);
        }
        let mut children: Vec<MapRunChild> = records
            .iter()
            .map(|rec| MapRunChild {
                execution_arn: rec.execution_arn.clone(),
                status: rec.status.as_str(),
                start_date: rec.started,
                stop_date: rec.stopped,
                detail: rec.detail.clone(),
            })
            .collect();
        children.sort_by_key(|c| c.start_date);
        children.truncate(MAX_LISTED_CHILDREN);
        r.children = children;
    }

    fn close_map_run(&self, report: usize, status: MapRunStatus) {
        if let Some(r) = self.map_run_reports.borrow_mut().get_mut(report) {
            r.status = status;
            r.stop_date = Some(self.clock.now());
        }
    }

    fn map_run_arn(&self, m: &CompiledMap) -> (String, String) {
        let id = self.rng.borrow_mut().uuid_v4();
        let label = m.label.clone().unwrap_or_else(|| id[..8].to_string());
        let name = &self.opts.state_machine_name;
        let exec_name = &self.opts.execution_name;
        let map_run = format!(
            "arn:aws:states:{}:{}:mapRun:{name}/{label}:{id}",
            self.opts.region, self.opts.account
        );
        let kind = match m.execution_type {
            ExecutionType::Standard => "execution",
            ExecutionType::Express => "express",
        };
        let child_prefix = format!(
            "arn:aws:states:{}:{}:{kind}:{name}/{label}:{exec_name}-",
            self.opts.region, self.opts.account
        );
        (map_run, child_prefix)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_inline(
        &self,
        run: &StateRun<'_>,
        m: &CompiledMap,
        inputs: Vec<Value>,
        concurrency: usize,
        limits: &MapLimits,
        frame: &Frame,
        started: u64,
    ) -> Result<Vec<Value>, AslError> {
        let n = inputs.len();
        let name: &Arc<str> = &run.st.name;
        let tolerant = limits.tolerates_any();
        // A redrive keeps the iterations that had succeeded and continues the others.
        let resume = frame.take_resume().filter(|r| r.len() == n);
        let plan = |i: usize| resume.as_ref().and_then(|r| r.get(i));
        let frames: Vec<Frame> = (0..n)
            .map(|i| {
                let scope = if m.processor.assigns {
                    Scope::child(&frame.scope)
                } else {
                    frame.scope.clone()
                };
                frame.nested_as_planned(scope, plan(i), m.processor.assigns)
            })
            .collect();
        frame.track_inner(frames.iter());
        let iterations = inputs.into_iter().zip(frames.iter()).enumerate().map(
            |(i, (item, child))| async move {
                let resumed = match plan(i) {
                    Some(Branch::Done(v)) => return (i, ItemOutcome::Succeeded(v.clone())),
                    Some(Branch::Resume(r)) => {
                        child.resume_with(Some(r));
                        Some((r.state, r.input.clone()))
                    }
                    _ => None,
                };
                let mut c = self.event(started, "MapIterationStarted", || {
                    iteration_details("mapIterationStartedEventDetails", i, name)
                });
                let outcome = match (&mut c, resumed) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(c), None) => self.run_body(&m.processor, item, child, c).await,
                    (Ok(c), Some((at, input))) => {
                        self.run_body_at(&m.processor, at, input, child, c).await
                    }
                };
                let prev = self.history.len();
                let ev = match &outcome {
                    Ok(_) => "MapIterationSucceeded",
                    Err(_) => "MapIterationFailed",
                };
                let key = match &outcome {
                    Ok(_) => "mapIterationSucceededEventDetails",
                    Err(_) => "mapIterationFailedEventDetails",
                };
                if let Err(e) = self.event(prev, ev, || iteration_details(key, i, name)) {
                    return (i, ItemOutcome::Failed(e));
                }
                match outcome {
                    Ok(v) => (i, ItemOutcome::Succeeded(v)),
                    Err(e) => (i, ItemOutcome::Failed(e)),
                }
            },
        );
        let mut results: Vec<Option<Value>> = vec![None; n];
        let mut failures = 0usize;
        let mut take = |i: usize, outcome: ItemOutcome| -> Result<(), AslError> {
            match outcome {
                ItemOutcome::Succeeded(v) => results[i] = Some(v),
                ItemOutcome::Failed(e) => {
                    // Limits and terminal errors end the whole map at once.
                    if e.terminal || !tolerant {
                        return Err(e);
                    }
                    failures += 1;
                    if limits.exceeded(failures, n) {
                        return Err(AslError::new(
                            names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ));
                    }
                    results[i] = Some(e.to_error_output());
                }
            }
            Ok(())
        };
        if m.processor.never_suspends {
            // Every iteration finishes on its first poll, so the concurrent stream would run
            // them one after another in index order anyway; running them in a plain loop
            // gives the same events in the same order without the stream's bookkeeping.
            for iteration in iterations {
                let (i, outcome) = iteration.await;
                take(i, outcome)?;
            }
        } else {
            let mut stream = stream::iter(iterations).buffer_unordered(concurrency.max(1));
            while let Some((i, outcome)) = stream.next().await {
                take(i, outcome)?;
            }
        }
        Ok(results
            .into_iter()
            .map(|v| v.unwrap_or(Value::Null))
            .collect())
    }

    async fn run_children(
        &self,
        m: &CompiledMap,
        inputs: Vec<Value>,
        concurrency: usize,
        child_prefix: &str,
        kept: Option<Vec<Branch>>,
    ) -> Vec<ChildRecord> {
        let n = inputs.len();
        let mut records: Vec<Option<ChildRecord>> = vec![None; n];
        // Children a redrive keeps are not run again.
        let mut pending = Vec::with_capacity(n);
        let mut kept = kept.map(Vec::into_iter);
        for (i, input) in inputs.into_iter().enumerate() {
            match kept.as_mut().and_then(Iterator::next) {
                Some(Branch::Child(k)) => records[i] = Some(ChildRecord::kept(*k, input)),
                _ => pending.push((i, input)),
            }
        }
        let run_start = self.clock.now();
        let interval = self
            .opts
            .map_child_start_rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| 1.0 / r);
        let children = pending.into_iter().enumerate().map(|(j, (i, input))| {
            let start_at = interval.map(|dt| {
                run_start + chrono::Duration::microseconds((dt * j as f64 * 1e6).round() as i64)
            });
            let id = self.rng.borrow_mut().uuid_v4();
            let seed = self.rng.borrow_mut().next_u64();
            // Child histories are separate documents: kept only while the budget lasts (for
            // DescribeExecution of a STANDARD child), else only counted.
            let keep =
                m.execution_type == ExecutionType::Standard && self.child_detail_left.get() > 0;
            let opts = ExecutionOptions {
                execution_name: id.clone(),
                execution_type: m.execution_type,
                history: if keep {
                    HistoryMode::Full
                } else {
                    HistoryMode::CountOnly
                },
                child_detail_budget: 0,
                seed,
                execution_arn: Some(format!("{child_prefix}{id}")),
                inherited_variables: None,
                // A redrive keeps or reruns a child whole.
                track_progress: false,
                ..self.opts.clone()
            };
            async move {
                if let Some(t) = start_at.filter(|t| *t > self.clock.now()) {
                    self.clock.sleep_until(t).await;
                }
                let outcome = Box::pin(execute_body(
                    &m.processor,
                    None,
                    self.uses_context,
                    input.clone(),
                    &opts,
                    self.clock.clone(),
                    self.invoker.clone(),
                ))
                .await;
                (i, input, outcome)
            }
        });
        let mut stream = stream::iter(children).buffer_unordered(concurrency.max(1));
        while let Some((i, input, mut outcome)) = stream.next().await {
            let detail = self.keep_child_detail(&input, &mut outcome);
            self.children.borrow_mut().push(ChildExecution {
                execution_arn: outcome.execution_arn.clone(),
                execution_type: m.execution_type,
                status: outcome.status,
                transitions: outcome.transitions,
                start_date: outcome.start_date,
                stop_date: outcome.stop_date,
            });
            self.children
                .borrow_mut()
                .extend(outcome.children.iter().cloned());
            // Billing: a Distributed Map charges one parent transition per child started.
            self.transitions.set(self.transitions.get() + 1);
            let result = match outcome.status {
                ExecutionStatus::Succeeded => Ok(outcome.output.clone().unwrap_or(Value::Null)),
                _ => Err(AslError::with_cause(
                    outcome.error.clone().unwrap_or_default(),
                    outcome.cause.clone(),
                )),
            };
            records[i] = Some(ChildRecord {
                execution_arn: outcome.execution_arn.clone(),
                input,
                outcome: result,
                start_date: super::history::format_time(outcome.start_date),
                stop_date: super::history::format_time(outcome.stop_date),
                status: outcome.status,
                started: outcome.start_date,
                stopped: outcome.stop_date,
                detail,
            });
        }
        records.into_iter().flatten().collect()
    }

    /// A child's input, result and history, if it ran with a history and the execution's
    /// budget still has room for them.
    fn keep_child_detail(
        &self,
        input: &Value,
        outcome: &mut super::execution::ExecutionOutcome,
    ) -> Option<Arc<ChildDetail>> {
        if outcome.history.is_empty() {
            return None;
        }
        let size = |v: &Value| serde_json::to_vec(v).map_or(0, |b| b.len() as u64);
        let history = std::mem::take(&mut outcome.history);
        // An event's fields and its payload, estimated.
        let events: u64 = history.iter().map(|e| 160 + e.payload_bytes()).sum();
        let bytes = 256 + size(input) + outcome.output.as_ref().map_or(0, size) + events;
        let left = self.child_detail_left.get();
        if bytes > left {
            // Later children are not kept either, so a listing shows a clean cut.
            self.child_detail_left.set(0);
            return None;
        }
        self.child_detail_left.set(left - bytes);
        Some(Arc::new(ChildDetail {
            input: input.clone(),
            output: outcome.output.clone(),
            error: outcome.error.clone(),
            cause: outcome.cause.clone(),
            history,
            bytes,
        }))
    }
}

impl ChildRecord {
    /// A child kept from an earlier attempt of its map run.
    fn kept(k: KeptChild, input: Value) -> ChildRecord {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default()
        };
        ChildRecord {
            started: at(&k.start),
            stopped: at(&k.stop),
            execution_arn: k.execution_arn,
            input,
            outcome: Ok(k.output),
            start_date: k.start,
            stop_date: k.stop,
            status: ExecutionStatus::Succeeded,
            detail: None,
        }
    }
}

/// What a redrive of the map run does with this child: keep it if it succeeded.
fn kept_child(r: &ChildRecord) -> Branch {
    match (&r.outcome, r.status) {
        (Ok(v), ExecutionStatus::Succeeded) => Branch::Child(Box::new(KeptChild {
            execution_arn: r.execution_arn.clone(),
            output: v.clone(),
            start: r.start_date.clone(),
            stop: r.stop_date.clone(),
        })),
        _ => Branch::Restart,
    }
}

/// Counts `weight` items (or one child execution) that ended with `status`.
fn count(c: &mut RunCounts, status: ExecutionStatus, weight: u64) {
    c.total += weight;
    match status {
        ExecutionStatus::Succeeded => c.succeeded += weight,
        ExecutionStatus::Failed => c.failed += weight,
        ExecutionStatus::TimedOut => c.timed_out += weight,
        ExecutionStatus::Aborted => c.aborted += weight,
    }
}

fn iteration_details(key: &'static str, index: usize, name: &Arc<str>) -> Details {
    Details::MapIteration {
        key,
        index,
        name: name.clone(),
    }
}

/// MaxConcurrency and tolerated failures, resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MapLimits {
    max_concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_pct: Option<f64>,
}

impl MapLimits {
    pub(crate) fn new(
        max_concurrency: i64,
        tolerated_count: Option<i64>,
        tolerated_pct: Option<f64>,
    ) -> Result<MapLimits, String> {
        if max_concurrency < 0 {
            return Err("MaxConcurrency must be a non-negative integer".into());
        }
        if let Some(p) = tolerated_pct {
            if !(0.0..=100.0).contains(&p) {
                return Err("ToleratedFailurePercentage must be between 0 and 100.".into());
            }
        }
        if let Some(c) = tolerated_count {
            if c < 0 {
                return Err("ToleratedFailureCount must be a non-negative integer.".into());
            }
        }
        Ok(MapLimits {
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(usize::MAX),
            tolerated_count: tolerated_count.map(|c| c as u64),
            tolerated_pct,
        })
    }

    /// How many iterations may run at once (0 means the mode's own maximum).
    pub(crate) fn concurrency(&self, mode_max: usize, n: usize) -> usize {
        let c = if self.max_concurrency == 0 {
            mode_max
        } else {
            self.max_concurrency.min(mode_max)
        };
        c.min(n.max(1))
    }

    pub(crate) fn tolerates_any(&self) -> bool {
        self.tolerated_count.is_some_and(|c| c > 0) || self.tolerated_pct.is_some_and(|p| p > 0.0)
    }

    /// Whether `failures` out of `n` items exceed the thresholds.
    pub(crate) fn exceeded(&self, failures: usize, n: usize) -> bool {
        if failures == 0 {
            return false;
        }
        let by_count = match self.tolerated_count {
            Some(c) => failures as u64 > c,
            None => true,
        };
        let by_pct = match self.tolerated_pct {
            Some(p) => n > 0 && (failures as f64 * 100.0 / n as f64) > p,
            None => true,
        };
        match (self.tolerated_count.is_some(), self.tolerated_pct.is_some()) {
            (false, false) => true,
            (true, false) => by_count,
            (false, true) => by_pct,
            (true, true) => by_count && by_pct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_run_counts_split_by_status_and_weight() {
        let mut c = RunCounts::default();
        count(&mut c, ExecutionStatus::Succeeded, 3);
        count(&mut c, ExecutionStatus::Failed, 2);
        count(&mut c, ExecutionStatus::TimedOut, 1);
        count(&mut c, ExecutionStatus::Aborted, 4);
        assert_eq!(
            c,
            RunCounts {
                total: 10,
                succeeded: 3,
                failed: 2,
                timed_out: 1,
                aborted: 4,
                results_written: 0
            }
        );
    }

    #[test]
    fn thresholds() {
        let none = MapLimits::new(0, None, None).unwrap();
        assert!(none.exceeded(1, 10));
        assert!(!none.exceeded(0, 10));
        let count = MapLimits::new(0, Some(2), None).unwrap();
        assert!(!count.exceeded(2, 10));
        assert!(count.exceeded(3, 10));
        let pct = MapLimits::new(0, None, Some(50.0)).unwrap();
        assert!(!pct.exceeded(5, 10));
        assert!(pct.exceeded(6, 10));
        assert!(MapLimits::new(0, None, Some(100.1)).is_err());
        assert_eq!(none.concurrency(40, 1000), 40);
        assert_eq!(
            MapLimits::new(3, None, None).unwrap().concurrency(40, 1000),
            3
        );
        assert_eq!(none.concurrency(40, 2), 2);
    }
}
