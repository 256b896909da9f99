//! The typed Lambda call. A Task reaches Lambda in one of two styles, decided once: a direct
//! function ARN as its resource (the plan knows it), or the optimized `lambda:invoke`
//! integration (its evaluated Parameters/Arguments are read here, once, into a
//! [`LambdaInvoke`]). The world answers with a [`LambdaResponse`], and this module shapes what
//! the state sees: a direct ARN sees the function's payload; the integration sees the SDK
//! response (`ExecutedVersion`, `Payload`, `StatusCode`, and the SDK's HTTP metadata).

use serde_json::{Map, Value};

use super::clock::SimTime;
use super::errors::TaskFailure;

/// How the Task called Lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LambdaStyle {
    /// The resource is the function's ARN: the payload goes to the function as it is, and
    /// the state's result is the function's payload.
    Direct,
    /// `arn:aws:states:::lambda:invoke` (or `aws-sdk:lambda:invoke`): the payload is the
    /// request body, and the state's result is the SDK response.
    Optimized,
}

/// The `FunctionName` the caller gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FunctionName {
    /// A name, partial ARN or ARN (the Lambda service checks its form).
    Text(String),
    /// Not a string: the JSON text of what was given, which the Lambda service rejects.
    NotText(String),
}

/// The `InvocationType` parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
    /// Anything else (the Lambda service rejects it), as text.
    Unsupported(String),
}

/// One Lambda invocation, as the state machine asked for it.
#[derive(Clone, Debug)]
pub struct LambdaInvoke {
    pub function: FunctionName,
    /// The `Qualifier` parameter (a qualifier inside the function ARN wins over it).
    pub qualifier: Option<String>,
    pub payload: Value,
    pub invocation_type: InvocationType,
    pub style: LambdaStyle,
    /// `LogType: Tail`: the response carries the last 4 KB of the invocation's log.
    pub log_tail: bool,
}

impl LambdaInvoke {
    /// A Task whose resource is the function ARN `arn`, called with `payload`.
    pub fn direct(arn: &str, payload: Value) -> LambdaInvoke {
        LambdaInvoke {
            function: FunctionName::Text(arn.to_string()),
            qualifier: None,
            payload,
            invocation_type: InvocationType::RequestResponse,
            style: LambdaStyle::Direct,
            log_tail: false,
        }
    }

    /// The optimized integration's request, read from its evaluated parameters.
    pub fn from_parameters(parameters: Value) -> Result<LambdaInvoke, TaskFailure> {
        let mut params = match parameters {
            Value::Object(m) => m,
            other => {
                return Err(TaskFailure::new(
                    "States.TaskFailed",
                    format!("lambda:invoke expects an object of parameters, got {other}"),
                ))
            }
        };
        let function = match params.get("FunctionName") {
            Some(Value::String(s)) => FunctionName::Text(s.clone()),
            Some(other) => FunctionName::NotText(other.to_string()),
            None => {
                return Err(TaskFailure::new(
                    "States.TaskFailed",
                    "lambda:invoke needs the parameter `FunctionName`",
                ))
            }
        };
        let qualifier = match params.get("Qualifier") {
            Some(Value::String(q)) => Some(q.clone()),
            _ => None,
        };
        let invocation_type = match params.get("InvocationType") {
            None | Some(Value::Null) => InvocationType::RequestResponse,
            Some(Value::String(s)) => match s.as_str() {
                "RequestResponse" => InvocationType::RequestResponse,
                "Event" => InvocationType::Event,
                "DryRun" => InvocationType::DryRun,
                other => InvocationType::Unsupported(other.to_string()),
            },
            Some(other) => InvocationType::Unsupported(other.to_string()),
        };
        let log_tail = params.get("LogType").and_then(Value::as_str) == Some("Tail");
        Ok(LambdaInvoke {
            function,
            qualifier,
            payload: params.shift_remove("Payload").unwrap_or(Value::Null),
            invocation_type,
            style: LambdaStyle::Optimized,
            log_tail,
        })
    }
}

/// The HTTP metadata of an invocation's SDK response (the optimized integration shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeHttp {
    /// The `Date` header.
    pub date: SimTime,
    pub trace_id: String,
    /// The body's length as the function's runtime wrote it.
    pub content_length: usize,
    /// `LogResult` (and the `X-Amz-Log-Result` header): the base64 of the last 4 KB of the
    /// invocation's log, when the call asked for `LogType: Tail`.
    pub log_result: Option<String>,
}

/// Lambda's `LogResult`: the base64 of the last 4 KB of the log `lines` (cut at a character
/// boundary), each line ending in a newline.
pub fn log_result(lines: &[String]) -> String {
    use base64::Engine as _;
    let mut text = lines.join("\n");
    text.push('\n');
    let cut = text.len().saturating_sub(4096);
    let start = (cut..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    base64::engine::general_purpose::STANDARD.encode(&text[start..])
}

/// A successful invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaResponse {
    /// What the function returned.
    pub payload: Value,
    /// 200 (RequestResponse), 202 (Event) or 204 (DryRun).
    pub status_code: u16,
    pub executed_version: String,
    pub request_id: String,
    /// The SDK's HTTP metadata, when the call was made through the optimized integration.
    pub http: Option<InvokeHttp>,
}

impl LambdaResponse {
    /// What a Task state sees as its result.
    pub fn into_result(self, style: LambdaStyle) -> Value {
        match style {
            LambdaStyle::Direct => self.payload,
            LambdaStyle::Optimized => self.into_json(),
        }
    }

    /// The response as the Invoke API returns it: `ExecutedVersion`, `Payload`,
    /// `StatusCode`, plus the SDK's metadata when there is any.
    pub fn into_json(self) -> Value {
        let Some(http) = self.http else {
            let mut m = Map::new();
            m.insert("ExecutedVersion".into(), self.executed_version.into());
            m.insert("Payload".into(), self.payload);
            m.insert("StatusCode".into(), Value::from(self.status_code));
            return Value::Object(m);
        };
        sdk_invoke_response(
            self.payload,
            self.status_code,
            &self.request_id,
            &self.executed_version,
            &http,
        )
    }
}

/// The response of the optimized `arn:aws:states:::lambda:invoke` integration, shaped as Step
/// Functions returns it (SDK metadata included).
fn sdk_invoke_response(
    payload: Value,
    status: u16,
    request_id: &str,
    executed_version: &str,
    http: &InvokeHttp,
) -> Value {
    let trace_id = http.trace_id.as_str();
    let log_result = http.log_result.as_deref();
    let content_length = http.content_length.to_string();
    let date = http.date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let one = |s: &str| Value::Array(vec![Value::String(s.to_string())]);
    let mut all = Map::new();
    all.insert("X-Amz-Executed-Version".into(), one(executed_version));
    all.insert("x-amzn-Remapped-Content-Length".into(), one("0"));
    all.insert("Connection".into(), one("keep-alive"));
    all.insert("x-amzn-RequestId".into(), one(request_id));
    all.insert("Content-Length".into(), one(&content_length));
    all.insert("Date".into(), one(&date));
    all.insert("X-Amzn-Trace-Id".into(), one(trace_id));
    all.insert("Content-Type".into(), one("application/json"));
    if let Some(l) = log_result {
        all.insert("X-Amz-Log-Result".into(), one(l));
    }
    let mut headers = Map::new();
    headers.insert("Connection".into(), "keep-alive".into());
    headers.insert("Content-Length".into(), content_length.clone().into());
    headers.insert("Content-Type".into(), "application/json".into());
    headers.insert("Date".into(), date.into());
    headers.insert("X-Amz-Executed-Version".into(), executed_version.into());
    headers.insert("x-amzn-Remapped-Content-Length".into(), "0".into());
    headers.insert("x-amzn-RequestId".into(), request_id.into());
    headers.insert("X-Amzn-Trace-Id".into(), trace_id.into());
    if let Some(l) = log_result {
        headers.insert("X-Amz-Log-Result".into(), l.into());
    }
    let mut http = Map::new();
    http.insert("AllHttpHeaders".into(), Value::Object(all));
    http.insert("HttpHeaders".into(), Value::Object(headers));
    http.insert("HttpStatusCode".into(), Value::from(status));
    let mut meta = Map::new();
    meta.insert("RequestId".into(), request_id.into());
    let mut out = Map::new();
    out.insert("ExecutedVersion".into(), executed_version.into());
    if let Some(l) = log_result {
        out.insert("LogResult".into(), l.into());
    }
    out.insert("Payload".into(), payload);
    out.insert("SdkHttpMetadata".into(), Value::Object(http));
    out.insert("SdkResponseMetadata".into(), Value::Object(meta));
    out.insert("StatusCode".into(), Value::from(status));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_are_read_once() {
        let call = LambdaInvoke::from_parameters(json!({
            "FunctionName": "f", "Qualifier": "v1", "Payload": {"a": 1}, "InvocationType": "Event"
        }))
        .unwrap();
        assert_eq!(call.function, FunctionName::Text("f".into()));
        assert_eq!(call.qualifier.as_deref(), Some("v1"));
        assert_eq!(call.payload, json!({"a": 1}));
        assert_eq!(call.invocation_type, InvocationType::Event);
        let odd =
            LambdaInvoke::from_parameters(json!({"FunctionName": 3, "InvocationType": 1})).unwrap();
        assert_eq!(odd.function, FunctionName::NotText("3".into()));
        assert_eq!(odd.invocation_type, InvocationType::Unsupported("1".into()));
        assert_eq!(odd.payload, Value::Null);
        assert!(LambdaInvoke::from_parameters(json!({})).is_err());
        assert!(LambdaInvoke::from_parameters(json!([])).is_err());
    }

    #[test]
    fn a_direct_arn_sees_the_payload() {
        let r = LambdaResponse {
            payload: json!({"x": 1}),
            status_code: 200,
            executed_version: "$LATEST".into(),
            request_id: "r".into(),
            http: None,
        };
        assert_eq!(r.clone().into_result(LambdaStyle::Direct), json!({"x": 1}));
        assert_eq!(
            r.into_result(LambdaStyle::Optimized),
            json!({"ExecutedVersion": "$LATEST", "Payload": {"x": 1}, "StatusCode": 200})
        );
    }
}
