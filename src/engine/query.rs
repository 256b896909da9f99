//! The query language as a strategy. Every state kind is written once, in its own file, as a
//! sequence of steps ("bind the input", "evaluate the arguments", "shape the result",
//! "assign", "the catcher's output"); a [`StateQuery`] carries out each step the way the
//! state's query language defines it:
//!
//! | step | JSONPath | JSONata |
//! |---|---|---|
//! | bind the input | InputPath | `$states.input` and `$states.context` |
//! | arguments | Parameters | Arguments |
//! | integer/float fields | literal or `...Path` | literal or `{% %}` |
//! | shape a result | ResultSelector, ResultPath, OutputPath | Output, `$states.result` bound |
//! | pass the input on | OutputPath | Output |
//! | assign | Assign (paths), against the result | Assign, against `$states` |
//! | catcher | ResultPath, Assign against the error output | Output and Assign, `$states.errorOutput` bound |
//!
//! The JSONPath steps are the pipeline in [`super::io`]; the JSONata ones evaluate fields
//! through [`super::jsonata`]. A JSONPath state keeps no `$states`, and its input is moved,
//! not copied, where the state needs no raw input afterwards.

use serde_json::{Map, Value};

use super::context::LazyContext;
use super::errors::{names, AslError};
use super::execution::{display_plain, Exec, Frame, StateResult, StateRun};
use super::jsonata::Expect;
use super::plan::{CompiledCatcher, CompiledFloat, CompiledInt, CompiledMap, CompiledRule, Next};
use crate::asl::model::{QueryLanguage, StrField};
use crate::query::env::Env;

/// How a state binds its input (see [`Exec::bind`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Binding {
    /// `$$.State.RetryCount` (Task, Parallel and Map report one).
    pub(crate) retry_count: Option<u32>,
    /// The state has a result that ResultPath places into its raw input, so the raw input
    /// is kept beside the effective one.
    pub(crate) keeps_input: bool,
    /// `$$.Task.Token` gets a fresh task token (drawn after InputPath, so a failing
    /// InputPath draws none).
    pub(crate) task_token: bool,
    /// A Pass state with `Result` never evaluates its InputPath.
    pub(crate) skips_input_path: bool,
}

impl Binding {
    /// An attempt of a Task, Parallel or Map state: it reports `RetryCount` and has a
    /// result to place into its raw input.
    pub(crate) fn attempt(retry_count: u32) -> Binding {
        Binding {
            retry_count: Some(retry_count),
            keeps_input: true,
            ..Binding::default()
        }
    }
}

/// What a state's fields are evaluated against.
enum Bound {
    /// JSONPath: the effective input (after InputPath) and, for states with a result, the
    /// raw input when it differs from the effective one.
    JsonPath {
        effective: Value,
        raw: Option<Value>,
    },
    /// JSONata: `$states` with `input` and `context`.
    Jsonata { states: Value },
}

/// Which fields a state that passes its input on (Succeed, Wait, Choice) exits with.
pub(crate) enum Exit<'f> {
    /// Output only (Succeed).
    Output,
    /// The state's own Output and Assign.
    State,
    /// A matched Choice rule's (JSONata: falling back on the state's).
    Rule(&'f CompiledRule),
}

/// One state's query-language steps, bound to its input and its `$$`.
pub(crate) struct StateQuery<'a> {
    exec: &'a Exec<'a>,
    run: &'a StateRun<'a>,
    frame: &'a Frame,
    ctx: LazyContext<'a>,
    bound: Bound,
}

impl<'p> Exec<'p> {
    /// Binds a state's input for its query language.
    // Inlined so the query is built in the caller's frame: it is a few hundred bytes, and
    // returning it through a call copies it (2.5% of the map_10k bench before).
    #[inline(always)]
    pub(crate) fn bind<'a>(
        &'a self,
        run: &'a StateRun<'a>,
        frame: &'a Frame,
        input: Value,
        how: Binding,
    ) -> Result<StateQuery<'a>, AslError> {
        let st = run.st;
        let jsonata = st.query_language == QueryLanguage::Jsonata;
        let (effective, raw) = if jsonata || how.skips_input_path {
            (input, None)
        } else if how.keeps_input && !st.input_path.is_identity() {
            let effective = self.select(run, &st.input_path, input.clone(), frame, "InputPath")?;
            (effective, Some(input))
        } else {
            // Nothing needs the raw input afterwards (or InputPath selects all of it).
            let effective = self.select(run, &st.input_path, input, frame, "InputPath")?;
            (effective, None)
        };
        let token = how.task_token.then(|| self.task_token());
        let ctx = self.context(run, how.retry_count, token, None);
        let bound = if jsonata {
            Bound::Jsonata {
                states: super::jsonata::states(effective, &ctx, None),
            }
        } else {
            Bound::JsonPath { effective, raw }
        };
        Ok(StateQuery {
            exec: self,
            run,
            frame,
            ctx,
            bound,
        })
    }
}

impl<'a> StateQuery<'a> {
    /// The state being run.
    pub(crate) fn run(&self) -> &'a StateRun<'a> {
        self.run
    }

    /// The state's branch of control flow (its variable scope).
    pub(crate) fn frame(&self) -> &'a Frame {
        self.frame
    }

    pub(crate) fn is_jsonata(&self) -> bool {
        matches!(self.bound, Bound::Jsonata { .. })
    }

    /// The value the state's fields read as `$` (JSONPath: after InputPath) or
    /// `$states.input` (JSONata).
    pub(crate) fn input(&self) -> &Value {
        match &self.bound {
            Bound::JsonPath { effective, .. } => effective,
            Bound::Jsonata { states } => &states["input"],
        }
    }

    /// The state's `$$`.
    pub(crate) fn context(&self) -> &LazyContext<'a> {
        &self.ctx
    }

    /// `$states` (JSONata only).
    pub(crate) fn states(&self) -> Option<&Value> {
        match &self.bound {
            Bound::JsonPath { .. } => None,
            Bound::Jsonata { states } => Some(states),
        }
    }

    /// The task token in `$$.Task.Token`, when the binding drew one.
    pub(crate) fn task_token(&self) -> Option<String> {
        self.ctx.task_token().map(str::to_string)
    }

    /// A field whose value is wrong for its purpose: JSONata reports a query evaluation
    /// error, JSONPath a runtime error.
    pub(crate) fn invalid(&self, cause: impl AsRef<str>) -> AslError {
        match self.bound {
            Bound::JsonPath { .. } => self.exec.runtime(self.run, cause),
            Bound::Jsonata { .. } => self.exec.qerr(self.run, cause),
        }
    }

    /// The state's arguments: Parameters (default: the effective input) or Arguments
    /// (default: the input).
    pub(crate) fn arguments(&self) -> Result<Value, AslError> {
        let (exec, run, st) = (self.exec, self.run, self.run.st);
        match &self.bound {
            Bound::JsonPath { effective, .. } => match &st.parameters {
                Some(t) => exec.eval_template(run, t, effective, self.frame, &self.ctx),
                None => Ok(effective.clone()),
            },
            Bound::Jsonata { states } => match &st.arguments {
                Some(a) => exec.jeval(run, a, "Arguments", states, self.frame),
                None => Ok(states["input"].clone()),
            },
        }
    }

    /// A JSONPath payload template evaluated against the effective input (Credentials);
    /// JSONata states compile none.
    pub(crate) fn template(
        &self,
        t: Option<&crate::query::template::Template>,
    ) -> Result<Option<Value>, AslError> {
        match t {
            Some(t) => Ok(Some(self.exec.eval_template(
                self.run,
                t,
                self.input(),
                self.frame,
                &self.ctx,
            )?)),
            None => Ok(None),
        }
    }

    /// An integer field: a literal, a `...Path` (JSONPath) or an expression (JSONata).
    pub(crate) fn int(&self, f: &CompiledInt, field: &str) -> Result<i64, AslError> {
        match &self.bound {
            Bound::JsonPath { effective, .. } => self
                .exec
                .resolve_int(self.run, f, effective, self.frame, field),
            Bound::Jsonata { states } => self.exec.jint(self.run, f, field, states, self.frame),
        }
    }

    /// An optional integer field.
    pub(crate) fn opt_int(
        &self,
        f: Option<&CompiledInt>,
        field: &str,
    ) -> Result<Option<i64>, AslError> {
        f.map(|f| self.int(f, field)).transpose()
    }

    /// A float field (ToleratedFailurePercentage).
    pub(crate) fn float(&self, f: &CompiledFloat, field: &str) -> Result<f64, AslError> {
        let (exec, run) = (self.exec, self.run);
        match (f, &self.bound) {
            (CompiledFloat::Literal(x), _) => Ok(*x),
            (CompiledFloat::Path(p), Bound::JsonPath { effective, .. }) => {
                let v = exec
                    .ref_value(run, p, effective, self.frame)
                    .ok_or_else(|| exec.no_results(run, p.text()))?;
                super::io::as_float(&v).ok_or_else(|| {
                    exec.runtime(
                        run,
                        format!(
                            "The {field}Path field refers to value \"{}\" which is not a valid float: {}",
                            display_plain(&v),
                            p.text()
                        ),
                    )
                })
            }
            (CompiledFloat::Expr(e), Bound::Jsonata { states }) => {
                let expr = Value::String(e.clone());
                let v = exec.jexpect(run, Expect::Number, &expr, field, states, self.frame)?;
                Ok(v.as_f64().unwrap_or(0.0))
            }
            (CompiledFloat::Expr(e), Bound::JsonPath { .. }) => Err(exec.runtime(
                run,
                format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
            )),
            (CompiledFloat::Path(p), Bound::Jsonata { .. }) => Err(exec.runtime(
                run,
                format!("The path '{}' cannot be used in a JSONata state", p.text()),
            )),
        }
    }

    /// A string field of a Fail state (Error/ErrorPath, Cause/CausePath).
    pub(crate) fn text(
        &self,
        field: &Option<StrField>,
        name: &str,
    ) -> Result<Option<String>, AslError> {
        let (exec, run, frame) = (self.exec, self.run, self.frame);
        match (field, &self.bound) {
            (None, _) => Ok(None),
            (Some(StrField::Literal(s)), _) => Ok(Some(s.clone())),
            (Some(StrField::Expr(e)), Bound::Jsonata { states }) => {
                let expr = Value::String(e.clone());
                let v = exec.jexpect(run, Expect::String, &expr, name, states, frame)?;
                Ok(v.as_str().map(String::from))
            }
            (Some(StrField::Expr(e)), Bound::JsonPath { .. }) => Err(exec.runtime(
                run,
                format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
            )),
            (Some(StrField::Path(p)), Bound::Jsonata { .. }) => Err(exec.runtime(
                run,
                format!("The path '{p}' cannot be used in a JSONata state"),
            )),
            (Some(StrField::Path(p)), Bound::JsonPath { effective, .. }) => {
                self.path_text(p, name, effective)
            }
        }
    }

    /// ErrorPath/CausePath: a path into the input, or an intrinsic function call.
    fn path_text(&self, p: &str, name: &str, input: &Value) -> Result<Option<String>, AslError> {
        let (exec, run, frame) = (self.exec, self.run, self.frame);
        if p.trim_start().starts_with("States.") {
            let mut m = Map::new();
            m.insert("v.$".into(), Value::String(p.to_string()));
            let t = crate::query::template::Template::compile(&Value::Object(m))
                .map_err(|_| exec.runtime(run, format!("Invalid intrinsic '{p}'")))?;
            let v = exec.eval_template(run, &t, input, frame, &self.ctx)?;
            return Ok(Some(display_plain(&v["v"])));
        }
        let path = match crate::query::jsonpath::JsonPath::parse(p) {
            Ok(p) => p,
            Err(e) => return Err(exec.runtime(run, format!("Invalid path '{p}': {e}"))),
        };
        let vars = frame.scope.view();
        let mut rng = exec.rng.borrow_mut();
        let env = Env::new(input, &self.ctx, &vars, &mut rng);
        match path.eval_env(&env) {
            Some(v) => Ok(Some(display_plain(v.as_ref()))),
            None => Err(exec.runtime(
                run,
                format!(
                    "The JSONPath '{p}' specified for the field '{name}Path' could not be found in the input '{}'",
                    serde_json::to_string(input).unwrap_or_default()
                ),
            )),
        }
    }

    /// The input of Map item `index` (ItemSelector, or the item itself), with `$$.Map.Item`
    /// bound.
    pub(crate) fn item_input(
        &self,
        m: &CompiledMap,
        index: usize,
        item: Value,
    ) -> Result<Value, AslError> {
        let (exec, run, frame) = (self.exec, self.run, self.frame);
        match &self.bound {
            Bound::JsonPath { effective, .. } => match &m.item_selector {
                None => Ok(item),
                Some(t) => {
                    let ctx = exec.context(run, None, None, Some((index, item)));
                    exec.eval_template(run, t, effective, frame, &ctx)
                }
            },
            Bound::Jsonata { states } => match &m.item_selector_raw {
                None => Ok(item),
                Some(sel) => {
                    let ctx = exec.context(run, None, None, Some((index, item)));
                    let s = super::jsonata::states(states["input"].clone(), &ctx, None);
                    exec.jeval(run, sel, "ItemSelector", &s, frame)
                }
            },
        }
    }

    /// The end of a state with a result (Task, Parallel, Map). JSONPath: ResultSelector,
    /// Assign (against the selected result), ResultPath into the raw input, OutputPath.
    /// JSONata: Output (default: the result) and Assign, with `$states.result` bound.
    pub(crate) fn finish(self, result: Value) -> Result<StateResult, AslError> {
        self.finish_with(result, true)
    }

    /// The end of a Pass state: like [`StateQuery::finish`] with the Pass's value as the
    /// result, except that JSONata binds no `$states.result`.
    #[inline]
    pub(crate) fn finish_pass(self, value: Value) -> Result<StateResult, AslError> {
        self.finish_with(value, false)
    }

    #[inline(always)]
    fn finish_with(self, result: Value, bind_result: bool) -> Result<StateResult, AslError> {
        let (exec, run, frame, st) = (self.exec, self.run, self.frame, self.run.st);
        let (output, assign) = match self.bound {
            Bound::JsonPath { effective, raw } => {
                let selected = match &st.result_selector {
                    Some(t) => exec.eval_template(run, t, &result, frame, &self.ctx)?,
                    None => result,
                };
                let assign = exec.jsonpath_assign(run, &selected, frame, &self.ctx)?;
                let raw = raw.unwrap_or(effective);
                let combined = exec.place_result(run, &st.result_path, raw, selected)?;
                let output = exec.select(run, &st.output_path, combined, frame, "OutputPath")?;
                (output, assign)
            }
            Bound::Jsonata { states } => {
                let states = if bind_result {
                    super::jsonata::with_result(states, result.clone())
                } else {
                    states
                };
                let fields = (st.output.as_ref(), st.assign.as_ref());
                exec.jsonata_exit(run, fields, &states, result, frame)?
            }
        };
        Ok(StateResult {
            output,
            next: st.next,
            assign,
        })
    }

    /// The end of a state that passes (part of) its input on: JSONPath's OutputPath, or
    /// JSONata's Output (default: the input), and the assignments `exit` names.
    pub(crate) fn pass_on(
        self,
        exit: Exit<'_>,
    ) -> Result<(Value, Option<Map<String, Value>>), AslError> {
        let (exec, run, frame, st) = (self.exec, self.run, self.frame, self.run.st);
        match self.bound {
            Bound::JsonPath { effective, .. } => {
                let assign = match exit {
                    Exit::Output => None,
                    Exit::State => exec.jsonpath_assign(run, &effective, frame, &self.ctx)?,
                    Exit::Rule(rule) => match &rule.assign_template {
                        Some(t) => exec
                            .eval_template(run, t, &effective, frame, &self.ctx)?
                            .as_object()
                            .cloned(),
                        None => None,
                    },
                };
                let output = exec.select(run, &st.output_path, effective, frame, "OutputPath")?;
                Ok((output, assign))
            }
            Bound::Jsonata { states } => {
                let (output, assign) = match exit {
                    Exit::Output => (st.output.as_ref(), None),
                    Exit::State => (st.output.as_ref(), st.assign.as_ref()),
                    Exit::Rule(rule) => (
                        rule.output.as_ref().or(st.output.as_ref()),
                        rule.assign.as_ref().or(st.assign.as_ref()),
                    ),
                };
                let input = states["input"].clone();
                exec.jsonata_exit(run, (output, assign), &states, input, frame)
            }
        }
    }
}

impl Exec<'_> {
    /// The output of a catcher that matched `err`. JSONPath: ResultPath places the error
    /// output into the raw input, and Assign reads the error output. JSONata: Output
    /// (default: the error output) and Assign, with `$states.errorOutput` bound.
    pub(crate) fn catcher_output(
        &self,
        run: &StateRun<'_>,
        c: &CompiledCatcher,
        err: &AslError,
        raw_input: &Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let error_output = err.to_error_output();
        let ctx = self.context(run, None, None, None);
        let (output, assign) = if run.st.query_language == QueryLanguage::Jsonata {
            let s = super::jsonata::states(raw_input.clone(), &ctx, Some(&error_output));
            let fields = (c.output.as_ref(), c.assign.as_ref());
            self.jsonata_exit(run, fields, &s, error_output, frame)?
        } else {
            let output = self.place_result(run, &c.result_path, raw_input.clone(), error_output)?;
            let assign = match &c.assign {
                Some(a) => {
                    let t = crate::query::template::Template::compile(a).map_err(|_| {
                        self.runtime(run, "The catcher's Assign field could not be compiled")
                    })?;
                    let v = self.eval_template(run, &t, &err.to_error_output(), frame, &ctx)?;
                    v.as_object().cloned()
                }
                None => None,
            };
            (output, assign)
        };
        Ok(StateResult {
            output,
            next: Next::State(c.next),
            assign,
        })
    }

    /// States.NoChoiceMatched, with the state prefix.
    pub(crate) fn no_choice_matched(&self, run: &StateRun<'_>) -> AslError {
        self.state_error(run, names::NO_CHOICE_MATCHED, "No Matches!")
    }
}
