//! S3 as a simulated service: the S3 calls the engine makes (Distributed Map's ItemReader and
//! ResultWriter, and `aws-sdk:s3:*` tasks), the S3 requests handlers make through their
//! [`Invocation`](crate::sim::handler::Invocation), the time each request takes, and the request
//! counts each execution is billed for (`S3Service`, composed by the world), and [`S3Error`].
//!
//! Every request is first checked against IAM where the world enforces it (the execution's
//! role for the state machine's own calls, the function's role for a handler's; see
//! [`crate::sim::iam`]); a refusal is S3's `AccessDenied`.
//!
//! Every request costs a fixed latency plus its bytes over a bandwidth. Both figures come from
//! CALIBRATION.md, "FMI channel model", row "S3": 40.4 ms per operation and 50 MB/s per pair
//! (read as 50 × 10⁶ bytes per second). That row measures S3 used as a message channel from
//! Lambda. The state machine's own requests (ItemReader, ResultWriter, `aws-sdk:s3` tasks) use
//! it as it is.
//!
//! A handler's requests move their bytes at the function's network share instead, which grows
//! with memory like its CPU share ([`S3Model::function_bandwidth`]): 550 Mbit/s (68.75 MB/s) from
//! one vCPU (1,769 MB) up, proportionally less below. The 550 Mbit/s is the middle of the
//! 400–700 Mbit/s a single function measured downloading 100 MB–5 GB S3 objects (Tim Wagner,
//! "Using AWS Step Functions and Lambda for Fanout", 2019); that throughput grows with memory at
//! the low end is measured (Cribl, "AWS Lambda physics", 2018; DPG Media, "The effect of memory
//! configuration on AWS Lambda's network throughput", 2022), but its exact slope is not
//! published, so the proportional share below 1,769 MB is a guess.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::engine::{Clock, ServiceResponse, ServiceResult, SimTime, TaskFailure};
use crate::rng::SimRng;
use crate::sim::dist::seconds;
use crate::sim::faults::S3Faults;
use crate::sim::iam::enforce::{s3_resource, Caller, IamGuard};
use crate::sim::ledger::Ledger;
use crate::storage::{ListPage, ListRequest, ObjectInfo, Store, StoreError};

/// The time S3 requests take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct S3Model {
    /// Fixed time per request. CALIBRATION.md "FMI channel model", row "S3": 40.4 ms.
    pub request_latency: Duration,
    /// Transfer rate in bytes per second. Same row: 50 MB/s per producer×consumer pair.
    pub bandwidth_bytes_per_second: f64,
}

impl Default for S3Model {
    fn default() -> Self {
        S3Model {
            request_latency: Duration::from_micros(40_400),
            bandwidth_bytes_per_second: 50e6,
        }
    }
}

/// A Lambda function's S3 transfer rate at full share (one vCPU, 1,769 MB, and up): 550 Mbit/s.
pub const FUNCTION_S3_BYTES_PER_SECOND: f64 = 550e6 / 8.0;

impl S3Model {
    /// The time one request moving `bytes` takes.
    pub fn request_time(&self, bytes: u64) -> Duration {
        self.time_at(bytes, self.bandwidth_bytes_per_second)
    }

    /// The transfer rate of a function with `memory_mb` of memory: its share of
    /// [`FUNCTION_S3_BYTES_PER_SECOND`], which it has in full from 1,769 MB (one vCPU) up.
    pub fn function_bandwidth(memory_mb: u32) -> f64 {
        FUNCTION_S3_BYTES_PER_SECOND * (f64::from(memory_mb) / 1769.0).min(1.0)
    }

    /// The time one request by `caller` moving `bytes` takes.
    pub(crate) fn request_time_for(&self, caller: Caller<'_>, bytes: u64) -> Duration {
        match caller {
            Caller::Execution => self.request_time(bytes),
            Caller::Function { memory_mb, .. } => {
                self.time_at(bytes, Self::function_bandwidth(memory_mb))
            }
        }
    }

    fn time_at(&self, bytes: u64, bandwidth: f64) -> Duration {
        let transfer = if bandwidth > 0.0 && bytes > 0 {
            seconds(bytes as f64 / bandwidth)
        } else {
            Duration::ZERO
        };
        self.request_latency.saturating_add(transfer)
    }
}

/// An S3 request made by a handler failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    /// The S3 error code: `NoSuchKey`, `NoSuchBucket`, `SlowDown`, `InternalError`, ...
    pub code: String,
    /// A readable message.
    pub message: String,
}

impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> Self {
        S3Error {
            code: e.s3_code().to_string(),
            message: e.to_string(),
        }
    }
}

/// The S3 request classes, for billing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestClass {
    Get,
    Put,
    List,
    /// DELETE requests are free.
    Free,
}

fn s3_timestamp(t: SimTime) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The S3 service of a world: the store, the request timing, and the injected faults. Each
/// request is charged to the execution whose ledger key the caller passes.
pub(crate) struct S3Service {
    clock: Rc<dyn Clock>,
    ledger: Rc<RefCell<Ledger>>,
    store: Store,
    model: S3Model,
    faults: Option<S3Faults>,
    /// Draws of the injected error rate.
    fault_rng: RefCell<SimRng>,
    /// The world's IAM checks, when it enforces them.
    iam: Option<Rc<IamGuard>>,
}

impl S3Service {
    pub(crate) fn new(
        clock: Rc<dyn Clock>,
        ledger: Rc<RefCell<Ledger>>,
        store: Store,
        model: S3Model,
        faults: Option<S3Faults>,
        fault_rng: SimRng,
        iam: Option<Rc<IamGuard>>,
    ) -> S3Service {
        S3Service {
            clock,
            ledger,
            store,
            model,
            faults,
            fault_rng: RefCell::new(fault_rng),
            iam,
        }
    }

    /// The object store behind the service.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Checks `action` on `resource` for `caller` (charged to `key`). A refusal is S3's
    /// `AccessDenied`, after one request's latency; it is not billed.
    async fn authorize(
        &self,
        key: &str,
        caller: Caller<'_>,
        action: &str,
        resource: &str,
    ) -> Result<(), S3Error> {
        let Some(iam) = &self.iam else {
            return Ok(());
        };
        let Some(denied) = iam.check(caller, key, action, resource) else {
            return Ok(());
        };
        self.clock.sleep(self.model.request_time(0)).await;
        Err(S3Error {
            code: "AccessDenied".to_string(),
            message: denied.message(action, &format!("\"{resource}\"")),
        })
    }

    /// Bills one S3 request and decides whether an injected fault fails it.
    fn request(
        &self,
        key: &str,
        class: RequestClass,
        read: u64,
        written: u64,
    ) -> Result<(), S3Error> {
        if let Some(u) = self.ledger.borrow_mut().get_mut(key) {
            match class {
                RequestClass::Get => u.s3.get_requests += 1,
                RequestClass::Put => u.s3.put_requests += 1,
                RequestClass::List => u.s3.list_requests += 1,
                RequestClass::Free => {}
            }
            u.s3.bytes_read += read;
            u.s3.bytes_written += written;
        }
        if let Some(f) = &self.faults {
            if f.error_rate > 0.0 && self.fault_rng.borrow_mut().next_f64() < f.error_rate {
                let message = match f.error_code.as_str() {
                    "SlowDown" => "Please reduce your request rate.",
                    _ => "We encountered an internal error. Please try again.",
                };
                return Err(S3Error {
                    code: f.error_code.clone(),
                    message: message.to_string(),
                });
            }
        }
        Ok(())
    }

    /// GET an object for `key`'s execution.
    pub(crate) async fn get(
        &self,
        key: &str,
        caller: Caller<'_>,
        bucket: &str,
        object_key: &str,
    ) -> Result<(ObjectInfo, Bytes), S3Error> {
        let resource = s3_resource(bucket, Some(object_key));
        self.authorize(key, caller, "s3:GetObject", &resource)
            .await?;
        let got = self.store.get(bucket, object_key).await;
        let bytes = got.as_ref().map_or(0, |(_, b)| b.len() as u64);
        let fault = self.request(key, RequestClass::Get, bytes, 0);
        self.clock
            .sleep(self.model.request_time_for(caller, bytes))
            .await;
        fault?;
        got.map_err(S3Error::from)
    }

    /// HEAD an object (billed as a GET).
    pub(crate) async fn head(
        &self,
        key: &str,
        caller: Caller<'_>,
        bucket: &str,
        object_key: &str,
    ) -> Result<ObjectInfo, S3Error> {
        // HEAD needs s3:GetObject, as on S3.
        let resource = s3_resource(bucket, Some(object_key));
        self.authorize(key, caller, "s3:GetObject", &resource)
            .await?;
        let got = self.store.head(bucket, object_key).await;
        let fault = self.request(key, RequestClass::Get, 0, 0);
        self.clock.sleep(self.model.request_time(0)).await;
        fault?;
        got.map_err(S3Error::from)
    }

    /// PUT an object; it becomes visible when the upload completes.
    pub(crate) async fn put(
        &self,
        key: &str,
        caller: Caller<'_>,
        bucket: &str,
        object_key: &str,
        body: Bytes,
    ) -> Result<ObjectInfo, S3Error> {
        let resource = s3_resource(bucket, Some(object_key));
        self.authorize(key, caller, "s3:PutObject", &resource)
            .await?;
        let fault = self.request(key, RequestClass::Put, 0, body.len() as u64);
        self.clock
            .sleep(self.model.request_time_for(caller, body.len() as u64))
            .await;
        fault?;
        self.store
            .put(bucket, object_key, body, self.clock.now())
            .await
            .map_err(S3Error::from)
    }

    /// One LIST request.
    pub(crate) async fn list(
        &self,
        key: &str,
        caller: Caller<'_>,
        bucket: &str,
        req: &ListRequest,
    ) -> Result<ListPage, S3Error> {
        self.authorize(key, caller, "s3:ListBucket", &s3_resource(bucket, None))
            .await?;
        let page = self.store.list(bucket, req).await;
        let fault = self.request(key, RequestClass::List, 0, 0);
        self.clock.sleep(self.model.request_time(0)).await;
        fault?;
        page.map_err(S3Error::from)
    }

    /// DELETE an object (free).
    pub(crate) async fn delete(
        &self,
        key: &str,
        caller: Caller<'_>,
        bucket: &str,
        object_key: &str,
    ) -> Result<(), S3Error> {
        let resource = s3_resource(bucket, Some(object_key));
        self.authorize(key, caller, "s3:DeleteObject", &resource)
            .await?;
        let fault = self.request(key, RequestClass::Free, 0, 0);
        self.clock.sleep(self.model.request_time(0)).await;
        fault?;
        self.store
            .delete(bucket, object_key)
            .await
            .map_err(S3Error::from)
    }

    /// An S3 call from the engine: `getObject`, `putObject`, `listObjectsV2`, `headObject`,
    /// `deleteObject`, with AWS-shaped (SDK JSON) responses and Step Functions error names.
    ///
    /// `request_id` draws the request id of a failed call (from the world's stream of ids
    /// for errors no function produced).
    pub(crate) async fn service_call(
        &self,
        execution_arn: &str,
        action: &str,
        p: &Value,
        request_id: &dyn Fn() -> String,
    ) -> ServiceResult {
        let key = self.ledger.borrow_mut().resolve(execution_arn);
        let text = |name: &str| p.get(name).and_then(Value::as_str);
        let need = |name: &str| {
            text(name).ok_or_else(|| {
                TaskFailure::new(
                    "States.TaskFailed",
                    format!(
                        "s3:{} needs the string parameter `{name}` (got {})",
                        action,
                        p.get(name).map_or("nothing".to_string(), |v| v.to_string())
                    ),
                )
            })
        };
        let result = match action {
            "getObject" => {
                let (bucket, object) = (need("Bucket")?, need("Key")?);
                self.get(&key, Caller::Execution, bucket, object)
                    .await
                    .map(|(info, body)| {
                        let mut m = object_fields(&info);
                        m.insert(
                            "Body".into(),
                            Value::String(String::from_utf8_lossy(&body).into_owned()),
                        );
                        Value::Object(sorted(m))
                    })
            }
            "headObject" => {
                let (bucket, object) = (need("Bucket")?, need("Key")?);
                self.head(&key, Caller::Execution, bucket, object)
                    .await
                    .map(|info| Value::Object(sorted(object_fields(&info))))
            }
            "putObject" => {
                let (bucket, object) = (need("Bucket")?, need("Key")?);
                let body = match p.get("Body") {
                    Some(Value::String(s)) => Bytes::from(s.clone()),
                    Some(Value::Null) | None => Bytes::new(),
                    Some(other) => Bytes::from(other.to_string()),
                };
                self.put(&key, Caller::Execution, bucket, object, body)
                    .await
                    .map(|info| {
                        let mut m = Map::new();
                        m.insert("ETag".into(), Value::String(info.etag));
                        m.insert("ServerSideEncryption".into(), "AES256".into());
                        Value::Object(m)
                    })
            }
            "deleteObject" => {
                let (bucket, object) = (need("Bucket")?, need("Key")?);
                self.delete(&key, Caller::Execution, bucket, object)
                    .await
                    .map(|()| Value::Object(Map::new()))
            }
            "listObjectsV2" => {
                let bucket = need("Bucket")?;
                let max_keys = match p.get("MaxKeys") {
                    None | Some(Value::Null) => None,
                    Some(v) => match v.as_u64() {
                        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                        None => {
                            return Err(TaskFailure::new(
                                "States.TaskFailed",
                                format!(
                                "s3:listObjectsV2: MaxKeys must be a non-negative integer, got {v}"
                            ),
                            ))
                        }
                    },
                };
                let req = ListRequest {
                    prefix: text("Prefix").unwrap_or("").to_string(),
                    delimiter: text("Delimiter").map(str::to_string),
                    continuation_token: text("ContinuationToken").map(str::to_string),
                    start_after: text("StartAfter").map(str::to_string),
                    max_keys,
                };
                self.list(&key, Caller::Execution, bucket, &req)
                    .await
                    .map(|page| list_response(bucket, &req, &page))
            }
            other => {
                return Err(TaskFailure::new(
                    "States.TaskFailed",
                    format!("The simulated S3 service does not support the action `{other}`"),
                ))
            }
        };
        match result {
            Ok(output) => Ok(ServiceResponse::Json(output)),
            Err(e) => Err(failure(&e, &request_id())),
        }
    }
}

/// An S3 error as Step Functions reports an S3 SDK integration failure.
fn failure(e: &S3Error, id: &str) -> TaskFailure {
    let (name, message, status) = match e.code.as_str() {
        "NoSuchKey" => (
            "S3.NoSuchKeyException",
            "The specified key does not exist.",
            404,
        ),
        "NoSuchBucket" => (
            "S3.NoSuchBucketException",
            "The specified bucket does not exist",
            404,
        ),
        "InvalidBucketName" => ("S3.S3Exception", "The specified bucket is not valid.", 400),
        "InvalidArgument" => (
            "S3.S3Exception",
            "The continuation token provided is incorrect",
            400,
        ),
        "KeyTooLongError" => ("S3.S3Exception", "Your key is too long", 400),
        "SlowDown" => ("S3.S3Exception", "Please reduce your request rate.", 503),
        "AccessDenied" => ("S3.S3Exception", e.message.as_str(), 403),
        "InternalError" => (
            "S3.S3Exception",
            "We encountered an internal error. Please try again.",
            500,
        ),
        _ => ("S3.S3Exception", e.message.as_str(), 500),
    };
    TaskFailure::new(
        name,
        format!("{message} (Service: S3, Status Code: {status}, Request ID: {id})"),
    )
}

/// Keys in alphabetical order, as the SDK's JSON (and the corpus) shows responses.
fn sorted(m: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = m.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

fn object_fields(info: &ObjectInfo) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("AcceptRanges".into(), "bytes".into());
    m.insert("ContentLength".into(), Value::from(info.size));
    // S3's default for objects written without a content type.
    m.insert("ContentType".into(), "binary/octet-stream".into());
    m.insert("ETag".into(), Value::String(info.etag.clone()));
    m.insert(
        "LastModified".into(),
        Value::String(s3_timestamp(info.last_modified)),
    );
    m.insert("Metadata".into(), Value::Object(Map::new()));
    m
}

fn list_response(bucket: &str, req: &ListRequest, page: &ListPage) -> Value {
    let mut m = Map::new();
    if !page.common_prefixes.is_empty() {
        m.insert(
            "CommonPrefixes".into(),
            Value::Array(
                page.common_prefixes
                    .iter()
                    .map(|p| {
                        let mut o = Map::new();
                        o.insert("Prefix".into(), Value::String(p.clone()));
                        Value::Object(o)
                    })
                    .collect(),
            ),
        );
    }
    if !page.objects.is_empty() {
        m.insert(
            "Contents".into(),
            Value::Array(
                page.objects
                    .iter()
                    .map(|o| {
                        let mut c = Map::new();
                        c.insert("ETag".into(), Value::String(o.etag.clone()));
                        c.insert("Key".into(), Value::String(o.key.clone()));
                        c.insert(
                            "LastModified".into(),
                            Value::String(s3_timestamp(o.last_modified)),
                        );
                        c.insert("Size".into(), Value::from(o.size));
                        c.insert("StorageClass".into(), "STANDARD".into());
                        Value::Object(c)
                    })
                    .collect(),
            ),
        );
    }
    if let Some(t) = &req.continuation_token {
        m.insert("ContinuationToken".into(), Value::String(t.clone()));
    }
    if let Some(d) = &req.delimiter {
        m.insert("Delimiter".into(), Value::String(d.clone()));
    }
    m.insert("IsTruncated".into(), Value::Bool(page.is_truncated));
    m.insert("KeyCount".into(), Value::from(page.key_count()));
    m.insert("MaxKeys".into(), Value::from(page.max_keys));
    m.insert("Name".into(), Value::String(bucket.to_string()));
    if let Some(t) = &page.next_continuation_token {
        m.insert("NextContinuationToken".into(), Value::String(t.clone()));
    }
    m.insert("Prefix".into(), Value::String(req.prefix.clone()));
    if let Some(s) = &req.start_after {
        m.insert("StartAfter".into(), Value::String(s.clone()));
    }
    Value::Object(m)
}

/// Whether a PUT body is `aws-chunked` (streaming uploads, or uploads with a trailing
/// checksum), from its `Content-Encoding` and `x-amz-content-sha256` headers.
pub fn is_aws_chunked(content_encoding: Option<&str>, content_sha256: Option<&str>) -> bool {
    content_encoding.is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"))
        || content_sha256.is_some_and(|s| s.starts_with("STREAMING-"))
}

/// Decodes `SIZE[;chunk-signature=...]\r\nDATA\r\n ... 0...\r\n[trailers]\r\n`.
pub fn decode_aws_chunked(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0usize;
    loop {
        let line_end = find_crlf(body, at).ok_or("a chunk header has no line end")?;
        let header = std::str::from_utf8(&body[at..line_end])
            .map_err(|_| "a chunk header is not text".to_string())?;
        let size_text = header.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        at = line_end + 2;
        if size == 0 {
            // Trailers (checksums) follow; they are not part of the object.
            return Ok(out);
        }
        let end = at.checked_add(size).ok_or("chunk size overflows")?;
        let chunk = body
            .get(at..end)
            .ok_or("a chunk is shorter than its size")?;
        out.extend_from_slice(chunk);
        if body.get(end..end + 2) != Some(b"\r\n") {
            return Err("a chunk does not end with CRLF".to_string());
        }
        at = end + 2;
    }
}

fn find_crlf(body: &[u8], from: usize) -> Option<usize> {
    body.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {

    #[test]
    fn function_transfer_rate_follows_memory() {
        // 550 Mbit/s from one vCPU (1,769 MB) up, proportionally less below.
        assert_eq!(S3Model::function_bandwidth(10_240), 68_750_000.0);
        assert_eq!(S3Model::function_bandwidth(1769), 68_750_000.0);
        let small = S3Model::function_bandwidth(128);
        assert!(
            (small - 68_750_000.0 * 128.0 / 1769.0).abs() < 1.0,
            "{small}"
        );
        let m = S3Model::default();
        let caller = Caller::Function {
            name: "f",
            role: None,
            memory_mb: 10_240,
        };
        // 100 MiB at 68.75 MB/s plus the 40.4 ms request latency; the state machine's own
        // requests keep the 50 MB/s channel rate.
        let t = m.request_time_for(caller, 104_857_600).as_secs_f64();
        assert!((t - (0.0404 + 104_857_600.0 / 68.75e6)).abs() < 1e-6, "{t}");
        let t = m
            .request_time_for(Caller::Execution, 50_000_000)
            .as_secs_f64();
        assert!((t - 1.0404).abs() < 1e-6, "{t}");
    }

    use super::*;

    #[test]
    fn request_time() {
        let m = S3Model::default();
        assert_eq!(m.request_time(0), Duration::from_micros(40_400));
        // 100 MB at 50 MB/s = 2 s.
        assert_eq!(
            m.request_time(100_000_000),
            Duration::from_micros(2_040_400)
        );
    }
}
