//! The intrinsic-function parser: text such as
//! `States.Format('Hello {}', States.ArrayGetItem($.names, 0))` into an [`Intrinsic`] AST.
//!
//! Argument forms: single-quoted strings with AWS's four escapes (`\'`, `\{`, `\}`, `\\`; any
//! other backslash is an error, as in the `validation` corpus case), JSON numbers, `true`,
//! `false`, `null`, paths (`$...`, `$$...`, `$name...`) and nested calls. Function names and
//! argument counts are checked here; argument types are checked when evaluating, as AWS does.

use std::fmt;

use serde_json::Number;

use crate::query::jsonpath::JsonPath;
use crate::query::path::StringScan;

/// Deepest nesting of calls accepted. AWS allows 10 nested intrinsics per field; this parser
/// accepts more and leaves that rule to the validator ([`Intrinsic::depth`]), but a hard cap
/// keeps recursion bounded on hostile input.
pub const MAX_NESTING: usize = 64;

/// The 18 intrinsic functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `States.Format`
    Format,
    /// `States.StringToJson`
    StringToJson,
    /// `States.JsonToString`
    JsonToString,
    /// `States.Array`
    Array,
    /// `States.ArrayPartition`
    ArrayPartition,
    /// `States.ArrayContains`
    ArrayContains,
    /// `States.ArrayRange`
    ArrayRange,
    /// `States.ArrayGetItem`
    ArrayGetItem,
    /// `States.ArrayLength`
    ArrayLength,
    /// `States.ArrayUnique`
    ArrayUnique,
    /// `States.Base64Encode`
    Base64Encode,
    /// `States.Base64Decode`
    Base64Decode,
    /// `States.Hash`
    Hash,
    /// `States.JsonMerge`
    JsonMerge,
    /// `States.MathRandom`
    MathRandom,
    /// `States.MathAdd`
    MathAdd,
    /// `States.StringSplit`
    StringSplit,
    /// `States.UUID`
    Uuid,
}

impl Func {
    /// All functions, in documentation order.
    pub const ALL: [Func; 18] = [
        Func::Format,
        Func::StringToJson,
        Func::JsonToString,
        Func::Array,
        Func::ArrayPartition,
        Func::ArrayContains,
        Func::ArrayRange,
        Func::ArrayGetItem,
        Func::ArrayLength,
        Func::ArrayUnique,
        Func::Base64Encode,
        Func::Base64Decode,
        Func::Hash,
        Func::JsonMerge,
        Func::MathRandom,
        Func::MathAdd,
        Func::StringSplit,
        Func::Uuid,
    ];

    /// The full name, e.g. `States.Format`.
    pub fn name(self) -> &'static str {
        match self {
            Func::Format => "States.Format",
            Func::StringToJson => "States.StringToJson",
            Func::JsonToString => "States.JsonToString",
            Func::Array => "States.Array",
            Func::ArrayPartition => "States.ArrayPartition",
            Func::ArrayContains => "States.ArrayContains",
            Func::ArrayRange => "States.ArrayRange",
            Func::ArrayGetItem => "States.ArrayGetItem",
            Func::ArrayLength => "States.ArrayLength",
            Func::ArrayUnique => "States.ArrayUnique",
            Func::Base64Encode => "States.Base64Encode",
            Func::Base64Decode => "States.Base64Decode",
            Func::Hash => "States.Hash",
            Func::JsonMerge => "States.JsonMerge",
            Func::MathRandom => "States.MathRandom",
            Func::MathAdd => "States.MathAdd",
            Func::StringSplit => "States.StringSplit",
            Func::Uuid => "States.UUID",
        }
    }

    /// Looks a function up by its full name.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Minimum and maximum argument counts (`None` = unbounded).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, Some(1)),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, Some(2)),
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
            Func::MathRandom => (2, Some(3)),
        }
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A piece of a `States.Format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FmtPiece {
    Text(String),
    Hole,
}

/// A parsed `States.Format` template, or why it is malformed (an unescaped lone brace). AWS
/// accepts such literals at creation and fails at run time, so the error is kept for later.
pub(crate) type FmtTemplate = Result<Vec<FmtPiece>, String>;

pub(crate) const UNMATCHED_OPEN: &str = "matching '}' not found for '{'.";
pub(crate) const UNMATCHED_CLOSE: &str = "matching '{' not found for '}'.";

/// One argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string literal (escapes decoded). `template` is its reading as a Format template.
    Str {
        /// The decoded string.
        value: String,
        /// Its pieces when used as a Format template (escaped braces are plain text).
        #[doc(hidden)]
        template: FmtTemplateHolder,
    },
    /// A number literal.
    Number(Number),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A path.
    Path(JsonPath),
    /// A nested call.
    Call(Call),
}

/// Opaque holder for a string literal's Format reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FmtTemplateHolder(pub(crate) FmtTemplate);

/// A call: function, arguments and where it sits in the source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function.
    pub func: Func,
    /// Its arguments.
    pub args: Vec<Arg>,
    /// Byte range of the whole call in the source text.
    pub span: std::ops::Range<usize>,
}

/// A parsed intrinsic function expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    pub(crate) text: String,
    pub(crate) call: Call,
}

impl Intrinsic {
    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The outermost call.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// The source text of a call inside this expression.
    pub fn call_text(&self, call: &Call) -> &str {
        self.text.get(call.span.clone()).unwrap_or(&self.text)
    }

    /// Deepest nesting of calls (1 for a call with no nested calls).
    pub fn depth(&self) -> usize {
        fn depth(c: &Call) -> usize {
            1 + c
                .args
                .iter()
                .map(|a| match a {
                    Arg::Call(inner) => depth(inner),
                    _ => 0,
                })
                .max()
                .unwrap_or(0)
        }
        depth(&self.call)
    }

    /// Number of calls in the expression (AWS: at most 10 nested intrinsics in a field).
    pub fn call_count(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |a| {
            if matches!(a, Arg::Call(_)) {
                n += 1;
            }
        });
        n + 1
    }

    /// True when any path argument starts at `$$`.
    pub fn uses_context(&self) -> bool {
        let mut uses = false;
        self.visit(&mut |a| {
            if let Arg::Path(p) = a {
                uses |= *p.root() == crate::query::path::PathRoot::Context;
            }
        });
        uses
    }

    /// Names of the variables the expression reads.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |a| {
            if let Arg::Path(p) = a {
                if let crate::query::path::PathRoot::Variable(v) = p.root() {
                    out.push(v.clone());
                }
            }
        });
        out
    }

    fn visit(&self, f: &mut dyn FnMut(&Arg)) {
        fn go(c: &Call, f: &mut dyn FnMut(&Arg)) {
            for a in &c.args {
                f(a);
                if let Arg::Call(inner) = a {
                    go(inner, f);
                }
            }
        }
        go(&self.call, f);
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A syntax error with its byte offset, so a validator can say `bad intrinsic syntax at
/// column N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct IntrinsicSyntaxError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// 1-based character column of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses an intrinsic function expression.
pub fn parse_intrinsic(text: &str) -> Result<Intrinsic, IntrinsicSyntaxError> {
    let mut p = Parser { src: text, pos: 0 };
    p.skip_ws();
    let call = p.call(0).map_err(|e| p.error(e))?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(p.error(Failure::at(p.pos, "unexpected text after the call")));
    }
    Ok(Intrinsic {
        text: text.to_string(),
        call,
    })
}

struct Failure {
    offset: usize,
    message: String,
}

impl Failure {
    fn at(offset: usize, message: impl Into<String>) -> Failure {
        Failure {
            offset,
            message: message.into(),
        }
    }
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Parser<'s> {
    fn error(&self, f: Failure) -> IntrinsicSyntaxError {
        let offset = f.offset.min(self.src.len());
        let column = self.src.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        IntrinsicSyntaxError {
            offset,
            column,
            message: f.message,
        }
    }

    fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.bump();
        }
    }

    fn call(&mut self, depth: usize) -> Result<Call, Failure> {
        if depth >= MAX_NESTING {
            return Err(Failure::at(
                self.pos,
                format!("intrinsic functions are nested more than {MAX_NESTING} deep"),
            ));
        }
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            self.bump();
        }
        let name = &self.src[start..self.pos];
        if name.is_empty() {
            return Err(Failure::at(start, "expected an intrinsic function call"));
        }
        let func = Func::from_name(name)
            .ok_or_else(|| Failure::at(start, format!("unknown intrinsic function '{name}'")))?;
        if self.bump() != Some('(') {
            return Err(Failure::at(
                start + name.len(),
                format!("expected '(' after {name}"),
            ));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.bump();
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg(depth)?);
                self.skip_ws();
                match self.bump() {
                    Some(',') => continue,
                    Some(')') => break,
                    None => return Err(Failure::at(self.pos, format!("unclosed call to {name}"))),
                    Some(c) => {
                        return Err(Failure::at(
                            self.pos - c.len_utf8(),
                            format!("expected ',' or ')' but found '{c}'"),
                        ))
                    }
                }
            }
        }
        let (min, max) = func.arity();
        let n = args.len();
        if n < min || max.is_some_and(|m| n > m) {
            let expected = match max {
                Some(m) if m == min => format!("{min}"),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            return Err(Failure::at(
                start,
                format!("{name} takes {expected} argument(s) but {n} were given"),
            ));
        }
        Ok(Call {
            func,
            args,
            span: start..self.pos,
        })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, Failure> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let rest = self.rest();
                for (word, arg) in [
                    ("true", Arg::Bool(true)),
                    ("false", Arg::Bool(false)),
                    ("null", Arg::Null),
                ] {
                    let after = rest.get(word.len()..).and_then(|s| s.chars().next());
                    if rest.starts_with(word)
                        && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
                    {
                        self.pos += word.len();
                        return Ok(arg);
                    }
                }
                Ok(Arg::Call(self.call(depth + 1)?))
            }
            Some(c) => Err(Failure::at(
                self.pos,
                format!("expected an argument but found '{c}'"),
            )),
            None => Err(Failure::at(self.pos, "expected an argument")),
        }
    }

    /// A single-quoted literal. Only `\'`, `\{`, `\}` and `\\` are escapes; an unescaped
    /// `{}` is a Format placeholder and an unescaped lone brace makes the Format template bad.
    fn string(&mut self) -> Result<Arg, Failure> {
        let open = self.pos;
        self.bump();
        let mut value = String::new();
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut bad: Option<&'static str> = None;
        loop {
            let Some(c) = self.bump() else {
                return Err(Failure::at(open, "unclosed string literal"));
            };
            match c {
                '\'' => break,
                '\\' => {
                    let at = self.pos - 1;
                    match self.bump() {
                        Some(e @ ('\'' | '{' | '}' | '\\')) => {
                            value.push(e);
                            text.push(e);
                        }
                        Some(e) => {
                            return Err(Failure::at(at, format!("illegal escape sequence '\\{e}'")))
                        }
                        None => return Err(Failure::at(at, "unclosed string literal")),
                    }
                }
                '{' if self.peek() == Some('}') => {
                    self.bump();
                    value.push_str("{}");
                    pieces.push(FmtPiece::Text(std::mem::take(&mut text)));
                    pieces.push(FmtPiece::Hole);
                }
                '{' => {
                    value.push('{');
                    text.push('{');
                    bad.get_or_insert(UNMATCHED_OPEN);
                }
                '}' => {
                    value.push('}');
                    text.push('}');
                    bad.get_or_insert(UNMATCHED_CLOSE);
                }
                c => {
                    value.push(c);
                    text.push(c);
                }
            }
        }
        pieces.push(FmtPiece::Text(text));
        pieces.retain(|p| !matches!(p, FmtPiece::Text(t) if t.is_empty()));
        let template = match bad {
            Some(msg) => Err(msg.to_string()),
            None => Ok(pieces),
        };
        Ok(Arg::Str {
            value,
            template: FmtTemplateHolder(template),
        })
    }

    fn number(&mut self) -> Result<Arg, Failure> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        {
            self.bump();
        }
        let text = &self.src[start..self.pos];
        text.parse::<Number>()
            .map(Arg::Number)
            .map_err(|_| Failure::at(start, format!("bad number '{text}'")))
    }

    /// A path runs to the next `,` or `)` or whitespace outside brackets and quotes.
    fn path(&mut self) -> Result<Arg, Failure> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut strings = StringScan::default();
        while let Some(c) = self.peek() {
            if strings.inside(c) {
                self.bump();
                continue;
            }
            match c {
                '\'' | '"' if depth > 0 => strings.open(c),
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ',' | ')' => break,
                c if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.bump();
        }
        let text = &self.src[start..self.pos];
        JsonPath::parse(text)
            .map(Arg::Path)
            .map_err(|e| Failure::at(start + e.offset, format!("bad path: {}", e.message)))
    }
}

/// Reads a run-time string (from a path) as a Format template: `{}` is a placeholder and
/// `\{`, `\}`, `\\` escape; other backslashes are kept.
pub(crate) fn runtime_template(s: &str) -> FmtTemplate {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&e @ ('{' | '}' | '\\')) => {
                    chars.next();
                    text.push(e);
                }
                _ => text.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                pieces.push(FmtPiece::Text(std::mem::take(&mut text)));
                pieces.push(FmtPiece::Hole);
            }
            '{' => return Err(UNMATCHED_OPEN.to_string()),
            '}' => return Err(UNMATCHED_CLOSE.to_string()),
            c => text.push(c),
        }
    }
    pieces.push(FmtPiece::Text(text));
    pieces.retain(|p| !matches!(p, FmtPiece::Text(t) if t.is_empty()));
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Intrinsic {
        parse_intrinsic(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_function_name_parses() {
        for f in Func::ALL {
            let (min, _) = f.arity();
            let args = vec!["1"; min].join(", ");
            let text = format!("{}({args})", f.name());
            assert_eq!(parse(&text).call().func, f);
        }
        assert_eq!(Func::from_name("States.Nope"), None);
    }

    #[test]
    fn argument_forms() {
        let i = parse("States.Array('a', -1.5, 2, true, false, null, $.x, $$.Execution.Id, $v.y[0], States.UUID())");
        let args = &i.call().args;
        assert_eq!(args.len(), 10);
        assert!(matches!(&args[0], Arg::Str { value, .. } if value == "a"));
        assert!(matches!(&args[1], Arg::Number(n) if n.as_f64() == Some(-1.5)));
        assert!(matches!(&args[3], Arg::Bool(true)));
        assert!(matches!(&args[5], Arg::Null));
        assert!(matches!(&args[6], Arg::Path(p) if p.text() == "$.x"));
        assert!(matches!(&args[9], Arg::Call(c) if c.func == Func::Uuid));
        assert!(i.uses_context());
        assert_eq!(i.variables(), vec!["v".to_string()]);
        assert_eq!(i.call_count(), 2);
        assert_eq!(i.depth(), 2);
    }

    #[test]
    fn paths_with_brackets_commas_and_filters() {
        let i = parse("States.Array($['a,b'], $.l[?(@.x == 'y)')], $)");
        let args = &i.call().args;
        assert!(matches!(&args[0], Arg::Path(p) if p.text() == "$['a,b']"));
        assert!(matches!(&args[1], Arg::Path(p) if p.text() == "$.l[?(@.x == 'y)')]"));
        assert!(matches!(&args[2], Arg::Path(p) if p.text() == "$"));
    }

    #[test]
    fn escapes() {
        let i = parse(r"States.Format('it\'s \{\} \\ {}', 1)");
        let Arg::Str { value, template } = &i.call().args[0] else {
            panic!()
        };
        assert_eq!(value, r"it's {} \ {}");
        assert_eq!(
            template.0,
            Ok(vec![FmtPiece::Text(r"it's {} \ ".into()), FmtPiece::Hole])
        );
        // Raw newlines (from JSON "\n") are ordinary characters.
        let i = parse("States.StringSplit('Hello\nWorld', '\n')");
        assert!(matches!(&i.call().args[1], Arg::Str { value, .. } if value == "\n"));
        // The validation corpus case: `\"` is not an intrinsic escape.
        let bad = r#"States.StringToJson('{"text":"An \"escaped double quote\" here"}')"#;
        let e = parse_intrinsic(bad).unwrap_err();
        assert!(e.message.contains("illegal escape"), "{e}");
        assert_eq!(e.offset, bad.find('\\').unwrap());
    }

    #[test]
    fn lone_braces_are_kept_for_runtime() {
        let i = parse("States.Format('Hello {', $.a)");
        let Arg::Str { template, .. } = &i.call().args[0] else {
            panic!()
        };
        assert_eq!(template.0, Err(UNMATCHED_OPEN.to_string()));
        assert!(parse_intrinsic("States.StringToJson('{\"a\":1}')").is_ok());
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_intrinsic("States.Nope(1)").unwrap_err();
        assert_eq!((e.offset, e.column), (0, 1));
        let e = parse_intrinsic("States.Array(1 2)").unwrap_err();
        assert_eq!(e.offset, 15);
        let e = parse_intrinsic("States.Array(1,)").unwrap_err();
        assert_eq!(e.offset, 15);
        let e = parse_intrinsic("States.Array('x").unwrap_err();
        assert_eq!(e.offset, 13);
        let e = parse_intrinsic("States.MathAdd(1)").unwrap_err();
        assert!(e.message.contains("takes 2"), "{e}");
        assert!(parse_intrinsic("States.UUID(1)").is_err());
        assert!(parse_intrinsic("States.ArrayRange(1, 5)").is_err());
        assert!(parse_intrinsic("States.Array() x").is_err());
        assert!(parse_intrinsic("States.Array($.a[)").is_err());
        assert!(parse_intrinsic("States.Array(1e999)").is_err());
        assert!(parse_intrinsic("").is_err());
        let e = parse_intrinsic("é States.Array(").unwrap_err();
        assert_eq!(e.column, 1);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = format!(
            "{}1{}",
            "States.Array(".repeat(100_000),
            ")".repeat(100_000)
        );
        let e = parse_intrinsic(&deep).unwrap_err();
        assert!(e.message.contains("nested"), "{e}");
    }

    #[test]
    fn runtime_templates() {
        assert_eq!(
            runtime_template(r"a{}b\{c\}"),
            Ok(vec![
                FmtPiece::Text("a".into()),
                FmtPiece::Hole,
                FmtPiece::Text("b{c}".into())
            ])
        );
        assert!(runtime_template("x{").is_err());
        assert!(runtime_template("x}").is_err());
        assert_eq!(
            runtime_template(r"C:\dir"),
            Ok(vec![FmtPiece::Text(r"C:\dir".into())])
        );
    }
}
