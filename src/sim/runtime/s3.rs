//! The loopback S3 endpoint of an execution environment: the subset of S3's REST protocol
//! that handler code uses through an AWS SDK (PutObject, GetObject, HeadObject, DeleteObject,
//! ListObjectsV2, plus CreateBucket and HeadBucket), path-style addressing.
//!
//! The connection thread only parses and answers; the request itself runs on the simulation
//! thread, inside the invocation that is waiting on the process ([`execute`]), through the
//! invocation's S3 calls. So each request of the handler is one S3 request of the simulation,
//! checked against the function's role, billed, given its modelled latency on the virtual clock
//! and applied to the run's store, in the order the handler made them.
//!
//! The REST-XML adapter of `serve` (`api/s3.rs`) is richer; this one stays in `sim/` because
//! the world model may not depend on the server. [`super::services::route`] sends here what
//! is not another service's request.

use std::io::BufReader;
use std::net::TcpStream;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use bytes::Bytes;

use crate::sim::handler::{Invocation, S3Error};
use crate::sim::runtime::http::{self, percent_decode, query_pairs, ReadError, Request};
use crate::storage::{ListRequest, ObjectInfo, Timestamp};

/// Largest object a handler may PUT through the endpoint.
const MAX_OBJECT_BYTES: usize = 256 * 1024 * 1024;
/// How long a request waits for the simulation to answer it. The simulation answers while the
/// invocation runs; a request made outside an invocation (a background thread of the handler)
/// waits for the next one, or gets a 503 after this.
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// One request of the handler, with the way back to its connection.
#[derive(Debug)]
pub(crate) struct S3Call {
    pub request: Request,
    pub reply: Sender<S3Reply>,
}

/// An answer, ready to write.
pub(crate) use crate::sim::runtime::http::Reply as S3Reply;

/// Serves one connection: each request goes to the simulation thread through `forward`
/// (false when the simulation no longer listens).
pub(crate) fn serve_connection(stream: TcpStream, forward: impl Fn(S3Call) -> bool) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match http::read_request(&mut reader, MAX_OBJECT_BYTES) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(m)) => {
                let r = error_reply("InvalidRequest", &m, 400);
                let _ = http::write_response(&mut out, r.status, &r.headers, &r.body, None);
                return;
            }
        };
        let close = request.wants_close();
        let (tx, rx) = mpsc::channel();
        if !forward(S3Call { request, reply: tx }) {
            return;
        }
        let reply = rx.recv_timeout(ANSWER_WAIT).unwrap_or_else(|_| {
            error_reply(
                "ServiceUnavailable",
                "stepsim answers S3 requests only while an invocation runs",
                503,
            )
        });
        let written = http::write_response(
            &mut out,
            reply.status,
            &reply.headers,
            &reply.body,
            reply.length_only,
        );
        if written.is_err() || close {
            return;
        }
    }
}

fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn http_date(t: Timestamp) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn iso_time(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The HTTP status S3 answers an error code with.
fn error_status(code: &str) -> u16 {
    match code {
        "NoSuchKey" | "NoSuchBucket" | "NotFound" => 404,
        "AccessDenied" => 403,
        "BucketAlreadyOwnedByYou" | "BucketAlreadyExists" => 409,
        "SlowDown" | "ServiceUnavailable" => 503,
        "InternalError" => 500,
        "NotImplemented" => 501,
        _ => 400,
    }
}

fn error_reply(code: &str, message: &str, status: u16) -> S3Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
         <RequestId>stepsim</RequestId></Error>",
        xml_escape(code),
        xml_escape(message)
    );
    S3Reply {
        status,
        headers: vec![("Content-Type", "application/xml".to_string())],
        body: body.into_bytes(),
        length_only: None,
    }
}

fn s3_error(e: &S3Error) -> S3Reply {
    error_reply(&e.code, &e.message, error_status(&e.code))
}

fn object_headers(info: &ObjectInfo) -> Vec<(&'static str, String)> {
    vec![
        ("ETag", info.etag.clone()),
        ("Last-Modified", http_date(info.last_modified)),
        ("Content-Type", "binary/octet-stream".to_string()),
        ("Accept-Ranges", "bytes".to_string()),
    ]
}

/// The object bytes of a PUT, undoing the `aws-chunked` encoding SDKs use for streaming
/// uploads with trailing checksums.
fn upload_body(req: &Request) -> Result<Vec<u8>, String> {
    let chunked = crate::sim::s3::is_aws_chunked(
        req.header("content-encoding"),
        req.header("x-amz-content-sha256"),
    );
    if !chunked {
        return Ok(req.body.clone());
    }
    crate::sim::s3::decode_aws_chunked(&req.body)
}

/// Runs one request of the handler as S3 requests of the invocation and builds the answer.
pub(crate) async fn execute(ctx: &mut Invocation, req: &Request) -> S3Reply {
    let path = req.path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) if !k.is_empty() => (percent_decode(b), Some(percent_decode(k))),
        Some((b, _)) => (percent_decode(b), None),
        None => (percent_decode(path), None),
    };
    if bucket.is_empty() {
        return error_reply(
            "NotImplemented",
            "ListBuckets is not available from a handler in stepsim",
            501,
        );
    }
    let query = query_pairs(&req.query);
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    match (req.method.as_str(), key) {
        ("PUT", Some(_)) if req.header("x-amz-copy-source").is_some() => error_reply(
            "NotImplemented",
            "CopyObject is not available from a handler in stepsim",
            501,
        ),
        (_, Some(_)) if has("uploads") || has("uploadId") => error_reply(
            "NotImplemented",
            "multipart uploads are not available from a handler in stepsim",
            501,
        ),
        ("PUT", Some(key)) => match upload_body(req) {
            Err(m) => error_reply("IncompleteBody", &m, 400),
            Ok(body) => match ctx.s3_put(&bucket, &key, Bytes::from(body)).await {
                Ok(info) => S3Reply {
                    status: 200,
                    headers: vec![("ETag", info.etag)],
                    ..S3Reply::default()
                },
                Err(e) => s3_error(&e),
            },
        },
        ("GET", Some(key)) => match ctx.s3_get_object(&bucket, &key).await {
            Ok((info, body)) => S3Reply {
                status: 200,
                headers: object_headers(&info),
                body: body.to_vec(),
                length_only: None,
            },
            Err(e) => s3_error(&e),
        },
        ("HEAD", Some(key)) => match ctx.s3_head(&bucket, &key).await {
            Ok(info) => S3Reply {
                status: 200,
                headers: object_headers(&info),
                body: Vec::new(),
                length_only: usize::try_from(info.size).ok(),
            },
            // HEAD answers carry no body.
            Err(e) => S3Reply {
                status: error_status(&e.code),
                ..S3Reply::default()
            },
        },
        ("DELETE", Some(key)) => match ctx.s3_delete(&bucket, &key).await {
            Ok(()) => S3Reply {
                status: 204,
                ..S3Reply::default()
            },
            Err(e) => s3_error(&e),
        },
        ("GET", None) if query.iter().any(|(k, v)| k == "list-type" && v == "2") => {
            list_v2(ctx, &bucket, &query).await
        }
        ("PUT", None) => match ctx.s3_create_bucket(&bucket).await {
            Ok(()) => S3Reply {
                status: 200,
                headers: vec![("Location", format!("/{bucket}"))],
                ..S3Reply::default()
            },
            Err(e) => s3_error(&e),
        },
        ("HEAD", None) => S3Reply {
            status: if ctx.s3_bucket_exists(&bucket).await {
                200
            } else {
                404
            },
            ..S3Reply::default()
        },
        (method, _) => error_reply(
            "NotImplemented",
            &format!(
                "{method} /{path} is not available from a handler in stepsim (PutObject, \
                 GetObject, HeadObject, DeleteObject, ListObjectsV2, CreateBucket, HeadBucket are)"
            ),
            501,
        ),
    }
}

/// ListObjectsV2: one LIST request.
async fn list_v2(ctx: &mut Invocation, bucket: &str, query: &[(String, String)]) -> S3Reply {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let req = ListRequest {
        prefix: get("prefix").unwrap_or_default(),
        delimiter: get("delimiter").filter(|d| !d.is_empty()),
        continuation_token: get("continuation-token"),
        start_after: get("start-after"),
        max_keys: get("max-keys").and_then(|m| m.parse().ok()),
    };
    let page = match ctx.s3_list_page(bucket, &req).await {
        Ok(p) => p,
        Err(e) => return s3_error(&e),
    };
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    let mut el = |name: &str, value: &str| {
        x.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    };
    el("Name", bucket);
    el("Prefix", &req.prefix);
    if let Some(d) = &req.delimiter {
        el("Delimiter", d);
    }
    el("MaxKeys", &page.max_keys.to_string());
    el("KeyCount", &page.key_count().to_string());
    el(
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    if let Some(t) = &req.continuation_token {
        el("ContinuationToken", t);
    }
    if let Some(t) = &page.next_continuation_token {
        el("NextContinuationToken", t);
    }
    if let Some(s) = &req.start_after {
        el("StartAfter", s);
    }
    for o in &page.objects {
        x.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag>\
             <Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(&o.key),
            iso_time(o.last_modified),
            xml_escape(&o.etag),
            o.size
        ));
    }
    for p in &page.common_prefixes {
        x.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            xml_escape(p)
        ));
    }
    x.push_str("</ListBucketResult>");
    S3Reply {
        status: 200,
        headers: vec![("Content-Type", "application/xml".to_string())],
        body: x.into_bytes(),
        length_only: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_uploads_decode() {
        let req = Request {
            headers: vec![("content-encoding".into(), "aws-chunked".into())],
            body:
                b"3\r\nabc\r\n2;chunk-signature=x\r\nde\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"
                    .to_vec(),
            ..Request::default()
        };
        assert_eq!(upload_body(&req).unwrap(), b"abcde");
        let plain = Request {
            body: b"3\r\nabc".to_vec(),
            ..Request::default()
        };
        assert_eq!(upload_body(&plain).unwrap(), b"3\r\nabc");
    }

    #[test]
    fn errors_are_s3_xml() {
        let r = error_reply("NoSuchKey", "The specified key <k> does not exist.", 404);
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.contains("<Code>NoSuchKey</Code>"), "{text}");
        assert!(text.contains("&lt;k&gt;"), "{text}");
        assert_eq!(error_status("AccessDenied"), 403);
    }
}
