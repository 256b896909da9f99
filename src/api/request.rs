//! JSON request bodies (Step Functions' JSON 1.0, Lambda's REST-JSON), read member by member:
//! a member of the wrong type answers `SerializationException`, a missing or out-of-range one
//! `ValidationException`, as the services do.

use serde_json::{Map, Value};

use super::error::ApiError;

/// A request body: a JSON object, read member by member with AWS's errors.
pub struct Req {
    body: Map<String, Value>,
}

impl Req {
    /// A Step Functions body: blank means `{}`.
    pub fn parse(body: &[u8]) -> Result<Req, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Req { body: Map::new() });
        }
        Req::object(body)
    }

    /// A body that must be a JSON object (Lambda's REST-JSON requests).
    pub fn object(body: &[u8]) -> Result<Req, ApiError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(body)) => Ok(Req { body }),
            Ok(_) => Err(ApiError::bad_request(
                "SerializationException",
                "The request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::bad_request(
                "SerializationException",
                format!("The request body is not valid JSON: {e}"),
            )),
        }
    }

    /// All members.
    pub fn members(&self) -> &Map<String, Value> {
        &self.body
    }

    fn wrong_type(name: &str, expected: &str) -> ApiError {
        ApiError::bad_request(
            "SerializationException",
            format!("The member '{name}' must be {expected}"),
        )
    }

    fn missing(name: &str) -> ApiError {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// An optional string member.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Req::wrong_type(name, "a string")),
        }
    }

    /// A required string member.
    pub fn str(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_str(name)?.ok_or_else(|| Req::missing(name))
    }

    /// An optional integer member in `lo..=hi`.
    pub fn opt_int(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (lo..=hi).contains(&i) => Ok(Some(i)),
                _ => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at '{name}' failed to satisfy \
                     constraint: Member must have value between {lo} and {hi}"
                ))),
            },
            Some(_) => Err(Req::wrong_type(name, "an integer")),
        }
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Req::wrong_type(name, "a boolean")),
        }
    }

    /// An optional object member.
    pub fn opt_object(&self, name: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(Req::wrong_type(name, "an object")),
        }
    }
}
