//! The sweep spec: a TOML file naming a definition folder, a grid of parameters, repetitions,
//! a master seed, and what counts as "records" for throughput. Every problem is reported with
//! the key it is about, before any work starts.
//!
//! ```toml
//! name = "COSMIC-AI world size x batch size"
//! definition = "."              # the project folder, relative to this file
//! repetitions = 5
//! seed = 2025
//! spacing_seconds = 60          # between consecutive executions of a point
//! warm = true                   # environments stay warm across a point's repetitions
//! carry_over = false            # true: one world runs all points in order (a replay)
//! records = "world_size * batch_size"   # or { pointer = "/output/count" }
//!                                       # or { object = "s3://b/{result_path}/x.json", pointer = "/n" }
//!
//! [grid]                        # input fields (dotted or /pointer) or functions.NAME.FIELD
//! world_size = [1, 2, 3, 4]
//! batch_size = [8, 16, 32, 64, 128]
//!
//! [set]                         # fixed input fields for every execution
//! test_mode = true
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use toml::Spanned;

use crate::sim::config_file::{self, integer, number, opt_string, string, Problem};
use crate::sim::function::toml_to_json;

/// A sweep spec problem, naming the key at fault and, when known, its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.located())]
pub struct SpecError {
    pub file: String,
    pub key: String,
    /// The 1-based line, when the problem is about a value in the file.
    pub line: Option<usize>,
    pub message: String,
}

impl SpecError {
    /// `FILE:LINE: KEY: MESSAGE`, or `FILE: KEY: MESSAGE` without a line.
    fn located(&self) -> String {
        match self.line {
            Some(n) => format!("{}:{n}: {}: {}", self.file, self.key, self.message),
            None => format!("{}: {}: {}", self.file, self.key, self.message),
        }
    }
}

/// What one grid parameter changes.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// An input field: a dotted name or a JSON pointer.
    Input(String),
    /// A function configuration field: `functions.NAME.FIELD`.
    Function {
        function: String,
        field: FunctionField,
    },
}

/// The function configuration fields a sweep may vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionField {
    MemoryMb,
    TimeoutSeconds,
    Architecture,
    Runtime,
    ReservedConcurrency,
    ProvisionedConcurrency,
    EphemeralStorageMb,
    HandlerCpuMs,
}

impl FunctionField {
    fn parse(s: &str) -> Option<FunctionField> {
        Some(match s {
            "memory_mb" | "memory" => FunctionField::MemoryMb,
            "timeout_seconds" | "timeout" => FunctionField::TimeoutSeconds,
            "architecture" => FunctionField::Architecture,
            "runtime" => FunctionField::Runtime,
            "reserved_concurrency" => FunctionField::ReservedConcurrency,
            "provisioned_concurrency" => FunctionField::ProvisionedConcurrency,
            "ephemeral_storage_mb" => FunctionField::EphemeralStorageMb,
            "handler_cpu_ms" => FunctionField::HandlerCpuMs,
            _ => return None,
        })
    }
}

/// One grid parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The key as written (also the column name in reports).
    pub name: String,
    pub target: Target,
    pub values: Vec<Value>,
}

impl Param {
    /// A short column name: the last segment of an input key (`world_size`), or
    /// `FUNCTION.FIELD` for a function parameter (`inference.memory_mb`), so it never collides
    /// with the report's own columns.
    pub fn column(&self) -> String {
        match &self.target {
            Target::Function { function, .. } => {
                let field = self.name.rsplit('.').next().unwrap_or(&self.name);
                format!("{function}.{field}")
            }
            Target::Input(_) => self
                .name
                .rsplit(['.', '/'])
                .next()
                .unwrap_or(&self.name)
                .to_string(),
        }
    }
}

/// What counts as records for throughput.
#[derive(Clone, Debug, PartialEq)]
pub enum Records {
    /// An arithmetic expression over the point's parameters (`world_size * batch_size`).
    Expression(Expr),
    /// A JSON pointer into the execution report (`/output/...`).
    Pointer(String),
    /// A JSON pointer into a stored object; `{name}` in the object address is replaced by
    /// input fields.
    Object { address: String, pointer: String },
    /// No records: throughput is not reported.
    None,
}

/// A measured value to set beside the simulated one in report.md.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// Parameter values (by column name) identifying the point.
    pub point: Vec<(String, Value)>,
    /// Metric name → measured value.
    pub metrics: Vec<(String, f64)>,
    /// `calibration = true`: the model was calibrated on this cell, so report.md's fit
    /// figures (cells within 20%, MAPE, worst cell) leave it out and list it apart.
    pub calibration: bool,
}

/// A parsed sweep spec.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    pub file: PathBuf,
    pub name: String,
    pub definition: PathBuf,
    pub grid: Vec<Param>,
    pub set: Vec<(String, Value)>,
    pub repetitions: u32,
    pub seed: u64,
    pub spacing_seconds: f64,
    pub warm: bool,
    /// `carry_over = true`: one world runs every point in grid order, `spacing_seconds` apart,
    /// so environments (warm or cold) carry over from one point to the next, as when a team
    /// replays its configurations one after another. Only input parameters may vary.
    pub carry_over: bool,
    pub records: Records,
    /// `power-tuning` draws the cost/speed trade-off chart of a memory sweep.
    pub kind: SweepKind,
    pub baseline: Vec<Baseline>,
    pub baseline_source: Option<String>,
    /// How often the baseline's durations were polled, when they were timed by polling for the
    /// end (the notebook's 1-second `describe_execution` loop): report.md then also shows the
    /// simulated duration as that loop would have seen it, rounded up to the interval.
    pub baseline_poll_seconds: Option<f64>,
    /// Text for report.md about what the model does and does not capture.
    pub notes: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepKind {
    Grid,
    PowerTuning,
}

/// The spec file as written; [`SpecFile::check`] turns it into a [`SweepSpec`]. Grid keys and
/// baseline rows are dynamic (maps); `set` values are free form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    definition: Option<String>,
    #[serde(default = "one", deserialize_with = "repetitions")]
    repetitions: u32,
    #[serde(default, deserialize_with = "seed")]
    seed: u64,
    #[serde(default = "sixty", deserialize_with = "spacing_seconds")]
    spacing_seconds: f64,
    #[serde(default = "yes", deserialize_with = "boolean")]
    warm: bool,
    #[serde(default, deserialize_with = "boolean")]
    carry_over: bool,
    #[serde(default)]
    records: Option<Spanned<toml::Value>>,
    #[serde(default)]
    grid: Option<Spanned<IndexMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    set: IndexMap<String, toml::Value>,
    #[serde(default = "grid_kind", deserialize_with = "kind")]
    kind: SweepKind,
    #[serde(default)]
    baseline: Vec<Spanned<IndexMap<String, toml::Value>>>,
    #[serde(default, deserialize_with = "opt_string")]
    baseline_source: Option<String>,
    #[serde(default, deserialize_with = "poll_seconds")]
    baseline_poll_seconds: Option<f64>,
    #[serde(default, deserialize_with = "opt_string")]
    notes: Option<String>,
}

/// `records = { pointer = "...", object = "..." }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsTable {
    #[serde(default, deserialize_with = "opt_string")]
    pointer: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    object: Option<String>,
}

fn one() -> u32 {
    1
}

fn sixty() -> f64 {
    60.0
}

fn yes() -> bool {
    true
}

fn grid_kind() -> SweepKind {
    SweepKind::Grid
}

fn repetitions<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match integer(d).map_err(|_| D::Error::custom("must be an integer"))? {
        n @ 1..=100_000 => Ok(n as u32),
        n => Err(D::Error::custom(format!(
            "must be at least 1 (and at most 100000), not {n}"
        ))),
    }
}

fn seed<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match integer(d) {
        Ok(n) if n >= 0 => Ok(n as u64),
        _ => Err(D::Error::custom("must be a non-negative integer")),
    }
}

fn spacing_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match number(d) {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(D::Error::custom("must be a non-negative number")),
    }
}

fn poll_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match number(d) {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(Some(x)),
        _ => Err(D::Error::custom("must be a positive number of seconds")),
    }
}

fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Boolean(b) => Ok(b),
        _ => Err(D::Error::custom("must be true or false")),
    }
}

fn kind<'de, D: Deserializer<'de>>(d: D) -> Result<SweepKind, D::Error> {
    match string(d).as_deref() {
        Ok("grid") => Ok(SweepKind::Grid),
        Ok("power-tuning") => Ok(SweepKind::PowerTuning),
        _ => Err(D::Error::custom("must be \"grid\" or \"power-tuning\"")),
    }
}

/// Builds [`SpecError`]s for one file.
struct Errors<'a> {
    file: String,
    text: &'a str,
}

impl Errors<'_> {
    fn at(&self, key: &str, span: Option<Range<usize>>, message: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.clone(),
            key: key.to_string(),
            line: span.map(|s| config_file::line_at(self.text, s.start)),
            message: message.into(),
        }
    }

    fn problem(&self, p: Problem) -> SpecError {
        SpecError {
            file: self.file.clone(),
            key: if p.syntax {
                "(syntax)".to_string()
            } else {
                p.key()
            },
            line: p.line,
            message: p.message,
        }
    }
}

impl SweepSpec {
    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<SweepSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: path.display().to_string(),
            key: "(file)".into(),
            line: None,
            message: e.to_string(),
        })?;
        SweepSpec::parse(&text, path)
    }

    /// Parses spec text; `path` locates relative paths and names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<SweepSpec, SpecError> {
        let errors = Errors {
            file: path.display().to_string(),
            text,
        };
        let raw: SpecFile = config_file::parse(text).map_err(|p| errors.problem(p))?;
        raw.check(path, &errors)
    }

    /// Every point of the grid, in order (the first parameter varies slowest).
    pub fn points(&self) -> Vec<Vec<Value>> {
        let mut out: Vec<Vec<Value>> = vec![Vec::new()];
        for p in &self.grid {
            let mut next = Vec::with_capacity(out.len() * p.values.len());
            for prefix in &out {
                for v in &p.values {
                    let mut row = prefix.clone();
                    row.push(v.clone());
                    next.push(row);
                }
            }
            out = next;
        }
        out
    }
}

impl SpecFile {
    /// The checks across keys, and the spec they leave.
    fn check(self, path: &Path, errors: &Errors<'_>) -> Result<SweepSpec, SpecError> {
        let base = path.parent().unwrap_or(Path::new("."));
        let grid = check_grid(self.grid, errors)?;
        let set: Vec<(String, Value)> = self
            .set
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        let params: Vec<String> = grid.iter().map(Param::column).collect();
        let records = match self.records {
            None => Records::None,
            Some(r) => check_records(r, &params, &set, errors)?,
        };
        let baseline = self
            .baseline
            .into_iter()
            .enumerate()
            .map(|(i, row)| check_baseline_row(i, row, &params, errors))
            .collect::<Result<_, _>>()?;
        Ok(SweepSpec {
            file: path.to_path_buf(),
            name: self.name.unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "sweep".into())
            }),
            definition: self
                .definition
                .map_or_else(|| base.to_path_buf(), |d| base.join(d)),
            grid,
            set,
            repetitions: self.repetitions,
            seed: self.seed,
            spacing_seconds: self.spacing_seconds,
            warm: self.warm,
            carry_over: self.carry_over,
            records,
            kind: self.kind,
            baseline,
            baseline_source: self.baseline_source,
            baseline_poll_seconds: self.baseline_poll_seconds,
            notes: self.notes,
        })
    }
}

/// `[grid]`: at least one parameter, each with at least one value; function parameters name a
/// field the sweep may vary, with values in AWS's range.
fn check_grid(
    grid: Option<Spanned<IndexMap<String, Spanned<toml::Value>>>>,
    errors: &Errors<'_>,
) -> Result<Vec<Param>, SpecError> {
    let Some(grid) = grid else {
        return Err(errors.at(
            "grid",
            None,
            "is required: a sweep needs at least one parameter",
        ));
    };
    if grid.get_ref().is_empty() {
        return Err(errors.at(
            "grid",
            Some(grid.span()),
            "is empty: name at least one parameter",
        ));
    }
    let mut out = Vec::new();
    for (k, v) in grid.into_inner() {
        let key = format!("grid.{k}");
        let span = Some(v.span());
        let values: Vec<Value> = match v.into_inner() {
            toml::Value::Array(a) if a.is_empty() => {
                return Err(errors.at(&key, span, "has no values"))
            }
            toml::Value::Array(a) => a.iter().map(toml_to_json).collect(),
            other => vec![toml_to_json(&other)],
        };
        let target = parse_target(&k).map_err(|m| errors.at(&key, span.clone(), m))?;
        if let Target::Function { field, .. } = &target {
            for v in &values {
                check_function_value(*field, v).map_err(|m| errors.at(&key, span.clone(), m))?;
            }
        }
        out.push(Param {
            name: k,
            target,
            values,
        });
    }
    Ok(out)
}

/// `records`: an expression over grid parameters and `[set]` fields, or a pointer (into the
/// report, or into a stored object).
fn check_records(
    records: Spanned<toml::Value>,
    params: &[String],
    set: &[(String, Value)],
    errors: &Errors<'_>,
) -> Result<Records, SpecError> {
    let span = Some(records.span());
    let table = match records.into_inner() {
        toml::Value::String(s) => {
            let e = Expr::parse(&s).map_err(|m| errors.at("records", span.clone(), m))?;
            if let Some(v) = e
                .variables()
                .into_iter()
                .find(|v| !params.contains(v) && !set.iter().any(|(k, _)| k == v))
            {
                return Err(errors.at(
                    "records",
                    span,
                    format!("'{v}' is not a grid parameter or a [set] field"),
                ));
            }
            return Ok(Records::Expression(e));
        }
        t @ toml::Value::Table(_) => config_file::from_value::<RecordsTable>(t)
            .map_err(|p| errors.at(&format!("records.{}", p.key()), span.clone(), p.message))?,
        _ => return Err(errors.at("records", span, "must be an expression string or a table")),
    };
    let pointer = table.pointer.ok_or_else(|| {
        errors.at(
            "records.pointer",
            span.clone(),
            "is required (a JSON pointer)",
        )
    })?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(errors.at(
            "records.pointer",
            span,
            format!("'{pointer}' is not a JSON pointer (it must start with '/')"),
        ));
    }
    match table.object {
        None => Ok(Records::Pointer(pointer)),
        Some(address) if address.starts_with("s3://") => Ok(Records::Object { address, pointer }),
        Some(_) => Err(errors.at("records.object", span, "must be an s3://BUCKET/KEY address")),
    }
}

/// One `[[baseline]]` row: grid columns name the point, every other key is a measured metric.
fn check_baseline_row(
    i: usize,
    row: Spanned<IndexMap<String, toml::Value>>,
    params: &[String],
    errors: &Errors<'_>,
) -> Result<Baseline, SpecError> {
    let span = row.span();
    let mut point = Vec::new();
    let mut metrics = Vec::new();
    let mut calibration = false;
    for (k, v) in row.into_inner() {
        if params.contains(&k) {
            point.push((k, toml_to_json(&v)));
            continue;
        }
        if k == "calibration" {
            calibration = v.as_bool().ok_or_else(|| {
                errors.at(
                    &format!("baseline[{i}].calibration"),
                    Some(span.clone()),
                    "must be true or false (true: the model was calibrated on this cell)",
                )
            })?;
            continue;
        }
        let x = match v {
            toml::Value::Integer(n) => n as f64,
            toml::Value::Float(f) => f,
            _ => {
                return Err(errors.at(
                    &format!("baseline[{i}].{k}"),
                    Some(span),
                    "a measured metric must be a number",
                ))
            }
        };
        metrics.push((k, x));
    }
    Ok(Baseline {
        point,
        metrics,
        calibration,
    })
}

fn parse_target(key: &str) -> Result<Target, String> {
    if let Some(rest) = key.strip_prefix("functions.") {
        let (function, field) = rest
            .rsplit_once('.')
            .ok_or_else(|| "a function parameter is functions.NAME.FIELD".to_string())?;
        let field = FunctionField::parse(field).ok_or_else(|| {
            format!("'{field}' is not a function field (memory_mb, timeout_seconds, architecture, runtime, reserved_concurrency, provisioned_concurrency, ephemeral_storage_mb, handler_cpu_ms)")
        })?;
        if function.is_empty() {
            return Err("a function parameter is functions.NAME.FIELD".into());
        }
        return Ok(Target::Function {
            function: function.to_string(),
            field,
        });
    }
    if key.is_empty() || key.split('.').any(|s| s.is_empty()) && !key.starts_with('/') {
        return Err(format!("'{key}' is not a field name or JSON pointer"));
    }
    Ok(Target::Input(key.to_string()))
}

fn check_function_value(field: FunctionField, v: &Value) -> Result<(), String> {
    match field {
        FunctionField::MemoryMb => match v.as_u64() {
            Some(m) if (128..=10_240).contains(&m) => Ok(()),
            _ => Err(format!(
                "memory must be an integer from 128 to 10240 MB, not {v}"
            )),
        },
        FunctionField::TimeoutSeconds => match v.as_f64() {
            Some(t) if t > 0.0 && t <= 900.0 => Ok(()),
            _ => Err(format!("a timeout must be 1 to 900 seconds, not {v}")),
        },
        FunctionField::EphemeralStorageMb => match v.as_u64() {
            Some(m) if (512..=10_240).contains(&m) => Ok(()),
            _ => Err(format!(
                "ephemeral storage must be 512 to 10240 MB, not {v}"
            )),
        },
        FunctionField::ReservedConcurrency | FunctionField::ProvisionedConcurrency => {
            match v.as_u64() {
                Some(_) => Ok(()),
                None => Err(format!("must be a non-negative integer, not {v}")),
            }
        }
        FunctionField::Architecture => match v.as_str() {
            Some("x86_64") | Some("arm64") => Ok(()),
            _ => Err(format!("architecture is \"x86_64\" or \"arm64\", not {v}")),
        },
        FunctionField::Runtime => match v.as_str() {
            Some(_) => Ok(()),
            None => Err(format!("a runtime is a string, not {v}")),
        },
        FunctionField::HandlerCpuMs => match v.as_f64() {
            Some(ms) if (0.0..=crate::sim::function::MAX_HANDLER_CPU_MS).contains(&ms) => Ok(()),
            _ => Err(format!(
                "handler CPU is 0 to {} milliseconds, not {v}",
                crate::sim::function::MAX_HANDLER_CPU_MS
            )),
        },
    }
}

/// A small arithmetic expression over named parameters: numbers, names, `+ - * /` and
/// parentheses.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    Neg(Box<Expr>),
    Bin(Box<Expr>, char, Box<Expr>),
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, String> {
        let toks = tokenize(text)?;
        let mut pos = 0;
        let e = parse_sum(&toks, &mut pos, 0)?;
        if pos != toks.len() {
            return Err(format!("unexpected '{}' in '{text}'", toks[pos]));
        }
        Ok(e)
    }

    /// Evaluates with `lookup` giving each name's value.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        Some(match self {
            Expr::Num(n) => *n,
            Expr::Var(v) => lookup(v)?,
            Expr::Neg(e) => -e.eval(lookup)?,
            Expr::Bin(a, op, b) => {
                let (x, y) = (a.eval(lookup)?, b.eval(lookup)?);
                match op {
                    '+' => x + y,
                    '-' => x - y,
                    '*' => x * y,
                    _ => {
                        if y == 0.0 {
                            return None;
                        }
                        x / y
                    }
                }
            }
        })
    }

    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Var(v) => out.push(v.clone()),
                Expr::Neg(x) => stack.push(x),
                Expr::Bin(a, _, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Expr::Num(_) => {}
            }
        }
        out
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            out.push(c.to_string());
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            return Err(format!("unexpected character '{c}' in '{text}'"));
        }
    }
    if out.is_empty() {
        return Err("the expression is empty".into());
    }
    Ok(out)
}

/// The binary operators by precedence, loosest first.
const LEVELS: [&str; 2] = ["+-", "*/"];

fn parse_sum(t: &[String], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    parse_level(t, pos, depth, 0)
}

/// Left-associative operators of `LEVELS[level]` over operands of the next level (atoms last).
fn parse_level(t: &[String], pos: &mut usize, depth: usize, level: usize) -> Result<Expr, String> {
    let operand = |pos: &mut usize| match LEVELS.get(level + 1) {
        Some(_) => parse_level(t, pos, depth, level + 1),
        None => parse_atom(t, pos, depth),
    };
    let mut left = operand(pos)?;
    while let Some(op) = t.get(*pos).and_then(|tok| {
        tok.chars()
            .next()
            .filter(|c| tok.len() == 1 && LEVELS[level].contains(*c))
    }) {
        *pos += 1;
        let right = operand(pos)?;
        left = Expr::Bin(Box::new(left), op, Box::new(right));
    }
    Ok(left)
}

fn parse_atom(t: &[String], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    if depth > 64 {
        return Err("the expression is nested too deeply".into());
    }
    let Some(tok) = t.get(*pos) else {
        return Err("the expression ends too early".into());
    };
    *pos += 1;
    match tok.as_str() {
        "(" => {
            let e = parse_sum(t, pos, depth + 1)?;
            if t.get(*pos).map(String::as_str) != Some(")") {
                return Err("a '(' is not closed".into());
            }
            *pos += 1;
            Ok(e)
        }
        "-" => Ok(Expr::Neg(Box::new(parse_atom(t, pos, depth + 1)?))),
        s if s.starts_with(|c: char| c.is_ascii_digit() || c == '.') => s
            .parse::<f64>()
            .map(Expr::Num)
            .map_err(|_| format!("'{s}' is not a number")),
        s if s.starts_with(|c: char| c.is_alphabetic() || c == '_') => Ok(Expr::Var(s.to_string())),
        s => Err(format!("unexpected '{s}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SweepSpec, SpecError> {
        SweepSpec::parse(text, Path::new("/x/sweep.toml"))
    }

    #[test]
    fn a_full_spec() {
        let s = parse(
            r#"
            name = "n"
            repetitions = 3
            seed = 9
            records = "world_size * batch_size"
            [grid]
            world_size = [1, 2]
            batch_size = [8, 16, 32]
            "functions.inference.memory_mb" = [128, 1024]
            [set]
            test_mode = true
            [[baseline]]
            world_size = 1
            batch_size = 8
            duration_seconds = 6.11
            "#,
        )
        .unwrap();
        assert_eq!(s.points().len(), 12);
        // Grid order is file order; the last parameter varies fastest.
        assert_eq!(
            s.points()[1],
            vec![
                serde_json::json!(1),
                serde_json::json!(8),
                serde_json::json!(1024)
            ]
        );
        assert_eq!(s.points()[2][1], serde_json::json!(16));
        assert_eq!(s.grid[2].column(), "inference.memory_mb");
        assert_eq!(s.definition, Path::new("/x"));
        assert!(matches!(s.records, Records::Expression(_)));
        assert_eq!(
            s.baseline[0].metrics,
            vec![("duration_seconds".to_string(), 6.11)]
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[grid]\n", "grid"),
            ("repetitions = 0\n[grid]\na=[1]", "repetitions"),
            ("bogus = 1\n[grid]\na=[1]", "bogus"),
            ("[grid]\na=[]", "grid.a"),
            (
                "[grid]\n\"functions.f.memory_mb\" = [64]",
                "grid.functions.f.memory_mb",
            ),
            (
                "[grid]\n\"functions.f.colour\" = [1]",
                "grid.functions.f.colour",
            ),
            ("records = \"a * b\"\n[grid]\na=[1]", "records"),
            (
                "records = { pointer = \"x\" }\n[grid]\na=[1]",
                "records.pointer",
            ),
            ("seed = -1\n[grid]\na=[1]", "seed"),
            ("[grid", "(syntax)"),
        ];
        for (text, key) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
        // File, line, key, and the keys allowed.
        let e = parse("name = \"n\"\nbogus = 1\n[grid]\na=[1]").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "/x/sweep.toml:2: bogus: unknown key `bogus`, expected one of `name`, `definition`"
            ),
            "{e}"
        );
        let e = parse("[grid]\na = [1]\n\"functions.f.memory_mb\" = [64]").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("records = { pointer = \"/n\", objet = \"s3://b/k\" }\n[grid]\na=[1]")
            .unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("records.objet", Some(1)), "{e}");
    }

    #[test]
    fn expressions() {
        let e = Expr::parse("(a + 2) * b / 4 - -1").unwrap();
        let v = e.eval(&|n| match n {
            "a" => Some(2.0),
            "b" => Some(8.0),
            _ => None,
        });
        assert_eq!(v, Some(9.0));
        assert!(Expr::parse("a +").is_err());
        assert!(Expr::parse("(a").is_err());
        assert!(Expr::parse("a $ b").is_err());
        assert_eq!(Expr::parse("1/0").unwrap().eval(&|_| None), None);
    }
}
