//! SQS as a simulated service: queues holding messages that a workflow sends
//! (`arn:aws:states:::sqs:sendMessage`, with or without `.waitForTaskToken`) and a client
//! receives and deletes through `serve`, with SQS's JSON API shapes (`CreateQueue`,
//! `GetQueueUrl`, `SendMessage`, `ReceiveMessage`, `DeleteMessage`, `PurgeQueue`,
//! `ListQueues`) and errors.
//!
//! [`Sqs`] is a shareable handle, like [`crate::sim::dynamodb::DynamoDb`]: one per account,
//! given to every world and to the endpoint. Received messages stay invisible for the
//! queue's visibility timeout (30 s unless the queue or the request sets another), measured
//! on the caller's clock; a message not deleted in time is received again.
//!
//! FIFO queues (`.fifo` names: groups, deduplication, sequence numbers) are in
//! [`crate::sim::sqs_fifo`]; a queue's settable attributes (delay, retention, the redrive
//! policy to a dead-letter queue) in [`crate::sim::sqs_settings`].
//!
//! Billing: one request per call, and a request's payload counts as one more request for
//! every further 64 KB (SQS pricing page, "Amazon SQS requests": "each 64 KB chunk of a
//! payload is billed as 1 request"); FIFO queues' requests at their own price.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::sim::sqs_fifo::{self, Fifo, FifoSend};
use crate::sim::sqs_settings::Settings;

pub use super::sqs_error::SqsError;

fn no_queue() -> SqsError {
    SqsError::new("QueueDoesNotExist", "The specified queue does not exist.")
}

/// A message as a queue holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: String,
    pub body: String,
    pub md5: String,
    pub attributes: Option<Value>,
    /// Seconds since the epoch when it was sent.
    pub sent: f64,
    pub receive_count: u64,
    /// FIFO queues: the message's group, deduplication id and sequence number.
    pub group: Option<String>,
    pub deduplication_id: Option<String>,
    pub sequence: Option<String>,
    /// Seconds since the epoch from which it can be received, when it was sent with a
    /// delivery delay (`None`: at once, whatever clock the receiver reads: a workflow's
    /// virtual clock may run ahead of a client's).
    pub delayed_until: Option<f64>,
}

impl Message {
    /// Whether its delivery delay still holds it back at `now`.
    fn is_delayed(&self, now: f64) -> bool {
        self.delayed_until.is_some_and(|t| t > now)
    }
}

struct InFlight {
    message: Message,
    visible_at: f64,
}

struct Queue {
    name: String,
    url: String,
    arn: String,
    settings: Settings,
    created: f64,
    modified: f64,
    messages: VecDeque<Message>,
    /// By receipt handle.
    in_flight: BTreeMap<String, InFlight>,
    /// A FIFO queue's deduplication and sequence state (see [`crate::sim::sqs_fifo`]).
    fifo: Option<Fifo>,
}

#[derive(Default)]
struct State {
    queues: BTreeMap<String, Queue>,
    /// Draws of message ids and receipt handles (deterministic).
    counter: u64,
}

impl State {
    /// Whether the queue an ARN (or URL, or name) designates exists, and if so whether it is
    /// a FIFO queue.
    fn queue_kind(&self, target: &str) -> Option<bool> {
        self.queues
            .get(Sqs::queue_name(target))
            .filter(|q| !target.starts_with("arn:") || q.arn == target)
            .map(|q| q.fifo.is_some())
    }
}

/// A message's own `DelaySeconds` (0 to 900), which FIFO queues do not take.
fn message_delay(req: &Value, fifo: bool) -> Result<Option<f64>, SqsError> {
    let Some(v) = req.get("DelaySeconds").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |reason: &str| {
        SqsError::new(
            "InvalidParameterValue",
            format!("Value {v} for parameter DelaySeconds is invalid. Reason: {reason}"),
        )
    };
    if fifo {
        return Err(bad(
            "The request include parameter that is not valid for this queue type.",
        ));
    }
    match v
        .as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    {
        Some(d) if d <= 900 => Ok(Some(d as f64)),
        _ => Err(bad("Must be >= 0 and <= 900.")),
    }
}

/// The SQS queues of an account.
#[derive(Clone)]
pub struct Sqs {
    inner: Arc<Mutex<State>>,
    region: String,
    account: String,
}

impl Default for Sqs {
    fn default() -> Self {
        Sqs::new("us-east-1", "123456789012")
    }
}

impl std::fmt::Debug for Sqs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqs")
            .field("queues", &self.queue_names())
            .finish()
    }
}

/// A UUID-shaped id, the same for the same purpose and number: ids must be deterministic.
pub fn stable_uuid(purpose: &str, n: u64) -> String {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update(n.to_be_bytes());
    let b = h.finalize();
    let hex: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The MD5 of a text, as SQS reports `MD5OfMessageBody`.
pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Billed requests for a call moving `bytes` of payload (64 KB chunks).
pub fn billed_requests(bytes: usize) -> u64 {
    (bytes.div_ceil(65_536).max(1)) as u64
}

/// A VisibilityTimeout of 0 to 43,200 seconds (12 hours).
fn visibility_timeout(req: &Value) -> Result<f64, SqsError> {
    let v = req.get("VisibilityTimeout").ok_or_else(|| {
        SqsError::new(
            "MissingParameter",
            "The request must contain the parameter VisibilityTimeout.",
        )
    })?;
    let t = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()));
    match t {
        Some(t) if (0.0..=43_200.0).contains(&t) => Ok(t),
        _ => Err(SqsError::new(
            "InvalidParameterValue",
            format!("Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."),
        )),
    }
}

/// A batch request's `Entries`: 1 to 10, each with a distinct `Id` of letters, digits, `-`
/// and `_` (at most 80).
fn batch_entries(req: &Value) -> Result<&Vec<Value>, SqsError> {
    let entries = req
        .get("Entries")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            SqsError::new(
                "EmptyBatchRequest",
                "There should be at least one SendMessageBatchRequestEntry in the request.",
            )
        })?;
    if entries.is_empty() {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "There should be at least one entry in the request.",
        ));
    }
    if entries.len() > 10 {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in entries {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(SqsError::new(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(entries)
}

fn text<'a>(req: &'a Value, name: &str) -> Result<&'a str, SqsError> {
    req.get(name).and_then(Value::as_str).ok_or_else(|| {
        SqsError::new(
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    })
}

impl Sqs {
    /// An empty account in `region`/`account` (for queue URLs and ARNs).
    pub fn new(region: &str, account: &str) -> Self {
        Sqs {
            inner: Arc::new(Mutex::new(State::default())),
            region: region.to_string(),
            account: account.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every operation validates before it writes, so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue names, sorted.
    pub fn queue_names(&self) -> Vec<String> {
        self.lock().queues.keys().cloned().collect()
    }

    /// The messages waiting in a queue (not in flight), oldest first.
    pub fn waiting(&self, queue: &str) -> Option<Vec<Message>> {
        self.lock()
            .queues
            .get(queue)
            .map(|q| q.messages.iter().cloned().collect())
    }

    /// When a receive of queue `name` could next return a message: `now` if one is waiting
    /// (not delayed, not held back by its FIFO group), else when the first delayed or in-flight
    /// one becomes visible; `None` when the queue is empty (or does not exist).
    pub fn next_visible(&self, name: &str, now: f64) -> Option<f64> {
        let st = self.lock();
        let q = st.queues.get(Self::queue_name(name))?;
        let retention = q.settings.retention;
        let locked = sqs_fifo::locked_groups(
            q.in_flight
                .values()
                .filter(|f| f.visible_at > now)
                .map(|f| f.message.group.as_deref()),
        );
        let waiting = q
            .messages
            .iter()
            .filter(|m| m.sent + retention > now)
            .filter_map(|m| match m.delayed_until {
                Some(t) if t > now => Some(t),
                _ if m.group.as_ref().is_some_and(|g| locked.contains(g)) => None,
                _ => Some(now),
            });
        let in_flight = q
            .in_flight
            .values()
            .filter(|f| f.message.sent + retention > now)
            .map(|f| f.visible_at.max(now));
        waiting.chain(in_flight).min_by(f64::total_cmp)
    }

    /// The ARN of a queue named `name` in this account.
    pub fn arn_of(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account)
    }

    /// The URL of a queue named `name` in this account.
    pub fn url_of(&self, name: &str) -> String {
        format!(
            "https://sqs.{}.amazonaws.com/{}/{name}",
            self.region, self.account
        )
    }

    /// The queue a URL, ARN or name designates.
    fn queue_name(target: &str) -> &str {
        target.rsplit(['/', ':']).next().unwrap_or(target)
    }

    /// Creates a queue (idempotent when it exists), returning its URL.
    pub fn create_queue(
        &self,
        name: &str,
        attributes: Option<&Value>,
        now: f64,
    ) -> Result<String, SqsError> {
        let valid = !name.is_empty()
            && name.len() <= 80
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !valid {
            return Err(SqsError::new(
                "InvalidParameterValue",
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let fifo = sqs_fifo::from_attributes(name, attributes)?;
        let url = self.url_of(name);
        let arn = format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account);
        let mut st = self.lock();
        let settings = match attributes {
            None => Settings::default(),
            Some(a) => Settings::default().apply(a, fifo.is_some(), |t| st.queue_kind(t))?,
        };
        st.queues.entry(name.to_string()).or_insert(Queue {
            name: name.to_string(),
            url: url.clone(),
            arn,
            settings,
            created: now,
            modified: now,
            messages: VecDeque::new(),
            in_flight: BTreeMap::new(),
            fifo,
        });
        Ok(url)
    }

    /// Whether the queue a URL, ARN or name designates is a FIFO queue.
    pub fn is_fifo(&self, queue: &str) -> bool {
        self.lock()
            .queues
            .get(Self::queue_name(queue))
            .is_some_and(|q| q.fifo.is_some())
    }

    /// Sends one message to a standard queue (a FIFO queue needs a group: see
    /// [`Sqs::call`]); returns `(MessageId, MD5OfMessageBody)`.
    pub fn send(
        &self,
        queue: &str,
        body: &str,
        attributes: Option<Value>,
        now: f64,
    ) -> Result<(String, String), SqsError> {
        let sent = self.send_message(queue, body, attributes, &Value::Null, now)?;
        Ok((sent.id, sent.md5))
    }

    /// Sends one message with the request's FIFO parameters (`MessageGroupId`,
    /// `MessageDeduplicationId`).
    fn send_message(
        &self,
        queue: &str,
        body: &str,
        attributes: Option<Value>,
        req: &Value,
        now: f64,
    ) -> Result<Sent, SqsError> {
        if body.is_empty() {
            return Err(SqsError::new(
                "MissingParameter",
                "The request must contain the parameter MessageBody.",
            ));
        }
        let mut st = self.lock();
        let q = st
            .queues
            .get_mut(Self::queue_name(queue))
            .ok_or_else(no_queue)?;
        let limit = q.settings.max_message_size;
        if body.len() > limit {
            return Err(SqsError::new(
                "InvalidParameterValue",
                format!("One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."),
            ));
        }
        let delay = message_delay(req, q.fifo.is_some())?.unwrap_or(q.settings.delay);
        st.counter += 1;
        let next_id = stable_uuid("sqs/message", st.counter);
        let q = st
            .queues
            .get_mut(Self::queue_name(queue))
            .ok_or_else(no_queue)?;
        let md5 = md5_hex(body);
        let (group, deduplication_id, sequence) = match &mut q.fifo {
            None => {
                sqs_fifo::check_standard_send(req)?;
                (None, None, None)
            }
            Some(fifo) => match fifo.send(req, body, now)? {
                FifoSend::Duplicate {
                    message_id,
                    sequence,
                } => {
                    // Accepted again, not queued again.
                    return Ok(Sent {
                        id: message_id,
                        md5,
                        sequence: Some(sequence),
                    });
                }
                FifoSend::New {
                    group,
                    deduplication_id,
                    sequence,
                } => {
                    fifo.accepted(&deduplication_id, &next_id, &sequence, now);
                    (Some(group), Some(deduplication_id), Some(sequence))
                }
            },
        };
        q.messages.push_back(Message {
            id: next_id.clone(),
            body: body.to_string(),
            md5: md5.clone(),
            attributes,
            sent: now,
            receive_count: 0,
            group,
            deduplication_id,
            sequence: sequence.clone(),
            delayed_until: (delay > 0.0).then_some(now + delay),
        });
        Ok(Sent {
            id: next_id,
            md5,
            sequence,
        })
    }

    /// Runs one API action (`SendMessage` or `sendMessage`, ...) at epoch seconds `now`.
    pub fn call(&self, action: &str, req: &Value, now: f64) -> Result<Value, SqsError> {
        let lower = {
            let mut c = action.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        match lower.as_str() {
            "createQueue" => {
                let url = self.create_queue(text(req, "QueueName")?, req.get("Attributes"), now)?;
                Ok(json!({"QueueUrl": url}))
            }
            "getQueueUrl" => {
                let name = text(req, "QueueName")?;
                let st = self.lock();
                let q = st.queues.get(name).ok_or_else(no_queue)?;
                Ok(json!({"QueueUrl": q.url}))
            }
            "listQueues" => {
                let prefix = req
                    .get("QueueNamePrefix")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let st = self.lock();
                let urls: Vec<&String> = st
                    .queues
                    .values()
                    .filter(|q| q.name.starts_with(prefix))
                    .map(|q| &q.url)
                    .collect();
                Ok(if urls.is_empty() {
                    json!({})
                } else {
                    json!({"QueueUrls": urls})
                })
            }
            "getQueueAttributes" => {
                let st = self.lock();
                let q = st
                    .queues
                    .get(Self::queue_name(text(req, "QueueUrl")?))
                    .ok_or_else(no_queue)?;
                let delayed = q.messages.iter().filter(|m| m.is_delayed(now)).count();
                let mut attributes = json!({
                    "ApproximateNumberOfMessages": (q.messages.len() - delayed).to_string(),
                    "ApproximateNumberOfMessagesNotVisible": q.in_flight.len().to_string(),
                    "ApproximateNumberOfMessagesDelayed": delayed.to_string(),
                    "CreatedTimestamp": (q.created as i64).to_string(),
                    "LastModifiedTimestamp": (q.modified as i64).to_string(),
                    "QueueArn": q.arn,
                });
                for (k, v) in q.settings.attributes() {
                    attributes[k] = Value::String(v);
                }
                if let Some(f) = &q.fifo {
                    attributes["FifoQueue"] = json!("true");
                    attributes["ContentBasedDeduplication"] =
                        json!(f.content_based_deduplication.to_string());
                }
                Ok(json!({ "Attributes": attributes }))
            }
            "sendMessage" => {
                let body = match req.get("MessageBody") {
                    Some(Value::String(s)) => s.clone(),
                    // Step Functions sends a JSON MessageBody as its text.
                    Some(v) if !v.is_null() => v.to_string(),
                    _ => String::new(),
                };
                let sent = self.send_message(
                    text(req, "QueueUrl")?,
                    &body,
                    req.get("MessageAttributes").cloned(),
                    req,
                    now,
                )?;
                let mut answer = json!({"MD5OfMessageBody": sent.md5, "MessageId": sent.id});
                if let Some(seq) = sent.sequence {
                    answer["SequenceNumber"] = Value::String(seq);
                }
                Ok(answer)
            }
            "setQueueAttributes" => {
                let attributes = req.get("Attributes").ok_or_else(|| {
                    SqsError::new(
                        "MissingParameter",
                        "The request must contain the parameter Attributes.",
                    )
                })?;
                let name = Self::queue_name(text(req, "QueueUrl")?).to_string();
                let mut st = self.lock();
                let q = st.queues.get(&name).ok_or_else(no_queue)?;
                let settings = q
                    .settings
                    .apply(attributes, q.fifo.is_some(), |t| st.queue_kind(t))?;
                if let Some(q) = st.queues.get_mut(&name) {
                    q.settings = settings;
                    q.modified = now;
                }
                Ok(json!({}))
            }
            "listDeadLetterSourceQueues" => {
                let st = self.lock();
                let target = st
                    .queues
                    .get(Self::queue_name(text(req, "QueueUrl")?))
                    .ok_or_else(no_queue)?;
                let urls: Vec<&String> = st
                    .queues
                    .values()
                    .filter(|q| {
                        q.settings
                            .redrive
                            .as_ref()
                            .is_some_and(|r| r.dead_letter_arn == target.arn)
                    })
                    .map(|q| &q.url)
                    .collect();
                Ok(json!({ "queueUrls": urls }))
            }
            "sendMessageBatch" => self.send_batch(req, now),
            "deleteMessageBatch" => self.delete_batch(req),
            "changeMessageVisibility" => {
                let timeout = visibility_timeout(req)?;
                self.change_visibility(
                    text(req, "QueueUrl")?,
                    text(req, "ReceiptHandle")?,
                    timeout,
                    now,
                )?;
                Ok(json!({}))
            }
            "receiveMessage" => self.receive(req, now),
            "deleteMessage" => {
                let handle = text(req, "ReceiptHandle")?;
                let mut st = self.lock();
                let q = st
                    .queues
                    .get_mut(Self::queue_name(text(req, "QueueUrl")?))
                    .ok_or_else(no_queue)?;
                if q.in_flight.remove(handle).is_none() && !handle.starts_with("rh-") {
                    return Err(SqsError::new(
                        "ReceiptHandleIsInvalid",
                        format!(
                            "The input receipt handle \"{handle}\" is not a valid receipt handle."
                        ),
                    ));
                }
                Ok(json!({}))
            }
            "purgeQueue" => {
                let mut st = self.lock();
                let q = st
                    .queues
                    .get_mut(Self::queue_name(text(req, "QueueUrl")?))
                    .ok_or_else(no_queue)?;
                q.messages.clear();
                q.in_flight.clear();
                Ok(json!({}))
            }
            "deleteQueue" => {
                let name = Self::queue_name(text(req, "QueueUrl")?).to_string();
                self.lock().queues.remove(&name).ok_or_else(no_queue)?;
                Ok(json!({}))
            }
            other => Err(SqsError::new(
                "UnsupportedOperation",
                format!("The simulated SQS does not support the action `{other}`"),
            )),
        }
    }

    /// SendMessageBatch: up to 10 entries, each sent as SendMessage would be; an entry that
    /// fails is reported in `Failed` and the others are sent.
    fn send_batch(&self, req: &Value, now: f64) -> Result<Value, SqsError> {
        let queue = text(req, "QueueUrl")?;
        let entries = batch_entries(req)?;
        let total: usize = entries
            .iter()
            .map(|e| e.get("MessageBody").map_or(0, |b| b.to_string().len()))
            .sum();
        if total > 262_144 {
            return Err(SqsError::new(
                "BatchRequestTooLong",
                format!("Batch requests cannot be longer than 262144 bytes. You have sent {total} bytes."),
            ));
        }
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for e in entries {
            let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
            let body = match e.get("MessageBody") {
                Some(Value::String(s)) => s.clone(),
                Some(v) if !v.is_null() => v.to_string(),
                _ => String::new(),
            };
            match self.send_message(queue, &body, e.get("MessageAttributes").cloned(), e, now) {
                Ok(sent) => {
                    let mut m =
                        json!({"Id": id, "MessageId": sent.id, "MD5OfMessageBody": sent.md5});
                    if let Some(seq) = sent.sequence {
                        m["SequenceNumber"] = Value::String(seq);
                    }
                    ok.push(m);
                }
                // A missing queue fails the whole request, as SendMessage does.
                Err(err) if err.code == "QueueDoesNotExist" => return Err(err),
                Err(err) => failed.push(json!({"Id": id, "SenderFault": true,
                                               "Code": err.code, "Message": err.message})),
            }
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    /// DeleteMessageBatch: up to 10 receipt handles.
    fn delete_batch(&self, req: &Value) -> Result<Value, SqsError> {
        let queue = text(req, "QueueUrl")?;
        let entries = batch_entries(req)?;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        let mut st = self.lock();
        let q = st
            .queues
            .get_mut(Self::queue_name(queue))
            .ok_or_else(no_queue)?;
        for e in entries {
            let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
            let handle = e
                .get("ReceiptHandle")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if q.in_flight.remove(handle).is_some() || handle.starts_with("rh-") {
                ok.push(json!({"Id": id}));
            } else {
                failed.push(json!({"Id": id, "SenderFault": true, "Code": "ReceiptHandleIsInvalid",
                    "Message": format!("The input receipt handle \"{handle}\" is not a valid receipt handle.")}));
            }
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    /// ChangeMessageVisibility: a message in flight becomes visible `timeout` seconds from
    /// now (0: at once).
    pub fn change_visibility(
        &self,
        queue: &str,
        handle: &str,
        timeout: f64,
        now: f64,
    ) -> Result<(), SqsError> {
        let mut st = self.lock();
        let q = st
            .queues
            .get_mut(Self::queue_name(queue))
            .ok_or_else(no_queue)?;
        match q.in_flight.get_mut(handle) {
            Some(f) if f.visible_at > now => {
                f.visible_at = now + timeout;
                Ok(())
            }
            Some(_) => Err(SqsError::new(
                "MessageNotInflight",
                "The message referred to isn't in flight.",
            )),
            None if handle.starts_with("rh-") => Err(SqsError::new(
                "MessageNotInflight",
                "The message referred to isn't in flight.",
            )),
            None => Err(SqsError::new(
                "ReceiptHandleIsInvalid",
                format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
            )),
        }
    }

    fn receive(&self, req: &Value, now: f64) -> Result<Value, SqsError> {
        let max = req
            .get("MaxNumberOfMessages")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(SqsError::new(
                "InvalidParameterValue",
                format!("Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
            ));
        }
        let mut st = self.lock();
        let counter = st.counter;
        let q = st
            .queues
            .get_mut(Self::queue_name(text(req, "QueueUrl")?))
            .ok_or_else(no_queue)?;
        let visibility = req
            .get("VisibilityTimeout")
            .and_then(Value::as_f64)
            .unwrap_or(q.settings.visibility_timeout);
        // Messages past the retention period are gone.
        let retention = q.settings.retention;
        q.messages.retain(|m| m.sent + retention > now);
        q.in_flight.retain(|_, f| f.message.sent + retention > now);
        // Messages whose visibility timeout ran out go back to the front, oldest first.
        let expired: Vec<String> = q
            .in_flight
            .iter()
            .filter(|(_, f)| f.visible_at <= now)
            .map(|(h, _)| h.clone())
            .collect();
        let mut back: Vec<Message> = expired
            .iter()
            .filter_map(|h| q.in_flight.remove(h))
            .map(|f| f.message)
            .collect();
        back.sort_by(|a, b| a.sent.total_cmp(&b.sent));
        if q.fifo.is_some() {
            // A FIFO queue keeps its order: back in sequence order (equal lengths compare
            // as numbers).
            back.sort_by(|a, b| a.sequence.cmp(&b.sequence));
        }
        for m in back.into_iter().rev() {
            q.messages.push_front(m);
        }
        let system = SystemAttributes::requested(req);
        // A FIFO group with a message in flight is not served until that message is deleted
        // or visible again.
        let locked =
            sqs_fifo::locked_groups(q.in_flight.values().map(|f| f.message.group.as_deref()));
        let mut out = Vec::new();
        let mut n = counter;
        let mut skipped = VecDeque::new();
        // Received too often: to the dead-letter queue instead of to the caller.
        let mut dead = Vec::new();
        let redrive = q.settings.redrive.clone();
        while (out.len() as u64) < max {
            let Some(mut m) = q.messages.pop_front() else {
                break;
            };
            if m.is_delayed(now) || m.group.as_ref().is_some_and(|g| locked.contains(g)) {
                skipped.push_back(m);
                continue;
            }
            if redrive
                .as_ref()
                .is_some_and(|r| m.receive_count >= r.max_receive_count)
            {
                dead.push(m);
                continue;
            }
            m.receive_count += 1;
            n += 1;
            let handle = format!("rh-{}", stable_uuid("sqs/receipt", n));
            let mut entry = Map::new();
            entry.insert("MessageId".into(), m.id.clone().into());
            entry.insert("ReceiptHandle".into(), handle.clone().into());
            entry.insert("MD5OfBody".into(), m.md5.clone().into());
            entry.insert("Body".into(), m.body.clone().into());
            if let Some(a) = &m.attributes {
                entry.insert("MessageAttributes".into(), a.clone());
            }
            if let Some(a) = system.of(&m) {
                entry.insert("Attributes".into(), a);
            }
            out.push(Value::Object(entry));
            q.in_flight.insert(
                handle,
                InFlight {
                    message: m,
                    visible_at: now + visibility,
                },
            );
        }
        // The skipped messages go back in front, in their order.
        while let Some(m) = skipped.pop_back() {
            q.messages.push_front(m);
        }
        if let Some(r) = redrive.filter(|_| !dead.is_empty()) {
            // A dead-letter queue deleted since the policy was set loses them, as on AWS.
            if let Some(dlq) = st.queues.get_mut(Self::queue_name(&r.dead_letter_arn)) {
                for mut m in dead {
                    m.receive_count = 0;
                    m.delayed_until = None;
                    dlq.messages.push_back(m);
                }
            }
        }
        st.counter = n;
        Ok(if out.is_empty() {
            json!({})
        } else {
            json!({"Messages": out})
        })
    }
}

/// What a send did: the message id, the body's MD5 and (FIFO) the sequence number.
struct Sent {
    id: String,
    md5: String,
    sequence: Option<String>,
}

/// The system attributes a receive asked for (`MessageSystemAttributeNames`, or the older
/// `AttributeNames`): `All` or names such as `MessageGroupId`, `SequenceNumber`.
struct SystemAttributes {
    names: Vec<String>,
}

impl SystemAttributes {
    fn requested(req: &Value) -> Self {
        let names = ["MessageSystemAttributeNames", "AttributeNames"]
            .iter()
            .filter_map(|k| req.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        SystemAttributes { names }
    }

    /// A received message's `Attributes`, when any were asked for.
    fn of(&self, m: &Message) -> Option<Value> {
        if self.names.is_empty() {
            return None;
        }
        let all = self.names.iter().any(|n| n == "All");
        let values = [
            ("ApproximateReceiveCount", Some(m.receive_count.to_string())),
            ("MessageDeduplicationId", m.deduplication_id.clone()),
            ("MessageGroupId", m.group.clone()),
            (
                "SentTimestamp",
                Some(((m.sent * 1000.0) as i64).to_string()),
            ),
            ("SequenceNumber", m.sequence.clone()),
        ];
        let mut out = Map::new();
        for (name, v) in values {
            if let (true, Some(v)) = (all || self.names.iter().any(|n| n == name), v) {
                out.insert(name.into(), Value::String(v));
            }
        }
        Some(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_retention_and_the_dead_letter_queue() {
        let sqs = Sqs::default();
        let dlq = sqs.create_queue("dead", None, 0.0).unwrap();
        let dlq_arn = "arn:aws:sqs:us-east-1:123456789012:dead";
        let url = sqs
            .create_queue(
                "work",
                Some(&json!({"DelaySeconds": "10", "VisibilityTimeout": "5",
                    "RedrivePolicy": json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string()})),
                0.0,
            )
            .unwrap();
        let receive = |at: f64| {
            let r = sqs
                .call(
                    "ReceiveMessage",
                    &json!({"QueueUrl": url, "AttributeNames": ["All"], "MaxNumberOfMessages": 10}),
                    at,
                )
                .unwrap();
            r["Messages"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| {
                            let count =
                                m["Attributes"]["ApproximateReceiveCount"].as_str().unwrap();
                            format!("{}#{count}", m["Body"].as_str().unwrap())
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let send = |body: &str, extra: Value, at: f64| {
            let mut req = json!({"QueueUrl": url, "MessageBody": body});
            if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
                r.extend(e);
            }
            sqs.call("SendMessage", &req, at)
        };
        send("late", json!({}), 0.0).unwrap();
        send("now", json!({"DelaySeconds": 0}), 0.0).unwrap();
        let a = sqs
            .call("GetQueueAttributes", &json!({"QueueUrl": url}), 1.0)
            .unwrap();
        assert_eq!(a["Attributes"]["ApproximateNumberOfMessagesDelayed"], "1");
        assert_eq!(a["Attributes"]["DelaySeconds"], "10");
        // The queue's delay holds "late" back for 10 s; the message's own 0 lets "now" go.
        assert_eq!(receive(1.0), ["now#1"]);
        assert!(receive(2.0).is_empty());
        let mut at_ten = receive(10.0);
        at_ten.sort();
        assert_eq!(at_ten, ["late#1", "now#2"]);
        // "now" was received twice (maxReceiveCount): the next receive moves it away.
        assert_eq!(receive(16.0), ["late#2"]);
        let dead = sqs
            .call(
                "ReceiveMessage",
                &json!({"QueueUrl": dlq, "AttributeNames": ["All"]}),
                16.0,
            )
            .unwrap();
        assert_eq!(dead["Messages"][0]["Body"], "now");
        assert_eq!(
            dead["Messages"][0]["Attributes"]["ApproximateReceiveCount"],
            "1"
        );
        let sources = sqs
            .call(
                "ListDeadLetterSourceQueues",
                &json!({"QueueUrl": dlq}),
                16.0,
            )
            .unwrap();
        assert_eq!(sources["queueUrls"], json!([url]));

        // Retention: a minute-long queue forgets what it held longer.
        sqs.call(
            "SetQueueAttributes",
            &json!({"QueueUrl": dlq, "Attributes": {"MessageRetentionPeriod": "60"}}),
            20.0,
        )
        .unwrap();
        sqs.call(
            "SendMessage",
            &json!({"QueueUrl": dlq, "MessageBody": "old"}),
            20.0,
        )
        .unwrap();
        let later = sqs
            .call(
                "ReceiveMessage",
                &json!({"QueueUrl": dlq, "MaxNumberOfMessages": 10}),
                100.0,
            )
            .unwrap();
        assert!(later.get("Messages").is_none(), "{later}");
        let e = sqs
            .call(
                "SetQueueAttributes",
                &json!({"QueueUrl": dlq, "Attributes": {"DelaySeconds": "1000"}}),
                20.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "InvalidAttributeValue");
        let e = send("x", json!({"DelaySeconds": 901}), 0.0).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let fifo = sqs
            .create_queue("f.fifo", Some(&json!({"FifoQueue": "true"})), 0.0)
            .unwrap();
        let e = sqs
            .call(
                "SendMessage",
                &json!({"QueueUrl": fifo, "MessageBody": "x", "MessageGroupId": "g",
                        "MessageDeduplicationId": "d", "DelaySeconds": 5}),
                0.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn batches_and_visibility_changes() {
        let sqs = Sqs::default();
        let url = sqs.create_queue("jobs", None, 0.0).unwrap();
        let r = sqs
            .call(
                "SendMessageBatch",
                &json!({"QueueUrl": url, "Entries": [
                    {"Id": "a", "MessageBody": "one"},
                    {"Id": "b", "MessageBody": ""},
                    {"Id": "c", "MessageBody": "three"}]}),
                1.0,
            )
            .unwrap();
        let ok: Vec<&str> = r["Successful"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Id"].as_str().unwrap())
            .collect();
        assert_eq!(ok, ["a", "c"]);
        assert_eq!(r["Failed"][0]["Id"], "b");
        assert_eq!(r["Failed"][0]["Code"], "MissingParameter");
        for (bad, code) in [
            (json!([]), "EmptyBatchRequest"),
            (
                json!([{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}]),
                "BatchEntryIdsNotDistinct",
            ),
            (
                json!([{"Id": "no spaces", "MessageBody": "1"}]),
                "InvalidBatchEntryId",
            ),
            (
                Value::Array(
                    (0..11)
                        .map(|i| json!({"Id": format!("m{i}"), "MessageBody": "x"}))
                        .collect(),
                ),
                "TooManyEntriesInBatchRequest",
            ),
        ] {
            let e = sqs
                .call(
                    "SendMessageBatch",
                    &json!({"QueueUrl": url, "Entries": bad}),
                    1.0,
                )
                .unwrap_err();
            assert_eq!(e.code, code);
            assert!(crate::sim::sqs_error::query_code(code).starts_with("AWS.SimpleQueueService."));
        }
        let got = sqs
            .call(
                "ReceiveMessage",
                &json!({"QueueUrl": url, "MaxNumberOfMessages": 10}),
                2.0,
            )
            .unwrap();
        let handles: Vec<Value> = got["Messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["ReceiptHandle"].clone())
            .collect();
        assert_eq!(handles.len(), 2);
        // Visible again at once: received again before the 30 s timeout.
        sqs.call(
            "ChangeMessageVisibility",
            &json!({"QueueUrl": url, "ReceiptHandle": handles[0], "VisibilityTimeout": 0}),
            3.0,
        )
        .unwrap();
        let again = sqs
            .call("ReceiveMessage", &json!({"QueueUrl": url}), 3.0)
            .unwrap();
        assert_eq!(again["Messages"][0]["Body"], "one");
        let e = sqs
            .call(
                "ChangeMessageVisibility",
                &json!({"QueueUrl": url, "ReceiptHandle": handles[1], "VisibilityTimeout": 50000}),
                3.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let new_handle = again["Messages"][0]["ReceiptHandle"].clone();
        let d = sqs
            .call(
                "DeleteMessageBatch",
                &json!({"QueueUrl": url, "Entries": [
                    {"Id": "1", "ReceiptHandle": new_handle},
                    {"Id": "2", "ReceiptHandle": handles[1]},
                    {"Id": "3", "ReceiptHandle": "garbage"}]}),
                4.0,
            )
            .unwrap();
        assert_eq!(d["Successful"].as_array().unwrap().len(), 2);
        assert_eq!(d["Failed"][0]["Id"], "3");
        assert_eq!(
            sqs.call("ReceiveMessage", &json!({"QueueUrl": url}), 999.0)
                .unwrap(),
            json!({})
        );
    }

    #[test]
    fn send_receive_delete_and_visibility() {
        let sqs = Sqs::default();
        let url = sqs.create_queue("jobs", None, 0.0).unwrap();
        assert_eq!(url, "https://sqs.us-east-1.amazonaws.com/123456789012/jobs");
        let r = sqs
            .call(
                "SendMessage",
                &json!({"QueueUrl": url, "MessageBody": {"a": 1}}),
                1.0,
            )
            .unwrap();
        assert_eq!(r["MD5OfMessageBody"], md5_hex("{\"a\":1}"));
        let got = sqs
            .call("ReceiveMessage", &json!({"QueueUrl": url}), 2.0)
            .unwrap();
        let m = &got["Messages"][0];
        assert_eq!(m["Body"], "{\"a\":1}");
        // In flight: not received again until the visibility timeout passes.
        assert_eq!(
            sqs.call("ReceiveMessage", &json!({"QueueUrl": url}), 3.0)
                .unwrap(),
            json!({})
        );
        let again = sqs
            .call("ReceiveMessage", &json!({"QueueUrl": url}), 40.0)
            .unwrap();
        let handle = again["Messages"][0]["ReceiptHandle"].clone();
        sqs.call(
            "DeleteMessage",
            &json!({"QueueUrl": url, "ReceiptHandle": handle}),
            41.0,
        )
        .unwrap();
        assert_eq!(
            sqs.call("ReceiveMessage", &json!({"QueueUrl": url}), 99.0)
                .unwrap(),
            json!({})
        );
        let e = sqs
            .call(
                "SendMessage",
                &json!({"QueueUrl": "nope", "MessageBody": "x"}),
                1.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "QueueDoesNotExist");
        assert_eq!(billed_requests(64 * 1024 + 1), 2);
        assert_eq!(stable_uuid("x", 1), stable_uuid("x", 1));
        assert_ne!(stable_uuid("x", 1), stable_uuid("x", 2));
    }
}
