//! JSONata for states with `"QueryLanguage": "JSONata"`: the expression engine, the Step
//! Functions additions to it, and templates (field values in which any `{% ... %}` string is an
//! expression).
//!
//! # Why our own engine
//!
//! Two crates and our own implementation were measured (a harness outside the tree, release
//! builds). Correctness: the 57 distinct `{% %}` expressions of the conformance corpus, and 241
//! expressions written to cover the language, with expected results from the jsonata-js 2.0.6
//! reference (the version AWS runs) given the same `$states`.
//!
//! | | jsonata-core 2.2.13 | jsonata-rs 0.3.4 | stepsim (this module) |
//! |---|---|---|---|
//! | language set, agreeing with jsonata-js (of 241) | 237 | 204 | 239 (the 2 others on purpose: `$eval`, `1/0`) |
//! | panics: 20,000 random token strings | 0 | 63 (`%`, `?` partials, `~>` of functions) | 0 |
//! | 10,000 nested `(`, `[`, `{`, unary `-`, `1+1+...` | error U1002 | stack overflow, abort | error U1001 |
//! | `($f := function($x){1 + $f($x)}; $f(1))` | error U1001 | stack overflow, abort | error U1001 |
//! | `($f := function($x){$f($x)}; $f(1))` (tail call) | hangs (only a wall-clock timeout stops it) | hangs, 16 GB of memory | error U1001 |
//! | `$reduce` building 200,000-deep arrays | ok | ok | error U1001 (nesting bounded at 1,000) |
//! | `$now()`, `$random()` | host clock, OS randomness (overridable) | host clock, OS randomness | virtual clock, seeded RNG |
//! | 3-field Arguments template, per evaluation | 6.4 µs | 31 µs (parses each time) | 3.0 µs (`benches/jsonata.rs`) |
//!
//! Corpus: all 57 expressions parse with every engine here; `tests/jsonata_corpus.rs` runs the
//! 43 single-Pass-state JSONata cases against their recorded AWS outcomes (all match), and
//! `tests/jsonata_reference.rs` keeps 386 reference cases (385 agree, 1 documented difference).
//!
//! jsonata-core is the most complete, but it has no deterministic bound on work: an infinite tail
//! recursion runs until a wall-clock timeout, which would make a simulation's outcome depend on
//! the host's speed. jsonata-rs panics and aborts on ordinary inputs. So this module is its own
//! Pratt parser and tree-walking evaluator over borrowed `serde_json::Value`s, with a depth limit
//! and a step budget ([`Limits`]) that make every evaluation end, the same way on every machine.
//!
//! # Step Functions specifics
//!
//! - `$states` is bound to the structure the interpreter builds (`input`, `result`,
//!   `errorOutput`, `context`); workflow variables resolve after locals and built-ins.
//! - Added functions: `$partition`, `$range` (its result is a sequence: a single item unwraps),
//!   `$hash` (MD5, SHA-1, SHA-256, SHA-384, SHA-512), `$random(seed)`, `$uuid`, `$parse`.
//! - Not offered: `$eval` (AWS documents it as unavailable; calling it is `T1006`), and the
//!   JSONata 2.1 operators `?:` and `??` (AWS runs 2.0.6).
//! - Numbers are doubles; whole results print as JSON integers, and an infinite result is
//!   `D1001`. The root `$` and `$$` are undefined: AWS evaluates expressions without an input
//!   document ([`Expression::evaluate_with_input`] supplies one, for `stepsim eval`).
//! - `$clone` (jsonata-js 2.0.6 has it) is offered; arguments of every jsonata-js built-in and
//!   of lambdas with a signature are checked as jsonata-js does (`signature.rs`).
//! - Each evaluation may build at most `value::MAX_BUILD_BYTES` (512 MiB) of values; past it
//!   the error is `U1001`, like the depth and step budgets.
//!
//! # Differences from jsonata-js worth knowing
//!
//! - Regular expressions run on the `regex` crate (linear time) unless they use look-around or
//!   back-references, which run on `fancy-regex` with a backtracking step limit; a search past
//!   it is `U1001` where jsonata-js would keep going (`jsregex.rs`).
//! - Tail calls are not optimised: deep recursion ends at the depth limit.
//! - The parent operator `%` follows the path's actual navigation (each item remembers the
//!   item it was reached from) instead of a static analysis; results agree for ordinary paths.

mod datetime;
mod eval;
mod format;
mod functions;
mod intpic;
mod jsregex;
mod parser;
mod signature;
mod signature_check;
mod template;
mod value;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::Value;

use value::Val;

pub use template::{JsonataTemplate, QueryEvaluationError};

/// Resolves workflow variables (`$name`) for an evaluation. Implement it on the interpreter's
/// scope chain; maps of names to values implement it already.
pub trait VariableLookup {
    fn lookup(&self, name: &str) -> Option<&Value>;
}

impl VariableLookup for serde_json::Map<String, Value> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl VariableLookup for BTreeMap<String, Value> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl<S: std::hash::BuildHasher> VariableLookup for HashMap<String, Value, S> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// No workflow variables.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoVariables;

impl VariableLookup for NoVariables {
    fn lookup(&self, _name: &str) -> Option<&Value> {
        None
    }
}

/// Bounds on one evaluation. Both end it with error `U1001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of evaluation (expression depth plus function-call depth).
    pub max_depth: usize,
    /// Units of work: one per evaluated node, plus one per item that a built-in loops over.
    pub max_steps: u64,
}

impl Default for Limits {
    /// 300 levels fit comfortably in a 2 MiB thread stack (checked by a test), and a million
    /// steps is far above any realistic Arguments/Output expression.
    fn default() -> Self {
        Limits {
            max_depth: 300,
            max_steps: 1_000_000,
        }
    }
}

/// Everything an evaluation reads besides the expression.
pub struct JsonataEnv<'a> {
    /// `$states`: `{input, result?, errorOutput?, context}`, built by the interpreter per field.
    pub states: &'a Value,
    /// Workflow variables visible here.
    pub variables: &'a dyn VariableLookup,
    /// Virtual time for `$now()` / `$millis()`, in milliseconds since the Unix epoch.
    pub now_millis: i64,
    /// Seeded randomness for `$random()`, `$uuid()` and `$shuffle()`.
    pub rng: &'a mut crate::rng::SimRng,
    pub limits: Limits,
}

/// A syntax error; `position` is the character offset within the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonataSyntaxError {
    pub code: String,
    pub message: String,
    pub position: usize,
}

impl fmt::Display for JsonataSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (at character {})",
            self.code, self.message, self.position
        )
    }
}

impl std::error::Error for JsonataSyntaxError {}

/// An evaluation error, with JSONata's error code (`T1006`, `D3030`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonataError {
    pub code: String,
    pub message: String,
    /// Character offset of the failing sub-expression, when known.
    pub position: Option<usize>,
}

impl JsonataError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        JsonataError {
            code: code.to_string(),
            message: message.into(),
            position: None,
        }
    }
}

impl fmt::Display for JsonataError {
    /// `T1006: Attempted to invoke a non-function`, the form AWS puts in error causes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for JsonataError {}

/// The inside of a `{% ... %}` string (trimmed), or `None` when `s` is not an expression. The
/// delimiters must be the very first and last characters, as in Step Functions.
pub fn as_expression(s: &str) -> Option<&str> {
    if s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}") {
        Some(s[2..s.len() - 2].trim())
    } else {
        None
    }
}

/// A parsed expression, reusable across evaluations (and threads).
#[derive(Debug)]
pub struct Expression {
    text: String,
    ast: parser::Expr,
}

impl Expression {
    /// Parses the inside of `{% ... %}`.
    pub fn parse(text: &str) -> Result<Expression, JsonataSyntaxError> {
        let ast = parser::parse(text)?;
        Ok(Expression {
            text: text.to_string(),
            ast,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates; `Ok(None)` means the expression produced nothing (JSONata `undefined`).
    /// A function value as the result (or inside it) is an error with code `UNSUPPORTED`; see
    /// [`Expression::evaluate_value`] for the distinction the template needs.
    pub fn evaluate(&self, env: &mut JsonataEnv<'_>) -> Result<Option<Value>, JsonataError> {
        match self.evaluate_value(env)? {
            Outcome::Value(v) => Ok(Some(v)),
            Outcome::Undefined => Ok(None),
            Outcome::Unsupported => Err(JsonataError::new(
                "UNSUPPORTED",
                "the expression returned a function, which JSON cannot represent",
            )),
        }
    }

    /// Evaluates, telling "returned a function" apart from errors.
    pub fn evaluate_value(&self, env: &mut JsonataEnv<'_>) -> Result<Outcome, JsonataError> {
        self.evaluate_with_input(env, None)
    }

    /// Evaluates against an input document: `input` is `$$`, and `$` at the top level (as
    /// jsonata-js's `evaluate(input)`). Step Functions passes none; `stepsim eval` does.
    pub fn evaluate_with_input(
        &self,
        env: &mut JsonataEnv<'_>,
        input: Option<&Value>,
    ) -> Result<Outcome, JsonataError> {
        self.evaluate_with_stack(env, input, None)
    }

    /// [`Expression::evaluate_with_input`] on a thread whose stack is larger than the 2 MiB
    /// the engine assumes: `stack_bytes` is how much of it the evaluation may use (so that
    /// `Limits::max_depth` can be raised safely).
    pub fn evaluate_with_stack(
        &self,
        env: &mut JsonataEnv<'_>,
        input: Option<&Value>,
        stack_bytes: Option<usize>,
    ) -> Result<Outcome, JsonataError> {
        let mut ev = eval::Ev::new(
            env.states,
            env.variables,
            env.now_millis,
            &mut *env.rng,
            env.limits,
        );
        let root = ev.root_frame();
        if let Some(b) = stack_bytes {
            ev.stack_budget = b;
        }
        ev.root = input.map(|v| {
            let v = Val::from_json(v);
            if v.is_array() {
                Val::seq(vec![v]).with_flags(value::OUTER)
            } else {
                v
            }
        });
        let ctx = ev.root.clone();
        let result = ev.eval(&self.ast, ctx.as_ref(), root)?;
        match result {
            None => Ok(Outcome::Undefined),
            Some(v) => match v.to_json() {
                Ok(j) => Ok(Outcome::Value(j)),
                Err(e) if value::is_unsupported(&e) => Ok(Outcome::Unsupported),
                Err(e) => Err(e),
            },
        }
    }
}

/// What an evaluation produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Value(Value),
    /// JSONata `undefined`.
    Undefined,
    /// A function (or a structure holding one): not representable as JSON.
    Unsupported,
}

#[cfg(test)]
mod tests;
