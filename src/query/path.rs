//! Path syntax shared by reference paths and JSONPath: the roots (`$`, `$$`, `$name`) and the
//! Jayway-flavoured segment grammar that AWS accepts, parsed once into a small AST.
//!
//! AWS evaluates paths with Jayway JsonPath, which is more lenient than RFC 9535: dotted names
//! may contain `-` (`$.delivery-partner`), bracket strings keep unknown backslash escapes
//! verbatim, filters are written `[?(...)]` and a path may end in a function (`.length()`).
//! This module parses that dialect; [`crate::query::jsonpath`] evaluates definite paths itself
//! and hands indefinite ones, rewritten into RFC 9535 text, to `serde_json_path`.

use std::fmt;

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathRoot {
    /// `$`: the state's current input (or effective input, depending on the field).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

impl fmt::Display for PathRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRoot::Input => f.write_str("$"),
            PathRoot::Context => f.write_str("$$"),
            PathRoot::Variable(name) => write!(f, "${name}"),
        }
    }
}

/// A path that does not parse, with the byte offset of the problem in the path text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub struct PathSyntaxError {
    /// Byte offset into the path text where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl PathSyntaxError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        PathSyntaxError {
            offset,
            message: message.into(),
        }
    }

    /// The same error, moved by `by` bytes (when the path sits inside a longer text).
    pub(crate) fn shifted(mut self, by: usize) -> Self {
        self.offset += by;
        self
    }
}

/// How deeply filters may nest inside filters, and parentheses inside one filter. Both guard
/// the stack of this parser and of `serde_json_path`'s recursive-descent parser.
const MAX_FILTER_NESTING: usize = 8;
const MAX_PAREN_DEPTH: usize = 32;
/// Longest path text we accept. AWS fields are far shorter; this bounds parse time.
pub(crate) const MAX_PATH_LEN: usize = 16 * 1024;

/// One selector inside a segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: Option<i64>,
    },
    /// A filter, already rewritten to an RFC 9535 logical expression.
    Filter(String),
}

/// A child (`.x`, `[...]`) or descendant (`..x`, `..[...]`) segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Child(Vec<Selector>),
    Descendant(Vec<Selector>),
}

impl Segment {
    /// The single definite step of this segment, if it is one.
    pub(crate) fn as_step(&self) -> Option<Step> {
        match self {
            Segment::Child(sels) if sels.len() == 1 => match &sels[0] {
                Selector::Name(n) => Some(Step::Field(n.clone())),
                Selector::Index(i) => Some(Step::Index(*i)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A definite step: one object member or one array element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Field(String),
    Index(i64),
}

/// Jayway path functions that AWS accepts at the end of a path (`$.items.length()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathFunction {
    Length,
    Min,
    Max,
    Avg,
    Sum,
    Stddev,
    First,
    Last,
    Keys,
}

impl PathFunction {
    fn from_name(name: &str) -> Option<PathFunction> {
        Some(match name {
            "length" | "size" => PathFunction::Length,
            "min" => PathFunction::Min,
            "max" => PathFunction::Max,
            "avg" => PathFunction::Avg,
            "sum" => PathFunction::Sum,
            "stddev" => PathFunction::Stddev,
            "first" => PathFunction::First,
            "last" => PathFunction::Last,
            "keys" => PathFunction::Keys,
            _ => return None,
        })
    }
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedPath {
    pub root: PathRoot,
    pub segments: Vec<Segment>,
    pub function: Option<PathFunction>,
}

/// Parses a whole path text (`$...`, `$$...`, `$name...`).
pub(crate) fn parse_path(text: &str) -> Result<ParsedPath, PathSyntaxError> {
    if text.len() > MAX_PATH_LEN {
        return Err(PathSyntaxError::new(
            MAX_PATH_LEN,
            format!("path is longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    let mut p = PathParser {
        src: text,
        pos: 0,
        in_filter: false,
        filter_depth: 0,
    };
    let parsed = p.path()?;
    if p.pos != text.len() {
        return Err(p.err(format!("unexpected '{}'", p.rest_preview())));
    }
    Ok(parsed)
}

struct PathParser<'s> {
    src: &'s str,
    pos: usize,
    /// Inside a filter, names also stop at operator characters.
    in_filter: bool,
    filter_depth: usize,
}

impl<'s> PathParser<'s> {
    fn err(&self, message: impl Into<String>) -> PathSyntaxError {
        PathSyntaxError::new(self.pos, message)
    }

    fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn rest_preview(&self) -> String {
        self.rest().chars().take(20).collect()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.bump();
        }
    }

    fn path(&mut self) -> Result<ParsedPath, PathSyntaxError> {
        let root = self.root()?;
        let mut segments = Vec::new();
        let mut function = None;
        loop {
            match self.peek() {
                Some('.') if self.peek2() == Some('.') => {
                    self.pos += 2;
                    let sels = match self.peek() {
                        Some('*') => {
                            self.bump();
                            vec![Selector::Wildcard]
                        }
                        Some('[') => self.bracket()?,
                        _ => {
                            let name = self.dot_name()?;
                            vec![Selector::Name(name)]
                        }
                    };
                    segments.push(Segment::Descendant(sels));
                }
                Some('.') => {
                    self.bump();
                    if self.eat('*') {
                        segments.push(Segment::Child(vec![Selector::Wildcard]));
                        continue;
                    }
                    let start = self.pos;
                    let name = self.dot_name()?;
                    if self.peek() == Some('(') {
                        // A function call must close immediately and end the path.
                        self.bump();
                        self.skip_ws();
                        if !self.eat(')') {
                            return Err(self.err("path functions take no arguments"));
                        }
                        function = Some(PathFunction::from_name(&name).ok_or_else(|| {
                            PathSyntaxError::new(start, format!("unknown path function '{name}()'"))
                        })?);
                        break;
                    }
                    segments.push(Segment::Child(vec![Selector::Name(name)]));
                }
                Some('[') => {
                    let sels = self.bracket()?;
                    segments.push(Segment::Child(sels));
                }
                _ => break,
            }
        }
        Ok(ParsedPath {
            root,
            segments,
            function,
        })
    }

    fn root(&mut self) -> Result<PathRoot, PathSyntaxError> {
        if self.in_filter && self.eat('@') {
            // `@` is the current node; we model it as the input root and print it back as `@`.
            return Ok(PathRoot::Input);
        }
        if !self.eat('$') {
            return Err(self.err("a path must start with '$'"));
        }
        if self.eat('$') {
            return Ok(PathRoot::Context);
        }
        match self.peek() {
            Some(c) if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '_') {
                    self.bump();
                }
                Ok(PathRoot::Variable(self.src[start..self.pos].to_string()))
            }
            _ => Ok(PathRoot::Input),
        }
    }

    /// A name after `.`: Jayway reads up to the next `.` or `[` (or a character that cannot
    /// be part of a name), so `-`, `:` and the like are allowed.
    fn dot_name(&mut self) -> Result<String, PathSyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let stop = c == '.'
                || c == '['
                || c == ']'
                || c == '('
                || c == ')'
                || c == '\''
                || c == '"'
                || c.is_whitespace()
                || (self.in_filter && matches!(c, '=' | '<' | '>' | '!' | '&' | '|' | ','));
            if stop {
                break;
            }
            self.bump();
        }
        if self.pos == start {
            return Err(self.err("expected a name"));
        }
        Ok(self.src[start..self.pos].to_string())
    }

    fn bracket(&mut self) -> Result<Vec<Selector>, PathSyntaxError> {
        let open = self.pos;
        if !self.eat('[') {
            return Err(self.err("expected '['"));
        }
        self.skip_ws();
        if self.peek() == Some('?') {
            self.bump();
            let filter = self.filter()?;
            self.skip_ws();
            if !self.eat(']') {
                return Err(self.err("expected ']' after the filter"));
            }
            return Ok(vec![Selector::Filter(filter)]);
        }
        let mut sels = Vec::new();
        loop {
            self.skip_ws();
            let sel = match self.peek() {
                Some('*') => {
                    self.bump();
                    Selector::Wildcard
                }
                Some(q @ ('\'' | '"')) => Selector::Name(self.quoted(q)?),
                Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.index_or_slice()?,
                _ => return Err(self.err("expected a name, an index, a slice or '*'")),
            };
            sels.push(sel);
            self.skip_ws();
            if self.eat(',') {
                continue;
            }
            if self.eat(']') {
                break;
            }
            if self.peek().is_none() {
                return Err(PathSyntaxError::new(open, "unclosed '['"));
            }
            return Err(self.err("expected ',' or ']'"));
        }
        Ok(sels)
    }

    /// A quoted bracket name. A backslash escapes the quote character and itself; any other
    /// backslash is kept as written, which is what AWS does (`$['Test\""Name"']` reads the key
    /// `Test\""Name"`).
    fn quoted(&mut self, quote: char) -> Result<String, PathSyntaxError> {
        let open = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(PathSyntaxError::new(open, "unclosed string")),
                Some('\\') => match self.peek() {
                    Some(c) if c == quote || c == '\\' => {
                        self.bump();
                        out.push(c);
                    }
                    _ => out.push('\\'),
                },
                Some(c) if c == quote => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn int(&mut self) -> Result<Option<i64>, PathSyntaxError> {
        let start = self.pos;
        self.eat('-');
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.bump();
        }
        let text = &self.src[start..self.pos];
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<i64>()
            .map(Some)
            .map_err(|_| PathSyntaxError::new(start, format!("bad index '{text}'")))
    }

    fn index_or_slice(&mut self) -> Result<Selector, PathSyntaxError> {
        let first = self.int()?;
        self.skip_ws();
        if !self.eat(':') {
            return first
                .map(Selector::Index)
                .ok_or_else(|| self.err("expected an index"));
        }
        self.skip_ws();
        let end = self.int()?;
        self.skip_ws();
        let step = if self.eat(':') {
            self.skip_ws();
            self.int()?
        } else {
            None
        };
        Ok(Selector::Slice {
            start: first,
            end,
            step,
        })
    }

    /// Parses `(expr)` (Jayway) or a bare RFC expression after `[?`, returning the expression
    /// rewritten into RFC 9535 syntax.
    fn filter(&mut self) -> Result<String, PathSyntaxError> {
        if self.filter_depth >= MAX_FILTER_NESTING {
            return Err(self.err("filters are nested too deeply"));
        }
        self.skip_ws();
        let start = self.pos;
        // Find the end of the expression: the `]` at depth zero, outside strings.
        let mut depth = 0usize;
        let mut end = None;
        let mut strings = StringScan::default();
        for (i, c) in self.rest().char_indices() {
            if strings.inside(c) {
                continue;
            }
            match c {
                '\'' | '"' => strings.open(c),
                '(' | '[' => {
                    depth += 1;
                    if depth > MAX_PAREN_DEPTH {
                        return Err(PathSyntaxError::new(
                            start + i,
                            "filter expression is nested too deeply",
                        ));
                    }
                }
                ')' => depth = depth.saturating_sub(1),
                ']' if depth == 0 => {
                    end = Some(start + i);
                    break;
                }
                ']' => depth -= 1,
                _ => {}
            }
        }
        let end = end.ok_or_else(|| PathSyntaxError::new(start, "unclosed filter"))?;
        let expr = self.src[start..end].trim_end();
        let translated = translate_filter(expr, start, self.filter_depth + 1)?;
        self.pos = end;
        Ok(translated)
    }
}

/// Follows a scan through quoted strings (with backslash escapes), so that brackets and
/// separators inside them are not taken for structure.
#[derive(Default)]
pub(crate) struct StringScan {
    quote: Option<char>,
    escaped: bool,
}

impl StringScan {
    /// Feeds the next character; true when it is part of a string (its closing quote too).
    pub(crate) fn inside(&mut self, c: char) -> bool {
        let Some(q) = self.quote else {
            return false;
        };
        if self.escaped {
            self.escaped = false;
        } else if c == '\\' {
            self.escaped = true;
        } else if c == q {
            self.quote = None;
        }
        true
    }

    /// Starts a string at the quote `c`.
    pub(crate) fn open(&mut self, c: char) {
        self.quote = Some(c);
    }
}

/// Rewrites a Jayway filter expression into RFC 9535 syntax: embedded paths are re-printed in
/// bracket notation, strings re-quoted, `path.length()` becomes `length(path)` and
/// `path =~ /re/` becomes `match(path, 're')`. Operators RFC 9535 lacks (`in`, `nin`, `size`,
/// ...) are left alone and make `serde_json_path` reject the path.
fn translate_filter(expr: &str, offset: usize, depth: usize) -> Result<String, PathSyntaxError> {
    let mut out = String::with_capacity(expr.len() + 8);
    let mut pos = 0usize;
    // Where the most recent path operand starts in `out`, for rewriting `=~`.
    let mut last_path_start: Option<usize> = None;
    while pos < expr.len() {
        let rest = &expr[pos..];
        let Some(c) = rest.chars().next() else { break };
        if c == '\'' || c == '"' {
            let mut p = PathParser {
                src: expr,
                pos,
                in_filter: true,
                filter_depth: depth,
            };
            let s = p.quoted(c).map_err(|e| e.shifted(offset))?;
            out.push_str(&rfc_quote(&s));
            pos = p.pos;
            last_path_start = None;
        } else if c == '@' || c == '$' {
            let mut p = PathParser {
                src: expr,
                pos,
                in_filter: true,
                filter_depth: depth,
            };
            let current = c == '@';
            let parsed = p.path().map_err(|e| e.shifted(offset))?;
            if parsed.root != PathRoot::Input {
                return Err(PathSyntaxError::new(
                    offset + pos,
                    "only '@' and '$' paths can be used inside a filter",
                ));
            }
            let mut text = String::from(if current { "@" } else { "$" });
            for seg in &parsed.segments {
                write_rfc_segment(&mut text, seg);
            }
            last_path_start = Some(out.len());
            match parsed.function {
                None => out.push_str(&text),
                Some(PathFunction::Length) => {
                    out.push_str("length(");
                    out.push_str(&text);
                    out.push(')');
                }
                Some(_) => {
                    return Err(PathSyntaxError::new(
                        offset + pos,
                        "only length() can be used inside a filter",
                    ))
                }
            }
            pos = p.pos;
        } else if rest.starts_with("=~") {
            let lhs_start = last_path_start.ok_or_else(|| {
                PathSyntaxError::new(offset + pos, "'=~' needs a path on its left")
            })?;
            let lhs = out.split_off(lhs_start);
            let lhs = lhs.trim_end().to_string();
            pos += 2;
            while expr[pos..].starts_with(char::is_whitespace) {
                pos += expr[pos..].chars().next().map_or(1, char::len_utf8);
            }
            if !expr[pos..].starts_with('/') {
                return Err(PathSyntaxError::new(
                    offset + pos,
                    "expected a /regex/ after '=~'",
                ));
            }
            pos += 1;
            let mut re = String::new();
            let mut closed = false;
            let mut chars = expr[pos..].char_indices();
            while let Some((i, ch)) = chars.next() {
                if ch == '\\' {
                    if let Some((_, next)) = chars.next() {
                        if next != '/' {
                            re.push('\\');
                        }
                        re.push(next);
                    }
                    continue;
                }
                if ch == '/' {
                    pos += i + 1;
                    closed = true;
                    break;
                }
                re.push(ch);
            }
            if !closed {
                return Err(PathSyntaxError::new(offset + pos, "unclosed /regex/"));
            }
            if expr[pos..].starts_with(|ch: char| ch.is_ascii_alphabetic()) {
                return Err(PathSyntaxError::new(
                    offset + pos,
                    "regex flags are not supported",
                ));
            }
            out.push_str("match(");
            out.push_str(&lhs);
            out.push_str(", ");
            out.push_str(&rfc_quote(&re));
            out.push(')');
            last_path_start = None;
        } else {
            out.push(c);
            pos += c.len_utf8();
            if !c.is_whitespace() {
                last_path_start = None;
            }
        }
    }
    Ok(out)
}

/// Quotes `s` as an RFC 9535 single-quoted string literal.
pub(crate) fn rfc_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn write_rfc_selector(out: &mut String, sel: &Selector) {
    match sel {
        Selector::Name(n) => out.push_str(&rfc_quote(n)),
        Selector::Index(i) => out.push_str(&i.to_string()),
        Selector::Wildcard => out.push('*'),
        Selector::Slice { start, end, step } => {
            if let Some(s) = start {
                out.push_str(&s.to_string());
            }
            out.push(':');
            if let Some(e) = end {
                out.push_str(&e.to_string());
            }
            if let Some(st) = step {
                out.push(':');
                out.push_str(&st.to_string());
            }
        }
        Selector::Filter(expr) => {
            out.push('?');
            out.push_str(expr);
        }
    }
}

fn write_rfc_segment(out: &mut String, seg: &Segment) {
    let sels = match seg {
        Segment::Child(s) => s,
        Segment::Descendant(s) => {
            out.push_str("..");
            s
        }
    };
    out.push('[');
    for (i, sel) in sels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_rfc_selector(out, sel);
    }
    out.push(']');
}

/// The RFC 9535 text of a parsed path's segments, rooted at `$`.
pub(crate) fn to_rfc(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for seg in segments {
        write_rfc_segment(&mut out, seg);
    }
    out
}

/// Jayway's normalized form of a definite path prefix (`$['a'][0]`), as AWS prints it in
/// error causes.
pub(crate) fn jayway_normalized(root: &PathRoot, steps: &[Step]) -> String {
    let mut out = match root {
        PathRoot::Variable(name) => format!("${name}"),
        _ => String::from("$"),
    };
    for step in steps {
        push_jayway_step(&mut out, step);
    }
    out
}

pub(crate) fn push_jayway_step(out: &mut String, step: &Step) {
    match step {
        Step::Field(n) => {
            out.push_str("['");
            out.push_str(n);
            out.push_str("']");
        }
        Step::Index(i) => {
            out.push('[');
            out.push_str(&i.to_string());
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &ParsedPath) -> Vec<Option<Step>> {
        p.segments.iter().map(Segment::as_step).collect()
    }

    #[test]
    fn roots() {
        assert_eq!(parse_path("$").unwrap().root, PathRoot::Input);
        assert_eq!(parse_path("$$").unwrap().root, PathRoot::Context);
        assert_eq!(
            parse_path("$myVar.field[0]").unwrap().root,
            PathRoot::Variable("myVar".into())
        );
        assert_eq!(
            parse_path("$_x").unwrap().root,
            PathRoot::Variable("_x".into())
        );
        assert!(parse_path("").is_err());
        assert!(parse_path("a.b").is_err());
        assert!(parse_path("$-").is_err());
    }

    #[test]
    fn dotted_names_allow_hyphens() {
        let p = parse_path("$.delivery-partner.a:b").unwrap();
        assert_eq!(
            names(&p),
            vec![
                Some(Step::Field("delivery-partner".into())),
                Some(Step::Field("a:b".into()))
            ]
        );
    }

    #[test]
    fn brackets() {
        let p = parse_path("$['a b'][3][\"c\"]").unwrap();
        assert_eq!(
            names(&p),
            vec![
                Some(Step::Field("a b".into())),
                Some(Step::Index(3)),
                Some(Step::Field("c".into()))
            ]
        );
        // Unknown escapes stay verbatim; the quote escape is honoured.
        let p = parse_path(r#"$['Test\""Name"']"#).unwrap();
        assert_eq!(names(&p), vec![Some(Step::Field(r#"Test\""Name""#.into()))]);
        let p = parse_path(r"$['it\'s']").unwrap();
        assert_eq!(names(&p), vec![Some(Step::Field("it's".into()))]);
        assert!(parse_path("$['open").is_err());
        assert!(parse_path("$[1").is_err());
        assert!(parse_path("$[]").is_err());
        assert!(parse_path("$[99999999999999999999]").is_err());
    }

    #[test]
    fn slices_wildcards_unions() {
        let p = parse_path("$.items[1:5].x[:1][2:][*].y[0,1]").unwrap();
        assert_eq!(
            to_rfc(&p.segments),
            "$['items'][1:5]['x'][:1][2:][*]['y'][0, 1]"
        );
        let p = parse_path("$..book[-1:]").unwrap();
        assert_eq!(to_rfc(&p.segments), "$..['book'][-1:]");
        let p = parse_path("$.*.a..*").unwrap();
        assert_eq!(to_rfc(&p.segments), "$[*]['a']..[*]");
    }

    #[test]
    fn functions() {
        let p = parse_path("$.items.length()").unwrap();
        assert_eq!(p.function, Some(PathFunction::Length));
        assert_eq!(p.segments.len(), 1);
        assert!(parse_path("$.items.nope()").is_err());
        assert!(parse_path("$.items.length().x").is_err());
        assert!(parse_path("$.items.length(1)").is_err());
    }

    #[test]
    fn filters_are_rewritten() {
        let p = parse_path("$.users[?(@.status == 0)]").unwrap();
        assert_eq!(to_rfc(&p.segments), "$['users'][?(@['status'] == 0)]");
        let p = parse_path("$[?(@.dest-code > 9000 && @['a'] == 'x')].prod").unwrap();
        assert_eq!(
            to_rfc(&p.segments),
            "$[?(@['dest-code'] > 9000 && @['a'] == 'x')]['prod']"
        );
        let p = parse_path("$[?(@.tags.length() > 1)]").unwrap();
        assert_eq!(to_rfc(&p.segments), "$[?(length(@['tags']) > 1)]");
        let p = parse_path("$[?(@.name =~ /a.*b/)]").unwrap();
        assert_eq!(to_rfc(&p.segments), "$[?(match(@['name'], 'a.*b'))]");
        let p = parse_path("$[?(@.p < $.max)]").unwrap();
        assert_eq!(to_rfc(&p.segments), "$[?(@['p'] < $['max'])]");
        assert!(parse_path("$[?(@.a == 1)").is_err());
        assert!(parse_path("$[?(@.a =~ /x/i)]").is_err());
    }

    #[test]
    fn deep_filters_are_rejected_not_overflowed() {
        let deep = format!("$[?({}@.a{})]", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_path(&deep).is_err());
        let nested = format!("$[?(@{}", "[?(@".repeat(100));
        assert!(parse_path(&nested).is_err());
    }

    #[test]
    fn rfc_quoting() {
        assert_eq!(rfc_quote("a'b\\c\n"), r"'a\'b\\c\n'");
        assert_eq!(rfc_quote("\u{1}"), r"'\u0001'");
    }

    #[test]
    fn normalized_form() {
        let steps = vec![Step::Field("a".into()), Step::Index(2)];
        assert_eq!(jayway_normalized(&PathRoot::Input, &steps), "$['a'][2]");
        assert_eq!(
            jayway_normalized(&PathRoot::Variable("v".into()), &steps),
            "$v['a'][2]"
        );
    }
}
