//! JSONata's regular expressions (`/pattern/flags`), which are JavaScript's.
//!
//! Most patterns compile to the `regex` crate's automaton, which matches in linear time.
//! JavaScript also has look-around (`(?=`, `(?!`, `(?<=`, `(?<!`) and back-references (`\1`),
//! which no automaton can run and `regex` refuses. A pattern the `regex` crate refuses for one of
//! those two reasons alone is compiled by `fancy-regex` instead: a backtracking engine that hands
//! the plain parts to the same automaton, with a step limit, so one call cannot run away. A
//! pattern jsonata-js accepts is then accepted here too.
//!
//! Matches are walked with [`JsRegex::find_at`]: each search starts where the previous match
//! ended and sees the whole string (so `^`, `\b` and look-behind see what came before).

use super::JsonataError;

/// Backtracking steps one search may take before it gives up (`fancy-regex`'s default).
const BACKTRACK_LIMIT: usize = 1_000_000;

/// A compiled JSONata regular expression.
#[derive(Debug, Clone)]
pub(crate) struct JsRegex {
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    Automaton(regex::Regex),
    /// Boxed: a backtracking program is large, and every parsed expression holds a `JsRegex`.
    Backtracking(Box<fancy_regex::Regex>),
}

/// One match: the byte spans of the whole match (index 0) and of each capture group.
#[derive(Debug)]
pub(crate) struct Found {
    spans: Vec<Option<(usize, usize)>>,
}

impl Found {
    pub(crate) fn start(&self) -> usize {
        self.spans[0].map_or(0, |s| s.0)
    }

    pub(crate) fn end(&self) -> usize {
        self.spans[0].map_or(0, |s| s.1)
    }

    /// The matched text.
    pub(crate) fn text<'s>(&self, s: &'s str) -> &'s str {
        &s[self.start()..self.end()]
    }

    /// How many capture groups the pattern has (not counting the whole match).
    pub(crate) fn groups(&self) -> usize {
        self.spans.len() - 1
    }

    /// Group `i` (1-based), or `None` when it took no part in the match.
    pub(crate) fn group<'s>(&self, s: &'s str, i: usize) -> Option<&'s str> {
        self.spans.get(i).copied().flatten().map(|(a, b)| &s[a..b])
    }
}

/// The `regex` crate's refusal of a feature only backtracking can run.
fn needs_backtracking(e: &regex::Error) -> bool {
    let text = e.to_string();
    text.contains("look-around") || text.contains("backreferences")
}

impl JsRegex {
    /// Compiles a JavaScript pattern with JSONata's flags (`i`, `m`).
    pub(crate) fn compile(pattern: &str, flags: &str) -> Result<JsRegex, String> {
        let translated = translate(pattern);
        let (insensitive, multi_line) = (flags.contains('i'), flags.contains('m'));
        let first_line = |e: &dyn std::fmt::Display| {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .to_string();
            format!("Invalid regular expression /{pattern}/: {first}")
        };
        let automaton = regex::RegexBuilder::new(&translated)
            .case_insensitive(insensitive)
            .multi_line(multi_line)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .nest_limit(64)
            .build();
        match automaton {
            Ok(re) => Ok(JsRegex {
                engine: Engine::Automaton(re),
            }),
            Err(e) if needs_backtracking(&e) => fancy_regex::RegexBuilder::new(&translated)
                .case_insensitive(insensitive)
                .multi_line(multi_line)
                .backtrack_limit(BACKTRACK_LIMIT)
                .delegate_size_limit(1 << 20)
                .delegate_dfa_size_limit(1 << 20)
                .build()
                .map(|re| JsRegex {
                    engine: Engine::Backtracking(Box::new(re)),
                })
                .map_err(|e| first_line(&e)),
            Err(e) => Err(first_line(&e)),
        }
    }

    /// The first match in `s` at or after byte `from`.
    pub(crate) fn find_at(&self, s: &str, from: usize) -> Result<Option<Found>, JsonataError> {
        if from > s.len() {
            return Ok(None);
        }
        match &self.engine {
            Engine::Automaton(re) => Ok(re.captures_at(s, from).map(|c| Found {
                spans: (0..c.len())
                    .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                    .collect(),
            })),
            Engine::Backtracking(re) => {
                let caps = re.captures_from_pos(s, from).map_err(|e| {
                    JsonataError::new(
                        "U1001",
                        format!("The regular expression could not finish matching: {e}"),
                    )
                })?;
                Ok(caps.map(|c| Found {
                    spans: (0..c.len())
                        .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                        .collect(),
                }))
            }
        }
    }

    /// Walks the matches of `s` as jsonata-js's `$match`, `$replace` and `$split` do: the first
    /// match (which may be empty), then each next one from where the last ended, until one ends
    /// at the end of `s`. A next match that is empty would never progress: `D1004`. At most
    /// `limit` matches reach `each`, but the next match is still sought after each (as
    /// jsonata-js's `next()` is), so a `D1004` can surface at the limit too.
    pub(crate) fn each_match(
        &self,
        s: &str,
        limit: Option<usize>,
        mut each: impl FnMut(&Found) -> Result<(), JsonataError>,
    ) -> Result<(), JsonataError> {
        let mut current = self.find_at(s, 0)?;
        let mut count = 0;
        while let Some(m) = current {
            if limit.is_some_and(|l| count >= l) {
                break;
            }
            each(&m)?;
            current = if m.end() >= s.len() {
                None
            } else {
                match self.find_at(s, m.end())? {
                    Some(next) if next.start() == next.end() => {
                        return Err(JsonataError::new(
                            "D1004",
                            "Regular expression matches zero length string",
                        ))
                    }
                    next => next,
                }
            };
            count += 1;
        }
        Ok(())
    }

    /// Whether the pattern matches anywhere in `s`.
    pub(crate) fn is_match(&self, s: &str) -> Result<bool, JsonataError> {
        match &self.engine {
            Engine::Automaton(re) => Ok(re.is_match(s)),
            Engine::Backtracking(_) => Ok(self.find_at(s, 0)?.is_some()),
        }
    }
}

/// Translates a JavaScript pattern into the `regex` crate's dialect (which `fancy-regex` shares).
/// The common syntax is the same; JavaScript lets any punctuation be escaped, and `regex` rejects
/// escapes of characters that are not meta characters, so those are unescaped here.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e) if e.is_ascii_alphanumeric() || is_meta(e) => {
                out.push('\\');
                out.push(e);
            }
            Some(e) => out.push(e),
            None => out.push_str("\\\\"),
        }
    }
    out
}

/// The `regex` crate's meta characters (escaped, they stay escaped).
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> Vec<String> {
        let re = JsRegex::compile(pattern, "").unwrap();
        let mut out = Vec::new();
        re.each_match(s, None, |m| {
            out.push(m.text(s).to_string());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn matches_walk_as_jsonata_js_does() {
        // A match that reaches the end stops the walk; an empty first match is a match.
        assert_eq!(matches("a*", "aaa"), ["aaa"]);
        assert_eq!(matches("$", "ab"), [""]);
        assert_eq!(matches("a", "banana"), ["a", "a", "a"]);
        // An empty next match would never progress.
        let re = JsRegex::compile("(?=b)", "").unwrap();
        let e = re.each_match("ab", None, |_| Ok(())).unwrap_err();
        assert_eq!(e.code, "D1004");
        // The limit stops the walk, after the next match was sought.
        let mut n = 0;
        re.each_match("ab", Some(0), |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn javascript_escapes_and_flags() {
        assert!(JsRegex::compile("^hello\\ ", "")
            .unwrap()
            .is_match("hello ")
            .unwrap());
        assert!(JsRegex::compile("^hello\\$", "")
            .unwrap()
            .is_match("hello$world")
            .unwrap());
        assert!(JsRegex::compile("a\\/b", "i")
            .unwrap()
            .is_match("A/B")
            .unwrap());
        assert!(JsRegex::compile("^b", "m")
            .unwrap()
            .is_match("a\nb")
            .unwrap());
        assert!(JsRegex::compile("(", "").is_err());
    }

    #[test]
    fn look_around_and_back_references_run_by_backtracking() {
        assert_eq!(matches("\\d+(?=px)", "10px 20em 30px"), ["10", "30"]);
        assert_eq!(matches("(?<!\\$)\\b\\d+", "$5 7"), ["7"]);
        assert_eq!(matches("(\\w)\\1", "aabbc"), ["aa", "bb"]);
        let re = JsRegex::compile("(a)(x)?\\1", "").unwrap();
        let m = re.find_at("zaa", 0).unwrap().unwrap();
        assert_eq!((m.start(), m.end(), m.groups()), (1, 3, 2));
        assert_eq!((m.group("zaa", 1), m.group("zaa", 2)), (Some("a"), None));
    }

    #[test]
    fn a_runaway_backtracking_search_is_an_error_not_a_hang() {
        let re = JsRegex::compile("(a|aa)+(?=b)c", "").unwrap();
        let e = re.find_at(&"a".repeat(64), 0).unwrap_err();
        assert_eq!(e.code, "U1001");
    }
}
