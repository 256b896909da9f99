//! Semantic checks over a parsed [`StateMachine`]: transitions that name no state,
//! unreachable states, error-name rules in Retry/Catch, resource ARNs, timestamps, and (through
//! [`super::expressions`]) every path, template, intrinsic and JSONata expression. Like
//! statelint, it reports every problem it finds and never stops at the first.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::{DiagCode, Diagnostic};
use super::model::*;
use super::source_map::join;
// Re-exported for the interpreter (engine/choice.rs), which reaches it through this path.
use super::timestamp::is_rfc3339;

/// Runs every semantic check, appending problems to `diags`.
pub fn validate(machine: &StateMachine, diags: &mut Vec<Diagnostic>) {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    check_body(&machine.body, diags, &mut names);
    super::expressions::check_machine(machine, diags);
}

fn check_body<'m>(
    body: &'m Body,
    diags: &mut Vec<Diagnostic>,
    names: &mut BTreeMap<&'m str, &'m str>,
) {
    // States the parser dropped (an unknown `Type`, a malformed state) already have their
    // own diagnostic; naming one in StartAt or Next is not a second problem.
    let dropped = dropped_states(body, diags);
    let mut known: BTreeSet<&str> = body.states.iter().map(|s| s.name.as_str()).collect();
    known.extend(dropped.iter().map(String::as_str));
    let start_ptr = join(&body.pointer, "StartAt");
    if !body.start_at.is_empty() && !known.contains(body.start_at.as_str()) {
        diags.push(Diagnostic::new(
            DiagCode::MissingTransitionTarget,
            start_ptr,
            format!(
                "StartAt names state '{}', which does not exist",
                body.start_at
            ),
        ));
    }

    for state in &body.states {
        // State names must be unique across the whole machine (branches and item processors
        // included), because history events and the context object identify states by name.
        if let Some(first) = names.insert(&state.name, &state.pointer) {
            diags.push(Diagnostic::new(
                DiagCode::DuplicateStateName,
                &state.pointer,
                format!("State name '{}' is already used at {first}", state.name),
            ));
        }
        let mut target = |name: &str, ptr: String, what: &str| {
            if !known.contains(name) {
                diags.push(Diagnostic::new(
                    DiagCode::MissingTransitionTarget,
                    ptr,
                    format!("{what} names state '{name}', which does not exist in this scope"),
                ));
            }
        };
        if let Transition::Next(n) = &state.transition {
            target(n, join(&state.pointer, "Next"), "Next");
        }
        for c in &state.catch {
            if !c.next.is_empty() {
                target(&c.next, join(&c.pointer, "Next"), "Catch Next");
            }
        }
        if let StateKind::Choice(ch) = &state.kind {
            for rule in &ch.choices {
                if !rule.next.is_empty() {
                    target(&rule.next, join(&rule.pointer, "Next"), "Choice Next");
                }
            }
            if let Some(d) = &ch.default {
                target(d, join(&state.pointer, "Default"), "Default");
            }
        }
        check_error_names(state, diags);
        match &state.kind {
            StateKind::Task(t) => {
                check_resource(&t.resource, &join(&state.pointer, "Resource"), diags)
            }
            StateKind::Wait(w) => {
                if let WaitSpec::Timestamp(StrField::Literal(ts)) = &w.wait {
                    if !is_rfc3339(ts) {
                        diags.push(Diagnostic::new(
                            DiagCode::SchemaValidationFailed,
                            join(&state.pointer, "Timestamp"),
                            "String does not match RFC3339 timestamp",
                        ));
                    }
                }
            }
            StateKind::Parallel(p) => {
                for b in &p.branches {
                    check_body(b, diags, names);
                }
            }
            StateKind::Map(m) => {
                check_body(&m.processor, diags, names);
                if let Some(r) = &m.item_reader {
                    check_s3_resource(
                        &r.resource,
                        &["getObject", "listObjectsV2"],
                        &join(&r.pointer, "Resource"),
                        diags,
                    );
                }
                if let Some(w) = &m.result_writer {
                    if let Some(res) = &w.resource {
                        check_s3_resource(
                            res,
                            &["putObject"],
                            &join(&w.pointer, "Resource"),
                            diags,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    // Reachability through a dropped state is unknown, so it is only judged on whole bodies.
    if dropped.is_empty() {
        check_reachability(body, diags);
    }
}

/// Names of the states of `body` that the parser reported a problem for and left out of the
/// model, read back from the diagnostics' pointers (`<body>/States/<name>[/...]`).
fn dropped_states(body: &Body, diags: &[Diagnostic]) -> BTreeSet<String> {
    let prefix = join(&body.pointer, "States");
    diags
        .iter()
        .filter_map(|d| d.pointer.strip_prefix(prefix.as_str()))
        .filter_map(|rest| rest.strip_prefix('/'))
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .filter(|name| body.index_of(name).is_none())
        .collect()
}

/// States that cannot be reached from StartAt are an error, as in AWS.
fn check_reachability(body: &Body, diags: &mut Vec<Diagnostic>) {
    if body.states.is_empty() {
        return;
    }
    let by_name: std::collections::HashMap<&str, &State> =
        body.states.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = vec![body.start_at.as_str()];
    while let Some(name) = stack.pop() {
        if !seen.insert(name) {
            continue;
        }
        let Some(state) = by_name.get(name) else {
            continue;
        };
        if let Transition::Next(n) = &state.transition {
            stack.push(n);
        }
        for c in &state.catch {
            stack.push(&c.next);
        }
        if let StateKind::Choice(ch) = &state.kind {
            for r in &ch.choices {
                stack.push(&r.next);
            }
            if let Some(d) = &ch.default {
                stack.push(d);
            }
        }
    }
    for state in &body.states {
        if !seen.contains(state.name.as_str()) {
            diags.push(Diagnostic::new(
                DiagCode::UnreachableState,
                &state.pointer,
                format!("State '{}' is not reachable from StartAt", state.name),
            ));
        }
    }
}

/// `States.ALL` must appear alone, in the last retrier or catcher.
fn check_error_names(state: &State, diags: &mut Vec<Diagnostic>) {
    let lists: Vec<(&str, &Vec<String>, usize, usize)> = state
        .retry
        .iter()
        .enumerate()
        .map(|(i, r)| (r.pointer.as_str(), &r.error_equals, i, state.retry.len()))
        .chain(
            state
                .catch
                .iter()
                .enumerate()
                .map(|(i, c)| (c.pointer.as_str(), &c.error_equals, i, state.catch.len())),
        )
        .collect();
    for (ptr, errors, i, n) in lists {
        if errors.iter().any(|e| e == "States.ALL") {
            if errors.len() > 1 {
                diags.push(Diagnostic::new(
                    DiagCode::SchemaValidationFailed,
                    join(ptr, "ErrorEquals"),
                    "States.ALL must appear alone in ErrorEquals",
                ));
            }
            if i + 1 != n {
                diags.push(Diagnostic::new(
                    DiagCode::SchemaValidationFailed,
                    join(ptr, "ErrorEquals"),
                    "States.ALL must be in the last retrier or catcher",
                ));
            }
        }
        for e in errors {
            if e.starts_with("States.") && !is_known_states_error(e) {
                diags.push(Diagnostic::new(
                    DiagCode::SchemaValidationFailed,
                    join(ptr, "ErrorEquals"),
                    format!("'{e}' is not a predefined States error name"),
                ));
            }
        }
    }
}

/// The predefined error names AWS documents (error handling in Step Functions).
pub const STATES_ERRORS: &[&str] = &[
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
    "States.BranchFailed",
];

fn is_known_states_error(e: &str) -> bool {
    STATES_ERRORS.contains(&e)
}

/// Optimized service integrations (`arn:aws:states:::SERVICE:ACTION`) that AWS recognises.
/// `aws-sdk:` integrations accept any service and action.
const OPTIMIZED: &[(&str, &[&str])] = &[
    ("lambda", &["invoke"]),
    ("batch", &["submitJob"]),
    (
        "dynamodb",
        &["getItem", "putItem", "deleteItem", "updateItem"],
    ),
    ("ecs", &["runTask"]),
    ("sns", &["publish"]),
    ("sqs", &["sendMessage"]),
    ("glue", &["startJobRun"]),
    ("states", &["startExecution"]),
    ("events", &["putEvents"]),
    ("apigateway", &["invoke"]),
    ("http", &["invoke"]),
    ("bedrock", &["invokeModel", "createModelCustomizationJob"]),
    (
        "athena",
        &[
            "startQueryExecution",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
    ),
    (
        "codebuild",
        &[
            "startBuild",
            "stopBuild",
            "batchDeleteBuilds",
            "batchGetReports",
            "startBuildBatch",
        ],
    ),
    (
        "eks",
        &[
            "createCluster",
            "deleteCluster",
            "createFargateProfile",
            "deleteFargateProfile",
            "createNodegroup",
            "deleteNodegroup",
            "runJob",
            "call",
        ],
    ),
    (
        "elasticmapreduce",
        &[
            "createCluster",
            "terminateCluster",
            "addStep",
            "cancelStep",
            "setClusterTerminationProtection",
            "modifyInstanceFleetByName",
            "modifyInstanceGroupByName",
        ],
    ),
    (
        "emr-containers",
        &[
            "startJobRun",
            "createVirtualCluster",
            "deleteVirtualCluster",
        ],
    ),
    (
        "emr-serverless",
        &[
            "createApplication",
            "startApplication",
            "stopApplication",
            "deleteApplication",
            "startJobRun",
            "cancelJobRun",
        ],
    ),
    ("glue-databrew", &["startJobRun"]),
    ("mediaconvert", &["createJob"]),
    (
        "sagemaker",
        &[
            "createEndpoint",
            "createEndpointConfig",
            "createHyperParameterTuningJob",
            "createLabelingJob",
            "createModel",
            "createProcessingJob",
            "createTrainingJob",
            "createTransformJob",
            "updateEndpoint",
        ],
    ),
    ("s3", &["getObject", "listObjectsV2", "putObject"]),
];

/// Splits an integration suffix (`.sync`, `.sync:2`, `.waitForTaskToken`) off a resource.
pub fn split_pattern(resource: &str) -> (&str, Option<&str>) {
    for suffix in [".sync:2", ".sync", ".waitForTaskToken"] {
        if let Some(base) = resource.strip_suffix(suffix) {
            return (base, Some(suffix));
        }
    }
    (resource, None)
}

fn check_resource(resource: &str, ptr: &str, diags: &mut Vec<Diagnostic>) {
    if resource.is_empty() {
        return; // already reported as missing
    }
    let bad = |diags: &mut Vec<Diagnostic>, why: &str| {
        diags.push(Diagnostic::new(
            DiagCode::InvalidResource,
            ptr,
            format!("The resource provided {resource} is not recognized. {why}"),
        ))
    };
    // A JSONata expression cannot stand in for a Resource.
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        bad(diags, "The value is not a valid resource ARN.");
        return;
    }
    let service = parts[2];
    match service {
        "lambda" => {
            let rest = parts[5];
            if !rest.starts_with("function:") || rest.len() <= "function:".len() {
                bad(diags, "A Lambda resource must name a function.");
            }
        }
        "states" => {
            let rest = parts[5];
            if rest.starts_with("activity:") || rest.starts_with("stateMachine:") {
                return;
            }
            let (base, pattern) = split_pattern(resource);
            let base_parts: Vec<&str> = base.splitn(7, ':').collect();
            if base_parts.len() < 7 {
                bad(diags, "The value is not a valid resource ARN.");
                return;
            }
            let (svc, action) = (base_parts[5], base_parts[6]);
            if svc == "aws-sdk" {
                if !action.contains(':') || action.ends_with(':') {
                    bad(
                        diags,
                        "An aws-sdk resource must name a service and an action.",
                    );
                }
                if pattern.is_some_and(|p| p.starts_with(".sync")) {
                    bad(diags, "aws-sdk integrations do not support .sync.");
                }
                return;
            }
            let known = OPTIMIZED
                .iter()
                .find(|(s, _)| *s == svc)
                .is_some_and(|(_, actions)| actions.contains(&action));
            if !known || svc == "s3" {
                bad(
                    diags,
                    "The value is not a valid resource ARN, or the resource is not available in this region.",
                );
            }
        }
        _ => bad(diags, "The value is not a valid resource ARN."),
    }
}

fn check_s3_resource(resource: &str, actions: &[&str], ptr: &str, diags: &mut Vec<Diagnostic>) {
    let ok = actions.iter().any(|a| {
        resource == format!("arn:aws:states:::s3:{a}")
            || resource == format!("arn:aws:states:::aws-sdk:s3:{a}")
    });
    if !ok {
        diags.push(Diagnostic::new(
            DiagCode::InvalidResource,
            ptr,
            format!(
                "The resource provided {resource} is not recognized here; expected one of {}",
                actions
                    .iter()
                    .map(|a| format!("arn:aws:states:::s3:{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::parse::parse_value;
    use serde_json::json;

    fn diags(v: serde_json::Value) -> Vec<Diagnostic> {
        let mut d = Vec::new();
        if let Some(m) = parse_value(&v, &mut d) {
            validate(&m, &mut d);
        }
        d
    }

    #[test]
    fn unknown_type_is_the_only_problem() {
        let d = diags(json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Bogus", "Next": "B"},
                "B": {"Type": "Pass", "Next": "C"},
                "C": {"Type": "Pass", "End": true}
            }
        }));
        let pointers: Vec<&str> = d.iter().map(|x| x.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/States/A/Type"], "{d:#?}");
        // A missing state next to a dropped one is still reported.
        let d = diags(json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Bogus", "Next": "B"},
                "B": {"Type": "Pass", "Next": "Missing"}
            }
        }));
        assert!(d.iter().any(|x| x.pointer == "/States/B/Next"), "{d:#?}");
        assert!(!d.iter().any(|x| x.pointer == "/StartAt"), "{d:#?}");
    }

    #[test]
    fn missing_targets_and_unreachable_states() {
        let d = diags(json!({
            "StartAt": "Nope",
            "States": {
                "A": {"Type": "Pass", "Next": "Missing"},
                "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Gone"}], "Default": "A"}
            }
        }));
        let codes: Vec<(DiagCode, &str)> = d.iter().map(|x| (x.code, x.pointer.as_str())).collect();
        assert!(codes.contains(&(DiagCode::MissingTransitionTarget, "/StartAt")));
        assert!(codes.contains(&(DiagCode::MissingTransitionTarget, "/States/A/Next")));
        assert!(codes.contains(&(
            DiagCode::MissingTransitionTarget,
            "/States/B/Choices/0/Next"
        )));
        assert!(codes.contains(&(DiagCode::UnreachableState, "/States/A")));
        assert!(codes.contains(&(DiagCode::UnreachableState, "/States/B")));
    }

    #[test]
    fn branches_are_checked_in_their_own_scope() {
        let d = diags(json!({
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "P"}}}
                ]}
            }
        }));
        assert!(d
            .iter()
            .any(|x| x.pointer == "/States/P/Branches/0/States/X/Next"));
    }

    #[test]
    fn states_all_rules() {
        let d = diags(json!({
            "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                      "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
                      "Catch": [{"ErrorEquals": ["States.ALL", "Y"], "Next": "T"}, {"ErrorEquals": ["States.Bogus"], "Next": "T"}]}
            }
        }));
        let msgs: Vec<&str> = d.iter().map(|x| x.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("last retrier")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("alone")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("States.Bogus")), "{msgs:?}");
    }

    #[test]
    fn resources() {
        let mut d = Vec::new();
        check_resource("arn:aws:states:::dynamodb:query", "/r", &mut d);
        check_resource(
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "/r",
            &mut d,
        );
        check_resource(
            "arn:aws:lambda:us-east-1:111111111111:function:f",
            "/r",
            &mut d,
        );
        check_resource("arn:aws:states:::aws-sdk:s3:listBuckets", "/r", &mut d);
        check_resource("not-an-arn", "/r", &mut d);
        assert_eq!(d.len(), 2, "{d:?}");
    }
}
