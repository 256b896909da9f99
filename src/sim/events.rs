//! EventBridge as a simulated service: `PutEvents` (from a workflow's
//! `arn:aws:states:::events:putEvents` or from a client through `serve`) records every entry
//! as a delivery on its bus, with the response EventBridge gives (`Entries` with an `EventId`
//! each, `FailedEntryCount`). Rules and targets are not modelled: deliveries are recorded
//! for a test or `run --json` to look at.
//!
//! Billing: one custom event per entry, each further 64 KB of an entry one more
//! (EventBridge pricing page, "Custom events: $1.00/million events; each 64 KB chunk of a
//! payload is billed as 1 event").

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::sim::sqs::{billed_requests, stable_uuid};

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub event_id: String,
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    pub detail: String,
    /// Seconds since the epoch.
    pub at: f64,
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    counter: u64,
}

/// The event buses of an account.
#[derive(Clone, Default)]
pub struct EventBus {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

/// A failed `PutEvents` (the whole request, as `ValidationException`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsError {
    pub code: String,
    pub message: String,
}

impl EventBus {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every event recorded so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// `PutEvents`: returns the response and the number of billed events. An entry missing
    /// `Source`, `DetailType` or `Detail` fails alone, as EventBridge reports it.
    pub fn put_events(&self, req: &Value, now: f64) -> Result<(Value, u64), EventsError> {
        let entries = req
            .get("Entries")
            .and_then(Value::as_array)
            .filter(|e| (1..=10).contains(&e.len()))
            .ok_or_else(|| EventsError {
                code: "ValidationException".into(),
                message: "1 validation error detected: Value at 'entries' failed to satisfy \
                          constraint: Member must have length less than or equal to 10 and \
                          greater than or equal to 1"
                    .into(),
            })?;
        let mut st = self.lock();
        let mut out = Vec::new();
        let mut failed = 0u64;
        let mut billed = 0u64;
        for e in entries {
            let field = |n: &str| match e.get(n) {
                Some(Value::String(s)) => Some(s.clone()),
                // Step Functions sends a JSON Detail as its text.
                Some(v) if !v.is_null() && n == "Detail" => Some(v.to_string()),
                _ => None,
            };
            let (Some(source), Some(detail_type), Some(detail)) =
                (field("Source"), field("DetailType"), field("Detail"))
            else {
                failed += 1;
                out.push(json!({"ErrorCode": "InvalidArgument",
                                "ErrorMessage": "Parameter(s) Source, DetailType, Detail is/are not valid."}));
                continue;
            };
            st.counter += 1;
            let id = stable_uuid("events/event", st.counter);
            billed += billed_requests(source.len() + detail_type.len() + detail.len());
            st.deliveries.push(Delivery {
                event_id: id.clone(),
                bus: field("EventBusName").unwrap_or_else(|| "default".into()),
                source,
                detail_type,
                detail,
                at: now,
            });
            out.push(json!({"EventId": id}));
        }
        Ok((json!({"Entries": out, "FailedEntryCount": failed}), billed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_recorded_and_bad_ones_fail_alone() {
        let bus = EventBus::default();
        let (r, billed) = bus
            .put_events(
                &json!({"Entries": [
                    {"Source": "app", "DetailType": "Done", "Detail": {"id": 1}},
                    {"Source": "app"}
                ]}),
                3.0,
            )
            .unwrap();
        assert_eq!(r["FailedEntryCount"], 1);
        assert!(r["Entries"][0]["EventId"].is_string());
        assert_eq!(r["Entries"][1]["ErrorCode"], "InvalidArgument");
        assert_eq!(billed, 1);
        let d = bus.deliveries();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].bus.as_str(), d[0].detail.as_str()),
            ("default", "{\"id\":1}")
        );
        assert!(bus.put_events(&json!({"Entries": []}), 0.0).is_err());
    }
}
