//! The typed model of an Amazon States Language definition.
//!
//! Every field AWS documents has a place here. Values that are evaluated at run time (payload
//! templates, paths, JSONata expressions) are kept as written; the interpreter compiles them once
//! per definition. Each state, choice rule, retrier and catcher keeps the JSON pointer it came
//! from, so diagnostics and runtime errors can point at it.

use serde_json::{Map, Value};

/// The query language of a state machine or state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// The default: `InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`.
    #[default]
    JsonPath,
    /// `Arguments`, `Output` and `{% %}` expressions.
    Jsonata,
}

impl QueryLanguage {
    /// The name AWS uses in definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryLanguage::JsonPath => "JSONPath",
            QueryLanguage::Jsonata => "JSONata",
        }
    }
}

/// A whole state machine definition.
#[derive(Clone, Debug)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub version: Option<String>,
    /// `TimeoutSeconds` of the whole execution.
    pub timeout_seconds: Option<u64>,
    /// The top-level states.
    pub body: Body,
}

/// A set of states with a start: the top level, a Parallel branch, or a Map's item processor.
#[derive(Clone, Debug)]
pub struct Body {
    /// JSON pointer of the object holding `StartAt` and `States` ("" for the top level).
    pub pointer: String,
    pub comment: Option<String>,
    /// The query language states inherit when they do not set their own.
    pub query_language: QueryLanguage,
    pub start_at: String,
    /// States in definition order.
    pub states: Vec<State>,
}

impl Body {
    /// The index of the state called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    /// The state called `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }
}

/// A path field that may also be JSON `null` (InputPath/OutputPath null give `{}`; ResultPath
/// null discards the result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NullablePath {
    Path(String),
    Null,
}

/// How a state continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
    /// Choice, Succeed and Fail states have no Next/End.
    None,
}

/// An integer field that may be a literal, a JSONPath reference (`...Path`), or a JSONata
/// expression (`"{% ... %}"`).
#[derive(Clone, Debug, PartialEq)]
pub enum IntField {
    Literal(i64),
    Path(String),
    Expr(String),
}

/// A number field (ToleratedFailurePercentage) in the same three forms.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatField {
    Literal(f64),
    Path(String),
    Expr(String),
}

/// A string field (Wait Timestamp, Fail Error/Cause) in the same three forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrField {
    Literal(String),
    Path(String),
    Expr(String),
}

/// The input/output fields shared by most states. Which of them a state may carry depends on
/// its type and its query language; the parser reports the ones that do not belong.
#[derive(Clone, Debug, Default)]
pub struct IoFields {
    pub input_path: Option<NullablePath>,
    pub output_path: Option<NullablePath>,
    pub result_path: Option<NullablePath>,
    /// Payload template (JSONPath).
    pub parameters: Option<Value>,
    /// Payload template applied to the raw result (JSONPath).
    pub result_selector: Option<Value>,
    /// JSONata: the value sent to the task / processed by the state.
    pub arguments: Option<Value>,
    /// JSONata: the state output.
    pub output: Option<Value>,
    /// Workflow variables to set (both languages).
    pub assign: Option<Map<String, Value>>,
}

/// `JitterStrategy` of a retrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

/// One entry of `Retry`.
#[derive(Clone, Debug)]
pub struct Retrier {
    pub pointer: String,
    pub error_equals: Vec<String>,
    pub interval_seconds: Option<u64>,
    pub max_attempts: Option<u64>,
    pub backoff_rate: Option<f64>,
    pub max_delay_seconds: Option<u64>,
    pub jitter_strategy: Option<Jitter>,
    pub comment: Option<String>,
}

impl Retrier {
    /// `IntervalSeconds`, defaulting to 1.
    pub fn interval(&self) -> u64 {
        self.interval_seconds.unwrap_or(1)
    }
    /// `MaxAttempts`, defaulting to 3.
    pub fn attempts(&self) -> u64 {
        self.max_attempts.unwrap_or(3)
    }
    /// `BackoffRate`, defaulting to 2.0.
    pub fn backoff(&self) -> f64 {
        self.backoff_rate.unwrap_or(2.0)
    }
}

/// One entry of `Catch`.
#[derive(Clone, Debug)]
pub struct Catcher {
    pub pointer: String,
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: Option<NullablePath>,
    /// JSONata `Output` of the catcher.
    pub output: Option<Value>,
    pub assign: Option<Map<String, Value>>,
    pub comment: Option<String>,
}

/// One state.
#[derive(Clone, Debug)]
pub struct State {
    pub name: String,
    /// JSON pointer of the state object, e.g. `/States/Prep`.
    pub pointer: String,
    pub comment: Option<String>,
    /// The effective query language (the state's own, or inherited).
    pub query_language: QueryLanguage,
    pub transition: Transition,
    pub io: IoFields,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub kind: StateKind,
}

impl State {
    /// The state's type name as written in definitions (`Pass`, `Task`, ...).
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The state named by `Next`, if any.
    pub fn next(&self) -> Option<&str> {
        match &self.transition {
            Transition::Next(n) => Some(n),
            _ => None,
        }
    }
}

/// The type-specific part of a state.
#[derive(Clone, Debug)]
pub enum StateKind {
    Pass(PassState),
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed,
    Fail(FailState),
    Parallel(ParallelState),
    Map(Box<MapState>),
}

impl StateKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass(_) => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct PassState {
    /// `Result`: the fixed result of the state.
    pub result: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct TaskState {
    pub resource: String,
    pub timeout_seconds: Option<IntField>,
    pub heartbeat_seconds: Option<IntField>,
    pub credentials: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct ChoiceState {
    pub choices: Vec<ChoiceRule>,
    pub default: Option<String>,
}

/// A top-level choice rule: a condition and where it leads.
#[derive(Clone, Debug)]
pub struct ChoiceRule {
    pub pointer: String,
    pub condition: Condition,
    pub next: String,
    pub comment: Option<String>,
    /// JSONata `Output` / `Assign` of the rule (applied when it matches).
    pub output: Option<Value>,
    pub assign: Option<Map<String, Value>>,
}

/// A (possibly nested) boolean condition.
#[derive(Clone, Debug)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A data-test expression: `Variable` compared with an operator.
    Compare {
        pointer: String,
        variable: String,
        op: ComparisonOp,
        operand: Operand,
    },
    /// JSONata `Condition`: an expression string, or a literal boolean.
    Jsonata(Value),
}

/// The right-hand side of a comparison: a literal, or a path (the `...Path` operators).
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(String),
}

/// Every comparison operator AWS documents (without the `Path` suffix: that is the operand).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComparisonOp {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl ComparisonOp {
    /// All operators, in the order AWS documents them.
    pub const ALL: [ComparisonOp; 23] = [
        ComparisonOp::StringEquals,
        ComparisonOp::StringLessThan,
        ComparisonOp::StringGreaterThan,
        ComparisonOp::StringLessThanEquals,
        ComparisonOp::StringGreaterThanEquals,
        ComparisonOp::StringMatches,
        ComparisonOp::NumericEquals,
        ComparisonOp::NumericLessThan,
        ComparisonOp::NumericGreaterThan,
        ComparisonOp::NumericLessThanEquals,
        ComparisonOp::NumericGreaterThanEquals,
        ComparisonOp::BooleanEquals,
        ComparisonOp::TimestampEquals,
        ComparisonOp::TimestampLessThan,
        ComparisonOp::TimestampGreaterThan,
        ComparisonOp::TimestampLessThanEquals,
        ComparisonOp::TimestampGreaterThanEquals,
        ComparisonOp::IsNull,
        ComparisonOp::IsPresent,
        ComparisonOp::IsNumeric,
        ComparisonOp::IsString,
        ComparisonOp::IsBoolean,
        ComparisonOp::IsTimestamp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ComparisonOp::StringEquals => "StringEquals",
            ComparisonOp::StringLessThan => "StringLessThan",
            ComparisonOp::StringGreaterThan => "StringGreaterThan",
            ComparisonOp::StringLessThanEquals => "StringLessThanEquals",
            ComparisonOp::StringGreaterThanEquals => "StringGreaterThanEquals",
            ComparisonOp::StringMatches => "StringMatches",
            ComparisonOp::NumericEquals => "NumericEquals",
            ComparisonOp::NumericLessThan => "NumericLessThan",
            ComparisonOp::NumericGreaterThan => "NumericGreaterThan",
            ComparisonOp::NumericLessThanEquals => "NumericLessThanEquals",
            ComparisonOp::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            ComparisonOp::BooleanEquals => "BooleanEquals",
            ComparisonOp::TimestampEquals => "TimestampEquals",
            ComparisonOp::TimestampLessThan => "TimestampLessThan",
            ComparisonOp::TimestampGreaterThan => "TimestampGreaterThan",
            ComparisonOp::TimestampLessThanEquals => "TimestampLessThanEquals",
            ComparisonOp::TimestampGreaterThanEquals => "TimestampGreaterThanEquals",
            ComparisonOp::IsNull => "IsNull",
            ComparisonOp::IsPresent => "IsPresent",
            ComparisonOp::IsNumeric => "IsNumeric",
            ComparisonOp::IsString => "IsString",
            ComparisonOp::IsBoolean => "IsBoolean",
            ComparisonOp::IsTimestamp => "IsTimestamp",
        }
    }

    /// Looks up an operator key, with or without the `Path` suffix. Returns the operator and
    /// whether the key was the `...Path` form.
    pub fn from_key(key: &str) -> Option<(ComparisonOp, bool)> {
        let (base, is_path) = match key.strip_suffix("Path") {
            Some(b) => (b, true),
            None => (key, false),
        };
        let op = ComparisonOp::ALL.into_iter().find(|op| op.name() == base)?;
        if is_path && (op.is_type_test() || op == ComparisonOp::StringMatches) {
            // IsPresentPath or StringMatchesPath do not exist.
            return None;
        }
        Some((op, is_path))
    }

    /// The type tests (IsNull, IsPresent, ...) take a boolean literal.
    pub fn is_type_test(self) -> bool {
        matches!(
            self,
            ComparisonOp::IsNull
                | ComparisonOp::IsPresent
                | ComparisonOp::IsNumeric
                | ComparisonOp::IsString
                | ComparisonOp::IsBoolean
                | ComparisonOp::IsTimestamp
        )
    }
}

#[derive(Clone, Debug)]
pub enum WaitSpec {
    Seconds(IntField),
    Timestamp(StrField),
}

#[derive(Clone, Debug)]
pub struct WaitState {
    pub wait: WaitSpec,
}

#[derive(Clone, Debug, Default)]
pub struct FailState {
    pub error: Option<StrField>,
    pub cause: Option<StrField>,
}

#[derive(Clone, Debug)]
pub struct ParallelState {
    pub branches: Vec<Body>,
}

/// `ProcessorConfig.Mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProcessorMode {
    #[default]
    Inline,
    Distributed,
}

/// `ProcessorConfig.ExecutionType` (Distributed Map child executions) and the state machine type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExecutionType {
    #[default]
    Standard,
    Express,
}

impl ExecutionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionType::Standard => "STANDARD",
            ExecutionType::Express => "EXPRESS",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProcessorConfig {
    pub mode: ProcessorMode,
    pub execution_type: Option<ExecutionType>,
}

/// `ItemReader` of a Distributed Map.
#[derive(Clone, Debug)]
pub struct ItemReader {
    pub pointer: String,
    pub resource: String,
    /// JSONPath template, or JSONata `Arguments`.
    pub parameters: Option<Value>,
    pub arguments: Option<Value>,
    pub reader_config: ReaderConfig,
}

/// `ItemReader.ReaderConfig`.
#[derive(Clone, Debug, Default)]
pub struct ReaderConfig {
    /// `InputType`: CSV, JSON, JSONL, MANIFEST, PARQUET.
    pub input_type: Option<String>,
    /// `CSVHeaderLocation`: FIRST_ROW or GIVEN.
    pub csv_header_location: Option<String>,
    pub csv_headers: Option<Vec<String>>,
    /// `CSVDelimiter`: COMMA, PIPE, SEMICOLON, SPACE, TAB.
    pub csv_delimiter: Option<String>,
    /// `ManifestType`: ATHENA_DATA, S3_INVENTORY.
    pub manifest_type: Option<String>,
    pub max_items: Option<IntField>,
}

/// `ItemBatcher`.
#[derive(Clone, Debug, Default)]
pub struct ItemBatcher {
    pub max_items_per_batch: Option<IntField>,
    pub max_input_bytes_per_batch: Option<IntField>,
    pub batch_input: Option<Value>,
}

/// `ResultWriter`.
#[derive(Clone, Debug)]
pub struct ResultWriter {
    pub pointer: String,
    pub resource: Option<String>,
    pub parameters: Option<Value>,
    pub arguments: Option<Value>,
    /// `WriterConfig`: OutputType and Transformation.
    pub writer_config: Option<Map<String, Value>>,
}

#[derive(Clone, Debug)]
pub struct MapState {
    /// `ItemProcessor` (or the legacy `Iterator`).
    pub processor: Body,
    /// Whether the definition used the legacy `Iterator` field.
    pub legacy_iterator: bool,
    pub processor_config: ProcessorConfig,
    /// JSONPath `ItemsPath` (a reference path).
    pub items_path: Option<String>,
    /// JSONata `Items`: an array literal or an expression string.
    pub items: Option<Value>,
    /// `ItemSelector` (or the legacy `Parameters`, kept in [`IoFields::parameters`]).
    pub item_selector: Option<Value>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub result_writer: Option<ResultWriter>,
    pub max_concurrency: Option<IntField>,
    pub tolerated_failure_percentage: Option<FloatField>,
    pub tolerated_failure_count: Option<IntField>,
    pub label: Option<String>,
}
