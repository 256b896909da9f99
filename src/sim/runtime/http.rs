//! The smallest HTTP/1.1 server side the runtime processes need: read one request (request line,
//! headers, a `Content-Length` or chunked body, `Expect: 100-continue`) from a blocking socket
//! and write one response. Both loopback servers of an execution environment (the Lambda Runtime
//! API and the S3 endpoint) use it; their clients are the bootstraps stepsim ships, AWS's
//! runtime interface clients and the AWS SDKs, all of which speak plain HTTP/1.1 on loopback.
//!
//! A hand parser instead of hyper: each server runs on its own OS thread, outside the
//! simulation's runtime, and a blocking reader keeps the per-request cost to a few microseconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// Largest header block accepted (a client sending more is not one of ours).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest body accepted: 6 MB is Lambda's synchronous payload limit; S3 objects written from a
/// handler may be larger, so the S3 endpoint passes its own limit.
pub(crate) const MAX_RUNTIME_BODY: usize = 6 * 1024 * 1024;

/// One parsed request.
#[derive(Debug, Default)]
pub(crate) struct Request {
    pub method: String,
    /// The path, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string (after `?`), possibly empty.
    pub query: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this request.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// An answer of the loopback endpoint, ready to write.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Content-Length without a body (HEAD).
    pub length_only: Option<usize>,
}

/// A request could not be read: the peer closed the connection (`Closed`) or sent something
/// that is not HTTP/1.1 as we accept it.
#[derive(Debug)]
pub(crate) enum ReadError {
    Closed,
    Bad(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Bad(e.to_string())
    }
}

/// Reads one request from `reader`; `max_body` caps the body. Answers `Expect: 100-continue`
/// on `stream` before reading the body.
pub(crate) fn read_request(
    reader: &mut BufReader<TcpStream>,
    max_body: usize,
) -> Result<Request, ReadError> {
    let mut line = String::new();
    let mut header_bytes = 0usize;
    // Tolerate blank lines between requests (RFC 9112 §2.2).
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(ReadError::Closed);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(ReadError::Bad(format!("bad request line {line:?}")));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        ..Request::default()
    };
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        header_bytes += n;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        if header_bytes > MAX_HEADER_BYTES {
            return Err(ReadError::Bad("header block too large".into()));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            req.headers
                .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let stream = reader.get_mut();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(reader, max_body)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Bad(format!("bad Content-Length {len:?}")))?;
        if len > max_body {
            return Err(ReadError::Bad(format!(
                "body of {len} bytes exceeds the limit of {max_body}"
            )));
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(req)
}

/// Reads a chunked body (trailers are read and dropped).
fn read_chunked(reader: &mut BufReader<TcpStream>, max_body: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(ReadError::Closed);
        }
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Bad(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers up to the blank line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > max_body {
            return Err(ReadError::Bad(format!(
                "chunked body exceeds the limit of {max_body} bytes"
            )));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

/// The reason phrase of the statuses these servers send.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes one response. `body_len` overrides the Content-Length (HEAD answers carry the
/// object's length with no body).
pub(crate) fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
    body_len: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str(&format!(
        "Content-Length: {}\r\n\r\n",
        body_len.unwrap_or(body.len())
    ));
    // One write for small answers: two writes would wait on Nagle + delayed ACK.
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}

/// Decodes percent-escapes (`%2F`, and `+` left as is, as S3 paths keep it).
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The query parameters, decoded (`+` is a space in query strings).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn roundtrip(raw: &'static [u8]) -> Result<Request, ReadError> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(raw).unwrap();
            // End of input: the reader sees the peer close after `raw`.
            s.shutdown(std::net::Shutdown::Write).unwrap();
            s
        });
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let r = read_request(&mut reader, 1024);
        drop(writer.join());
        r
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let r =
            roundtrip(b"POST /a/b?x=1&y=%2F HTTP/1.1\r\nContent-Length: 3\r\nHost: h\r\n\r\nabc")
                .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/a/b"));
        assert_eq!(r.body, b"abc");
        assert_eq!(r.header("host"), Some("h"));
        assert_eq!(query_pairs(&r.query)[1], ("y".to_string(), "/".to_string()));
        let r = roundtrip(
            b"PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(matches!(
            roundtrip(b"PUT /k HTTP/1.1\r\nContent-Length: 4096\r\n\r\n"),
            Err(ReadError::Bad(_))
        ));
        assert!(matches!(roundtrip(b""), Err(ReadError::Closed)));
    }
}
