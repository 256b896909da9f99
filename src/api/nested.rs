//! The API's state machines as the world's [`MachineSource`]: a `states:startExecution` Task
//! under `serve` starts a machine created through CreateStateMachine, and each child it ran
//! becomes an execution of its own, with its history, seen by DescribeExecution,
//! GetExecutionHistory and ListExecutions (visible at once, whatever the time scale).

use std::sync::Arc;
use std::time::Instant;

use super::state::{ApiState, ExecControl, ExecutionRecord, Finished};
use crate::sim::nested::{ChildMachine, ChildRecord, MachineSource};

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
    fn machine(&self, arn: &str) -> Option<ChildMachine> {
        let reg = self.state.registry();
        let m = reg.machines.get(arn)?;
        let v = &m.version;
        Some(ChildMachine {
            arn: v.arn.clone(),
            name: v.name.clone(),
            plan: v.plan.clone(),
            execution_type: v.kind,
            role_arn: v.role_arn.clone(),
        })
    }

    fn record(&self, child: &ChildRecord) {
        let mut reg = self.state.registry();
        let Some(machine) = reg
            .machines
            .get(&child.machine.arn)
            .map(|m| m.version.clone())
        else {
            return;
        };
        let o = &child.outcome;
        let rec = ExecutionRecord {
            arn: o.execution_arn.clone(),
            name: child.execution_name.clone(),
            machine,
            input_text: child.input.to_string(),
            input: child.input.clone(),
            start: o.start_date,
            real_start: Instant::now(),
            result: Some(Finished {
                status: o.status,
                output: o.output.clone(),
                error: o.error.clone(),
                cause: o.cause.clone(),
                stop: o.stop_date,
                history: o.history.clone(),
                reveal_at: Instant::now(),
                // A child's bill is part of its parent's.
                summary: None,
            }),
            control: ExecControl::new(),
        };
        let _ = rec.control.finished.send(true);
        reg.insert_execution(rec);
    }
}
