//! The timestamp format of the language: Wait `Timestamp` and the `Timestamp*` comparisons
//! take RFC 3339 date-times. The validator, the expression checks and the interpreter share
//! this one definition.

/// Whether `s` is an RFC 3339 date-time, as AWS requires for Wait `Timestamp`: a `T`
/// separator and an explicit offset (`Z` or `±hh:mm`).
pub fn is_rfc3339(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't') {
        return false;
    }
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert!(is_rfc3339("2016-03-14T01:59:00Z"));
        assert!(is_rfc3339("2016-03-14T01:59:00.123+02:00"));
        for bad in [
            "2016-13-05T21:29:29Z",
            "05-12-2016T21:29:29Z",
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "{% '2016-03-14T01:59:00Z' %}",
            "",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
