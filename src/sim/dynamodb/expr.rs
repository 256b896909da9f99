//! DynamoDB's expression language: a lexer and recursive-descent parser for condition,
//! filter and key-condition expressions, update expressions and projection expressions, and
//! their evaluation over items.
//!
//! Grammar (DynamoDB developer guide, "Condition and filter expressions, operators, and
//! functions" and "Update expressions"):
//!
//! ```text
//! condition  := disjunct ("OR" disjunct)*
//! disjunct   := conjunct ("AND" conjunct)*
//! conjunct   := "NOT" conjunct | "(" condition ")" | function | operand comparison
//! comparison := ("=" | "<>" | "<" | "<=" | ">" | ">=") operand
//!             | "BETWEEN" operand "AND" operand | "IN" "(" operand ("," operand)* ")"
//! function   := attribute_exists(path) | attribute_not_exists(path)
//!             | attribute_type(path, :t) | begins_with(path, operand) | contains(path, operand)
//! operand    := path | :value | size(path)
//! update     := (SET set ("," set)* | REMOVE path ("," path)*
//!               | ADD path :v ("," path :v)* | DELETE path :v ("," path :v)*)+
//! set        := path "=" value;  value := term (("+" | "-") term)?
//! term       := path | :value | if_not_exists(path, value) | list_append(value, value)
//! path       := name ("." name | "[" digits "]")*;  name := identifier | #name
//! ```
//!
//! Names (`#n`) and values (`:v`) are resolved while parsing, against the request's
//! `ExpressionAttributeNames` and `ExpressionAttributeValues`; the parser records which were
//! used so the caller can refuse unused ones, as DynamoDB does. DynamoDB's list of ~570
//! reserved words is not enforced: a bare reserved word as an attribute name is accepted.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::value::{self, DocPath, Item, Num, PathElem};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Name(String),
    Val(String),
    Int(usize),
    Sym(&'static str),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Name(s) | Tok::Val(s) => s.clone(),
            Tok::Int(n) => n.to_string(),
            Tok::Sym(s) => (*s).to_string(),
        }
    }
}

fn lex(text: &str, kind: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if let Some(s) = ["<>", "<=", ">="].into_iter().find(|s| *s == two) {
            out.push(Tok::Sym(s));
            i += 2;
            continue;
        }
        if let Some(s) = ["=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-"]
            .into_iter()
            .find(|s| s.starts_with(c))
        {
            out.push(Tok::Sym(s));
            i += 1;
            continue;
        }
        if c == '#' || c == ':' {
            i += 1;
            let w = word(&mut i);
            if w.is_empty() {
                return Err(syntax(kind, &c.to_string(), text));
            }
            out.push(if c == '#' {
                Tok::Name(format!("#{w}"))
            } else {
                Tok::Val(format!(":{w}"))
            });
            continue;
        }
        if c.is_ascii_digit() {
            let w = word(&mut i);
            match w.parse() {
                Ok(n) => out.push(Tok::Int(n)),
                Err(_) => out.push(Tok::Ident(w)),
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            out.push(Tok::Ident(word(&mut i)));
            continue;
        }
        return Err(format!(
            "Invalid {kind}: Invalid token: \"{c}\", near: \"{text}\""
        ));
    }
    Ok(out)
}

fn syntax(kind: &str, token: &str, text: &str) -> String {
    format!("Invalid {kind}: Syntax error; token: \"{token}\", near: \"{text}\"")
}

/// An operand of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Path(DocPath),
    Value(Value),
    Size(DocPath),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition (condition, filter or key-condition expression).
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Cmp(Operand, CmpOp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Exists(DocPath),
    NotExists(DocPath),
    Type(DocPath, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

/// The right-hand side of a SET action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    Path(DocPath),
    Value(Value),
    IfNotExists(DocPath, Box<SetValue>),
    ListAppend(Box<SetValue>, Box<SetValue>),
    Plus(Box<SetValue>, Box<SetValue>),
    Minus(Box<SetValue>, Box<SetValue>),
}

/// A parsed update expression.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(DocPath, SetValue)>,
    pub remove: Vec<DocPath>,
    pub add: Vec<(DocPath, Value)>,
    pub delete: Vec<(DocPath, Value)>,
}

impl Update {
    /// Every path the update writes.
    pub fn paths(&self) -> impl Iterator<Item = &DocPath> {
        self.set
            .iter()
            .map(|(p, _)| p)
            .chain(self.remove.iter())
            .chain(self.add.iter().map(|(p, _)| p))
            .chain(self.delete.iter().map(|(p, _)| p))
    }
}

/// The request's `ExpressionAttributeNames` and `ExpressionAttributeValues`, and which of
/// them the expressions used.
pub struct Bindings<'a> {
    names: Option<&'a Map<String, Value>>,
    values: Option<&'a Map<String, Value>>,
    pub used_names: BTreeSet<String>,
    pub used_values: BTreeSet<String>,
}

impl<'a> Bindings<'a> {
    pub fn new(
        names: Option<&'a Map<String, Value>>,
        values: Option<&'a Map<String, Value>>,
    ) -> Self {
        Bindings {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    /// DynamoDB refuses names and values that no expression used.
    pub fn check_unused(&self) -> Result<(), String> {
        let unused = |all: Option<&Map<String, Value>>, used: &BTreeSet<String>| {
            all.map(|m| {
                m.keys()
                    .filter(|k| !used.contains(*k))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        };
        let names = unused(self.names, &self.used_names);
        if !names.is_empty() {
            return Err(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            ));
        }
        let values = unused(self.values, &self.used_values);
        if !values.is_empty() {
            return Err(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            ));
        }
        Ok(())
    }
}

struct Parser<'t, 'b, 'a> {
    toks: Vec<Tok>,
    pos: usize,
    kind: &'static str,
    text: &'t str,
    b: &'b mut Bindings<'a>,
}

impl Parser<'_, '_, '_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn err_here(&self) -> String {
        match self.peek() {
            Some(t) => syntax(self.kind, &t.text(), self.text),
            None => syntax(self.kind, "<EOF>", self.text),
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.peek() == Some(&Tok::Sym(leak(s))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.err_here())
        }
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(k))
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        if self.keyword(k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self, tok: Tok) -> Result<String, String> {
        match tok {
            Tok::Ident(w) => Ok(w),
            Tok::Name(n) => {
                let v = self.b.names.and_then(|m| m.get(&n)).ok_or_else(|| {
                    format!(
                        "Invalid {}: An expression attribute name used in the document path is \
                         not defined; attribute name: {n}",
                        self.kind
                    )
                })?;
                let s = v.as_str().ok_or_else(|| {
                    format!("ExpressionAttributeNames contains invalid value for key {n}")
                })?;
                self.b.used_names.insert(n);
                Ok(s.to_string())
            }
            other => Err(syntax(self.kind, &other.text(), self.text)),
        }
    }

    fn path(&mut self) -> Result<DocPath, String> {
        let first = self.peek().cloned().ok_or_else(|| self.err_here())?;
        if !matches!(first, Tok::Ident(_) | Tok::Name(_)) {
            return Err(self.err_here());
        }
        self.pos += 1;
        let mut path = vec![PathElem::Name(self.name(first)?)];
        loop {
            if self.eat_sym(".") {
                let t = self.peek().cloned().ok_or_else(|| self.err_here())?;
                self.pos += 1;
                path.push(PathElem::Name(self.name(t)?));
            } else if self.eat_sym("[") {
                let Some(Tok::Int(n)) = self.peek().cloned() else {
                    return Err(self.err_here());
                };
                self.pos += 1;
                self.expect_sym("]")?;
                path.push(PathElem::Index(n));
            } else {
                return Ok(path);
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        let Some(Tok::Val(v)) = self.peek().cloned() else {
            return Err(self.err_here());
        };
        self.pos += 1;
        let found = self.b.values.and_then(|m| m.get(&v)).ok_or_else(|| {
            format!(
                "Invalid {}: An expression attribute value used in expression is not defined; \
                 attribute value: {v}",
                self.kind
            )
        })?;
        value::validate(found, &format!("ExpressionAttributeValues.{v}"))?;
        self.b.used_values.insert(v);
        Ok(found.clone())
    }

    fn is_call(&self, f: &str) -> bool {
        self.keyword(f) && self.toks.get(self.pos + 1) == Some(&Tok::Sym("("))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        if self.is_call("size") {
            self.pos += 2;
            let p = self.path()?;
            self.expect_sym(")")?;
            return Ok(Operand::Size(p));
        }
        match self.peek() {
            Some(Tok::Val(_)) => Ok(Operand::Value(self.value()?)),
            Some(Tok::Ident(_) | Tok::Name(_)) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.err_here()),
        }
    }

    fn condition(&mut self) -> Result<Cond, String> {
        let mut left = self.disjunct()?;
        while self.eat_keyword("OR") {
            left = Cond::Or(Box::new(left), Box::new(self.disjunct()?));
        }
        Ok(left)
    }

    fn disjunct(&mut self) -> Result<Cond, String> {
        let mut left = self.conjunct()?;
        while self.eat_keyword("AND") {
            left = Cond::And(Box::new(left), Box::new(self.conjunct()?));
        }
        Ok(left)
    }

    fn conjunct(&mut self) -> Result<Cond, String> {
        if self.eat_keyword("NOT") {
            return Ok(Cond::Not(Box::new(self.conjunct()?)));
        }
        if self.eat_sym("(") {
            let c = self.condition()?;
            self.expect_sym(")")?;
            return Ok(c);
        }
        for f in [
            "attribute_exists",
            "attribute_not_exists",
            "attribute_type",
            "begins_with",
            "contains",
        ] {
            if self.is_call(f) {
                self.pos += 2;
                return self.function(f);
            }
        }
        let left = self.operand()?;
        if self.eat_keyword("BETWEEN") {
            let lo = self.operand()?;
            if !self.eat_keyword("AND") {
                return Err(self.err_here());
            }
            let hi = self.operand()?;
            return Ok(Cond::Between(left, lo, hi));
        }
        if self.eat_keyword("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_sym(",") {
                list.push(self.operand()?);
            }
            self.expect_sym(")")?;
            return Ok(Cond::In(left, list));
        }
        let op = match self.peek() {
            Some(Tok::Sym("=")) => CmpOp::Eq,
            Some(Tok::Sym("<>")) => CmpOp::Ne,
            Some(Tok::Sym("<")) => CmpOp::Lt,
            Some(Tok::Sym("<=")) => CmpOp::Le,
            Some(Tok::Sym(">")) => CmpOp::Gt,
            Some(Tok::Sym(">=")) => CmpOp::Ge,
            _ => return Err(self.err_here()),
        };
        self.pos += 1;
        let right = self.operand()?;
        Ok(Cond::Cmp(left, op, right))
    }

    fn function(&mut self, f: &str) -> Result<Cond, String> {
        let c = match f {
            "attribute_exists" => Cond::Exists(self.path()?),
            "attribute_not_exists" => Cond::NotExists(self.path()?),
            "attribute_type" => {
                let p = self.path()?;
                self.expect_sym(",")?;
                Cond::Type(p, self.operand()?)
            }
            _ => {
                let a = self.operand()?;
                self.expect_sym(",")?;
                let b = self.operand()?;
                if f == "begins_with" {
                    Cond::BeginsWith(a, b)
                } else {
                    Cond::Contains(a, b)
                }
            }
        };
        self.expect_sym(")")?;
        Ok(c)
    }

    fn set_value(&mut self) -> Result<SetValue, String> {
        let left = self.set_term()?;
        if self.eat_sym("+") {
            return Ok(SetValue::Plus(Box::new(left), Box::new(self.set_term()?)));
        }
        if self.eat_sym("-") {
            return Ok(SetValue::Minus(Box::new(left), Box::new(self.set_term()?)));
        }
        Ok(left)
    }

    fn set_term(&mut self) -> Result<SetValue, String> {
        if self.is_call("if_not_exists") {
            self.pos += 2;
            let p = self.path()?;
            self.expect_sym(",")?;
            let v = self.set_value()?;
            self.expect_sym(")")?;
            return Ok(SetValue::IfNotExists(p, Box::new(v)));
        }
        if self.is_call("list_append") {
            self.pos += 2;
            let a = self.set_value()?;
            self.expect_sym(",")?;
            let b = self.set_value()?;
            self.expect_sym(")")?;
            return Ok(SetValue::ListAppend(Box::new(a), Box::new(b)));
        }
        match self.peek() {
            Some(Tok::Val(_)) => Ok(SetValue::Value(self.value()?)),
            Some(Tok::Ident(_) | Tok::Name(_)) => Ok(SetValue::Path(self.path()?)),
            _ => Err(self.err_here()),
        }
    }

    fn update(&mut self) -> Result<Update, String> {
        let mut u = Update::default();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while self.peek().is_some() {
            let Some(Tok::Ident(clause)) = self.peek().cloned() else {
                return Err(self.err_here());
            };
            let clause = clause.to_ascii_uppercase();
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&clause.as_str()) {
                return Err(self.err_here());
            }
            if !seen.insert(clause.clone()) {
                return Err(format!(
                    "Invalid UpdateExpression: The \"{clause}\" section can only be used once in \
                     an update expression;"
                ));
            }
            self.pos += 1;
            loop {
                match clause.as_str() {
                    "SET" => {
                        let p = self.path()?;
                        self.expect_sym("=")?;
                        u.set.push((p, self.set_value()?));
                    }
                    "REMOVE" => u.remove.push(self.path()?),
                    _ => {
                        let p = self.path()?;
                        let v = self.value()?;
                        if clause == "ADD" {
                            u.add.push((p, v));
                        } else {
                            u.delete.push((p, v));
                        }
                    }
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        if seen.is_empty() {
            return Err(self.err_here());
        }
        Ok(u)
    }
}

/// Symbols are `'static`; map a text back to its static form for comparisons.
fn leak(s: &str) -> &'static str {
    const ALL: [&str; 14] = [
        "<>", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-",
    ];
    ALL.into_iter().find(|x| *x == s).unwrap_or("")
}

fn parser<'t, 'b, 'a>(
    text: &'t str,
    kind: &'static str,
    b: &'b mut Bindings<'a>,
) -> Result<Parser<'t, 'b, 'a>, String> {
    if text.trim().is_empty() {
        return Err(format!("Invalid {kind}: The expression can not be empty;"));
    }
    Ok(Parser {
        toks: lex(text, kind)?,
        pos: 0,
        kind,
        text,
        b,
    })
}

/// Parses a condition, filter or key-condition expression (`kind` names it in messages:
/// `ConditionExpression`, `FilterExpression`, `KeyConditionExpression`).
pub fn parse_condition(text: &str, kind: &'static str, b: &mut Bindings) -> Result<Cond, String> {
    let mut p = parser(text, kind, b)?;
    let c = p.condition()?;
    if p.peek().is_some() {
        return Err(p.err_here());
    }
    Ok(c)
}

/// Parses an update expression.
pub fn parse_update(text: &str, b: &mut Bindings) -> Result<Update, String> {
    let mut p = parser(text, "UpdateExpression", b)?;
    p.update()
}

/// Parses a projection expression: paths separated by commas.
pub fn parse_projection(text: &str, b: &mut Bindings) -> Result<Vec<DocPath>, String> {
    let mut p = parser(text, "ProjectionExpression", b)?;
    let mut paths = vec![p.path()?];
    while p.eat_sym(",") {
        paths.push(p.path()?);
    }
    if p.peek().is_some() {
        return Err(p.err_here());
    }
    Ok(paths)
}

fn operand_value(item: Option<&Item>, o: &Operand) -> Option<Value> {
    match o {
        Operand::Value(v) => Some(v.clone()),
        Operand::Path(p) => item.and_then(|i| value::get_path(i, p)).cloned(),
        Operand::Size(p) => {
            let v = item.and_then(|i| value::get_path(i, p))?;
            value::size(v).map(|n| value::number(Num::Int(n as i128)))
        }
    }
}

fn compare_op(a: Option<&Value>, op: CmpOp, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => match op {
            CmpOp::Eq => value::equals(a, b),
            CmpOp::Ne => !value::equals(a, b),
            _ => match value::compare(a, b) {
                Some(o) => match op {
                    CmpOp::Lt => o.is_lt(),
                    CmpOp::Le => o.is_le(),
                    CmpOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                },
                None => false,
            },
        },
        // A missing attribute differs from every value.
        _ => op == CmpOp::Ne,
    }
}

/// Evaluates a condition on an item (`None`: the item does not exist).
pub fn eval(c: &Cond, item: Option<&Item>) -> bool {
    let val = |o: &Operand| operand_value(item, o);
    match c {
        Cond::Cmp(a, op, b) => compare_op(val(a).as_ref(), *op, val(b).as_ref()),
        Cond::Between(a, lo, hi) => {
            let (a, lo, hi) = (val(a), val(lo), val(hi));
            compare_op(a.as_ref(), CmpOp::Ge, lo.as_ref())
                && compare_op(a.as_ref(), CmpOp::Le, hi.as_ref())
        }
        Cond::In(a, list) => {
            let a = val(a);
            list.iter()
                .any(|o| compare_op(a.as_ref(), CmpOp::Eq, val(o).as_ref()))
        }
        Cond::And(a, b) => eval(a, item) && eval(b, item),
        Cond::Or(a, b) => eval(a, item) || eval(b, item),
        Cond::Not(a) => !eval(a, item),
        Cond::Exists(p) => item.and_then(|i| value::get_path(i, p)).is_some(),
        Cond::NotExists(p) => item.and_then(|i| value::get_path(i, p)).is_none(),
        Cond::Type(p, t) => {
            let found = item.and_then(|i| value::get_path(i, p));
            let want = val(t);
            match (found, want.as_ref().and_then(|w| w.get("S"))) {
                (Some(f), Some(Value::String(t))) => value::type_of(f) == Some(t.as_str()),
                _ => false,
            }
        }
        Cond::BeginsWith(a, b) => match (val(a), val(b)) {
            (Some(a), Some(b)) => value::begins_with(&a, &b),
            _ => false,
        },
        Cond::Contains(a, b) => match (val(a), val(b)) {
            (Some(a), Some(b)) => value::contains(&a, &b),
            _ => false,
        },
    }
}

const MISSING: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const WRONG_TYPE: &str = "An operand in the update expression has an incorrect data type";

fn set_value_of(v: &SetValue, old: &Item) -> Result<Value, String> {
    match v {
        SetValue::Value(v) => Ok(v.clone()),
        SetValue::Path(p) => value::get_path(old, p)
            .cloned()
            .ok_or_else(|| MISSING.into()),
        SetValue::IfNotExists(p, d) => match value::get_path(old, p) {
            Some(v) => Ok(v.clone()),
            None => set_value_of(d, old),
        },
        SetValue::ListAppend(a, b) => {
            let (a, b) = (set_value_of(a, old)?, set_value_of(b, old)?);
            match (
                a.get("L").and_then(Value::as_array),
                b.get("L").and_then(Value::as_array),
            ) {
                (Some(x), Some(y)) => {
                    let mut l = x.clone();
                    l.extend(y.iter().cloned());
                    let mut m = Map::new();
                    m.insert("L".into(), Value::Array(l));
                    Ok(Value::Object(m))
                }
                _ => Err(WRONG_TYPE.into()),
            }
        }
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            let (a, b) = (set_value_of(a, old)?, set_value_of(b, old)?);
            let (Some(x), Some(y)) = (value::as_num(&a), value::as_num(&b)) else {
                return Err(WRONG_TYPE.into());
            };
            let negate = matches!(v, SetValue::Minus(..));
            x.add(y, negate)
                .map(value::number)
                .ok_or_else(|| "Number overflow. Attempting to store a number with magnitude larger than supported range".into())
        }
    }
}

fn set_union(t: &str, cur: &Value, add: &Value) -> Result<Value, String> {
    let (Some(x), Some(y)) = (cur[t].as_array(), add[t].as_array()) else {
        return Err(WRONG_TYPE.into());
    };
    let mut l = x.clone();
    for e in y {
        let mut probe = Map::new();
        probe.insert(t.into(), Value::Array(vec![e.clone()]));
        if !l.iter().any(|f| {
            let mut m = Map::new();
            m.insert(t.into(), Value::Array(vec![f.clone()]));
            value::equals(&Value::Object(m), &Value::Object(probe.clone()))
        }) {
            l.push(e.clone());
        }
    }
    let mut m = Map::new();
    m.insert(t.into(), Value::Array(l));
    Ok(Value::Object(m))
}

fn set_difference(t: &str, cur: &Value, del: &Value) -> Result<Option<Value>, String> {
    let (Some(x), Some(y)) = (cur[t].as_array(), del[t].as_array()) else {
        return Err(WRONG_TYPE.into());
    };
    let single = |e: &Value| {
        let mut m = Map::new();
        m.insert(t.into(), Value::Array(vec![e.clone()]));
        Value::Object(m)
    };
    let l: Vec<Value> = x
        .iter()
        .filter(|e| !y.iter().any(|d| value::equals(&single(e), &single(d))))
        .cloned()
        .collect();
    if l.is_empty() {
        return Ok(None);
    }
    let mut m = Map::new();
    m.insert(t.into(), Value::Array(l));
    Ok(Some(Value::Object(m)))
}

/// Applies an update to `old`, giving the new item. Every SET value is computed from the item
/// as it was before the update, as DynamoDB does.
pub fn apply(u: &Update, old: &Item) -> Result<Item, String> {
    let values: Vec<Value> = u
        .set
        .iter()
        .map(|(_, v)| set_value_of(v, old))
        .collect::<Result<_, _>>()?;
    let mut item = old.clone();
    for ((p, _), v) in u.set.iter().zip(values) {
        value::set_path(&mut item, p, v)?;
    }
    // Remove list elements from the highest index down so earlier removals do not shift later ones.
    let mut removes: Vec<&DocPath> = u.remove.iter().collect();
    removes.sort_by_key(|p| std::cmp::Reverse(p.last().map(index_of)));
    for p in removes {
        value::remove_path(&mut item, p);
    }
    for (p, v) in &u.add {
        let t = value::type_of(v).unwrap_or("");
        let next = match (value::get_path(&item, p), t) {
            (None, "N" | "SS" | "NS" | "BS") => v.clone(),
            (Some(cur), "N") => {
                let (Some(x), Some(y)) = (value::as_num(cur), value::as_num(v)) else {
                    return Err(WRONG_TYPE.into());
                };
                x.add(y, false).map(value::number).ok_or(WRONG_TYPE)?
            }
            (Some(cur), "SS" | "NS" | "BS") if value::type_of(cur) == Some(t) => {
                set_union(t, cur, v)?
            }
            _ => {
                return Err(format!(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; \
                     operator: ADD, operand type: {}",
                    value_type_name(t)
                ))
            }
        };
        value::set_path(&mut item, p, next)?;
    }
    for (p, v) in &u.delete {
        let t = value::type_of(v).unwrap_or("");
        if !matches!(t, "SS" | "NS" | "BS") {
            return Err(format!(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; \
                 operator: DELETE, operand type: {}",
                value_type_name(t)
            ));
        }
        match value::get_path(&item, p) {
            None => {}
            Some(cur) if value::type_of(cur) == Some(t) => match set_difference(t, cur, v)? {
                Some(next) => value::set_path(&mut item, p, next)?,
                None => value::remove_path(&mut item, p),
            },
            Some(_) => return Err(WRONG_TYPE.into()),
        }
    }
    Ok(item)
}

fn index_of(e: &PathElem) -> usize {
    match e {
        PathElem::Index(i) => *i,
        PathElem::Name(_) => 0,
    }
}

fn value_type_name(t: &str) -> &'static str {
    match t {
        "S" => "STRING",
        "N" => "NUMBER",
        "B" => "BINARY",
        "BOOL" => "BOOLEAN",
        "NULL" => "NULL",
        "L" => "LIST",
        "M" => "MAP",
        "SS" => "STRING SET",
        "NS" => "NUMBER SET",
        "BS" => "BINARY SET",
        _ => "UNKNOWN",
    }
}

/// Keeps only the projected paths of an item (nested paths keep their enclosing maps).
pub fn project(item: &Item, paths: &[DocPath]) -> Item {
    let mut out = Item::new();
    for p in paths {
        let Some(v) = value::get_path(item, p) else {
            continue;
        };
        // Rebuild the enclosing maps; list positions are kept as a single-element list.
        let mut built = v.clone();
        for (i, e) in p.iter().enumerate().skip(1).rev() {
            let _ = i;
            let mut m = Map::new();
            match e {
                PathElem::Name(n) => {
                    let mut inner = Map::new();
                    inner.insert(n.clone(), built);
                    m.insert("M".into(), Value::Object(inner));
                }
                PathElem::Index(_) => {
                    m.insert("L".into(), Value::Array(vec![built]));
                }
            }
            built = Value::Object(m);
        }
        if let Some(PathElem::Name(top)) = p.first() {
            match out.get_mut(top) {
                Some(existing) => merge(existing, built),
                None => {
                    out.insert(top.clone(), built);
                }
            }
        }
    }
    out
}

fn merge(into: &mut Value, from: Value) {
    match (
        into.get_mut("M").and_then(Value::as_object_mut),
        from.get("M"),
    ) {
        (Some(a), Some(Value::Object(b))) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v.clone()),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *into = from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        serde_json::from_value(v).unwrap()
    }

    fn cond(text: &str, names: Value, values: Value) -> Result<Cond, String> {
        let (n, v) = (names.as_object().cloned(), values.as_object().cloned());
        let mut b = Bindings::new(n.as_ref(), v.as_ref());
        let c = parse_condition(text, "ConditionExpression", &mut b)?;
        b.check_unused()?;
        Ok(c)
    }

    #[test]
    fn conditions() {
        let it = item(
            json!({"pk": {"S": "a"}, "n": {"N": "5"}, "tags": {"SS": ["x", "y"]},
                             "s": {"S": "hello"}, "m": {"M": {"k": {"L": [{"N": "1"}]}}}}),
        );
        let vals = json!({":a": {"N": "3"}, ":b": {"N": "7"}, ":h": {"S": "he"}, ":x": {"S": "x"}});
        let yes = [
            "n BETWEEN :a AND :b AND begins_with(s, :h)",
            "NOT (n < :a) AND contains(tags, :x)",
            "attribute_exists(m.k[0]) AND attribute_not_exists(zz) AND size(s) > :a",
            "n IN (:a, :b) OR #n >= :a AND n <= :b",
            "zz <> :a AND attribute_type(s, :t)",
        ];
        for text in yes {
            let mut vals = vals.clone();
            vals[":t"] = json!({"S": "S"});
            let mut b = Bindings::new(None, vals.as_object());
            let names = json!({"#n": "n"});
            if text.contains("#n") {
                b = Bindings::new(names.as_object(), vals.as_object());
            }
            let c = parse_condition(text, "ConditionExpression", &mut b).unwrap();
            assert!(eval(&c, Some(&it)), "{text}");
        }
        let c = cond("n > :b", json!({}), json!({":b": {"N": "7"}})).unwrap();
        assert!(!eval(&c, Some(&it)));
        assert!(!eval(&c, None));
        // AND binds tighter than OR.
        let c = parse_condition(
            "a = :x OR a = :y AND b = :x",
            "ConditionExpression",
            &mut Bindings::new(
                None,
                json!({":x": {"S": "1"}, ":y": {"S": "2"}}).as_object(),
            ),
        )
        .unwrap();
        assert!(matches!(c, Cond::Or(..)));
    }

    #[test]
    fn condition_errors() {
        let e = cond("n = :missing", json!({}), json!({})).unwrap_err();
        assert!(e.contains("attribute value: :missing"), "{e}");
        let e = cond(
            "n = :a",
            json!({}),
            json!({":a": {"N": "1"}, ":b": {"N": "2"}}),
        )
        .unwrap_err();
        assert!(e.contains("unused in expressions: keys: {:b}"), "{e}");
        let e = cond("n = = :a", json!({}), json!({":a": {"N": "1"}})).unwrap_err();
        assert!(e.contains("Syntax error; token: \"=\""), "{e}");
        let e = cond("#x = :a", json!({}), json!({":a": {"N": "1"}})).unwrap_err();
        assert!(e.contains("attribute name: #x"), "{e}");
    }

    #[test]
    fn updates() {
        let old = item(
            json!({"pk": {"S": "a"}, "n": {"N": "5"}, "l": {"L": [{"N": "1"}]},
                              "tags": {"SS": ["x", "y"]}, "gone": {"S": "z"}}),
        );
        let vals = json!({":one": {"N": "1"}, ":l": {"L": [{"N": "2"}]}, ":t": {"SS": ["z"]},
                          ":d": {"SS": ["x"]}, ":zero": {"N": "0"}});
        let mut b = Bindings::new(None, vals.as_object());
        let u = parse_update(
            "SET n = n + :one, l = list_append(l, :l), c = if_not_exists(c, :zero) - :one \
             REMOVE gone ADD tags :t, cnt :one DELETE tags :d",
            &mut b,
        )
        .unwrap();
        b.check_unused().unwrap();
        let new = apply(&u, &old).unwrap();
        assert_eq!(new["n"], json!({"N": "6"}));
        assert_eq!(new["l"], json!({"L": [{"N": "1"}, {"N": "2"}]}));
        assert_eq!(new["c"], json!({"N": "-1"}));
        assert_eq!(new["cnt"], json!({"N": "1"}));
        assert_eq!(new["tags"], json!({"SS": ["y", "z"]}));
        assert!(new.get("gone").is_none());
        // A SET from a missing attribute fails.
        let mut b = Bindings::new(None, vals.as_object());
        let u = parse_update("SET n = nope + :one", &mut b).unwrap();
        assert!(apply(&u, &old).unwrap_err().contains("does not exist"));
        let mut b = Bindings::new(None, vals.as_object());
        let e = parse_update("SET n = :one SET m = :one", &mut b).unwrap_err();
        assert!(e.contains("can only be used once"), "{e}");
    }

    #[test]
    fn projections() {
        let it = item(json!({"a": {"S": "1"}, "m": {"M": {"x": {"N": "1"}, "y": {"N": "2"}}}}));
        let mut b = Bindings::new(None, None);
        let p = parse_projection("a, m.y", &mut b).unwrap();
        let out = project(&it, &p);
        assert_eq!(
            Value::Object(out),
            json!({"a": {"S": "1"}, "m": {"M": {"y": {"N": "2"}}}})
        );
    }
}
