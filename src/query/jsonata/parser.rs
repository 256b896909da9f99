//! JSONata text to AST: a tokenizer, a Pratt (top-down operator precedence) parser producing a
//! raw tree, and a processing pass that turns the raw tree into the evaluator's [`Expr`] (paths
//! flattened into steps, predicates attached to steps, `@`/`#`/`%` turned into tuple-stream
//! steps). Positions are character offsets into the expression text.
//!
//! Nesting is bounded: every raw node records its height and the parser refuses trees taller than
//! [`MAX_AST_HEIGHT`], so neither the parser, the processing pass, the evaluator nor `Drop` can
//! overflow the stack on inputs such as ten thousand nested parentheses or `1+1+...+1`.

use super::jsregex::JsRegex;
use super::JsonataSyntaxError;

/// The tallest syntax tree we accept. Real expressions nest a few dozen levels at most.
pub(crate) const MAX_AST_HEIGHT: usize = 200;

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Op(&'static str),
    Name(String),
    /// A backtick-quoted name: always a field name, never an operator.
    QuotedName(String),
    Var(String),
    Str(String),
    Num(f64),
    Regex {
        pattern: String,
        flags: String,
    },
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    pos: usize,
}

const OPERATORS: &[&str] = &[
    "..", ":=", "!=", ">=", "<=", "**", "~>", "^(", ".", "[", "]", "{", "}", "(", ")", ",", "@",
    "#", ";", ":", "?", "+", "-", "*", "/", "%", "|", "=", "<", ">", "^", "&",
];

struct Lexer<'s> {
    chars: Vec<char>,
    at: usize,
    _src: &'s str,
}

fn syntax(code: &str, position: usize, message: impl Into<String>) -> JsonataSyntaxError {
    JsonataSyntaxError {
        code: code.to_string(),
        position,
        message: message.into(),
    }
}

impl<'s> Lexer<'s> {
    fn new(src: &'s str) -> Self {
        Lexer {
            chars: src.chars().collect(),
            at: 0,
            _src: src,
        }
    }

    fn peek(&self, off: usize) -> Option<char> {
        self.chars.get(self.at + off).copied()
    }

    /// `prefix` says whether a `/` here starts a regex (operand position) or is division.
    fn next(&mut self, prefix: bool) -> Result<Token, JsonataSyntaxError> {
        // Skip whitespace and comments.
        loop {
            match self.peek(0) {
                Some(c) if c.is_whitespace() => self.at += 1,
                Some('/') if self.peek(1) == Some('*') => {
                    let start = self.at;
                    self.at += 2;
                    loop {
                        match self.peek(0) {
                            None => {
                                return Err(syntax("S0106", start, "Comment has no closing tag"))
                            }
                            Some('*') if self.peek(1) == Some('/') => {
                                self.at += 2;
                                break;
                            }
                            Some(_) => self.at += 1,
                        }
                    }
                }
                _ => break,
            }
        }
        let pos = self.at;
        let Some(c) = self.peek(0) else {
            return Ok(Token { tok: Tok::End, pos });
        };
        if prefix && c == '/' {
            return self.regex(pos);
        }
        if c == '"' || c == '\'' {
            return self.string(c, pos);
        }
        if c.is_ascii_digit() {
            return self.number(pos);
        }
        if c == '`' {
            self.at += 1;
            let start = self.at;
            while let Some(ch) = self.peek(0) {
                if ch == '`' {
                    let name: String = self.chars[start..self.at].iter().collect();
                    self.at += 1;
                    return Ok(Token {
                        tok: Tok::QuotedName(name),
                        pos,
                    });
                }
                self.at += 1;
            }
            return Err(syntax(
                "S0105",
                pos,
                "Quoted property name must be terminated with a backquote (`)",
            ));
        }
        // Two-character operators first, then single characters.
        for op in OPERATORS {
            let mut ok = true;
            for (i, oc) in op.chars().enumerate() {
                if self.peek(i) != Some(oc) {
                    ok = false;
                    break;
                }
            }
            if ok {
                // `..` must not swallow the `.` of a number like `1..5` (handled by the number
                // lexer) and `?:`/`??` (JSONata 2.1) are not part of 2.0.6, which AWS runs.
                self.at += op.chars().count();
                return Ok(Token {
                    tok: Tok::Op(op),
                    pos,
                });
            }
        }
        if c == '$' {
            self.at += 1;
            // `$$` is the root of the input document: its name is "$".
            if self.peek(0) == Some('$') {
                self.at += 1;
                return Ok(Token {
                    tok: Tok::Var("$".to_string()),
                    pos,
                });
            }
            return Ok(Token {
                tok: Tok::Var(self.name()),
                pos,
            });
        }
        if is_name_char(c) {
            let name = self.name();
            let tok = match name.as_str() {
                "and" => Tok::Op("and"),
                "or" => Tok::Op("or"),
                "in" => Tok::Op("in"),
                _ => Tok::Name(name),
            };
            return Ok(Token { tok, pos });
        }
        Err(syntax("S0204", pos, format!("Unknown operator: \"{c}\"")))
    }

    /// The run of name characters from here (possibly empty).
    fn name(&mut self) -> String {
        let start = self.at;
        while self.peek(0).is_some_and(is_name_char) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn string(&mut self, quote: char, pos: usize) -> Result<Token, JsonataSyntaxError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(syntax(
                    "S0101",
                    pos,
                    "String literal must be terminated by a matching quote",
                ));
            };
            self.at += 1;
            if c == quote {
                return Ok(Token {
                    tok: Tok::Str(out),
                    pos,
                });
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek(0) else {
                // A backslash with nothing after it (jsonata-js: S0103).
                return Err(syntax("S0103", self.at, "Unsupported escape sequence: \\"));
            };
            self.at += 1;
            match e {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let unit = self.hex4(pos)?;
                    // A UTF-16 surrogate pair spelt as two escapes.
                    if (0xD800..0xDC00).contains(&unit)
                        && self.peek(0) == Some('\\')
                        && self.peek(1) == Some('u')
                    {
                        let save = self.at;
                        self.at += 2;
                        let low = self.hex4(pos)?;
                        if (0xDC00..0xE000).contains(&low) {
                            let cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            continue;
                        }
                        self.at = save;
                    }
                    out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                }
                other => {
                    return Err(syntax(
                        "S0103",
                        self.at - 1,
                        format!("Unsupported escape sequence: \\{other}"),
                    ))
                }
            }
        }
    }

    fn hex4(&mut self, pos: usize) -> Result<u32, JsonataSyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self.peek(0).and_then(|c| c.to_digit(16));
            match d {
                Some(d) => {
                    v = v * 16 + d;
                    self.at += 1;
                }
                None => {
                    return Err(syntax(
                        "S0104",
                        pos,
                        "The escape sequence \\u must be followed by 4 hex digits",
                    ))
                }
            }
        }
        Ok(v)
    }

    fn number(&mut self, pos: usize) -> Result<Token, JsonataSyntaxError> {
        let start = self.at;
        let digits = |lx: &mut Self| {
            while lx.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                lx.at += 1;
            }
        };
        if self.peek(0) == Some('0') {
            self.at += 1;
        } else {
            digits(self);
        }
        // A fraction needs a digit after the dot, so `1..5` lexes as 1, .., 5.
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
            digits(self);
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let save = self.at;
            self.at += 1;
            if matches!(self.peek(0), Some('+' | '-')) {
                self.at += 1;
            }
            if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                digits(self);
            } else {
                self.at = save;
            }
        }
        let text: String = self.chars[start..self.at].iter().collect();
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Token {
                tok: Tok::Num(n),
                pos,
            }),
            _ => Err(syntax(
                "S0102",
                pos,
                format!("Number out of range: \"{text}\""),
            )),
        }
    }

    fn regex(&mut self, pos: usize) -> Result<Token, JsonataSyntaxError> {
        self.at += 1;
        let start = self.at;
        let mut depth_class = false;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(syntax(
                    "S0302",
                    pos,
                    "No terminating / in regular expression",
                ));
            };
            if c == '\\' {
                self.at += 2;
                continue;
            }
            if c == '[' {
                depth_class = true;
            } else if c == ']' {
                depth_class = false;
            } else if c == '/' && !depth_class {
                break;
            }
            self.at += 1;
        }
        let pattern: String = self.chars[start..self.at.min(self.chars.len())]
            .iter()
            .collect();
        if pattern.is_empty() {
            return Err(syntax(
                "S0301",
                pos,
                "Empty regular expressions are not supported",
            ));
        }
        self.at += 1;
        let fstart = self.at;
        // jsonata-js reads only `i` and `m` as flags; any other letter is the next token.
        while self.peek(0).is_some_and(|c| matches!(c, 'i' | 'm')) {
            self.at += 1;
        }
        let flags: String = self.chars[fstart..self.at].iter().collect();
        Ok(Token {
            tok: Tok::Regex { pattern, flags },
            pos,
        })
    }
}

fn is_name_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '.' | '['
                | ']'
                | '{'
                | '}'
                | '('
                | ')'
                | ','
                | '@'
                | '#'
                | ';'
                | ':'
                | '?'
                | '+'
                | '-'
                | '*'
                | '/'
                | '%'
                | '|'
                | '='
                | '<'
                | '>'
                | '^'
                | '&'
                | '!'
                | '~'
                | '"'
                | '\''
                | '`'
                | '$'
        ))
}

// ---------------------------------------------------------------------------------------------
// Raw tree (straight out of the Pratt parser)

#[derive(Debug)]
enum Raw {
    /// A literal, variable, regex or `?` placeholder: processed as it is.
    Leaf(Kind),
    /// A name, `*`, `**` or `%`: processed into a path of one step.
    Step(Kind),
    Neg(Box<RawNode>),
    Array(Vec<RawNode>),
    Object(Vec<(RawNode, RawNode)>),
    Block(Vec<RawNode>),
    Binary(&'static str, Box<RawNode>, Box<RawNode>),
    /// `lhs[rhs]`; `None` for `lhs[]`.
    Filter(Box<RawNode>, Option<Box<RawNode>>),
    /// `lhs{...}`
    Group(Box<RawNode>, Vec<(RawNode, RawNode)>),
    Sort(Box<RawNode>, Vec<(bool, RawNode)>),
    Focus(Box<RawNode>, String),
    Index(Box<RawNode>, String),
    Call(Box<RawNode>, Vec<RawNode>),
    Lambda(
        Vec<String>,
        Box<RawNode>,
        Option<Box<super::signature::Signature>>,
    ),
    Condition(Box<RawNode>, Box<RawNode>, Option<Box<RawNode>>),
    Bind(String, Box<RawNode>),
    Transform(Box<RawNode>, Box<RawNode>, Option<Box<RawNode>>),
}

/// Key/value pairs of an object constructor or grouping.
type RawPairs = Vec<(RawNode, RawNode)>;

#[derive(Debug)]
struct RawNode {
    raw: Raw,
    pos: usize,
    height: usize,
}

// ---------------------------------------------------------------------------------------------
// Processed tree (what the evaluator walks)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
}

impl BinOp {
    /// Every operator, so that the parser can find one by its symbol.
    const ALL: [BinOp; 16] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Mod,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Concat,
        BinOp::And,
        BinOp::Or,
        BinOp::In,
        BinOp::Range,
    ];

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
            BinOp::Range => "..",
        }
    }
}

#[derive(Debug)]
pub(crate) enum Stage {
    Filter(Expr),
    /// `#$name` written after a predicate: binds the position after filtering.
    Index(String),
}

#[derive(Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expr: Expr,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Name(String),
    /// `$name`; the empty name is the context `$`, `"$"` is the root `$$`.
    Var(String),
    Regex(JsRegex),
    Wildcard,
    Descendant,
    Parent,
    Placeholder,
    Neg(Box<Expr>),
    /// An array constructor `[...]`.
    Array(Vec<Expr>),
    /// An object constructor `{...}` applied to the context.
    Object(Vec<(Expr, Expr)>),
    Block(Vec<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Path(Path),
    Sort(Vec<SortTerm>),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        partial: bool,
    },
    /// `lhs ~> rhs`
    Apply(Box<Expr>, Box<Expr>),
    Lambda {
        params: Vec<String>,
        body: Box<Expr>,
        signature: Option<Box<super::signature::Signature>>,
    },
    Condition(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    Bind(String, Box<Expr>),
    Transform {
        pattern: Box<Expr>,
        update: Box<Expr>,
        delete: Option<Box<Expr>>,
    },
}

#[derive(Debug)]
pub(crate) struct Path {
    pub steps: Vec<Expr>,
    pub keep_singleton: bool,
    /// Some step binds `@`, `#` or uses `%`: evaluate as a tuple stream.
    pub tuple: bool,
    /// The grouping (`path{k: v}`) refers to `%`: jsonata-js 2.0.6 then groups nothing and
    /// yields `{}`, and so do we.
    pub group_parent: bool,
    pub group: Option<Vec<(Expr, Expr)>>,
}

#[derive(Debug)]
pub(crate) struct Expr {
    pub kind: Kind,
    pub pos: usize,
    /// Predicates applied to the whole value (non-path expressions such as `$x[0]`).
    pub predicates: Vec<Expr>,
    /// Group-by applied to a non-path value (`$x{...}`).
    pub group: Option<Vec<(Expr, Expr)>>,
    /// Path-step extras.
    pub stages: Vec<Stage>,
    pub focus: Option<String>,
    pub index: Option<String>,
    pub keep_array: bool,
    /// An array-constructor step: its result is not flattened into the path.
    pub cons_array: bool,
}

impl Expr {
    fn new(kind: Kind, pos: usize) -> Self {
        Expr {
            kind,
            pos,
            predicates: Vec::new(),
            group: None,
            stages: Vec::new(),
            focus: None,
            index: None,
            keep_array: false,
            cons_array: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pratt parser

/// Stack the parser may use (frames are much larger in debug builds than the height suggests).
const STACK_BUDGET: usize = 1 << 20;

struct Parser<'s> {
    stack_base: usize,
    lexer: Lexer<'s>,
    cur: Token,
    depth: usize,
    /// Closing brackets still expected: running out of text inside one is S0203 (expected
    /// `)` before the end), outside any is S0207, as in jsonata-js.
    open: Vec<&'static str>,
}

fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" | "^(" => 80,
            "{" => 70,
            "*" | "/" | "%" | "**" => 60,
            "+" | "-" | "&" => 50,
            "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "in" => 40,
            "and" => 30,
            "or" => 25,
            // `..` only appears inside an array constructor, which parses it itself.
            "?" => 20,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

impl<'s> Parser<'s> {
    fn advance(&mut self, prefix: bool) -> Result<(), JsonataSyntaxError> {
        self.cur = self.lexer.next(prefix)?;
        Ok(())
    }

    fn node(
        &self,
        raw: Raw,
        pos: usize,
        children: &[usize],
    ) -> Result<RawNode, JsonataSyntaxError> {
        let height = 1 + children.iter().copied().max().unwrap_or(0);
        if height > MAX_AST_HEIGHT {
            return Err(too_deep(pos));
        }
        Ok(RawNode { raw, pos, height })
    }

    fn expect(&mut self, op: &'static str, prefix_after: bool) -> Result<(), JsonataSyntaxError> {
        match &self.cur.tok {
            Tok::Op(o) if *o == op => self.advance(prefix_after),
            Tok::End => Err(syntax(
                "S0203",
                self.cur.pos,
                format!("Expected \"{op}\" before end of expression"),
            )),
            other => Err(syntax(
                "S0202",
                self.cur.pos,
                format!("Expected \"{op}\", got \"{}\"", tok_text(other)),
            )),
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.cur.tok, Tok::Op(o) if *o == op)
    }

    /// A comma-separated list up to `close` (consumed), empty when `close` comes first; each
    /// item comes with its height.
    fn list<T>(
        &mut self,
        close: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<(T, usize), JsonataSyntaxError>,
    ) -> Result<(Vec<T>, Vec<usize>), JsonataSyntaxError> {
        let mut items = Vec::new();
        let mut hs = Vec::new();
        self.open.push(close);
        if !self.is_op(close) {
            loop {
                let (x, h) = item(self)?;
                hs.push(h);
                items.push(x);
                if !self.is_op(",") {
                    break;
                }
                self.advance(true)?;
            }
        }
        self.open.pop();
        self.expect(close, false)?;
        Ok((items, hs))
    }

    /// One expression as a list item.
    fn item(&mut self) -> Result<(RawNode, usize), JsonataSyntaxError> {
        let e = self.expression(0)?;
        let h = e.height;
        Ok((e, h))
    }

    /// A call argument: `?` alone is a placeholder (partial application); anywhere else `?`
    /// cannot start an expression (S0211), as in jsonata-js.
    fn arg_item(&mut self) -> Result<(RawNode, usize), JsonataSyntaxError> {
        if self.is_op("?") {
            let pos = self.cur.pos;
            self.advance(false)?;
            let e = self.node(Raw::Leaf(Kind::Placeholder), pos, &[])?;
            return Ok((e, 1));
        }
        self.item()
    }

    fn expression(&mut self, rbp: u32) -> Result<RawNode, JsonataSyntaxError> {
        self.depth += 1;
        let here = 0u8;
        let used = (&here as *const u8 as usize).abs_diff(self.stack_base);
        if self.depth > MAX_AST_HEIGHT || used > STACK_BUDGET {
            return Err(too_deep(self.cur.pos));
        }
        let t = self.cur.clone();
        // After an operand, a `/` is division.
        self.advance(false)?;
        let mut left = self.nud(t)?;
        while rbp < lbp(&self.cur.tok) {
            let t = self.cur.clone();
            self.advance(true)?;
            left = self.led(t, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    #[inline(never)]
    fn nud(&mut self, t: Token) -> Result<RawNode, JsonataSyntaxError> {
        let pos = t.pos;
        match t.tok {
            Tok::Str(s) => self.node(Raw::Leaf(Kind::Str(s)), pos, &[]),
            Tok::Num(n) => self.node(Raw::Leaf(Kind::Num(n)), pos, &[]),
            Tok::QuotedName(n) => self.node(Raw::Step(Kind::Name(n)), pos, &[]),
            Tok::Name(n) => match n.as_str() {
                "true" => self.node(Raw::Leaf(Kind::Bool(true)), pos, &[]),
                "false" => self.node(Raw::Leaf(Kind::Bool(false)), pos, &[]),
                "null" => self.node(Raw::Leaf(Kind::Null), pos, &[]),
                "function" | "λ" if self.is_op("(") => self.lambda(pos),
                _ => self.node(Raw::Step(Kind::Name(n)), pos, &[]),
            },
            Tok::Var(v) => self.node(Raw::Leaf(Kind::Var(v)), pos, &[]),
            Tok::Regex { pattern, flags } => {
                let re = JsRegex::compile(&pattern, &flags).map_err(|m| syntax("S0302", pos, m))?;
                self.node(Raw::Leaf(Kind::Regex(re)), pos, &[])
            }
            Tok::End => Err(match self.open.last() {
                Some(close) => syntax(
                    "S0203",
                    pos,
                    format!("Expected \"{close}\" before end of expression"),
                ),
                None => syntax("S0207", pos, "Unexpected end of expression"),
            }),
            Tok::Op(op) => match op {
                // `and`, `or`, `in` in operand position are field names.
                "and" | "or" | "in" => self.node(Raw::Step(Kind::Name(op.to_string())), pos, &[]),
                "-" => {
                    let e = self.expression(70)?;
                    let h = e.height;
                    self.node(Raw::Neg(Box::new(e)), pos, &[h])
                }
                "*" => self.node(Raw::Step(Kind::Wildcard), pos, &[]),
                "**" => self.node(Raw::Step(Kind::Descendant), pos, &[]),
                "%" => self.node(Raw::Step(Kind::Parent), pos, &[]),
                "(" => self.nud_block(pos),
                "[" => self.nud_array(pos),
                "{" => {
                    let (pairs, hs) = self.object_body()?;
                    self.node(Raw::Object(pairs), pos, &hs)
                }
                "|" => self.nud_transform(pos),
                other => Err(syntax(
                    "S0211",
                    pos,
                    format!("The symbol \"{other}\" cannot be used as a unary operator"),
                )),
            },
        }
    }

    #[inline(never)]
    fn nud_block(&mut self, pos: usize) -> Result<RawNode, JsonataSyntaxError> {
        let mut items = Vec::new();
        let mut hs = Vec::new();
        self.open.push(")");
        while !self.is_op(")") {
            let e = self.expression(0)?;
            hs.push(e.height);
            items.push(e);
            if !self.is_op(";") {
                break;
            }
            self.advance(true)?;
        }
        self.open.pop();
        self.expect(")", false)?;
        self.node(Raw::Block(items), pos, &hs)
    }

    #[inline(never)]
    fn nud_array(&mut self, pos: usize) -> Result<RawNode, JsonataSyntaxError> {
        let (items, hs) = self.list("]", |p| {
            let mut item = p.expression(0)?;
            if p.is_op("..") {
                p.advance(true)?;
                let rhs = p.expression(0)?;
                let (hl, hr) = (item.height, rhs.height);
                item = p.node(
                    Raw::Binary("..", Box::new(item), Box::new(rhs)),
                    pos,
                    &[hl, hr],
                )?;
            }
            let h = item.height;
            Ok((item, h))
        })?;
        self.node(Raw::Array(items), pos, &hs)
    }

    #[inline(never)]
    fn nud_transform(&mut self, pos: usize) -> Result<RawNode, JsonataSyntaxError> {
        let pattern = self.expression(0)?;
        self.expect("|", true)?;
        let update = self.expression(0)?;
        let mut hs = vec![pattern.height, update.height];
        let delete = if self.is_op(",") {
            self.advance(true)?;
            let d = self.expression(0)?;
            hs.push(d.height);
            Some(Box::new(d))
        } else {
            None
        };
        self.expect("|", false)?;
        self.node(
            Raw::Transform(Box::new(pattern), Box::new(update), delete),
            pos,
            &hs,
        )
    }

    #[inline(never)]
    fn object_body(&mut self) -> Result<(RawPairs, Vec<usize>), JsonataSyntaxError> {
        self.list("}", |p| {
            let k = p.expression(0)?;
            p.expect(":", true)?;
            let v = p.expression(0)?;
            let h = k.height.max(v.height);
            Ok(((k, v), h))
        })
    }

    #[inline(never)]
    fn lambda(&mut self, pos: usize) -> Result<RawNode, JsonataSyntaxError> {
        self.expect("(", true)?;
        let mut count = 0;
        let (params, _) = self.list(")", |p| {
            count += 1;
            let Tok::Var(v) = &p.cur.tok else {
                return Err(syntax(
                    "S0208",
                    p.cur.pos,
                    format!("Parameter {count} of function definition must be a variable name (start with $)"),
                ));
            };
            let v = v.clone();
            p.advance(false)?;
            Ok((v, 0))
        })?;
        // Optional signature `<...>`: checked against the arguments on every call.
        let mut signature = None;
        if self.is_op("<") {
            let sig_pos = self.cur.pos;
            let mut text = String::new();
            let mut depth = 0usize;
            loop {
                match &self.cur.tok {
                    Tok::Op("<") => depth += 1,
                    Tok::Op(">") => depth = depth.saturating_sub(1),
                    Tok::End => {
                        return Err(syntax(
                            "S0203",
                            self.cur.pos,
                            "Expected \">\" before end of expression",
                        ))
                    }
                    _ => {}
                }
                text.push_str(&tok_text(&self.cur.tok));
                self.advance(false)?;
                if depth == 0 {
                    break;
                }
            }
            let sig = super::signature::Signature::parse(&text)
                .map_err(|e| syntax(&e.code, sig_pos, e.message))?;
            signature = Some(Box::new(sig));
        }
        self.expect("{", true)?;
        self.open.push("}");
        let body = self.expression(0)?;
        self.open.pop();
        self.expect("}", false)?;
        let h = body.height;
        self.node(Raw::Lambda(params, Box::new(body), signature), pos, &[h])
    }

    #[inline(never)]
    fn led(&mut self, t: Token, left: RawNode) -> Result<RawNode, JsonataSyntaxError> {
        let pos = t.pos;
        let Tok::Op(op) = t.tok else {
            return Err(syntax("S0201", pos, "Syntax error"));
        };
        let lh = left.height;
        match op {
            "(" => {
                let (args, mut hs) = self.list(")", Self::arg_item)?;
                hs.push(lh);
                self.node(Raw::Call(Box::new(left), args), pos, &hs)
            }
            "[" => {
                if self.is_op("]") {
                    self.advance(false)?;
                    return self.node(Raw::Filter(Box::new(left), None), pos, &[lh]);
                }
                self.open.push("]");
                let pred = self.expression(0)?;
                self.open.pop();
                self.expect("]", false)?;
                let ph = pred.height;
                self.node(
                    Raw::Filter(Box::new(left), Some(Box::new(pred))),
                    pos,
                    &[lh, ph],
                )
            }
            "{" => {
                let (pairs, mut hs) = self.object_body()?;
                hs.push(lh);
                self.node(Raw::Group(Box::new(left), pairs), pos, &hs)
            }
            "^(" => {
                let mut terms = Vec::new();
                let mut hs = vec![lh];
                loop {
                    let mut descending = false;
                    if self.is_op("<") {
                        self.advance(true)?;
                    } else if self.is_op(">") {
                        descending = true;
                        self.advance(true)?;
                    }
                    let e = self.expression(0)?;
                    hs.push(e.height);
                    terms.push((descending, e));
                    if !self.is_op(",") {
                        break;
                    }
                    self.advance(true)?;
                }
                self.expect(")", false)?;
                self.node(Raw::Sort(Box::new(left), terms), pos, &hs)
            }
            "@" | "#" => {
                let Tok::Var(name) = self.cur.tok.clone() else {
                    return Err(syntax(
                        "S0214",
                        self.cur.pos,
                        format!("The right side of {op} must be a variable name (start with $)"),
                    ));
                };
                self.advance(false)?;
                let raw = if op == "@" {
                    Raw::Focus(Box::new(left), name)
                } else {
                    Raw::Index(Box::new(left), name)
                };
                self.node(raw, pos, &[lh])
            }
            "?" => {
                let then = self.expression(0)?;
                let mut hs = vec![lh, then.height];
                let otherwise = if self.is_op(":") {
                    self.advance(true)?;
                    let e = self.expression(0)?;
                    hs.push(e.height);
                    Some(Box::new(e))
                } else {
                    None
                };
                self.node(
                    Raw::Condition(Box::new(left), Box::new(then), otherwise),
                    pos,
                    &hs,
                )
            }
            ":=" => {
                let Raw::Leaf(Kind::Var(name)) = left.raw else {
                    return Err(syntax(
                        "S0212",
                        pos,
                        "The left side of := must be a variable name (start with $)",
                    ));
                };
                // Right associative.
                let rhs = self.expression(lbp(&Tok::Op(":=")) - 1)?;
                let rh = rhs.height;
                self.node(Raw::Bind(name, Box::new(rhs)), pos, &[lh, rh])
            }
            _ => {
                let rbp = lbp(&Tok::Op(op));
                let rhs = self.expression(rbp)?;
                let rh = rhs.height;
                self.node(
                    Raw::Binary(op, Box::new(left), Box::new(rhs)),
                    pos,
                    &[lh, rh],
                )
            }
        }
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Op(o) => o.to_string(),
        Tok::Name(n) | Tok::QuotedName(n) => n.clone(),
        Tok::Var(v) => format!("${v}"),
        Tok::Str(s) => s.clone(),
        Tok::Num(n) => n.to_string(),
        Tok::Regex { pattern, .. } => format!("/{pattern}/"),
        Tok::End => "(end)".into(),
    }
}

fn too_deep(pos: usize) -> JsonataSyntaxError {
    syntax(
        "U1001",
        pos,
        format!("Stack overflow error: the expression nests deeper than {MAX_AST_HEIGHT} levels"),
    )
}

// ---------------------------------------------------------------------------------------------
// Processing: raw tree to evaluator tree

fn process(node: RawNode) -> Result<Expr, JsonataSyntaxError> {
    let pos = node.pos;
    let e = match node.raw {
        Raw::Leaf(kind) => Expr::new(kind, pos),
        Raw::Step(kind) => {
            // `%` needs the parent of each item: the path becomes a tuple stream.
            let tuple = matches!(kind, Kind::Parent);
            let mut p = path_of(Expr::new(kind, pos));
            if let Kind::Path(path) = &mut p.kind {
                path.tuple = tuple;
            }
            p
        }
        Raw::Neg(e) => {
            let inner = process(*e)?;
            if let Kind::Num(n) = inner.kind {
                Expr::new(Kind::Num(-n), pos)
            } else {
                Expr::new(Kind::Neg(Box::new(inner)), pos)
            }
        }
        Raw::Array(items) => Expr::new(Kind::Array(process_all(items)?), pos),
        Raw::Object(pairs) => Expr::new(Kind::Object(process_pairs(pairs)?), pos),
        Raw::Block(items) => Expr::new(Kind::Block(process_all(items)?), pos),
        Raw::Binary(op, l, r) => process_binary(op, *l, *r, pos)?,
        Raw::Filter(l, pred) => process_filter(process(*l)?, pred, pos)?,
        Raw::Group(l, pairs) => process_group(process(*l)?, pairs, pos)?,
        Raw::Sort(l, terms) => process_sort(process(*l)?, terms, pos)?,
        // `@$` binds the empty name, which jsonata-js reads as no focus at all (the name is
        // falsy there): the step yields its items.
        Raw::Focus(l, name) => tuple_step(process(*l)?, |last| {
            last.focus = (!name.is_empty()).then_some(name)
        }),
        Raw::Index(l, name) => tuple_step(process(*l)?, |last| {
            if last.stages.is_empty() {
                last.index = Some(name);
            } else {
                last.stages.push(Stage::Index(name));
            }
        }),
        Raw::Call(f, args) => {
            let func = process(*f)?;
            let args = process_all(args)?;
            let partial = args.iter().any(|a| matches!(a.kind, Kind::Placeholder));
            Expr::new(
                Kind::Call {
                    func: Box::new(func),
                    args,
                    partial,
                },
                pos,
            )
        }
        Raw::Lambda(params, body, signature) => Expr::new(
            Kind::Lambda {
                params,
                body: Box::new(process(*body)?),
                signature,
            },
            pos,
        ),
        Raw::Condition(c, t, e) => Expr::new(
            Kind::Condition(
                Box::new(process(*c)?),
                Box::new(process(*t)?),
                process_opt(e)?,
            ),
            pos,
        ),
        Raw::Bind(name, v) => Expr::new(Kind::Bind(name, Box::new(process(*v)?)), pos),
        Raw::Transform(p, u, d) => Expr::new(
            Kind::Transform {
                pattern: Box::new(process(*p)?),
                update: Box::new(process(*u)?),
                delete: process_opt(d)?,
            },
            pos,
        ),
    };
    Ok(e)
}

fn process_all(nodes: Vec<RawNode>) -> Result<Vec<Expr>, JsonataSyntaxError> {
    nodes.into_iter().map(process).collect()
}

fn process_opt(node: Option<Box<RawNode>>) -> Result<Option<Box<Expr>>, JsonataSyntaxError> {
    node.map(|n| process(*n))
        .transpose()
        .map(|e| e.map(Box::new))
}

fn process_binary(
    op: &str,
    l: RawNode,
    r: RawNode,
    pos: usize,
) -> Result<Expr, JsonataSyntaxError> {
    // The operator is checked before its operands, so an unknown one is the error reported.
    let kind = match op {
        "." => return path_join(process(l)?, process(r)?, pos),
        "~>" => Kind::Apply(Box::new(process(l)?), Box::new(process(r)?)),
        _ => match BinOp::ALL.into_iter().find(|b| b.symbol() == op) {
            Some(bop) => Kind::Binary(bop, Box::new(process(l)?), Box::new(process(r)?)),
            None => return Err(syntax("S0201", pos, format!("Syntax error: \"{op}\""))),
        },
    };
    Ok(Expr::new(kind, pos))
}

/// `lhs[pred]` (a predicate on the last step, or on the whole value when `lhs` is not a
/// path) and `lhs[]` (keep the result an array).
fn process_filter(
    mut lhs: Expr,
    pred: Option<Box<RawNode>>,
    pos: usize,
) -> Result<Expr, JsonataSyntaxError> {
    let Some(pred) = pred else {
        if let Kind::Path(p) = &mut lhs.kind {
            p.keep_singleton = true;
            if let Some(last) = p.steps.last_mut() {
                last.keep_array = true;
            }
        } else {
            lhs.keep_array = true;
        }
        return Ok(lhs);
    };
    let pred = process(*pred)?;
    // A path's grouping applies to the whole path, so a predicate after it filters the last
    // step (`Product{SKU: Price}[0]` is `Product[0]{SKU: Price}`); only a grouped value that
    // is not a path cannot take one (jsonata-js 2.0.6).
    if !matches!(lhs.kind, Kind::Path(_)) && lhs.group.is_some() {
        return Err(syntax(
            "S0209",
            pos,
            "A predicate cannot follow a grouping expression in a step",
        ));
    }
    match &mut lhs.kind {
        Kind::Path(p) => {
            if let Some(last) = p.steps.last_mut() {
                last.stages.push(Stage::Filter(pred));
            }
        }
        _ => lhs.predicates.push(pred),
    }
    Ok(lhs)
}

/// `lhs{...}`: the grouping of a path, or of a whole value; one per step.
fn process_group(mut lhs: Expr, pairs: RawPairs, pos: usize) -> Result<Expr, JsonataSyntaxError> {
    let pairs = process_pairs(pairs)?;
    let slot = match &mut lhs.kind {
        Kind::Path(p) => &mut p.group,
        _ => &mut lhs.group,
    };
    if slot.is_some() {
        return Err(syntax(
            "S0210",
            pos,
            "Each step can only have one grouping expression",
        ));
    }
    *slot = Some(pairs);
    Ok(lhs)
}

/// `lhs^(terms)`: a sort step appended to the path.
fn process_sort(
    lhs: Expr,
    terms: Vec<(bool, RawNode)>,
    pos: usize,
) -> Result<Expr, JsonataSyntaxError> {
    let terms = terms
        .into_iter()
        .map(|(descending, e)| {
            Ok(SortTerm {
                descending,
                expr: process(e)?,
            })
        })
        .collect::<Result<Vec<_>, JsonataSyntaxError>>()?;
    let sort = Expr::new(Kind::Sort(terms), pos);
    let mut p = into_path(lhs);
    if let Kind::Path(path) = &mut p.kind {
        path.steps.push(sort);
    }
    Ok(p)
}

/// `lhs@$v` and `lhs#$i`: the path becomes a tuple stream and `bind` marks its last step.
fn tuple_step(lhs: Expr, bind: impl FnOnce(&mut Expr)) -> Expr {
    let mut p = into_path(lhs);
    if let Kind::Path(path) = &mut p.kind {
        path.tuple = true;
        if let Some(last) = path.steps.last_mut() {
            bind(last);
        }
    }
    p
}

fn process_pairs(pairs: Vec<(RawNode, RawNode)>) -> Result<Vec<(Expr, Expr)>, JsonataSyntaxError> {
    pairs
        .into_iter()
        .map(|(k, v)| Ok((process(k)?, process(v)?)))
        .collect()
}

fn path_of(step: Expr) -> Expr {
    let pos = step.pos;
    Expr::new(
        Kind::Path(Path {
            steps: vec![step],
            keep_singleton: false,
            tuple: false,
            group_parent: false,
            group: None,
        }),
        pos,
    )
}

/// Wraps a non-path expression as a one-step path (for `^(...)`, `@`, `#`).
fn into_path(e: Expr) -> Expr {
    if matches!(e.kind, Kind::Path(_)) {
        e
    } else {
        path_of(e)
    }
}

/// `$var.%`: a step that reads the parent cannot follow a variable (jsonata-js S0217).
fn no_parent_of_variable(
    steps: &[Expr],
    parent_next: bool,
    pos: usize,
) -> Result<(), JsonataSyntaxError> {
    if parent_next && steps.last().is_some_and(|l| matches!(l.kind, Kind::Var(_))) {
        return Err(syntax(
            "S0217",
            pos,
            "The object representing the 'parent' cannot be derived from this expression",
        ));
    }
    Ok(())
}

fn path_join(lhs: Expr, rhs: Expr, pos: usize) -> Result<Expr, JsonataSyntaxError> {
    let mut left = into_path(lhs);
    let Kind::Path(lp) = &mut left.kind else {
        return Ok(left);
    };
    // A grouping stays with the whole path, applied after every step (as in jsonata-js).
    match rhs.kind {
        Kind::Path(rp) if rhs.predicates.is_empty() && rhs.group.is_none() => {
            let parent_first = rp
                .steps
                .first()
                .is_some_and(|f| matches!(f.kind, Kind::Parent));
            no_parent_of_variable(&lp.steps, parent_first, rhs.pos)?;
            lp.tuple |= rp.tuple;
            lp.keep_singleton |= rp.keep_singleton;
            if rp.group.is_some() {
                if lp.group.is_some() {
                    return Err(syntax(
                        "S0210",
                        pos,
                        "Each step can only have one grouping expression",
                    ));
                }
                lp.group = rp.group;
            }
            lp.steps.extend(rp.steps);
        }
        Kind::Num(_) | Kind::Bool(_) | Kind::Null => {
            return Err(syntax(
                "S0213",
                rhs.pos,
                "The literal value cannot be used as a step within a path expression",
            ))
        }
        _ => {
            let mut step = rhs;
            no_parent_of_variable(&lp.steps, matches!(step.kind, Kind::Parent), step.pos)?;
            if let Kind::Str(s) = &step.kind {
                step.kind = Kind::Name(s.clone());
            }
            if matches!(step.kind, Kind::Array(_)) {
                step.cons_array = true;
            }
            lp.steps.push(step);
        }
    }
    if lp
        .steps
        .first()
        .is_some_and(|s| matches!(s.kind, Kind::Array(_)))
    {
        if let Some(first) = lp.steps.first_mut() {
            first.cons_array = true;
        }
    }
    // jsonata-js reads every string literal step as a field name, the first one included
    // (`"Account".Order`), and refuses number, boolean and null literals as steps.
    if let Some(first) = lp.steps.first_mut() {
        if let Kind::Str(s) = &first.kind {
            first.kind = Kind::Name(s.clone());
        } else if matches!(first.kind, Kind::Num(_) | Kind::Bool(_) | Kind::Null) {
            return Err(syntax(
                "S0213",
                first.pos,
                "The literal value cannot be used as a step within a path expression",
            ));
        }
    }
    Ok(left)
}

/// Parses a whole expression.
pub(crate) fn parse(text: &str) -> Result<Expr, JsonataSyntaxError> {
    let mut lexer = Lexer::new(text);
    let first = lexer.next(true)?;
    let here = 0u8;
    let mut p = Parser {
        stack_base: &here as *const u8 as usize,
        lexer,
        cur: first,
        depth: 0,
        open: Vec::new(),
    };
    let raw = p.expression(0)?;
    if !matches!(p.cur.tok, Tok::End) {
        return Err(syntax(
            "S0201",
            p.cur.pos,
            format!("Syntax error: \"{}\"", tok_text(&p.cur.tok)),
        ));
    }
    let mut e = process(raw)?;
    mark_tuple_paths(&mut e);
    check_parent(&e, false)?;
    Ok(e)
}

/// `%` needs a step to be the parent of: at the top of an expression (`%.x`) there is none,
/// which JSONata reports as S0217 when parsing.
fn check_parent(e: &Expr, in_step: bool) -> Result<(), JsonataSyntaxError> {
    let inner = |x: &Expr| check_parent(x, true);
    for p in &e.predicates {
        inner(p)?;
    }
    if let Some(g) = &e.group {
        for (k, v) in g {
            inner(k)?;
            inner(v)?;
        }
    }
    for s in &e.stages {
        if let Stage::Filter(f) = s {
            inner(f)?;
        }
    }
    match &e.kind {
        Kind::Parent if !in_step => Err(syntax(
            "S0217",
            e.pos,
            "The object representing the 'parent' cannot be derived from this expression",
        )),
        Kind::Path(p) => {
            for (i, s) in p.steps.iter().enumerate() {
                check_parent(s, in_step || i > 0)?;
            }
            if let Some(g) = &p.group {
                for (k, v) in g {
                    inner(k)?;
                    inner(v)?;
                }
            }
            Ok(())
        }
        Kind::Neg(x) | Kind::Bind(_, x) => check_parent(x, in_step),
        Kind::Array(xs) | Kind::Block(xs) => xs.iter().try_for_each(|x| check_parent(x, in_step)),
        Kind::Object(pairs) => pairs.iter().try_for_each(|(k, v)| {
            check_parent(k, true)?;
            check_parent(v, true)
        }),
        Kind::Binary(_, l, r) | Kind::Apply(l, r) => {
            check_parent(l, in_step)?;
            check_parent(r, in_step)
        }
        Kind::Sort(terms) => terms.iter().try_for_each(|t| inner(&t.expr)),
        Kind::Call { func, args, .. } => {
            check_parent(func, in_step)?;
            args.iter().try_for_each(|a| check_parent(a, in_step))
        }
        Kind::Condition(c, t, o) => {
            check_parent(c, in_step)?;
            check_parent(t, in_step)?;
            o.as_deref().map_or(Ok(()), |o| check_parent(o, in_step))
        }
        // Function bodies run wherever they are called; JSONata does not reject them here.
        Kind::Lambda { .. } | Kind::Transform { .. } => Ok(()),
        _ => Ok(()),
    }
}

/// A path whose steps (or their predicates) use `%` must carry ancestors, so it runs as a tuple
/// stream; this marks every such path after processing.
fn mark_tuple_paths(e: &mut Expr) -> bool {
    // Returns whether `e` (outside any nested path) refers to `%`.
    let mut uses_parent = false;
    for p in &mut e.predicates {
        uses_parent |= mark_tuple_paths(p);
    }
    if let Some(g) = &mut e.group {
        for (k, v) in g {
            uses_parent |= mark_tuple_paths(k) | mark_tuple_paths(v);
        }
    }
    for s in &mut e.stages {
        if let Stage::Filter(f) = s {
            uses_parent |= mark_tuple_paths(f);
        }
    }
    uses_parent |= match &mut e.kind {
        Kind::Parent => true,
        Kind::Path(p) => {
            let mut any = false;
            for s in &mut p.steps {
                any |= mark_tuple_paths(s);
            }
            if let Some(g) = &mut p.group {
                for (k, v) in g {
                    let parent = mark_tuple_paths(k) | mark_tuple_paths(v);
                    p.group_parent |= parent;
                    any |= parent;
                }
            }
            if any {
                p.tuple = true;
            }
            any
        }
        Kind::Neg(x) | Kind::Bind(_, x) => mark_tuple_paths(x),
        Kind::Array(xs) | Kind::Block(xs) => {
            xs.iter_mut().fold(false, |a, x| mark_tuple_paths(x) | a)
        }
        Kind::Object(pairs) => pairs.iter_mut().fold(false, |a, (k, v)| {
            mark_tuple_paths(k) | mark_tuple_paths(v) | a
        }),
        Kind::Binary(_, l, r) | Kind::Apply(l, r) => mark_tuple_paths(l) | mark_tuple_paths(r),
        Kind::Sort(terms) => terms
            .iter_mut()
            .fold(false, |a, t| mark_tuple_paths(&mut t.expr) | a),
        Kind::Call { func, args, .. } => args
            .iter_mut()
            .fold(mark_tuple_paths(func), |a, x| mark_tuple_paths(x) | a),
        Kind::Condition(c, t, o) => {
            let mut any = mark_tuple_paths(c) | mark_tuple_paths(t);
            if let Some(o) = o {
                any |= mark_tuple_paths(o);
            }
            any
        }
        Kind::Lambda { body, .. } => {
            mark_tuple_paths(body);
            false
        }
        Kind::Transform {
            pattern,
            update,
            delete,
        } => {
            mark_tuple_paths(pattern);
            mark_tuple_paths(update);
            if let Some(d) = delete {
                mark_tuple_paths(d);
            }
            false
        }
        _ => false,
    };
    uses_parent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_operators() {
        let e = parse("$states.input.items[price > 5].name").unwrap();
        let Kind::Path(p) = &e.kind else {
            panic!("not a path")
        };
        assert_eq!(p.steps.len(), 4);
        assert_eq!(p.steps[2].stages.len(), 1);
        assert!(parse("1 + 2 * 3").is_ok());
        assert!(parse("($x := 1; $x)").is_ok());
        assert!(parse("function($a, $b){$a + $b}").is_ok());
        assert!(parse("function($a)<n:n>{$a}").is_ok());
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let e = parse("(1").unwrap_err();
        assert_eq!(e.code, "S0203");
        assert_eq!(e.position, 2);
        let e = parse("1 +").unwrap_err();
        assert_eq!(e.code, "S0207");
        let e = parse("'abc").unwrap_err();
        assert_eq!(e.code, "S0101");
        let e = parse("1 2").unwrap_err();
        assert_eq!((e.code.as_str(), e.position), ("S0201", 2));
        assert_eq!(parse("9e400").unwrap_err().code, "S0102");
        assert_eq!(parse("$x.1").unwrap_err().code, "S0213");
        assert_eq!(parse("1 := 2").unwrap_err().code, "S0212");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let n = 10_000;
        for text in [
            format!("{}1{}", "(".repeat(n), ")".repeat(n)),
            "[".repeat(n),
            format!("{}1", "-".repeat(n)),
            vec!["1"; n].join("+"),
            format!("$x{}", ".a".repeat(n)),
            format!("{}1{}", "{'a':".repeat(n), "}".repeat(n)),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.code == "U1001" || e.code.starts_with('S'), "{}", e.code);
        }
    }
}
