//! Maps JSON pointers to line:column positions in the source text of a definition.
//!
//! serde_json does not keep positions, so after a successful parse we scan the text once more
//! with a small tokenizer and record where every value starts (and where every object member's
//! key starts). The scan is iterative, so a deeply nested document cannot overflow the stack.

use std::collections::HashMap;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Positions of the values (and member keys) of one JSON document, by JSON pointer.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

/// Escapes one reference token for a JSON pointer (RFC 6901).
pub fn escape_token(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}

/// Appends a token to a pointer.
pub fn join(pointer: &str, token: &str) -> String {
    let mut p = String::with_capacity(pointer.len() + token.len() + 1);
    p.push_str(pointer);
    p.push('/');
    p.push_str(&escape_token(token));
    p
}

enum Frame {
    Object {
        pointer: String,
        key: Option<String>,
    },
    Array {
        pointer: String,
        index: usize,
    },
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    line: usize,
    column: usize,
}

impl Cursor<'_> {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|(_, c)| *c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    /// Reads a string whose opening quote is next; returns its decoded text.
    fn string(&mut self) -> Option<String> {
        self.bump(); // opening quote
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => match self.bump()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let mut code = 0u32;
                        for _ in 0..4 {
                            code = code * 16 + self.bump()?.to_digit(16)?;
                        }
                        // Surrogate pairs decode to one char; a lone surrogate is kept as U+FFFD.
                        if (0xD800..0xDC00).contains(&code) && self.peek() == Some('\\') {
                            self.bump();
                            if self.bump()? != 'u' {
                                return None;
                            }
                            let mut low = 0u32;
                            for _ in 0..4 {
                                low = low * 16 + self.bump()?.to_digit(16)?;
                            }
                            let c = 0x10000 + ((code - 0xD800) << 10) + (low.wrapping_sub(0xDC00));
                            out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        } else {
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
    }

    /// Skips a scalar (number, true, false, null).
    fn scalar(&mut self) {
        while let Some(c) = self.peek() {
            if matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r') {
                break;
            }
            self.bump();
        }
    }
}

impl SourceMap {
    /// Scans `text`, which must be valid JSON (parse it with serde_json first). On malformed
    /// input the map is simply incomplete.
    pub fn build(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut cur = Cursor {
            chars: text.char_indices().peekable(),
            line: 1,
            column: 1,
        };
        let mut stack: Vec<Frame> = Vec::new();
        // The pointer of the value about to be read, if we are expecting a value.
        let mut pending: Option<String> = Some(String::new());
        loop {
            cur.skip_ws();
            let Some(c) = cur.peek() else { break };
            if let Some(pointer) = pending.take() {
                map.values.entry(pointer.clone()).or_insert(cur.pos());
                match c {
                    '{' => {
                        cur.bump();
                        stack.push(Frame::Object { pointer, key: None });
                    }
                    '[' => {
                        cur.bump();
                        cur.skip_ws();
                        if cur.peek() == Some(']') {
                            cur.bump();
                            continue;
                        }
                        pending = Some(join(&pointer, "0"));
                        stack.push(Frame::Array { pointer, index: 0 });
                    }
                    '"' => {
                        if cur.string().is_none() {
                            break;
                        }
                    }
                    _ => cur.scalar(),
                }
                continue;
            }
            match (c, stack.last_mut()) {
                ('"', Some(Frame::Object { pointer, key })) if key.is_none() => {
                    let at = cur.pos();
                    let Some(k) = cur.string() else { break };
                    let member = join(pointer, &k);
                    map.keys.entry(member.clone()).or_insert(at);
                    *key = Some(member);
                }
                (':', Some(Frame::Object { key, .. })) => {
                    cur.bump();
                    pending = key.take();
                }
                (',', Some(Frame::Array { pointer, index })) => {
                    cur.bump();
                    *index += 1;
                    pending = Some(join(pointer, &index.to_string()));
                }
                (',', Some(Frame::Object { .. })) => {
                    cur.bump();
                }
                ('}', Some(Frame::Object { .. })) | (']', Some(Frame::Array { .. })) => {
                    cur.bump();
                    stack.pop();
                }
                _ => break,
            }
        }
        map
    }

    /// Where the value at `pointer` starts.
    pub fn value(&self, pointer: &str) -> Option<Position> {
        self.values.get(pointer).copied()
    }

    /// Where the member key at `pointer` starts (for object members).
    pub fn key(&self, pointer: &str) -> Option<Position> {
        self.keys.get(pointer).copied()
    }

    /// The best position for a diagnostic at `pointer`: the member's key when it is an object
    /// member, else the value, else the nearest ancestor that has a position.
    pub fn locate(&self, pointer: &str) -> Option<Position> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.key(p).or_else(|| self.value(p)) {
                return Some(pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_members_and_items() {
        let text = "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\"Type\": \"Pass\", \"End\": true},\n    \"a/b\": [1, {\"x\": 2}]\n  }\n}";
        let m = SourceMap::build(text);
        assert_eq!(m.value(""), Some(Position { line: 1, column: 1 }));
        assert_eq!(m.key("/StartAt"), Some(Position { line: 2, column: 3 }));
        assert_eq!(
            m.value("/StartAt"),
            Some(Position {
                line: 2,
                column: 14
            })
        );
        assert_eq!(m.key("/States/A"), Some(Position { line: 4, column: 5 }));
        assert_eq!(
            m.key("/States/A/End"),
            Some(Position {
                line: 4,
                column: 27
            })
        );
        assert_eq!(
            m.value("/States/a~1b/1/x"),
            Some(Position {
                line: 5,
                column: 22
            })
        );
        assert_eq!(m.locate("/States/A/Nope"), m.key("/States/A"));
    }

    #[test]
    fn escapes_and_unicode_keys() {
        let text = r#"{"a\"b": {"é\u00e9": 1}, "c": []}"#;
        let m = SourceMap::build(text);
        assert!(m.key("/a\"b").is_some());
        assert!(m.value("/a\"b/éé").is_some());
        assert!(m.value("/c").is_some());
    }

    #[test]
    fn malformed_input_does_not_panic() {
        for t in [
            "",
            "{",
            "[",
            "{\"a\":",
            "\"\\u12",
            "}}}",
            "[1,,]",
            "{\"a\" 1}",
        ] {
            let _ = SourceMap::build(t);
        }
    }
}
