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

use super::error::ApiError;
use super::state::{wall_now, ApiState};
use super::url::{percent_decode, percent_encode_key};
use super::xml::{DeleteDocument, XmlDoc};

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

    /// The bucket and key, empty where the request names none.
    fn names(&self) -> (&str, &str) {
        (
            self.bucket.as_deref().unwrap_or_default(),
            self.key.as_deref().unwrap_or_default(),
        )
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

fn xml_response(status: StatusCode, doc: XmlDoc) -> Response<Body> {
    let mut r = Response::new(Body::from(doc.finish()));
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
    let (bucket, key) = req.names();
    let store = &state.store;
    match req.operation() {
        "ListBuckets" => list_buckets(state).await,
        "CreateBucket" => {
            store.create_bucket(bucket).await.map_err(store_error)?;
            let mut r = Response::new(Body::empty());
            if let Ok(v) = HeaderValue::from_str(&format!("/{bucket}")) {
                r.headers_mut().insert("location", v);
            }
            Ok(r)
        }
        "HeadBucket" => {
            require_bucket(state, bucket).await?;
            Ok(Response::new(Body::empty()))
        }
        "GetBucketLocation" => {
            require_bucket(state, bucket).await?;
            // us-east-1 is written as an empty constraint.
            let region = &state.settings.region;
            let mut doc = XmlDoc::s3("LocationConstraint");
            doc.text(if region == "us-east-1" { "" } else { region });
            Ok(xml_response(StatusCode::OK, doc))
        }
        "ListObjectsV2" => list_objects(state, req, bucket, true).await,
        "ListObjects" => list_objects(state, req, bucket, false).await,
        "DeleteObjects" => delete_objects(state, bucket, &body).await,
        "PutObject" => put_object(state, req, body).await,
        "CopyObject" => copy_object(state, req).await,
        "GetObject" => get_object(state, req).await,
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
        _ => Err(not_implemented(req)),
    }
}

fn not_implemented(req: &S3Request<'_>) -> ApiError {
    ApiError::new(
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
    )
}

/// `NoSuchBucket` unless `bucket` exists.
async fn require_bucket(state: &ApiState, bucket: &str) -> Result<(), ApiError> {
    if state
        .store
        .bucket_exists(bucket)
        .await
        .map_err(store_error)?
    {
        Ok(())
    } else {
        Err(store_error(StoreError::NoSuchBucket {
            bucket: bucket.to_string(),
        }))
    }
}

async fn list_buckets(state: &ApiState) -> Result<Response<Body>, ApiError> {
    let names = state.store.list_buckets().await.map_err(store_error)?;
    let created = iso_time(state.started);
    let mut doc = XmlDoc::s3("ListAllMyBucketsResult");
    doc.group("Owner", |d| {
        d.element("ID", &state.settings.account)
            .element("DisplayName", "stepsim");
    })
    .group("Buckets", |d| {
        for n in &names {
            d.group("Bucket", |b| {
                b.element("Name", n).element("CreationDate", &created);
            });
        }
    });
    Ok(xml_response(StatusCode::OK, doc))
}

async fn put_object(
    state: &ApiState,
    req: &S3Request<'_>,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let (bucket, key) = req.names();
    let data = decode_upload(req, body)?;
    let info = state
        .store
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

async fn copy_object(state: &ApiState, req: &S3Request<'_>) -> Result<Response<Body>, ApiError> {
    let bad_source = || {
        ApiError::bad_request(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let source = req.header("x-amz-copy-source").unwrap_or_default();
    let source = source.split('?').next().unwrap_or_default();
    let source = percent_decode(source).ok_or_else(bad_source)?;
    let (src_bucket, src_key) = source
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(bad_source)?;
    let store = &state.store;
    let (_, data) = store.get(src_bucket, src_key).await.map_err(store_error)?;
    let (bucket, key) = req.names();
    let info = store
        .put(bucket, key, data, wall_now())
        .await
        .map_err(store_error)?;
    let mut doc = XmlDoc::s3("CopyObjectResult");
    doc.element("ETag", &info.etag)
        .element("LastModified", &iso_time(info.last_modified));
    Ok(xml_response(StatusCode::OK, doc))
}

async fn get_object(state: &ApiState, req: &S3Request<'_>) -> Result<Response<Body>, ApiError> {
    let (bucket, key) = req.names();
    let (info, data) = state.store.get(bucket, key).await.map_err(store_error)?;
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
    let chunked = crate::sim::s3::is_aws_chunked(
        req.header("content-encoding"),
        req.header("x-amz-content-sha256"),
    );
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

pub use crate::sim::s3::decode_aws_chunked;

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
    // XML 1.0 cannot carry most control characters at all, so a listing that would hold one
    // is url-encoded even when the client did not ask (and says so in EncodingType, which
    // SDKs read to decode); otherwise the whole response would be unreadable.
    let url = url
        || !xml_safe(&prefix)
        || delimiter.as_deref().is_some_and(|d| !xml_safe(d))
        || start_after.as_deref().is_some_and(|s| !xml_safe(s))
        || page.objects.iter().any(|o| !xml_safe(&o.key))
        || page.common_prefixes.iter().any(|p| !xml_safe(p));
    let enc = |s: &str| {
        if url {
            percent_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let mut doc = XmlDoc::s3("ListBucketResult");
    doc.element("Name", bucket).element("Prefix", &enc(&prefix));
    if let Some(d) = &delimiter {
        doc.element("Delimiter", &enc(d));
    }
    doc.element("MaxKeys", &page.max_keys.to_string());
    if url {
        doc.element("EncodingType", "url");
    }
    doc.element(
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    if v2 {
        doc.element("KeyCount", &page.key_count().to_string());
        if let Some(t) = &continuation {
            doc.element("ContinuationToken", t);
        }
        if let Some(t) = &page.next_continuation_token {
            doc.element("NextContinuationToken", t);
        }
        if let Some(s) = &start_after {
            doc.element("StartAfter", &enc(s));
        }
    } else {
        doc.element("Marker", &enc(start_after.as_deref().unwrap_or("")));
        if page.is_truncated {
            // The greatest key or common prefix of the page, as S3 reports it.
            let last_key = page.objects.last().map(|o| o.key.as_str());
            let last_prefix = page.common_prefixes.last().map(String::as_str);
            if let Some(m) = last_key.max(last_prefix) {
                doc.element("NextMarker", &enc(m));
            }
        }
    }
    for o in &page.objects {
        doc.group("Contents", |c| {
            c.element("Key", &enc(&o.key))
                .element("LastModified", &iso_time(o.last_modified))
                .element("ETag", &o.etag)
                .element("Size", &o.size.to_string())
                .element("StorageClass", "STANDARD");
        });
    }
    for p in &page.common_prefixes {
        doc.group("CommonPrefixes", |c| {
            c.element("Prefix", &enc(p));
        });
    }
    Ok(xml_response(StatusCode::OK, doc))
}

/// Whether XML 1.0 can carry `s` as character data (its `Char` production: tab, newline,
/// carriage return, and everything from U+0020 but the surrogates, U+FFFE and U+FFFF).
fn xml_safe(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && !matches!(c, '\u{fffe}' | '\u{ffff}'))
    })
}

async fn delete_objects(
    state: &Arc<ApiState>,
    bucket: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let doc = std::str::from_utf8(body).map_err(|_| {
        ApiError::bad_request("MalformedXML", "The XML you provided was not well-formed")
    })?;
    let request = DeleteDocument::parse(doc).map_err(|_| {
        ApiError::bad_request(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our \
             published schema",
        )
    })?;
    if request.keys.len() > 1000 {
        return Err(ApiError::bad_request(
            "MalformedXML",
            "A DeleteObjects request may name at most 1000 keys",
        ));
    }
    let mut out = XmlDoc::s3("DeleteResult");
    for key in request.keys {
        match state.store.delete(bucket, &key).await {
            Ok(()) if request.quiet => {}
            Ok(()) => {
                out.group("Deleted", |d| {
                    d.element("Key", &key);
                });
            }
            Err(e @ StoreError::NoSuchBucket { .. }) => return Err(store_error(e)),
            Err(e) => {
                let err = store_error(e);
                out.group("Error", |d| {
                    d.element("Key", &key)
                        .element("Code", &err.code)
                        .element("Message", &err.message);
                });
            }
        }
    }
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
}
