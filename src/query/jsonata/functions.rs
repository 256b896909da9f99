//! JSONata 2.0.6's built-in function library (minus `$eval`, which Step Functions does not
//! offer; `$clone` is included), plus the Step Functions additions: `$partition`, `$range`, `$hash`, `$random(seed)`,
//! `$uuid` and `$parse`. Impure functions read the evaluation environment, never the host:
//! `$now`/`$millis` use the virtual clock and `$random`/`$uuid`/`$shuffle` the seeded RNG.
//!
//! Argument checking follows JSONata's signatures: a wrong type is `T0410`, a wrong element type
//! in an array argument `T0412`, and functions whose first parameter may come from the context
//! (`$uppercase()` inside a path) take it from there when it is left out.
//!
//! The library is one table, [`BUILTINS`]: a name, its mandatory parameters, the context rule
//! and the Rust function, sorted by name. A `$name` is looked up once (binary search) when the
//! evaluator resolves the variable; the function value then carries the entry's index, so a
//! call costs no further lookup.

use base64::Engine;
use indexmap::IndexMap;
use md5::Digest;

use super::format;
use super::jsregex::{Found, JsRegex};
use super::signature::{builtin_signature, Signature};
use super::value::{
    deep_equal, err, from_owned, round_half_even, string_num, stringify, to_text, truthy,
    BuiltinId, Func, Host, Val, R,
};
use super::JsonataError;
use super::{datetime, intpic};
use crate::rng::SimRng;

/// The Rust side of one built-in. It gets the evaluator, the function's own name (for error
/// messages, and for the few bodies that serve two names) and the arguments, after the context
/// rule has been applied.
type Impl = for<'a> fn(&mut dyn Host<'a>, &'static str, Args<'a>) -> R<'a>;

/// One JSONata built-in function.
struct Builtin {
    name: &'static str,
    /// How many parameters are mandatory.
    mandatory: usize,
    /// Whether a missing first argument is taken from the context (`$uppercase()` in a path).
    context: bool,
    run: Impl,
}

const fn entry(name: &'static str, mandatory: usize, context: bool, run: Impl) -> Builtin {
    Builtin {
        name,
        mandatory,
        context,
        run,
    }
}

/// Every built-in, sorted by name (byte order) so that a name is found by binary search; a
/// test checks the order.
static BUILTINS: &[Builtin] = &[
    entry("abs", 1, true, abs),
    entry("append", 2, false, append),
    entry("assert", 2, false, assert),
    entry("average", 1, false, extreme),
    entry("base64decode", 1, true, base64decode),
    entry("base64encode", 1, true, base64encode),
    entry("boolean", 1, true, boolean),
    entry("ceil", 1, true, ceil),
    entry("clone", 1, true, clone),
    entry("contains", 2, true, contains),
    entry("count", 1, false, count),
    entry("decodeUrl", 1, true, decode_url),
    entry("decodeUrlComponent", 1, true, decode_url),
    entry("distinct", 1, false, distinct),
    entry("each", 2, true, sift_each),
    entry("encodeUrl", 1, true, encode_url),
    entry("encodeUrlComponent", 1, true, encode_url),
    entry("error", 0, false, error),
    entry("exists", 1, false, exists),
    entry("filter", 2, false, map_filter),
    entry("floor", 1, true, floor),
    entry("formatBase", 1, true, format_base),
    entry("formatInteger", 2, true, format_integer),
    entry("formatNumber", 2, true, format_number),
    entry("fromMillis", 1, true, from_millis),
    entry("hash", 2, false, hash),
    entry("join", 1, false, join),
    entry("keys", 1, true, keys),
    entry("length", 1, true, length),
    entry("lookup", 2, true, lookup),
    entry("lowercase", 1, true, lowercase),
    entry("map", 2, false, map_filter),
    entry("match", 2, true, match_regex),
    entry("max", 1, false, extreme),
    entry("merge", 1, false, merge),
    entry("millis", 0, false, millis),
    entry("min", 1, false, extreme),
    entry("not", 1, true, not),
    entry("now", 0, false, now),
    entry("number", 1, true, number),
    entry("pad", 2, true, pad),
    entry("parse", 1, false, parse),
    entry("parseInteger", 2, true, parse_integer),
    entry("partition", 2, false, partition),
    entry("power", 2, true, power),
    entry("random", 0, false, random),
    entry("range", 3, false, range),
    entry("reduce", 2, false, reduce),
    entry("replace", 3, true, replace),
    entry("reverse", 1, false, reverse),
    entry("round", 1, true, round),
    entry("shuffle", 1, false, shuffle),
    entry("sift", 2, true, sift_each),
    entry("single", 1, false, single),
    entry("sort", 1, false, sort),
    entry("split", 2, true, split),
    entry("spread", 1, true, spread),
    entry("sqrt", 1, true, sqrt),
    entry("string", 1, true, string),
    entry("substring", 2, true, substring),
    entry("substringAfter", 2, true, substring_around),
    entry("substringBefore", 2, true, substring_around),
    entry("sum", 1, false, sum),
    entry("toMillis", 1, true, to_millis),
    entry("trim", 1, true, trim),
    entry("type", 1, false, type_of),
    entry("uppercase", 1, true, uppercase),
    entry("uuid", 0, false, uuid),
    entry("zip", 1, false, zip),
];

/// The built-in called `name`, if there is one.
pub(crate) fn builtin(name: &str) -> Option<BuiltinId> {
    BUILTINS
        .binary_search_by(|b| b.name.cmp(name))
        .ok()
        .map(BuiltinId)
}

fn entry_of(id: BuiltinId) -> &'static Builtin {
    // Ids are only made by `builtin`, so the index is always in range.
    &BUILTINS[id.0]
}

impl Func<'_> {
    /// How many arguments higher-order functions pass to this function.
    pub(crate) fn arity(&self) -> usize {
        match self {
            Func::Lambda { params, .. } => params.len(),
            Func::Builtin(id) => entry_of(*id).mandatory.max(1),
            Func::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Func::Regex(_) | Func::Compose(..) | Func::Transform { .. } => 1,
        }
    }
}

type Args<'a> = Vec<Option<Val<'a>>>;

fn sig(name: &str, i: usize) -> JsonataError {
    err(
        "T0410",
        format!(
            "Argument {} of function \"{name}\" does not match function signature",
            i + 1
        ),
    )
}

fn arg<'v, 'a>(args: &'v Args<'a>, i: usize) -> Option<&'v Val<'a>> {
    args.get(i).and_then(|a| a.as_ref())
}

fn opt_str<'v>(name: &str, args: &'v Args, i: usize) -> Result<Option<&'v str>, JsonataError> {
    match arg(args, i) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| sig(name, i)),
    }
}

fn opt_num(name: &str, args: &Args, i: usize) -> Result<Option<f64>, JsonataError> {
    match arg(args, i) {
        None => Ok(None),
        Some(Val::Num(n)) => Ok(Some(*n)),
        Some(_) => Err(sig(name, i)),
    }
}

fn opt_func<'a>(name: &str, args: &Args<'a>, i: usize) -> Result<Option<Val<'a>>, JsonataError> {
    match arg(args, i) {
        None => Ok(None),
        Some(f @ Val::Func(_)) => Ok(Some(f.clone())),
        Some(_) => Err(sig(name, i)),
    }
}

fn need_func<'a>(name: &str, args: &Args<'a>, i: usize) -> Result<Val<'a>, JsonataError> {
    opt_func(name, args, i)?.ok_or_else(|| sig(name, i))
}

/// An argument as an array (a single value becomes a one-item array).
fn items<'a>(v: &Val<'a>) -> Vec<Val<'a>> {
    if v.is_array() {
        v.arr_items()
    } else {
        vec![v.clone()]
    }
}

fn numbers(name: &str, v: &Val, i: usize) -> Result<Vec<f64>, JsonataError> {
    items(v)
        .iter()
        .map(|x| {
            x.as_num().ok_or_else(|| {
                err(
                    "T0412",
                    format!(
                        "Argument {} of function \"{name}\" must be an array of \"numbers\"",
                        i + 1
                    ),
                )
            })
        })
        .collect()
}

fn num(n: f64) -> R<'static> {
    Ok(Some(Val::Num(n)))
}

fn ok<'a>(v: Val<'a>) -> R<'a> {
    Ok(Some(v))
}

/// Calls the built-in `id`.
pub(crate) fn call<'a>(
    ev: &mut dyn Host<'a>,
    id: BuiltinId,
    mut args: Args<'a>,
    ctx: Option<&Val<'a>>,
) -> R<'a> {
    let b = entry_of(id);
    if let Some(sig) = signatures().get(id.0).and_then(Option::as_ref) {
        args = sig.validate(b.name, args, ctx, false)?;
    } else if b.context && args.len() < b.mandatory {
        args.insert(0, ctx.cloned());
    }
    (b.run)(ev, b.name, args)
}

/// The parsed jsonata-js signature of every built-in (by table index), parsed once.
fn signatures() -> &'static [Option<Signature>] {
    static SIGS: std::sync::OnceLock<Vec<Option<Signature>>> = std::sync::OnceLock::new();
    SIGS.get_or_init(|| {
        BUILTINS
            .iter()
            .map(|b| builtin_signature(b.name).and_then(|t| Signature::parse(t).ok()))
            .collect()
    })
}

// -------------------------------------------------------------------- strings

fn string<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let pretty = match arg(&args, 1) {
        None => false,
        Some(Val::Bool(b)) => *b,
        Some(_) => return Err(sig(name, 1)),
    };
    ok(Val::string(to_text(v, pretty)?))
}

fn length<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match opt_str(name, &args, 0)? {
        None => Ok(None),
        Some(s) => num(s.chars().count() as f64),
    }
}

fn substring<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let start = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    let length = opt_num(name, &args, 2)?;
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as f64;
    let mut start = start.trunc();
    if start < 0.0 {
        start = (len + start).max(0.0);
    }
    let start = start.min(len) as usize;
    let end = match length {
        None => chars.len(),
        Some(l) if l <= 0.0 => return ok(Val::str("")),
        Some(l) => ((start as f64) + l.trunc()).min(len).max(start as f64) as usize,
    };
    ok(Val::string(chars[start..end].iter().collect()))
}

/// `$substringBefore` and `$substringAfter`.
fn substring_around<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let chars = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    match s.find(chars) {
        None => ok(Val::str(s)),
        Some(i) if name == "substringBefore" => ok(Val::str(&s[..i])),
        Some(i) => ok(Val::str(&s[i + chars.len()..])),
    }
}

fn uppercase<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_str(name, &args, 0)?.map(|s| Val::string(s.to_uppercase())))
}

fn lowercase<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_str(name, &args, 0)?.map(|s| Val::string(s.to_lowercase())))
}

fn trim<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_str(name, &args, 0)?.map(|s| {
        let mut out = String::with_capacity(s.len());
        let mut space = false;
        for c in s.chars() {
            if matches!(c, ' ' | '\t' | '\n' | '\r') {
                space = true;
            } else {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                out.push(c);
            }
        }
        Val::string(out)
    }))
}

fn pad<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let width = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    // An empty pad string pads with spaces, as jsonata-js does.
    let pad: Vec<char> = match opt_str(name, &args, 2)? {
        Some(p) if !p.is_empty() => p.chars().collect(),
        _ => vec![' '],
    };
    let have = s.chars().count();
    let want = width.abs().min(1e6) as usize;
    ev.tick(want as u64)?;
    if want <= have || pad.is_empty() {
        return ok(Val::str(s));
    }
    let fill: String = pad.iter().cycle().take(want - have).collect();
    ok(Val::string(if width > 0.0 {
        format!("{s}{fill}")
    } else {
        format!("{fill}{s}")
    }))
}

fn contains<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    match arg(&args, 1) {
        Some(p) if p.as_str().is_some() => {
            ok(Val::Bool(s.contains(p.as_str().unwrap_or_default())))
        }
        Some(Val::Func(f)) => match &**f {
            Func::Regex(re) => ok(Val::Bool(re.is_match(s)?)),
            _ => Err(sig(name, 1)),
        },
        _ => Err(sig(name, 1)),
    }
}

fn split<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let limit = match opt_num(name, &args, 2)? {
        Some(l) if l < 0.0 => {
            return Err(err(
                "D3020",
                "Third argument of split function must evaluate to a positive number",
            ))
        }
        Some(l) => Some(l.floor() as usize),
        None => None,
    };
    let mut parts: Vec<String> = match arg(&args, 1) {
        Some(p) if p.as_str().is_some() => {
            let sep = p.as_str().unwrap_or_default();
            if sep.is_empty() {
                s.chars().map(|c| c.to_string()).collect()
            } else {
                s.split(sep).map(str::to_string).collect()
            }
        }
        Some(Val::Func(f)) => match &**f {
            Func::Regex(re) => {
                let mut parts = Vec::new();
                let mut last = 0;
                re.each_match(s, limit, |m| {
                    parts.push(s[last..m.start()].to_string());
                    last = m.end();
                    Ok(())
                })?;
                if limit.is_none_or(|l| parts.len() < l) {
                    parts.push(s[last..].to_string());
                }
                parts
            }
            _ => return Err(sig(name, 1)),
        },
        _ => return Err(sig(name, 1)),
    };
    ev.tick(parts.len() as u64)?;
    if let Some(l) = limit {
        parts.truncate(l);
    }
    ok(Val::array(parts.into_iter().map(Val::string).collect(), 0)?)
}

fn join<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let sep = opt_str(name, &args, 1)?.unwrap_or("");
    let all = items(v);
    let strs = all
        .iter()
        .map(|x| {
            x.as_str().ok_or_else(|| {
                err(
                    "T0412",
                    format!("Argument 1 of function \"{name}\" must be an array of \"strings\""),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Charged before joining: an array may hold one large string many times over.
    let total = strs.iter().map(|s| s.len()).sum::<usize>() + sep.len() * strs.len();
    super::value::charge(total)?;
    ok(Val::string(strs.join(sep)))
}

fn match_regex<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let re = regex_arg(name, &args, 1)?;
    let limit = opt_num(name, &args, 2)?.map(|l| l.max(0.0) as usize);
    let mut out = Vec::new();
    re.each_match(s, limit, |m| {
        ev.tick(1)?;
        let mut o = IndexMap::new();
        o.insert("match".to_string(), Val::str(m.text(s)));
        o.insert(
            "index".to_string(),
            Val::Num(s[..m.start()].chars().count() as f64),
        );
        o.insert("groups".to_string(), Val::array(group_values(m, s), 0)?);
        out.push(Val::object(o)?);
        Ok(())
    })?;
    ok(Val::seq(out))
}

/// `$base64encode`: as jsonata-js under Node (`Buffer.from(s, 'binary')`), each UTF-16 unit's
/// low byte is encoded, so text outside Latin-1 does not survive (`😀` gives `PQA=`).
fn base64encode<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_str(name, &args, 0)?.map(|s| {
        let bytes: Vec<u8> = s.encode_utf16().map(|u| (u & 0xff) as u8).collect();
        Val::string(base64::engine::general_purpose::STANDARD.encode(bytes))
    }))
}

/// `$base64decode`: Node's lenient decoder (characters outside the alphabet are skipped, `=`
/// ends the data, `-`/`_` are read as `+`/`/`), each byte becoming one Latin-1 character.
fn base64decode<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_str(name, &args, 0)?.map(|s| Val::string(node_base64_latin1(s))))
}

fn node_base64_latin1(s: &str) -> String {
    let sextet = |c: char| -> Option<u32> {
        Some(match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            _ => return None,
        })
    };
    let mut bits = 0u32;
    let mut held = 0u32;
    let mut out = String::new();
    for c in s.chars() {
        if c == '=' {
            break;
        }
        let Some(v) = sextet(c) else { continue };
        bits = (bits << 6) | v;
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push(char::from(((bits >> held) & 0xff) as u8));
        }
    }
    out
}

/// `$encodeUrl` (keeps reserved characters) and `$encodeUrlComponent`.
fn encode_url<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_str(name, &args, 0)?.map(|s| Val::string(url_encode(s, name == "encodeUrl"))))
}

/// `$decodeUrl` and `$decodeUrlComponent`.
fn decode_url<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match opt_str(name, &args, 0)? {
        None => Ok(None),
        Some(s) => ok(Val::string(url_decode(s, name == "decodeUrl").ok_or_else(
            || {
                err(
                    "D3140",
                    format!("Malformed URL passed to ${name}(): \"{s}\""),
                )
            },
        )?)),
    }
}

// -------------------------------------------------------------------- numbers

fn number<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        None => Ok(None),
        Some(Val::Num(n)) => num(*n),
        Some(Val::Bool(b)) => num(if *b { 1.0 } else { 0.0 }),
        Some(v) => match v.as_str() {
            Some(s) => match parse_number(s) {
                Some(n) => num(n),
                None => Err(err(
                    "D3030",
                    format!("Unable to cast value to a number: \"{s}\""),
                )),
            },
            None => Err(sig(name, 0)),
        },
    }
}

fn abs<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_num(name, &args, 0)?.map(|n| Val::Num(n.abs())))
}

fn floor<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_num(name, &args, 0)?.map(|n| Val::Num(n.floor())))
}

fn ceil<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    Ok(opt_num(name, &args, 0)?.map(|n| Val::Num(n.ceil())))
}

fn round<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(n) = opt_num(name, &args, 0)? else {
        return Ok(None);
    };
    let p = opt_num(name, &args, 1)?.unwrap_or(0.0);
    num(round_half_even(n, p as i32))
}

fn power<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(b) = opt_num(name, &args, 0)? else {
        return Ok(None);
    };
    let e = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    let r = b.powf(e);
    if !r.is_finite() {
        return Err(err("D3061", format!("The power function has resulted in a value that cannot be represented as a JSON number: base={}, exponent={}", string_num(b), string_num(e))));
    }
    num(r)
}

fn sqrt<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match opt_num(name, &args, 0)? {
        None => Ok(None),
        Some(n) if n < 0.0 => Err(err(
            "D3060",
            format!(
                "The sqrt function cannot be applied to a negative number: {}",
                string_num(n)
            ),
        )),
        Some(n) => num(n.sqrt()),
    }
}

fn random<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        // Step Functions: `$random(seed)` gives the same number for the same seed.
        Some(Val::Num(seed)) => {
            let mut r = SimRng::derived(seed.to_bits(), "jsonata-random-seed");
            num(r.next_f64())
        }
        Some(_) => Err(sig(name, 0)),
        None => num(ev.rng().next_f64()),
    }
}

fn format_number<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(n) = opt_num(name, &args, 0)? else {
        return Ok(None);
    };
    let picture = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    let options = arg(&args, 2).cloned();
    ok(Val::string(format::format_number(
        n,
        picture,
        options.as_ref(),
    )?))
}

fn format_base<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(n) = opt_num(name, &args, 0)? else {
        return Ok(None);
    };
    // jsonata-js rounds the radix (half to even) before checking it.
    let radix = round_half_even(opt_num(name, &args, 1)?.unwrap_or(10.0), 0);
    if !(2.0..=36.0).contains(&radix) {
        return Err(err(
            "D3100",
            format!(
                "The radix of the formatBase function must be between 2 and 36.  It was given {}",
                string_num(radix)
            ),
        ));
    }
    ok(Val::string(format::to_radix(
        round_half_even(n, 0),
        radix as u32,
    )))
}

fn format_integer<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(n) = opt_num(name, &args, 0)? else {
        return Ok(None);
    };
    let picture = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    ok(Val::string(intpic::format_integer(n, picture)?))
}

fn parse_integer<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let picture = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    ok(Val::Num(intpic::parse_integer(s, picture)?))
}

// -------------------------------------------------------------------- aggregation

fn sum<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        None => Ok(None),
        Some(v) => num(numbers(name, v, 0)?.iter().sum()),
    }
}

/// `$max`, `$min` and `$average`: nothing for an empty array.
fn extreme<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let ns = numbers(name, v, 0)?;
    if ns.is_empty() {
        return Ok(None);
    }
    num(match name {
        "max" => ns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "min" => ns.iter().copied().fold(f64::INFINITY, f64::min),
        _ => ns.iter().sum::<f64>() / ns.len() as f64,
    })
}

// -------------------------------------------------------------------- booleans

fn boolean<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    Ok(arg(&args, 0).map(|v| Val::Bool(truthy(v))))
}

fn not<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    Ok(arg(&args, 0).map(|v| Val::Bool(!truthy(v))))
}

fn exists<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    ok(Val::Bool(arg(&args, 0).is_some()))
}

// -------------------------------------------------------------------- arrays

fn count<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    num(match arg(&args, 0) {
        None => 0.0,
        Some(v) => v.arr_len().unwrap_or(1) as f64,
    })
}

fn append<'a>(ev: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    match (arg(&args, 0), arg(&args, 1)) {
        (None, None) => Ok(None),
        (Some(x), None) | (None, Some(x)) => ok(x.clone()),
        (Some(x), Some(y)) => {
            let mut out = items(x);
            out.extend(items(y));
            ev.tick(out.len() as u64)?;
            ok(Val::array(out, 0)?)
        }
    }
}

fn reverse<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        None => Ok(None),
        Some(v) => {
            let mut out = items(v);
            out.reverse();
            ok(Val::array(out, 0)?)
        }
    }
}

fn shuffle<'a>(ev: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        None => Ok(None),
        Some(v) => {
            let mut out = items(v);
            ev.tick(out.len() as u64)?;
            for i in (1..out.len()).rev() {
                let j = ev.rng().range_i64(0, i as i64) as usize;
                out.swap(i, j);
            }
            ok(Val::array(out, 0)?)
        }
    }
}

/// `$clone`: values are immutable here, so the copy is the value itself.
fn clone<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    Ok(arg(&args, 0).cloned())
}

fn distinct<'a>(ev: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        None => Ok(None),
        Some(v) if !v.is_array() => ok(v.clone()),
        Some(v) => {
            let all = v.arr_items();
            // jsonata-js returns arrays of at most one item as they are, and keeps an array
            // an array (only a sequence stays a sequence, and may unwrap).
            if all.len() <= 1 {
                return ok(v.clone());
            }
            ev.tick((all.len() as u64).saturating_mul(all.len() as u64) / 4 + 1)?;
            let mut out: Vec<Val<'a>> = Vec::new();
            for x in all {
                if !out.iter().any(|y| deep_equal(&x, y)) {
                    out.push(x);
                }
            }
            if v.flags() & super::value::SEQ != 0 {
                ok(Val::seq(out))
            } else {
                ok(Val::array(out, 0)?)
            }
        }
    }
}

fn zip<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    let lists: Vec<Vec<Val<'a>>> = args
        .iter()
        .map(|a| a.as_ref().map(items).unwrap_or_default())
        .collect();
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Val::array(lists.iter().map(|l| l[i].clone()).collect(), 0)?);
    }
    ok(Val::array(out, 0)?)
}

// -------------------------------------------------------------------- objects

fn keys<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let mut keys: Vec<String> = Vec::new();
    for o in items(v) {
        for k in o.obj_keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    ok(Val::seq(keys.into_iter().map(Val::string).collect()))
}

fn lookup<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let key = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    let mut out = Vec::new();
    for o in items(v) {
        if let Some(x) = o.field(key) {
            if x.is_array() {
                out.extend(x.arr_items());
            } else {
                out.push(x);
            }
        }
    }
    ok(Val::seq(out))
}

fn spread<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        None => Ok(None),
        Some(v) if !v.is_array() && !v.is_object() => ok(v.clone()),
        Some(v) => {
            let mut out = Vec::new();
            for o in items(v) {
                if o.is_object() {
                    for (k, x) in o.obj_entries() {
                        let mut m = IndexMap::new();
                        m.insert(k, x);
                        out.push(Val::object(m)?);
                    }
                } else {
                    out.push(o);
                }
            }
            ok(Val::seq(out))
        }
    }
}

fn merge<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let mut m = IndexMap::new();
    for o in items(v) {
        if !o.is_object() {
            return Err(err(
                "T0412",
                "Argument 1 of function \"merge\" must be an array of \"objects\"",
            ));
        }
        for (k, x) in o.obj_entries() {
            m.insert(k, x);
        }
    }
    ok(Val::object(m)?)
}

/// `$sift` (the entries `f` keeps) and `$each` (what `f` returns for each entry).
fn sift_each<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0).cloned() else {
        return Ok(None);
    };
    let f = need_func(name, &args, 1)?;
    if !v.is_object() {
        return Err(sig(name, 0));
    }
    let arity = fn_arity(&f);
    let mut kept = IndexMap::new();
    let mut mapped = Vec::new();
    for (k, x) in v.obj_entries() {
        let mut call_args = vec![
            Some(x.clone()),
            Some(Val::string(k.clone())),
            Some(v.clone()),
        ];
        call_args.truncate(arity.max(1));
        let r = ev.apply(&f, call_args, None)?;
        if name == "sift" {
            if r.as_ref().is_some_and(truthy) {
                kept.insert(k, x);
            }
        } else if let Some(r) = r {
            mapped.push(r);
        }
    }
    if name == "sift" {
        if kept.is_empty() {
            return Ok(None);
        }
        ok(Val::object(kept)?)
    } else {
        ok(Val::seq(mapped))
    }
}

fn error<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let msg = opt_str(name, &args, 0)?.unwrap_or("$error() function evaluated");
    Err(err("D3137", msg))
}

fn assert<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    match arg(&args, 0) {
        Some(Val::Bool(true)) => Ok(None),
        Some(Val::Bool(false)) => Err(err(
            "D3141",
            opt_str(name, &args, 1)?.unwrap_or("$assert() statement failed"),
        )),
        _ => Err(err(
            "T0410",
            "Argument 1 of function \"assert\" does not match function signature",
        )),
    }
}

fn type_of<'a>(_: &mut dyn Host<'a>, _: &'static str, args: Args<'a>) -> R<'a> {
    Ok(arg(&args, 0).map(|v| Val::str(v.type_name())))
}

// -------------------------------------------------------------------- time

fn now<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let picture = opt_str(name, &args, 0)?;
    let tz = opt_str(name, &args, 1)?;
    ok(Val::string(datetime::from_millis(
        ev.now_millis() as f64,
        picture,
        tz,
    )?))
}

fn millis<'a>(ev: &mut dyn Host<'a>, _: &'static str, _: Args<'a>) -> R<'a> {
    num(ev.now_millis() as f64)
}

fn from_millis<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(ms) = opt_num(name, &args, 0)? else {
        return Ok(None);
    };
    let picture = opt_str(name, &args, 1)?;
    let tz = opt_str(name, &args, 2)?;
    ok(Val::string(datetime::from_millis(ms, picture, tz)?))
}

fn to_millis<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let picture = opt_str(name, &args, 1)?;
    Ok(datetime::to_millis(s, picture, ev.now_millis() as f64)?.map(Val::Num))
}

// -------------------------------------------------------------------- higher order

/// The arguments a higher-order function passes to `f` for item `i` of `whole`: as many of
/// (item, index, whole array) as `f` takes, at least one.
fn item_args<'a>(f: &Val<'a>, x: Val<'a>, i: usize, whole: &Val<'a>) -> Args<'a> {
    let mut call_args = vec![Some(x), Some(Val::Num(i as f64)), Some(whole.clone())];
    call_args.truncate(fn_arity(f).max(1));
    call_args
}

/// `$map` (what `f` returns) and `$filter` (the items `f` keeps).
fn map_filter<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0).cloned() else {
        return Ok(None);
    };
    let f = need_func(name, &args, 1)?;
    let list = items(&v);
    let whole = Val::array(list.clone(), 0)?;
    let mut out = Vec::new();
    for (i, x) in list.into_iter().enumerate() {
        let r = ev.apply(&f, item_args(&f, x.clone(), i, &whole), None)?;
        if name == "map" {
            if let Some(r) = r {
                out.push(r);
            }
        } else if r.as_ref().is_some_and(truthy) {
            out.push(x);
        }
    }
    ok(Val::seq(out))
}

fn single<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0).cloned() else {
        return Ok(None);
    };
    let f = opt_func(name, &args, 1)?;
    let list = items(&v);
    let whole = Val::array(list.clone(), 0)?;
    let mut found = None;
    for (i, x) in list.into_iter().enumerate() {
        let keep = match &f {
            None => true,
            Some(f) => ev
                .apply(f, item_args(f, x.clone(), i, &whole), None)?
                .as_ref()
                .is_some_and(truthy),
        };
        if keep {
            if found.is_some() {
                return Err(err("D3138", "The $single() function expected exactly 1 matching result.  Instead it matched more."));
            }
            found = Some(x);
        }
    }
    match found {
        Some(x) => ok(x),
        None => Err(err(
            "D3139",
            "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
        )),
    }
}

fn reduce<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0).cloned() else {
        return Ok(None);
    };
    let f = need_func(name, &args, 1)?;
    let arity = fn_arity(&f);
    if arity < 2 {
        return Err(err(
            "D3050",
            "The second argument of reduce function must be a function with at least two arguments",
        ));
    }
    let list = items(&v);
    let whole = Val::array(list.clone(), 0)?;
    let (mut acc, start) = match arg(&args, 2) {
        Some(init) => (Some(init.clone()), 0),
        None => (list.first().cloned(), 1),
    };
    for (i, x) in list.into_iter().enumerate().skip(start) {
        let mut call_args = vec![acc, Some(x), Some(Val::Num(i as f64)), Some(whole.clone())];
        call_args.truncate(arity);
        acc = ev.apply(&f, call_args, None)?;
    }
    Ok(acc)
}

// -------------------------------------------------------------------- Step Functions

fn partition<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0) else {
        return Ok(None);
    };
    let size = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    if size < 1.0 || size.fract() != 0.0 {
        return Err(err(
            "D3040",
            format!(
                "The size argument of function \"partition\" must be a positive integer: {}",
                string_num(size)
            ),
        ));
    }
    let list = items(v);
    ev.tick(list.len() as u64)?;
    let mut out = Vec::new();
    for chunk in list.chunks(size.min(1e9) as usize) {
        out.push(Val::array(chunk.to_vec(), 0)?);
    }
    ok(Val::array(out, 0)?)
}

fn range<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let start = opt_num(name, &args, 0)?.ok_or_else(|| sig(name, 0))?;
    let end = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    let step = opt_num(name, &args, 2)?.unwrap_or(1.0);
    if step == 0.0 {
        return Err(err(
            "D3041",
            "The step argument of function \"range\" must not be zero",
        ));
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count > 1e7 {
        return Err(err("D2014", format!("The size of the sequence allocated by function \"range\" must not exceed 1e7.  Attempted to allocate {}", string_num(count))));
    }
    let count = count.max(0.0) as u64;
    ev.tick(count)?;
    // A sequence, as the recorded AWS output shows: `$range(1, 9, 9)` is `1`, not `[1]`.
    ok(Val::seq(
        (0..count)
            .map(|i| Val::Num(start + step * i as f64))
            .collect(),
    ))
}

fn hash<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(data) = arg(&args, 0) else {
        return Ok(None);
    };
    let text = data
        .as_str()
        .map(str::to_string)
        .map_or_else(|| to_text(data, false), Ok)?;
    let algo = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
    let digest: Vec<u8> = match algo {
        "MD5" => md5::Md5::digest(text.as_bytes()).to_vec(),
        "SHA-1" => sha1::Sha1::digest(text.as_bytes()).to_vec(),
        "SHA-256" => sha2::Sha256::digest(text.as_bytes()).to_vec(),
        "SHA-384" => sha2::Sha384::digest(text.as_bytes()).to_vec(),
        "SHA-512" => sha2::Sha512::digest(text.as_bytes()).to_vec(),
        other => {
            return Err(err(
                "D3042",
                format!("The hash algorithm \"{other}\" is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
            ))
        }
    };
    ok(Val::string(
        digest.iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

fn uuid<'a>(ev: &mut dyn Host<'a>, _: &'static str, _: Args<'a>) -> R<'a> {
    ok(Val::string(ev.rng().uuid_v4()))
}

fn parse<'a>(_: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        err(
            "D3043",
            format!("The argument of function \"parse\" is not valid JSON: {e}"),
        )
    })?;
    ok(from_owned(v)?)
}

fn fn_arity(f: &Val) -> usize {
    match f {
        Val::Func(func) => func.arity(),
        _ => 1,
    }
}

fn regex_arg<'a>(name: &str, args: &Args<'a>, i: usize) -> Result<&'a JsRegex, JsonataError> {
    match arg(args, i) {
        Some(Val::Func(f)) => match &**f {
            Func::Regex(re) => Ok(*re),
            _ => Err(sig(name, i)),
        },
        _ => Err(sig(name, i)),
    }
}

/// The object a regular expression returns when called directly: `{match, start, end, groups}`.
pub(crate) fn regex_match_object<'a>(re: &JsRegex, s: &str) -> R<'a> {
    let Some(m) = re.find_at(s, 0)? else {
        return Ok(None);
    };
    let mut o = IndexMap::new();
    o.insert("match".to_string(), Val::str(m.text(s)));
    o.insert(
        "start".to_string(),
        Val::Num(s[..m.start()].chars().count() as f64),
    );
    o.insert(
        "end".to_string(),
        Val::Num(s[..m.end()].chars().count() as f64),
    );
    o.insert("groups".to_string(), Val::array(group_values(&m, s), 0)?);
    ok(Val::object(o)?)
}

/// A match's capture groups as JSONata strings (`""` for a group that took no part).
fn group_values<'a>(m: &Found, s: &str) -> Vec<Val<'a>> {
    (1..=m.groups())
        .map(|i| Val::str(m.group(s, i).unwrap_or("")))
        .collect()
}

fn replace<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(s) = opt_str(name, &args, 0)? else {
        return Ok(None);
    };
    let s = s.to_string();
    let limit = match opt_num(name, &args, 3)? {
        Some(l) if l < 0.0 => {
            return Err(err(
                "D3011",
                "Fourth argument of replace function must evaluate to a positive number",
            ))
        }
        Some(l) => Some(l.floor() as usize),
        None => None,
    };
    let replacement = arg(&args, 2).cloned().ok_or_else(|| sig(name, 2))?;
    if replacement.as_str().is_none() && !replacement.is_func() {
        return Err(sig(name, 2));
    }
    match arg(&args, 1) {
        Some(p) if p.as_str().is_some() => {
            let pat = p.as_str().unwrap_or_default();
            if pat.is_empty() {
                return Err(err(
                    "D3010",
                    "Second argument of replace function cannot be an empty string",
                ));
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            let mut count = 0;
            while let Some(i) = rest.find(pat) {
                if limit.is_some_and(|l| count >= l) {
                    break;
                }
                ev.tick(1)?;
                out.push_str(&rest[..i]);
                match replacement.as_str() {
                    Some(r) => out.push_str(r),
                    None => {
                        let mut o = IndexMap::new();
                        o.insert("match".to_string(), Val::str(pat));
                        o.insert("index".to_string(), Val::Num(0.0));
                        o.insert("groups".to_string(), Val::array(vec![], 0)?);
                        out.push_str(&replacement_text(ev, &replacement, Val::object(o)?)?);
                    }
                }
                rest = &rest[i + pat.len()..];
                count += 1;
            }
            out.push_str(rest);
            Ok(Some(Val::string(out)))
        }
        Some(Val::Func(f)) => {
            let Func::Regex(re) = &**f else {
                return Err(sig(name, 1));
            };
            let mut out = String::new();
            let mut last = 0;
            re.each_match(&s, limit, |m| {
                ev.tick(1)?;
                out.push_str(&s[last..m.start()]);
                match replacement.as_str() {
                    Some(r) => out.push_str(&substitute(r, m, &s)),
                    None => {
                        let mut o = IndexMap::new();
                        o.insert("match".to_string(), Val::str(m.text(&s)));
                        o.insert(
                            "index".to_string(),
                            Val::Num(s[..m.start()].chars().count() as f64),
                        );
                        o.insert("groups".to_string(), Val::array(group_values(m, &s), 0)?);
                        out.push_str(&replacement_text(ev, &replacement, Val::object(o)?)?);
                    }
                }
                last = m.end();
                Ok(())
            })?;
            out.push_str(&s[last..]);
            Ok(Some(Val::string(out)))
        }
        _ => Err(sig(name, 1)),
    }
}

fn replacement_text<'a>(
    ev: &mut dyn Host<'a>,
    f: &Val<'a>,
    m: Val<'a>,
) -> Result<String, JsonataError> {
    match ev.apply(f, vec![Some(m)], None)? {
        Some(v) if v.as_str().is_some() => Ok(v.as_str().unwrap_or_default().to_string()),
        other => Err(err(
            "D3012",
            format!(
                "Attempted to replace a matched string with a non-string value: {}",
                other
                    .map(|v| stringify(&v, false))
                    .transpose()?
                    .unwrap_or_default()
            ),
        )),
    }
}

/// `$0`, `$1`.. and `$$` in a replacement string.
fn substitute(r: &str, m: &Found, s: &str) -> String {
    let groups = m.groups();
    let chars: Vec<char> = r.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        if j == i + 1 {
            out.push('$');
            i += 1;
            continue;
        }
        // Longest prefix of the digits that names an existing group.
        let digits: String = chars[i + 1..j].iter().collect();
        let mut used = digits.len();
        let mut index = None;
        while used > 0 {
            if let Ok(n) = digits[..used].parse::<usize>() {
                if n <= groups {
                    index = Some(n);
                    break;
                }
            }
            used -= 1;
        }
        match index {
            Some(n) => {
                let text = if n == 0 {
                    m.text(s)
                } else {
                    m.group(s, n).unwrap_or("")
                };
                out.push_str(text);
                out.push_str(&digits[used..]);
            }
            None => out.push_str(&digits[1..]),
        }
        i = j;
    }
    out
}

fn sort<'a>(ev: &mut dyn Host<'a>, name: &'static str, args: Args<'a>) -> R<'a> {
    let Some(v) = arg(&args, 0).cloned() else {
        return Ok(None);
    };
    let list = items(&v);
    let f = opt_func(name, &args, 1)?;
    if list.len() <= 1 {
        // Nothing to compare: jsonata-js returns it without checking the item types.
        return if v.is_array() {
            ok(v)
        } else {
            ok(Val::array(list, 0)?)
        };
    }
    let n = list.len() as u64;
    ev.tick(n.saturating_mul(64 - n.leading_zeros() as u64))?;
    match f {
        None => {
            if list.iter().all(|x| matches!(x, Val::Num(_))) {
                let mut l = list;
                l.sort_by(|a, b| {
                    a.as_num()
                        .partial_cmp(&b.as_num())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                ok(Val::array(l, 0)?)
            } else if list.iter().all(|x| x.as_str().is_some()) {
                let mut l = list;
                l.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                ok(Val::array(l, 0)?)
            } else {
                Err(err("D3070", "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function"))
            }
        }
        Some(f) => {
            // Merge sort (stable); `f(a, b)` true means `a` goes after `b`.
            let sorted = merge_sort(ev, &f, list)?;
            ok(Val::array(sorted, 0)?)
        }
    }
}

fn merge_sort<'a>(
    ev: &mut dyn Host<'a>,
    f: &Val<'a>,
    list: Vec<Val<'a>>,
) -> Result<Vec<Val<'a>>, JsonataError> {
    if list.len() <= 1 {
        return Ok(list);
    }
    let mut runs: Vec<Vec<Val<'a>>> = list.into_iter().map(|x| vec![x]).collect();
    while runs.len() > 1 {
        let mut next = Vec::with_capacity(runs.len() / 2 + 1);
        let mut it = runs.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                None => next.push(a),
                Some(b) => {
                    let mut out = Vec::with_capacity(a.len() + b.len());
                    let (mut i, mut j) = (0, 0);
                    while i < a.len() && j < b.len() {
                        let swap =
                            ev.apply(f, vec![Some(a[i].clone()), Some(b[j].clone())], None)?;
                        if swap.as_ref().is_some_and(truthy) {
                            out.push(b[j].clone());
                            j += 1;
                        } else {
                            out.push(a[i].clone());
                            i += 1;
                        }
                    }
                    out.extend_from_slice(&a[i..]);
                    out.extend_from_slice(&b[j..]);
                    next.push(out);
                }
            }
        }
        runs = next;
    }
    Ok(runs.into_iter().next().unwrap_or_default())
}

/// `[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?`
fn decimal_literal(s: &str) -> bool {
    fn digits(b: &[u8], i: usize) -> usize {
        b[i..].iter().take_while(|c| c.is_ascii_digit()).count()
    }
    let b = s.as_bytes();
    let mut i = digits(b, 0);
    if i == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        let n = digits(b, i + 1);
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(b, i);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == b.len()
}

fn parse_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let radix = |p: &str, r: u32| u64::from_str_radix(p, r).ok().map(|v| v as f64);
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        radix(h, 16)?
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        radix(o, 8)?
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        radix(b, 2)?
    } else {
        // jsonata-js's form: digits, optionally `.digits`, optionally `e[+-]digits` (so
        // neither `.5` nor `5.` is a number).
        if !decimal_literal(body) {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if !v.is_finite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn url_encode(s: &str, keep_reserved: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        let unreserved = c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c);
        let reserved = ";,/?:@&=+$#".contains(c);
        if unreserved || (keep_reserved && reserved) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding. `keep_reserved` is JavaScript's `decodeURI`: an escape of a character
/// that has a meaning in a URI (`;/?:@&=+$,#`) stays as written.
fn url_decode(s: &str, keep_reserved: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if keep_reserved && b";/?:@&=+$,#".contains(&b) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_binary_search_finds_every_name() {
        assert!(BUILTINS.windows(2).all(|w| w[0].name < w[1].name));
        // 68 before `$clone` was added.
        assert_eq!(BUILTINS.len(), 69);
        for b in BUILTINS {
            assert_eq!(builtin(b.name).map(|id| entry_of(id).name), Some(b.name));
        }
        assert!(builtin("eval").is_none());
    }

    #[test]
    fn every_jsonata_signature_parses() {
        let sigs = signatures();
        assert_eq!(sigs.len(), BUILTINS.len());
        for (b, sig) in BUILTINS.iter().zip(sigs) {
            if let Some(text) = builtin_signature(b.name) {
                assert!(sig.is_some(), "{}: {text} does not parse", b.name);
            }
        }
        // The Step Functions additions check their own arguments.
        for name in ["partition", "range", "hash", "random", "uuid", "parse"] {
            assert!(builtin_signature(name).is_none(), "{name}");
        }
    }

    #[test]
    fn number_parsing() {
        assert_eq!(parse_number("42"), Some(42.0));
        assert_eq!(parse_number("0x1F"), Some(31.0));
        assert_eq!(parse_number("-1.5e3"), Some(-1500.0));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("1e999"), None);
    }

    #[test]
    fn url_coding() {
        assert_eq!(url_encode("a b&c", false), "a%20b%26c");
        assert_eq!(url_encode("https://x.com/a b", true), "https://x.com/a%20b");
        assert_eq!(url_decode("a%20b", false).as_deref(), Some("a b"));
        assert_eq!(url_decode("%zz", false), None);
        // decodeURI keeps escapes of reserved characters; decodeURIComponent does not.
        assert_eq!(url_decode("a%2Fb%20", true).as_deref(), Some("a%2Fb "));
        assert_eq!(url_decode("a%2Fb", false).as_deref(), Some("a/b"));
    }
}
