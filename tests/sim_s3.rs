//! S3 in the world model: the engine's S3 calls (ItemReader/ResultWriter shapes), handler access
//! through the invocation (latency, bandwidth, billing), and injected S3 errors.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use stepsim::engine::{CallContext, ServiceCall, TaskInvoker};
use stepsim::sim::{
    async_handler_fn, FaultPlan, FunctionConfig, FunctionError, FunctionRegistry, Invocation,
    Simulation,
};
use stepsim::storage::Store;

mod support;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:sm:s3run";

fn s3(action: &str, parameters: Value) -> ServiceCall {
    let context = CallContext {
        execution_arn: EXEC.into(),
        state_name: "Reader".into(),
        ..CallContext::default()
    };
    ServiceCall::for_resource(
        &format!("arn:aws:states:::s3:{action}"),
        parameters,
        context,
    )
    .expect("an S3 call")
}

#[test]
fn service_calls_have_sdk_shapes() {
    let sim = Simulation::builder().build().unwrap();
    let w = sim.world();
    sim.block_on(async {
        w.store().create_bucket("bucket-u01").await.unwrap();
        let t0 = w.now();
        let put = w
            .invoke(s3("putObject", json!({"Bucket": "bucket-u01", "Key": "file.json", "Body": "{\"Hello\": \"world\"}"})))
            .await
            .unwrap()
            .into_json();
        assert_eq!(put["ETag"].as_str().unwrap().len(), 34);
        // 40.4 ms per request (plus 18 bytes at 50 MB/s), on the virtual clock.
        assert_eq!((w.now() - t0).num_milliseconds(), 41);
        let got = w
            .invoke(s3("getObject", json!({"Bucket": "bucket-u01", "Key": "file.json"})))
            .await
            .unwrap()
            .into_json();
        assert_eq!(got["Body"], "{\"Hello\": \"world\"}");
        assert_eq!(got["ContentLength"], 18);
        assert_eq!(got["ETag"], put["ETag"]);
        assert_eq!(got["LastModified"], "2025-07-21T19:45:00Z");
        let keys: Vec<&str> = got.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["AcceptRanges", "Body", "ContentLength", "ContentType", "ETag", "LastModified", "Metadata"]);

        for k in ["data/a.csv", "data/b.csv", "data/sub/c.csv", "other.txt"] {
            w.invoke(s3("putObject", json!({"Bucket": "bucket-u01", "Key": k, "Body": {"k": k}}))).await.unwrap();
        }
        let page = w
            .invoke(s3("listObjectsV2", json!({"Bucket": "bucket-u01", "Prefix": "data/", "Delimiter": "/"})))
            .await
            .unwrap()
            .into_json();
        assert_eq!(page["CommonPrefixes"], json!([{"Prefix": "data/sub/"}]));
        let contents = page["Contents"].as_array().unwrap();
        assert_eq!(contents.len(), 2);
        assert_eq!(contents[0]["Key"], "data/a.csv");
        assert_eq!(contents[0]["StorageClass"], "STANDARD");
        assert_eq!(contents[0]["Size"], 18);
        assert_eq!((page["KeyCount"].clone(), page["IsTruncated"].clone()), (json!(3), json!(false)));
        assert_eq!(page["Name"], "bucket-u01");

        // Paginate two at a time.
        let mut keys = Vec::new();
        let mut params = json!({"Bucket": "bucket-u01", "MaxKeys": 2});
        loop {
            let page = w.invoke(s3("listObjectsV2", params.clone())).await.unwrap().into_json();
            keys.extend(page["Contents"].as_array().unwrap().iter().map(|c| c["Key"].as_str().unwrap().to_string()));
            if page["IsTruncated"] == json!(false) {
                assert!(page.get("NextContinuationToken").is_none());
                break;
            }
            params["ContinuationToken"] = page["NextContinuationToken"].clone();
        }
        assert_eq!(keys, ["data/a.csv", "data/b.csv", "data/sub/c.csv", "file.json", "other.txt"]);

        let head = w.invoke(s3("headObject", json!({"Bucket": "bucket-u01", "Key": "other.txt"}))).await.unwrap().into_json();
        assert_eq!(head["ContentLength"], 17);

        let err = w.invoke(s3("getObject", json!({"Bucket": "bucket-u01", "Key": "missing"}))).await.unwrap_err();
        assert_eq!(err.error, "S3.NoSuchKeyException");
        assert!(err.cause.starts_with("The specified key does not exist. (Service: S3, Status Code: 404, Request ID: "), "{}", err.cause);
        let err = w.invoke(s3("getObject", json!({"Bucket": "nope-bucket", "Key": "k"}))).await.unwrap_err();
        assert_eq!(err.error, "S3.NoSuchBucketException");
        let err = w.invoke(s3("getObject", json!({"Bucket": "bucket-u01"}))).await.unwrap_err();
        assert!(err.cause.contains("`Key`"), "{}", err.cause);
        let err = w.invoke(s3("copyObject", json!({}))).await.unwrap_err();
        assert_eq!(err.error, "States.TaskFailed");

        let u = w.usage(EXEC).unwrap();
        // 5 PUTs, 4 GET-class (2 GETs that found the bucket, 1 missing key, 1 HEAD, and the
        // missing bucket), 1 + 3 LISTs.
        assert_eq!(u.s3.put_requests, 5);
        assert_eq!(u.s3.list_requests, 4);
        assert_eq!(u.s3.get_requests, 4);
    });
}

#[test]
fn handlers_use_s3_with_modelled_cost() {
    let mut reg = FunctionRegistry::new();
    reg.register(
        "copier",
        FunctionConfig {
            timeout: Duration::from_secs(60),
            provisioned_concurrency: 1,
            // One vCPU: the function's full S3 rate, 550 Mbit/s.
            memory_mb: 1769,
            ..FunctionConfig::default()
        },
        async_handler_fn(async |event: Value, ctx: &mut Invocation| {
            let src = event["key"].as_str().unwrap_or_default().to_string();
            let body = ctx.s3_get("in-bucket", &src).await?;
            let t0 = ctx.now();
            ctx.s3_put("out-bucket", &format!("copy/{src}"), body.clone())
                .await?;
            let put_ms = (ctx.now() - t0).num_milliseconds();
            let listed = ctx.s3_list("out-bucket", "copy/").await?;
            let missing = ctx.s3_get("in-bucket", "nope").await;
            Ok::<_, FunctionError>(json!({
                "bytes": body.len(),
                "put_ms": put_ms,
                "listed": listed.len(),
                "missing": missing.err().map(|e| e.code),
            }))
        }),
    )
    .unwrap();
    let sim = support::simulation(reg);
    let w = sim.world();
    // The world's store, shared with the handlers.
    let store = w.store();
    sim.block_on(async {
        store.create_bucket("in-bucket").await.unwrap();
        store.create_bucket("out-bucket").await.unwrap();
        store
            .put(
                "in-bucket",
                "big.bin",
                Bytes::from(vec![7u8; 10_000_000]),
                w.now(),
            )
            .await
            .unwrap();
        let t0 = w.now();
        let out = w
            .invoke_function("copier", json!({"key": "big.bin"}), EXEC)
            .await
            .unwrap();
        // 10 MB at 68.75 MB/s = 145.5 ms, plus 40.4 ms per request.
        assert_eq!(out.payload["put_ms"], 186);
        assert_eq!(out.payload["bytes"], 10_000_000);
        assert_eq!(out.payload["listed"], 1);
        assert_eq!(out.payload["missing"], "NoSuchKey");
        // GET 185.9 + PUT 185.9 + LIST 40.4 + GET 40.4 ms (each rounded to the 1 ms timer).
        assert_eq!((w.now() - t0).num_milliseconds(), 186 + 186 + 41 + 41);
        let u = w.usage(EXEC).unwrap();
        assert_eq!(
            (u.s3.get_requests, u.s3.put_requests, u.s3.list_requests),
            (2, 1, 1)
        );
        assert_eq!(
            (u.s3.bytes_read, u.s3.bytes_written),
            (10_000_000, 10_000_000)
        );
        // The handler's writes are in the shared store.
        assert_eq!(
            store.head("out-bucket", "copy/big.bin").await.unwrap().size,
            10_000_000
        );
    });
}

#[test]
fn s3_faults_are_seeded() {
    let run = |seed: u64| {
        let sim = Simulation::builder()
            .seed(seed)
            .faults(
                FaultPlan::from_toml_str("[s3]\nerror_rate = 0.4\nerror_code = \"SlowDown\"\n")
                    .unwrap(),
            )
            .build()
            .unwrap();
        let w = sim.world();
        sim.block_on(async {
            w.store().create_bucket("bkt").await.unwrap();
            let mut out = Vec::new();
            for i in 0..30 {
                let r = w
                    .invoke(s3(
                        "putObject",
                        json!({"Bucket": "bkt", "Key": format!("k{i}"), "Body": "x"}),
                    ))
                    .await;
                out.push(match r {
                    Ok(_) => "ok".to_string(),
                    Err(e) => {
                        assert!(
                            e.cause.starts_with(
                                "Please reduce your request rate. (Service: S3, Status Code: 503"
                            ),
                            "{}",
                            e.cause
                        );
                        e.error
                    }
                });
            }
            out
        })
    };
    let a = run(3);
    assert_eq!(a, run(3));
    assert_ne!(a, run(4));
    let failed = a.iter().filter(|x| *x == "S3.S3Exception").count();
    assert!((4..=20).contains(&failed), "{failed}");
}

#[test]
fn dir_store_is_shared_with_handlers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("dir:{}", tmp.path().display())).unwrap();
    let sim = Simulation::builder().store(store).build().unwrap();
    let w = sim.world();
    sim.block_on(async {
        w.store().create_bucket("results").await.unwrap();
        w.invoke(s3(
            "putObject",
            json!({"Bucket": "results", "Key": "run/0.json", "Body": {"rank": 0}}),
        ))
        .await
        .unwrap();
    });
    let text = std::fs::read_to_string(tmp.path().join("results/run/0.json")).unwrap();
    assert_eq!(text, "{\"rank\":0}");
}

/// The `s3://` backend against a real S3-compatible server. Runs only when asked:
///
/// ```text
/// moto_server -p 5000 &
/// STEPSIM_S3_ENDPOINT=http://127.0.0.1:5000 cargo test --features s3 --test sim_s3
/// ```
///
/// The real bucket `stepsim-ci` is created with a plain (unsigned) PUT, which moto accepts.
/// Credentials default to dummy values when the `AWS_*` variables are not set.
#[cfg(feature = "s3")]
#[test]
fn real_s3_backend() {
    use std::io::{Read, Write};
    let Ok(endpoint) = std::env::var("STEPSIM_S3_ENDPOINT") else {
        eprintln!("real_s3_backend skipped: set STEPSIM_S3_ENDPOINT to run it");
        return;
    };
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        if std::env::var(k).is_err() {
            // This is the only test in the process that reads these variables.
            std::env::set_var(k, v);
        }
    }
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut tcp = std::net::TcpStream::connect(&host).unwrap();
    write!(
        tcp,
        "PUT /stepsim-ci HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    // Network I/O needs a runtime whose clock is not paused.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&format!("s3://stepsim-ci?endpoint={endpoint}")).unwrap();
        // A fresh simulated bucket per run, so reruns against one server do not collide.
        let bucket = format!("sim-{}", std::process::id());
        let now = stepsim::engine::clock::default_origin();
        assert!(matches!(
            store.put(&bucket, "k", Bytes::from_static(b"x"), now).await,
            Err(stepsim::storage::StoreError::NoSuchBucket { .. })
        ));
        store.create_bucket(&bucket).await.unwrap();
        for k in ["a/1.json", "a/2.json", "b/3.json", "odd key #1"] {
            store
                .put(&bucket, k, Bytes::from(k.to_string()), now)
                .await
                .unwrap();
        }
        let (info, body) = store.get(&bucket, "odd key #1").await.unwrap();
        assert_eq!(&body[..], b"odd key #1");
        assert_eq!(info.etag.len(), 34);
        let page = store
            .list(
                &bucket,
                &stepsim::storage::ListRequest {
                    delimiter: Some("/".into()),
                    max_keys: Some(2),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.common_prefixes, ["a/", "b/"]);
        assert!(page.is_truncated);
        assert!(store.list_buckets().await.unwrap().contains(&bucket));
        for k in ["a/1.json", "a/2.json", "b/3.json", "odd key #1"] {
            store.delete(&bucket, k).await.unwrap();
        }
        assert!(store.get(&bucket, "a/1.json").await.is_err());
    });
}
