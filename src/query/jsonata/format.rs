//! Formatting functions whose rules come from XPath/XQuery 3.1 (as JSONata specifies them):
//! `$formatNumber` (decimal-format pictures) and `$formatBase`. Integer pictures live in
//! `intpic.rs`, date pictures in `datetime.rs`.

use super::value::{err, js_num, round_half_even, Val};
use super::JsonataError;
use std::rc::Rc;

// ---------------------------------------------------------------------------------------------
// $formatBase

pub(crate) fn to_radix(n: f64, radix: u32) -> String {
    let neg = n < 0.0;
    let mut v = n.abs().min(9.007_199_254_740_992e15) as u64;
    if v == 0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    while v > 0 {
        let d = (v % radix as u64) as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('?'));
        v /= radix as u64;
    }
    let s: String = digits.into_iter().rev().collect();
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// $formatNumber

struct DecimalFormat {
    decimal: char,
    grouping: char,
    exponent: char,
    minus: char,
    percent: char,
    permille: char,
    zero: char,
    digit: char,
    pattern_sep: char,
}

fn option_char(options: Option<&Val>, key: &str, default: char) -> char {
    options
        .and_then(|o| o.field(key))
        .and_then(|v| v.as_str().and_then(|s| s.chars().next()))
        .unwrap_or(default)
}

impl DecimalFormat {
    /// The decimal format named by `$formatNumber`'s options object (XPath's defaults).
    fn from_options(options: Option<&Val>) -> Self {
        DecimalFormat {
            decimal: option_char(options, "decimal-separator", '.'),
            grouping: option_char(options, "grouping-separator", ','),
            exponent: option_char(options, "exponent-separator", 'e'),
            minus: option_char(options, "minus-sign", '-'),
            percent: option_char(options, "percent", '%'),
            permille: option_char(options, "per-mille", '\u{2030}'),
            zero: option_char(options, "zero-digit", '0'),
            digit: option_char(options, "digit", '#'),
            pattern_sep: option_char(options, "pattern-separator", ';'),
        }
    }

    /// One of the ten digits from the zero digit.
    fn is_family(&self, c: char) -> bool {
        c as u32 >= self.zero as u32 && (c as u32) < self.zero as u32 + 10
    }

    /// A digit of the family or the optional digit (`#`).
    fn is_digit(&self, c: char) -> bool {
        c == self.digit || self.is_family(c)
    }

    fn is_active(&self, c: char) -> bool {
        self.is_digit(c)
            || c == self.decimal
            || c == self.exponent
            || c == self.grouping
            || c == self.pattern_sep
    }

    /// An ASCII digit written in this format's digit family.
    fn shift_digit(&self, c: char) -> char {
        if c.is_ascii_digit() {
            char::from_u32(self.zero as u32 + c.to_digit(10).unwrap_or(0)).unwrap_or(c)
        } else {
            c
        }
    }
}

fn index_of(s: &[char], c: char, from: usize) -> Option<usize> {
    s.iter().skip(from).position(|x| *x == c).map(|i| i + from)
}

fn count(s: &[char], f: impl Fn(char) -> bool) -> usize {
    s.iter().filter(|c| f(**c)).count()
}

/// One sub-picture split as jsonata-js splits it (F&O 4.7.2), its quirks included: with no
/// decimal separator the "fractional part" is the suffix, and an exponent's position is
/// taken in the sub-picture but applied to its active part.
struct Parts {
    sub: Vec<char>,
    prefix: Vec<char>,
    suffix: Vec<char>,
    active: Vec<char>,
    mantissa: Vec<char>,
    exponent: Option<Vec<char>>,
    integer: Vec<char>,
    fraction: Vec<char>,
}

fn split_parts(sub: &str, f: &DecimalFormat) -> Result<Parts, JsonataError> {
    let sub: Vec<char> = sub.chars().collect();
    let marks = |c: char| f.is_active(c) && c != f.exponent;
    let (Some(first), Some(last)) = (
        sub.iter().position(|c| marks(*c)),
        sub.iter().rposition(|c| marks(*c)),
    ) else {
        return Err(err("D3085", picture_message("D3085")));
    };
    let prefix = sub[..first].to_vec();
    let suffix = sub[last + 1..].to_vec();
    let active = sub[first..=last].to_vec();
    let cut = |v: &[char], from: usize, to: usize| v[from.min(v.len())..to.min(v.len())].to_vec();
    let (mantissa, exponent) = match index_of(&sub, f.exponent, prefix.len()) {
        Some(e) if e <= sub.len() - suffix.len() => {
            (cut(&active, 0, e), Some(cut(&active, e + 1, active.len())))
        }
        _ => (active.clone(), None),
    };
    let (integer, fraction) = match index_of(&mantissa, f.decimal, 0) {
        None => (mantissa.clone(), suffix.clone()),
        Some(d) => (mantissa[..d].to_vec(), mantissa[d + 1..].to_vec()),
    };
    Ok(Parts {
        sub,
        prefix,
        suffix,
        active,
        mantissa,
        exponent,
        integer,
        fraction,
    })
}

/// F&O 4.7.3's checks in jsonata-js's order: when several fail, the last one is reported.
fn validate(p: &Parts, f: &DecimalFormat) -> Result<(), JsonataError> {
    let s = &p.sub;
    let first = |c: char| s.iter().position(|x| *x == c);
    let last = |c: char| s.iter().rposition(|x| *x == c);
    let mut code = None;
    let dec = first(f.decimal);
    let mut set = |cond: bool, c: &'static str| {
        if cond {
            code = Some(c);
        }
    };
    set(dec != last(f.decimal), "D3081");
    set(first(f.percent) != last(f.percent), "D3082");
    set(first(f.permille) != last(f.permille), "D3083");
    set(
        first(f.percent).is_some() && first(f.permille).is_some(),
        "D3084",
    );
    set(!p.mantissa.iter().any(|c| f.is_digit(*c)), "D3085");
    set(p.active.iter().any(|c| !f.is_active(*c)), "D3086");
    match dec {
        Some(d) => {
            let before = d.checked_sub(1).and_then(|i| s.get(i)) == Some(&f.grouping);
            set(before || s.get(d + 1) == Some(&f.grouping), "D3087");
        }
        None => set(p.integer.last() == Some(&f.grouping), "D3088"),
    }
    set(
        s.windows(2)
            .any(|w| w[0] == f.grouping && w[1] == f.grouping),
        "D3089",
    );
    if let Some(o) = index_of(&p.integer, f.digit, 0) {
        set(p.integer[..o].iter().any(|c| f.is_family(*c)), "D3090");
    }
    if let Some(o) = p.fraction.iter().rposition(|c| *c == f.digit) {
        set(p.fraction[o..].iter().any(|c| f.is_family(*c)), "D3091");
    }
    if let Some(e) = &p.exponent {
        let scaled = first(f.percent).is_some() || first(f.permille).is_some();
        set(!e.is_empty() && scaled, "D3092");
        set(e.is_empty() || e.iter().any(|c| !f.is_family(*c)), "D3093");
    }
    match code {
        Some(c) => Err(err(c, picture_message(c))),
        None => Ok(()),
    }
}

fn picture_message(code: &str) -> &'static str {
    match code {
        "D3081" => "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
        "D3082" => "The sub-picture must not contain more than one instance of the 'percent' character",
        "D3083" => "The sub-picture must not contain more than one instance of the 'per-mille' character",
        "D3084" => "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
        "D3085" => "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
        "D3086" => "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character",
        "D3087" => "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
        "D3088" => "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
        "D3089" => "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
        "D3090" => "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'",
        "D3091" => "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'",
        "D3092" => "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'",
        _ => "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'",
    }
}

/// What formatting needs from a sub-picture (F&O 4.7.4).
#[derive(Clone)]
struct Picture {
    sub: Vec<char>,
    prefix: String,
    suffix: String,
    int_groups: Vec<usize>,
    regular: usize,
    frac_groups: Vec<usize>,
    min_int: usize,
    scaling: i32,
    min_frac: usize,
    max_frac: usize,
    min_exp: usize,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Grouping positions: digits to the right of each separator (or to its left, `to_left`).
/// jsonata-js looks for the next separator in the integer part even when reading the
/// fractional part; that is kept.
fn grouping_positions(part: &[char], p: &Parts, f: &DecimalFormat, to_left: bool) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = index_of(part, f.grouping, 0);
    while let Some(g) = at {
        let side = if to_left {
            &part[..g.min(part.len())]
        } else {
            &part[g.min(part.len())..]
        };
        out.push(count(side, |c| f.is_digit(c)));
        at = index_of(&p.integer, f.grouping, g + 1);
    }
    out
}

fn analyse(p: &Parts, f: &DecimalFormat) -> Picture {
    let int_groups = grouping_positions(&p.integer, p, f, false);
    let mut regular = 0;
    if let Some(factor) = int_groups.iter().copied().reduce(gcd) {
        regular = factor;
        if (1..=int_groups.len()).any(|i| !int_groups.contains(&(i * factor))) {
            regular = 0;
        }
    }
    let frac_groups = grouping_positions(&p.fraction, p, f, true);
    let mut min_int = count(&p.integer, |c| f.is_family(c));
    let scaling = min_int as i32;
    let mut min_frac = count(&p.fraction, |c| f.is_family(c));
    let mut max_frac = count(&p.fraction, |c| f.is_digit(c));
    let has_exp = p.exponent.is_some();
    if min_int == 0 && max_frac == 0 {
        if has_exp {
            min_frac = 1;
            max_frac = 1;
        } else {
            min_int = 1;
        }
    }
    if has_exp && min_int == 0 && p.integer.contains(&f.digit) {
        min_int = 1;
    }
    if min_int == 0 && min_frac == 0 {
        min_frac = 1;
    }
    let min_exp = p
        .exponent
        .as_ref()
        .map(|e| count(e, |c| f.is_family(c)))
        .unwrap_or(0);
    Picture {
        sub: p.sub.clone(),
        prefix: p.prefix.iter().collect(),
        suffix: p.suffix.iter().collect(),
        int_groups,
        regular,
        frac_groups,
        min_int,
        scaling,
        min_frac,
        max_frac,
        min_exp,
    }
}

/// JavaScript's `Math.abs(v).toFixed(dp)`, digits then moved to the format's family.
fn make_string(v: f64, dp: usize, f: &DecimalFormat) -> String {
    let v = v.abs();
    let text = if v >= 1e21 || !v.is_finite() {
        js_num(v)
    } else {
        format!("{v:.dp$}")
    };
    text.chars().map(|c| f.shift_digit(c)).collect()
}

/// JavaScript's `s.slice(0, k)` + `sep` + `s.slice(k)`, negative `k` counting from the end.
fn insert_at(s: &[char], k: i64, sep: char) -> Vec<char> {
    let len = s.len() as i64;
    let k = if k < 0 { (len + k).max(0) } else { k.min(len) } as usize;
    let mut out = s[..k].to_vec();
    out.push(sep);
    out.extend_from_slice(&s[k..]);
    out
}

/// Mantissa and exponent with the mantissa in [10^(scaling-1), 10^scaling]. jsonata-js
/// loops forever on zero and negative values; here those keep exponent 0 or use the size.
fn scale(value: f64, scaling: i32) -> (f64, i32) {
    if value == 0.0 || !value.is_finite() {
        return (value, 0);
    }
    let (max, min) = (10f64.powi(scaling), 10f64.powi(scaling - 1));
    let (mut m, mut e) = (value.abs(), 0);
    while m < min {
        m *= 10.0;
        e -= 1;
    }
    while m > max {
        m /= 10.0;
        e += 1;
    }
    (m.copysign(value), e)
}

/// How many analysed pictures each thread keeps.
const PICTURE_CACHE: usize = 8;

thread_local! {
    static PICTURES: std::cell::RefCell<Vec<(String, Rc<[Picture; 2]>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The positive and negative sub-pictures of `picture` (F&O 4.7.3–4.7.4), checked.
fn pictures(picture: &str, f: &DecimalFormat) -> Result<[Picture; 2], JsonataError> {
    let subs: Vec<&str> = picture.split(f.pattern_sep).collect();
    if subs.len() > 2 {
        return Err(err("D3080", "The picture string must not contain more than one instance of the pattern-separator character"));
    }
    let parts = subs
        .iter()
        .map(|s| split_parts(s, f))
        .collect::<Result<Vec<_>, _>>()?;
    for p in &parts {
        validate(p, f)?;
    }
    let positive = analyse(&parts[0], f);
    let negative = match parts.get(1) {
        Some(p) => analyse(p, f),
        None => {
            let mut neg = positive.clone();
            neg.prefix.insert(0, f.minus);
            neg
        }
    };
    Ok([positive, negative])
}

/// `$formatNumber(value, picture, options)` as jsonata-js 2.0.6 writes it (F&O 4.7).
pub(crate) fn format_number(
    value: f64,
    picture: &str,
    options: Option<&Val>,
) -> Result<String, JsonataError> {
    let f = DecimalFormat::from_options(options);
    // A picture is analysed once per thread and reused while it stays among the last few
    // seen (a Map over items formats each with the same picture); pictures with options are
    // analysed every time.
    let pics = if options.is_none() {
        PICTURES.with(|cache| -> Result<Rc<[Picture; 2]>, JsonataError> {
            let mut cache = cache.borrow_mut();
            if let Some(hit) = cache.iter().find(|(p, _)| p == picture) {
                return Ok(hit.1.clone());
            }
            let pics = Rc::new(pictures(picture, &f)?);
            if cache.len() >= PICTURE_CACHE {
                cache.remove(0);
            }
            cache.push((picture.to_string(), pics.clone()));
            Ok(pics)
        })?
    } else {
        Rc::new(pictures(picture, &f)?)
    };
    let pic = if value >= 0.0 { &pics[0] } else { &pics[1] };
    let adjusted = if pic.sub.contains(&f.percent) {
        value * 100.0
    } else if pic.sub.contains(&f.permille) {
        value * 1000.0
    } else {
        value
    };
    let (mantissa, exponent) = if pic.min_exp == 0 {
        (adjusted, None)
    } else {
        let (m, e) = scale(adjusted, pic.scaling);
        (m, Some(e))
    };
    let rounded = round_half_even(mantissa, pic.max_frac as i32);
    let mut text = digits_of(rounded, pic, &f);
    if let Some(e) = exponent {
        let mut digits = make_string(e as f64, 0, &f);
        while digits.chars().count() < pic.min_exp {
            digits.insert(0, '0');
        }
        text.push(f.exponent);
        if e < 0 {
            text.push(f.minus);
        }
        text.push_str(&digits);
    }
    Ok(format!("{}{text}{}", pic.prefix, pic.suffix))
}

/// F&O 4.7.5 bullets 7 to 12: the digits of the rounded mantissa, padded and grouped.
fn digits_of(rounded: f64, pic: &Picture, f: &DecimalFormat) -> String {
    let fixed = make_string(rounded, pic.max_frac, f);
    let mut s: Vec<char> = if fixed.contains('.') {
        fixed
            .replacen('.', &f.decimal.to_string(), 1)
            .chars()
            .collect()
    } else {
        fixed.chars().chain(std::iter::once(f.decimal)).collect()
    };
    while s.first() == Some(&f.zero) {
        s.remove(0);
    }
    while s.last() == Some(&f.zero) {
        s.pop();
    }
    let dec = index_of(&s, f.decimal, 0).map(|d| d as i64).unwrap_or(-1);
    let pad_left = pic.min_int as i64 - dec;
    let pad_right = pic.min_frac as i64 - (s.len() as i64 - dec - 1);
    if pad_left > 0 {
        s.splice(0..0, std::iter::repeat_n('0', pad_left as usize));
    }
    if pad_right > 0 {
        s.extend(std::iter::repeat_n('0', pad_right as usize));
    }
    let mut dec = index_of(&s, f.decimal, 0).map(|d| d as i64).unwrap_or(-1);
    if pic.regular > 0 {
        let groups = (dec - 1).div_euclid(pic.regular as i64);
        for g in 1..=groups {
            s = insert_at(&s, dec - g * pic.regular as i64, f.grouping);
        }
    } else {
        for pos in &pic.int_groups {
            s = insert_at(&s, dec - *pos as i64, f.grouping);
            dec += 1;
        }
    }
    let dec = index_of(&s, f.decimal, 0).map(|d| d as i64).unwrap_or(-1);
    for pos in &pic.frac_groups {
        s = insert_at(&s, *pos as i64 + dec + 1, f.grouping);
    }
    let dec = index_of(&s, f.decimal, 0).map(|d| d as i64);
    if !pic.sub.contains(&f.decimal) || dec == Some(s.len() as i64 - 1) {
        s.pop();
    }
    s.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::datetime::{from_millis, to_millis};
    use super::super::intpic::{format_integer, parse_integer};
    use super::*;

    #[test]
    fn dates_format_and_parse() {
        assert_eq!(
            from_millis(0.0, None, None).unwrap(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            from_millis(1_700_000_000_000.0, Some("[Y0001]-[M01]-[D01]"), None).unwrap(),
            "2023-11-14"
        );
        assert_eq!(
            from_millis(
                1_700_000_000_123.0,
                Some("[H01]:[m01]:[s01].[f001] [Z]"),
                Some("+0130")
            )
            .unwrap(),
            "23:43:20.123 +01:30"
        );
        assert_eq!(
            from_millis(0.0, Some("[FNn], [D1o] [MNn] [Y]"), None).unwrap(),
            "Thursday, 1st January 1970"
        );
        assert_eq!(
            to_millis("2024-11-15T17:12:32.000Z", None, 0.0).unwrap(),
            Some(1_731_690_752_000.0)
        );
        assert_eq!(
            to_millis("2024-11-15", Some("[Y]-[M]-[D]"), 0.0).unwrap(),
            Some(1_731_628_800_000.0)
        );
        assert!(to_millis("nope", None, 0.0).is_err());
    }

    #[test]
    fn numbers_by_picture() {
        assert_eq!(
            format_number(1234.5678, "#,##0.00", None).unwrap(),
            "1,234.57"
        );
        assert_eq!(format_number(0.25, "0%", None).unwrap(), "25%");
        assert_eq!(format_number(-3.0, "0.0", None).unwrap(), "-3.0");
        assert_eq!(format_number(1234.5, "0.0e0", None).unwrap(), "1.2e3");
        assert_eq!(
            format_integer(123.0, "w").unwrap(),
            "one hundred and twenty-three"
        );
        assert_eq!(format_integer(1999.0, "I").unwrap(), "MCMXCIX");
        assert_eq!(format_integer(2.0, "1;o").unwrap(), "2nd");
        assert_eq!(format_integer(1234567.0, "#,##0").unwrap(), "1,234,567");
        assert_eq!(parse_integer("twelve", "w").unwrap(), 12.0);
        assert_eq!(parse_integer("MCMXCIX", "I").unwrap(), 1999.0);
        assert_eq!(to_radix(255.0, 16), "ff");
    }
}
