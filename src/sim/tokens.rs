//! Task tokens: the callback half of `.waitForTaskToken`.
//!
//! A `.waitForTaskToken` Task sends its request (a Lambda invocation, an SQS message, ...) with
//! `$$.Task.Token` in it, then waits until someone calls SendTaskSuccess, SendTaskFailure or
//! SendTaskHeartbeat with that token. In a simulated world "someone" is the workflow's own
//! handler code: a function that receives the token calls `sfn.send_task_success(...)` through
//! its loopback endpoint, during that invocation or a later one (another branch, a later state).
//!
//! - [`TokenTable`] is a world's table of waiting tokens (`stepsim run`, `test`, `sweep`). The
//!   wait runs on the virtual clock: HeartbeatSeconds without a heartbeat is
//!   `States.HeartbeatTimeout`, TimeoutSeconds is the engine's, and a Task with neither waits
//!   up to the default task timeout of 99,999,999 s (as AWS does) before `States.Timeout`.
//!   Costs nothing on the host: the virtual clock jumps.
//! - Under `serve` the server keeps the table (clients call SendTaskSuccess too); the world
//!   hands handler code's callbacks to it through a [`TokenSink`].
//!
//! The request checks (output is JSON, token length, which error an unknown token gets) are
//! written once here, for the server's API and the loopback endpoint alike.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use serde_json::Value;

/// The longest task token AWS accepts.
pub const MAX_TOKEN_CHARS: usize = 2048;
/// The default TimeoutSeconds of a Task (the Amazon States Language's 99,999,999 s).
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(99_999_999);

/// What a task-token wait receives.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenMessage {
    Success(Value),
    Failure { error: String, cause: String },
    Heartbeat,
}

impl TokenMessage {
    /// Whether the message ends the wait (a success or a failure; a heartbeat does not): a
    /// second answer to the token is then refused, even before the waiting Task runs again.
    pub fn ends_wait(&self) -> bool {
        !matches!(self, TokenMessage::Heartbeat)
    }
}

/// Which callback a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    Success,
    Failure,
    Heartbeat,
}

/// Why a callback was refused: AWS's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackError {
    pub code: &'static str,
    pub message: String,
}

/// Checks a callback request (`output` for SendTaskSuccess, `error`/`cause` for
/// SendTaskFailure) and builds its message. `payload_limit` is the largest output accepted.
pub fn callback_message(
    kind: Callback,
    token: &str,
    output: Option<&str>,
    error: Option<&str>,
    cause: Option<&str>,
    payload_limit: usize,
) -> Result<TokenMessage, CallbackError> {
    if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
        return Err(CallbackError {
            code: "ValidationException",
            message: format!(
                "1 validation error detected: Value at 'taskToken' failed to satisfy constraint: \
                 Member must have length between 1 and {MAX_TOKEN_CHARS}"
            ),
        });
    }
    Ok(match kind {
        Callback::Success => {
            let text = output.ok_or_else(|| CallbackError {
                code: "ValidationException",
                message: "1 validation error detected: Value null at 'output' failed to satisfy \
                          constraint: Member must not be null"
                    .into(),
            })?;
            if text.len() > payload_limit {
                return Err(CallbackError {
                    code: "ValidationException",
                    message: format!(
                        "1 validation error detected: Value at 'output' failed to satisfy \
                         constraint: Member must have length less than or equal to \
                         {payload_limit}"
                    ),
                });
            }
            let value = serde_json::from_str::<Value>(text).map_err(|e| CallbackError {
                code: "InvalidOutput",
                message: format!("Invalid Output: '{e}'"),
            })?;
            TokenMessage::Success(value)
        }
        Callback::Failure => TokenMessage::Failure {
            error: error.unwrap_or_default().to_string(),
            cause: cause.unwrap_or_default().to_string(),
        },
        Callback::Heartbeat => TokenMessage::Heartbeat,
    })
}

/// Whether a token has the shape of the ones the engine hands out (64 URL-safe base64
/// characters): an unknown token of that shape belongs to a task that has ended.
pub fn looks_like_a_task_token(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The error for a callback no task is waiting for: `TaskTimedOut` when the token has the
/// shape of ours (its task has ended), `InvalidToken` otherwise.
pub fn undelivered(token: &str) -> CallbackError {
    if looks_like_a_task_token(token) {
        CallbackError {
            code: "TaskTimedOut",
            message: "Task Timed Out: 'Provided task does not exist anymore'".into(),
        }
    } else {
        CallbackError {
            code: "InvalidToken",
            message: "Invalid Token: 'Invalid token'".into(),
        }
    }
}

/// Where a world sends its handlers' callbacks when the application keeps the waiting tokens
/// (`serve`). `deliver` is false when no task waits for `token`.
pub trait TokenSink: Send + Sync {
    fn deliver(&self, token: &str, message: TokenMessage) -> bool;
}

/// A world's waiting tokens.
#[derive(Default)]
pub(crate) struct TokenTable {
    waiting: RefCell<HashMap<String, UnboundedSender<TokenMessage>>>,
}

/// A token's place in a [`TokenTable`]; leaving the wait in any way (an answer, a timeout, the
/// engine dropping the call) removes it.
pub(crate) struct Waiting {
    table: Rc<TokenTable>,
    token: String,
    pub(crate) messages: UnboundedReceiver<TokenMessage>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.table.waiting.borrow_mut().remove(&self.token);
    }
}

impl TokenTable {
    /// Starts waiting for `token` (before the request goes out, so that a callback sent while
    /// it runs is kept).
    pub(crate) fn wait_for(table: &Rc<TokenTable>, token: &str) -> Waiting {
        let (tx, rx) = unbounded();
        table.waiting.borrow_mut().insert(token.to_string(), tx);
        Waiting {
            table: table.clone(),
            token: token.to_string(),
            messages: rx,
        }
    }

    /// Hands `message` to the task waiting for `token`; false when none is. A success or a
    /// failure ends the wait at once, so a second answer is refused even before the waiting
    /// Task runs again.
    pub(crate) fn deliver(&self, token: &str, message: TokenMessage) -> bool {
        let mut waiting = self.waiting.borrow_mut();
        let tx = if message.ends_wait() {
            waiting.remove(token)
        } else {
            waiting.get(token).cloned()
        };
        tx.is_some_and(|tx| tx.unbounded_send(message).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn callbacks_are_checked() {
        let token = "t".repeat(64);
        let ok = callback_message(
            Callback::Success,
            &token,
            Some("{\"a\":1}"),
            None,
            None,
            100,
        );
        assert_eq!(
            ok.unwrap(),
            TokenMessage::Success(serde_json::json!({"a": 1}))
        );
        let bad = callback_message(Callback::Success, &token, Some("{"), None, None, 100);
        assert_eq!(bad.unwrap_err().code, "InvalidOutput");
        let big = callback_message(Callback::Success, &token, Some("[1,2,3]"), None, None, 3);
        assert_eq!(big.unwrap_err().code, "ValidationException");
        let none = callback_message(Callback::Success, &token, None, None, None, 100);
        assert_eq!(none.unwrap_err().code, "ValidationException");
        let empty = callback_message(Callback::Heartbeat, "", None, None, None, 100);
        assert_eq!(empty.unwrap_err().code, "ValidationException");
        let f = callback_message(Callback::Failure, &token, None, Some("E"), None, 100);
        assert_eq!(
            f.unwrap(),
            TokenMessage::Failure {
                error: "E".into(),
                cause: String::new()
            }
        );
        assert_eq!(undelivered(&token).code, "TaskTimedOut");
        assert_eq!(undelivered("nope").code, "InvalidToken");
    }

    #[test]
    fn a_table_delivers_only_while_a_task_waits() {
        let table = Rc::new(TokenTable::default());
        assert!(!table.deliver("a", TokenMessage::Heartbeat));
        let mut w = TokenTable::wait_for(&table, "a");
        assert!(table.deliver("a", TokenMessage::Heartbeat));
        let got = futures::executor::block_on(w.messages.next());
        assert_eq!(got, Some(TokenMessage::Heartbeat));
        // A success ends the wait: a second answer finds no task.
        assert!(table.deliver("a", TokenMessage::Success(Value::Null)));
        assert!(!table.deliver("a", TokenMessage::Success(Value::Null)));
        let got = futures::executor::block_on(w.messages.next());
        assert_eq!(got, Some(TokenMessage::Success(Value::Null)));
        drop(w);
        assert!(!table.deliver("a", TokenMessage::Heartbeat));
    }
}
