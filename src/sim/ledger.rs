//! Per-execution accounting: everything the world model does (Lambda invocations, cold starts,
//! throttles, timeouts, billed milliseconds, S3 requests, log lines) is charged to the execution
//! whose call caused it, so that one run can print its `bill`, `lambda` and `logs` sections and a
//! sweep can price each execution while environments stay warm across executions.
//!
//! A call is attributed by its `CallContext::execution_arn`. Child executions (a Map's
//! iterations, a Distributed Map's child workflows) may call with the parent's ARN, with a child
//! ARN that starts with it, or with an ARN of their own. The ledger tries, in order:
//!
//! 1. the longest *registered* execution ARN that is a prefix of the call's ARN, ending at a `:`
//!    or `/` boundary (this covers the parent's own ARN and ARNs derived from it);
//! 2. for a Distributed Map child ARN as AWS forms it,
//!    `arn:aws:states:R:A:execution:MACHINE/LABEL:NAME-<uuid>` (or `express:`), the parent
//!    `arn:aws:states:R:A:execution:MACHINE:NAME`, if registered;
//! 3. the one execution that is open (begun and not yet ended), if exactly one is: a run or a
//!    sequential sweep worker brackets each top-level execution with
//!    [`Ledger::begin`]/[`Ledger::end`], and then every call it makes, however its children are
//!    named, is charged to it;
//! 4. otherwise the call's ARN becomes an entry of its own.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use serde::Serialize;
use serde_json::{json, Value};

use crate::engine::SimTime;
use crate::sim::config::Architecture;

/// Which function log lines the ledger keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogCapture {
    /// None (the cheapest).
    Off,
    /// Only the REPORT line of each invocation.
    Reports,
    /// START, handler lines, errors, END and REPORT.
    #[default]
    All,
}

/// Standard or Express: they are priced differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum WorkflowKind {
    #[serde(rename = "STANDARD")]
    Standard,
    #[serde(rename = "EXPRESS")]
    Express,
}

impl WorkflowKind {
    /// The kind an execution ARN implies: Express execution ARNs have an `:express:` segment
    /// (`arn:aws:states:REGION:ACCOUNT:express:MACHINE:NAME:ID`).
    pub fn from_execution_arn(arn: &str) -> WorkflowKind {
        if arn.contains(":express:") {
            WorkflowKind::Express
        } else {
            WorkflowKind::Standard
        }
    }
}

/// What one function did within one execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FunctionUsage {
    /// Requests that ran in an environment (these are billed).
    pub invocations: u64,
    /// Of those, how many started a new environment (paid an INIT).
    pub cold_starts: u64,
    /// Requests refused with `Lambda.TooManyRequestsException` (not billed).
    pub throttles: u64,
    /// Invocations that ran past the function's timeout.
    pub timeouts: u64,
    /// Invocations that ended in a function error (timeouts and crashes included).
    pub errors: u64,
    /// Requests that failed in the Lambda service itself (injected faults; not billed).
    pub service_errors: u64,
    /// Billed milliseconds (duration plus INIT, each invocation rounded up to 1 ms).
    pub billed_ms: u64,
    /// Sum of handler durations, in ms.
    pub duration_ms: f64,
    /// Sum of INIT durations, in ms.
    pub init_ms: f64,
}

/// The things that set a GB-s price: architecture, memory, and ephemeral storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ComputeClass {
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub ephemeral_storage_mb: u32,
}

/// Billing quantities of one [`ComputeClass`], kept under both INIT rules so that a bill can be
/// computed under either afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ComputeTotals {
    /// Lambda requests.
    pub requests: u64,
    /// Billed ms with INIT billed (AWS's rule since 2025-08-01).
    pub billed_ms: u64,
    /// Billed ms under the older rule (INIT free for zip packages on managed runtimes).
    pub billed_ms_legacy_init: u64,
    /// Σ max-memory-used MB × billed ms (current rule), for the max-memory comparison mode.
    pub used_mb_ms: u64,
    /// The same under the older INIT rule.
    pub used_mb_ms_legacy_init: u64,
}

/// S3 requests made on behalf of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct S3Usage {
    /// GET and HEAD requests (S3's GET price class).
    pub get_requests: u64,
    /// PUT, COPY and POST requests.
    pub put_requests: u64,
    /// LIST requests (priced like PUT).
    pub list_requests: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// Calls to DynamoDB, SQS, SNS and EventBridge made on behalf of one execution
/// (see [`crate::sim::services`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceUsage {
    /// DynamoDB requests (any action).
    pub dynamodb_requests: u64,
    /// DynamoDB read request units, in halves (an eventually consistent 4 KB read is 1).
    pub dynamodb_read_half_units: u64,
    /// DynamoDB write request units.
    pub dynamodb_write_units: u64,
    /// SQS requests, counting each 64 KB chunk of a payload.
    pub sqs_requests: u64,
    /// SQS requests to FIFO queues (priced apart); left out of reports while zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub sqs_fifo_requests: u64,
    /// SNS publishes, counting each 64 KB chunk.
    pub sns_publishes: u64,
    /// EventBridge custom events, counting each 64 KB chunk.
    pub events: u64,
    /// Step Functions executions started by this one (`states:startExecution`).
    pub child_executions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One line of a function's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Simulated time, RFC 3339 with milliseconds.
    pub timestamp: String,
    pub function: String,
    pub message: String,
}

/// Express usage reported by the engine: the execution's duration and memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExpressUsage {
    pub duration_ms: u64,
    pub memory_mb: u64,
}

/// Everything charged to one execution.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionUsage {
    pub execution_arn: String,
    pub kind: WorkflowKind,
    /// State transitions (Standard), as counted by the engine.
    pub transitions: u64,
    /// Duration and memory (Express), as reported by the engine.
    pub express: Option<ExpressUsage>,
    /// Express child executions this execution started (Distributed Map children), each billed
    /// as an Express workflow: one request plus its duration.
    pub express_children: Vec<ExpressUsage>,
    /// Per function, by name.
    pub functions: BTreeMap<String, FunctionUsage>,
    pub compute: BTreeMap<ComputeClass, ComputeTotals>,
    pub s3: S3Usage,
    /// DynamoDB, SQS, SNS and EventBridge calls.
    pub services: ServiceUsage,
    /// Function log lines (START/END/REPORT and handler lines), when logs are captured.
    pub logs: Vec<LogLine>,
}

impl ExecutionUsage {
    /// Empty usage for an execution.
    pub fn new(execution_arn: &str, kind: WorkflowKind) -> Self {
        ExecutionUsage {
            execution_arn: execution_arn.to_string(),
            kind,
            transitions: 0,
            express: None,
            express_children: Vec::new(),
            functions: BTreeMap::new(),
            compute: BTreeMap::new(),
            s3: S3Usage::default(),
            services: ServiceUsage::default(),
            logs: Vec::new(),
        }
    }

    /// The `lambda` section of `stepsim run --json`: per function, by name.
    pub fn lambda_json(&self) -> Value {
        serde_json::to_value(&self.functions).unwrap_or(Value::Null)
    }

    /// The `logs` section of `stepsim run --json`.
    pub fn logs_json(&self) -> Value {
        serde_json::to_value(&self.logs).unwrap_or(Value::Null)
    }

    /// The REPORT lines, in order.
    pub fn report_lines(&self) -> impl Iterator<Item = &LogLine> {
        self.logs
            .iter()
            .filter(|l| l.message.starts_with("REPORT "))
    }

    /// A summary of every counter (not the logs), for tests and tools.
    pub fn summary_json(&self) -> Value {
        json!({
            "execution_arn": self.execution_arn,
            "kind": self.kind,
            "transitions": self.transitions,
            "express": self.express,
            "lambda": self.lambda_json(),
            "compute": self.compute.iter().map(|(k, v)| json!({"class": k, "totals": v})).collect::<Vec<_>>(),
            "s3": self.s3,
        })
    }

    /// The usage of function `name`, created on first use. Returns `None` only if the map
    /// misbehaves, which it cannot; callers skip the update in that case rather than panic.
    pub(crate) fn function_mut(&mut self, name: &str) -> Option<&mut FunctionUsage> {
        if !self.functions.contains_key(name) {
            self.functions
                .insert(name.to_string(), FunctionUsage::default());
        }
        self.functions.get_mut(name)
    }
}

/// The usage of every execution a world has seen.
#[derive(Debug, Default)]
pub struct Ledger {
    executions: BTreeMap<Rc<str>, ExecutionUsage>,
    /// Executions begun and not yet ended.
    open: BTreeSet<Rc<str>>,
    /// Call ARN -> the execution it is charged to (lookups only, never iterated).
    resolved: HashMap<String, Rc<str>>,
}

/// The parent of a Distributed Map child execution ARN
/// (`arn:P:states:R:A:KIND:MACHINE/LABEL:NAME-<uuid>` → `arn:P:states:R:A:execution:MACHINE:NAME`).
fn map_child_parent(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(8, ':').collect();
    let [arn_, partition, "states", region, account, "execution" | "express", machine_label, name] =
        parts.as_slice()
    else {
        return None;
    };
    let (machine, _label) = machine_label.split_once('/')?;
    let cut = name.len().checked_sub(37)?;
    let (parent_name, suffix) = name.split_at_checked(cut)?;
    let uuid = suffix.strip_prefix('-')?;
    let looks_like_uuid = uuid.len() == 36
        && uuid.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    if !looks_like_uuid || parent_name.is_empty() {
        return None;
    }
    Some(format!(
        "{arn_}:{partition}:states:{region}:{account}:execution:{machine}:{parent_name}"
    ))
}

impl Ledger {
    /// Registers an execution and marks it open (idempotent; the kind of an existing entry is
    /// updated).
    pub fn begin(&mut self, arn: &str, kind: WorkflowKind) {
        let key = match self.executions.get_key_value(arn) {
            Some((k, _)) => k.clone(),
            None => {
                let k: Rc<str> = Rc::from(arn);
                self.executions
                    .insert(k.clone(), ExecutionUsage::new(arn, kind));
                k
            }
        };
        if let Some(u) = self.executions.get_mut(arn) {
            u.kind = kind;
        }
        self.open.insert(key);
        // A new registration can change where child ARNs resolve.
        self.resolved.clear();
    }

    /// Marks an execution finished: calls from unknown ARNs are no longer charged to it.
    pub fn end(&mut self, arn: &str) {
        if self.open.remove(arn) {
            self.resolved.clear();
        }
    }

    /// The execution a call from `call_arn` is charged to (registering `call_arn` itself when no
    /// registered execution is a prefix of it).
    pub fn resolve(&mut self, call_arn: &str) -> Rc<str> {
        if let Some(k) = self.resolved.get(call_arn) {
            return k.clone();
        }
        let mut cut = call_arn.len();
        let key = loop {
            let cand = &call_arn[..cut];
            if let Some((k, _)) = self.executions.get_key_value(cand) {
                break k.clone();
            }
            match cand.rfind([':', '/']) {
                Some(i) => cut = i,
                None => break self.resolve_unregistered(call_arn),
            }
        };
        self.resolved.insert(call_arn.to_string(), key.clone());
        key
    }

    /// Rules 2–4 of the module docs, for an ARN no registered ARN is a prefix of.
    fn resolve_unregistered(&mut self, call_arn: &str) -> Rc<str> {
        if let Some(parent) = map_child_parent(call_arn) {
            if let Some((k, _)) = self.executions.get_key_value(parent.as_str()) {
                return k.clone();
            }
        }
        if self.open.len() == 1 {
            if let Some(k) = self.open.first() {
                return k.clone();
            }
        }
        let k: Rc<str> = Rc::from(call_arn);
        self.executions.insert(
            k.clone(),
            ExecutionUsage::new(call_arn, WorkflowKind::from_execution_arn(call_arn)),
        );
        k
    }

    /// The usage charged to a key returned by [`Ledger::resolve`] (or a registered ARN).
    pub fn get(&self, arn: &str) -> Option<&ExecutionUsage> {
        self.executions.get(arn)
    }

    pub(crate) fn get_mut(&mut self, arn: &str) -> Option<&mut ExecutionUsage> {
        self.executions.get_mut(arn)
    }

    /// Appends a function's log line, stamped `at`, to the execution of ledger key `key`.
    pub(crate) fn log(&mut self, key: &str, at: SimTime, function: &str, message: String) {
        if let Some(u) = self.executions.get_mut(key) {
            u.logs.push(LogLine {
                timestamp: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                function: function.to_string(),
                message,
            });
        }
    }

    /// Removes and returns an execution's usage.
    pub fn take(&mut self, arn: &str) -> Option<ExecutionUsage> {
        let u = self.executions.remove(arn);
        if u.is_some() {
            self.open.remove(arn);
            self.resolved.clear();
        }
        u
    }

    /// The ARNs of all executions, sorted.
    pub fn executions(&self) -> Vec<String> {
        self.executions.keys().map(|k| k.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "arn:aws:states:us-east-1:111:execution:sm:run1";

    #[test]
    fn children_charge_their_parent() {
        let mut l = Ledger::default();
        l.begin(PARENT, WorkflowKind::Standard);
        assert_eq!(&*l.resolve(PARENT), PARENT);
        assert_eq!(&*l.resolve(&format!("{PARENT}/map:3")), PARENT);
        assert_eq!(&*l.resolve(&format!("{PARENT}:child-7")), PARENT);
        // Not a prefix at a boundary, and no execution open: its own entry.
        l.end(PARENT);
        let other = format!("{PARENT}x");
        assert_eq!(&*l.resolve(&other), other.as_str());
        assert_eq!(l.executions().len(), 2);
    }

    #[test]
    fn distributed_map_children_as_aws_names_them() {
        let mut l = Ledger::default();
        l.begin(PARENT, WorkflowKind::Standard);
        let other = "arn:aws:states:us-east-1:111:execution:sm:run2";
        l.begin(other, WorkflowKind::Standard);
        let child = "arn:aws:states:us-east-1:111:execution:sm/MapLabel:run1-0b3ea7c4-4c7a-4bb0-9d47-2f4c6d0e8a11";
        assert_eq!(&*l.resolve(child), PARENT);
        let express_child =
            "arn:aws:states:us-east-1:111:express:sm/L:run2-0b3ea7c4-4c7a-4bb0-9d47-2f4c6d0e8a11";
        assert_eq!(&*l.resolve(express_child), other);
        assert_eq!(
            map_child_parent("arn:aws:states:r:1:execution:sm/L:run1-notauuid"),
            None
        );
        assert_eq!(
            map_child_parent("arn:aws:states:r:1:execution:sm:run1"),
            None
        );
    }

    #[test]
    fn the_one_open_execution_takes_unknown_arns() {
        let mut l = Ledger::default();
        l.begin(PARENT, WorkflowKind::Standard);
        // A grandchild whose ARN says nothing about its parent.
        assert_eq!(
            &*l.resolve("arn:aws:states:us-east-1:111:execution:sm/L2:abc-def"),
            PARENT
        );
        l.end(PARENT);
        let after = "arn:aws:states:us-east-1:111:execution:sm/L2:abc-xyz";
        assert_eq!(&*l.resolve(after), after);
        // With two open executions nothing is guessed.
        l.begin("arn:a", WorkflowKind::Standard);
        l.begin("arn:b", WorkflowKind::Standard);
        assert_eq!(&*l.resolve("arn:c"), "arn:c");
    }

    #[test]
    fn registering_a_child_takes_over_its_calls() {
        let mut l = Ledger::default();
        l.begin(PARENT, WorkflowKind::Standard);
        let child = format!("{PARENT}/map:1");
        let grandchild = format!("{child}:iter-2");
        assert_eq!(&*l.resolve(&grandchild), PARENT);
        l.begin(&child, WorkflowKind::Standard);
        assert_eq!(&*l.resolve(&grandchild), child.as_str());
    }

    #[test]
    fn unknown_arns_register_with_their_kind() {
        let mut l = Ledger::default();
        let ex = "arn:aws:states:us-east-1:111:express:sm:run:abc";
        let k = l.resolve(ex);
        assert_eq!(l.get(&k).unwrap().kind, WorkflowKind::Express);
        let k = l.resolve("");
        assert_eq!(l.get(&k).unwrap().kind, WorkflowKind::Standard);
    }
}
