//! Each COSMIC-AI handler invoked on its own against a seeded world: what it returns and
//! writes on good input, and the readable Lambda error it raises on bad input.

mod support;

use futures::future::join_all;
use serde_json::{json, Value};
use stepsim::sim::World;
use support::cosmic::*;

const ARN: &str = "arn:aws:states:us-east-1:211125778552:execution:team2-COSMIC-AI-7078ea12:t";

/// Runs `f` against the world of a fresh example simulation, on its virtual clock.
fn with_world<T>(f: impl AsyncFnOnce(&World) -> T) -> T {
    let sim = example_simulation(11, None);
    sim.block_on(f(sim.world()))
}

/// [`with_world`] with the `inference` function charging the AstroMAE batch curve.
fn with_astromae_world<T>(f: impl AsyncFnOnce(&World) -> T) -> T {
    let sim = example_simulation(11, Some(astromae_inference()));
    sim.block_on(f(sim.world()))
}

async fn invoke(w: &World, function: &str, event: Value) -> Result<Value, (String, String)> {
    w.invoke_function(function, event, ARN)
        .await
        .map(|ok| ok.payload)
        .map_err(|f| {
            let msg = serde_json::from_str::<Value>(&f.cause)
                .ok()
                .and_then(|c| c["errorMessage"].as_str().map(str::to_string))
                .unwrap_or(f.cause);
            (f.error, msg)
        })
}

async fn object(w: &World, key: &str) -> Option<Value> {
    let (_, body) = w.store().get(BUCKET, key).await.ok()?;
    serde_json::from_slice(&body).ok()
}

fn expect_err(r: Result<Value, (String, String)>, error: &str, needles: &[&str]) {
    let (e, msg) = r.expect_err("expected a function error");
    assert_eq!(e, error, "{msg}");
    for n in needles {
        assert!(msg.contains(n), "`{n}` not in: {msg}");
    }
}

// ---------------------------------------------------------------------------------- init --

#[test]
fn init_assigns_files_like_the_real_initializer() {
    let (out, stored) = with_world(async |w| {
        let out = invoke(w, "data-parallel-init2", example_input())
            .await
            .unwrap();
        (out, object(w, "payload.json").await.unwrap())
    });
    assert_eq!(out["statusCode"], 200);
    let body = out["body"].as_array().unwrap();
    assert_eq!(body.len(), 4);
    // 10 files over 4 ranks: 3, 3, 2, 2 (ceil(files left / ranks left)), in S3 key order.
    let sizes: Vec<usize> = body
        .iter()
        .map(|p| p["data_path"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 3, 2, 2]);
    assert_eq!(body[0]["data_path"][0], "datasets/batch_0.json");
    assert_eq!(body[0]["data_path"][2], "datasets/batch_2.json");
    for (r, p) in body.iter().enumerate() {
        assert_eq!(p["rank"], r);
        assert_eq!(p["world_size"], 4);
        assert_eq!(p["batch_size"], 128);
        assert_eq!(p["data_bucket"], BUCKET);
        assert_eq!(p["result_path"], "results/test_20_ws4_bs128");
        assert_eq!(p["rendezvous_endpoint"], "rendezvous.uva-ds5110.com:10000");
        assert_eq!(p["fmi_enabled"], true);
        assert_eq!(p["test_mode"], true);
        assert_eq!(p["task_id"], format!("task_{r}"));
    }
    // data_map recorded in payload.json, as the real initializer does.
    assert_eq!(stored["data_map"]["3"], body[3]["data_path"]);
    assert_eq!(stored["world_size"], 4);
    assert_eq!(stored["file_limit"], 10, "the effective limit is recorded");
}

#[test]
fn init_caps_at_file_limit_and_gives_extra_ranks_null() {
    let (capped, extra) = with_world(async |w| {
        let a = invoke(
            w,
            "data-parallel-init2",
            input_with(&[("file_limit", json!("3")), ("world_size", json!(2))]),
        )
        .await;
        let b = invoke(
            w,
            "data-parallel-init2",
            input_with(&[("world_size", json!(12))]),
        )
        .await;
        (a.unwrap(), b.unwrap())
    });
    let body = capped["body"].as_array().unwrap();
    assert_eq!(
        body[0]["data_path"],
        json!(["datasets/batch_0.json", "datasets/batch_1.json"])
    );
    // A single file is a plain key.
    assert_eq!(body[1]["data_path"], "datasets/batch_2.json");
    let body = extra["body"].as_array().unwrap();
    assert_eq!(body.len(), 12);
    assert!(body[..10].iter().all(|p| p["data_path"].is_string()));
    assert!(body[10]["data_path"].is_null() && body[11]["data_path"].is_null());
}

#[test]
fn init_without_world_size_uses_one_rank_per_file() {
    let out = with_world(async |w| {
        let mut input = example_input();
        input.as_object_mut().unwrap().remove("world_size");
        // payload.json has world_size 4; remove it there too by overriding with null.
        input["world_size"] = Value::Null;
        invoke(w, "data-parallel-init2", input).await.unwrap()
    });
    assert_eq!(out["body"].as_array().unwrap().len(), 10);
}

#[test]
fn init_bad_input() {
    with_world(async |w| {
        // No payload.json in the bucket.
        w.store().delete(BUCKET, "payload.json").await.unwrap();
        expect_err(
            invoke(w, "data-parallel-init2", example_input()).await,
            "NoSuchKey",
            &[
                "s3://team2-cosmical-7078ea12/payload.json",
                "put it in the bucket",
            ],
        );
    });
    with_world(async |w| {
        let cases = [
            (
                input_with(&[("world_size", json!(0))]),
                "ValueError",
                vec!["`world_size`", "got 0"],
            ),
            (
                input_with(&[("batch_size", json!(-8))]),
                "ValueError",
                vec!["`batch_size`", "positive integer, got -8"],
            ),
            (
                input_with(&[("batch_size", json!("big"))]),
                "ValueError",
                vec!["`batch_size` must be an integer", "\"big\""],
            ),
            (
                input_with(&[("file_limit", json!("0"))]),
                "ValueError",
                vec!["`file_limit`"],
            ),
            (
                input_with(&[("data_prefix", json!("nothing-here"))]),
                "FileNotFoundError",
                vec!["s3://team2-cosmical-7078ea12/nothing-here", "data_prefix"],
            ),
            (
                input_with(&[("object_type", json!("pt"))]),
                "ValueError",
                vec!["`object_type` `pt`"],
            ),
            (
                input_with(&[("result_path", Value::Null)]),
                "KeyError",
                vec!["result_path"],
            ),
            (
                input_with(&[("bucket", json!("no-such-bucket"))]),
                "NoSuchBucket",
                vec!["no-such-bucket"],
            ),
            (json!([1, 2]), "ValueError", vec!["JSON object event"]),
        ];
        for (event, error, needles) in cases {
            expect_err(
                invoke(w, "data-parallel-init2", event).await,
                error,
                &needles,
            );
        }
    });
}

// ----------------------------------------------------------------------------- inference --

fn rank_event(rank: u64, world_size: u64, data_path: Value) -> Value {
    json!({
        "rank": rank, "world_size": world_size, "batch_size": 32,
        "data_bucket": BUCKET, "data_path": data_path,
        "result_path": "results/unit", "test_mode": false, "fmi_enabled": false
    })
}

#[test]
fn inference_writes_the_real_record() {
    let (out, rec) = with_astromae_world(async |w| {
        let ev = rank_event(
            0,
            1,
            json!(["datasets/batch_0.json", "datasets/batch_1.json"]),
        );
        let out = invoke(w, "inference", ev).await.unwrap();
        (out, object(w, "results/unit/0.json").await.unwrap())
    });
    assert_eq!(out["statusCode"], 200);
    assert_eq!(
        out["body"]["result"],
        format!("s3://{BUCKET}/results/unit/0.json")
    );
    // The real record's fields, in its order, then ours.
    let keys: Vec<&str> = rec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..12],
        [
            "total_cpu_time (seconds)",
            "total_cpu_memory (MB)",
            "execution_time (seconds/batch)",
            "num_batches",
            "batch_size",
            "device",
            "throughput_bps",
            "sample_persec",
            "result_path",
            "data_path",
            "s3_num_requests",
            "s3_total_time"
        ]
    );
    assert_eq!(rec["num_samples"], 128);
    assert_eq!(rec["num_batches"], 4);
    assert_eq!(rec["device"], "cpu");
    assert!(rec["fmi"].is_null());
    // 4 batches of 32: 4 · (0.085 + 0.005 · 32) = 0.98 CPU-s at one vCPU, 13.8× slower at 128 MB.
    let t = rec["total_cpu_time (seconds)"].as_f64().unwrap();
    let expect = 0.98 * 1769.0 / 128.0;
    assert!((t - expect).abs() < 0.002, "{t} vs {expect}");
    assert!((rec["sample_persec"].as_f64().unwrap() - 128.0 / t).abs() < 1e-9);
    assert!((rec["execution_time (seconds/batch)"].as_f64().unwrap() - t / 4.0).abs() < 1e-9);
    assert!((rec["throughput_bps"].as_f64().unwrap() - 128.0 * 164_000.0 / t).abs() < 1e-3);
    let r2 = rec["metrics"]["r2"].as_f64().unwrap();
    assert!(r2 > 0.5 && r2 < 1.0, "{r2}");
    for k in ["mae", "mse", "bias", "precision"] {
        assert!(rec["metrics"][k].as_f64().unwrap().is_finite());
    }
}

#[test]
fn the_team_profile_spends_its_fixed_handler_work_and_no_estimate_time() {
    // The example's inference function: estimator = "linear", handler_cpu_ms = 230.6.
    let (report, rec) = with_world(async |w| {
        let ev = rank_event(0, 1, json!(["datasets/batch_0.json"]));
        w.invoke_function("inference", ev, ARN).await.unwrap();
        let report = w
            .usage(ARN)
            .map(|u| u.functions["inference"].duration_ms)
            .unwrap_or(f64::NAN);
        (report, object(w, "results/unit/0.json").await.unwrap())
    });
    assert_eq!(rec["num_samples"], 64);
    assert_eq!(rec["total_cpu_time (seconds)"], 0.0);
    assert!(rec["sample_persec"].is_null() && rec["throughput_bps"].is_null());
    // 230.6 CPU-ms at 128/1769 of a vCPU is 3.187 s, plus one S3 GET and one PUT.
    let fixed = 230.6 * 1769.0 / 128.0;
    assert!(
        report > fixed && report < fixed + 500.0,
        "{report} vs {fixed}"
    );
}

#[test]
fn inference_test_mode_processes_one_batch() {
    let rec = with_world(async |w| {
        let mut ev = rank_event(0, 1, json!("datasets/batch_0.json"));
        ev["test_mode"] = json!(true);
        ev["batch_size"] = json!("16");
        invoke(w, "inference", ev).await.unwrap();
        object(w, "results/unit/0.json").await.unwrap()
    });
    assert_eq!(rec["num_batches"], 1);
    assert_eq!(rec["num_samples"], 16);
    assert_eq!(rec["partition_samples"], 64);
}

#[test]
fn inference_rank_without_data_writes_nothing() {
    let (out, rec) = with_world(async |w| {
        let out = invoke(w, "inference", rank_event(1, 2, Value::Null))
            .await
            .unwrap();
        (out, object(w, "results/unit/1.json").await)
    });
    assert_eq!(out["body"]["num_samples"], 0);
    assert!(out["body"]["result"].is_null());
    assert!(rec.is_none());
}

#[test]
fn inference_bad_input() {
    with_world(async |w| {
        w.store()
            .put(
                BUCKET,
                "datasets/broken.json",
                "{\"samples\": [{\"u\": 1}]}".into(),
                w.now(),
            )
            .await
            .unwrap();
        let with = |changes: &[(&str, Value)]| {
            let mut e = rank_event(0, 2, json!("datasets/batch_0.json"));
            for (k, v) in changes {
                e[*k] = v.clone();
            }
            e
        };
        let cases = [
            (
                with(&[("batch_size", json!(-1))]),
                "ValueError",
                vec!["`batch_size`", "got -1"],
            ),
            (
                with(&[("rank", json!(2))]),
                "ValueError",
                vec!["`rank` 2 is outside 0..1"],
            ),
            (
                with(&[("world_size", json!(0))]),
                "ValueError",
                vec!["`world_size`"],
            ),
            (
                with(&[("data_path", json!(7))]),
                "ValueError",
                vec!["`data_path`"],
            ),
            (
                with(&[("data_path", json!("datasets/none.json"))]),
                "NoSuchKey",
                vec!["datasets/none.json", "partition"],
            ),
            (
                with(&[("data_path", json!("datasets/broken.json"))]),
                "ValueError",
                vec!["not a batch_json partition", "missing field"],
            ),
            (
                with(&[("fmi_enabled", json!(true))]),
                "KeyError",
                vec!["rendezvous_endpoint"],
            ),
            (
                with(&[
                    ("fmi_enabled", json!(true)),
                    ("rendezvous_endpoint", json!("rv:1")),
                    ("fmi_channel", json!("tcp")),
                ]),
                "ValueError",
                vec!["`fmi_channel`"],
            ),
            (
                with(&[("fmi_enabled", json!("maybe"))]),
                "ValueError",
                vec!["`fmi_enabled` must be true or false"],
            ),
            (
                with(&[("data_bucket", Value::Null)]),
                "KeyError",
                vec!["data_bucket"],
            ),
        ];
        for (event, error, needles) in cases {
            expect_err(invoke(w, "inference", event).await, error, &needles);
        }
    });
}

#[test]
fn inference_ranks_with_different_endpoints_fail_with_both_named() {
    let results = with_world(async |w| {
        let evs: Vec<Value> = (0..2)
            .map(|r| {
                let mut e = rank_event(r, 2, json!(format!("datasets/batch_{r}.json")));
                e["fmi_enabled"] = json!(true);
                e["rendezvous_endpoint"] = json!(if r == 0 { "rv-a:10000" } else { "rv-b:10000" });
                e
            })
            .collect();
        join_all(evs.into_iter().map(|e| invoke(w, "inference", e))).await
    });
    for r in results {
        expect_err(
            r,
            "FmiError",
            &["rv-a:10000", "rv-b:10000", "rendezvous_endpoint"],
        );
    }
}

#[test]
fn inference_function_with_a_3_second_timeout_times_out() {
    // data-parallel-init-inf is bound to the same handler with the notebook's 3 s timeout: one
    // batch of 64 needs 0.405 CPU-s, 5.6 s at 128 MB.
    let r = with_world(async |w| {
        let mut e = rank_event(0, 1, json!("datasets/batch_0.json"));
        e["batch_size"] = json!(64);
        invoke(w, "data-parallel-init-inf", e).await
    });
    expect_err(
        r,
        "Sandbox.Timedout",
        &["Task timed out after 3.00 seconds"],
    );
}

// ----------------------------------------------------------------------------- summarize --

#[test]
fn summarize_combines_rank_records() {
    let (out, combined) = with_world(async |w| {
        for r in 0..3u64 {
            invoke(
                w,
                "inference",
                rank_event(r, 3, json!(format!("datasets/batch_{r}.json"))),
            )
            .await
            .unwrap();
        }
        // A stray file under the prefix is skipped.
        w.store()
            .put(BUCKET, "results/unit/notes.json", "{}".into(), w.now())
            .await
            .unwrap();
        let out = invoke(
            w,
            "summarize",
            json!({"data_bucket": BUCKET, "result_path": "results/unit"}),
        )
        .await
        .unwrap();
        (
            out,
            object(w, "results/unit/combined_data.json").await.unwrap(),
        )
    });
    assert_eq!(
        out,
        json!({"statusCode": 200, "body": "\"Combined data uploaded to results/unit/combined_data.json\""})
    );
    assert_eq!(combined["num_records"], 3);
    assert_eq!(combined["world_size"], 3);
    assert_eq!(combined["num_samples"], 192);
    assert_eq!(combined["precision_source"], "rank_weighted_mean");
    let ranks: Vec<u64> = combined["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, [0, 1, 2]);
    assert!(combined["metrics"]["r2"].as_f64().unwrap() > 0.5);
}

#[test]
fn summarize_finds_result_path_in_the_rank_payloads() {
    let out = with_world(async |w| {
        invoke(
            w,
            "inference",
            rank_event(0, 1, json!("datasets/batch_0.json")),
        )
        .await
        .unwrap();
        let event =
            json!({"bucket": BUCKET, "lambda_result": {"body": [{"result_path": "results/unit"}]}});
        invoke(w, "summarize", event).await
    });
    assert_eq!(out.unwrap()["statusCode"], 200);
}

#[test]
fn summarize_bad_input() {
    with_world(async |w| {
        w.store()
            .put(BUCKET, "results/bad/0.json", "not json".into(), w.now())
            .await
            .unwrap();
        w.store()
            .put(BUCKET, "results/arr/0.json", "[1]".into(), w.now())
            .await
            .unwrap();
        let cases = [
            (
                json!({"data_bucket": BUCKET, "result_path": "results/empty"}),
                "FileNotFoundError",
                vec!["results/empty/"],
            ),
            (
                json!({"data_bucket": BUCKET, "result_path": "results/bad"}),
                "ValueError",
                vec!["error decoding JSON", "results/bad/0.json"],
            ),
            (
                json!({"data_bucket": BUCKET, "result_path": "results/arr"}),
                "ValueError",
                vec!["JSON object"],
            ),
            (
                json!({"data_bucket": BUCKET}),
                "KeyError",
                vec!["result_path"],
            ),
            (json!({"result_path": "x"}), "KeyError", vec!["data_bucket"]),
            (json!("x"), "ValueError", vec!["JSON object event"]),
        ];
        for (event, error, needles) in cases {
            expect_err(invoke(w, "summarize", event).await, error, &needles);
        }
    });
}
