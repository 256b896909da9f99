//! The Choice state: the first rule that holds picks the next state. JSONPath rules use every
//! comparison operator, their `...Path` forms, the type tests, `StringMatches`, and
//! And/Or/Not; JSONata rules are `Condition` expressions.

use std::cmp::Ordering;

use serde_json::Value;

use super::errors::AslError;
use super::execution::{Exec, Frame, StateResult, StateRun};
use super::jsonata::Expect;
use super::plan::{
    Comparison, CompiledChoice, CompiledCondition, CompiledOperand, CompiledRule, Next,
};
use super::query::{Binding, Exit, StateQuery};
use crate::asl::model::ComparisonOp;
use crate::query::env::Env;

impl Exec<'_> {
    pub(crate) fn run_choice(
        &self,
        run: &StateRun<'_>,
        c: &CompiledChoice,
        input: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let q = self.bind(run, frame, input, Binding::default())?;
        let matched = match q.states() {
            None => self.first_match(c, &q)?,
            Some(states) => self.first_jsonata_match(run, c, states, frame)?,
        };
        let (next, exit) = match matched {
            Some(rule) => (rule.next, Exit::Rule(rule)),
            None => match c.default {
                Some(d) => (d, Exit::State),
                None => return Err(self.no_choice_matched(run)),
            },
        };
        let (output, assign) = q.pass_on(exit)?;
        Ok(StateResult {
            output,
            next: Next::State(next),
            assign,
        })
    }

    /// The first JSONPath rule whose condition holds.
    fn first_match<'c>(
        &self,
        c: &'c CompiledChoice,
        q: &StateQuery<'_>,
    ) -> Result<Option<&'c CompiledRule>, AslError> {
        let (run, frame) = (q.run(), q.frame());
        let vars = frame.scope.view();
        let mut rng = self.rng.borrow_mut();
        let env = Env::new(q.input(), q.context(), &vars, &mut rng);
        for rule in &c.rules {
            if self.condition(run, &rule.condition, &env)? {
                return Ok(Some(rule));
            }
        }
        Ok(None)
    }

    /// The first JSONata rule whose `Condition` is true.
    fn first_jsonata_match<'c>(
        &self,
        run: &StateRun<'_>,
        c: &'c CompiledChoice,
        states: &Value,
        frame: &Frame,
    ) -> Result<Option<&'c CompiledRule>, AslError> {
        for rule in &c.rules {
            let cond = match &rule.condition {
                CompiledCondition::Jsonata(v) => v,
                _ => {
                    return Err(self.runtime(
                        run,
                        "A JSONPath choice rule cannot be evaluated in a JSONata state",
                    ))
                }
            };
            let matched = match cond {
                Value::Bool(b) => *b,
                other => self
                    .jexpect(run, Expect::Boolean, other, "Condition", states, frame)?
                    .as_bool()
                    .unwrap_or(false),
            };
            if matched {
                return Ok(Some(rule));
            }
        }
        Ok(None)
    }

    fn condition(
        &self,
        run: &StateRun<'_>,
        c: &CompiledCondition,
        env: &Env<'_>,
    ) -> Result<bool, AslError> {
        match c {
            CompiledCondition::And(v) => {
                for c in v {
                    if !self.condition(run, c, env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            CompiledCondition::Or(v) => {
                for c in v {
                    if self.condition(run, c, env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            CompiledCondition::Not(c) => Ok(!self.condition(run, c, env)?),
            CompiledCondition::Jsonata(_) => Err(self.runtime(
                run,
                "A JSONata Condition cannot be evaluated in a JSONPath state",
            )),
            CompiledCondition::Compare(cmp) => {
                let Comparison {
                    variable,
                    op,
                    operand,
                } = cmp.as_ref();
                let value = variable.eval_env(env);
                if *op == ComparisonOp::IsPresent {
                    let want = operand_bool(operand);
                    return Ok(value.is_some() == want);
                }
                let Some(value) = value else {
                    if op.is_type_test() {
                        return Ok(false);
                    }
                    return Err(self.runtime(
                        run,
                        format!(
                            "Invalid path '{}': The choice state's condition path references an invalid value.",
                            variable.text()
                        ),
                    ));
                };
                let value = value.as_ref();
                if op.is_type_test() {
                    let want = operand_bool(operand);
                    let is = match op {
                        ComparisonOp::IsNull => value.is_null(),
                        ComparisonOp::IsNumeric => value.is_number(),
                        ComparisonOp::IsString => value.is_string(),
                        ComparisonOp::IsBoolean => value.is_boolean(),
                        ComparisonOp::IsTimestamp => {
                            value.as_str().is_some_and(|s| parse_timestamp(s).is_some())
                        }
                        _ => false,
                    };
                    return Ok(is == want);
                }
                let rhs = match operand {
                    CompiledOperand::Literal(v) => std::borrow::Cow::Borrowed(v),
                    CompiledOperand::Path(p) => match p.eval_env(env) {
                        Some(v) => v,
                        None => {
                            return Err(self.runtime(
                                run,
                                format!(
                                    "Invalid path '{}': The choice state's condition path references an invalid value.",
                                    p.text()
                                ),
                            ))
                        }
                    },
                };
                Ok(compare(*op, value, rhs.as_ref()))
            }
        }
    }
}

fn operand_bool(o: &CompiledOperand) -> bool {
    match o {
        CompiledOperand::Literal(Value::Bool(b)) => *b,
        _ => true,
    }
}

/// Applies a comparison operator. Operands of the wrong type never match.
pub fn compare(op: ComparisonOp, lhs: &Value, rhs: &Value) -> bool {
    use ComparisonOp::*;
    match op {
        StringEquals
        | StringLessThan
        | StringGreaterThan
        | StringLessThanEquals
        | StringGreaterThanEquals => match (lhs.as_str(), rhs.as_str()) {
            (Some(a), Some(b)) => ordering_matches(op, a.cmp(b)),
            _ => false,
        },
        StringMatches => match (lhs.as_str(), rhs.as_str()) {
            (Some(a), Some(p)) => string_matches(a, p),
            _ => false,
        },
        NumericEquals
        | NumericLessThan
        | NumericGreaterThan
        | NumericLessThanEquals
        | NumericGreaterThanEquals => match (lhs, rhs) {
            (Value::Number(a), Value::Number(b)) => match compare_numbers(a, b) {
                Some(o) => ordering_matches(op, o),
                None => false,
            },
            _ => false,
        },
        BooleanEquals => match (lhs, rhs) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        },
        TimestampEquals
        | TimestampLessThan
        | TimestampGreaterThan
        | TimestampLessThanEquals
        | TimestampGreaterThanEquals => {
            match (
                lhs.as_str().and_then(parse_timestamp),
                rhs.as_str().and_then(parse_timestamp),
            ) {
                (Some(a), Some(b)) => ordering_matches(op, a.cmp(&b)),
                _ => false,
            }
        }
        IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => false,
    }
}

fn ordering_matches(op: ComparisonOp, o: Ordering) -> bool {
    use ComparisonOp::*;
    match op {
        StringEquals | NumericEquals | TimestampEquals => o == Ordering::Equal,
        StringLessThan | NumericLessThan | TimestampLessThan => o == Ordering::Less,
        StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => o == Ordering::Greater,
        StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => {
            o != Ordering::Greater
        }
        StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => {
            o != Ordering::Less
        }
        _ => false,
    }
}

/// Compares two JSON numbers exactly when both are integers, else as doubles.
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Parses an RFC 3339 timestamp (with `T` and an offset), as Choice and Wait require.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if !crate::asl::timestamp::is_rfc3339(s) {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
pub fn string_matches(text: &str, pattern: &str) -> bool {
    // Tokenise the pattern into literal chars and wildcards.
    let mut toks: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => toks.push(Some(n)),
                None => toks.push(Some('\\')),
            },
            '*' => toks.push(None),
            c => toks.push(Some(c)),
        }
    }
    let t: Vec<char> = text.chars().collect();
    // Iterative glob match with backtracking to the last star: O(n*m) worst case.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < toks.len() && toks[pi] == Some(t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < toks.len() && toks[pi].is_none() {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < toks.len() && toks[pi].is_none() {
        pi += 1;
    }
    pi == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globbing() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("abc", "*"));
        assert!(string_matches("", "*"));
        assert!(!string_matches("abc", "ab"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("a\\b", "a\\\\b"));
        assert!(string_matches("aaa", "*a*a*"));
        assert!(!string_matches("ab", "*c*"));
    }

    #[test]
    fn comparisons() {
        use ComparisonOp::*;
        assert!(compare(NumericEquals, &json!(1), &json!(1.0)));
        assert!(compare(NumericLessThan, &json!(1), &json!(1.5)));
        assert!(!compare(NumericLessThan, &json!("1"), &json!(2)));
        assert!(compare(StringGreaterThanEquals, &json!("b"), &json!("a")));
        assert!(compare(BooleanEquals, &json!(false), &json!(false)));
        assert!(compare(
            TimestampLessThan,
            &json!("2020-01-01T00:00:00Z"),
            &json!("2020-01-01T01:00:00+00:30")
        ));
        assert!(!compare(TimestampEquals, &json!("nope"), &json!("nope")));
        assert!(compare(NumericEquals, &json!(u64::MAX), &json!(u64::MAX)));
    }
}
