//! How the crate's TOML configuration files (the functions file, the faults file, the prices
//! file, sweep specs) are read: each file is described by serde derive structs with
//! `#[serde(deny_unknown_fields)]`, [`parse`] runs them over the text, and a problem comes back
//! as a [`Problem`] naming the dotted key, the line, and a message in the crate's wording
//! ("unknown key `x`, expected one of `a`, `b`", "expected a number, found string").
//!
//! Checks that belong to one value run inside its deserializer (the `deserialize_with` readers
//! below), so they carry the value's line; checks across keys run after parsing, using
//! [`toml::Spanned`] where a line is wanted.

use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

/// A problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key path, outermost first: `["functions", "f", "memory_mb"]`, `["baseline[0]", "x"]`.
    /// Empty for a syntax error or a problem with the whole file.
    pub path: Vec<String>,
    /// The 1-based line the problem is on, when known.
    pub line: Option<usize>,
    pub message: String,
    /// The text is not TOML at all (the message is the toml crate's, with its snippet).
    pub syntax: bool,
}

impl Problem {
    /// A problem about `key` (dotted) at `line`.
    pub fn new(key: &str, line: Option<usize>, message: impl Into<String>) -> Problem {
        Problem {
            path: if key.is_empty() {
                Vec::new()
            } else {
                key.split('.').map(str::to_string).collect()
            },
            line,
            message: message.into(),
            syntax: false,
        }
    }

    /// The dotted key (`functions.f.memory_mb`), empty when the problem has none.
    pub fn key(&self) -> String {
        self.path.join(".")
    }

    /// `FILE:LINE: KEY: MESSAGE`, as a compiler would point at it.
    pub fn located(&self, file: &str) -> String {
        match self.line {
            Some(n) => format!("{file}:{n}: {self}"),
            None => format!("{file}: {self}"),
        }
    }
}

impl fmt::Display for Problem {
    /// `KEY: MESSAGE` (the line is the caller's to place, see [`Problem::located`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key(), self.message)
        }
    }
}

/// Parses `text` into `T`, or says which key is wrong, on which line, and why.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, Problem> {
    let de = toml::Deserializer::parse(text).map_err(|e| Problem {
        path: Vec::new(),
        line: None,
        message: e.to_string(),
        syntax: true,
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = path_of(e.path());
        let inner = e.into_inner();
        Problem {
            path,
            line: inner.span().map(|s| line_at(text, s.start)),
            message: wording(inner.message()),
            syntax: false,
        }
    })
}

/// Reads a value already parsed (say a table inside a [`toml::Spanned`]) into `T`; the
/// problem's path is relative to the value, and it has no line.
pub fn from_value<T: DeserializeOwned>(value: toml::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| Problem {
        path: path_of(e.path()),
        line: None,
        message: wording(e.inner().message()),
        syntax: false,
    })
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The key segments of a serde path, without the private segments `toml::Spanned` adds; an
/// array index is glued to its key (`baseline[0]`).
fn path_of(path: &serde_path_to_error::Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in path {
        match seg {
            serde_path_to_error::Segment::Map { key } if !key.starts_with("$__serde") => {
                out.push(key.clone())
            }
            serde_path_to_error::Segment::Seq { index } => match out.last_mut() {
                Some(last) => last.push_str(&format!("[{index}]")),
                None => out.push(format!("[{index}]")),
            },
            _ => {}
        }
    }
    out
}

/// serde's messages in the crate's words: keys rather than fields, "expected X, found Y".
fn wording(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return format!(
            "unknown key {}",
            rest.replace("there are no fields", "there are no keys")
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("{rest} is required");
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return format!("unknown value {rest}");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {expected}, found {found}");
        }
    }
    message.to_string()
}

/// A TOML value's type, in the words of the messages.
fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

/// Reads a number (an integer or a float) as `f64`.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Integer(i) => Ok(i as f64),
        toml::Value::Float(f) => Ok(f),
        other => Err(D::Error::custom(format!(
            "expected a number, found {}",
            type_name(&other)
        ))),
    }
}

/// [`number`], present or absent.
pub fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    number(d).map(Some)
}

/// Reads an integer.
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Integer(i) => Ok(i),
        other => Err(D::Error::custom(format!(
            "expected an integer, found {}",
            type_name(&other)
        ))),
    }
}

/// Reads a string.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Ok(s),
        other => Err(D::Error::custom(format!(
            "expected a string, found {}",
            type_name(&other)
        ))),
    }
}

/// Reads an optional string (with `#[serde(default)]`: absent is `None`).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    string(d).map(Some)
}

/// Reads an integer that fits a `u32` (the range checks with AWS's wording come later).
pub fn u32_value<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let i = integer(d)?;
    u32::try_from(i).map_err(|_| D::Error::custom(format!("{i} is outside 0..={}", u32::MAX)))
}

/// [`u32_value`], present or absent.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    u32_value(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default, deserialize_with = "opt_u32")]
        size: Option<u32>,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Item {
        #[serde(deserialize_with = "number")]
        rate: f64,
    }

    #[test]
    fn problems_name_the_key_and_the_line() {
        let ok = parse::<File>("size = 3\n[[items]]\nrate = 1\n").unwrap();
        assert_eq!((ok.size, ok.items[0].rate), (Some(3), 1.0));
        let p = parse::<File>("size = 1\nsise = 2\n").unwrap_err();
        assert_eq!(p.key(), "sise");
        assert_eq!(p.line, Some(2));
        assert_eq!(
            p.message, "unknown key `sise`, expected `size` or `items`",
            "{p}"
        );
        assert_eq!(
            p.located("f.toml"),
            "f.toml:2: sise: unknown key `sise`, expected `size` or `items`"
        );
        let p = parse::<File>("[[items]]\nrate = 1\n[[items]]\nrate = \"x\"\n").unwrap_err();
        assert_eq!(p.key(), "items[1].rate");
        assert_eq!(p.line, Some(4));
        assert_eq!(p.message, "expected a number, found string");
        let p = parse::<File>("[[items]]\n").unwrap_err();
        assert_eq!(p.message, "`rate` is required");
        let p = parse::<File>("size = -1\n").unwrap_err();
        assert_eq!(p.message, "-1 is outside 0..=4294967295");
        let p = parse::<File>("items = 3\n").unwrap_err();
        assert_eq!(p.message, "expected a sequence, found integer `3`");
        let v: toml::Value = toml::from_str("rate = true").unwrap();
        let p = from_value::<Item>(v).unwrap_err();
        assert_eq!(p.key(), "rate");
        assert_eq!(p.message, "expected a number, found boolean");
        let p = parse::<File>("size = = 1\n").unwrap_err();
        assert!(p.syntax && p.message.starts_with("TOML parse error at line 1"));
    }

    #[test]
    fn lines() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 99), 3);
    }
}
