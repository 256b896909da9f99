//! The Amazon States Language: the typed model of a definition, the parser that builds it from
//! JSON (keeping every node's JSON pointer and source position), and the validator that reports
//! every problem at once.

pub mod diagnostics;
pub mod expressions;
pub mod model;
pub mod parse;
pub mod source_map;
pub mod timestamp;
pub mod validate;

pub use diagnostics::{DiagCode, Diagnostic, InvalidDefinition};
pub use model::*;
pub use source_map::{Position, SourceMap};

/// Parses and validates a definition from its source text. On success the model is ready to
/// run; otherwise every problem found is returned, each with its JSON pointer and line:column.
pub fn load_str(text: &str) -> Result<StateMachine, InvalidDefinition> {
    let (machine, diagnostics) = check_str(text);
    match machine {
        Some(m) if diagnostics.is_empty() => Ok(m),
        _ => Err(InvalidDefinition { diagnostics }),
    }
}

/// Parses and validates a definition already parsed as JSON (no positions available).
pub fn load_value(value: &serde_json::Value) -> Result<StateMachine, InvalidDefinition> {
    let mut diagnostics = Vec::new();
    let machine = parse::parse_value(value, &mut diagnostics);
    if let Some(m) = &machine {
        validate::validate(m, &mut diagnostics);
    }
    diagnostics::locate_all(&mut diagnostics, &SourceMap::default());
    match machine {
        Some(m) if diagnostics.is_empty() => Ok(m),
        _ => Err(InvalidDefinition { diagnostics }),
    }
}

/// Parses and validates source text, returning the model (when the text was a JSON object)
/// together with every problem found, positions filled in.
pub fn check_str(text: &str) -> (Option<StateMachine>, Vec<Diagnostic>) {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let d = Diagnostic {
                code: DiagCode::InvalidJson,
                pointer: String::new(),
                message: format!("The definition is not valid JSON: {e}"),
                position: Some(Position {
                    line: e.line(),
                    column: e.column(),
                }),
            };
            return (None, vec![d]);
        }
    };
    let mut diagnostics = Vec::new();
    let machine = parse::parse_value(&value, &mut diagnostics);
    if let Some(m) = &machine {
        validate::validate(m, &mut diagnostics);
    }
    let map = SourceMap::build(text);
    diagnostics::locate_all(&mut diagnostics, &map);
    (machine, diagnostics)
}
