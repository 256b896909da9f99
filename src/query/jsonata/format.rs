//! Formatting functions whose rules come from XPath/XQuery 3.1 (as JSONata specifies them):
//! `$formatNumber` (decimal-format pictures) and `$formatBase`. Integer pictures live in
//! `intpic.rs`, date pictures in `datetime.rs`.

use super::value::{err, round_half_even, Val};
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
