//! Execution history in AWS's shape: event ids, `previousEventId`, timestamps, the event type
//! names (`PassStateEntered`, `LambdaFunctionScheduled`, `MapIterationStarted`, ...) and their
//! `*EventDetails` objects.
//!
//! Every event gets an id, because AWS's error causes quote them ("entered at the event id
//! #2") and the 25,000-event limit counts them. Storing the events is optional: a sweep of
//! hundreds of executions keeps only counts, so memory stays flat.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::clock::SimTime;
pub use super::payload::Payload;

/// What the recorder keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HistoryMode {
    /// Keep every event with its details.
    #[default]
    Full,
    /// Count events (ids still advance), keep nothing.
    CountOnly,
}

/// The `*EventDetails` of an event. The two most frequent kinds (a state entered or exited)
/// are typed, so recording them costs one clone of the state's input or output and nothing
/// else; the rest carry a prepared details object.
#[derive(Clone, Debug, PartialEq)]
pub enum Details {
    None,
    /// State inputs and outputs are shared ([`History::payload`]): a state's output and the
    /// next state's input, or a Choice's input and output, are one value in memory.
    StateEntered {
        name: Arc<str>,
        input: Payload,
    },
    StateExited {
        name: Arc<str>,
        output: Payload,
    },
    ExecutionStarted {
        input: Value,
        role_arn: Arc<str>,
    },
    ExecutionSucceeded {
        output: Value,
    },
    /// `mapIteration{Started,Succeeded,Failed,Aborted}EventDetails`.
    MapIteration {
        key: &'static str,
        index: usize,
        name: Arc<str>,
    },
    /// Any other details: the member's key and its object.
    Json(&'static str, Value),
}

impl From<Option<(&'static str, Value)>> for Details {
    fn from(d: Option<(&'static str, Value)>) -> Self {
        match d {
            Some((k, v)) => Details::Json(k, v),
            None => Details::None,
        }
    }
}

impl Details {
    /// The details member as the API shows it: its key and its object (JSON members as raw
    /// values; [`HistoryEvent::to_json`] turns input/output into text).
    pub fn member(&self) -> Option<(&'static str, Value)> {
        match self {
            Details::None => None,
            Details::StateEntered { name, input } => Some((
                "stateEnteredEventDetails",
                details(vec![
                    ("name", Value::String(name.to_string())),
                    ("input", input.to_value()),
                    ("inputDetails", not_truncated()),
                ]),
            )),
            Details::StateExited { name, output } => Some((
                "stateExitedEventDetails",
                details(vec![
                    ("name", Value::String(name.to_string())),
                    ("output", output.to_value()),
                    ("outputDetails", not_truncated()),
                ]),
            )),
            Details::ExecutionStarted { input, role_arn } => Some((
                "executionStartedEventDetails",
                details(vec![
                    ("input", input.clone()),
                    ("inputDetails", not_truncated()),
                    ("roleArn", Value::String(role_arn.to_string())),
                ]),
            )),
            Details::ExecutionSucceeded { output } => Some((
                "executionSucceededEventDetails",
                details(vec![
                    ("output", output.clone()),
                    ("outputDetails", not_truncated()),
                ]),
            )),
            Details::MapIteration { key, index, name } => Some((
                key,
                details(vec![
                    ("index", (*index).into()),
                    ("name", Value::String(name.to_string())),
                ]),
            )),
            Details::Json(k, v) => Some((k, v.clone())),
        }
    }
}

/// One history event. [`HistoryEvent::to_json`] renders the `input`/`output`/`parameters`
/// members as JSON text, as the AWS API does.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: SimTime,
    pub event_type: &'static str,
    pub details: Details,
}

/// How timestamps are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampFormat {
    /// `2025-07-21T19:45:00.123Z` (CLI output).
    Rfc3339,
    /// Seconds since the epoch as a number, as the AWS JSON protocol sends them.
    EpochSeconds,
}

/// Formats a simulated time as AWS writes it in JSON: RFC 3339, milliseconds, `Z`.
///
/// Written by hand because it runs for every context object and history event, and chrono's
/// general formatter costs about a microsecond per call.
pub fn format_time(t: SimTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let ms = (t.nanosecond() / 1_000_000).min(999);
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let put = |b: &mut [u8; 24], at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, year as u32, 4);
    put(&mut b, 5, t.month(), 2);
    put(&mut b, 8, t.day(), 2);
    put(&mut b, 11, t.hour(), 2);
    put(&mut b, 14, t.minute(), 2);
    put(&mut b, 17, t.second(), 2);
    put(&mut b, 20, ms, 3);
    String::from_utf8_lossy(&b).into_owned()
}

/// Seconds since the epoch, with millisecond precision.
pub fn epoch_seconds(t: SimTime) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Members of details objects that AWS sends as JSON text.
const TEXT_MEMBERS: [&str; 3] = ["input", "output", "parameters"];

impl HistoryEvent {
    /// About how many bytes its input, output or details take as JSON text (an estimate for
    /// memory budgets; payloads it shares with other events count again).
    pub fn payload_bytes(&self) -> u64 {
        let text = |v: &Value| serde_json::to_vec(v).map_or(0, |b| b.len() as u64);
        match &self.details {
            Details::StateEntered { input: p, .. } | Details::StateExited { output: p, .. } => {
                p.unique_bytes(&mut std::collections::HashSet::new(), &text, 48)
            }
            Details::ExecutionStarted { input: v, .. }
            | Details::ExecutionSucceeded { output: v }
            | Details::Json(_, v) => text(v),
            Details::None | Details::MapIteration { .. } => 0,
        }
    }

    /// The event as the `GetExecutionHistory` API returns it.
    pub fn to_json(&self, ts: TimestampFormat) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.into());
        m.insert("previousEventId".into(), self.previous_event_id.into());
        m.insert(
            "timestamp".into(),
            match ts {
                TimestampFormat::Rfc3339 => Value::String(format_time(self.timestamp)),
                TimestampFormat::EpochSeconds => epoch_seconds(self.timestamp).into(),
            },
        );
        m.insert("type".into(), self.event_type.into());
        if let Some((key, details)) = &self.details.member() {
            let rendered = match details {
                Value::Object(d) => Value::Object(
                    d.iter()
                        .map(|(k, v)| {
                            let v = if TEXT_MEMBERS.contains(&k.as_str()) {
                                Value::String(
                                    serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
                                )
                            } else {
                                v.clone()
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                ),
                other => other.clone(),
            };
            m.insert((*key).to_string(), rendered);
        }
        Value::Object(m)
    }
}

/// Collects the events of one execution. Shared by the concurrent branches of that
/// execution (one thread, so interior mutability is enough).
#[derive(Debug)]
pub struct History {
    mode: HistoryMode,
    next_id: Cell<u64>,
    events: RefCell<Vec<HistoryEvent>>,
    /// The payload of the last state event, for [`History::payload`].
    last_payload: RefCell<Option<Payload>>,
}

impl History {
    pub fn new(mode: HistoryMode) -> Self {
        History {
            mode,
            next_id: Cell::new(1),
            events: RefCell::new(Vec::new()),
            last_payload: RefCell::new(None),
        }
    }

    /// `v` as a state event's payload: the previous state event's payload when it is the
    /// same value (a state's output entering the next state, a Choice passing its input on),
    /// so a history keeps one copy of a payload that several events show; and, for a large
    /// document, a payload that shares every unchanged subtree with the previous one (see
    /// [`super::payload`]). A loop carrying a 250 KB document through thousands of states
    /// holds the document once plus what changes.
    pub fn payload(&self, v: &Value) -> Payload {
        let mut last = self.last_payload.borrow_mut();
        let p = Payload::shared_with(v, last.as_ref());
        *last = Some(p.clone());
        p
    }

    /// Appends an event and returns its id. `details` is only called when events are kept.
    #[inline]
    pub fn push<D: Into<Details>>(
        &self,
        previous: u64,
        timestamp: impl FnOnce() -> SimTime,
        event_type: &'static str,
        details: impl FnOnce() -> D,
    ) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        if self.mode == HistoryMode::Full {
            self.events.borrow_mut().push(HistoryEvent {
                id,
                previous_event_id: previous,
                timestamp: timestamp(),
                event_type,
                details: details().into(),
            });
        }
        id
    }

    /// How many events have been recorded (kept or not).
    pub fn len(&self) -> u64 {
        self.next_id.get() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept events.
    pub fn take(&self) -> Vec<HistoryEvent> {
        std::mem::take(&mut *self.events.borrow_mut())
    }
}

/// Builds a details object from key/value pairs.
pub fn details(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// `{"truncated": false}`: AWS adds it next to every input and output.
pub fn not_truncated() -> Value {
    let mut m = Map::new();
    m.insert("truncated".into(), Value::Bool(false));
    Value::Object(m)
}

/// The `StateEntered` event type of a state type.
pub fn entered_type(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateEntered",
        "Task" => "TaskStateEntered",
        "Choice" => "ChoiceStateEntered",
        "Wait" => "WaitStateEntered",
        "Succeed" => "SucceedStateEntered",
        "Fail" => "FailStateEntered",
        "Parallel" => "ParallelStateEntered",
        _ => "MapStateEntered",
    }
}

/// The `StateExited` event type of a state type.
pub fn exited_type(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateExited",
        "Task" => "TaskStateExited",
        "Choice" => "ChoiceStateExited",
        "Wait" => "WaitStateExited",
        "Succeed" => "SucceedStateExited",
        "Fail" => "FailStateExited",
        "Parallel" => "ParallelStateExited",
        _ => "MapStateExited",
    }
}

/// The `StateAborted` event type of a state type (a branch cancelled by a sibling's failure).
pub fn aborted_type(type_name: &str) -> &'static str {
    match type_name {
        "Task" => "TaskStateAborted",
        "Wait" => "WaitStateAborted",
        "Parallel" => "ParallelStateAborted",
        "Map" => "MapStateAborted",
        "Pass" => "PassStateAborted",
        "Choice" => "ChoiceStateAborted",
        "Succeed" => "SucceedStateAborted",
        _ => "FailStateAborted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_advance_and_details_render_as_text() {
        let h = History::new(HistoryMode::Full);
        let t = super::super::clock::default_origin();
        let a = h.push(
            0,
            || t,
            "ExecutionStarted",
            || {
                Some((
                    "executionStartedEventDetails",
                    details(vec![
                        ("input", json!({"a": 1})),
                        ("inputDetails", not_truncated()),
                    ]),
                ))
            },
        );
        let b = h.push(a, || t, "PassStateEntered", || Details::None);
        assert_eq!((a, b, h.len()), (1, 2, 2));
        let ev = h.take();
        let j = ev[0].to_json(TimestampFormat::Rfc3339);
        assert_eq!(
            j["executionStartedEventDetails"]["input"],
            json!("{\"a\":1}")
        );
        assert_eq!(j["timestamp"], json!("2025-07-21T19:45:00.000Z"));
        assert_eq!(
            ev[1].to_json(TimestampFormat::EpochSeconds)["previousEventId"],
            json!(1)
        );
    }

    #[test]
    fn fast_time_format_matches_chrono() {
        let t = super::super::clock::default_origin() + chrono::Duration::milliseconds(86_400_123);
        assert_eq!(
            format_time(t),
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        );
        assert_eq!(format_time(t), "2025-07-22T19:45:00.123Z");
    }

    #[test]
    fn count_only_keeps_nothing_but_counts() {
        let h = History::new(HistoryMode::CountOnly);
        let t = super::super::clock::default_origin();
        for _ in 0..10 {
            h.push(
                0,
                || t,
                "PassStateEntered",
                || -> Details { panic!("details must not be built") },
            );
        }
        assert_eq!(h.len(), 10);
        assert!(h.take().is_empty());
    }
}
