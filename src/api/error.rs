//! Errors as the AWS protocols shape them. One [`ApiError`] carries an HTTP status, an AWS
//! error code and a message; each service renders it its own way:
//!
//! - Step Functions (JSON 1.0) and CloudWatch Logs (JSON 1.1): `{"__type": "Code", "message": "..."}`;
//! - Lambda (REST-JSON): the same body plus `Type`, and the `x-amzn-ErrorType` header that
//!   the SDKs read the code from;
//! - S3 (REST-XML): `<Error><Code>..</Code><Message>..</Message>...</Error>`, and no body at all
//!   for HEAD requests (S3 sends none; the SDKs then use the status code).

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};

use super::xml::XmlDoc;

/// An error answered to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The AWS error code (`StateMachineDoesNotExist`, `NoSuchKey`, ...).
    pub code: String,
    pub message: String,
    /// Extra members of an S3 error document (`Key`, `BucketName`).
    pub s3_extra: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            s3_extra: Vec::new(),
        }
    }

    /// A 400 error with this code (most Step Functions errors).
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// AWS's `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::bad_request("ValidationException", message)
    }

    /// A server-side failure (a thread that could not start, a dropped job).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            message,
        )
    }

    /// Adds a member to the S3 error document.
    pub fn with_s3(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.s3_extra.push((name, value.into()));
        self
    }

    /// The JSON 1.0 rendering (Step Functions).
    pub fn json10(&self) -> Response<Body> {
        self.json_protocol("application/x-amz-json-1.0")
    }

    /// The JSON 1.1 rendering (CloudWatch Logs): the same body as JSON 1.0.
    pub fn json11(&self) -> Response<Body> {
        self.json_protocol("application/x-amz-json-1.1")
    }

    fn json_protocol(&self, content_type: &'static str) -> Response<Body> {
        let mut m = serde_json::Map::new();
        m.insert("__type".into(), self.code.clone().into());
        m.insert("message".into(), self.message.clone().into());
        let mut r = Response::new(Body::from(serde_json::Value::Object(m).to_string()));
        *r.status_mut() = self.status;
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            r.headers_mut().insert("x-amzn-errortype", v);
        }
        r
    }

    /// The REST-JSON rendering (Lambda).
    pub fn rest_json(&self) -> Response<Body> {
        let mut m = serde_json::Map::new();
        m.insert("Type".into(), "User".into());
        m.insert("__type".into(), self.code.clone().into());
        m.insert("message".into(), self.message.clone().into());
        let mut r = Response::new(Body::from(serde_json::Value::Object(m).to_string()));
        *r.status_mut() = self.status;
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            r.headers_mut().insert("x-amzn-errortype", v);
        }
        r
    }

    /// The REST-XML rendering (S3). `head` drops the body, as S3 does for HEAD requests.
    pub fn s3_xml(&self, request_id: &str, head: bool) -> Response<Body> {
        let mut doc = XmlDoc::new("Error", None);
        doc.element("Code", &self.code)
            .element("Message", &self.message);
        for (name, value) in &self.s3_extra {
            doc.element(name, value);
        }
        doc.element("RequestId", request_id);
        let mut r = if head {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(doc.finish()))
        };
        *r.status_mut() = self.status;
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/xml"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            r.headers_mut().insert("x-amz-request-id", v);
        }
        r
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(r: Response<Body>) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn json_shape_and_header() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = ApiError::bad_request("StateMachineDoesNotExist", "State Machine Does Not Exist");
        let r = e.json10();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["x-amzn-errortype"], "StateMachineDoesNotExist");
        let v: serde_json::Value = serde_json::from_str(&rt.block_on(body_text(r))).unwrap();
        assert_eq!(v["__type"], "StateMachineDoesNotExist");
        assert_eq!(v["message"], "State Machine Does Not Exist");
    }

    #[test]
    fn s3_document_escapes_and_head_has_no_body() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = ApiError::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with_s3("Key", "a<b>&c");
        let text = rt.block_on(body_text(e.s3_xml("req1", false)));
        assert!(text.contains("<Code>NoSuchKey</Code>"), "{text}");
        assert!(text.contains("<Key>a&lt;b&gt;&amp;c</Key>"), "{text}");
        assert!(text.contains("<RequestId>req1</RequestId>"), "{text}");
        let head = rt.block_on(body_text(e.s3_xml("req1", true)));
        assert!(head.is_empty());
    }
}
