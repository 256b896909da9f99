//! Checking a call's arguments against a JSONata function signature ([`Signature::validate`]):
//! the matcher and jsonata-js 2.0.6's `T0410`/`T0411`/`T0412` errors. The signature itself and
//! its parsing are `signature.rs`, which the parser uses without depending on values.

use super::signature::{Count, Param, Signature, MAX_PARAMS};
use super::value::{err, Val};
use super::JsonataError;

impl Signature {
    /// Checks `args` against the signature. Returns the arguments the function receives: the
    /// context value substituted for a missing `-` parameter and, when `wrap_arrays`, a single
    /// value given for an array parameter wrapped into an array. Allocates nothing when the
    /// arguments pass through unchanged (the common case).
    pub(crate) fn validate<'a>(
        &self,
        name: &str,
        args: Vec<Option<Val<'a>>>,
        ctx: Option<&Val<'a>>,
        wrap_arrays: bool,
    ) -> Result<Vec<Option<Val<'a>>>, JsonataError> {
        let syms = |i: usize| symbol(args.get(i).and_then(|a| a.as_ref()));
        let mut spans = [(0usize, 0usize); MAX_PARAMS];
        if self.params.len() > MAX_PARAMS
            || !self.matches(0, &syms, args.len(), 0, true, &mut spans)
        {
            return Err(self.mismatch(name, &syms, args.len()));
        }
        let mut changed = false;
        for (p, &(start, len)) in self.params.iter().zip(spans.iter()) {
            if len == 0 && p.count == Count::Context {
                if !p.accepts.contains(symbol(ctx)) {
                    return Err(err(
                        "T0411",
                        format!(
                            "Context value is not a compatible type with argument {} of function \"{name}\"",
                            start + 1
                        ),
                    ));
                }
                changed = true;
            }
            if p.kind == 'a' {
                for i in start..start + len {
                    let a = args.get(i).and_then(|a| a.as_ref());
                    check_items(p, name, a, i)?;
                    changed |= wrap_arrays && a.is_some_and(|v| !v.is_array());
                }
            }
        }
        if !changed {
            return Ok(args);
        }
        let mut out = Vec::with_capacity(args.len() + 1);
        let mut it = args.into_iter();
        for (p, &(_, len)) in self.params.iter().zip(spans.iter()) {
            if len == 0 && p.count == Count::Context {
                out.push(ctx.cloned());
            }
            for _ in 0..len {
                let a = it.next().flatten();
                match a {
                    Some(v) if p.kind == 'a' && wrap_arrays && !v.is_array() => {
                        out.push(Some(Val::array(vec![v], 0)?))
                    }
                    a => out.push(a),
                }
            }
        }
        Ok(out)
    }

    /// Greedy, backtracking match of parameters `pi..` against the symbols `at..n`; records
    /// `(start, length)` per parameter. `whole` requires every symbol to be consumed.
    fn matches(
        &self,
        pi: usize,
        syms: &dyn Fn(usize) -> char,
        n: usize,
        at: usize,
        whole: bool,
        spans: &mut [(usize, usize); MAX_PARAMS],
    ) -> bool {
        let Some(p) = self.params.get(pi) else {
            return !whole || at == n;
        };
        let run = (at..n).take_while(|i| p.accepts.contains(syms(*i))).count();
        let (lo, hi) = match p.count {
            Count::One => (1, run.min(1)),
            Count::Optional | Count::Context => (0, run.min(1)),
            Count::OneOrMore => (1, run),
        };
        let mut take = hi;
        while take >= lo {
            spans[pi] = (at, take);
            if self.matches(pi + 1, syms, n, at + take, whole, spans) {
                return true;
            }
            if take == 0 {
                break;
            }
            take -= 1;
        }
        false
    }

    /// The `T0410` error for arguments that match no way: it names the first argument that
    /// the longest matching prefix of parameters cannot take (jsonata-js's rule).
    fn mismatch(&self, name: &str, syms: &dyn Fn(usize) -> char, n: usize) -> JsonataError {
        let mut good_to = 0;
        let mut spans = [(0usize, 0usize); MAX_PARAMS];
        for k in 1..=self.params.len().min(MAX_PARAMS) {
            let prefix = Signature {
                params: self.params[..k].to_vec(),
            };
            if !prefix.matches(0, syms, n, 0, false, &mut spans) {
                break;
            }
            good_to = spans[k - 1].0 + spans[k - 1].1;
        }
        err(
            "T0410",
            format!(
                "Argument {} of function \"{name}\" does not match function signature",
                good_to + 1
            ),
        )
    }
}

/// Checks the items of an array argument against the parameter's subtype (`a<n>`).
fn check_items(
    p: &Param,
    name: &str,
    a: Option<&Val<'_>>,
    index: usize,
) -> Result<(), JsonataError> {
    let (Some(sub), Some(v)) = (p.subtype, a) else {
        return Ok(());
    };
    let ok = if v.is_array() {
        let items = v.arr_items();
        match items.first() {
            None => true,
            Some(first) => {
                let t = symbol(Some(first));
                t == sub && items.iter().all(|x| symbol(Some(x)) == t)
            }
        }
    } else {
        symbol(Some(v)) == sub
    };
    if ok {
        return Ok(());
    }
    let what = match sub {
        's' => "strings",
        'n' => "numbers",
        'b' => "booleans",
        'o' => "objects",
        'a' => "arrays",
        'f' => "functions",
        _ => "values of the same type",
    };
    Err(err(
        "T0412",
        format!(
            "Argument {} of function \"{name}\" must be an array of {what}",
            index + 1
        ),
    ))
}

/// jsonata-js's type symbol of a value (`m` for undefined).
fn symbol(v: Option<&Val<'_>>) -> char {
    match v {
        None => 'm',
        Some(Val::Null) => 'l',
        Some(Val::Bool(_)) => 'b',
        Some(Val::Num(_)) => 'n',
        Some(Val::Str(_)) => 's',
        Some(Val::Func(_)) => 'f',
        Some(v) if v.as_str().is_some() => 's',
        Some(v) if v.is_array() => 'a',
        Some(_) => 'o',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sig: &str, args: Vec<Option<Val<'static>>>) -> Result<usize, String> {
        Signature::parse(sig)
            .map_err(|e| e.code)?
            .validate("f", args, None, false)
            .map(|v| v.len())
            .map_err(|e| e.code)
    }

    #[test]
    fn counts_and_types() {
        let n = |x: f64| Some(Val::Num(x));
        let s = |x: &str| Some(Val::str(x));
        assert_eq!(check("<n-n:n>", vec![n(1.0), n(2.0)]), Ok(2));
        assert_eq!(check("<n-n:n>", vec![n(1.0)]), Ok(2));
        assert_eq!(check("<a<n>:n>", vec![n(1.0), n(2.0)]), Err("T0410".into()));
        assert_eq!(check("<s-:s>", vec![n(1.0)]), Err("T0410".into()));
        assert_eq!(check("<a+>", vec![]), Err("T0410".into()));
        assert_eq!(check("<s-(sf)n?:a<s>>", vec![s("a"), s(",")]), Ok(2));
        assert_eq!(check("<xx:a>", vec![n(1.0)]), Err("T0410".into()));
        assert_eq!(check("<x:b>", vec![]), Err("T0410".into()));
        let mixed = Some(Val::array(vec![Val::Num(1.0), Val::str("a")], 0).unwrap());
        assert_eq!(check("<a<n>:n>", vec![mixed]), Err("T0412".into()));
        // An unknown symbol is skipped, as jsonata-js's parser does.
        assert_eq!(check("<q>", vec![]), Ok(0));
        assert_eq!(check("<qn>", vec![n(1.0)]), Ok(1));
        assert_eq!(check("<z>", vec![n(1.0)]), Err("T0410".into()));
    }

    #[test]
    fn context_stands_in_for_a_missing_first_argument() {
        let sig = Signature::parse("<s-:n>").unwrap();
        let ctx = Val::str("abc");
        let out = sig.validate("length", vec![], Some(&ctx), false).unwrap();
        assert_eq!(out.len(), 1);
        let num = Val::Num(1.0);
        let e = sig
            .validate("length", vec![], Some(&num), false)
            .unwrap_err();
        assert_eq!(e.code, "T0411");
    }
}
