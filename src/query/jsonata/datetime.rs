//! `$fromMillis`, `$toMillis` and `$now`'s pictures as jsonata-js 2.0.6 computes them, on a
//! small model of JavaScript's `Date` (UTC only, NaN for an invalid date) so that the odd
//! corners come out as Step Functions gives them: the timezone argument is read with
//! `parseInt` as `±hhmm` (`'+05:30'` is five minutes), out-of-range dates print `NaN`,
//! `Date.UTC` rolls over (`2018-13-45` is 14 February 2019) and maps years 0-99 to 1900-1999,
//! and a picture is parsed by a regular expression built from it, month and day names
//! matched case-sensitively. Never the host clock: "now" is passed in.

use regex::{Regex, RegexBuilder};
use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::intpic::{self, js_parse_int, Case, IntFormat};
use super::value::err;
use super::JsonataError;

const DAY_MS: f64 = 86_400_000.0;
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
const DAYS: [&str; 8] = [
    "",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

// ------------------------------------------------------------------ JavaScript's Date, UTC

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn make_day(year: f64, month: f64, date: f64) -> f64 {
    if !(year.is_finite() && month.is_finite() && date.is_finite()) {
        return f64::NAN;
    }
    let (y, m) = (year.trunc(), month.trunc());
    let ym = y + (m / 12.0).floor();
    // Past this the time value is out of range anyway (TimeClip makes it NaN).
    if ym.abs() > 1.0e6 {
        return f64::NAN;
    }
    days_from_civil(ym as i64, m.rem_euclid(12.0) as i64 + 1, 1) as f64 + date.trunc() - 1.0
}

fn make_time(h: f64, m: f64, s: f64, ms: f64) -> f64 {
    if ![h, m, s, ms].iter().all(|x| x.is_finite()) {
        return f64::NAN;
    }
    h.trunc() * 3_600_000.0 + m.trunc() * 60_000.0 + s.trunc() * 1000.0 + ms.trunc()
}

/// `new Date(t)`'s time value: NaN outside ±8.64e15 ms.
fn time_clip(t: f64) -> f64 {
    if !t.is_finite() || t.abs() > 8.64e15 {
        f64::NAN
    } else {
        t.trunc() + 0.0
    }
}

/// `Date.UTC(y, m, d, h, mi, s, ms)`; a year 0-99 means 1900-1999.
fn date_utc(y: f64, m: f64, d: f64, h: f64, mi: f64, s: f64, ms: f64) -> f64 {
    let yi = y.trunc();
    let year = if (0.0..=99.0).contains(&yi) {
        1900.0 + yi
    } else {
        y
    };
    time_clip(make_day(year, m, d) * DAY_MS + make_time(h, mi, s, ms))
}

/// The UTC fields of a time value, NaN for an invalid date.
#[derive(Clone, Copy)]
struct Fields {
    year: f64,
    month0: f64,
    date: f64,
    weekday: f64,
    hours: f64,
    minutes: f64,
    seconds: f64,
    millis: f64,
}

fn fields(t: f64) -> Fields {
    if t.is_nan() {
        let n = f64::NAN;
        return Fields {
            year: n,
            month0: n,
            date: n,
            weekday: n,
            hours: n,
            minutes: n,
            seconds: n,
            millis: n,
        };
    }
    let days = (t / DAY_MS).floor();
    let in_day = t - days * DAY_MS;
    let (y, m, d) = civil_from_days(days as i64);
    Fields {
        year: y as f64,
        month0: (m - 1) as f64,
        date: d as f64,
        weekday: (days as i64 + 4).rem_euclid(7) as f64,
        hours: (in_day / 3_600_000.0).floor(),
        minutes: ((in_day % 3_600_000.0) / 60_000.0).floor(),
        seconds: ((in_day % 60_000.0) / 1000.0).floor(),
        millis: in_day % 1000.0,
    }
}

/// Monday of week 1 of the month (the week holding its first Thursday).
fn start_of_first_week(year: f64, month0: f64) -> f64 {
    let first = date_utc(year, month0, 1.0, 0.0, 0.0, 0.0, 0.0);
    let mut dow = fields(first).weekday;
    if dow == 0.0 {
        dow = 7.0;
    }
    if dow > 4.0 {
        first + (8.0 - dow) * DAY_MS
    } else {
        first - (dow - 1.0) * DAY_MS
    }
}

fn next_month(y: f64, m: f64) -> (f64, f64) {
    if m == 11.0 {
        (y + 1.0, 0.0)
    } else {
        (y, m + 1.0)
    }
}

fn previous_month(y: f64, m: f64) -> (f64, f64) {
    if m == 0.0 {
        (y - 1.0, 11.0)
    } else {
        (y, m - 1.0)
    }
}

fn delta_weeks(start: f64, end: f64) -> f64 {
    (end - start) / (DAY_MS * 7.0) + 1.0
}

/// A component of a date: a number, a word (`am`), or nothing (JavaScript's `undefined`).
#[derive(Clone, Debug, PartialEq)]
enum Frag {
    Num(f64),
    Text(&'static str),
    Undefined,
}

/// jsonata-js's `getDateTimeFragment`.
fn fragment(t: f64, component: char) -> Frag {
    let f = fields(t);
    let day = |y: f64, m: f64, d: f64| date_utc(y, m, d, 0.0, 0.0, 0.0, 0.0);
    Frag::Num(match component {
        'Y' => f.year,
        'M' => f.month0 + 1.0,
        'D' => f.date,
        'd' => (day(f.year, f.month0, f.date) - day(f.year, 0.0, 1.0)) / DAY_MS + 1.0,
        'F' => {
            if f.weekday == 0.0 {
                7.0
            } else {
                f.weekday
            }
        }
        'W' => {
            let today = day(f.year, f.month0, f.date);
            let mut week = delta_weeks(start_of_first_week(f.year, 0.0), today);
            if week > 52.0 {
                if today >= start_of_first_week(f.year + 1.0, 0.0) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(f.year - 1.0, 0.0), today);
            }
            week.floor()
        }
        'w' => {
            let today = day(f.year, f.month0, f.date);
            let mut week = delta_weeks(start_of_first_week(f.year, f.month0), today);
            if week > 4.0 {
                let (ny, nm) = next_month(f.year, f.month0);
                if today >= start_of_first_week(ny, nm) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                let (py, pm) = previous_month(f.year, f.month0);
                week = delta_weeks(start_of_first_week(py, pm), today);
            }
            week.floor()
        }
        'X' => {
            if t < start_of_first_week(f.year, 0.0) {
                f.year - 1.0
            } else if t >= start_of_first_week(f.year + 1.0, 0.0) {
                f.year + 1.0
            } else {
                f.year
            }
        }
        'x' => {
            let (ny, nm) = next_month(f.year, f.month0);
            if t < start_of_first_week(f.year, f.month0) {
                previous_month(f.year, f.month0).1 + 1.0
            } else if t >= start_of_first_week(ny, nm) {
                nm + 1.0
            } else {
                f.month0 + 1.0
            }
        }
        'H' => f.hours,
        'h' => {
            let h = f.hours % 12.0;
            if h == 0.0 {
                12.0
            } else {
                h
            }
        }
        'P' => return Frag::Text(if f.hours >= 12.0 { "pm" } else { "am" }),
        'm' => f.minutes,
        's' => f.seconds,
        'f' => f.millis,
        'C' | 'E' => return Frag::Text("ISO"),
        _ => return Frag::Undefined,
    })
}

// ------------------------------------------------------------------ the picture

/// One variable marker of a date picture (`[Y0001]`, `[MNn,*-3]`, `[Z01:01t]`).
#[derive(Clone, Debug)]
struct Marker {
    component: char,
    /// The width modifier: (min, max); a number that is not one reads as NaN.
    width: Option<(Option<f64>, Option<f64>)>,
    presentation2: Option<char>,
    names: Option<Case>,
    int: Option<IntFormat>,
    /// Fixed digit count of a year, month or day (-1: none), as jsonata-js's `n`.
    n: Option<f64>,
}

#[derive(Clone, Debug)]
enum Part {
    Literal(String),
    Marker(Marker),
}

fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

fn parse_width(w: Option<&str>) -> Option<f64> {
    match w {
        None | Some("*") => None,
        Some(w) => Some(js_parse_int(w)),
    }
}

/// jsonata-js's `analyseDateTimePicture`.
fn analyse(picture: &str) -> Result<Vec<Part>, JsonataError> {
    let chars: Vec<char> = picture.chars().collect();
    let mut parts = Vec::new();
    let literal = |parts: &mut Vec<Part>, start: usize, end: usize| {
        if end > start {
            let text: String = chars[start..end].iter().collect();
            parts.push(Part::Literal(text.replace("]]", "]")));
        }
    };
    let (mut start, mut pos) = (0, 0);
    while pos < chars.len() {
        if chars[pos] == '[' {
            if chars.get(pos + 1) == Some(&'[') {
                literal(&mut parts, start, pos);
                parts.push(Part::Literal("[".into()));
                pos += 2;
                start = pos;
                continue;
            }
            literal(&mut parts, start, pos);
            start = pos;
            let Some(close) = chars[start..].iter().position(|c| *c == ']') else {
                return Err(err(
                    "D3135",
                    "No matching closing bracket ']' in date/time picture string",
                ));
            };
            pos = start + close;
            let marker: String = chars[start + 1..pos]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            parts.push(Part::Marker(analyse_marker(&marker)?));
            start = pos + 1;
        }
        pos += 1;
    }
    literal(&mut parts, start, pos);
    Ok(parts)
}

fn analyse_marker(marker: &str) -> Result<Marker, JsonataError> {
    let chars: Vec<char> = marker.chars().collect();
    let component = chars.first().copied().unwrap_or('\0');
    let mut m = Marker {
        component,
        width: None,
        presentation2: None,
        names: None,
        int: None,
        n: None,
    };
    let pres: String = match chars.iter().rposition(|c| *c == ',') {
        Some(comma) => {
            let width: String = chars[comma + 1..].iter().collect();
            let (min, max) = match width.split_once('-') {
                Some((a, b)) => (Some(a), Some(b)),
                None => (Some(width.as_str()), None),
            };
            m.width = Some((parse_width(min), parse_width(max)));
            // JavaScript's substring(1, 0) swaps its bounds: a marker `[,3]` reads `,`.
            if comma == 0 {
                chars[..1].iter().collect()
            } else {
                chars[1..comma].iter().collect()
            }
        }
        None => chars.iter().skip(1).collect(),
    };
    let presentation1: String = match pres.chars().count() {
        0 => default_presentation(component)
            .ok_or_else(|| {
                err(
                    "D3132",
                    format!("Unknown component specifier {component} in date/time picture string"),
                )
            })?
            .to_string(),
        1 => pres,
        _ => {
            let last = pres.chars().last().unwrap_or(' ');
            if "atco".contains(last) {
                m.presentation2 = Some(last);
                pres[..pres.len() - last.len_utf8()].to_string()
            } else {
                pres
            }
        }
    };
    let mut p1 = presentation1.chars();
    match (p1.next(), p1.next()) {
        (Some('n'), _) => m.names = Some(Case::Lower),
        (Some('N'), Some('n')) => m.names = Some(Case::Title),
        (Some('N'), _) => m.names = Some(Case::Upper),
        _ if "YMDdFWwXxHhmsf".contains(component) => {
            let mut pattern = presentation1.clone();
            if let Some(p2) = m.presentation2 {
                pattern.push(';');
                pattern.push(p2);
            }
            let mut f = intpic::analyse(&pattern)?;
            if let Some((Some(min), _)) = m.width {
                if f.mandatory < min {
                    f.mandatory = min;
                }
            }
            if "YMD".contains(component) {
                m.n = Some(-1.0);
                if let Some((_, Some(max))) = m.width {
                    m.n = Some(max);
                    f.mandatory = max;
                } else if f.mandatory + f.optional >= 2.0 {
                    m.n = Some(f.mandatory + f.optional);
                }
            }
            m.int = Some(f);
        }
        _ => {}
    }
    if component == 'Z' || component == 'z' {
        m.int = Some(intpic::analyse(&presentation1)?);
    }
    Ok(m)
}

// ------------------------------------------------------------------ $fromMillis

fn names_error(c: char) -> JsonataError {
    err(
        "D3133",
        format!("The 'name' modifier can only be applied to months and days in the date/time picture string, not {c}"),
    )
}

fn no_format(c: char) -> JsonataError {
    err(
        "D3133",
        format!("The component {c} of the date/time picture string cannot be written as a name"),
    )
}

fn apply_case(s: &str, case: Option<Case>) -> String {
    match case {
        Some(Case::Upper) => s.to_uppercase(),
        Some(Case::Lower) => s.to_lowercase(),
        _ => s.to_string(),
    }
}

/// `$fromMillis(millis, picture, timezone)`, and `$now(picture, timezone)`.
pub(crate) fn from_millis(
    millis: f64,
    picture: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, JsonataError> {
    let (mut hours, mut minutes) = (0.0, 0.0);
    if let Some(tz) = timezone {
        // jsonata-js reads the timezone as one integer, ±hhmm.
        let offset = js_parse_int(tz);
        hours = (offset / 100.0).floor();
        minutes = offset % 100.0;
    }
    // The default picture is analysed once (jsonata-js caches it too).
    static ISO: OnceLock<Vec<Part>> = OnceLock::new();
    let own;
    let parts: &[Part] = match picture {
        Some(p) => {
            own = analyse(p)?;
            &own
        }
        None => ISO.get_or_init(|| analyse(ISO_PICTURE).unwrap_or_default()),
    };
    let t = time_clip(millis + (60.0 * hours + minutes) * 60_000.0);
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Marker(m) => out.push_str(&format_component(t, m, hours, minutes)?),
        }
    }
    Ok(out)
}

fn format_component(t: f64, m: &Marker, hours: f64, minutes: f64) -> Result<String, JsonataError> {
    let c = m.component;
    let value = fragment(t, c);
    if "YMDdFWwXxHhms".contains(c) {
        let Frag::Num(mut v) = value else {
            return Err(no_format(c));
        };
        if c == 'Y' {
            if let Some(n) = m.n.filter(|n| *n != -1.0) {
                v %= 10f64.powf(n);
            }
        }
        if let Some(case) = m.names {
            let name = match c {
                'M' | 'x' => MONTHS.get((v - 1.0) as usize).filter(|_| v >= 1.0),
                'F' => DAYS.get(v as usize).filter(|_| v >= 0.0),
                _ => return Err(names_error(c)),
            };
            let mut name: Vec<char> = apply_case(name.ok_or_else(|| no_format(c))?, Some(case))
                .chars()
                .collect();
            if let Some((_, Some(max))) = m.width {
                if (name.len() as f64) > max {
                    name.truncate(max.max(0.0) as usize);
                }
            }
            return Ok(name.into_iter().collect());
        }
        return intpic::format_with(v, m.int.as_ref().ok_or_else(|| no_format(c))?);
    }
    match (c, value) {
        ('f', Frag::Num(v)) => intpic::format_with(v, m.int.as_ref().ok_or_else(|| no_format(c))?),
        ('Z' | 'z', _) => zone(m, hours, minutes),
        ('P', Frag::Text(s)) if m.names == Some(Case::Upper) => Ok(s.to_uppercase()),
        (_, Frag::Text(s)) => Ok(s.to_string()),
        (_, Frag::Num(v)) => Ok(super::value::js_num(v)),
        // jsonata-js appends the JavaScript value undefined as text.
        (_, Frag::Undefined) => Ok("undefined".into()),
    }
}

fn zone(m: &Marker, hours: f64, minutes: f64) -> Result<String, JsonataError> {
    let f = m.int.as_ref().ok_or_else(|| no_format(m.component))?;
    let offset = hours * 100.0 + minutes;
    let mut text = if f.regular.is_some() {
        intpic::format_with(offset, f)?
    } else if f.mandatory == 1.0 || f.mandatory == 2.0 {
        let mut t = intpic::format_with(hours, f)?;
        if minutes != 0.0 {
            t.push(':');
            t.push_str(&intpic::format_integer(minutes, "00")?);
        }
        t
    } else if f.mandatory == 3.0 || f.mandatory == 4.0 {
        intpic::format_with(offset, f)?
    } else {
        return Err(err(
            "D3134",
            "The timezone integer format specifier cannot have more than four digits",
        ));
    };
    if offset >= 0.0 {
        text.insert(0, '+');
    }
    if m.component == 'z' {
        text.insert_str(0, "GMT");
    }
    if offset == 0.0 && m.presentation2 == Some('t') {
        text = "Z".into();
    }
    Ok(text)
}

// ------------------------------------------------------------------ $toMillis

/// How the text a marker matched becomes a value.
enum Reader {
    Int(IntFormat),
    Zone(char, Option<char>),
    Names(Vec<(String, f64)>),
}

fn names_lookup(m: &Marker) -> Result<Vec<(String, f64)>, JsonataError> {
    let cut = |name: &str| -> String {
        match m.width {
            Some((_, Some(max))) if max >= 1.0 => name.chars().take(max as usize).collect(),
            _ => name.to_string(),
        }
    };
    Ok(match m.component {
        'M' | 'x' => MONTHS
            .iter()
            .enumerate()
            .map(|(i, n)| (cut(n), i as f64 + 1.0))
            .collect(),
        'F' => DAYS
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, n)| (cut(n), i as f64))
            .collect(),
        'P' => vec![
            ("am".into(), 0.0),
            ("AM".into(), 0.0),
            ("pm".into(), 1.0),
            ("PM".into(), 1.0),
        ],
        c => return Err(names_error(c)),
    })
}

/// A part's regex, and for a marker its component and reader.
type Matcher = (String, Option<(char, Reader)>);

/// The regex and reader of each part (jsonata-js's `generateRegex` for dates).
fn matchers(parts: &[Part]) -> Result<Vec<Matcher>, JsonataError> {
    let mut out = Vec::new();
    for part in parts {
        let m = match part {
            Part::Literal(s) => {
                out.push((regex::escape(s), None));
                continue;
            }
            Part::Marker(m) => m,
        };
        let c = m.component;
        if c == 'Z' || c == 'z' {
            let sep = m.int.as_ref().and_then(|f| f.regular).map(|(_, s)| s);
            let mut r = if c == 'z' {
                "GMT".to_string()
            } else {
                String::new()
            };
            r.push_str("[-+][0-9]+");
            if let Some(s) = sep {
                r.push(s);
                r.push_str("[0-9]+");
            }
            out.push((r, Some((c, Reader::Zone(c, sep)))));
        } else if let Some(f) = &m.int {
            let r = intpic::regex_for(f, m.n)?;
            out.push((r, Some((c, Reader::Int(f.clone())))));
        } else {
            out.push((
                "[a-zA-Z]+".into(),
                Some((c, Reader::Names(names_lookup(m)?))),
            ));
        }
    }
    Ok(out)
}

fn read_zone(text: &str, c: char, sep: Option<char>) -> f64 {
    let text = if c == 'z' {
        text.get(3..).unwrap_or("")
    } else {
        text
    };
    let (hours, minutes) = match sep.and_then(|s| text.find(s).map(|i| (i, s))) {
        Some((i, s)) => (
            js_parse_int(&text[..i]),
            js_parse_int(&text[i + s.len_utf8()..]),
        ),
        None if text.len() <= 3 => (js_parse_int(text), 0.0),
        None => (js_parse_int(&text[..3]), js_parse_int(&text[3..])),
    };
    hours * 60.0 + minutes
}

fn missing_specifiers() -> JsonataError {
    err(
        "D3136",
        "The date/time picture string is missing specifiers required to parse the timestamp",
    )
}

/// A JavaScript value's truth as a bit of the component mask.
fn truthy(v: Option<f64>) -> bool {
    v.is_some_and(|x| x != 0.0 && !x.is_nan())
}

/// `$toMillis(timestamp, picture)`: `None` is undefined (the text does not fit the picture),
/// NaN an invalid date.
pub(crate) fn to_millis(
    timestamp: &str,
    picture: Option<&str>,
    now: f64,
) -> Result<Option<f64>, JsonataError> {
    let Some(picture) = picture else {
        return iso_millis(timestamp).map(Some);
    };
    let parts = analyse(picture)?;
    let matchers = matchers(&parts)?;
    let full: String = matchers.iter().map(|(r, _)| format!("({r})")).collect();
    let re = RegexBuilder::new(&format!("^{full}$"))
        .case_insensitive(true)
        .build()
        .map_err(|e| {
            err(
                "D3136",
                format!("The date/time picture string cannot be read: {e}"),
            )
        })?;
    let Some(caps) = re.captures(timestamp) else {
        return Ok(None);
    };
    // Each component is absent, present but undefined (a name not found), or a number.
    let mut comps: BTreeMap<char, Option<f64>> = BTreeMap::new();
    for (i, (_, reader)) in matchers.iter().enumerate() {
        let Some((c, reader)) = reader else { continue };
        let text = caps.get(i + 1).map(|m| m.as_str()).unwrap_or("");
        let v = match reader {
            Reader::Int(f) => Some(intpic::parse_with(text, f)?),
            Reader::Zone(zc, sep) => Some(read_zone(text, *zc, *sep)),
            Reader::Names(lookup) => lookup.iter().find(|(n, _)| n == text).map(|(_, v)| *v),
        };
        comps.insert(*c, v);
    }
    if comps.is_empty() {
        return Ok(None);
    }
    Ok(Some(compose(comps, now)?))
}

/// Which date and time forms the components give, then the time value, as jsonata-js's
/// `parseDateTime` settles it.
fn compose(mut comps: BTreeMap<char, Option<f64>>, now: f64) -> Result<f64, JsonataError> {
    let get = |comps: &BTreeMap<char, Option<f64>>, c: char| comps.get(&c).copied().flatten();
    let mask_of = |comps: &BTreeMap<char, Option<f64>>, letters: &str| {
        letters
            .chars()
            .fold(0u32, |m, c| (m << 1) | truthy(get(comps, c)) as u32)
    };
    let is_type = |ty: u32, mask: u32| (!ty & mask) == 0 && (ty & mask) != 0;
    let dmask = mask_of(&comps, "YXMxWwdD");
    let date_a = is_type(161, dmask);
    let date_b = !date_a && is_type(130, dmask);
    let date_c = is_type(84, dmask);
    let date_d = !date_c && is_type(72, dmask);
    let tmask = mask_of(&comps, "PHhmsf");
    let time_a = is_type(23, tmask);
    let time_b = !time_a && is_type(47, tmask);
    let date_comps = if date_b {
        "YD"
    } else if date_c {
        "XxwF"
    } else if date_d {
        "XWF"
    } else {
        "YMD"
    };
    let time_comps = if time_b { "Phmsf" } else { "Hmsf" };
    let (mut started, mut ended) = (false, false);
    for c in date_comps.chars().chain(time_comps.chars()) {
        if get(&comps, c).is_none() {
            let v = if started {
                ended = true;
                if "MDd".contains(c) {
                    1.0
                } else {
                    0.0
                }
            } else {
                match fragment(now, c) {
                    Frag::Num(v) => v,
                    // `am`/`pm` from the clock: a string, never equal to 1.
                    _ => f64::NAN,
                }
            };
            comps.insert(c, Some(v));
        } else {
            started = true;
            if ended {
                return Err(missing_specifiers());
            }
        }
    }
    let v = |comps: &BTreeMap<char, Option<f64>>, c: char| get(comps, c).unwrap_or(f64::NAN);
    let mut month0 = v(&comps, 'M');
    month0 = if month0 > 0.0 { month0 - 1.0 } else { 0.0 };
    let mut date = v(&comps, 'D');
    if date_b {
        let first = date_utc(v(&comps, 'Y'), 0.0, 1.0, 0.0, 0.0, 0.0, 0.0);
        let derived = fields(time_clip(first + (v(&comps, 'd') - 1.0) * DAY_MS));
        month0 = derived.month0;
        date = derived.date;
    }
    if date_c || date_d {
        return Err(missing_specifiers());
    }
    let mut hour = v(&comps, 'H');
    if time_b {
        let h = v(&comps, 'h');
        hour = if h == 12.0 { 0.0 } else { h };
        if v(&comps, 'P') == 1.0 {
            hour += 12.0;
        }
    }
    let mut millis = date_utc(
        v(&comps, 'Y'),
        month0,
        date,
        hour,
        v(&comps, 'm'),
        v(&comps, 's'),
        v(&comps, 'f'),
    );
    let zone = get(&comps, 'Z').filter(|z| truthy(Some(*z)));
    if let Some(z) = zone.or_else(|| get(&comps, 'z').filter(|z| truthy(Some(*z)))) {
        millis -= z * 60_000.0;
    }
    Ok(millis)
}

/// `$toMillis(timestamp)`: the text must pass jsonata-js's ISO 8601 check (D3110), then it is
/// read as JavaScript's `Date.parse` reads it, NaN when the date does not exist.
fn iso_millis(s: &str) -> Result<f64, JsonataError> {
    static CHECK: OnceLock<Regex> = OnceLock::new();
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        Regex::new(
            r"^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$",
        )
        .expect("a fixed regex")
    });
    if !check.is_match(s) {
        return Err(err(
            "D3110",
            format!("The timestamp \"{s}\" cannot be parsed as an ISO 8601 date/time"),
        ));
    }
    let shape = SHAPE.get_or_init(|| {
        Regex::new(
            r"^(\d{4})(?:-(\d\d)(?:-(\d\d))?)?(?:T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?(Z|[+-]\d\d:?\d\d)?$",
        )
        .expect("a fixed regex")
    });
    let Some(c) = shape.captures(s) else {
        return Ok(f64::NAN);
    };
    let num = |i: usize, default: f64| {
        c.get(i)
            .map(|m| m.as_str().parse::<f64>().unwrap_or(f64::NAN))
            .unwrap_or(default)
    };
    let (y, mo, d) = (num(1, 0.0), num(2, 1.0), num(3, 1.0));
    let (h, mi, sec) = (num(4, 0.0), num(5, 0.0), num(6, 0.0));
    let ms = c
        .get(7)
        .map(|m| {
            let digits: String = m.as_str().chars().chain("000".chars()).take(3).collect();
            digits.parse::<f64>().unwrap_or(0.0)
        })
        .unwrap_or(0.0);
    // Date.parse checks each field's range, but not the day against its month.
    let time_ok = h < 24.0 || (h == 24.0 && mi == 0.0 && sec == 0.0 && ms == 0.0);
    if !(1.0..=12.0).contains(&mo) || !(1.0..=31.0).contains(&d) || !time_ok {
        return Ok(f64::NAN);
    }
    let mut offset = 0.0;
    if let Some(z) = c.get(8).map(|m| m.as_str()).filter(|z| *z != "Z") {
        let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
        let (oh, om) = (num_of(&digits[..2]), num_of(&digits[2..]));
        if oh > 23.0 || om > 59.0 {
            return Ok(f64::NAN);
        }
        offset = (oh * 60.0 + om) * if z.starts_with('-') { -1.0 } else { 1.0 };
    }
    // Four-digit years only: Date.parse does not map 0-99 to the 1900s.
    let day = make_day(y, mo - 1.0, d);
    Ok(time_clip(
        day * DAY_MS + make_time(h, mi, sec, ms) - offset * 60_000.0,
    ))
}

fn num_of(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        for days in [-719_468i64, -1, 0, 1, 17_613, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            date_utc(2018.0, 12.0, 45.0, 0.0, 0.0, 0.0, 0.0),
            1_550_102_400_000.0
        );
        assert_eq!(
            date_utc(99.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0),
            915_148_800_000.0
        );
    }

    #[test]
    fn formats_as_jsonata_js() {
        let t = 1_521_801_216_617.0;
        assert_eq!(
            from_millis(t, None, None).unwrap(),
            "2018-03-23T10:33:36.617Z"
        );
        assert_eq!(
            from_millis(t, Some("[FNn], [D1o] [MNn] [Y]"), None).unwrap(),
            "Friday, 23rd March 2018"
        );
        assert_eq!(from_millis(t, Some("[M,*-3]"), None).unwrap(), "003");
        assert_eq!(from_millis(t, Some("[D,3-2]"), None).unwrap(), "23");
        // The timezone is one integer: +05:30 reads as 5, i.e. five minutes.
        assert_eq!(
            from_millis(t, Some("[H01]:[m01] [Z]"), Some("+05:30")).unwrap(),
            "10:38 +00:05"
        );
        assert_eq!(
            from_millis(t, Some("[H01]:[m01] [Z]"), Some("-12:00")).unwrap(),
            "09:21 -01:12"
        );
        assert_eq!(
            from_millis(t, Some("[H01]:[m01] [Z]"), Some("+0530")).unwrap(),
            "16:03 +05:30"
        );
        assert_eq!(
            from_millis(t, Some("[H01]:[m01] [Z]"), Some("Z")).unwrap(),
            "NaN:NaN 0N:aN"
        );
        assert_eq!(
            from_millis(1e20, None, None).unwrap(),
            "0NaN-NaN-NaNTNaN:NaN:NaN.NaNZ"
        );
        assert_eq!(from_millis(t, Some("[Q]"), None).unwrap_err().code, "D3132");
        assert_eq!(from_millis(t, Some("[Q1]"), None).unwrap(), "undefined");
        assert_eq!(from_millis(t, Some("[Y"), None).unwrap_err().code, "D3135");
        assert_eq!(
            from_millis(t, Some("[Yn]"), None).unwrap_err().code,
            "D3133"
        );
    }

    #[test]
    fn parses_as_jsonata_js() {
        let p = |s: &str, pic: &str| to_millis(s, Some(pic), 0.0);
        assert_eq!(
            p("2018-13-45", "[Y]-[M]-[D]").unwrap(),
            Some(1_550_102_400_000.0)
        );
        assert_eq!(p("99", "[Y01]").unwrap(), Some(915_148_800_000.0));
        assert_eq!(
            p("20180323103336", "[Y0001][M01][D01][H01][m01][s01]").unwrap(),
            Some(1_525_482_186_000.0)
        );
        assert_eq!(p("2018-03-23 +0530", "[Y]-[M]-[D] [Z]").unwrap(), None);
        assert_eq!(
            p("2018-03-23 +05:30", "[Y]-[M]-[D] [Z]").unwrap(),
            Some(1_521_763_200_000.0 - 330.0 * 60_000.0)
        );
        // Names are looked up as written: MAR is not Mar.
        assert_eq!(
            p("23 MAR 2018", "[D] [MN,3-3] [Y]").unwrap_err().code,
            "D3136"
        );
        assert_eq!(
            p("23 Mar 2018", "[D] [MN,3-3] [Y]").unwrap(),
            Some(1_521_763_200_000.0)
        );
        assert_eq!(p("2018 W12", "[X] W[W]").unwrap_err().code, "D3136");
        assert_eq!(
            p("twenty-third of March, 2018", "[Dw] of [MNn], [Y]").unwrap(),
            Some(1_521_763_200_000.0)
        );
        assert_eq!(p("nope", "[Y]").unwrap(), None);
    }

    #[test]
    fn iso_text_reads_as_date_parse() {
        assert_eq!(iso_millis("2018-02-30").unwrap(), 1_519_948_800_000.0);
        assert!(iso_millis("2018-03-23T25:00:00Z").unwrap().is_nan());
        assert_eq!(
            iso_millis("2018-03-23T10:33:36.617+01:00").unwrap(),
            1_521_801_216_617.0 - 3_600_000.0
        );
        assert_eq!(iso_millis("nope").unwrap_err().code, "D3110");
    }
}
