//! JSONata 2.0.6's built-in function library (minus `$eval`, which Step Functions does not
//! offer), plus the Step Functions additions: `$partition`, `$range`, `$hash`, `$random(seed)`,
//! `$uuid` and `$parse`. Impure functions read the evaluation environment, never the host:
//! `$now`/`$millis` use the virtual clock and `$random`/`$uuid`/`$shuffle` the seeded RNG.
//!
//! Argument checking follows JSONata's signatures: a wrong type is `T0410`, a wrong element type
//! in an array argument `T0412`, and functions whose first parameter may come from the context
//! (`$uppercase()` inside a path) take it from there when it is left out.

use base64::Engine;
use indexmap::IndexMap;
use md5::Digest;

use super::eval::{err, to_text, Ev, R};
use super::format;
use super::value::{deep_equal, from_owned, string_num, stringify, truthy, Func, Val};
use super::JsonataError;
use crate::rng::SimRng;

/// Every built-in name, with its number of mandatory parameters and whether the first one may
/// be taken from the context.
const BUILTINS: &[(&str, usize, bool)] = &[
    ("string", 1, true),
    ("length", 1, true),
    ("substring", 2, true),
    ("substringBefore", 2, true),
    ("substringAfter", 2, true),
    ("uppercase", 1, true),
    ("lowercase", 1, true),
    ("trim", 1, true),
    ("pad", 2, true),
    ("contains", 2, true),
    ("split", 2, true),
    ("join", 1, false),
    ("match", 2, true),
    ("replace", 3, true),
    ("base64encode", 1, true),
    ("base64decode", 1, true),
    ("encodeUrlComponent", 1, true),
    ("encodeUrl", 1, true),
    ("decodeUrlComponent", 1, true),
    ("decodeUrl", 1, true),
    ("number", 1, true),
    ("abs", 1, true),
    ("floor", 1, true),
    ("ceil", 1, true),
    ("round", 1, true),
    ("power", 2, true),
    ("sqrt", 1, true),
    ("random", 0, false),
    ("formatNumber", 2, true),
    ("formatBase", 1, true),
    ("formatInteger", 2, true),
    ("parseInteger", 2, true),
    ("sum", 1, false),
    ("max", 1, false),
    ("min", 1, false),
    ("average", 1, false),
    ("boolean", 1, true),
    ("not", 1, true),
    ("exists", 1, false),
    ("count", 1, false),
    ("append", 2, false),
    ("sort", 1, false),
    ("reverse", 1, false),
    ("shuffle", 1, false),
    ("distinct", 1, false),
    ("zip", 1, false),
    ("keys", 1, true),
    ("lookup", 2, true),
    ("spread", 1, true),
    ("merge", 1, false),
    ("sift", 2, true),
    ("each", 2, true),
    ("error", 0, false),
    ("assert", 2, false),
    ("type", 1, false),
    ("now", 0, false),
    ("millis", 0, false),
    ("fromMillis", 1, true),
    ("toMillis", 1, true),
    ("map", 2, false),
    ("filter", 2, false),
    ("single", 1, false),
    ("reduce", 2, false),
    // Step Functions additions.
    ("partition", 2, false),
    ("range", 3, false),
    ("hash", 2, false),
    ("uuid", 0, false),
    ("parse", 1, false),
];

/// The static name of a built-in function, if `name` is one.
pub(crate) fn builtin(name: &str) -> Option<&'static str> {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, _)| *n)
}

pub(crate) fn builtin_arity(name: &str) -> usize {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, a, _)| (*a).max(1))
        .unwrap_or(1)
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

/// Calls the built-in `name`.
pub(crate) fn call<'a>(
    ev: &mut Ev<'a>,
    name: &'static str,
    mut args: Args<'a>,
    ctx: Option<&Val<'a>>,
) -> R<'a> {
    if let Some((_, mandatory, context)) = BUILTINS.iter().find(|(n, _, _)| *n == name) {
        if *context && args.len() < *mandatory {
            args.insert(0, ctx.cloned());
        }
    }
    match name {
        // ---------------------------------------------------------------- strings
        "string" => {
            let Some(v) = arg(&args, 0) else {
                return Ok(None);
            };
            let pretty = match arg(&args, 1) {
                None => false,
                Some(Val::Bool(b)) => *b,
                Some(_) => return Err(sig(name, 1)),
            };
            if let Some(s) = v.as_str() {
                return ok(Val::str(s));
            }
            match v {
                Val::Func(_) => ok(Val::str("")),
                Val::Num(n) if !n.is_finite() => Err(err(
                    "D3001",
                    "Attempting to invoke string function on Infinity or NaN",
                )),
                _ => ok(Val::string(stringify(v, pretty)?)),
            }
        }
        "length" => match opt_str(name, &args, 0)? {
            None => Ok(None),
            Some(s) => num(s.chars().count() as f64),
        },
        "substring" => {
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
        "substringBefore" | "substringAfter" => {
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
        "uppercase" => Ok(opt_str(name, &args, 0)?.map(|s| Val::string(s.to_uppercase()))),
        "lowercase" => Ok(opt_str(name, &args, 0)?.map(|s| Val::string(s.to_lowercase()))),
        "trim" => Ok(opt_str(name, &args, 0)?.map(|s| {
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
        })),
        "pad" => {
            let Some(s) = opt_str(name, &args, 0)? else {
                return Ok(None);
            };
            let width = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
            let pad: Vec<char> = opt_str(name, &args, 2)?.unwrap_or(" ").chars().collect();
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
        "contains" => {
            let Some(s) = opt_str(name, &args, 0)? else {
                return Ok(None);
            };
            match arg(&args, 1) {
                Some(p) if p.as_str().is_some() => {
                    ok(Val::Bool(s.contains(p.as_str().unwrap_or_default())))
                }
                Some(Val::Func(f)) => match &**f {
                    Func::Regex(re) => ok(Val::Bool(re.is_match(s))),
                    _ => Err(sig(name, 1)),
                },
                _ => Err(sig(name, 1)),
            }
        }
        "split" => {
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
                    Func::Regex(re) => re.split(s).map(str::to_string).collect(),
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
        "join" => {
            let Some(v) = arg(&args, 0) else {
                return Ok(None);
            };
            let sep = opt_str(name, &args, 1)?.unwrap_or("");
            let strs = items(v)
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_string).ok_or_else(|| {
                        err(
                            "T0412",
                            format!(
                                "Argument 1 of function \"{name}\" must be an array of \"strings\""
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            ok(Val::string(strs.join(sep)))
        }
        "match" => {
            let Some(s) = opt_str(name, &args, 0)? else {
                return Ok(None);
            };
            let re = regex_arg(name, &args, 1)?;
            let limit = opt_num(name, &args, 2)?.map(|l| l.max(0.0) as usize);
            let mut out = Vec::new();
            for caps in re.captures_iter(s) {
                if limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
                ev.tick(1)?;
                let m = caps
                    .get(0)
                    .map(|m| (m.as_str(), m.start()))
                    .unwrap_or(("", 0));
                if m.0.is_empty() {
                    return Err(err(
                        "D1004",
                        "Regular expression matches zero length string",
                    ));
                }
                let groups = (1..caps.len())
                    .map(|i| Val::str(caps.get(i).map(|g| g.as_str()).unwrap_or("")))
                    .collect();
                let mut o = IndexMap::new();
                o.insert("match".to_string(), Val::str(m.0));
                o.insert(
                    "index".to_string(),
                    Val::Num(s[..m.1].chars().count() as f64),
                );
                o.insert("groups".to_string(), Val::array(groups, 0)?);
                out.push(Val::object(o)?);
            }
            ok(Val::seq(out))
        }
        "replace" => replace(ev, args),
        "base64encode" => Ok(opt_str(name, &args, 0)?
            .map(|s| Val::string(base64::engine::general_purpose::STANDARD.encode(s)))),
        "base64decode" => match opt_str(name, &args, 0)? {
            None => Ok(None),
            Some(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|e| err("D3137", format!("Invalid base64 input: {e}")))?;
                ok(Val::string(String::from_utf8_lossy(&bytes).into_owned()))
            }
        },
        "encodeUrlComponent" | "encodeUrl" => {
            Ok(opt_str(name, &args, 0)?.map(|s| Val::string(url_encode(s, name == "encodeUrl"))))
        }
        "decodeUrlComponent" | "decodeUrl" => match opt_str(name, &args, 0)? {
            None => Ok(None),
            Some(s) => ok(Val::string(url_decode(s).ok_or_else(|| {
                err(
                    "D3140",
                    format!("Malformed URL passed to ${name}(): \"{s}\""),
                )
            })?)),
        },
        // ---------------------------------------------------------------- numbers
        "number" => match arg(&args, 0) {
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
        },
        "abs" => Ok(opt_num(name, &args, 0)?.map(|n| Val::Num(n.abs()))),
        "floor" => Ok(opt_num(name, &args, 0)?.map(|n| Val::Num(n.floor()))),
        "ceil" => Ok(opt_num(name, &args, 0)?.map(|n| Val::Num(n.ceil()))),
        "round" => {
            let Some(n) = opt_num(name, &args, 0)? else {
                return Ok(None);
            };
            let p = opt_num(name, &args, 1)?.unwrap_or(0.0);
            num(round_half_even(n, p as i32))
        }
        "power" => {
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
        "sqrt" => match opt_num(name, &args, 0)? {
            None => Ok(None),
            Some(n) if n < 0.0 => Err(err(
                "D3060",
                format!(
                    "The sqrt function cannot be applied to a negative number: {}",
                    string_num(n)
                ),
            )),
            Some(n) => num(n.sqrt()),
        },
        "random" => match arg(&args, 0) {
            // Step Functions: `$random(seed)` gives the same number for the same seed.
            Some(Val::Num(seed)) => {
                let mut r = SimRng::derived(seed.to_bits(), "jsonata-random-seed");
                num(r.next_f64())
            }
            Some(_) => Err(sig(name, 0)),
            None => num(ev.rng.next_f64()),
        },
        "formatNumber" => {
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
        "formatBase" => {
            let Some(n) = opt_num(name, &args, 0)? else {
                return Ok(None);
            };
            let radix = opt_num(name, &args, 1)?.unwrap_or(10.0);
            if !(2.0..=36.0).contains(&radix) {
                return Err(err("D3100", format!("The radix of the formatBase function must be between 2 and 36.  It was given {}", string_num(radix))));
            }
            ok(Val::string(format::to_radix(
                round_half_even(n, 0),
                radix as u32,
            )))
        }
        "formatInteger" => {
            let Some(n) = opt_num(name, &args, 0)? else {
                return Ok(None);
            };
            let picture = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
            ok(Val::string(format::format_integer(n, picture)?))
        }
        "parseInteger" => {
            let Some(s) = opt_str(name, &args, 0)? else {
                return Ok(None);
            };
            let picture = opt_str(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
            Ok(format::parse_integer(s, picture)?.map(Val::Num))
        }
        // ---------------------------------------------------------------- aggregation
        "sum" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) => num(numbers(name, v, 0)?.iter().sum()),
        },
        "max" | "min" | "average" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) => {
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
        },
        // ---------------------------------------------------------------- booleans
        "boolean" => Ok(arg(&args, 0).map(|v| Val::Bool(truthy(v)))),
        "not" => Ok(arg(&args, 0).map(|v| Val::Bool(!truthy(v)))),
        "exists" => ok(Val::Bool(arg(&args, 0).is_some())),
        // ---------------------------------------------------------------- arrays
        "count" => num(match arg(&args, 0) {
            None => 0.0,
            Some(v) => v.arr_len().unwrap_or(1) as f64,
        }),
        "append" => {
            let (a, b) = (arg(&args, 0), arg(&args, 1));
            match (a, b) {
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
        "sort" => sort(ev, args),
        "reverse" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) => {
                let mut out = items(v);
                out.reverse();
                ok(Val::array(out, 0)?)
            }
        },
        "shuffle" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) => {
                let mut out = items(v);
                ev.tick(out.len() as u64)?;
                for i in (1..out.len()).rev() {
                    let j = ev.rng.range_i64(0, i as i64) as usize;
                    out.swap(i, j);
                }
                ok(Val::array(out, 0)?)
            }
        },
        "distinct" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) if !v.is_array() => ok(v.clone()),
            Some(v) => {
                let all = v.arr_items();
                ev.tick((all.len() as u64).saturating_mul(all.len() as u64) / 4 + 1)?;
                let mut out: Vec<Val<'a>> = Vec::new();
                for x in all {
                    if !out.iter().any(|y| deep_equal(&x, y)) {
                        out.push(x);
                    }
                }
                ok(Val::seq(out))
            }
        },
        "zip" => {
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
        // ---------------------------------------------------------------- objects
        "keys" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) => {
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
        },
        "lookup" => {
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
        "spread" => match arg(&args, 0) {
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
        },
        "merge" => match arg(&args, 0) {
            None => Ok(None),
            Some(v) => {
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
        },
        "sift" | "each" => {
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
        "error" => {
            let msg = opt_str(name, &args, 0)?.unwrap_or("$error() function evaluated");
            Err(err("D3137", msg))
        }
        "assert" => match arg(&args, 0) {
            Some(Val::Bool(true)) => Ok(None),
            Some(Val::Bool(false)) => Err(err(
                "D3141",
                opt_str(name, &args, 1)?.unwrap_or("$assert() statement failed"),
            )),
            _ => Err(err(
                "T0410",
                "Argument 1 of function \"assert\" does not match function signature",
            )),
        },
        "type" => Ok(arg(&args, 0).map(|v| Val::str(v.type_name()))),
        // ---------------------------------------------------------------- time
        "now" => {
            let picture = opt_str(name, &args, 0)?;
            let tz = opt_str(name, &args, 1)?;
            ok(Val::string(format::from_millis(
                ev.now_millis as f64,
                picture,
                tz,
            )?))
        }
        "millis" => num(ev.now_millis as f64),
        "fromMillis" => {
            let Some(ms) = opt_num(name, &args, 0)? else {
                return Ok(None);
            };
            let picture = opt_str(name, &args, 1)?;
            let tz = opt_str(name, &args, 2)?;
            ok(Val::string(format::from_millis(ms, picture, tz)?))
        }
        "toMillis" => {
            let Some(s) = opt_str(name, &args, 0)? else {
                return Ok(None);
            };
            let picture = opt_str(name, &args, 1)?;
            Ok(format::to_millis(s, picture)?.map(Val::Num))
        }
        // ---------------------------------------------------------------- higher order
        "map" | "filter" => {
            let Some(v) = arg(&args, 0).cloned() else {
                return Ok(None);
            };
            let f = need_func(name, &args, 1)?;
            let list = items(&v);
            let whole = Val::array(list.clone(), 0)?;
            let arity = fn_arity(&f);
            let mut out = Vec::new();
            for (i, x) in list.into_iter().enumerate() {
                let mut call_args = vec![
                    Some(x.clone()),
                    Some(Val::Num(i as f64)),
                    Some(whole.clone()),
                ];
                call_args.truncate(arity.max(1));
                let r = ev.apply(&f, call_args, None)?;
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
        "single" => {
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
                    Some(f) => {
                        let mut call_args = vec![
                            Some(x.clone()),
                            Some(Val::Num(i as f64)),
                            Some(whole.clone()),
                        ];
                        call_args.truncate(fn_arity(f).max(1));
                        ev.apply(f, call_args, None)?.as_ref().is_some_and(truthy)
                    }
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
                None => Err(err("D3139", "The $single() function expected exactly 1 matching result.  Instead it matched 0.")),
            }
        }
        "reduce" => {
            let Some(v) = arg(&args, 0).cloned() else {
                return Ok(None);
            };
            let f = need_func(name, &args, 1)?;
            let arity = fn_arity(&f);
            if arity < 2 {
                return Err(err("D3050", "The second argument of reduce function must be a function with at least two arguments"));
            }
            let list = items(&v);
            let whole = Val::array(list.clone(), 0)?;
            let (mut acc, start) = match arg(&args, 2) {
                Some(init) => (Some(init.clone()), 0),
                None => (list.first().cloned(), 1),
            };
            for (i, x) in list.into_iter().enumerate().skip(start) {
                let mut call_args =
                    vec![acc, Some(x), Some(Val::Num(i as f64)), Some(whole.clone())];
                call_args.truncate(arity);
                acc = ev.apply(&f, call_args, None)?;
            }
            Ok(acc)
        }
        // ---------------------------------------------------------------- Step Functions
        "partition" => {
            let Some(v) = arg(&args, 0) else {
                return Ok(None);
            };
            let size = opt_num(name, &args, 1)?.ok_or_else(|| sig(name, 1))?;
            if size < 1.0 || size.fract() != 0.0 {
                return Err(err("D3040", format!("The size argument of function \"partition\" must be a positive integer: {}", string_num(size))));
            }
            let list = items(v);
            ev.tick(list.len() as u64)?;
            let mut out = Vec::new();
            for chunk in list.chunks(size.min(1e9) as usize) {
                out.push(Val::array(chunk.to_vec(), 0)?);
            }
            ok(Val::array(out, 0)?)
        }
        "range" => {
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
        "hash" => {
            let Some(data) = arg(&args, 0) else {
                return Ok(None);
            };
            let text = data
                .as_str()
                .map(str::to_string)
                .map_or_else(|| to_text(data), Ok)?;
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
        "uuid" => ok(Val::string(ev.rng.uuid_v4())),
        "parse" => {
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
        _ => Err(err("T1006", "Attempted to invoke a non-function")),
    }
}

fn fn_arity(f: &Val) -> usize {
    match f {
        Val::Func(func) => func.arity(),
        _ => 1,
    }
}

fn regex_arg<'a>(name: &str, args: &Args<'a>, i: usize) -> Result<&'a regex::Regex, JsonataError> {
    match arg(args, i) {
        Some(Val::Func(f)) => match &**f {
            Func::Regex(re) => Ok(*re),
            _ => Err(sig(name, i)),
        },
        _ => Err(sig(name, i)),
    }
}

/// The object a regular expression returns when called directly: `{match, start, end, groups}`.
pub(crate) fn regex_match_object<'a>(re: &regex::Regex, s: &str, from: usize) -> Option<Val<'a>> {
    let caps = re.captures_at(s, from)?;
    let m = caps.get(0)?;
    let mut o = IndexMap::new();
    o.insert("match".to_string(), Val::str(m.as_str()));
    o.insert(
        "start".to_string(),
        Val::Num(s[..m.start()].chars().count() as f64),
    );
    o.insert(
        "end".to_string(),
        Val::Num(s[..m.end()].chars().count() as f64),
    );
    let groups = (1..caps.len())
        .map(|i| Val::str(caps.get(i).map(|g| g.as_str()).unwrap_or("")))
        .collect();
    o.insert("groups".to_string(), Val::array(groups, 0).ok()?);
    Val::object(o).ok()
}

fn replace<'a>(ev: &mut Ev<'a>, args: Args<'a>) -> R<'a> {
    let name = "replace";
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
            let re: &regex::Regex = re;
            let mut out = String::new();
            let mut last = 0;
            let mut count = 0;
            for caps in re.captures_iter(&s) {
                if limit.is_some_and(|l| count >= l) {
                    break;
                }
                ev.tick(1)?;
                let Some(m) = caps.get(0) else { continue };
                if m.as_str().is_empty() {
                    return Err(err(
                        "D1004",
                        "Regular expression matches zero length string",
                    ));
                }
                out.push_str(&s[last..m.start()]);
                match replacement.as_str() {
                    Some(r) => out.push_str(&substitute(r, &caps)),
                    None => {
                        let groups = (1..caps.len())
                            .map(|i| Val::str(caps.get(i).map(|g| g.as_str()).unwrap_or("")))
                            .collect();
                        let mut o = IndexMap::new();
                        o.insert("match".to_string(), Val::str(m.as_str()));
                        o.insert(
                            "index".to_string(),
                            Val::Num(s[..m.start()].chars().count() as f64),
                        );
                        o.insert("groups".to_string(), Val::array(groups, 0)?);
                        out.push_str(&replacement_text(ev, &replacement, Val::object(o)?)?);
                    }
                }
                last = m.end();
                count += 1;
            }
            out.push_str(&s[last..]);
            Ok(Some(Val::string(out)))
        }
        _ => Err(sig(name, 1)),
    }
}

fn replacement_text<'a>(ev: &mut Ev<'a>, f: &Val<'a>, m: Val<'a>) -> Result<String, JsonataError> {
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
fn substitute(r: &str, caps: &regex::Captures) -> String {
    let groups = caps.len() - 1;
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
                out.push_str(caps.get(n).map(|g| g.as_str()).unwrap_or(""));
                out.push_str(&digits[used..]);
            }
            None => out.push_str(&digits[1..]),
        }
        i = j;
    }
    out
}

fn sort<'a>(ev: &mut Ev<'a>, args: Args<'a>) -> R<'a> {
    let name = "sort";
    let Some(v) = arg(&args, 0).cloned() else {
        return Ok(None);
    };
    let list = items(&v);
    let f = opt_func(name, &args, 1)?;
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
    ev: &mut Ev<'a>,
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

/// Round half to even at `precision` decimal places, shifting by decimal exponent (not by
/// multiplying) so that 1.255 is seen as 125.5, as JSONata does.
pub(crate) fn round_half_even(n: f64, precision: i32) -> f64 {
    if !n.is_finite() {
        return n;
    }
    let shift = |x: f64, p: i32| -> f64 {
        let s = format!("{x:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}", e + p).parse().unwrap_or(x)
    };
    let v = if precision != 0 {
        shift(n, precision)
    } else {
        n
    };
    let mut r = v.round();
    if (r - v).abs() == 0.5 && r % 2.0 != 0.0 {
        r -= (r - v).signum();
    }
    let out = if precision != 0 {
        shift(r, -precision)
    } else {
        r
    };
    if out == 0.0 {
        0.0
    } else {
        out
    }
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
        if body.is_empty()
            || !body
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        {
            return None;
        }
        if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
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

fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
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
    fn rounding_is_half_even_on_decimal_digits() {
        assert_eq!(round_half_even(2.5, 0), 2.0);
        assert_eq!(round_half_even(3.5, 0), 4.0);
        assert_eq!(round_half_even(-2.5, 0), -2.0);
        assert_eq!(round_half_even(1.255, 2), 1.26);
        assert_eq!(round_half_even(1234.0, -2), 1200.0);
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
        assert_eq!(url_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(url_decode("%zz"), None);
    }
}
