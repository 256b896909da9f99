//! JSONata function signatures (`<s-nn?:s>`) and their parsing. Checking arguments against them,
//! with jsonata-js 2.0.6's error codes `T0410` (an argument does not match, or there are too many
//! or too few), `T0411` (the context value, standing in for a missing first argument, has the
//! wrong type) and `T0412` (an array argument holds items of the wrong type), is
//! `signature_check.rs`: this file depends on no value type, so the parser can hold signatures.
//!
//! A signature is a sequence of parameters, each a set of type symbols (`s` string, `n` number,
//! `b` boolean, `l` null, `a` array, `o` object, `f` function, `j` any JSON, `x` anything, `(sn)`
//! a choice) with an optional modifier: `?` optional, `+` one or more, `-` taken from the context
//! when missing. jsonata-js turns it into a regular expression over one symbol per argument
//! (`m` for an undefined argument); here a small backtracking matcher does the same greedy
//! matching, without building a regex per call. The return type after `:` is not checked (as in
//! jsonata-js).

use super::JsonataError;

/// Most parameters a signature may have (lambdas with more are checked as a mismatch).
pub(super) const MAX_PARAMS: usize = 16;

/// How many arguments one parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Count {
    One,
    Optional,
    OneOrMore,
    /// `-`: optional, and the context value stands in when it is missing.
    Context,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Param {
    /// Symbols this parameter accepts (including `m`, undefined, where jsonata-js allows it).
    pub(super) accepts: String,
    pub(super) count: Count,
    /// The parameter's type symbol (`a` for arrays), or `(` for a choice.
    pub(super) kind: char,
    /// `a<n>`: the item type of an array parameter.
    pub(super) subtype: Option<char>,
}

/// A parsed signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub(super) params: Vec<Param>,
}

fn bad_signature(text: &str) -> JsonataError {
    JsonataError::new(
        "S0401",
        format!("Type parameters can only be applied to functions and arrays: {text}"),
    )
}

/// Index of the bracket closing the one at `open` (`<`/`>` or `(`/`)`), if any.
fn closing(chars: &[char], open: usize, o: char, c: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, ch) in chars.iter().enumerate().skip(open) {
        if *ch == o {
            depth += 1;
        } else if *ch == c {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

impl Signature {
    /// Parses `<...>` (the angle brackets included).
    pub(crate) fn parse(text: &str) -> Result<Signature, JsonataError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.first() != Some(&'<') || chars.last() != Some(&'>') {
            return Err(JsonataError::new(
                "S0402",
                format!("Malformed function signature: {text}"),
            ));
        }
        let mut params: Vec<Param> = Vec::new();
        let mut i = 1;
        let end = chars.len() - 1;
        while i < end {
            let c = chars[i];
            match c {
                's' | 'n' | 'b' | 'l' | 'o' => params.push(param(&format!("{c}m"), c)),
                'a' | 'x' => params.push(param("asnblfom", c)),
                'j' => params.push(param("asnblom", c)),
                'f' => params.push(param("f", c)),
                '(' => {
                    let close = closing(&chars, i, '(', ')').ok_or_else(|| bad_signature(text))?;
                    let choice: String = chars[i + 1..close].iter().collect();
                    if choice.contains('<') {
                        return Err(bad_signature(text));
                    }
                    params.push(param(&format!("{choice}m"), '('));
                    i = close;
                }
                '-' | '?' | '+' => {
                    let p = params.last_mut().ok_or_else(|| bad_signature(text))?;
                    p.count = match c {
                        '-' => Count::Context,
                        '?' => Count::Optional,
                        _ => Count::OneOrMore,
                    };
                }
                '<' => {
                    let close = closing(&chars, i, '<', '>').ok_or_else(|| bad_signature(text))?;
                    let p = params.last_mut().ok_or_else(|| bad_signature(text))?;
                    if p.kind != 'a' && p.kind != 'f' {
                        return Err(bad_signature(text));
                    }
                    if p.kind == 'a' {
                        p.subtype = chars.get(i + 1).copied();
                    }
                    i = close;
                }
                ':' => break,
                // jsonata-js's parser skips a symbol it does not know (`<z>` takes no
                // arguments, so a call with one is T0410).
                _ => {}
            }
            i += 1;
        }
        Ok(Signature { params })
    }
}

fn param(accepts: &str, kind: char) -> Param {
    Param {
        accepts: accepts.to_string(),
        count: Count::One,
        kind,
        subtype: None,
    }
}

/// The jsonata-js signature of the built-in `name`; `None` for the Step Functions additions,
/// whose implementations check their own arguments.
pub(crate) fn builtin_signature(name: &str) -> Option<&'static str> {
    Some(match name {
        "sum" | "max" | "min" | "average" => "<a<n>:n>",
        "count" => "<a:n>",
        "string" => "<x-b?:s>",
        "substring" => "<s-nn?:s>",
        "substringBefore" | "substringAfter" => "<s-s:s>",
        "lowercase" | "uppercase" | "trim" | "base64encode" | "base64decode"
        | "encodeUrlComponent" | "encodeUrl" | "decodeUrlComponent" | "decodeUrl" => "<s-:s>",
        "length" => "<s-:n>",
        "pad" => "<s-ns?:s>",
        "match" => "<s-f<s:o>n?:a<o>>",
        "contains" => "<s-(sf):b>",
        "replace" => "<s-(sf)(sf)n?:s>",
        "split" => "<s-(sf)n?:a<s>>",
        "join" => "<a<s>s?:s>",
        "formatNumber" => "<n-so?:s>",
        "formatBase" => "<n-n?:s>",
        "formatInteger" => "<n-s:s>",
        "parseInteger" => "<s-s:n>",
        "number" => "<(nsb)-:n>",
        "floor" | "ceil" | "abs" | "sqrt" => "<n-:n>",
        "round" => "<n-n?:n>",
        "power" => "<n-n:n>",
        "boolean" | "not" => "<x-:b>",
        "map" | "filter" => "<af>",
        "zip" => "<a+>",
        "single" => "<af?>",
        "reduce" => "<afj?:j>",
        "sift" => "<o-f?:o>",
        "keys" => "<x-:a<s>>",
        "lookup" => "<x-s:x>",
        "append" => "<xx:a>",
        "exists" => "<x:b>",
        "spread" => "<x-:a<o>>",
        "merge" => "<a<o>:o>",
        "reverse" | "shuffle" => "<a:a>",
        "each" => "<o-f:a>",
        "error" => "<s?:x>",
        "assert" => "<bs?:x>",
        "type" => "<x:s>",
        "sort" => "<af?:a>",
        "distinct" => "<x:x>",
        "toMillis" => "<s-s?:n>",
        "fromMillis" => "<n-s?s?:s>",
        "now" => "<s?s?:s>",
        "millis" => "<:n>",
        "clone" => "<(oa)-:o>",
        _ => return None,
    })
}
