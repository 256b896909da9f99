//! What a Distributed Map's run did, kept with the execution so that `ListMapRuns` and
//! `DescribeMapRun` can answer from it (AWS's `MapRunListItem` and `DescribeMapRun` shapes).
//!
//! A map run is recorded when its `MapRunStarted` event is, and closed when its
//! `MapRunSucceeded`/`MapRunFailed` event is. One that never closes (the execution timed out
//! or was stopped while its children ran) is reported `ABORTED` at the execution's end.

use std::sync::Arc;

use serde_json::Value;

use super::clock::SimTime;
use super::history::HistoryEvent;

/// A map run's status, as DescribeMapRun spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }

    pub fn parse(s: &str) -> Option<MapRunStatus> {
        Some(match s {
            "RUNNING" => MapRunStatus::Running,
            "SUCCEEDED" => MapRunStatus::Succeeded,
            "FAILED" => MapRunStatus::Failed,
            "ABORTED" => MapRunStatus::Aborted,
            _ => return None,
        })
    }
}

/// How many items (or child executions) ended which way: AWS's `MapRunItemCounts` and
/// `MapRunExecutionCounts` once the run has ended (nothing pending or running).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    /// Written by the ResultWriter.
    pub results_written: u64,
}

/// One child execution of a map run, as ListExecutions by `mapRunArn` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct MapRunChild {
    pub execution_arn: String,
    /// As an execution's status is spelled (`SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`).
    pub status: &'static str,
    pub start_date: SimTime,
    pub stop_date: SimTime,
    /// What DescribeExecution and GetExecutionHistory show of a STANDARD child, when the
    /// execution kept it ([`crate::engine::ExecutionOptions::child_detail_budget`]).
    pub detail: Option<Arc<ChildDetail>>,
}

/// A Distributed Map child's input, result and history, as its parent kept them.
#[derive(Debug, PartialEq)]
pub struct ChildDetail {
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// About how many bytes of memory it holds (what the budget counts).
    pub bytes: u64,
}

/// The most children a map run keeps for listing (the counts cover them all).
pub const MAX_LISTED_CHILDREN: usize = 10_000;

/// One Distributed Map run.
#[derive(Clone, Debug, PartialEq)]
pub struct MapRunReport {
    pub map_run_arn: String,
    /// The state machine the children run: `stateMachine:{machine}/{label}`.
    pub state_machine_arn: String,
    pub status: MapRunStatus,
    pub start_date: SimTime,
    /// `None` while running.
    pub stop_date: Option<SimTime>,
    /// As configured (0: no limit but the mode's own).
    pub max_concurrency: u64,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    pub items: RunCounts,
    pub executions: RunCounts,
    /// Its child executions in start order, at most [`MAX_LISTED_CHILDREN`] of them.
    pub children: Vec<MapRunChild>,
    /// How many times the run was redriven, and when last.
    pub redrive_count: u32,
    pub redrive_date: Option<SimTime>,
}

impl MapRunReport {
    /// Closes a run that never ended by itself: its execution ended (timed out, failed on a
    /// terminal error or was stopped) at `stop` while the children ran.
    pub fn abort_at(&mut self, stop: SimTime) {
        if self.status == MapRunStatus::Running || self.stop_date.is_some_and(|s| s > stop) {
            self.status = MapRunStatus::Aborted;
            self.stop_date = Some(stop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [
            MapRunStatus::Running,
            MapRunStatus::Succeeded,
            MapRunStatus::Failed,
            MapRunStatus::Aborted,
        ] {
            assert_eq!(MapRunStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MapRunStatus::parse("DONE"), None);
    }

    #[test]
    fn abort_closes_only_what_was_open_at_the_stop() {
        let t0 = crate::engine::clock::default_origin();
        let report = |status, stop| MapRunReport {
            map_run_arn: "m".into(),
            state_machine_arn: "s".into(),
            status,
            start_date: t0,
            stop_date: stop,
            max_concurrency: 0,
            tolerated_failure_percentage: 0.0,
            tolerated_failure_count: 0,
            items: RunCounts::default(),
            executions: RunCounts::default(),
            children: Vec::new(),
            redrive_count: 0,
            redrive_date: None,
        };
        let stop = t0 + chrono::Duration::seconds(5);
        let mut open = report(MapRunStatus::Running, None);
        open.abort_at(stop);
        assert_eq!(
            (open.status, open.stop_date),
            (MapRunStatus::Aborted, Some(stop))
        );
        let early = t0 + chrono::Duration::seconds(2);
        let mut done = report(MapRunStatus::Succeeded, Some(early));
        done.abort_at(stop);
        assert_eq!(
            (done.status, done.stop_date),
            (MapRunStatus::Succeeded, Some(early))
        );
        let late = t0 + chrono::Duration::seconds(9);
        let mut cut = report(MapRunStatus::Succeeded, Some(late));
        cut.abort_at(stop);
        assert_eq!(
            (cut.status, cut.stop_date),
            (MapRunStatus::Aborted, Some(stop))
        );
    }
}
