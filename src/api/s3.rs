//! The S3 API subset (REST-XML), path-style (`/BUCKET/KEY`), or virtual-hosted under
//! `BUCKET.localhost`: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, PutObject
//! (plain, and the `aws-chunked` encodings the SDKs use for signed or checksummed uploads),
//! CopyObject, GetObject (with a single byte range), HeadObject, DeleteObject, DeleteObjects,
//! ListObjectsV2 and ListObjects.
//!
//! It works on the same [`crate::storage::Store`] that Lambda handlers and Distributed Map read
//! and write, so objects put here are what executions see, and their results can be listed and
//! read back here. Objects written through the API are stamped with the wall-clock time.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use bytes::Bytes;

use crate::storage::{ListRequest, ObjectInfo, StoreError, Timestamp};

use super::error::{push_element, ApiError};
use super::http::percent_decode;
use super::state::{wall_now, ApiState};

const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Which S3 operation a request is, for the request log.
#[derive(Debug)]
pub struct S3Request<'a> {
    pub method: &'a Method,
    /// The bucket, when the request names one.
    pub bucket: Option<String>,
    /// The key, when the request names one (decoded).
    pub key: Option<String>,
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
}

impl<'a> S3Request<'a> {
    /// Splits a request into bucket and key, path-style or virtual-hosted (`B.localhost`).
    pub fn new(
        method: &'a Method,
        host: Option<&str>,
        path: &str,
        query: &'a [(String, String)],
        headers: &'a HeaderMap,
    ) -> Result<S3Request<'a>, ApiError> {
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| {
                ApiError::bad_request("InvalidURI", "Couldn't parse the specified URI.")
            })
        };
        let hostname = host.map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name));
        let virtual_bucket = hostname
            .and_then(|h| h.strip_suffix(".localhost"))
            .filter(|b| !b.is_empty());
        let path = path.strip_prefix('/').unwrap_or(path);
        let (bucket, key) = match virtual_bucket {
            Some(b) => (
                Some(b.to_string()),
                (!path.is_empty()).then(|| decode(path)).transpose()?,
            ),
            None => match path.split_once('/') {
                None if path.is_empty() => (None, None),
                None => (Some(decode(path)?), None),
                Some((b, "")) => (Some(decode(b)?), None),
                Some((b, k)) => (Some(decode(b)?), Some(decode(k)?)),
            },
        };
        Ok(S3Request {
            method,
            bucket,
            key,
            query,
            headers,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_param(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The operation's name.
    pub fn operation(&self) -> &'static str {
        let m = self.method;
        match (&self.bucket, &self.key) {
            (None, _) if m == Method::GET => "ListBuckets",
            (None, _) => "Unsupported",
            (Some(_), None) => match *m {
                Method::PUT => "CreateBucket",
                Method::HEAD => "HeadBucket",
                Method::GET if self.has_param("location") => "GetBucketLocation",
                Method::GET if self.param("list-type") == Some("2") => "ListObjectsV2",
                Method::GET => "ListObjects",
                Method::POST if self.has_param("delete") => "DeleteObjects",
                _ => "Unsupported",
            },
            (Some(_), Some(_)) => match *m {
                Method::PUT if self.header("x-amz-copy-source").is_some() => "CopyObject",
                Method::PUT if self.has_param("partNumber") || self.has_param("uploadId") => {
                    "Unsupported"
                }
                Method::PUT => "PutObject",
                Method::GET => "GetObject",
                Method::HEAD => "HeadObject",
                Method::DELETE => "DeleteObject",
                _ => "Unsupported",
            },
        }
    }
}

/// Maps a storage error onto S3's status and code.
pub fn store_error(e: StoreError) -> ApiError {
    let code = e.s3_code();
    let (status, message) = match &e {
        StoreError::NoSuchBucket { .. } => (
            StatusCode::NOT_FOUND,
            "The specified bucket does not exist".to_string(),
        ),
        StoreError::NoSuchKey { .. } => (
            StatusCode::NOT_FOUND,
            "The specified key does not exist.".to_string(),
        ),
        StoreError::Backend(_) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        _ => (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let err = ApiError::new(status, code, message);
    match e {
        StoreError::NoSuchBucket { bucket } => err.with_s3("BucketName", bucket),
        StoreError::NoSuchKey { key, .. } => err.with_s3("Key", key),
        StoreError::InvalidBucketName { bucket, .. } => err.with_s3("BucketName", bucket),
        _ => err,
    }
}

fn xml_response(status: StatusCode, doc: String) -> Response<Body> {
    let mut r = Response::new(Body::from(doc));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    r
}

fn iso_time(t: Timestamp) -> String {
    crate::engine::history::format_time(t)
}

fn http_date(t: Timestamp) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn object_headers(r: &mut Response<Body>, info: &ObjectInfo) {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.etag) {
        h.insert("etag", v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(info.last_modified)) {
        h.insert("last-modified", v);
    }
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
    h.insert(
        "content-type",
        HeaderValue::from_static("binary/octet-stream"),
    );
}

/// Answers one S3 request.
pub async fn handle(
    state: &Arc<ApiState>,
    req: &S3Request<'_>,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let store = &state.store;
    let bucket = req.bucket.as_deref().unwrap_or_default();
    let key = req.key.as_deref().unwrap_or_default();
    match req.operation() {
        "ListBuckets" => {
            let names = store.list_buckets().await.map_err(store_error)?;
            let mut doc = format!("{XML_HEAD}<ListAllMyBucketsResult xmlns=\"{XMLNS}\">");
            doc.push_str("<Owner>");
            push_element(&mut doc, "ID", &state.settings.account);
            push_element(&mut doc, "DisplayName", "stepsim");
            doc.push_str("</Owner><Buckets>");
            for n in names {
                doc.push_str("<Bucket>");
                push_element(&mut doc, "Name", &n);
                push_element(&mut doc, "CreationDate", &iso_time(state.started));
                doc.push_str("</Bucket>");
            }
            doc.push_str("</Buckets></ListAllMyBucketsResult>");
            Ok(xml_response(StatusCode::OK, doc))
        }
        "CreateBucket" => {
            store.create_bucket(bucket).await.map_err(store_error)?;
            let mut r = Response::new(Body::empty());
            if let Ok(v) = HeaderValue::from_str(&format!("/{bucket}")) {
                r.headers_mut().insert("location", v);
            }
            Ok(r)
        }
        "HeadBucket" => {
            if store.bucket_exists(bucket).await.map_err(store_error)? {
                Ok(Response::new(Body::empty()))
            } else {
                Err(store_error(StoreError::NoSuchBucket {
                    bucket: bucket.to_string(),
                }))
            }
        }
        "GetBucketLocation" => {
            if !store.bucket_exists(bucket).await.map_err(store_error)? {
                return Err(store_error(StoreError::NoSuchBucket {
                    bucket: bucket.to_string(),
                }));
            }
            // us-east-1 is written as an empty constraint.
            let region = &state.settings.region;
            let inner = if region == "us-east-1" { "" } else { region };
            let doc = format!(
                "{XML_HEAD}<LocationConstraint xmlns=\"{XMLNS}\">{}</LocationConstraint>",
                super::error::xml_escape(inner)
            );
            Ok(xml_response(StatusCode::OK, doc))
        }
        "ListObjectsV2" => list_objects(state, req, bucket, true).await,
        "ListObjects" => list_objects(state, req, bucket, false).await,
        "DeleteObjects" => delete_objects(state, bucket, &body).await,
        "PutObject" => {
            let data = decode_upload(req, body)?;
            let info = store
                .put(bucket, key, data, wall_now())
                .await
                .map_err(store_error)?;
            let mut r = Response::new(Body::empty());
            if let Ok(v) = HeaderValue::from_str(&info.etag) {
                r.headers_mut().insert("etag", v);
            }
            // Echo the checksums the client sent, as S3 does after verifying them.
            for (name, value) in req.headers {
                if name.as_str().starts_with("x-amz-checksum-") {
                    r.headers_mut().insert(name.clone(), value.clone());
                }
            }
            Ok(r)
        }
        "CopyObject" => {
            let source = req.header("x-amz-copy-source").unwrap_or_default();
            let source = source.split('?').next().unwrap_or_default();
            let source = percent_decode(source).ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidArgument",
                    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                )
            })?;
            let (src_bucket, src_key) =
                source
                    .trim_start_matches('/')
                    .split_once('/')
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "InvalidArgument",
                            "Copy Source must mention the source bucket and key: \
                         sourcebucket/sourcekey",
                        )
                    })?;
            let (_, data) = store.get(src_bucket, src_key).await.map_err(store_error)?;
            let info = store
                .put(bucket, key, data, wall_now())
                .await
                .map_err(store_error)?;
            let mut doc = format!("{XML_HEAD}<CopyObjectResult xmlns=\"{XMLNS}\">");
            push_element(&mut doc, "ETag", &info.etag);
            push_element(&mut doc, "LastModified", &iso_time(info.last_modified));
            doc.push_str("</CopyObjectResult>");
            Ok(xml_response(StatusCode::OK, doc))
        }
        "GetObject" => {
            let (info, data) = store.get(bucket, key).await.map_err(store_error)?;
            let total = data.len() as u64;
            let range = match req.header("range") {
                None => None,
                Some(spec) => Some(parse_range(spec, total).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "InvalidRange",
                        "The requested range is not satisfiable",
                    )
                    .with_s3("RangeRequested", spec)
                    .with_s3("ActualObjectSize", total.to_string())
                })?),
            };
            let mut r = match range {
                None => Response::new(Body::from(data)),
                Some((first, last)) => {
                    let part = data.slice(first as usize..=last as usize);
                    let mut r = Response::new(Body::from(part));
                    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{total}")) {
                        r.headers_mut().insert("content-range", v);
                    }
                    r
                }
            };
            object_headers(&mut r, &info);
            Ok(r)
        }
        "HeadObject" => {
            let info = store.head(bucket, key).await.map_err(store_error)?;
            let mut r = Response::new(Body::empty());
            object_headers(&mut r, &info);
            if let Ok(v) = HeaderValue::from_str(&info.size.to_string()) {
                r.headers_mut().insert("content-length", v);
            }
            Ok(r)
        }
        "DeleteObject" => {
            store.delete(bucket, key).await.map_err(store_error)?;
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!(
                "stepsim serves ListBuckets, CreateBucket, HeadBucket, PutObject, CopyObject, \
                 GetObject, HeadObject, DeleteObject, DeleteObjects, ListObjects and \
                 ListObjectsV2; not {} {}",
                req.method,
                if req.key.is_some() {
                    "on an object"
                } else {
                    "on a bucket"
                }
            ),
        )),
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within an object of `total` bytes: the first and last
/// byte, or `None` when unsatisfiable.
fn parse_range(spec: &str, total: u64) -> Option<(u64, u64)> {
    let r = spec.trim().strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    if total == 0 {
        return None;
    }
    let (first, last) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 {
                return None;
            }
            (total.saturating_sub(n), total - 1)
        }
        (a, "") => (a.parse().ok()?, total - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(total - 1)),
    };
    (first <= last && first < total).then_some((first, last))
}

/// The object bytes of a PutObject body, undoing the `aws-chunked` content encoding when the
/// client used it (signed streaming uploads, or unsigned uploads with a trailing checksum).
pub fn decode_upload(req: &S3Request<'_>, body: Bytes) -> Result<Bytes, ApiError> {
    let chunked = req
        .header("content-encoding")
        .is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"))
        || req
            .header("x-amz-content-sha256")
            .is_some_and(|s| s.starts_with("STREAMING-"));
    if !chunked {
        return Ok(body);
    }
    let data = decode_aws_chunked(&body).map_err(|why| {
        ApiError::bad_request(
            "IncompleteBody",
            format!("The aws-chunked request body could not be decoded: {why}"),
        )
    })?;
    if let Some(n) = req.header("x-amz-decoded-content-length") {
        if n.trim().parse::<usize>().ok() != Some(data.len()) {
            return Err(ApiError::bad_request(
                "IncompleteBody",
                format!(
                    "The decoded body has {} bytes but x-amz-decoded-content-length says {n}",
                    data.len()
                ),
            ));
        }
    }
    Ok(Bytes::from(data))
}

/// Decodes `SIZE[;chunk-signature=...]\r\nDATA\r\n ... 0...\r\n[trailers]\r\n`.
pub fn decode_aws_chunked(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0usize;
    loop {
        let line_end = find_crlf(body, at).ok_or("a chunk header has no line end")?;
        let header = std::str::from_utf8(&body[at..line_end])
            .map_err(|_| "a chunk header is not text".to_string())?;
        let size_text = header.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        at = line_end + 2;
        if size == 0 {
            // Trailers (checksums) follow; they are not part of the object.
            return Ok(out);
        }
        let end = at.checked_add(size).ok_or("chunk size overflows")?;
        let chunk = body
            .get(at..end)
            .ok_or("a chunk is shorter than its size")?;
        out.extend_from_slice(chunk);
        if body.get(end..end + 2) != Some(b"\r\n") {
            return Err("a chunk does not end with CRLF".to_string());
        }
        at = end + 2;
    }
}

fn find_crlf(body: &[u8], from: usize) -> Option<usize> {
    body.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// URL-encodes a key for `encoding-type=url` listings (everything but unreserved characters
/// and `/`).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn list_objects(
    state: &Arc<ApiState>,
    req: &S3Request<'_>,
    bucket: &str,
    v2: bool,
) -> Result<Response<Body>, ApiError> {
    let max_keys = match req.param("max-keys") {
        None => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                "InvalidArgument",
                "Provided max-keys not an integer or within integer range",
            )
            .with_s3("ArgumentName", "max-keys")
            .with_s3("ArgumentValue", v)
        })?),
    };
    let url = match req.param("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "InvalidArgument",
                "Invalid Encoding Method specified in Request",
            )
            .with_s3("ArgumentName", "encoding-type")
            .with_s3("ArgumentValue", other))
        }
    };
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
    let prefix = req.param("prefix").unwrap_or_default().to_string();
    let delimiter = req
        .param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let continuation = if v2 {
        req.param("continuation-token").map(str::to_string)
    } else {
        None
    };
    let start_after = if v2 {
        req.param("start-after")
    } else {
        req.param("marker")
    }
    .filter(|s| !s.is_empty())
    .map(str::to_string);
    let list = ListRequest {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        continuation_token: continuation.clone(),
        start_after: start_after.clone(),
        max_keys,
    };
    let page = state.store.list(bucket, &list).await.map_err(store_error)?;
    let mut doc = format!("{XML_HEAD}<ListBucketResult xmlns=\"{XMLNS}\">");
    push_element(&mut doc, "Name", bucket);
    push_element(&mut doc, "Prefix", &enc(&prefix));
    if let Some(d) = &delimiter {
        push_element(&mut doc, "Delimiter", &enc(d));
    }
    push_element(&mut doc, "MaxKeys", &page.max_keys.to_string());
    if url {
        push_element(&mut doc, "EncodingType", "url");
    }
    push_element(
        &mut doc,
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    if v2 {
        push_element(&mut doc, "KeyCount", &page.key_count().to_string());
        if let Some(t) = &continuation {
            push_element(&mut doc, "ContinuationToken", t);
        }
        if let Some(t) = &page.next_continuation_token {
            push_element(&mut doc, "NextContinuationToken", t);
        }
        if let Some(s) = &start_after {
            push_element(&mut doc, "StartAfter", &enc(s));
        }
    } else {
        push_element(
            &mut doc,
            "Marker",
            &enc(start_after.as_deref().unwrap_or("")),
        );
        if page.is_truncated {
            // The greatest key or common prefix of the page, as S3 reports it.
            let last_key = page.objects.last().map(|o| o.key.as_str());
            let last_prefix = page.common_prefixes.last().map(String::as_str);
            if let Some(m) = last_key.max(last_prefix) {
                push_element(&mut doc, "NextMarker", &enc(m));
            }
        }
    }
    for o in &page.objects {
        doc.push_str("<Contents>");
        push_element(&mut doc, "Key", &enc(&o.key));
        push_element(&mut doc, "LastModified", &iso_time(o.last_modified));
        push_element(&mut doc, "ETag", &o.etag);
        push_element(&mut doc, "Size", &o.size.to_string());
        push_element(&mut doc, "StorageClass", "STANDARD");
        doc.push_str("</Contents>");
    }
    for p in &page.common_prefixes {
        doc.push_str("<CommonPrefixes>");
        push_element(&mut doc, "Prefix", &enc(p));
        doc.push_str("</CommonPrefixes>");
    }
    doc.push_str("</ListBucketResult>");
    Ok(xml_response(StatusCode::OK, doc))
}

/// The text of every `<Key>` element of a DeleteObjects document, unescaped.
fn keys_of_delete_document(doc: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find("<Key>") {
        let after = &rest[i + 5..];
        let Some(j) = after.find("</Key>") else {
            break;
        };
        keys.push(xml_unescape(&after[..j]));
        rest = &after[j + 6..];
    }
    keys
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(end) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn delete_objects(
    state: &Arc<ApiState>,
    bucket: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let doc = std::str::from_utf8(body).map_err(|_| {
        ApiError::bad_request("MalformedXML", "The XML you provided was not well-formed")
    })?;
    if !doc.contains("<Delete") {
        return Err(ApiError::bad_request(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our \
             published schema",
        ));
    }
    let quiet = doc.contains("<Quiet>true</Quiet>");
    let keys = keys_of_delete_document(doc);
    if keys.len() > 1000 {
        return Err(ApiError::bad_request(
            "MalformedXML",
            "A DeleteObjects request may name at most 1000 keys",
        ));
    }
    let mut out = format!("{XML_HEAD}<DeleteResult xmlns=\"{XMLNS}\">");
    for key in keys {
        match state.store.delete(bucket, &key).await {
            Ok(()) => {
                if !quiet {
                    out.push_str("<Deleted>");
                    push_element(&mut out, "Key", &key);
                    out.push_str("</Deleted>");
                }
            }
            Err(e @ StoreError::NoSuchBucket { .. }) => return Err(store_error(e)),
            Err(e) => {
                let err = store_error(e);
                out.push_str("<Error>");
                push_element(&mut out, "Key", &key);
                push_element(&mut out, "Code", &err.code);
                push_element(&mut out, "Message", &err.message);
                out.push_str("</Error>");
            }
        }
    }
    out.push_str("</DeleteResult>");
    Ok(xml_response(StatusCode::OK, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_bodies_decode() {
        let signed = b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=00\r\n\r\n";
        assert_eq!(decode_aws_chunked(signed).unwrap(), b"hello world");
        let trailer = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n";
        assert_eq!(decode_aws_chunked(trailer).unwrap(), b"abc");
        assert!(decode_aws_chunked(b"zz\r\n").is_err());
        assert!(decode_aws_chunked(b"10\r\nshort\r\n").is_err());
        assert!(decode_aws_chunked(b"3\r\nabcX\r\n").is_err());
        assert!(decode_aws_chunked(b"ffffffffffffffff\r\n").is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), Some((0, 4)));
        assert_eq!(parse_range("bytes=5-", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=8-100", 10), Some((8, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=4-2", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }

    #[test]
    fn paths_split_into_bucket_and_key() {
        let h = HeaderMap::new();
        let q = Vec::new();
        let m = Method::GET;
        let r =
            S3Request::new(&m, Some("127.0.0.1:8083"), "/b/results/a%20b.json", &q, &h).unwrap();
        assert_eq!(r.bucket.as_deref(), Some("b"));
        assert_eq!(r.key.as_deref(), Some("results/a b.json"));
        assert_eq!(r.operation(), "GetObject");
        let r = S3Request::new(&m, Some("b.localhost:8083"), "/k", &q, &h).unwrap();
        assert_eq!(
            (r.bucket.as_deref(), r.key.as_deref()),
            (Some("b"), Some("k"))
        );
        let r = S3Request::new(&m, None, "/", &q, &h).unwrap();
        assert_eq!(r.operation(), "ListBuckets");
        let q2 = vec![("list-type".to_string(), "2".to_string())];
        let r = S3Request::new(&m, None, "/b", &q2, &h).unwrap();
        assert_eq!(r.operation(), "ListObjectsV2");
    }

    #[test]
    fn delete_documents() {
        let doc = "<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c/&#x41;</Key></Object></Delete>";
        assert_eq!(keys_of_delete_document(doc), ["a&b", "c/A"]);
        assert_eq!(url_encode("a b/c+d"), "a%20b/c%2Bd");
    }
}
