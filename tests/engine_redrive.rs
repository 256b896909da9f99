//! Redrive at the engine level: an unsuccessful Standard execution run with progress tracking
//! reports where it stood, and `Simulation::redrive_with` continues it from there without
//! rerunning what had succeeded (AWS: "Step Functions preserves the results ... of the
//! successful steps"; Parallel and inline Map redrive "only the iterations and branches that
//! failed or aborted"; the execution-level timeout starts again).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use serde_json::{json, Value};
use stepsim::asl::model::ExecutionType;
use stepsim::engine::{
    clock::default_origin, ExecutionOptions, ExecutionOutcome, ExecutionStatus, FunctionName,
    LambdaInvoke, LambdaResponse, Plan, RedriveBranch, Resume, ServiceCall, ServiceRequest,
    ServiceResponse, ServiceResult, TaskFailure, TaskInvoker,
};
use stepsim::sim::Simulation;

/// Answers a Lambda call by function name; `broken` functions fail until `fixed` is set.
struct Flaky {
    fixed: Cell<bool>,
    broken: Vec<&'static str>,
    calls: RefCell<Vec<String>>,
}

impl TaskInvoker for Flaky {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let ServiceRequest::Lambda(LambdaInvoke {
                function: FunctionName::Text(function),
                payload,
                ..
            }) = call.request
            else {
                return Err(TaskFailure::new("States.TaskFailed", "not a Lambda call"));
            };
            self.calls
                .borrow_mut()
                .push(format!("{function}:{payload}"));
            if self.broken.contains(&function.as_str()) && !self.fixed.get() {
                return Err(TaskFailure::new("Broken", format!("{function} is broken")));
            }
            Ok(ServiceResponse::Lambda(LambdaResponse {
                payload: json!({"from": function, "got": payload}),
                status_code: 200,
                executed_version: "$LATEST".into(),
                request_id: String::new(),
                http: None,
            }))
        })
    }
}

struct Case {
    plan: Plan,
    invoker: Rc<Flaky>,
    opts: ExecutionOptions,
}

impl Case {
    fn new(def: Value, broken: Vec<&'static str>) -> Case {
        let machine = stepsim::asl::load_value(&def).expect("valid definition");
        Case {
            plan: Plan::compile(&machine).expect("compiles"),
            invoker: Rc::new(Flaky {
                fixed: Cell::new(false),
                broken,
                calls: RefCell::new(Vec::new()),
            }),
            opts: ExecutionOptions {
                track_progress: true,
                ..Default::default()
            },
        }
    }

    fn run(&self, input: Value) -> ExecutionOutcome {
        let sim = Simulation::builder()
            .origin(default_origin())
            .build()
            .unwrap();
        let inv: Rc<dyn TaskInvoker> = self.invoker.clone();
        sim.block_on(sim.execute_with(&self.plan, input, &self.opts, inv))
            .outcome
    }

    /// Fixes the broken functions and redrives from `resume`; returns the outcome and the
    /// calls the redrive made.
    fn redrive(
        &self,
        resume: &Resume,
        input: Value,
        count: u32,
    ) -> (ExecutionOutcome, Vec<String>) {
        self.invoker.fixed.set(true);
        self.invoker.calls.borrow_mut().clear();
        let sim = Simulation::builder()
            .origin(default_origin())
            .build()
            .unwrap();
        let inv: Rc<dyn TaskInvoker> = self.invoker.clone();
        let opts = ExecutionOptions {
            redrive_count: count,
            first_start: Some(default_origin() - chrono::Duration::hours(1)),
            ..self.opts.clone()
        };
        let out = sim
            .block_on(sim.redrive_with(&self.plan, resume, input, &opts, inv))
            .outcome;
        let calls = self.invoker.calls.borrow().clone();
        (out, calls)
    }
}

/// A Map state named `Each` (label `Each`) whose items with `v` = 3 call the broken `bad`
/// function and the others `good`, run as `config` says.
fn each_item(config: Value) -> Value {
    json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "End": true, "Label": "Each", "ItemProcessor": {
            "ProcessorConfig": config,
            "StartAt": "Pick", "States": {
                "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 3, "Next": "Bad"}], "Default": "Good"},
                "Bad": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:bad", "End": true},
                "Good": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:good", "End": true}
            }}}
    }})
}

fn types(out: &ExecutionOutcome) -> Vec<&'static str> {
    out.history.iter().map(|e| e.event_type).collect()
}

#[test]
fn a_redrive_continues_at_the_failed_task_with_its_input_and_variables() {
    let c = Case::new(
        json!({"StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Assign": {"seen.$": "$.n"}, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:work", "Next": "Report"},
            "Report": {"Type": "Pass", "Parameters": {"work.$": "$", "seen.$": "$seen", "redrives.$": "$$.Execution.RedriveCount", "input.$": "$$.Execution.Input", "start.$": "$$.Execution.StartTime", "redriven.$": "$$.Execution.RedriveTime"}, "End": true}
        }}),
        vec!["arn:aws:lambda:us-east-1:111111111111:function:work"],
    );
    let first = c.run(json!({"n": 4}));
    assert_eq!(first.status, ExecutionStatus::Failed);
    assert_eq!(first.error.as_deref(), Some("Broken"));
    let resume = first
        .resume
        .clone()
        .expect("a failed tracked execution can be redriven");
    assert_eq!(resume.name, "Work");
    assert_eq!(resume.input, json!({"n": 4}));
    assert_eq!(resume.variables.get("seen"), Some(&json!(4)));

    let (again, calls) = c.redrive(&resume, json!({"n": 4}), 1);
    assert_eq!(
        again.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        again.error
    );
    assert_eq!(calls.len(), 1, "only the failed task runs again: {calls:?}");
    let out = again.output.clone().unwrap();
    assert_eq!(out["seen"], json!(4), "variables carry over");
    let at = |t: chrono::DateTime<chrono::Utc>| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    assert_eq!(
        out["start"],
        at(default_origin() - chrono::Duration::hours(1)),
        "StartTime stays the first attempt's"
    );
    assert_eq!(
        out["redriven"],
        at(default_origin()),
        "RedriveTime is this attempt's"
    );
    assert_eq!(out["redrives"], json!(1));
    assert_eq!(
        out["input"],
        json!({"n": 4}),
        "$$.Execution.Input is the original input"
    );
    assert_eq!(out["work"]["got"], json!({"n": 4}));
    let t = types(&again);
    assert_eq!(t[0], "ExecutionRedriven");
    assert_eq!(t[1], "TaskStateEntered", "Prepare is not rerun: {t:?}");
    assert_eq!(*t.last().unwrap(), "ExecutionSucceeded");
    assert!(again.resume.is_none());
    assert_eq!(
        again.history[0].to_json(stepsim::engine::TimestampFormat::EpochSeconds)
            ["executionRedrivenEventDetails"]["redriveCount"],
        json!(1)
    );
}

#[test]
fn a_parallel_redrive_reruns_only_the_failed_and_cut_short_branches() {
    let f = |n: &str| format!("arn:aws:lambda:us-east-1:111111111111:function:{n}");
    let c = Case::new(
        json!({"StartAt": "Fan", "States": {
            "Fan": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Ok", "States": {"Ok": {"Type": "Task", "Resource": f("ok"), "End": true}}},
                {"StartAt": "First", "States": {
                    "First": {"Type": "Task", "Resource": f("first"), "Next": "Second"},
                    "Second": {"Type": "Task", "Resource": f("second"), "End": true}}},
                {"StartAt": "Slow", "States": {
                    "Slow": {"Type": "Wait", "Seconds": 60, "Next": "After"},
                    "After": {"Type": "Pass", "Result": "waited", "End": true}}}
            ]}
        }}),
        vec!["arn:aws:lambda:us-east-1:111111111111:function:second"],
    );
    let first = c.run(json!({"k": 1}));
    assert_eq!(first.status, ExecutionStatus::Failed);
    let resume = first.resume.clone().unwrap();
    assert_eq!(resume.name, "Fan");
    let b = resume.branches.clone().unwrap();
    assert!(matches!(&b[0], RedriveBranch::Done(v) if v["from"] == json!(f("ok"))));
    assert!(matches!(&b[1], RedriveBranch::Resume(r) if r.name == "Second"));
    assert!(
        matches!(&b[2], RedriveBranch::Resume(r) if r.name == "Slow"),
        "the branch cut short by the failure resumes where it was: {:?}",
        b[2]
    );

    let (again, calls) = c.redrive(&resume, json!({"k": 1}), 1);
    assert_eq!(
        again.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        again.cause
    );
    assert_eq!(calls.len(), 1, "only `second` is called again: {calls:?}");
    assert!(calls[0].starts_with(&f("second")));
    let out = again.output.clone().unwrap();
    assert_eq!(out[0]["from"], json!(f("ok")), "the kept branch's output");
    assert_eq!(out[1]["from"], json!(f("second")));
    assert_eq!(
        out[1]["got"]["from"],
        json!(f("first")),
        "Second's input as recorded"
    );
    assert_eq!(out[2], json!("waited"));
    let t = types(&again);
    assert!(
        !t.contains(&"TaskScheduled") || t.iter().filter(|e| **e == "TaskScheduled").count() == 1
    );
}

#[test]
fn an_inline_map_redrive_reruns_only_the_failed_and_cut_short_iterations() {
    let c = Case::new(
        each_item(json!({"Mode": "INLINE"})),
        vec!["arn:aws:lambda:us-east-1:111111111111:function:bad"],
    );
    let items = json!([{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}]);
    let first = c.run(items.clone());
    assert_eq!(first.status, ExecutionStatus::Failed);
    let resume = first.resume.clone().unwrap();
    // Items 1 and 2 finished; item 3 failed; item 4 was in flight when the
    // failure ended the run, so it was cut short and is rerun too.
    assert_eq!(resume.rerun_count(), 2, "{resume:?}");
    let b = resume.branches.clone().unwrap();
    assert!(matches!(&b[0], RedriveBranch::Done(_)));
    assert!(matches!(&b[1], RedriveBranch::Done(_)));
    assert!(matches!(&b[2], RedriveBranch::Resume(r) if r.name == "Bad"));
    assert!(matches!(&b[3], RedriveBranch::Resume(r) if r.name == "Good"));

    let (again, calls) = c.redrive(&resume, items, 1);
    assert_eq!(
        again.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        again.cause
    );
    assert_eq!(calls.len(), 2, "only items 3 and 4 call again: {calls:?}");
    let out = again.output.clone().unwrap();
    let froms: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["from"].as_str().unwrap().rsplit(':').next().unwrap())
        .collect();
    assert_eq!(froms, ["good", "good", "bad", "good"]);
    let t = types(&again);
    assert_eq!(t.iter().filter(|e| **e == "MapIterationStarted").count(), 2);
}

#[test]
fn a_timed_out_execution_resumes_at_the_state_it_was_in_with_a_fresh_timeout() {
    let c = Case::new(
        json!({"TimeoutSeconds": 10, "StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 5, "Next": "W2"},
            "W2": {"Type": "Wait", "Seconds": 8, "End": true}
        }}),
        vec![],
    );
    let first = c.run(json!({}));
    assert_eq!(first.status, ExecutionStatus::TimedOut);
    let resume = first.resume.clone().unwrap();
    assert_eq!(resume.name, "W2");
    let (again, _) = c.redrive(&resume, json!({}), 1);
    assert_eq!(again.status, ExecutionStatus::Succeeded);
    assert_eq!(
        again.duration().as_secs(),
        8,
        "only W2 runs again, under a new timeout"
    );
}

#[test]
fn nothing_to_resume_without_tracking_after_success_or_for_express() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:t", "End": true}
    }});
    let mut c = Case::new(
        def.clone(),
        vec!["arn:aws:lambda:us-east-1:111111111111:function:t"],
    );
    c.opts.track_progress = false;
    assert!(c.run(json!({})).resume.is_none());
    c.opts.track_progress = true;
    c.opts.execution_type = ExecutionType::Express;
    assert!(
        c.run(json!({})).resume.is_none(),
        "Express executions have no redrive"
    );
    let ok = Case::new(def, vec![]);
    let out = ok.run(json!({}));
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert!(out.resume.is_none());
}

#[test]
fn a_redrive_that_fails_again_reports_a_new_resume_and_the_same_bytes_twice() {
    let c = Case::new(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:a", "Next": "B"},
            "B": {"Type": "Fail", "Error": "Still", "Cause": "no"}
        }}),
        vec![],
    );
    let first = c.run(json!({"x": 1}));
    let resume = first.resume.clone().unwrap();
    assert_eq!(resume.name, "B");
    let (a, _) = c.redrive(&resume, json!({"x": 1}), 1);
    let (b, _) = c.redrive(&resume, json!({"x": 1}), 1);
    assert_eq!(a.status, ExecutionStatus::Failed);
    assert_eq!(a.resume.as_ref().unwrap().name, "B");
    let ja: Vec<Value> = a
        .history
        .iter()
        .map(|e| e.to_json(stepsim::engine::TimestampFormat::EpochSeconds))
        .collect();
    let jb: Vec<Value> = b
        .history
        .iter()
        .map(|e| e.to_json(stepsim::engine::TimestampFormat::EpochSeconds))
        .collect();
    assert_eq!(ja, jb);
}

#[test]
fn a_distributed_map_redrive_reruns_only_the_failed_children_in_the_same_map_run() {
    let c = Case::new(
        each_item(json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})),
        vec!["arn:aws:lambda:us-east-1:111111111111:function:bad"],
    );
    let items = json!([{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}]);
    let first = c.run(items.clone());
    assert_eq!(first.status, ExecutionStatus::Failed);
    assert_eq!(first.map_runs.len(), 1);
    let run_arn = first.map_runs[0].map_run_arn.clone();
    let resume = first.resume.clone().unwrap();
    assert_eq!(resume.name, "Each");
    assert_eq!(
        resume.map_run.as_ref().map(|m| m.arn.as_str()),
        Some(run_arn.as_str())
    );
    let kids = resume.branches.clone().unwrap();
    assert_eq!(kids.len(), 4);
    assert!(matches!(&kids[2], RedriveBranch::Restart), "{:?}", kids[2]);
    assert!(kids
        .iter()
        .enumerate()
        .all(|(i, k)| (i == 2) != matches!(k, RedriveBranch::Child(_))));
    assert_eq!(resume.rerun_count(), 1);
    // What the journal keeps reads back the same.
    let text = serde_json::to_string(&resume).unwrap();
    assert_eq!(serde_json::from_str::<Resume>(&text).unwrap(), resume);

    let (again, calls) = c.redrive(&resume, items, 1);
    assert_eq!(
        again.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        again.cause
    );
    assert_eq!(
        calls.len(),
        1,
        "only the failed child runs again: {calls:?}"
    );
    let froms: Vec<String> = again
        .output
        .clone()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o["from"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(froms, ["good", "good", "bad", "good"]);
    let t = types(&again);
    assert!(t.contains(&"MapRunRedriven"), "{t:?}");
    assert!(!t.contains(&"MapRunStarted"), "{t:?}");
    let redriven = again
        .history
        .iter()
        .find(|e| e.event_type == "MapRunRedriven")
        .unwrap()
        .to_json(stepsim::engine::TimestampFormat::EpochSeconds);
    assert_eq!(
        redriven["mapRunRedrivenEventDetails"]["mapRunArn"],
        json!(run_arn)
    );
    assert_eq!(
        redriven["mapRunRedrivenEventDetails"]["redriveCount"],
        json!(1)
    );
    let run = &again.map_runs[0];
    assert_eq!(run.map_run_arn, run_arn, "the same map run");
    assert_eq!(run.redrive_count, 1);
    assert!(run.redrive_date.is_some());
    assert_eq!((run.executions.total, run.executions.succeeded), (4, 4));
    // The kept children are listed under their first attempt's ARNs.
    let first_arns: Vec<&str> = first.map_runs[0]
        .children
        .iter()
        .filter(|c| c.status == "SUCCEEDED")
        .map(|c| c.execution_arn.as_str())
        .collect();
    for a in first_arns {
        assert!(
            run.children.iter().any(|c| c.execution_arn == a),
            "{a} kept"
        );
    }
}
