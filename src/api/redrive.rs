//! `RedriveExecution`: an unsuccessful Standard execution continues where it stopped.
//!
//! Every Standard execution the server runs tracks its progress
//! ([`crate::engine::ExecutionOptions::track_progress`]), so a FAILED, TIMED_OUT or ABORTED
//! one ends with a [`Resume`]: the state it was in, that state's input and the variables in
//! scope, and for a Parallel or inline Map state the branches and iterations that had already
//! succeeded (with their outputs). A redrive runs the same state machine version on the same
//! input from there ([`crate::sim::Simulation::redrive_with`]), as AWS documents: the
//! successful steps are not run again, "only the iterations and branches that failed or
//! aborted" are, and the execution keeps its ARN and start date.
//!
//! # History and dates
//!
//! The new attempt's events are appended to the execution's history after an
//! `ExecutionRedriven` event (`redriveCount`), numbered on from the last event. While it runs,
//! DescribeExecution says RUNNING and GetExecutionHistory shows the earlier attempts whole and
//! this one as far as it has got. `$$.Execution.StartTime` stays the first start,
//! `$$.Execution.RedriveCount` and `$$.Execution.RedriveTime` say which attempt this is. The
//! attempt gets a fresh execution timeout, and its history may use what is left of the
//! 25,000-event limit.
//!
//! # Randomness
//!
//! Each attempt draws its cold starts, latencies and tokens from seeds derived from the
//! execution's and the redrive's number: the same server seed and the same calls give the
//! same bytes, and a redrive does not replay the first attempt's draws.
//!
//! # When a redrive is refused (`ExecutionNotRedrivable`)
//!
//! As AWS: the execution is RUNNING or SUCCEEDED, its state machine was deleted ("State
//! machine is in DELETING status."), it stopped more than 14 days ago, it started
//! more than a year ago, or its history has 24,999 events or more. Also, where stepsim kept no
//! point to continue from: an execution stopped while its computed result was still being
//! revealed under `--time-scale` (its run had already ended; the cut is made afterwards), a
//! child started by `StartExecution.sync` (it ran inside its parent's simulation), an
//! execution of a mock test case (Step Functions Local has no redrive), and ends journaled
//! before this version. A Distributed Map state runs its map run again under the same ARN
//! (DescribeMapRun counts the redrive): the children that succeeded keep their outputs, the
//! others start again from their start, as new child executions.
//!
//! `clientToken`: a repeat of one of the execution's last 10 tokens within 15 minutes answers
//! that redrive's date and starts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::asl::model::ExecutionType;
use crate::engine::{ExecutionStatus, Resume, SimTime, HISTORY_EVENT_LIMIT};
use crate::sim::ExecutionLogging;

use super::error::ApiError;
use super::page::ts;
use super::request::Req;
use super::runner::{self, ExecJob};
use super::state::{wall_now, ApiState, Attempt, ExecControl, ExecutionRecord, RedriveToken, View};

/// How long after its stop an execution can be redriven.
const REDRIVABLE_PERIOD: chrono::Duration = chrono::Duration::days(14);
/// The longest a Standard execution may stay open, redrives included.
const MAX_OPEN_TIME: chrono::Duration = chrono::Duration::days(365);
/// A history this long has no room for `ExecutionRedriven` and one more event.
const HISTORY_ROOM: usize = 24_999;
/// How long a `clientToken` answers with its redrive instead of starting another.
const TOKEN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How many tokens of an execution are remembered.
const TOKENS_KEPT: usize = 10;

/// Where a redrive of `rec` would continue from, or why it cannot be redriven (AWS's
/// `redriveStatusReason` wording where AWS has one). `machine_deleted`: its state machine
/// was deleted since.
pub fn redrivable(
    rec: &ExecutionRecord,
    machine_deleted: bool,
    now: Instant,
    scale: Option<f64>,
    wall: SimTime,
) -> Result<Arc<Resume>, String> {
    if machine_deleted {
        return Err("State machine is in DELETING status.".into());
    }
    let View::Closed(f) = rec.view(now, scale) else {
        return Err("Execution is RUNNING and cannot be redriven.".into());
    };
    if rec.machine.kind == ExecutionType::Express {
        return Err("Executions of EXPRESS state machines cannot be redriven.".into());
    }
    if f.status == ExecutionStatus::Succeeded {
        return Err("Execution is SUCCEEDED and cannot be redriven.".into());
    }
    if wall - f.stop > REDRIVABLE_PERIOD {
        return Err("Execution redrivable period exceeded.".into());
    }
    if wall - rec.start > MAX_OPEN_TIME {
        return Err("Execution has exceeded the max execution time.".into());
    }
    if f.history.len() >= HISTORY_ROOM {
        return Err("Execution history event limit exceeded.".into());
    }
    if let Some(case) = &rec.via.test_case {
        return Err(format!(
            "Execution ran the mock test case '{case}'; stepsim does not redrive mocked \
             executions (Step Functions Local has no RedriveExecution)."
        ));
    }
    f.redrive.resume.clone().ok_or_else(|| {
        "stepsim kept no point to continue this execution from: it was stopped while its \
         computed result was still being revealed under --time-scale, or it ran as a nested \
         execution inside its parent's simulation, or its end was journaled by an older stepsim."
            .to_string()
    })
}

/// `RedriveExecution`.
pub fn redrive_execution(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("executionArn")?;
    super::names::check_execution_arn(arn)?;
    let token = req.opt_str("clientToken")?;
    if let Some(t) = token {
        if t.is_empty() || t.chars().count() > 64 {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'clientToken' failed to satisfy \
                 constraint: Member must have length between 1 and 64",
            ));
        }
    }
    let now = Instant::now();
    let (job, date) = {
        let mut reg = state.registry();
        let deleted = !reg.machines.contains_key(&reg.execution(arn)?.machine.arn);
        let rec = reg.execution_mut(arn)?;
        rec.redrive_tokens
            .retain(|t| now.saturating_duration_since(t.used) < TOKEN_WINDOW);
        if let Some(seen) = token.and_then(|t| rec.redrive_tokens.iter().find(|x| x.token == t)) {
            return Ok(json!({ "redriveDate": ts(seen.date) }));
        }
        let resume = redrivable(rec, deleted, now, state.settings.time_scale, wall_now())
            .map_err(|reason| ApiError::bad_request("ExecutionNotRedrivable", reason))?;
        let Some(prior) = rec.result.take() else {
            return Err(ApiError::bad_request(
                "ExecutionNotRedrivable",
                "Execution is RUNNING and cannot be redriven.",
            ));
        };
        let count = prior.redrive.count + 1;
        // After the stop it continues, and never before (dates stay in order).
        let date = wall_now().max(prior.stop);
        let events_before = prior.history.len() as u64;
        let control = ExecControl::new();
        rec.control = control.clone();
        rec.attempt = Some(Box::new(Attempt {
            start: date,
            real_start: now,
            prior: Some(prior),
        }));
        if let Some(t) = token {
            rec.redrive_tokens.push_back(RedriveToken {
                token: t.to_string(),
                date,
                used: now,
            });
            while rec.redrive_tokens.len() > TOKENS_KEPT {
                rec.redrive_tokens.pop_front();
            }
        }
        let job = job(state, rec, resume, count, date, events_before, control);
        reg.log(|j, reg| j.execution_redriven(reg, arn));
        (job, date)
    };
    runner::spawn_execution(state.clone(), arn.to_string(), now, job);
    Ok(json!({ "redriveDate": ts(date) }))
}

/// The simulation of redrive number `count` of `rec`, beginning at `date`.
fn job(
    state: &ApiState,
    rec: &ExecutionRecord,
    resume: Arc<Resume>,
    count: u32,
    date: SimTime,
    events_before: u64,
    control: Arc<ExecControl>,
) -> ExecJob {
    let machine = &rec.machine;
    let mut opts = runner::execution_options(
        state,
        &machine.name,
        &rec.name,
        &machine.role_arn,
        machine.kind,
        0,
    );
    let attempt = format!("redrive {count}");
    opts.seed = crate::rng::derive_seed(opts.seed, &attempt);
    opts.redrive_count = count;
    opts.first_start = Some(rec.start);
    opts.history_limit = Some(HISTORY_EVENT_LIMIT.saturating_sub(events_before));
    let world = runner::world_seed(state.settings.seed, &machine.arn, &rec.input);
    ExecJob {
        plan: machine.plan.clone(),
        input: rec.input.clone(),
        opts,
        origin: date,
        control,
        world_seed: crate::rng::derive_seed(world, &attempt),
        logging: ExecutionLogging::from_config(&machine.logging),
        mocks: None,
        resume: Some(resume),
    }
}
