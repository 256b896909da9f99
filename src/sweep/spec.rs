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

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A sweep spec problem, naming the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct SpecError {
    pub file: String,
    pub key: String,
    pub message: String,
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

const KEYS: &[&str] = &[
    "name",
    "definition",
    "repetitions",
    "seed",
    "spacing_seconds",
    "warm",
    "records",
    "grid",
    "set",
    "kind",
    "baseline",
    "baseline_source",
    "baseline_poll_seconds",
    "notes",
];

impl SweepSpec {
    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<SweepSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: path.display().to_string(),
            key: "(file)".into(),
            message: e.to_string(),
        })?;
        SweepSpec::parse(&text, path)
    }

    /// Parses spec text; `path` locates relative paths and names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<SweepSpec, SpecError> {
        let file = path.display().to_string();
        let err = |key: &str, message: String| SpecError {
            file: file.clone(),
            key: key.to_string(),
            message,
        };
        let doc: toml::Table = toml::from_str(text).map_err(|e| err("(syntax)", e.to_string()))?;
        for k in doc.keys() {
            if !KEYS.contains(&k.as_str()) {
                return Err(err(
                    k,
                    format!("unknown key (expected one of {})", KEYS.join(", ")),
                ));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let definition = match doc.get("definition") {
            None => base.to_path_buf(),
            Some(toml::Value::String(s)) => base.join(s),
            Some(_) => return Err(err("definition", "must be a path string".into())),
        };
        let name = match doc.get("name") {
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".into()),
            Some(toml::Value::String(s)) => s.clone(),
            Some(_) => return Err(err("name", "must be a string".into())),
        };
        let repetitions = match doc.get("repetitions") {
            None => 1,
            Some(toml::Value::Integer(n)) if *n >= 1 && *n <= 100_000 => *n as u32,
            Some(toml::Value::Integer(n)) => {
                return Err(err(
                    "repetitions",
                    format!("must be at least 1 (and at most 100000), not {n}"),
                ))
            }
            Some(_) => return Err(err("repetitions", "must be an integer".into())),
        };
        let seed = match doc.get("seed") {
            None => 0,
            Some(toml::Value::Integer(n)) if *n >= 0 => *n as u64,
            Some(_) => return Err(err("seed", "must be a non-negative integer".into())),
        };
        let spacing_seconds = match doc.get("spacing_seconds") {
            None => 60.0,
            Some(toml::Value::Integer(n)) if *n >= 0 => *n as f64,
            Some(toml::Value::Float(f)) if *f >= 0.0 && f.is_finite() => *f,
            Some(_) => {
                return Err(err(
                    "spacing_seconds",
                    "must be a non-negative number".into(),
                ))
            }
        };
        let warm = match doc.get("warm") {
            None => true,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => return Err(err("warm", "must be true or false".into())),
        };
        let kind = match doc.get("kind") {
            None => SweepKind::Grid,
            Some(toml::Value::String(s)) if s == "grid" => SweepKind::Grid,
            Some(toml::Value::String(s)) if s == "power-tuning" => SweepKind::PowerTuning,
            Some(_) => return Err(err("kind", "must be \"grid\" or \"power-tuning\"".into())),
        };
        let grid_table = match doc.get("grid") {
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                return Err(err(
                    "grid",
                    "must be a table of parameter = [values]".into(),
                ))
            }
            None => {
                return Err(err(
                    "grid",
                    "is required: a sweep needs at least one parameter".into(),
                ))
            }
        };
        if grid_table.is_empty() {
            return Err(err("grid", "is empty: name at least one parameter".into()));
        }
        let mut grid = Vec::new();
        for (k, v) in grid_table {
            let key = format!("grid.{k}");
            let values: Vec<Value> = match v {
                toml::Value::Array(a) if !a.is_empty() => {
                    a.iter().map(crate::sim::function::toml_to_json).collect()
                }
                toml::Value::Array(_) => return Err(err(&key, "has no values".into())),
                other => vec![crate::sim::function::toml_to_json(other)],
            };
            let target = parse_target(k).map_err(|m| err(&key, m))?;
            if let Target::Function { field, .. } = &target {
                for v in &values {
                    check_function_value(*field, v).map_err(|m| err(&key, m))?;
                }
            }
            grid.push(Param {
                name: k.clone(),
                target,
                values,
            });
        }
        let mut set = Vec::new();
        if let Some(s) = doc.get("set") {
            let t = s
                .as_table()
                .ok_or_else(|| err("set", "must be a table of field = value".into()))?;
            for (k, v) in t {
                set.push((k.clone(), crate::sim::function::toml_to_json(v)));
            }
        }
        let params: Vec<String> = grid.iter().map(|p| p.column()).collect();
        let records = match doc.get("records") {
            None => Records::None,
            Some(toml::Value::String(s)) => {
                let e = Expr::parse(s).map_err(|m| err("records", m))?;
                for v in e.variables() {
                    if !params.contains(&v) && !set.iter().any(|(k, _)| *k == v) {
                        return Err(err(
                            "records",
                            format!("'{v}' is not a grid parameter or a [set] field"),
                        ));
                    }
                }
                Records::Expression(e)
            }
            Some(toml::Value::Table(t)) => {
                let pointer = t
                    .get("pointer")
                    .and_then(|p| p.as_str())
                    .ok_or_else(|| err("records.pointer", "is required (a JSON pointer)".into()))?;
                if !pointer.is_empty() && !pointer.starts_with('/') {
                    return Err(err(
                        "records.pointer",
                        format!("'{pointer}' is not a JSON pointer (it must start with '/')"),
                    ));
                }
                match t.get("object") {
                    None => Records::Pointer(pointer.to_string()),
                    Some(toml::Value::String(o)) if o.starts_with("s3://") => Records::Object {
                        address: o.clone(),
                        pointer: pointer.to_string(),
                    },
                    Some(_) => {
                        return Err(err(
                            "records.object",
                            "must be an s3://BUCKET/KEY address".into(),
                        ))
                    }
                }
            }
            Some(_) => {
                return Err(err(
                    "records",
                    "must be an expression string or a table".into(),
                ))
            }
        };
        let baseline_source = doc
            .get("baseline_source")
            .and_then(|v| v.as_str())
            .map(String::from);
        let notes = doc.get("notes").and_then(|v| v.as_str()).map(String::from);
        let baseline_poll_seconds = match doc.get("baseline_poll_seconds") {
            None => None,
            Some(toml::Value::Integer(n)) if *n > 0 => Some(*n as f64),
            Some(toml::Value::Float(f)) if *f > 0.0 && f.is_finite() => Some(*f),
            Some(_) => {
                return Err(err(
                    "baseline_poll_seconds",
                    "must be a positive number of seconds".into(),
                ))
            }
        };
        let mut baseline = Vec::new();
        if let Some(b) = doc.get("baseline") {
            let rows = b.as_array().ok_or_else(|| {
                err(
                    "baseline",
                    "must be an array of tables ([[baseline]])".into(),
                )
            })?;
            for (i, row) in rows.iter().enumerate() {
                let t = row
                    .as_table()
                    .ok_or_else(|| err(&format!("baseline[{i}]"), "must be a table".into()))?;
                let mut point = Vec::new();
                let mut metrics = Vec::new();
                for (k, v) in t {
                    if params.contains(k) {
                        point.push((k.clone(), crate::sim::function::toml_to_json(v)));
                    } else {
                        let x = match v {
                            toml::Value::Integer(n) => *n as f64,
                            toml::Value::Float(f) => *f,
                            _ => {
                                return Err(err(
                                    &format!("baseline[{i}].{k}"),
                                    "a measured metric must be a number".into(),
                                ))
                            }
                        };
                        metrics.push((k.clone(), x));
                    }
                }
                baseline.push(Baseline { point, metrics });
            }
        }
        Ok(SweepSpec {
            file: path.to_path_buf(),
            name,
            definition,
            grid,
            set,
            repetitions,
            seed,
            spacing_seconds,
            warm,
            records,
            kind,
            baseline,
            baseline_source,
            baseline_poll_seconds,
            notes,
        })
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

fn parse_sum(t: &[String], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    let mut left = parse_product(t, pos, depth)?;
    while *pos < t.len() && (t[*pos] == "+" || t[*pos] == "-") {
        let op = t[*pos].chars().next().unwrap_or('+');
        *pos += 1;
        let right = parse_product(t, pos, depth)?;
        left = Expr::Bin(Box::new(left), op, Box::new(right));
    }
    Ok(left)
}

fn parse_product(t: &[String], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    let mut left = parse_atom(t, pos, depth)?;
    while *pos < t.len() && (t[*pos] == "*" || t[*pos] == "/") {
        let op = t[*pos].chars().next().unwrap_or('*');
        *pos += 1;
        let right = parse_atom(t, pos, depth)?;
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
