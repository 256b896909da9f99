//! URL escapes, through the percent-encoding crate: decoding request paths, query strings and
//! `x-amz-copy-source` (the HTTP front, S3 and Lambda all use it, so it lives apart from each),
//! and encoding keys for S3's `encoding-type=url` listings and IAM's policy documents.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `encoding-type=url` escapes in a key: everything but unreserved characters and `/`.
const KEY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Decodes `%XX` escapes (not `+`). `None` when an escape is malformed or the result is not
/// UTF-8.
///
/// percent-encoding passes a malformed escape (`%zz`, a `%` near the end) through as text; a
/// request path with one is refused instead (S3 answers `InvalidURI`), so it is checked first.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Splits a query string into decoded pairs (`+` is a space, as in forms). Pairs that do not
/// decode are dropped.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(&k.replace('+', " "))?;
            let v = percent_decode(&v.replace('+', " "))?;
            Some((k, v))
        })
        .collect()
}

/// A key as `encoding-type=url` listings write it.
pub fn percent_encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ESCAPES).to_string()
}

/// What a URL-encoded value escapes: everything but unreserved characters.
const VALUE_ESCAPES: &AsciiSet = &KEY_ESCAPES.add(b'/');

/// A value URL-encoded with every reserved character escaped (`%20` for a space), as IAM
/// returns policy documents.
pub fn percent_encode_value(value: &str) -> String {
    utf8_percent_encode(value, VALUE_ESCAPES).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%%41"), None);
        assert_eq!(percent_decode("100%25").as_deref(), Some("100%"));
        assert_eq!(
            parse_query("list-type=2&prefix=results%2F&delimiter=&x"),
            vec![
                ("list-type".to_string(), "2".to_string()),
                ("prefix".to_string(), "results/".to_string()),
                ("delimiter".to_string(), String::new()),
                ("x".to_string(), String::new()),
            ]
        );
        assert_eq!(parse_query("a=b+c")[0].1, "b c");
    }

    #[test]
    fn listing_keys_are_url_encoded() {
        assert_eq!(percent_encode_key("a b/c+d"), "a%20b/c%2Bd");
        assert_eq!(percent_encode_key("ctl\u{1}é"), "ctl%01%C3%A9");
        assert_eq!(
            percent_encode_value("{\"a\": \"s3:::b/*\"}"),
            "%7B%22a%22%3A%20%22s3%3A%3A%3Ab%2F%2A%22%7D"
        );
    }
}
