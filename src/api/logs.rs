//! The CloudWatch Logs API (JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`): a thin adapter over
//! the world's [`crate::sim::Logs`] that the server shares with every simulation. It reads the
//! request members, maps the store's errors onto AWS's codes and writes AWS's response shapes
//! (timestamps in milliseconds since the epoch, ARNs in the server's Region and account).
//!
//! Served: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, CreateLogStream,
//! DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents. Request validation answers
//! `InvalidParameterException`, as CloudWatch Logs does (it has no `ValidationException`).

use serde_json::{json, Map, Value};

use crate::sim::logs::{
    EventQuery, FilterQuery, LogsError, StreamQuery, MAX_DESCRIBE_LIMIT, MAX_EVENTS_LIMIT,
};

use super::error::ApiError;
use super::request::Req;
use super::state::{wall_now, ApiState};

/// The prefix of every Logs target.
pub const TARGET_PREFIX: &str = "Logs_20140328.";

/// The Logs request body limit: a full PutLogEvents batch (1 MiB of events), escaped, fits.
pub const LOGS_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Answers one Logs action.
pub fn handle(state: &ApiState, action: &str, body: &[u8]) -> Result<Value, ApiError> {
    let req = Req::parse(body)?;
    let result = match action {
        "CreateLogGroup" => create_log_group(state, &req),
        "DeleteLogGroup" => delete_log_group(state, &req),
        "DescribeLogGroups" => describe_log_groups(state, &req),
        "CreateLogStream" => create_log_stream(state, &req),
        "DescribeLogStreams" => describe_log_streams(state, &req),
        "PutLogEvents" => put_log_events(state, &req),
        "GetLogEvents" => get_log_events(state, &req),
        "FilterLogEvents" => filter_log_events(state, &req),
        other => {
            return Err(ApiError::bad_request(
                "UnknownOperationException",
                format!("Unknown operation {TARGET_PREFIX}{other}"),
            ))
        }
    };
    result.map_err(|e| {
        if e.code == "ValidationException" {
            ApiError::bad_request("InvalidParameterException", e.message)
        } else {
            e
        }
    })
}

fn logs_error(e: LogsError) -> ApiError {
    let code = e.code();
    ApiError::bad_request(code, e.to_string())
}

/// The group a request names: `logGroupName`, or `logGroupIdentifier` (a name or an ARN).
fn group_name(req: &Req) -> Result<String, ApiError> {
    if let Some(name) = req.opt_str("logGroupName")? {
        return Ok(name.to_string());
    }
    let id = req.str("logGroupIdentifier").map_err(|_| {
        ApiError::bad_request(
            "InvalidParameterException",
            "Either logGroupName or logGroupIdentifier must be given",
        )
    })?;
    Ok(crate::sim::logs::group_of_arn(id).unwrap_or_else(|| id.to_string()))
}

fn limit(req: &Req, max: usize) -> Result<usize, ApiError> {
    let hi = i64::try_from(max).unwrap_or(i64::MAX);
    Ok(req
        .opt_int("limit", 1, hi)?
        .map_or(max, |n| usize::try_from(n).unwrap_or(max)))
}

fn time(req: &Req, name: &str) -> Result<Option<i64>, ApiError> {
    req.opt_int(name, 0, i64::MAX)
}

fn group_arn(state: &ApiState, group: &str) -> String {
    let s = &state.settings;
    format!("arn:aws:logs:{}:{}:log-group:{group}", s.region, s.account)
}

fn create_log_group(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let name = req.str("logGroupName")?;
    state
        .logs
        .create_group(name, wall_now())
        .map_err(logs_error)?;
    Ok(json!({}))
}

fn delete_log_group(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let name = req.str("logGroupName")?;
    state.logs.delete_group(name).map_err(logs_error)?;
    Ok(json!({}))
}

fn describe_log_groups(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let prefix = req.opt_str("logGroupNamePrefix")?;
    let limit = limit(req, MAX_DESCRIBE_LIMIT)?;
    let token = req.opt_str("nextToken")?;
    let page = state
        .logs
        .describe_groups(prefix, limit, token)
        .map_err(logs_error)?;
    let groups: Vec<Value> = page
        .items
        .iter()
        .map(|g| {
            let arn = group_arn(state, &g.name);
            json!({
                "logGroupName": g.name,
                "creationTime": g.creation_time,
                "metricFilterCount": 0,
                "arn": format!("{arn}:*"),
                "storedBytes": g.stored_bytes,
                "logGroupClass": "STANDARD",
                "logGroupArn": arn,
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("logGroups".into(), Value::Array(groups));
    if let Some(t) = page.next_token {
        m.insert("nextToken".into(), t.into());
    }
    Ok(Value::Object(m))
}

fn create_log_stream(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let group = req.str("logGroupName")?;
    let stream = req.str("logStreamName")?;
    state
        .logs
        .create_stream(group, stream, wall_now())
        .map_err(logs_error)?;
    Ok(json!({}))
}

fn describe_log_streams(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let group = group_name(req)?;
    let by_last_event = match req.opt_str("orderBy")? {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "InvalidParameterException",
                format!(
                    "1 validation error detected: Value '{other}' at 'orderBy' failed to \
                     satisfy constraint: Member must satisfy enum value set: \
                     [LogStreamName, LastEventTime]"
                ),
            ))
        }
    };
    let query = StreamQuery {
        prefix: req.opt_str("logStreamNamePrefix")?,
        by_last_event,
        descending: req.opt_bool("descending")?.unwrap_or(false),
        limit: limit(req, MAX_DESCRIBE_LIMIT)?,
        token: req.opt_str("nextToken")?,
    };
    let page = state
        .logs
        .describe_streams(&group, &query)
        .map_err(logs_error)?;
    let arn = group_arn(state, &group);
    let streams: Vec<Value> = page
        .items
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("logStreamName".into(), s.name.clone().into());
            m.insert("creationTime".into(), s.creation_time.into());
            if let Some(t) = s.first_event {
                m.insert("firstEventTimestamp".into(), t.into());
            }
            if let Some(t) = s.last_event {
                m.insert("lastEventTimestamp".into(), t.into());
            }
            if let Some(t) = s.last_ingestion {
                m.insert("lastIngestionTime".into(), t.into());
            }
            m.insert(
                "uploadSequenceToken".into(),
                s.upload_sequence_token.clone().into(),
            );
            m.insert("arn".into(), format!("{arn}:log-stream:{}", s.name).into());
            m.insert("storedBytes".into(), s.stored_bytes.into());
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("logStreams".into(), Value::Array(streams));
    if let Some(t) = page.next_token {
        m.insert("nextToken".into(), t.into());
    }
    Ok(Value::Object(m))
}

/// `logEvents`: a list of `{timestamp, message}`.
fn log_events(req: &Req) -> Result<Vec<(i64, String)>, ApiError> {
    let wrong = |what: &str| {
        ApiError::bad_request(
            "SerializationException",
            format!("logEvents must be a list of {{timestamp, message}} objects: {what}"),
        )
    };
    let Some(list) = req.members().get("logEvents") else {
        return Err(ApiError::bad_request(
            "InvalidParameterException",
            "1 validation error detected: Value null at 'logEvents' failed to satisfy \
             constraint: Member must not be null",
        ));
    };
    let list = list.as_array().ok_or_else(|| wrong("not a list"))?;
    list.iter()
        .map(|e| {
            let timestamp = e
                .get("timestamp")
                .and_then(Value::as_i64)
                .ok_or_else(|| wrong("a timestamp is missing or not an integer"))?;
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .ok_or_else(|| wrong("a message is missing or not a string"))?;
            Ok((timestamp, message.to_string()))
        })
        .collect()
}

fn put_log_events(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let group = req.str("logGroupName")?;
    let stream = req.str("logStreamName")?;
    let events = log_events(req)?;
    let token = state
        .logs
        .put_events(group, stream, events, wall_now())
        .map_err(logs_error)?;
    Ok(json!({"nextSequenceToken": token}))
}

fn get_log_events(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let group = group_name(req)?;
    let stream = req.str("logStreamName")?;
    let query = EventQuery {
        start: time(req, "startTime")?,
        end: time(req, "endTime")?,
        limit: limit(req, MAX_EVENTS_LIMIT)?,
        start_from_head: req.opt_bool("startFromHead")?.unwrap_or(false),
        token: req.opt_str("nextToken")?,
    };
    let page = state
        .logs
        .get_events(&group, stream, &query)
        .map_err(logs_error)?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| {
            json!({
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
            })
        })
        .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": page.forward_token,
        "nextBackwardToken": page.backward_token,
    }))
}

/// `logStreamNames`, when given: a list of strings.
fn stream_names(req: &Req) -> Result<Option<Vec<String>>, ApiError> {
    match req.members().get("logStreamNames") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::bad_request(
                        "SerializationException",
                        "logStreamNames must be a list of strings",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(
            "SerializationException",
            "logStreamNames must be a list of strings",
        )),
    }
}

fn filter_log_events(state: &ApiState, req: &Req) -> Result<Value, ApiError> {
    let group = group_name(req)?;
    let streams = stream_names(req)?;
    let query = FilterQuery {
        streams: streams.clone(),
        prefix: req.opt_str("logStreamNamePrefix")?,
        start: time(req, "startTime")?,
        end: time(req, "endTime")?,
        pattern: req.opt_str("filterPattern")?.unwrap_or(""),
        limit: limit(req, MAX_EVENTS_LIMIT)?,
        token: req.opt_str("nextToken")?,
    };
    let page = state
        .logs
        .filter_events(&group, &query)
        .map_err(logs_error)?;
    let events: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "logStreamName": e.stream,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
                "eventId": e.event_id,
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("events".into(), Value::Array(events));
    // Deprecated by AWS, still sent: every stream asked for was searched completely.
    let searched: Vec<Value> = streams
        .unwrap_or_default()
        .into_iter()
        .map(|s| json!({"logStreamName": s, "searchedCompletely": true}))
        .collect();
    m.insert("searchedLogStreams".into(), Value::Array(searched));
    if let Some(t) = page.next_token {
        m.insert("nextToken".into(), t.into());
    }
    Ok(Value::Object(m))
}
