//! Problems found in a definition. Every problem carries the JSON pointer it is about, a code
//! in the style of AWS's `InvalidDefinition` messages, and (when the source text is at hand)
//! the line and column.

use std::fmt;

use super::source_map::{Position, SourceMap};

/// The kind of a problem, named after the codes AWS uses in `InvalidDefinition` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiagCode {
    /// The document is not valid JSON.
    InvalidJson,
    /// A field is missing, has the wrong type or value, or does not belong where it is.
    SchemaValidationFailed,
    /// `StartAt`, `Next` or `Default` names a state that does not exist.
    MissingTransitionTarget,
    /// A state cannot be reached from `StartAt`.
    UnreachableState,
    /// A state has neither `Next` nor `End` (or has both).
    NoTransition,
    /// Two states in one machine share a name.
    DuplicateStateName,
    /// A path, template or intrinsic is not well formed.
    InvalidPath,
    /// A JSONata expression is not well formed.
    InvalidJsonata,
    /// A resource ARN is not recognised.
    InvalidResource,
}

impl DiagCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DiagCode::InvalidJson => "INVALID_JSON_DESCRIPTION",
            DiagCode::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            DiagCode::MissingTransitionTarget => "MISSING_TRANSITION_TARGET",
            DiagCode::UnreachableState => "UNREACHABLE_STATE",
            DiagCode::NoTransition => "MISSING_END_OR_NEXT",
            DiagCode::DuplicateStateName => "DUPLICATE_STATE_NAME",
            DiagCode::InvalidPath => "INVALID_JSON_PATH",
            DiagCode::InvalidJsonata => "INVALID_JSONATA",
            DiagCode::InvalidResource => "INVALID_RESOURCE",
        }
    }
}

/// One problem in a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: DiagCode,
    /// JSON pointer of the offending node ("" is the whole document).
    pub pointer: String,
    pub message: String,
    /// Line and column in the source text, when it was available.
    pub position: Option<Position>,
}

impl Diagnostic {
    pub fn new(code: DiagCode, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            pointer: pointer.into(),
            message: message.into(),
            position: None,
        }
    }

    /// The message as AWS phrases `InvalidDefinition` problems: `CODE: message at /pointer`.
    pub fn aws_message(&self) -> String {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        format!("{}: {} at {}", self.code.as_str(), self.message, at)
    }

    /// A JSON object for machine output.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("code".into(), self.code.as_str().into());
        m.insert("pointer".into(), self.pointer.clone().into());
        m.insert("message".into(), self.message.clone().into());
        if let Some(p) = self.position {
            m.insert("line".into(), p.line.into());
            m.insert("column".into(), p.column.into());
        }
        serde_json::Value::Object(m)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match self.position {
            Some(p) => write!(f, "{p}: {at}: {}", self.message),
            None => write!(f, "{at}: {}", self.message),
        }
    }
}

/// Fills in positions from a source map, and sorts problems by position then pointer so that
/// output is stable.
pub fn locate_all(diags: &mut [Diagnostic], map: &SourceMap) {
    for d in diags.iter_mut() {
        if d.position.is_none() {
            d.position = map.locate(&d.pointer);
        }
    }
    diags.sort_by(|a, b| {
        let ka = a.position.map(|p| (p.line, p.column));
        let kb = b.position.map(|p| (p.line, p.column));
        ka.cmp(&kb)
            .then_with(|| a.pointer.cmp(&b.pointer))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// A definition that did not pass: all of its problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDefinition {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for InvalidDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "Invalid State Machine Definition: {n} problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidDefinition {}

impl InvalidDefinition {
    /// The message AWS's CreateStateMachine would give (the first problems, AWS style).
    pub fn aws_message(&self) -> String {
        let parts: Vec<String> = self.diagnostics.iter().map(|d| d.aws_message()).collect();
        format!("Invalid State Machine Definition: '{}'", parts.join(", "))
    }
}
