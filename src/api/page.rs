//! The Step Functions API's listing and time conventions, shared by its action modules
//! (`sfn`, `versions`, `map_runs`): pages of `maxResults` with an opaque `nextToken`, and
//! timestamps as epoch seconds.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::request::Req;
use crate::engine::history::epoch_seconds;
use crate::engine::SimTime;

/// A timestamp as the Step Functions API writes it (epoch seconds).
pub(crate) fn ts(t: SimTime) -> Value {
    epoch_seconds(t).into()
}

/// A page of a listing: `maxResults` (0 or absent: 100; at most 1000) and an opaque token
/// that holds the position to resume from.
pub(crate) struct Page {
    max: usize,
    start: usize,
}

const TOKEN_PREFIX: &str = "stepsim-page:";

impl Page {
    pub(crate) fn of(req: &Req) -> Result<Page, ApiError> {
        let max = match req.opt_int("maxResults", 0, 1000)? {
            None | Some(0) => 100,
            Some(n) => usize::try_from(n).unwrap_or(100),
        };
        let start = match req.opt_str("nextToken")? {
            None => 0,
            Some(t) => t
                .strip_prefix(TOKEN_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("InvalidToken", format!("Invalid Token: '{t}'"))
                })?,
        };
        Ok(Page { max, start })
    }

    /// Takes this page of `items`, and the token for the next one.
    pub(crate) fn take<T>(&self, items: Vec<T>) -> (Vec<T>, Option<String>) {
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(self.start).take(self.max).collect();
        let end = self.start + page.len();
        let next = (end < total).then(|| format!("{TOKEN_PREFIX}{end}"));
        (page, next)
    }
}

pub(crate) fn with_token(mut v: Map<String, Value>, next: Option<String>) -> Value {
    if let Some(t) = next {
        v.insert("nextToken".into(), t.into());
    }
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_tokens() {
        let r = Req::parse(br#"{"maxResults": 2}"#).unwrap();
        let (items, next) = Page::of(&r).unwrap().take(vec![1, 2, 3]);
        assert_eq!(items, [1, 2]);
        let token = next.unwrap();
        let body = format!(r#"{{"maxResults": 2, "nextToken": "{token}"}}"#);
        let r = Req::parse(body.as_bytes()).unwrap();
        let (items, next) = Page::of(&r).unwrap().take(vec![1, 2, 3]);
        assert_eq!((items, next), (vec![3], None));
        let r = Req::parse(br#"{"nextToken": "garbage"}"#).unwrap();
        assert_eq!(Page::of(&r).err().unwrap().code, "InvalidToken");
    }
}
