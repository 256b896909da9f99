//! The S3 REST API over HTTP: buckets, objects, listings with prefixes, delimiters and
//! continuation, the aws-chunked upload encoding, ranges, copies, batch deletes, XML errors,
//! and the store shared with executions.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::api::{config, TestServer};

async fn put(t: &TestServer, path: &str, body: &str) -> reqwest::Response {
    t.client
        .put(format!("{}{path}", t.url))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn get(t: &TestServer, path: &str) -> (u16, String) {
    let r = t
        .client
        .get(format!("{}{path}", t.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The texts of every `<tag>` element.
fn elements(doc: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    doc.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn buckets_and_objects() {
    let t = TestServer::start(config());
    assert_eq!(put(&t, "/team2-bucket", "").await.status().as_u16(), 200);
    let (status, doc) = get(&t, "/").await;
    assert_eq!(status, 200);
    assert_eq!(elements(&doc, "Name"), ["team2-bucket"]);
    let head = t
        .client
        .head(format!("{}/team2-bucket", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);

    let r = put(&t, "/team2-bucket/payload.json", r#"{"world_size": 4}"#).await;
    assert_eq!(r.status().as_u16(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    let r = t
        .client
        .get(format!("{}/team2-bucket/payload.json", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.headers()["last-modified"]
        .to_str()
        .unwrap()
        .ends_with("GMT"));
    assert_eq!(r.text().await.unwrap(), r#"{"world_size": 4}"#);

    let r = t
        .client
        .get(format!("{}/team2-bucket/payload.json", t.url))
        .header("range", "bytes=1-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 1-5/17");
    assert_eq!(r.text().await.unwrap(), "\"worl");

    let r = t
        .client
        .head(format!("{}/team2-bucket/payload.json", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-length"], "17");

    // Errors are S3's XML documents (HEAD answers the status alone).
    let (status, doc) = get(&t, "/team2-bucket/missing.json").await;
    assert_eq!(status, 404);
    assert_eq!(elements(&doc, "Code"), ["NoSuchKey"]);
    assert_eq!(elements(&doc, "Key"), ["missing.json"]);
    let r = t
        .client
        .head(format!("{}/team2-bucket/missing.json", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.unwrap().is_empty());
    let (status, doc) = get(&t, "/no-such-bucket/k").await;
    assert_eq!(status, 404);
    assert_eq!(elements(&doc, "Code"), ["NoSuchBucket"]);
    let (status, doc) = get(&t, "/Bad_Bucket/k").await;
    assert_eq!(status, 400);
    assert_eq!(elements(&doc, "Code"), ["InvalidBucketName"]);

    // Copy, then delete.
    let r = t
        .client
        .put(format!("{}/team2-bucket/copy.json", t.url))
        .header("x-amz-copy-source", "/team2-bucket/payload.json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let doc = r.text().await.unwrap();
    assert_eq!(elements(&doc, "ETag"), [etag.replace('"', "&quot;")]);
    let r = t
        .client
        .delete(format!("{}/team2-bucket/copy.json", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(get(&t, "/team2-bucket/copy.json").await.0, 404);
}

#[tokio::test]
async fn aws_chunked_uploads_are_decoded() {
    let t = TestServer::start(config());
    put(&t, "/bkt1", "").await;
    // A SigV4 streaming upload: every chunk carries a signature, which is not checked.
    let body = "6;chunk-signature=aaaa\r\nhello \r\n5;chunk-signature=bbbb\r\nworld\r\n0;chunk-signature=cccc\r\n\r\n";
    let r = t
        .client
        .put(format!("{}/bkt1/signed.txt", t.url))
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", "11")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&t, "/bkt1/signed.txt").await.1, "hello world");
    // An unsigned upload with a trailing checksum.
    let body = "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n";
    let r = t
        .client
        .put(format!("{}/bkt1/trailer.txt", t.url))
        .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&t, "/bkt1/trailer.txt").await.1, "abc");
    // A body that is not what it claims is refused, not stored.
    let r = t
        .client
        .put(format!("{}/bkt1/broken.txt", t.url))
        .header("content-encoding", "aws-chunked")
        .body("zz\r\nnope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(get(&t, "/bkt1/broken.txt").await.0, 404);
}

#[tokio::test]
async fn listings_with_prefix_delimiter_and_continuation() {
    let t = TestServer::start(config());
    put(&t, "/data", "").await;
    for k in [
        "results/world_2/combined_data.json",
        "results/a.json",
        "results/b.json",
        "results/c.json",
        "payload.json",
        "odd key+plus.json",
    ] {
        let path = format!("/data/{}", k.replace(' ', "%20").replace('+', "%2B"));
        assert_eq!(put(&t, &path, "{}").await.status().as_u16(), 200, "{k}");
    }
    let (_, doc) = get(&t, "/data?list-type=2&prefix=results/").await;
    assert_eq!(
        elements(&doc, "Key"),
        [
            "results/a.json",
            "results/b.json",
            "results/c.json",
            "results/world_2/combined_data.json"
        ]
    );
    assert_eq!(elements(&doc, "KeyCount"), ["4"]);
    let (_, doc) = get(&t, "/data?list-type=2&delimiter=/").await;
    assert_eq!(elements(&doc, "Key"), ["odd key+plus.json", "payload.json"]);
    assert_eq!(elements(&doc, "Prefix").last().unwrap(), "results/");

    // Pages of two, following the continuation tokens.
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let mut path = "/data?list-type=2&max-keys=2&prefix=results%2F".to_string();
        if let Some(t) = &token {
            path.push_str(&format!("&continuation-token={}", urlencode(t)));
        }
        let (status, doc) = get(&t, &path).await;
        assert_eq!(status, 200, "{doc}");
        keys.extend(elements(&doc, "Key"));
        match elements(&doc, "NextContinuationToken").pop() {
            Some(next) => {
                assert_eq!(elements(&doc, "IsTruncated"), ["true"]);
                token = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(keys.len(), 4);
    let (status, doc) = get(&t, "/data?list-type=2&continuation-token=bogus").await;
    assert_eq!(status, 400, "{doc}");

    // encoding-type=url encodes keys, as the SDKs ask.
    let (_, doc) = get(&t, "/data?list-type=2&encoding-type=url&prefix=odd").await;
    assert_eq!(elements(&doc, "Key"), ["odd%20key%2Bplus.json"]);
    assert_eq!(elements(&doc, "EncodingType"), ["url"]);

    // ListObjects (v1) and DeleteObjects.
    let (_, doc) = get(&t, "/data?prefix=results/&max-keys=3").await;
    assert_eq!(elements(&doc, "Key").len(), 3);
    assert_eq!(elements(&doc, "IsTruncated"), ["true"]);
    let delete = "<Delete><Object><Key>results/a.json</Key></Object><Object><Key>results/b.json</Key></Object></Delete>";
    let r = t
        .client
        .post(format!("{}/data?delete", t.url))
        .body(delete)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let doc = r.text().await.unwrap();
    assert_eq!(elements(&doc, "Key"), ["results/a.json", "results/b.json"]);
    let (_, doc) = get(&t, "/data?list-type=2&prefix=results/").await;
    assert_eq!(elements(&doc, "Key").len(), 2);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn executions_share_the_store_with_the_api() {
    let t = TestServer::start(config());
    put(&t, "/shared", "").await;
    put(&t, "/shared/payload.json", r#"{"items": [1, 2, 3]}"#).await;
    let def = json!({"StartAt": "Read", "States": {
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket": "shared", "Key": "payload.json"},
                 "ResultSelector": {"body.$": "States.StringToJson($.Body)"}, "Next": "Write"},
        "Write": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                  "Parameters": {"Bucket": "shared", "Key": "results/combined_data.json", "Body.$": "$.body"},
                  "End": true}
    }});
    let sm = t.create_machine("io", &def).await;
    let arn = t.start_exec(&sm, "io1", &json!({})).await;
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let (status, doc) = get(&t, "/shared?list-type=2&prefix=results/").await;
    assert_eq!(status, 200);
    assert_eq!(elements(&doc, "Key"), ["results/combined_data.json"]);
    let (_, body) = get(&t, "/shared/results/combined_data.json").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, json!({"items": [1, 2, 3]}));
}

#[tokio::test]
async fn oversized_objects_are_refused() {
    let mut c = config();
    c.max_object_bytes = 1024;
    let t = TestServer::start(c);
    put(&t, "/small", "").await;
    let r = put(&t, "/small/big.bin", &"x".repeat(4096)).await;
    assert_eq!(r.status().as_u16(), 400);
    let doc = r.text().await.unwrap();
    assert_eq!(elements(&doc, "Code"), ["EntityTooLarge"]);
    assert_eq!(
        put(&t, "/small/ok.bin", "fine").await.status().as_u16(),
        200
    );
}
