//! The HTTP front: one axum fallback handler that routes each request to its service by the
//! protocol's own markers, reads the body under that service's size limit, and writes one log
//! event per request (the request log, through `tracing`).
//!
//! | request                                        | service                  |
//! |------------------------------------------------|--------------------------|
//! | `X-Amz-Target: Logs_20140328.*`                | CloudWatch Logs (JSON 1.1) |
//! | `X-Amz-Target: DynamoDB_20120810.*`            | DynamoDB (JSON 1.0)      |
//! | `X-Amz-Target: AmazonSQS.*`                    | SQS (JSON 1.0)           |
//! | `X-Amz-Target: AWSEvents.*`                    | EventBridge (JSON 1.1)   |
//! | a form POST signed for `sns`                   | SNS (query, XML)         |
//! | any other request with `X-Amz-Target`          | Step Functions (JSON 1.0) |
//! | `iam` in the credential scope, or a form POST to `/` | IAM (query, XML)   |
//! | a path under `/2015-03-31/functions`           | Lambda (REST-JSON)       |
//! | anything else                                  | S3 (REST-XML, path-style) |
//!
//! No request is authenticated: signatures, credentials and regions are accepted as sent.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use axum::Router;
use futures::StreamExt;

use super::error::ApiError;
use super::state::ApiState;
use super::url::parse_query;
use super::{dynamodb, events, iam, lambda, logs, s3, sfn, sns, sqs};

/// The Step Functions request body limit: a 1 MiB definition, escaped, fits.
pub const SFN_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The router: every request goes through [`dispatch`].
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// Which service a request is for.
enum Service {
    StepFunctions(String),
    Logs(String),
    /// DynamoDB, SQS or EventBridge: the JSON protocols, by target prefix.
    Json(&'static str, String),
    Sns,
    Iam,
    Lambda,
    S3,
}

/// The service of the request's SigV4 credential scope
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`), when it is signed.
fn signed_service(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

/// IAM's query API: requests signed for `iam`, or (unsigned) form posts to `/`, which no
/// other served API sends.
fn is_iam(headers: &HeaderMap, path: &str) -> bool {
    match signed_service(headers) {
        Some(service) => service == "iam",
        None => {
            path == "/"
                && headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
        }
    }
}

fn service_of(headers: &HeaderMap, path: &str) -> Service {
    if let Some(t) = headers.get("x-amz-target") {
        let target = t.to_str().unwrap_or_default().to_string();
        if target.starts_with(logs::TARGET_PREFIX) {
            return Service::Logs(target);
        }
        for prefix in [
            dynamodb::TARGET_PREFIX,
            sqs::TARGET_PREFIX,
            events::TARGET_PREFIX,
        ] {
            if let Some(action) = target.strip_prefix(prefix) {
                return Service::Json(prefix, action.to_string());
            }
        }
        return Service::StepFunctions(target);
    }
    if signed_service(headers) == Some("sns") {
        return Service::Sns;
    }
    if is_iam(headers, path) {
        return Service::Iam;
    }
    let lambda_path = path
        .strip_prefix(lambda::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if lambda_path {
        Service::Lambda
    } else {
        Service::S3
    }
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Broken(String),
}

/// How much of an oversized body is read and thrown away before the refusal is sent. A client
/// that is still writing when the answer comes and the connection closes sees a broken pipe
/// instead of the error; draining lets it read the 4xx. Beyond this the connection is closed.
const DRAIN_CAP: u64 = 256 * 1024 * 1024;

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|n| n > limit as u64) {
        // A client that asked `Expect: 100-continue` has sent nothing yet and will read the
        // refusal; any other is sending the body, which is drained (up to the cap).
        let waiting = headers
            .get("expect")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waiting && declared.is_some_and(|n| n <= DRAIN_CAP) {
            drain(&mut stream).await;
        }
        return Err(BodyError::TooLarge);
    }
    let mut data = Vec::with_capacity(declared.map_or(0, |n| n.min(limit as u64) as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Broken(format!("cannot read the body: {e}")))?;
        if data.len() + chunk.len() > limit {
            drop(data);
            drain(&mut stream).await;
            return Err(BodyError::TooLarge);
        }
        data.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(data))
}

/// Reads and discards the rest of a body, up to [`DRAIN_CAP`] bytes.
async fn drain(stream: &mut axum::body::BodyDataStream) {
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > DRAIN_CAP {
            return;
        }
    }
}

/// The parts of a request every service reads.
struct Incoming<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
}

/// Answers any request.
pub async fn dispatch(State(state): State<Arc<ApiState>>, req: Request<Body>) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    if let Some(refused) = refuse_host(&state, &parts.headers) {
        if state.settings.log_requests {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            log_request(&parts.method, "refused-host", None, refused.status(), ms);
        }
        return refused;
    }
    let path = parts.uri.path();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    if super::console::claims(&parts.method, path, &parts.headers) {
        return super::console::handle(&state, path, &query).await;
    }
    let incoming = Incoming {
        method: &parts.method,
        path,
        query: &query,
        headers: &parts.headers,
    };
    let (operation, shown_path, response) = match service_of(&parts.headers, path) {
        Service::StepFunctions(target) => {
            let action = target.strip_prefix("AWSStepFunctions.").unwrap_or(&target);
            let r = step_functions(&state, &target, &parts.headers, body).await;
            (format!("states:{action}"), None, r)
        }
        Service::Logs(target) => {
            let action = target.strip_prefix(logs::TARGET_PREFIX).unwrap_or(&target);
            let r = logs_request(&state, action, &parts.headers, body).await;
            (format!("logs:{action}"), None, r)
        }
        Service::Json(prefix, action) => {
            let r = json_service(&state, prefix, &action, &parts.headers, body).await;
            let service = match prefix {
                dynamodb::TARGET_PREFIX => "dynamodb",
                sqs::TARGET_PREFIX => "sqs",
                _ => "events",
            };
            (format!("{service}:{action}"), None, r)
        }
        Service::Sns => {
            let r = match read_body(&parts.headers, body, sns::SNS_BODY_LIMIT).await {
                Ok(b) => sns::handle(&state, &b),
                Err(_) => (
                    "?".to_string(),
                    ApiError::bad_request("InvalidParameter", "The request body is too large")
                        .json10(),
                ),
            };
            (format!("sns:{}", r.0), None, r.1)
        }
        Service::Iam => {
            let (op, r) = iam_request(&state, &parts.headers, body).await;
            (format!("iam:{op}"), None, r)
        }
        Service::Lambda => {
            let (op, r) = lambda_request(&state, &incoming, body).await;
            (format!("lambda:{op}"), Some(path), r)
        }
        Service::S3 => {
            let (op, r) = s3_request(&state, &incoming, body).await;
            (format!("s3:{op}"), Some(path), r)
        }
    };
    if state.settings.log_requests {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        log_request(&parts.method, &operation, shown_path, response.status(), ms);
    }
    response
}

/// A 403 for a `Host` the server does not answer (see [`super::hosts`]).
fn refuse_host(state: &ApiState, headers: &HeaderMap) -> Option<Response<Body>> {
    let host = headers.get("host")?;
    let text = host.to_str().unwrap_or("");
    if !text.is_empty() && state.settings.hosts.accepts(text) {
        return None;
    }
    let shown: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    let message = format!(
        "stepsim serve does not answer requests for host '{shown}' (a guard against DNS \
         rebinding): use localhost or the address it listens on, or start it with \
         --allow-host NAME\n"
    );
    let mut r = Response::new(Body::from(message));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Some(r)
}

/// The target of the request log's events: `RUST_LOG=stepsim::request=off` silences them.
pub const REQUEST_LOG: &str = "stepsim::request";

/// One `info` event per request, with the method, operation, path, status and milliseconds as
/// fields; its message is the line the log has always shown (`GET s3:GetObject /b/k 200 0.41ms`;
/// Step Functions requests have no path worth showing, the action says it all).
fn log_request(method: &Method, operation: &str, path: Option<&str>, status: StatusCode, ms: f64) {
    let status = status.as_u16();
    let shown = match path {
        Some(p) => format!("{operation} {p}"),
        None => operation.to_string(),
    };
    tracing::info!(
        target: REQUEST_LOG,
        %method,
        operation,
        path = path.unwrap_or_default(),
        status,
        ms,
        "{method} {shown} {status} {ms:.2}ms"
    );
}

impl BodyError {
    /// The service's error: `too_large` for an oversized body, `broken_code` with the reason
    /// for one that could not be read.
    fn into_api(self, too_large: impl FnOnce() -> ApiError, broken_code: &str) -> ApiError {
        match self {
            BodyError::TooLarge => too_large(),
            BodyError::Broken(why) => ApiError::bad_request(broken_code, why),
        }
    }
}

async fn step_functions(
    state: &Arc<ApiState>,
    target: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response<Body> {
    let Some(action) = target.strip_prefix("AWSStepFunctions.") else {
        return ApiError::bad_request(
            "UnknownOperationException",
            format!("Unknown operation {target}: this endpoint serves AWSStepFunctions.*"),
        )
        .json10();
    };
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ValidationException",
            format!("The request body exceeds the limit of {SFN_BODY_LIMIT} bytes"),
        )
    };
    let body = match read_body(headers, body, SFN_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return e.into_api(too_large, "SerializationException").json10(),
    };
    match sfn::handle(state, action, &body).await {
        Ok(v) => {
            let mut r = Response::new(Body::from(v.to_string()));
            r.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("application/x-amz-json-1.0"),
            );
            r
        }
        Err(e) => e.json10(),
    }
}

/// DynamoDB, SQS and EventBridge: read the body (their request limits are far below the
/// Step Functions one used here), then answer.
async fn json_service(
    state: &Arc<ApiState>,
    prefix: &str,
    action: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response<Body> {
    let json11 = prefix == events::TARGET_PREFIX;
    let body = match read_body(headers, body, SFN_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            let too_large =
                || ApiError::validation(format!("The request body exceeds {SFN_BODY_LIMIT} bytes"));
            let e = e.into_api(too_large, "SerializationException");
            return if json11 { e.json11() } else { e.json10() };
        }
    };
    match prefix {
        dynamodb::TARGET_PREFIX => dynamodb::handle(state, action, &body),
        sqs::TARGET_PREFIX => sqs::handle(state, action, &body),
        _ => events::handle(state, action, &body),
    }
}

async fn logs_request(
    state: &Arc<ApiState>,
    action: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response<Body> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidParameterException",
            format!(
                "The request body exceeds the limit of {} bytes",
                logs::LOGS_BODY_LIMIT
            ),
        )
    };
    let body = match read_body(headers, body, logs::LOGS_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return e.into_api(too_large, "SerializationException").json11(),
    };
    match logs::handle(state, action, &body) {
        Ok(v) => {
            let mut r = Response::new(Body::from(v.to_string()));
            r.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            r
        }
        Err(e) => e.json11(),
    }
}

async fn iam_request(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
) -> (String, Response<Body>) {
    match read_body(headers, body, iam::IAM_BODY_LIMIT).await {
        Ok(b) => iam::handle(state, &b),
        Err(e) => {
            let too_large = || ApiError::bad_request("ValidationError", "The request is too large");
            let e = e.into_api(too_large, "MalformedQueryString");
            let r = iam::error_response_for(&e.code, &e.message, &state.new_id());
            ("?".into(), r)
        }
    }
}

async fn lambda_request(
    state: &Arc<ApiState>,
    req: &Incoming<'_>,
    body: Body,
) -> (String, Response<Body>) {
    let limit = state
        .settings
        .max_object_bytes
        .max(lambda::MAX_PAYLOAD_BYTES + 1);
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("The request body exceeds the limit of {limit} bytes"),
        )
    };
    let body = match read_body(req.headers, body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let e = e.into_api(too_large, "SerializationException");
            return ("?".into(), e.rest_json());
        }
    };
    let rest = req.path.strip_prefix(lambda::PREFIX).unwrap_or_default();
    let (op, result) = lambda::handle(state, req.method, rest, req.query, req.headers, &body).await;
    (op.to_string(), result.unwrap_or_else(|e| e.rest_json()))
}

async fn s3_request(
    state: &Arc<ApiState>,
    req: &Incoming<'_>,
    body: Body,
) -> (String, Response<Body>) {
    let request_id = state.new_id();
    let head = req.method == Method::HEAD;
    let host = req.headers.get("host").and_then(|h| h.to_str().ok());
    let s3_req = match s3::S3Request::new(req.method, host, req.path, req.query, req.headers) {
        Ok(r) => r,
        Err(e) => return ("?".into(), e.s3_xml(&request_id, head)),
    };
    let op = s3_req.operation().to_string();
    let limit = state.settings.max_object_bytes;
    let too_large = || {
        ApiError::bad_request(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with_s3("MaxSizeAllowed", limit.to_string())
    };
    let body = match read_body(req.headers, body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let e = e.into_api(too_large, "IncompleteBody");
            return (op, e.s3_xml(&request_id, head));
        }
    };
    let mut r = match s3::handle(state, &s3_req, body).await {
        Ok(r) => r,
        Err(e) => e.s3_xml(&request_id, head),
    };
    if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
        r.headers_mut().insert("x-amz-request-id", v);
    }
    (op, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        let mut h = HeaderMap::new();
        assert!(matches!(
            service_of(&h, "/2015-03-31/functions/x"),
            Service::Lambda
        ));
        assert!(matches!(
            service_of(&h, "/2015-03-31/functions"),
            Service::Lambda
        ));
        assert!(matches!(
            service_of(&h, "/2015-03-31/functionsx"),
            Service::S3
        ));
        assert!(matches!(service_of(&h, "/bucket/key"), Service::S3));
        h.insert(
            "x-amz-target",
            "AWSStepFunctions.ListStateMachines".parse().unwrap(),
        );
        assert!(matches!(service_of(&h, "/"), Service::StepFunctions(_)));
        h.insert(
            "x-amz-target",
            "Logs_20140328.DescribeLogStreams".parse().unwrap(),
        );
        assert!(matches!(service_of(&h, "/"), Service::Logs(_)));
    }

    #[test]
    fn iam_requests() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20250721/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert!(matches!(service_of(&h, "/"), Service::Iam));
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20250721/us-east-1/s3/aws4_request"
                .parse()
                .unwrap(),
        );
        assert!(matches!(service_of(&h, "/"), Service::S3));
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        assert!(matches!(service_of(&h, "/"), Service::Iam));
        assert!(matches!(service_of(&h, "/bucket"), Service::S3));
    }
}
