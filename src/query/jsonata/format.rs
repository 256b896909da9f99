//! Formatting functions whose rules come from XPath/XQuery 3.1 (as JSONata specifies them):
//! `$formatNumber` (decimal-format pictures), `$formatInteger`/`$parseInteger` (digits, words,
//! roman numerals, letters), `$formatBase`, and the date pictures of `$fromMillis`/`$now` and
//! `$toMillis`. Dates are computed with chrono from the millisecond value given, never from the
//! host clock.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};

use super::value::{err, round_half_even, string_num, Val};
use super::JsonataError;

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

    /// An optional digit (`#`) or one of the ten digits from the zero digit.
    fn is_digit(&self, c: char) -> bool {
        c == self.digit || (c as u32 >= self.zero as u32 && (c as u32) < self.zero as u32 + 10)
    }

    fn is_active(&self, c: char) -> bool {
        self.is_digit(c) || c == self.decimal || c == self.grouping || c == self.exponent
    }

    fn is_mandatory(&self, c: char) -> bool {
        c != self.digit && self.is_digit(c)
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

/// One sub-picture of `$formatNumber`, read into what the formatting needs.
struct NumberPicture {
    prefix: String,
    suffix: String,
    min_int: usize,
    min_frac: usize,
    max_frac: usize,
    /// The least number of exponent digits, when the picture has an exponent.
    min_exp: Option<usize>,
    /// Grouping positions, counted from the right of the integer part.
    groups: Vec<usize>,
    /// The groups are evenly spaced, so they repeat to the left.
    regular: bool,
}

impl NumberPicture {
    fn parse(pic: &str, f: &DecimalFormat) -> Result<Self, JsonataError> {
        let chars: Vec<char> = pic.chars().collect();
        let first = chars.iter().position(|&c| f.is_digit(c) || c == f.decimal);
        let Some(first) = first else {
            return Err(err(
                "D3085",
                "The picture string must contain at least one digit or decimal-separator character",
            ));
        };
        let mut last = first;
        for (i, &c) in chars.iter().enumerate().skip(first) {
            if f.is_active(c) {
                last = i;
            } else {
                break;
            }
        }
        // An exponent separator at the end is a literal suffix letter, not an exponent.
        if chars[last] == f.exponent {
            last -= 1;
        }
        let body: String = chars[first..=last].iter().collect();
        let (mantissa_pic, exp_pic) = match body.split_once(f.exponent) {
            Some((m, e)) => (m, Some(e)),
            None => (body.as_str(), None),
        };
        let (int_pic, frac_pic) = mantissa_pic
            .split_once(f.decimal)
            .unwrap_or((mantissa_pic, ""));
        let mandatory = |s: &str| s.chars().filter(|&c| f.is_mandatory(c)).count();
        let mut groups = Vec::new();
        let mut digits = 0;
        for c in int_pic.chars().rev() {
            if c == f.grouping {
                groups.push(digits);
            } else if f.is_digit(c) {
                digits += 1;
            }
        }
        // A zero first group (a separator right at the end) is never regular: it would make
        // every position a group boundary (and `rem % 0` divide by zero).
        let regular = groups.first().is_some_and(|&g| g > 0)
            && groups
                .iter()
                .enumerate()
                .all(|(i, &g)| g == groups[0] * (i + 1));
        Ok(NumberPicture {
            prefix: chars[..first].iter().collect(),
            suffix: chars[last + 1..].iter().collect(),
            min_int: mandatory(int_pic),
            // No mandatory digit on either side of the separator (`#.#`): one fractional
            // digit is shown (`1.0`), as in jsonata-js.
            min_frac: if mandatory(int_pic) == 0
                && mandatory(frac_pic) == 0
                && frac_pic.chars().any(|c| f.is_digit(c))
            {
                1
            } else {
                mandatory(frac_pic)
            },
            max_frac: frac_pic.chars().filter(|&c| f.is_digit(c)).count(),
            min_exp: exp_pic.map(|e| mandatory(e).max(1)),
            groups,
            regular,
        })
    }

    /// `value` scaled for the exponent, and the exponent's text (empty without one).
    fn exponent(&self, mut value: f64, f: &DecimalFormat) -> (f64, String) {
        let Some(min_exp) = self.min_exp else {
            return (value, String::new());
        };
        // The mantissa lies in [10^(m-1), 10^m] for m mandatory integer digits (jsonata-js's
        // scaling: `#.##e0` gives 0.12e4). Zero stays zero (jsonata-js loops forever on it).
        let max_mantissa = 10f64.powi(self.min_int as i32);
        let min_mantissa = 10f64.powi(self.min_int as i32 - 1);
        let mut e = 0i32;
        if value > 0.0 && value.is_finite() {
            // jsonata-js's loops, so that edge values land where it puts them (1e10 with
            // `0e0` is 10e9); a finite double needs at most ~650 steps either way.
            let mut guard = 0;
            while value < min_mantissa && guard < 800 {
                value *= 10.0;
                e -= 1;
                guard += 1;
            }
            while value > max_mantissa && guard < 1600 {
                value /= 10.0;
                e += 1;
                guard += 1;
            }
        }
        let sign = if e < 0 {
            f.minus.to_string()
        } else {
            String::new()
        };
        let text = format!("{}{sign}{:0>width$}", f.exponent, e.abs(), width = min_exp);
        (value, text)
    }

    /// The integer digits with the grouping separators put in.
    fn group(&self, ipart: &str, f: &DecimalFormat) -> String {
        let mut grouped = String::new();
        let digits: Vec<char> = ipart.chars().collect();
        for (i, c) in digits.iter().enumerate() {
            grouped.push(*c);
            let rem = digits.len() - i - 1;
            if rem > 0 {
                let here = if self.regular {
                    rem % self.groups[0] == 0
                } else {
                    self.groups.contains(&rem)
                };
                if here {
                    grouped.push(f.grouping);
                }
            }
        }
        grouped
    }
}

/// The checks of XPath F&O 4.7.3 on one sub-picture, with jsonata-js's codes. When several
/// rules are broken, the last one in this order is reported (as jsonata-js does).
fn validate_picture(sub: &str, f: &DecimalFormat) -> Result<(), JsonataError> {
    let chars: Vec<char> = sub.chars().collect();
    let is_family = |c: char| c as u32 >= f.zero as u32 && (c as u32) < f.zero as u32 + 10;
    let active = |c: char| {
        is_family(c)
            || c == f.decimal
            || c == f.exponent
            || c == f.grouping
            || c == f.digit
            || c == f.pattern_sep
    };
    let anchor = |c: char| active(c) && c != f.exponent;
    let start = chars.iter().position(|&c| anchor(c)).unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|&c| anchor(c))
        .map(|i| i + 1)
        .unwrap_or(start)
        .max(start);
    let active_part = &chars[start..end];
    let exp_at = chars[start..]
        .iter()
        .position(|&c| c == f.exponent)
        .map(|i| i + start);
    let (mantissa, exponent): (&[char], Option<&[char]>) = match exp_at {
        Some(e) if e <= end => {
            let rel = (e - start).min(active_part.len());
            (
                &active_part[..rel],
                Some(active_part.get(rel + 1..).unwrap_or(&[])),
            )
        }
        _ => (active_part, None),
    };
    let suffix = &chars[end..];
    let (integer, fractional): (&[char], &[char]) =
        match mantissa.iter().position(|&c| c == f.decimal) {
            Some(d) => (&mantissa[..d], &mantissa[d + 1..]),
            None => (mantissa, suffix),
        };
    let count = |c: char| chars.iter().filter(|&&x| x == c).count();
    let mut code = None;
    if count(f.decimal) > 1 {
        code = Some("D3081");
    }
    if count(f.percent) > 1 {
        code = Some("D3082");
    }
    if count(f.permille) > 1 {
        code = Some("D3083");
    }
    if count(f.percent) > 0 && count(f.permille) > 0 {
        code = Some("D3084");
    }
    if !mantissa.iter().any(|&c| is_family(c) || c == f.digit) {
        code = Some("D3085");
    }
    if active_part.iter().any(|&c| !active(c)) {
        code = Some("D3086");
    }
    match chars.iter().position(|&c| c == f.decimal) {
        Some(d) => {
            let before = d.checked_sub(1).and_then(|i| chars.get(i));
            if before == Some(&f.grouping) || chars.get(d + 1) == Some(&f.grouping) {
                code = Some("D3087");
            }
        }
        None if integer.last() == Some(&f.grouping) => code = Some("D3088"),
        None => {}
    }
    if chars
        .windows(2)
        .any(|w| w[0] == f.grouping && w[1] == f.grouping)
    {
        code = Some("D3089");
    }
    if let Some(o) = integer.iter().position(|&c| c == f.digit) {
        if integer[..o].iter().any(|&c| is_family(c)) {
            code = Some("D3090");
        }
    }
    if let Some(o) = fractional.iter().rposition(|&c| c == f.digit) {
        if fractional[o..].iter().any(|&c| is_family(c)) {
            code = Some("D3091");
        }
    }
    if let Some(e) = exponent {
        if !e.is_empty() && (count(f.percent) > 0 || count(f.permille) > 0) {
            code = Some("D3092");
        }
        if e.is_empty() || e.iter().any(|&c| !is_family(c)) {
            code = Some("D3093");
        }
    }
    match code {
        None => Ok(()),
        Some(c) => Err(err(c, picture_message(c))),
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

pub(crate) fn format_number(
    n: f64,
    picture: &str,
    options: Option<&Val>,
) -> Result<String, JsonataError> {
    let f = DecimalFormat::from_options(options);
    let subs: Vec<&str> = picture.split(f.pattern_sep).collect();
    if subs.len() > 2 {
        return Err(err("D3080", "The picture string must not contain more than one instance of the pattern-separator character"));
    }
    let (pic, neg_pic) = if n < 0.0 && subs.len() == 2 {
        (subs[1], true)
    } else {
        (subs[0], false)
    };
    for sub in &subs {
        validate_picture(sub, &f)?;
    }
    let p = NumberPicture::parse(pic, &f)?;
    let percent = p.prefix.contains(f.percent) || p.suffix.contains(f.percent);
    let permille = p.prefix.contains(f.permille) || p.suffix.contains(f.permille);
    let mut value = n.abs();
    if percent {
        value *= 100.0;
    } else if permille {
        value *= 1000.0;
    }
    let (value, exponent_text) = p.exponent(value, &f);
    let rounded = round_half_even(value, p.max_frac as i32);
    let text = format!("{:.*}", p.max_frac, rounded);
    let (ipart, fpart) = text.split_once('.').unwrap_or((&text, ""));
    let mut ipart = ipart.trim_start_matches('0').to_string();
    while ipart.len() < p.min_int {
        ipart.insert(0, '0');
    }
    let mut fpart = fpart.to_string();
    while fpart.len() > p.min_frac && fpart.ends_with('0') {
        fpart.pop();
    }
    // No integer digit at all, or none before the fraction of a scaled mantissa (`#.##e0`
    // gives 0.12e4): jsonata-js writes a zero.
    if ipart.is_empty() && (fpart.is_empty() || !exponent_text.is_empty()) {
        ipart.push('0');
    }
    let mut out: String = p
        .group(&ipart, &f)
        .chars()
        .map(|c| f.shift_digit(c))
        .collect();
    if !fpart.is_empty() {
        out.push(f.decimal);
        out.extend(fpart.chars().map(|c| f.shift_digit(c)));
    }
    out.push_str(&exponent_text);
    let mut result = format!("{}{out}{}", p.prefix, p.suffix);
    if n < 0.0 && !neg_pic {
        result.insert(0, f.minus);
    }
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// $formatInteger / $parseInteger

const FEW: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const DECADES: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const MAGNITUDES: [&str; 4] = ["thousand", "million", "billion", "trillion"];

fn words(n: u64, prev: bool) -> String {
    if n <= 19 {
        format!("{}{}", if prev { " and " } else { "" }, FEW[n as usize])
    } else if n < 100 {
        let mut w = format!(
            "{}{}",
            if prev { " and " } else { "" },
            DECADES[(n / 10 - 2) as usize]
        );
        if n % 10 > 0 {
            w.push('-');
            w.push_str(&words(n % 10, false));
        }
        w
    } else if n < 1000 {
        let mut w = format!(
            "{}{} hundred",
            if prev { ", " } else { "" },
            FEW[(n / 100) as usize]
        );
        if n % 100 > 0 {
            w.push_str(&words(n % 100, true));
        }
        w
    } else {
        let mut mag = ((n as f64).log10().floor() as u32 / 3) * 3;
        mag = mag.min(12);
        let factor = 10u64.pow(mag);
        let mant = n / factor;
        let rem = n - mant * factor;
        let mut w = format!(
            "{}{} {}",
            if prev { ", " } else { "" },
            words(mant, false),
            MAGNITUDES[(mag / 3 - 1) as usize]
        );
        if rem > 0 {
            w.push_str(&words(rem, true));
        }
        w
    }
}

fn ordinal_word(w: &str) -> String {
    let split = w.rfind([' ', '-']).map(|i| i + 1).unwrap_or(0);
    let (head, last) = w.split_at(split);
    let o = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        l if l.ends_with('y') => format!("{}ieth", &l[..l.len() - 1]),
        l => format!("{l}th"),
    };
    format!("{head}{o}")
}

fn roman(mut n: u64) -> String {
    const TABLE: [(u64, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut s = String::new();
    for (v, r) in TABLE {
        while n >= v {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

fn letters(mut n: u64, upper: bool) -> String {
    let base = if upper { b'A' } else { b'a' };
    let mut s = Vec::new();
    while n > 0 {
        n -= 1;
        s.push((base + (n % 26) as u8) as char);
        n /= 26;
    }
    s.into_iter().rev().collect()
}

fn ordinal_suffix(n: u64) -> &'static str {
    match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    }
}

fn apply_case(s: String, pattern: &str) -> String {
    match pattern {
        "W" => s.to_uppercase(),
        // Every word capitalised, after a hyphen too (`Twenty-One`), except the joining
        // "and", as jsonata-js does.
        "Ww" => s
            .split(' ')
            .map(|w| {
                if w == "and" {
                    return w.to_string();
                }
                w.split('-')
                    .map(|part| {
                        let mut c = part.chars();
                        match c.next() {
                            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                            None => String::new(),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("-")
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => s,
    }
}

/// Formats a non-negative whole number by an XPath integer picture.
fn integer_by_picture(n: u64, picture: &str) -> Result<String, JsonataError> {
    let (pattern, modifier) = match picture.rsplit_once(';') {
        Some((p, m)) => (p, m),
        None => (picture, ""),
    };
    let ordinal = modifier.starts_with('o');
    Ok(match pattern {
        "w" | "W" | "Ww" => {
            let w = words(n, false);
            apply_case(if ordinal { ordinal_word(&w) } else { w }, pattern)
        }
        "I" => roman(n),
        "i" => roman(n).to_lowercase(),
        "A" => letters(n, true),
        "a" => letters(n, false),
        _ => {
            let chars: Vec<char> = pattern.chars().collect();
            // At least one mandatory digit: `#` alone (or `#,###`) is D3130 in jsonata-js.
            if chars.is_empty() || !chars.iter().any(|c| c.is_ascii_digit()) {
                return Err(err("D3130", format!("Formatting or parsing an integer as a sequence starting with {pattern} is not supported by this implementation")));
            }
            let min = chars.iter().filter(|c| c.is_ascii_digit()).count();
            let mut digits = n.to_string();
            while digits.len() < min {
                digits.insert(0, '0');
            }
            // Grouping separators: any non-digit, non-# character, at its distance from the right.
            let mut seps: Vec<(usize, char)> = Vec::new();
            let mut count = 0;
            for c in chars.iter().rev() {
                if c.is_ascii_digit() || *c == '#' {
                    count += 1;
                } else {
                    seps.push((count, *c));
                }
            }
            let regular = !seps.is_empty()
                && seps
                    .iter()
                    .enumerate()
                    .all(|(i, (g, c))| *g == seps[0].0 * (i + 1) && *c == seps[0].1);
            let ds: Vec<char> = digits.chars().collect();
            let mut out = String::new();
            for (i, c) in ds.iter().enumerate() {
                out.push(*c);
                let rem = ds.len() - i - 1;
                if rem > 0 {
                    if regular && seps[0].0 > 0 && rem % seps[0].0 == 0 {
                        out.push(seps[0].1);
                    } else if !regular {
                        if let Some((_, s)) = seps.iter().find(|(g, _)| *g == rem) {
                            out.push(*s);
                        }
                    }
                }
            }
            // A separator after the last digit is kept as written (`1o` gives `3o`).
            for (_, c) in seps.iter().filter(|(g, _)| *g == 0) {
                out.push(*c);
            }
            if ordinal {
                out.push_str(ordinal_suffix(n));
            }
            out
        }
    })
}

pub(crate) fn format_integer(n: f64, picture: &str) -> Result<String, JsonataError> {
    let v = n.trunc();
    let text = integer_by_picture(v.abs().min(1e15) as u64, picture)?;
    Ok(if v < 0.0 { format!("-{text}") } else { text })
}

fn parse_words(s: &str) -> Option<f64> {
    let mut total = 0f64;
    let mut current = 0f64;
    let cleaned = s.to_lowercase().replace([',', '-'], " ");
    for w in cleaned.split_whitespace() {
        if w == "and" {
            continue;
        }
        let w = w.trim_end_matches("th");
        if let Some(i) = FEW.iter().position(|x| *x == w) {
            current += i as f64;
        } else if let Some(i) = DECADES
            .iter()
            .position(|x| *x == w || x.trim_end_matches('y').to_string() + "ie" == w)
        {
            current += (20 + i * 10) as f64;
        } else if w == "hundred" {
            current *= 100.0;
        } else if let Some(i) = MAGNITUDES.iter().position(|x| *x == w) {
            total += current * 10f64.powi(3 * (i as i32 + 1));
            current = 0.0;
        } else {
            match w {
                "fir" | "first" => current += 1.0,
                "second" => current += 2.0,
                "thir" | "third" => current += 3.0,
                "fif" => current += 5.0,
                "eigh" => current += 8.0,
                "nin" => current += 9.0,
                "twelf" => current += 12.0,
                _ => return None,
            }
        }
    }
    Some(total + current)
}

pub(crate) fn parse_integer(s: &str, picture: &str) -> Result<Option<f64>, JsonataError> {
    let pattern = picture.rsplit_once(';').map(|(p, _)| p).unwrap_or(picture);
    let v = match pattern {
        "w" | "W" | "Ww" => parse_words(s),
        "I" | "i" => {
            let up = s.to_uppercase();
            let val = |c: char| match c {
                'I' => Some(1i64),
                'V' => Some(5),
                'X' => Some(10),
                'L' => Some(50),
                'C' => Some(100),
                'D' => Some(500),
                'M' => Some(1000),
                _ => None,
            };
            let vals: Option<Vec<i64>> = up.chars().map(val).collect();
            vals.map(|vs| {
                let mut t = 0i64;
                for (i, v) in vs.iter().enumerate() {
                    if vs.get(i + 1).is_some_and(|n| n > v) {
                        t -= v;
                    } else {
                        t += v;
                    }
                }
                t as f64
            })
        }
        "A" | "a" => {
            let mut t = 0f64;
            let mut okay = true;
            for c in s.to_lowercase().chars() {
                if c.is_ascii_lowercase() {
                    t = t * 26.0 + (c as u8 - b'a' + 1) as f64;
                } else {
                    okay = false;
                }
            }
            okay.then_some(t)
        }
        _ => {
            let digits: String = s
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            digits.parse::<f64>().ok()
        }
    };
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn parse_tz(tz: &str) -> Result<FixedOffset, JsonataError> {
    let bad = || {
        err(
            "D3134",
            format!("The timezone argument of $fromMillis is not valid: {tz}"),
        )
    };
    let (sign, rest) = match tz.chars().next() {
        Some('+') => (1, &tz[1..]),
        Some('-') => (-1, &tz[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let h: i32 = digits[..2].parse().map_err(|_| bad())?;
    let m: i32 = digits[2..].parse().map_err(|_| bad())?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

enum PicPart {
    Lit(String),
    Marker {
        component: char,
        presentation: String,
        min: Option<usize>,
        max: Option<usize>,
    },
}

fn parse_picture(picture: &str) -> Result<Vec<PicPart>, JsonataError> {
    let chars: Vec<char> = picture.chars().collect();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' && chars.get(i + 1) == Some(&'[') {
            lit.push('[');
            i += 2;
            continue;
        }
        if c == ']' && chars.get(i + 1) == Some(&']') {
            lit.push(']');
            i += 2;
            continue;
        }
        if c != '[' {
            lit.push(c);
            i += 1;
            continue;
        }
        let Some(close) = chars[i..].iter().position(|&x| x == ']') else {
            return Err(err(
                "D3135",
                "No matching closing bracket ']' in date/time picture string",
            ));
        };
        let inner: String = chars[i + 1..i + close]
            .iter()
            .filter(|c| !c.is_whitespace())
            .collect();
        i += close + 1;
        if !lit.is_empty() {
            parts.push(PicPart::Lit(std::mem::take(&mut lit)));
        }
        let mut it = inner.chars();
        let Some(component) = it.next() else {
            return Err(err("D3133", "Empty component in date/time picture string"));
        };
        let rest: String = it.collect();
        let (presentation, width) = match rest.rsplit_once(',') {
            Some((p, w)) => (p.to_string(), Some(w.to_string())),
            None => (rest, None),
        };
        let (mut min, mut max) = (None, None);
        if let Some(w) = width {
            let (a, b) = w
                .split_once('-')
                .map(|(a, b)| (a.to_string(), Some(b.to_string())))
                .unwrap_or((w, None));
            min = a.parse().ok();
            max = b.and_then(|b| b.parse().ok());
        }
        parts.push(PicPart::Marker {
            component,
            presentation,
            min,
            max,
        });
    }
    if !lit.is_empty() {
        parts.push(PicPart::Lit(lit));
    }
    Ok(parts)
}

const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

pub(crate) fn from_millis(
    ms: f64,
    picture: Option<&str>,
    tz: Option<&str>,
) -> Result<String, JsonataError> {
    let utc: DateTime<Utc> = Utc
        .timestamp_millis_opt(ms.floor() as i64)
        .single()
        .ok_or_else(|| {
            err(
                "D3136",
                format!("The date/time value is out of range: {}", string_num(ms)),
            )
        })?;
    // The picture is checked before the timezone, as jsonata-js does.
    let picture = picture.unwrap_or(ISO_PICTURE);
    let parts = parse_picture(picture)?;
    let offset = match tz {
        Some(t) => parse_tz(t)?,
        None => FixedOffset::east_opt(0).ok_or_else(|| err("D3134", "bad offset"))?,
    };
    let dt = utc.with_timezone(&offset);
    let mut out = String::new();
    for part in parts {
        match part {
            PicPart::Lit(s) => out.push_str(&s),
            PicPart::Marker {
                component,
                presentation,
                min,
                max,
            } => out.push_str(&format_component(&dt, component, &presentation, min, max)?),
        }
    }
    Ok(out)
}

/// A timezone component (`[Z]`, `[z]`) in the presentation `pres`.
fn zone(dt: &DateTime<FixedOffset>, c: char, pres: &str) -> String {
    let secs = dt.offset().local_minus_utc();
    if pres.ends_with('t') && secs == 0 {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, (secs.abs() % 3600) / 60);
    let p = pres.trim_end_matches('t');
    let text = if p.contains(':') {
        format!("{sign}{h:02}:{m:02}")
    } else if p.len() <= 2 {
        if m == 0 {
            format!("{sign}{h:0width$}", width = p.len().max(1))
        } else {
            format!("{sign}{h:0width$}:{m:02}", width = p.len().max(1))
        }
    } else {
        format!("{sign}{h:02}{m:02}")
    };
    if c == 'z' {
        format!("GMT{text}")
    } else {
        text
    }
}

/// The Thursday of the Monday-to-Sunday week holding `dt`.
fn week_thursday(dt: &DateTime<FixedOffset>) -> Option<chrono::NaiveDate> {
    let date = dt.date_naive();
    let back = date.weekday().num_days_from_monday() as i64;
    date.checked_sub_signed(chrono::Duration::days(back - 3))
}

/// Milliseconds (`[f]`): jsonata-js writes them as an integer padded on the left to the
/// presentation's width (`[f]` of 5 ms is `5`, `[f001]` is `005`), never cut.
fn fraction(value: i64, pres: &str, min: Option<usize>) -> String {
    let width = pres
        .chars()
        .filter(|c| c.is_ascii_digit())
        .count()
        .max(min.unwrap_or(1));
    format!("{value:0width$}")
}

fn format_component(
    dt: &DateTime<FixedOffset>,
    c: char,
    pres: &str,
    min: Option<usize>,
    max: Option<usize>,
) -> Result<String, JsonataError> {
    let default = match c {
        'F' => "n",
        'P' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        'C' | 'E' => "n",
        _ => "1",
    };
    let pres = if pres.is_empty() { default } else { pres };
    if pres.starts_with(['N', 'n']) && !matches!(c, 'M' | 'F' | 'x' | 'P' | 'C' | 'E') {
        return Err(err(
            "D3133",
            format!("The 'name' modifier can only be applied to months and days in the date/time picture string, not {c}"),
        ));
    }
    let value: i64 = match c {
        'Y' => dt.year() as i64,
        'M' => dt.month() as i64,
        'D' => dt.day() as i64,
        'd' => dt.ordinal() as i64,
        'F' => dt.weekday().number_from_monday() as i64,
        'W' => dt.iso_week().week() as i64,
        // Week in month and its month, as jsonata-js counts them: a Monday-to-Sunday week
        // belongs to the month of its Thursday.
        'w' => week_thursday(dt)
            .map(|t| (t.day() as i64 - 1) / 7 + 1)
            .unwrap_or(1),
        'X' => dt.iso_week().year() as i64,
        'x' => week_thursday(dt).map(|t| t.month() as i64).unwrap_or(1),
        'H' => dt.hour() as i64,
        'h' => {
            let h = dt.hour() % 12;
            if h == 0 {
                12
            } else {
                h as i64
            }
        }
        'P' => {
            let s = if dt.hour() < 12 { "am" } else { "pm" };
            return Ok(if pres.starts_with('N') {
                s.to_uppercase()
            } else {
                s.to_string()
            });
        }
        'm' => dt.minute() as i64,
        's' => dt.second() as i64,
        'f' => dt.timestamp_subsec_millis() as i64,
        'Z' | 'z' => return Ok(zone(dt, c, pres)),
        'C' => return Ok("ISO".into()),
        // jsonata-js 2.0.6 writes the calendar name for the era too.
        'E' => return Ok("ISO".into()),
        other => {
            return Err(err(
                "D3132",
                format!("Unknown component specifier {other} in date/time picture string"),
            ))
        }
    };
    // Names.
    if matches!(c, 'M' | 'F' | 'x') && (pres.starts_with('N') || pres.starts_with('n')) {
        let name = if c == 'F' {
            DAYS[(value - 1).clamp(0, 6) as usize]
        } else {
            MONTHS[(value - 1).clamp(0, 11) as usize]
        };
        let mut s = match pres {
            "N" => name.to_uppercase(),
            "n" => name.to_lowercase(),
            _ => name.to_string(),
        };
        if let Some(mx) = max {
            s = s.chars().take(mx).collect();
        }
        return Ok(s);
    }
    if c == 'f' {
        return Ok(fraction(value, pres, min));
    }
    let (base, ordinal) = match pres.strip_suffix('o') {
        Some(b) => (b, true),
        None => (pres, false),
    };
    let mut s = match base {
        "w" | "W" | "Ww" => {
            let w = words(value.unsigned_abs(), false);
            apply_case(if ordinal { ordinal_word(&w) } else { w }, base)
        }
        "I" => roman(value.unsigned_abs()),
        "i" => roman(value.unsigned_abs()).to_lowercase(),
        "A" => letters(value.unsigned_abs(), true),
        "a" => letters(value.unsigned_abs(), false),
        _ => {
            let digits = base
                .chars()
                .filter(|c| c.is_ascii_digit())
                .count()
                .max(min.unwrap_or(1));
            let mut v = value;
            if c == 'Y' && (digits == 2 || max == Some(2)) {
                v %= 100;
            }
            let mut s = format!("{:0width$}", v, width = digits);
            if base.contains(',') {
                s = integer_by_picture(v.unsigned_abs(), base)?;
            }
            if ordinal {
                s.push_str(ordinal_suffix(v.unsigned_abs()));
            }
            s
        }
    };
    if let Some(mx) = max {
        if c != 'Y' && s.chars().count() > mx {
            s = s.chars().take(mx).collect();
        }
    }
    Ok(s)
}

pub(crate) fn to_millis(s: &str, picture: Option<&str>) -> Result<Option<f64>, JsonataError> {
    match picture {
        None => parse_iso(s).map(Some).ok_or_else(|| {
            err(
                "D3110",
                format!("The timestamp \"{s}\" cannot be parsed as an ISO 8601 date/time"),
            )
        }),
        Some(p) => parse_with_picture(s, p),
    }
}

fn parse_iso(s: &str) -> Option<f64> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis() as f64);
    }
    // Offsets without a colon, e.g. +0100.
    if s.len() > 5 {
        let (head, tail) = s.split_at(s.len() - 5);
        if (tail.starts_with('+') || tail.starts_with('-'))
            && tail[1..].chars().all(|c| c.is_ascii_digit())
        {
            let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
            if let Ok(dt) = DateTime::parse_from_rfc3339(&fixed) {
                return Some(dt.timestamp_millis() as f64);
            }
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_millis() as f64);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis() as f64);
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis() as f64);
    }
    if s.len() == 4 && s.chars().all(|c| c.is_ascii_digit()) {
        let d = NaiveDate::from_ymd_opt(s.parse().ok()?, 1, 1)?;
        return Some(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis() as f64);
    }
    None
}

/// The date and time fields a `$toMillis` picture reads, with their defaults.
struct DateFields {
    year: i64,
    month: i64,
    day: i64,
    /// Day of the year (`[d]`), which replaces month and day.
    ordinal_day: Option<i64>,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
    /// `[P]`: whether the hour is after noon.
    pm: Option<bool>,
    offset_secs: i64,
}

impl DateFields {
    fn set(&mut self, component: char, v: i64, digits: &str) {
        match component {
            'Y' => self.year = if digits.len() == 2 { 2000 + v } else { v },
            'M' => self.month = v,
            'D' => self.day = v,
            'd' => self.ordinal_day = Some(v),
            'H' | 'h' => self.hour = v,
            'm' => self.minute = v,
            's' => self.second = v,
            'f' => {
                self.milli =
                    (format!("0.{digits}").parse::<f64>().unwrap_or(0.0) * 1000.0).round() as i64
            }
            _ => {}
        }
    }

    /// Milliseconds since the epoch; `None` for a date or time that does not exist.
    fn millis(mut self) -> Option<f64> {
        match self.pm {
            Some(true) if self.hour < 12 => self.hour += 12,
            Some(false) if self.hour == 12 => self.hour = 0,
            _ => {}
        }
        let date = match self.ordinal_day {
            Some(od) => NaiveDate::from_yo_opt(self.year as i32, od as u32),
            None => NaiveDate::from_ymd_opt(self.year as i32, self.month as u32, self.day as u32),
        }?;
        let time = NaiveTime::from_hms_milli_opt(
            self.hour as u32,
            self.minute as u32,
            self.second as u32,
            self.milli as u32,
        )?;
        let ms = date.and_time(time).and_utc().timestamp_millis() - self.offset_secs * 1000;
        Some(ms as f64)
    }
}

/// A cursor over the string `$toMillis` reads; each reader returns `None` where the text does
/// not match.
struct DateReader {
    chars: Vec<char>,
    at: usize,
}

impl DateReader {
    /// The text up to the next occurrence of `lit` (at least one character), or to the end.
    fn until(&mut self, lit: Option<&str>) -> String {
        let rest: String = self.chars[self.at..].iter().collect();
        let end = match lit.filter(|l| !l.is_empty()) {
            Some(l) => rest
                .char_indices()
                .skip(1)
                .find(|(i, _)| rest[*i..].starts_with(l))
                .map(|(i, _)| i)
                .unwrap_or(rest.len()),
            None => rest.len(),
        };
        let text = rest[..end].to_string();
        self.at += text.chars().count();
        text
    }

    /// The run of characters from here that satisfy `f`.
    fn run(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|c| f(*c)) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn literal(&mut self, l: &str) -> Option<()> {
        for lc in l.chars() {
            if self.chars.get(self.at) != Some(&lc) {
                return None;
            }
            self.at += 1;
        }
        Some(())
    }

    /// A month or day name, in full or cut to `max` letters: its index in `names`.
    fn name(&mut self, names: &[&str], max: Option<usize>) -> Option<usize> {
        let rest: String = self.chars[self.at..]
            .iter()
            .collect::<String>()
            .to_lowercase();
        for (i, n) in names.iter().enumerate() {
            let n = n.to_lowercase();
            let take = max.unwrap_or(n.len()).min(n.len());
            let len = if rest.starts_with(&n) {
                n.chars().count()
            } else if rest.starts_with(&n[..take]) {
                take
            } else {
                continue;
            };
            self.at += len;
            return Some(i);
        }
        None
    }

    /// `am` or `pm` (any case): whether it is `pm`.
    fn am_pm(&mut self) -> bool {
        let rest: String = self.chars[self.at..]
            .iter()
            .take(2)
            .collect::<String>()
            .to_lowercase();
        self.at += 2;
        rest == "pm"
    }

    /// A time-zone offset (`Z`, `+01`, `-0130`, `+01:30`) in seconds; `[z]` has a `GMT` first.
    fn offset(&mut self, gmt_prefix: bool) -> Option<i64> {
        if gmt_prefix {
            self.at += 3;
        }
        if self.chars.get(self.at) == Some(&'Z') {
            self.at += 1;
            return Some(0);
        }
        let sign = match self.chars.get(self.at) {
            Some('+') => 1,
            Some('-') => -1,
            _ => return None,
        };
        self.at += 1;
        let mut digits = String::new();
        while let Some(c) = self.chars.get(self.at) {
            if c.is_ascii_digit() {
                digits.push(*c);
            } else if *c != ':' {
                break;
            }
            self.at += 1;
        }
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i64>().unwrap_or(0), 0),
            4 => (
                digits[..2].parse::<i64>().unwrap_or(0),
                digits[2..].parse::<i64>().unwrap_or(0),
            ),
            _ => return None,
        };
        Some(sign * (h * 3600 + m * 60))
    }

    /// A run of digits, at most `width` of them when `width` is given.
    fn digits(&mut self, width: Option<usize>) -> String {
        let mut digits = String::new();
        while let Some(c) = self.chars.get(self.at) {
            if !c.is_ascii_digit() || width.is_some_and(|w| digits.len() >= w) {
                break;
            }
            digits.push(*c);
            self.at += 1;
        }
        digits
    }
}

fn parse_with_picture(s: &str, picture: &str) -> Result<Option<f64>, JsonataError> {
    let parts = parse_picture(picture)?;
    let fail = || {
        err(
            "D3110",
            format!("The string \"{s}\" does not match the date/time picture string \"{picture}\""),
        )
    };
    let mut r = DateReader {
        chars: s.chars().collect(),
        at: 0,
    };
    let mut d = DateFields {
        year: 1970,
        month: 1,
        day: 1,
        ordinal_day: None,
        hour: 0,
        minute: 0,
        second: 0,
        milli: 0,
        pm: None,
        offset_secs: 0,
    };
    for (pi, part) in parts.iter().enumerate() {
        let (component, presentation, max) = match part {
            PicPart::Lit(l) => {
                if r.literal(l).is_none() {
                    return Ok(None);
                }
                continue;
            }
            PicPart::Marker {
                component,
                presentation,
                max,
                ..
            } => (*component, presentation, *max),
        };
        match component {
            'M' | 'F' if presentation.starts_with(['N', 'n']) => {
                let names: &[&str] = if component == 'M' { &MONTHS } else { &DAYS };
                let i = r.name(names, max).ok_or_else(fail)?;
                if component == 'M' {
                    d.month = i as i64 + 1;
                }
            }
            'P' => d.pm = Some(r.am_pm()),
            'Z' | 'z' => d.offset_secs = r.offset(component == 'z').ok_or_else(fail)?,
            _ if presentation.contains(['w', 'W']) => {
                // Words run up to the next literal (`[Dw] of [MNn]`), or to the end.
                let next = match parts.get(pi + 1) {
                    Some(PicPart::Lit(l)) => Some(l.as_str()),
                    _ => None,
                };
                let text = r.until(next);
                let Some(v) = parse_integer(&text, "w")? else {
                    return Ok(None);
                };
                d.set(component, v as i64, &text);
            }
            _ if presentation == "I"
                || presentation == "i"
                || presentation == "A"
                || presentation == "a" =>
            {
                let text = r.run(|c| c.is_ascii_alphabetic());
                let Some(v) = parse_integer(&text, presentation)? else {
                    return Ok(None);
                };
                d.set(component, v as i64, &text);
            }
            _ => {
                // A fixed width when the next part is a marker (no separator), else greedy.
                let width = presentation.chars().filter(|c| c.is_ascii_digit()).count();
                let next_is_marker = matches!(parts.get(pi + 1), Some(PicPart::Marker { .. }));
                let digits = r.digits((next_is_marker && width > 0).then_some(width));
                let Ok(v) = digits.parse::<i64>() else {
                    return Ok(None);
                };
                // An ordinal (`[D1o]`) is followed by its suffix: 1st, 2nd, 23rd.
                if presentation.ends_with('o') {
                    r.run(|c| c.is_ascii_alphabetic());
                }
                d.set(component, v, &digits);
            }
        }
    }
    // Text that does not fit the picture gives undefined, as in jsonata-js.
    if r.at != r.chars.len() {
        return Ok(None);
    }
    Ok(d.millis())
}

#[cfg(test)]
mod tests {
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
            to_millis("2024-11-15T17:12:32.000Z", None).unwrap(),
            Some(1_731_690_752_000.0)
        );
        assert_eq!(
            to_millis("2024-11-15", Some("[Y]-[M]-[D]")).unwrap(),
            Some(1_731_628_800_000.0)
        );
        assert!(to_millis("nope", None).is_err());
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
        assert_eq!(parse_integer("twelve", "w").unwrap(), Some(12.0));
        assert_eq!(parse_integer("MCMXCIX", "I").unwrap(), Some(1999.0));
        assert_eq!(to_radix(255.0, 16), "ff");
    }
}
