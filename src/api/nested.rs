//! The API's state machines as the world's [`MachineSource`]: a `states:startExecution` Task
//! under `serve` starts a machine created through CreateStateMachine, and each child it ran
//! becomes an execution of its own, with its history, seen by DescribeExecution,
//! GetExecutionHistory and ListExecutions. A fire-and-forget child is listed as RUNNING from
//! its start; a child's end is revealed at the real moment its simulated end maps to under
//! the server's time scale (its parent's real start plus the simulated time since), like any
//! execution's (at once when the server has no time scale).

use std::sync::Arc;
use std::time::Instant;

use super::state::{
    reveal_instant, ApiState, ExecControl, ExecutionRecord, Finished, Registry, StartedVia,
};
use crate::engine::SimTime;
use crate::sim::nested::{ChildMachine, ChildRecord, ChildStart, MachineSource};

/// The server's machines, for the worlds it builds.
pub struct ApiMachines {
    state: Arc<ApiState>,
}

impl ApiMachines {
    pub fn new(state: Arc<ApiState>) -> Self {
        ApiMachines { state }
    }
}

impl MachineSource for ApiMachines {
    fn machine(&self, arn: &str, execution_name: &str) -> Option<ChildMachine> {
        let reg = self.state.registry();
        let target = super::versions::resolve(&reg, arn).ok()?;
        let point = super::versions::route_point(self.state.settings.seed, arn, execution_name);
        let (v, via) = target.pick(point);
        Some(ChildMachine {
            arn: v.arn.clone(),
            name: v.name.clone(),
            plan: v.plan.clone(),
            execution_type: v.kind,
            role_arn: v.role_arn.clone(),
            version_arn: via.version_arn,
            alias_arn: via.alias_arn,
        })
    }

    fn started(&self, child: &ChildStart) {
        let scale = self.state.settings.time_scale;
        let mut reg = self.state.registry();
        let Some(machine) = machine_version(&reg, &child.machine) else {
            return;
        };
        let real_start = real_start_of(&reg, &child.parent, child.start_date, scale);
        reg.insert_execution(ExecutionRecord {
            arn: child.execution_arn.clone(),
            name: child.execution_name.clone(),
            machine,
            input_text: child.input.to_string(),
            input: child.input.clone(),
            start: child.start_date,
            real_start,
            result: None,
            control: ExecControl::new(),
            via: via_of(&child.machine),
            attempt: None,
            redrive_tokens: Default::default(),
        });
    }

    fn record(&self, child: &ChildRecord) {
        let scale = self.state.settings.time_scale;
        let mut reg = self.state.registry();
        let Some(machine) = machine_version(&reg, &child.machine) else {
            return;
        };
        let o = &child.outcome;
        let real_start = match reg.execution(&o.execution_arn) {
            Ok(running) => running.real_start,
            Err(_) => real_start_of(&reg, &child.parent, o.start_date, scale),
        };
        let took = (o.stop_date - o.start_date).to_std().unwrap_or_default();
        let fin = Finished {
            status: o.status,
            output: o.output.clone(),
            error: o.error.clone(),
            cause: o.cause.clone(),
            stop: o.stop_date,
            history: o.history.clone(),
            reveal_at: reveal_instant(real_start, took, scale),
            // A child's bill is part of its parent's.
            summary: None,
            map_runs: o.map_runs.clone(),
            // It ran inside its parent's simulation: there is no run of its own to continue.
            redrive: Default::default(),
        };
        if let Ok(running) = reg.execution(&o.execution_arn) {
            // A fire-and-forget child, listed since it started.
            let _ = running.control.finished.send(true);
            reg.finish_execution(&o.execution_arn, fin);
            return;
        }
        let rec = ExecutionRecord {
            arn: o.execution_arn.clone(),
            name: child.execution_name.clone(),
            machine,
            input_text: child.input.to_string(),
            input: child.input.clone(),
            start: o.start_date,
            real_start,
            result: Some(fin),
            control: ExecControl::new(),
            via: via_of(&child.machine),
            attempt: None,
            redrive_tokens: Default::default(),
        };
        let _ = rec.control.finished.send(true);
        reg.insert_execution(rec);
    }
}

/// The real moment a child started at `start` maps to: its parent's real start plus the
/// simulated time since the parent started, under the time scale.
/// The version a child runs (the one its Task named, else the machine's current one), if the
/// registry still has it.
fn machine_version(reg: &Registry, m: &ChildMachine) -> Option<Arc<super::state::MachineVersion>> {
    let rec = reg.machines.get(&m.arn)?;
    match &m.version_arn {
        None => Some(rec.version.clone()),
        Some(varn) => {
            let n = varn.rsplit(':').next()?.parse::<u64>().ok()?;
            rec.published.get(&n).map(|p| p.version.clone())
        }
    }
}

fn via_of(m: &ChildMachine) -> StartedVia {
    StartedVia {
        version_arn: m.version_arn.clone(),
        alias_arn: m.alias_arn.clone(),
        test_case: None,
    }
}

fn real_start_of(reg: &Registry, parent: &str, start: SimTime, scale: Option<f64>) -> Instant {
    match reg.execution(parent) {
        Ok(p) => {
            let since = (start - p.start).to_std().unwrap_or_default();
            reveal_instant(p.real_start, since, scale)
        }
        Err(_) => Instant::now(),
    }
}
