//! XPath integer pictures as jsonata-js 2.0.6 reads and writes them: `$formatInteger`,
//! `$parseInteger`, and the integer-valued components of date pictures (`[Y0001]`, `[D1o]`,
//! `[Yw]`, `[MI]`). The rules follow jsonata-js rather than the XPath text where the two part:
//! grouping separators are placed by counting from the right of the written digits, a picture
//! with no mandatory digit is an unsupported "sequence" (D3130), and `$parseInteger` reads its
//! text without checking it against the picture (`'1 234'` by `'# ##0'` is 1, because a
//! regular separator other than `,` is not removed before the digits are read).

use super::value::{charge, err, js_num};
use super::JsonataError;

/// The first code point of each Unicode decimal digit block jsonata-js knows.
const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = [
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred",
];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];

/// Deepest recursion the word and roman writers allow: jsonata-js overflows its stack on
/// numbers that need more, which is an error here too, before any memory is spent.
const MAX_ROMAN: f64 = 1.0e7;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Primary {
    Decimal,
    Letters,
    Roman,
    Words,
    Sequence,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Case {
    Upper,
    Lower,
    Title,
}

/// An analysed integer picture.
#[derive(Clone, Debug)]
pub(crate) struct IntFormat {
    pub(crate) primary: Primary,
    pub(crate) case: Case,
    pub(crate) ordinal: bool,
    zero_code: u32,
    /// A number, not a count: a date picture's width modifier may set it to NaN (`[D,x]`).
    pub(crate) mandatory: f64,
    pub(crate) optional: f64,
    /// Separators at one repeating interval: (interval, character).
    pub(crate) regular: Option<(usize, char)>,
    /// Otherwise each separator at its distance from the right: (distance, character).
    groups: Vec<(usize, char)>,
    token: String,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The repeat interval when all separators are the same character at multiples of one
/// interval, else 0.
fn regular_repeat(seps: &[(usize, char)]) -> usize {
    let Some(&(_, first)) = seps.first() else {
        return 0;
    };
    if seps.iter().any(|(_, c)| *c != first) {
        return 0;
    }
    let factor = seps.iter().map(|(p, _)| *p).reduce(gcd).unwrap_or(0);
    for i in 1..=seps.len() {
        if !seps.iter().any(|(p, _)| *p == i * factor) {
            return 0;
        }
    }
    factor
}

/// jsonata-js's `analyseIntegerPicture`.
pub(crate) fn analyse(picture: &str) -> Result<IntFormat, JsonataError> {
    let mut f = IntFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal: false,
        zero_code: 0x30,
        mandatory: 0.0,
        optional: 0.0,
        regular: None,
        groups: Vec::new(),
        token: String::new(),
    };
    let primary = match picture.rfind(';') {
        None => picture,
        Some(i) => {
            f.ordinal = picture[i + 1..].starts_with('o');
            &picture[..i]
        }
    };
    match primary {
        "A" | "a" => {
            f.primary = Primary::Letters;
            f.case = if primary == "A" {
                Case::Upper
            } else {
                Case::Lower
            };
        }
        "I" | "i" => {
            f.primary = Primary::Roman;
            f.case = if primary == "I" {
                Case::Upper
            } else {
                Case::Lower
            };
        }
        "W" => (f.primary, f.case) = (Primary::Words, Case::Upper),
        "Ww" => (f.primary, f.case) = (Primary::Words, Case::Title),
        "w" => f.primary = Primary::Words,
        _ => decimal_pattern(primary, &mut f)?,
    }
    Ok(f)
}

fn decimal_pattern(primary: &str, f: &mut IntFormat) -> Result<(), JsonataError> {
    let mut zero: Option<u32> = None;
    let (mut mandatory, mut optional, mut position) = (0usize, 0usize, 0usize);
    let mut seps = Vec::new();
    // Read from the right: a separator's position is the count of digit signs after it.
    for c in primary.chars().rev() {
        let cp = c as u32;
        if let Some(group) = DECIMAL_GROUPS.iter().find(|g| cp >= **g && cp <= **g + 9) {
            mandatory += 1;
            position += 1;
            match zero {
                None => zero = Some(*group),
                Some(z) if z != *group => return Err(err(
                    "D3131",
                    "In a decimal digit pattern, all digits must be from the same decimal group",
                )),
                Some(_) => {}
            }
        } else if c == '#' {
            position += 1;
            optional += 1;
        } else {
            seps.push((position, c));
        }
    }
    if mandatory == 0 {
        f.primary = Primary::Sequence;
        f.token = primary.to_string();
        return Ok(());
    }
    f.zero_code = zero.unwrap_or(0x30);
    f.mandatory = mandatory as f64;
    f.optional = optional as f64;
    let every = regular_repeat(&seps);
    if every > 0 {
        f.regular = Some((every, seps[0].1));
    } else {
        f.groups = seps;
    }
    Ok(())
}

fn sequence_error(token: &str) -> JsonataError {
    err(
        "D3130",
        format!("Formatting or parsing an integer as a sequence starting with {token} is not supported by this implementation"),
    )
}

fn too_deep() -> JsonataError {
    err(
        "U1001",
        "Stack overflow error: the number is too large to write in this form",
    )
}

/// `$formatInteger(value, picture)`: the value rounded down, then written by the picture.
pub(crate) fn format_integer(value: f64, picture: &str) -> Result<String, JsonataError> {
    let f = analyse(picture)?;
    format_with(value.floor(), &f)
}

/// jsonata-js's `_formatInteger`: writes `value` (a whole number, or NaN) by `f`.
pub(crate) fn format_with(value: f64, f: &IntFormat) -> Result<String, JsonataError> {
    let negative = value < 0.0;
    let value = value.abs();
    let text = match f.primary {
        Primary::Letters => letters(value, f.case == Case::Upper),
        Primary::Roman => {
            if value > MAX_ROMAN {
                return Err(too_deep());
            }
            let r = roman(value);
            if f.case == Case::Upper {
                r.to_uppercase()
            } else {
                r
            }
        }
        Primary::Words => {
            if !value.is_finite() {
                return Err(too_deep());
            }
            let w = words(value, false, f.ordinal);
            match f.case {
                Case::Upper => w.to_uppercase(),
                Case::Lower => w.to_lowercase(),
                Case::Title => w,
            }
        }
        Primary::Decimal => decimal(value, f)?,
        Primary::Sequence => return Err(sequence_error(&f.token)),
    };
    Ok(if negative { format!("-{text}") } else { text })
}

/// JavaScript's `substr(start)` and `substr(0, len)` on a char vector.
fn splice_at(s: &[char], pos: i64, sep: char) -> Vec<char> {
    let len = s.len() as i64;
    let head = pos.clamp(0, len) as usize;
    let tail = if pos < 0 {
        (len + pos).max(0)
    } else {
        pos.min(len)
    } as usize;
    let mut out = s[..head].to_vec();
    out.push(sep);
    out.extend_from_slice(&s[tail..]);
    out
}

fn decimal(value: f64, f: &IntFormat) -> Result<String, JsonataError> {
    let mut s: Vec<char> = js_num(value).chars().collect();
    let pad = f.mandatory - s.len() as f64;
    if pad > 0.0 {
        charge(pad as usize)?;
        let mut padded = vec!['0'; pad as usize];
        padded.extend(s);
        s = padded;
    }
    if f.zero_code != 0x30 {
        s = s
            .iter()
            .filter_map(|c| char::from_u32(*c as u32 + f.zero_code - 0x30))
            .collect();
    }
    if let Some((every, sep)) = f.regular {
        let n = (s.len() - 1) / every;
        for i in (1..=n).rev() {
            let pos = s.len() as i64 - (i * every) as i64;
            s = splice_at(&s, pos, sep);
        }
    } else {
        for (position, sep) in f.groups.iter().rev() {
            let pos = s.len() as i64 - *position as i64;
            s = splice_at(&s, pos, *sep);
        }
    }
    if f.ordinal {
        let last = s.last().copied();
        let tens_one = s.len() > 1 && s[s.len() - 2] == '1';
        let suffix = match last {
            Some('1') if !tens_one => "st",
            Some('2') if !tens_one => "nd",
            Some('3') if !tens_one => "rd",
            _ => "th",
        };
        s.extend(suffix.chars());
    }
    Ok(s.into_iter().collect())
}

/// English words for a whole number, title case (`One Hundred and Twenty-Three`).
fn words(num: f64, prev: bool, ord: bool) -> String {
    if num <= 19.0 {
        let i = num as usize;
        let w = if ord { ORDINALS[i] } else { FEW[i] };
        format!("{}{w}", if prev { " and " } else { "" })
    } else if num < 100.0 {
        let tens = (num / 10.0).floor() as usize;
        let rem = num % 10.0;
        let mut w = format!("{}{}", if prev { " and " } else { "" }, DECADES[tens - 2]);
        if rem > 0.0 {
            w.push('-');
            w.push_str(&words(rem, false, ord));
        } else if ord {
            w.pop();
            w.push_str("ieth");
        }
        w
    } else if num < 1000.0 {
        let hundreds = (num / 100.0).floor() as usize;
        let rem = num % 100.0;
        let mut w = format!("{}{} Hundred", if prev { ", " } else { "" }, FEW[hundreds]);
        if rem > 0.0 {
            w.push_str(&words(rem, true, ord));
        } else if ord {
            w.push_str("th");
        }
        w
    } else {
        // Above a trillion the mantissa grows instead ("One Hundred Million Trillion").
        let mag = ((num.log10() / 3.0).floor() as usize).min(MAGNITUDES.len());
        let factor = 10f64.powi(mag as i32 * 3);
        let mant = (num / factor).floor();
        let rem = num - mant * factor;
        let mut w = format!(
            "{}{} {}",
            if prev { ", " } else { "" },
            words(mant, false, false),
            MAGNITUDES[mag - 1]
        );
        if rem > 0.0 {
            w.push_str(&words(rem, true, ord));
        } else if ord {
            w.push_str("th");
        }
        w
    }
}

fn roman(value: f64) -> String {
    const TABLE: [(f64, &str); 13] = [
        (1000.0, "m"),
        (900.0, "cm"),
        (500.0, "d"),
        (400.0, "cd"),
        (100.0, "c"),
        (90.0, "xc"),
        (50.0, "l"),
        (40.0, "xl"),
        (10.0, "x"),
        (9.0, "ix"),
        (5.0, "v"),
        (4.0, "iv"),
        (1.0, "i"),
    ];
    let mut out = String::new();
    let mut v = value;
    while let Some((n, r)) = TABLE.iter().find(|(n, _)| v >= *n) {
        out.push_str(r);
        v -= n;
    }
    out
}

fn letters(value: f64, upper: bool) -> String {
    let a = if upper { 'A' } else { 'a' } as u32;
    let mut out = Vec::new();
    let mut v = value;
    while v > 0.0 {
        out.push(char::from_u32(((v - 1.0) % 26.0) as u32 + a).unwrap_or('?'));
        v = ((v - 1.0) / 26.0).floor();
    }
    out.into_iter().rev().collect()
}

/// The words `$parseInteger` and date parsing know, in jsonata-js's order (which decides
/// the order of alternatives in the date regex), with their values.
pub(crate) fn word_values() -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (i, w) in FEW.iter().enumerate() {
        out.push((w.to_lowercase(), i as f64));
    }
    for (i, w) in ORDINALS.iter().enumerate() {
        out.push((w.to_lowercase(), i as f64));
    }
    for (i, w) in DECADES.iter().enumerate() {
        let lw = w.to_lowercase();
        let v = ((i + 2) * 10) as f64;
        // jsonata-js derives "hundreieth" from "hundred" too.
        let ieth = format!("{}ieth", &lw[..lw.len() - 1]);
        out.push((lw, v));
        out.push((ieth, v));
    }
    out.push(("hundredth".into(), 100.0));
    for (i, w) in MAGNITUDES.iter().enumerate() {
        let lw = w.to_lowercase();
        let v = 10f64.powi((i as i32 + 1) * 3);
        let th = format!("{lw}th");
        out.push((lw, v));
        out.push((th, v));
    }
    out
}

fn words_to_number(text: &str) -> f64 {
    let values = word_values();
    static SPLIT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let split =
        SPLIT.get_or_init(|| regex::Regex::new(r",\s|\sand\s|[\s\\-]").expect("a fixed regex"));
    let mut segs: Vec<f64> = vec![0.0];
    for part in split.split(text) {
        let value = values.iter().find(|(w, _)| w == part).map(|(_, v)| *v);
        match value {
            Some(v) if v < 100.0 => {
                let mut top = segs.pop().unwrap_or(0.0);
                if top >= 1000.0 {
                    segs.push(top);
                    top = 0.0;
                }
                segs.push(top + v);
            }
            Some(v) => {
                let top = segs.pop().unwrap_or(0.0);
                segs.push(top * v);
            }
            None => {
                let top = segs.pop().unwrap_or(0.0);
                segs.push(top * f64::NAN);
            }
        }
    }
    segs.iter().sum()
}

fn roman_to_decimal(roman: &str) -> f64 {
    let (mut decimal, mut max) = (0.0, 1.0);
    for c in roman.chars().rev() {
        let value = match c {
            'M' => 1000.0,
            'D' => 500.0,
            'C' => 100.0,
            'L' => 50.0,
            'X' => 10.0,
            'V' => 5.0,
            'I' => 1.0,
            _ => f64::NAN,
        };
        if value < max {
            decimal -= value;
        } else {
            max = value;
            decimal += value;
        }
    }
    decimal
}

fn letters_to_decimal(letters: &str, a: char) -> f64 {
    let codes: Vec<u32> = letters.chars().map(|c| c as u32).collect();
    let mut decimal = 0.0;
    for (i, code) in codes.iter().rev().enumerate() {
        decimal += (*code as f64 - a as u32 as f64 + 1.0) * 26f64.powi(i as i32);
    }
    decimal
}

/// JavaScript's `parseInt(s)` (base 10, or 16 after `0x`): NaN when no digit leads.
pub(crate) fn js_parse_int(s: &str) -> f64 {
    let t = s.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let (neg, rest) = match t.chars().next() {
        Some('-') => (true, &t[1..]),
        Some('+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, body) = match rest.get(..2) {
        Some("0x") | Some("0X") => (16, &rest[2..]),
        _ => (10, rest),
    };
    let mut v = 0f64;
    let mut any = false;
    for c in body.chars() {
        match c.to_digit(radix) {
            Some(d) => {
                v = v * radix as f64 + d as f64;
                any = true;
            }
            None => break,
        }
    }
    match (any, neg) {
        (false, _) => f64::NAN,
        (true, true) => -v,
        (true, false) => v,
    }
}

/// Reads `text` by the analysed picture, without checking it against the picture first.
pub(crate) fn parse_with(text: &str, f: &IntFormat) -> Result<f64, JsonataError> {
    Ok(match f.primary {
        Primary::Letters => letters_to_decimal(text, if f.case == Case::Upper { 'A' } else { 'a' }),
        Primary::Roman => {
            if f.case == Case::Upper {
                roman_to_decimal(text)
            } else {
                roman_to_decimal(&text.to_uppercase())
            }
        }
        Primary::Words => words_to_number(&text.to_lowercase()),
        Primary::Decimal => {
            let mut digits: Vec<char> = text.chars().collect();
            if f.ordinal {
                digits.truncate(digits.len().saturating_sub(2));
            }
            let seps: Vec<char> = match f.regular {
                // jsonata-js removes commas here whatever the separator is.
                Some(_) => vec![','],
                None => f.groups.iter().map(|(_, c)| *c).collect(),
            };
            digits.retain(|c| !seps.contains(c));
            if f.zero_code != 0x30 {
                digits = digits
                    .iter()
                    .filter_map(|c| char::from_u32((*c as u32).wrapping_sub(f.zero_code) + 0x30))
                    .collect();
            }
            js_parse_int(&digits.into_iter().collect::<String>())
        }
        Primary::Sequence => return Err(sequence_error(&f.token)),
    })
}

/// `$parseInteger(text, picture)`.
pub(crate) fn parse_integer(text: &str, picture: &str) -> Result<f64, JsonataError> {
    let f = analyse(picture)?;
    parse_with(text, &f)
}

/// The regular expression that finds a number written by `f` inside a date (jsonata-js's
/// `generateRegex` for integers); `n` is a fixed digit count for decimal years, months, days.
pub(crate) fn regex_for(f: &IntFormat, n: Option<f64>) -> Result<String, JsonataError> {
    let upper = f.case == Case::Upper;
    Ok(match f.primary {
        Primary::Letters => if upper { "[A-Z]+" } else { "[a-z]+" }.to_string(),
        Primary::Roman => if upper { "[MDCLXVI]+" } else { "[mdclxvi]+" }.to_string(),
        Primary::Words => {
            let mut alts: Vec<String> = word_values().into_iter().map(|(w, _)| w).collect();
            alts.push("and".into());
            alts.push(r"[\-, ]".into());
            format!("(?:{})+", alts.join("|"))
        }
        Primary::Decimal => {
            let occurrences = match n {
                Some(n) if n > 0.0 => format!("{{{}}}", n as u64),
                _ => "+".into(),
            };
            let mut r = format!("[0-9]{occurrences}");
            if f.ordinal {
                r.push_str("(?:th|st|nd|rd)");
            }
            r
        }
        Primary::Sequence => return Err(sequence_error(&f.token)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_like_jsonata_js() {
        assert_eq!(
            format_integer(123.0, "w").unwrap(),
            "one hundred and twenty-three"
        );
        assert_eq!(
            format_integer(1e20, "w").unwrap(),
            "one hundred million trillion"
        );
        assert_eq!(format_integer(21.0, "Ww;o").unwrap(), "Twenty-First");
        assert_eq!(format_integer(1999.0, "I").unwrap(), "MCMXCIX");
        assert_eq!(format_integer(28.0, "A").unwrap(), "AB");
        assert_eq!(format_integer(2.0, "1;o").unwrap(), "2nd");
        assert_eq!(format_integer(12.0, "1;o").unwrap(), "12th");
        assert_eq!(format_integer(1234567.0, "#,##0").unwrap(), "1,234,567");
        assert_eq!(format_integer(1234567.0, "#,##,##0").unwrap(), "12,34,567");
        assert_eq!(format_integer(-5.5, "000").unwrap(), "-006");
        assert_eq!(format_integer(5.0, "#").unwrap_err().code, "D3130");
        assert_eq!(format_integer(5.0, "1٠").unwrap_err().code, "D3131");
    }

    #[test]
    fn reads_like_jsonata_js() {
        assert_eq!(parse_integer("twelve", "w").unwrap(), 12.0);
        assert_eq!(
            parse_integer("one hundred and twenty-three", "w").unwrap(),
            123.0
        );
        assert_eq!(parse_integer("MCMXCIX", "I").unwrap(), 1999.0);
        assert_eq!(parse_integer("AB", "A").unwrap(), 28.0);
        assert_eq!(parse_integer("1,234", "#,##0").unwrap(), 1234.0);
        // A regular separator other than a comma stays, and parseInt stops at it.
        assert_eq!(parse_integer("1 234", "# ##0").unwrap(), 1.0);
        assert_eq!(parse_integer("23rd", "1;o").unwrap(), 23.0);
        assert!(parse_integer("x", "1").unwrap().is_nan());
        assert_eq!(js_parse_int("  -0x1A"), -26.0);
    }
}
