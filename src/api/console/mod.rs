//! The web console of `stepsim serve` at `/console`: an embedded page (HTML, CSS and vanilla
//! JavaScript, no build step, no CDN) and the small JSON endpoints under `/console/api/` it
//! polls. Every endpoint reads the server's own state (the registry, the functions, the
//! CloudWatch Logs store, the S3 store) under the same visibility rule as the AWS APIs
//! (`--time-scale` reveals executions gradually here too); nothing is recorded twice.
//!
//! A request is the console's when it is a GET for `/console` or below and is neither signed
//! nor an `X-Amz-Target` call: AWS clients sign, browsers do not, so an S3 bucket called
//! `console` stays reachable.

mod data;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};

use super::state::ApiState;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// Events per page of the history table.
pub const HISTORY_PAGE: usize = 100;

/// Whether a request is for the console.
pub fn claims(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (path == "/console" || path.starts_with("/console/"))
        && !headers.contains_key("authorization")
        && !headers.contains_key("x-amz-target")
}

/// Answers a console request.
pub async fn handle(
    state: &Arc<ApiState>,
    path: &str,
    query: &[(String, String)],
) -> Response<Body> {
    let q = |name: &str| -> Option<&str> {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let rest = path.trim_start_matches("/console").trim_start_matches('/');
    let result: Result<Answer, (StatusCode, String)> = match rest {
        "" | "index.html" => Ok(Answer::Text(INDEX, "text/html; charset=utf-8")),
        "app.js" => Ok(Answer::Text(SCRIPT, "text/javascript; charset=utf-8")),
        "app.css" => Ok(Answer::Text(STYLE, "text/css; charset=utf-8")),
        "api/machines" => Ok(Answer::Json(data::machines(state))),
        "api/machine" => need(q("arn"), "arn")
            .and_then(|a| data::machine(state, a))
            .map(Answer::Json),
        "api/machine.svg" => need(q("arn"), "arn")
            .and_then(|a| data::machine_svg(state, a))
            .map(Answer::Svg),
        "api/executions" => Ok(Answer::Json(data::executions(state, q("machine")))),
        "api/execution" => need(q("arn"), "arn")
            .and_then(|a| data::execution(state, a))
            .map(Answer::Json),
        "api/execution.svg" => need(q("arn"), "arn")
            .and_then(|a| data::execution_svg(state, a))
            .map(Answer::Svg),
        "api/history" => need(q("arn"), "arn").and_then(|a| {
            let page = q("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            data::history(state, a, page).map(Answer::Json)
        }),
        "api/functions" => Ok(Answer::Json(data::functions(state))),
        "api/logs" => need(q("group"), "group").and_then(|g| {
            let stream = need(q("stream"), "stream")?;
            data::log_events(state, g, stream, q("token")).map(Answer::Json)
        }),
        "api/buckets" => data::buckets(state).await.map(Answer::Json),
        "api/objects" => match need(q("bucket"), "bucket") {
            Ok(b) => data::objects(state, b, q("prefix").unwrap_or(""), q("token"))
                .await
                .map(Answer::Json),
            Err(e) => Err(e),
        },
        _ => Err((
            StatusCode::NOT_FOUND,
            format!("the console has no page /console/{rest}"),
        )),
    };
    match result {
        Ok(a) => a.into_response(),
        Err((status, message)) => {
            let mut r = Response::new(Body::from(json!({ "error": message }).to_string()));
            *r.status_mut() = status;
            set(&mut r, "content-type", "application/json");
            r
        }
    }
}

fn need<'a>(v: Option<&'a str>, name: &str) -> Result<&'a str, (StatusCode, String)> {
    v.filter(|s| !s.is_empty()).ok_or_else(|| {
        (
            StatusCode::BAD_REQUEST,
            format!("the query parameter '{name}' is required"),
        )
    })
}

enum Answer {
    Text(&'static str, &'static str),
    Json(Value),
    Svg(String),
}

impl Answer {
    fn into_response(self) -> Response<Body> {
        let (body, kind) = match self {
            Answer::Text(t, k) => (Body::from(t), k),
            Answer::Json(v) => (Body::from(v.to_string()), "application/json"),
            Answer::Svg(s) => (Body::from(s), "image/svg+xml"),
        };
        let mut r = Response::new(body);
        set(&mut r, "content-type", kind);
        // Polled data must not be cached; the assets are tiny.
        set(&mut r, "cache-control", "no-store");
        r
    }
}

fn set(r: &mut Response<Body>, name: &'static str, value: &'static str) {
    r.headers_mut()
        .insert(name, HeaderValue::from_static(value));
}
