//! Step Functions Local's mock configuration file (`MockConfigFile.json`), read and checked.
//!
//! The format is AWS's, unchanged, so that files teams already use for Step Functions Local run
//! here as they are:
//!
//! ```json
//! {"StateMachines": {"LambdaSQSIntegration": {"TestCases": {
//!      "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"}}}},
//!  "MockedResponses": {
//!      "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {}}}},
//!      "MockedLambdaRetry": {"0": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "x"}},
//!                            "1-2": {"Return": {"StatusCode": 200, "Payload": {}}}}}}
//! ```
//!
//! A test case maps state names to mocked responses; a mocked response maps invocation numbers
//! (`"0"`, or an inclusive range `"1-2"`) to a `Return` (the task's result) or a `Throw`
//! (`Error` and `Cause`). The whole file is checked when it is read, and the chosen test case
//! against the definition before a run, so a typo is an error naming the file and the JSON
//! path, not a surprise halfway through a run. This module owns that reading and checking;
//! [`super::mock`] answers calls from the result.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::asl::model::{Body, StateKind, StateMachine};

/// One answer of a mocked response.
#[derive(Clone, Debug, PartialEq)]
pub enum MockStep {
    /// The task's result, exactly as written (for `lambda:invoke`, the whole Invoke answer:
    /// `{"StatusCode": 200, "Payload": ...}`).
    Return(Value),
    /// The task fails with this error and cause.
    Throw { error: String, cause: String },
}

/// A mocked response: answers by invocation number, as inclusive ranges from 0 without gaps.
#[derive(Clone, Debug, PartialEq)]
pub struct MockedResponse {
    /// `(first, last, step)`, sorted, contiguous from 0.
    ranges: Vec<(u64, u64, MockStep)>,
}

impl MockedResponse {
    /// The answer to the `n`th invocation (0-based). Invocations past the last range get the
    /// last answer again, so a `Return` that ends a sequence keeps answering. (`None` only for
    /// a response without ranges, which [`MockConfig::parse`] refuses.)
    pub fn step(&self, n: u64) -> Option<&MockStep> {
        self.ranges
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&n))
            .or(self.ranges.last())
            .map(|(_, _, s)| s)
    }

    /// How many invocations the ranges cover.
    pub fn covered(&self) -> u64 {
        self.ranges.last().map(|(_, l, _)| l + 1).unwrap_or(0)
    }
}

/// The mocks of one test case: state name -> (response name, response).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestCaseMocks {
    /// The state machine's name in the file.
    pub machine: String,
    /// The test case's name.
    pub case: String,
    pub states: BTreeMap<String, (String, Arc<MockedResponse>)>,
}

/// A checked mock configuration file.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// The file, as named in messages.
    pub path: PathBuf,
    /// Machine -> test case -> state -> response name.
    pub machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    pub responses: BTreeMap<String, Arc<MockedResponse>>,
}

/// A problem with a mock file or with the test case asked for: the file, the JSON path, and
/// what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {path}: {message}")]
pub struct MockConfigError {
    pub file: String,
    /// A JSON path such as `$.MockedResponses.MockedLambdaSuccess["1-2"]`.
    pub path: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "StateMachines", default)]
    state_machines: BTreeMap<String, RawMachine>,
    #[serde(rename = "MockedResponses", default)]
    mocked_responses: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMachine {
    #[serde(rename = "TestCases")]
    test_cases: BTreeMap<String, BTreeMap<String, String>>,
}

/// A JSON path member: `.Name` for plain names, `["1-2"]` otherwise.
pub fn member(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!(".{name}")
    } else {
        format!("[{}]", Value::String(name.to_string()))
    }
}

/// Turns serde_path_to_error's path (`MockedResponses.X.1-2`) into a JSON path.
fn json_path_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("$");
    for seg in path.iter() {
        match seg {
            Segment::Map { key } => out.push_str(&member(key)),
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { variant } => out.push_str(&member(variant)),
            Segment::Unknown => {}
        }
    }
    out
}

impl MockConfig {
    /// Reads and checks a mock file.
    pub fn load(path: &Path) -> Result<MockConfig, MockConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| MockConfigError {
            file: path.display().to_string(),
            path: "$".into(),
            message: format!("cannot read the file: {e}"),
        })?;
        MockConfig::parse(&text, path)
    }

    /// Checks a mock file's text; `path` names it in messages.
    pub fn parse(text: &str, path: &Path) -> Result<MockConfig, MockConfigError> {
        let file = path.display().to_string();
        let err = |p: String, m: String| MockConfigError {
            file: file.clone(),
            path: p,
            message: m,
        };
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let msg = e.inner().to_string();
            err(json_path_of(e.path()), msg)
        })?;
        let mut responses = BTreeMap::new();
        for (name, steps) in &raw.mocked_responses {
            let at = format!("$.MockedResponses{}", member(name));
            let response = check_response(steps, &at).map_err(|(p, m)| err(p, m))?;
            responses.insert(name.clone(), Arc::new(response));
        }
        let mut machines = BTreeMap::new();
        for (machine, m) in raw.state_machines {
            for (case, states) in &m.test_cases {
                for (state, response) in states {
                    if !responses.contains_key(response) {
                        return Err(err(
                            format!(
                                "$.StateMachines{}.TestCases{}{}",
                                member(&machine),
                                member(case),
                                member(state)
                            ),
                            format!(
                                "unknown mocked response '{response}' (MockedResponses has: {})",
                                names(responses.keys())
                            ),
                        ));
                    }
                }
            }
            machines.insert(machine, m.test_cases);
        }
        Ok(MockConfig {
            path: path.to_path_buf(),
            machines,
            responses,
        })
    }

    fn error(&self, path: String, message: String) -> MockConfigError {
        MockConfigError {
            file: self.path.display().to_string(),
            path,
            message,
        }
    }

    /// The machine a definition runs as: the first of `names` the file has, or else the only
    /// machine of the file.
    pub fn machine_for(&self, wanted: &[String]) -> Result<String, MockConfigError> {
        if let Some(n) = wanted.iter().find(|n| self.machines.contains_key(*n)) {
            return Ok(n.clone());
        }
        if self.machines.len() == 1 {
            return Ok(self.machines.keys().next().cloned().unwrap_or_default());
        }
        Err(self.error(
            "$.StateMachines".into(),
            format!(
                "no state machine named {} (the file has: {})",
                wanted
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                names(self.machines.keys())
            ),
        ))
    }

    /// The mocks of `case` for `machine`, checked against the definition: every mocked state
    /// must be a Task state of it (at any depth: Parallel branches, Map processors).
    pub fn test_case(
        &self,
        machine: &str,
        case: &str,
        definition: Option<&StateMachine>,
    ) -> Result<TestCaseMocks, MockConfigError> {
        let m_at = format!("$.StateMachines{}", member(machine));
        let cases = self.machines.get(machine).ok_or_else(|| {
            self.error(
                "$.StateMachines".into(),
                format!(
                    "unknown state machine '{machine}' (the file has: {})",
                    names(self.machines.keys())
                ),
            )
        })?;
        let states = cases.get(case).ok_or_else(|| {
            self.error(
                format!("{m_at}.TestCases"),
                format!(
                    "unknown test case '{case}' (the machine has: {})",
                    names(cases.keys())
                ),
            )
        })?;
        let kinds = definition.map(state_kinds);
        let mut out = TestCaseMocks {
            machine: machine.to_string(),
            case: case.to_string(),
            states: BTreeMap::new(),
        };
        for (state, response) in states {
            let at = format!("{m_at}.TestCases{}{}", member(case), member(state));
            if let Some(kinds) = &kinds {
                match kinds.get(state.as_str()) {
                    None => {
                        return Err(self.error(
                            at,
                            format!(
                                "the definition has no state '{state}' (its Task states: {})",
                                names(kinds.iter().filter(|(_, k)| **k == "Task").map(|(n, _)| n))
                            ),
                        ))
                    }
                    Some(&kind) if kind != "Task" => {
                        return Err(self.error(
                            at,
                            format!("'{state}' is a {kind} state; only Task states are mocked"),
                        ))
                    }
                    Some(_) => {}
                }
            }
            let r = self.responses.get(response).cloned().ok_or_else(|| {
                self.error(at.clone(), format!("unknown mocked response '{response}'"))
            })?;
            out.states.insert(state.clone(), (response.clone(), r));
        }
        Ok(out)
    }
}

fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Every state of a definition, at any depth, with its type name.
pub fn state_kinds(machine: &StateMachine) -> BTreeMap<String, &'static str> {
    fn walk(body: &Body, out: &mut BTreeMap<String, &'static str>) {
        for s in &body.states {
            out.insert(s.name.clone(), s.type_name());
            match &s.kind {
                StateKind::Parallel(p) => p.branches.iter().for_each(|b| walk(b, out)),
                StateKind::Map(m) => walk(&m.processor, out),
                _ => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&machine.body, &mut out);
    out
}

/// Parses `"3"` or `"1-2"` into an inclusive range.
fn parse_range(key: &str) -> Result<(u64, u64), String> {
    let num = |s: &str| -> Result<u64, String> {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "'{key}' is not an invocation number or range (\"0\", \"1-2\")"
            ));
        }
        s.parse::<u64>()
            .map_err(|_| format!("'{key}': the invocation number is too large"))
    };
    match key.split_once('-') {
        None => {
            let n = num(key)?;
            Ok((n, n))
        }
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("the range '{key}' runs backwards"));
            }
            Ok((a, b))
        }
    }
}

/// Checks one mocked response: ranges from 0 without gaps or overlaps, each with exactly one
/// of `Return`/`Throw`.
fn check_response(
    steps: &BTreeMap<String, Map<String, Value>>,
    at: &str,
) -> Result<MockedResponse, (String, String)> {
    if steps.is_empty() {
        return Err((
            at.to_string(),
            "no responses: give at least \"0\"".to_string(),
        ));
    }
    let mut ranges = Vec::new();
    for (key, step) in steps {
        let here = format!("{at}{}", member(key));
        let (first, last) = parse_range(key).map_err(|m| (here.clone(), m))?;
        ranges.push((first, last, check_step(step, &here)?, key.clone()));
    }
    ranges.sort_by_key(|r| (r.0, r.1));
    let mut expected = 0u64;
    for (first, last, _, key) in &ranges {
        let here = format!("{at}{}", member(key));
        if *first > expected {
            let missing = if *first - expected == 1 {
                format!("invocation {expected} has")
            } else {
                format!("invocations {expected}-{} have", first - 1)
            };
            return Err((
                here,
                format!("{missing} no response (ranges must start at 0 and leave no gaps)"),
            ));
        }
        if *first < expected {
            return Err((
                here,
                format!("'{key}' overlaps another range (invocation {first} is answered twice)"),
            ));
        }
        expected = last.saturating_add(1);
    }
    Ok(MockedResponse {
        ranges: ranges.into_iter().map(|(f, l, s, _)| (f, l, s)).collect(),
    })
}

fn check_step(step: &Map<String, Value>, at: &str) -> Result<MockStep, (String, String)> {
    let fail = |m: String| (at.to_string(), m);
    let allowed: BTreeSet<&str> = ["Return", "Throw"].into();
    if let Some(k) = step.keys().find(|k| !allowed.contains(k.as_str())) {
        return Err(fail(format!(
            "unknown field '{k}' (expected Return or Throw)"
        )));
    }
    match (step.get("Return"), step.get("Throw")) {
        (Some(_), Some(_)) => Err(fail("both Return and Throw".into())),
        (None, None) => Err(fail("neither Return nor Throw".into())),
        (Some(v), None) => Ok(MockStep::Return(v.clone())),
        (None, Some(t)) => {
            let here = format!("{at}.Throw");
            let obj = t.as_object().ok_or_else(|| {
                (
                    here.clone(),
                    "Throw must be an object with Error and Cause".to_string(),
                )
            })?;
            if let Some(k) = obj.keys().find(|k| *k != "Error" && *k != "Cause") {
                return Err((
                    here,
                    format!("unknown field '{k}' (expected Error and Cause)"),
                ));
            }
            let error = match obj.get("Error") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err((here, "Error must be a non-empty string".into())),
            };
            let cause = match obj.get("Cause") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err((here, "Cause must be a string".into())),
            };
            Ok(MockStep::Throw { error, cause })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MockConfig, MockConfigError> {
        MockConfig::parse(text, Path::new("M.json"))
    }

    #[test]
    fn ranges_and_steps() {
        let c = parse(
            r#"{"MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}, "1-2": {"Return": 1}, "3": {"Return": null}}}}"#,
        )
        .unwrap();
        let r = &c.responses["R"];
        assert_eq!(
            r.step(0),
            Some(&MockStep::Throw {
                error: "E".into(),
                cause: String::new()
            })
        );
        assert_eq!(r.step(1), Some(&MockStep::Return(1.into())));
        assert_eq!(r.step(2), Some(&MockStep::Return(1.into())));
        assert_eq!(r.step(3), Some(&MockStep::Return(Value::Null)));
        assert_eq!(r.step(9), Some(&MockStep::Return(Value::Null)));
        assert_eq!(r.covered(), 4);
    }

    #[test]
    fn bad_files_name_the_path() {
        let cases = [
            (r#"{"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}"#, "M.json: $.MockedResponses.R[\"0\"]: both Return and Throw"),
            (r#"{"MockedResponses": {"R": {"0": {}}}}"#, "M.json: $.MockedResponses.R[\"0\"]: neither Return nor Throw"),
            (r#"{"MockedResponses": {"R": {"2-1": {"Return": 1}}}}"#, "M.json: $.MockedResponses.R[\"2-1\"]: the range '2-1' runs backwards"),
            (r#"{"MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 1}}}}"#, "M.json: $.MockedResponses.R[\"2\"]: invocation 1 has no response (ranges must start at 0 and leave no gaps)"),
            (r#"{"MockedResponses": {"R": {"0-2": {"Return": 1}, "1": {"Return": 1}}}}"#, "M.json: $.MockedResponses.R[\"1\"]: '1' overlaps another range (invocation 1 is answered twice)"),
            (r#"{"MockedResponses": {"R": {"x": {"Return": 1}}}}"#, "M.json: $.MockedResponses.R.x: 'x' is not an invocation number or range (\"0\", \"1-2\")"),
            (r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "Nope"}}}}}"#, "M.json: $.StateMachines.M.TestCases.T.S: unknown mocked response 'Nope' (MockedResponses has: none)"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), want, "{text}");
        }
        let e = parse(r#"{"StateMachines": {"M": {"TestCase": {}}}}"#).unwrap_err();
        assert_eq!(e.path, "$.StateMachines.M.TestCase");
        assert!(e.message.contains("unknown field `TestCase`"), "{e}");
    }
}
