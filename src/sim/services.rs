//! The account's services beyond Lambda and S3, and how a Task reaches them: [`AwsServices`]
//! bundles DynamoDB, SQS, SNS and EventBridge (shareable handles, so `serve` gives the same
//! ones to every world and to its endpoints), and [`AwsServices::task_call`] answers a state
//! machine's call with the AWS response shapes Step Functions passes on, charging the
//! execution's ledger entry ([`ServiceUsage`]) and spending the request's latency on the clock.
//!
//! Two families of resources:
//! - optimized integrations (`arn:aws:states:::dynamodb:putItem`, `sqs:sendMessage`,
//!   `sns:publish`, `events:putEvents`): DynamoDB, SQS and SNS responses carry the
//!   `SdkHttpMetadata` and `SdkResponseMetadata` of the Java SDK Step Functions calls them
//!   with; errors are named `DynamoDB.<Code>`, `SQS.<Code>`, `SNS.<Code>`, with the SDK's
//!   cause text `MESSAGE (Service: ...; Status Code: 400; Error Code: CODE; Request ID: ID;
//!   Proxy: null)`;
//! - AWS SDK integrations (`arn:aws:states:::aws-sdk:dynamodb:query`, ...): the plain SDK
//!   response; errors named `DynamoDb.<Code>` (the SDK v2 service name), caused
//!   `MESSAGE (Service: DynamoDb, Status Code: 400, Request ID: ID)`.
//!
//! Latencies are guesses (no CALIBRATION.md row measures these services from Step
//! Functions): DynamoDB 5 ms ("single-digit millisecond" in DynamoDB's documentation), SQS
//! 10 ms, SNS and EventBridge 20 ms per call.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::engine::{Clock, ServiceResponse, ServiceResult, SimTime, TaskFailure};
use crate::sim::dynamodb::{DynamoDb, TableEntry};
use crate::sim::events::EventBus;
use crate::sim::iam::enforce::{Caller, IamGuard};
use crate::sim::ledger::{Ledger, ServiceUsage};
use crate::sim::sns::Sns;
use crate::sim::sqs::{billed_requests, Sqs};

/// DynamoDB, SQS, SNS and EventBridge of one account.
#[derive(Clone, Debug)]
pub struct AwsServices {
    pub dynamodb: DynamoDb,
    pub sqs: Sqs,
    pub sns: Sns,
    pub events: EventBus,
    /// Lambda functions consuming queues (event source mappings), by queue name.
    consumers: Arc<Mutex<BTreeMap<String, Consumer>>>,
    /// For the resource ARNs IAM checks.
    region: String,
    account: String,
}

impl Default for AwsServices {
    fn default() -> Self {
        AwsServices::new("us-east-1", "123456789012")
    }
}

/// A project's `services.toml`: the tables, queues and topics that exist before a run.
///
/// ```toml
/// [tables.Orders]
/// partition_key = "orderId"        # NAME or NAME:TYPE (S, N or B)
/// sort_key = "createdAt:N"         # optional
/// items = "tables/orders.json"     # optional seed items, DynamoDB JSON (not under seed/, which is S3)
///
/// [queues.work]
/// visibility_timeout = 30          # optional, seconds
/// delay_seconds = 0                # optional, 0-900: delivery delay
/// message_retention_seconds = 345600   # optional, 60-1209600
/// dead_letter_queue = "work-dlq"   # optional: a queue declared here, with
/// max_receive_count = 3            #   the receives after which a message moves there
/// lambda = "worker"                # optional: a function invoked with the queue's messages
/// batch_size = 10                  #   1-10 messages per invocation
/// batching_window = 0              #   seconds to gather a batch (0-300)
/// report_batch_item_failures = false  # the function's batchItemFailures are retried
///
/// [topics.alerts]
/// sqs = ["work"]                   # optional: queues subscribed (SNS envelope delivered)
/// raw_sqs = []                     # optional: queues subscribed with RawMessageDelivery
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesFile {
    #[serde(default)]
    pub tables: BTreeMap<String, TableEntry>,
    #[serde(default)]
    pub queues: BTreeMap<String, QueueEntry>,
    #[serde(default)]
    pub topics: BTreeMap<String, TopicEntry>,
}

/// One `[queues.NAME]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueEntry {
    pub visibility_timeout: Option<u32>,
    pub delay_seconds: Option<u32>,
    pub message_retention_seconds: Option<u32>,
    pub dead_letter_queue: Option<String>,
    pub max_receive_count: Option<u32>,
    /// A Lambda function that consumes the queue (an event source mapping).
    pub lambda: Option<String>,
    pub batch_size: Option<u32>,
    pub batching_window: Option<u32>,
    pub report_batch_item_failures: Option<bool>,
    /// FIFO queues (named `NAME.fifo`): deduplicate by the body's SHA-256.
    pub content_based_deduplication: Option<bool>,
}

/// A Lambda function that consumes a queue: an SQS event source mapping (see
/// [`crate::sim::esm`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    /// The function's name or ARN.
    pub function: String,
    /// Messages per invocation, 1 to 10.
    pub batch_size: usize,
    /// How long to gather a batch before invoking with fewer (`MaximumBatchingWindowInSeconds`).
    pub batching_window: Duration,
    /// Whether the function's `batchItemFailures` answer keeps only those messages.
    pub report_batch_item_failures: bool,
}

/// One `[topics.NAME]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicEntry {
    #[serde(default)]
    pub sqs: Vec<String>,
    #[serde(default)]
    pub raw_sqs: Vec<String>,
}

/// The services a Task resource names that this module answers.
pub const SERVICES: [&str; 4] = ["dynamodb", "sqs", "sns", "events"];

/// Seconds since the epoch, as the services keep time.
pub fn epoch_seconds(t: SimTime) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn latency(service: &str) -> Duration {
    match service {
        "dynamodb" => Duration::from_millis(5),
        "sqs" => Duration::from_millis(10),
        _ => Duration::from_millis(20),
    }
}

/// A service's failure: its AWS error code, message and HTTP status (before Step Functions
/// names it, or as an SDK client sees it).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) status: u16,
    /// DynamoDB's `CancellationReasons` of a cancelled transaction.
    pub(crate) cancellation_reasons: Option<Box<Value>>,
}

impl AwsServices {
    /// Empty services for `region`/`account` (their ARNs and URLs).
    pub fn new(region: &str, account: &str) -> Self {
        let sqs = Sqs::new(region, account);
        AwsServices {
            dynamodb: DynamoDb::new(region, account),
            sns: Sns::new(sqs.clone(), region, account),
            sqs,
            events: EventBus::default(),
            consumers: Default::default(),
            region: region.to_string(),
            account: account.to_string(),
        }
    }

    /// Makes `consumer` the Lambda function that consumes queue `name`.
    pub fn set_consumer(&self, name: &str, consumer: Consumer) {
        self.consumers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), consumer);
    }

    /// The queues a function consumes, by name.
    pub fn consumers(&self) -> Vec<(String, Consumer)> {
        let map = self.consumers.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The IAM action and resource ARN of a call (`dynamodb:PutItem` on the table, ...).
    fn iam_target(&self, service: &str, action: &str, p: &Value) -> (String, String) {
        let mut upper = action.chars();
        let api = upper
            .next()
            .map(|c| c.to_uppercase().chain(upper).collect::<String>())
            .unwrap_or_default();
        let text = |k: &str| p.get(k).and_then(Value::as_str);
        let (region, account) = (&self.region, &self.account);
        let resource = match service {
            "dynamodb" => match text("TableName") {
                Some(t) => format!("arn:aws:dynamodb:{region}:{account}:table/{t}"),
                None => "*".to_string(),
            },
            "sqs" => {
                let queue = text("QueueUrl")
                    .and_then(|u| u.rsplit('/').next())
                    .or(text("QueueName"))
                    .unwrap_or("*");
                format!("arn:aws:sqs:{region}:{account}:{queue}")
            }
            "sns" => text("TopicArn")
                .or(text("TargetArn"))
                .unwrap_or("*")
                .to_string(),
            _ => {
                let bus = p
                    .pointer("/Entries/0/EventBusName")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                if bus.starts_with("arn:") {
                    bus.to_string()
                } else {
                    format!("arn:aws:events:{region}:{account}:event-bus/{bus}")
                }
            }
        };
        (format!("{service}:{api}"), resource)
    }

    /// Creates what a `services.toml` declares (seed files relative to `dir`), at epoch
    /// seconds `now`. A problem reads `line N: KEY: MESSAGE` or `KEY: MESSAGE`; the caller
    /// adds the file.
    pub fn load_file(&self, path: &Path, dir: &Path, now: f64) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let parsed: ServicesFile =
            crate::sim::config_file::parse(&text).map_err(|p| match p.line {
                Some(n) => format!("line {n}: {p}"),
                None => p.to_string(),
            })?;
        for (name, entry) in &parsed.tables {
            self.dynamodb.create_declared(name, entry, dir, now)?;
        }
        for (name, entry) in &parsed.queues {
            let mut attributes = Map::new();
            for (key, v) in [
                ("VisibilityTimeout", entry.visibility_timeout),
                ("DelaySeconds", entry.delay_seconds),
                ("MessageRetentionPeriod", entry.message_retention_seconds),
            ] {
                if let Some(v) = v {
                    attributes.insert(key.into(), v.to_string().into());
                }
            }
            // A `.fifo` name declares a FIFO queue.
            if name.ends_with(".fifo") {
                attributes.insert("FifoQueue".into(), "true".into());
            }
            if let Some(c) = entry.content_based_deduplication {
                attributes.insert("ContentBasedDeduplication".into(), c.to_string().into());
            }
            let attributes = (!attributes.is_empty()).then_some(Value::Object(attributes));
            self.sqs
                .create_queue(name, attributes.as_ref(), now)
                .map_err(|e| format!("queues.{name}: {}", e.message))?;
        }
        for (name, entry) in &parsed.queues {
            let Some(function) = &entry.lambda else {
                if entry.batch_size.is_some() || entry.batching_window.is_some() {
                    return Err(format!(
                        "queues.{name}: batch_size and batching_window need `lambda`"
                    ));
                }
                continue;
            };
            let batch_size = entry.batch_size.unwrap_or(10);
            if !(1..=10).contains(&batch_size) {
                return Err(format!("queues.{name}: batch_size must be 1 to 10"));
            }
            let window = entry.batching_window.unwrap_or(0);
            if window > 300 {
                return Err(format!(
                    "queues.{name}: batching_window must be 0 to 300 seconds"
                ));
            }
            self.set_consumer(
                name,
                Consumer {
                    function: function.clone(),
                    batch_size: batch_size as usize,
                    batching_window: Duration::from_secs(window.into()),
                    report_batch_item_failures: entry.report_batch_item_failures.unwrap_or(false),
                },
            );
        }
        // Redrive policies once every queue exists (a dead-letter queue may sort after).
        for (name, entry) in &parsed.queues {
            let policy = match (&entry.dead_letter_queue, entry.max_receive_count) {
                (None, None) => continue,
                (Some(dlq), Some(n)) => json!({
                    "deadLetterTargetArn": format!("arn:aws:sqs:{}:{}:{dlq}", self.region, self.account),
                    "maxReceiveCount": n,
                }),
                _ => {
                    return Err(format!(
                        "queues.{name}: dead_letter_queue and max_receive_count go together"
                    ))
                }
            };
            let req = json!({"QueueUrl": self.sqs.url_of(name),
                             "Attributes": {"RedrivePolicy": policy.to_string()}});
            self.sqs
                .call("SetQueueAttributes", &req, now)
                .map_err(|e| format!("queues.{name}: {}", e.message))?;
        }
        for (name, entry) in &parsed.topics {
            let topic = self.sns.create_topic(name);
            let subs = entry.sqs.iter().map(|q| (q, "false"));
            for (queue, raw) in subs.chain(entry.raw_sqs.iter().map(|q| (q, "true"))) {
                if !self.sqs.queue_names().contains(queue) {
                    return Err(format!(
                        "topics.{name}: queue `{queue}` is not declared under [queues]"
                    ));
                }
                let req = json!({"TopicArn": topic, "Protocol": "sqs",
                                 "Endpoint": self.sqs.url_of(queue),
                                 "Attributes": {"RawMessageDelivery": raw}});
                self.sns
                    .call("Subscribe", &req, now)
                    .map_err(|e| format!("topics.{name}: {}", e.message))?;
            }
        }
        Ok(())
    }

    /// Answers a Task's call to `service:action` (`resource` as written), charging
    /// `execution_arn`. `None` when the service is not one of [`SERVICES`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn task_call(
        &self,
        clock: &Rc<dyn Clock>,
        ledger: &Rc<RefCell<Ledger>>,
        iam: Option<&IamGuard>,
        execution_arn: &str,
        resource: &str,
        service: &str,
        action: &str,
        params: &Value,
        request_id: &dyn Fn() -> String,
    ) -> Option<ServiceResult> {
        if !SERVICES.contains(&service) {
            return None;
        }
        let sdk = resource.contains(":aws-sdk:");
        let result = self
            .call_as(
                clock,
                ledger,
                iam,
                Caller::Execution,
                execution_arn,
                service,
                action,
                params,
            )
            .await;
        let id = request_id();
        Some(match result {
            Ok(body) if sdk || service == "events" => Ok(ServiceResponse::Json(body)),
            Ok(body) => Ok(ServiceResponse::Json(with_sdk_metadata(
                body,
                service,
                &id,
                clock.now(),
            ))),
            Err(f) => Err(failure(service, sdk, &f, &id)),
        })
    }

    /// One call of `service:action` by `caller`, charged to ledger entry `key` (an execution
    /// ARN, resolved to its entry): the caller's role must allow it (a refusal costs one
    /// request's latency and is not billed), then the request is billed and its latency spent.
    /// Both Task integrations and handler code (through the loopback endpoint) call this.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call_as(
        &self,
        clock: &Rc<dyn Clock>,
        ledger: &Rc<RefCell<Ledger>>,
        iam: Option<&IamGuard>,
        caller: Caller<'_>,
        key: &str,
        service: &str,
        action: &str,
        params: &Value,
    ) -> Result<Value, Failure> {
        if let Some(iam) = iam {
            let (iam_action, arn) = self.iam_target(service, action, params);
            if let Some(denied) = iam.check(caller, key, &iam_action, &arn) {
                clock.sleep(latency(service)).await;
                let (code, status) = match service {
                    "sns" => ("AuthorizationError", 403),
                    "sqs" => ("AccessDenied", 403),
                    _ => ("AccessDeniedException", 400),
                };
                return Err(Failure {
                    code: code.to_string(),
                    message: denied.message(&iam_action, &arn),
                    status,
                    cancellation_reasons: None,
                });
            }
        }
        let now = epoch_seconds(clock.now());
        let mut usage = ServiceUsage::default();
        let result = self.dispatch(service, action, params, now, &mut usage);
        let key = ledger.borrow_mut().resolve(key);
        if let Some(u) = ledger.borrow_mut().get_mut(&key) {
            let s = &mut u.services;
            s.dynamodb_requests += usage.dynamodb_requests;
            s.dynamodb_read_half_units += usage.dynamodb_read_half_units;
            s.dynamodb_write_units += usage.dynamodb_write_units;
            s.sqs_requests += usage.sqs_requests;
            s.sqs_fifo_requests += usage.sqs_fifo_requests;
            s.sns_publishes += usage.sns_publishes;
            s.events += usage.events;
        }
        clock.sleep(latency(service)).await;
        result
    }

    fn dispatch(
        &self,
        service: &str,
        action: &str,
        params: &Value,
        now: f64,
        usage: &mut ServiceUsage,
    ) -> Result<Value, Failure> {
        match service {
            "dynamodb" => {
                usage.dynamodb_requests += 1;
                let out = self
                    .dynamodb
                    .call(action, params, now)
                    .map_err(|e| Failure {
                        status: e.status(),
                        code: e.code,
                        message: e.message,
                        cancellation_reasons: e.cancellation_reasons.map(Box::new),
                    })?;
                usage.dynamodb_read_half_units += out.read_half_units;
                usage.dynamodb_write_units += out.write_units;
                Ok(out.body)
            }
            "sqs" => {
                let billed = billed_requests(params.to_string().len());
                let fifo = params
                    .get("QueueUrl")
                    .and_then(Value::as_str)
                    .is_some_and(|q| self.sqs.is_fifo(q));
                if fifo {
                    usage.sqs_fifo_requests += billed;
                } else {
                    usage.sqs_requests += billed;
                }
                self.sqs.call(action, params, now).map_err(|e| Failure {
                    code: e.code,
                    message: e.message,
                    status: 400,
                    cancellation_reasons: None,
                })
            }
            "sns" => {
                if action.eq_ignore_ascii_case("publish") {
                    usage.sns_publishes += billed_requests(params.to_string().len());
                }
                self.sns.call(action, params, now).map_err(|e| Failure {
                    status: if e.code == "NotFound" { 404 } else { 400 },
                    code: e.code,
                    message: e.message,
                    cancellation_reasons: None,
                })
            }
            _ => {
                if action != "putEvents" {
                    return Err(Failure {
                        code: "UnknownOperationException".into(),
                        message: format!(
                            "The simulated EventBridge does not support the action `{action}`"
                        ),
                        status: 400,
                        cancellation_reasons: None,
                    });
                }
                let (body, billed) = self.events.put_events(params, now).map_err(|e| Failure {
                    code: e.code,
                    message: e.message,
                    status: 400,
                    cancellation_reasons: None,
                })?;
                usage.events += billed;
                Ok(body)
            }
        }
    }

    /// What the services hold now, for `run --json`'s `services` object: DynamoDB tables and
    /// their items, the messages waiting in each queue, SNS publishes and EventBridge events.
    pub fn snapshot_json(&self) -> Value {
        let mut tables = Map::new();
        for name in self.dynamodb.table_names() {
            let items = self.dynamodb.items(&name).unwrap_or_default();
            tables.insert(name, json!({"items": items}));
        }
        let mut queues = Map::new();
        for name in self.sqs.queue_names() {
            let bodies: Vec<String> = self
                .sqs
                .waiting(&name)
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.body)
                .collect();
            queues.insert(name, json!({"messages": bodies}));
        }
        let published: Vec<Value> = self
            .sns
            .published()
            .into_iter()
            .map(|p| json!({"topic_arn": p.topic_arn, "message_id": p.message_id, "subject": p.subject, "message": p.message}))
            .collect();
        let events: Vec<Value> = self
            .events
            .deliveries()
            .into_iter()
            .map(|d| json!({"event_id": d.event_id, "bus": d.bus, "source": d.source, "detail_type": d.detail_type, "detail": d.detail}))
            .collect();
        json!({
            "dynamodb": {"tables": tables},
            "sqs": {"queues": queues},
            "sns": {"published": published},
            "events": {"entries": events},
        })
    }
}

/// The optimized integrations' response metadata (the Java SDK's `SdkHttpMetadata`).
pub(crate) fn with_sdk_metadata(body: Value, service: &str, id: &str, now: SimTime) -> Value {
    let content_type = match service {
        "dynamodb" | "states" => "application/x-amz-json-1.0",
        _ => "text/xml",
    };
    let length = body.to_string().len().to_string();
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let headers = json!({
        "Content-Length": length,
        "Content-Type": content_type,
        "Date": date,
        "x-amzn-RequestId": id,
    });
    let all: Map<String, Value> = headers
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
                .collect()
        })
        .unwrap_or_default();
    let mut m = match body {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("Result".into(), other);
            m
        }
    };
    m.insert(
        "SdkHttpMetadata".into(),
        json!({"AllHttpHeaders": all, "HttpHeaders": headers, "HttpStatusCode": 200}),
    );
    m.insert("SdkResponseMetadata".into(), json!({"RequestId": id}));
    Value::Object(m)
}

/// A service failure as Step Functions names it.
fn failure(service: &str, sdk: bool, f: &Failure, id: &str) -> TaskFailure {
    if sdk {
        let prefix = match service {
            "dynamodb" => "DynamoDb",
            "sqs" => "Sqs",
            "sns" => "Sns",
            _ => "EventBridge",
        };
        let code = if f.code.ends_with("Exception") {
            f.code.clone()
        } else {
            format!("{}Exception", f.code)
        };
        return TaskFailure::new(
            format!("{prefix}.{code}"),
            format!(
                "{} (Service: {prefix}, Status Code: {}, Request ID: {id})",
                f.message, f.status
            ),
        );
    }
    let (prefix, sdk_service) = match service {
        "dynamodb" => ("DynamoDB", "AmazonDynamoDBv2"),
        "sqs" => ("SQS", "AmazonSQS"),
        "sns" => ("SNS", "AmazonSNS"),
        _ => ("EventBridge", "AmazonEventBridge"),
    };
    let name = match (service, f.code.as_str()) {
        // The Java SDK has no class for DynamoDB's access denial: it is the service's base
        // exception.
        ("dynamodb", "AccessDeniedException") => "AmazonDynamoDBException".to_string(),
        ("dynamodb", code) => code.to_string(),
        ("sqs", "QueueDoesNotExist") => "QueueDoesNotExistException".to_string(),
        ("sqs", _) => "AmazonSQSException".to_string(),
        (_, code) if code.ends_with("Exception") => code.to_string(),
        (_, code) => format!("{code}Exception"),
    };
    TaskFailure::new(
        format!("{prefix}.{name}"),
        format!(
            "{} (Service: {sdk_service}; Status Code: {}; Error Code: {}; Request ID: {id}; Proxy: null)",
            f.message, f.status, f.code
        ),
    )
}
