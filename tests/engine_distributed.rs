//! Distributed Map end to end against the simulated world: ItemReader over JSONL, CSV, a
//! ListObjectsV2 listing and an S3 inventory manifest; ItemBatcher; ResultWriter with the files
//! AWS writes; child executions billed one transition each.

use serde_json::{json, Value};
use stepsim::engine::{self, ExecutionOptions, ExecutionStatus, Plan};
use stepsim::sim::Simulation;

/// Runs `def` once in a simulation whose S3 holds `objects` (bucket, key, body); the
/// simulation is returned for reading the store afterwards.
fn run(
    def: Value,
    input: Value,
    objects: &[(&str, &str, &str)],
) -> (engine::ExecutionOutcome, Simulation) {
    let plan = Plan::compile(&stepsim::asl::load_value(&def).expect("valid")).unwrap();
    let sim = Simulation::builder().seed(3).build().unwrap();
    sim.block_on(async {
        let store = sim.world().store();
        for (b, k, body) in objects {
            let _ = store.create_bucket(b).await;
            store
                .put(b, k, body.as_bytes().to_vec().into(), sim.now())
                .await
                .unwrap();
        }
    });
    let out = sim.run(&plan, input, &ExecutionOptions::default()).outcome;
    (out, sim)
}

fn dmap(reader: Value, extra: Value) -> Value {
    let mut m = json!({
        "Type": "Map",
        "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": m}})
}

#[test]
fn jsonl_reader_with_batches() {
    let body = "{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n";
    let def = dmap(
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
               "Parameters": {"Bucket": "bkt", "Key": "items.jsonl"}}),
        json!({"ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.tag"}}}),
    );
    let (out, _) = run(def, json!({"tag": "t"}), &[("bkt", "items.jsonl", body)]);
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    assert_eq!(
        out.output,
        Some(json!([
            {"BatchInput": {"tag": "t"}, "Items": [{"n": 1}, {"n": 2}]},
            {"BatchInput": {"tag": "t"}, "Items": [{"n": 3}]}
        ]))
    );
    assert_eq!(out.children.len(), 2);
}

#[test]
fn listing_reader_gives_object_entries() {
    let def = dmap(
        json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "bkt", "Prefix": "data/"}}),
        json!({"ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"}}),
    );
    let (out, _) = run(
        def,
        json!({}),
        &[
            ("bkt", "data/a.json", "12345"),
            ("bkt", "data/b.json", "1"),
            ("bkt", "other", "x"),
        ],
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    assert_eq!(
        out.output,
        Some(json!([{"key": "data/a.json", "size": 5}, {"key": "data/b.json", "size": 1}]))
    );
}

#[test]
fn inventory_manifest_reader() {
    let manifest = json!({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv",
        "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/part-1.csv", "size": 40, "MD5checksum": "x"}]
    })
    .to_string();
    let def = dmap(
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"},
               "Parameters": {"Bucket": "inv", "Key": "manifest.json"}}),
        json!({}),
    );
    let (out, _) = run(
        def,
        json!({}),
        &[
            ("inv", "manifest.json", &manifest),
            ("inv", "inv/data/part-1.csv", "src,k1,10\nsrc,\"k,2\",20\n"),
        ],
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    assert_eq!(
        out.output,
        Some(
            json!([{"Bucket": "src", "Key": "k1", "Size": "10"}, {"Bucket": "src", "Key": "k,2", "Size": "20"}])
        )
    );
}

#[test]
fn result_writer_writes_aws_files() {
    let mut def = dmap(
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
               "Parameters": {"Bucket": "bkt", "Key": "items.json"}}),
        json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "outb", "Prefix": "runs"}},
               "ToleratedFailurePercentage": 50, "Label": "fan"}),
    );
    // Items with "fail": true end in a Fail state.
    def["States"]["M"]["ItemProcessor"]["States"] = json!({
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "F"}], "Default": "P"},
        "F": {"Type": "Fail", "Error": "Bad", "Cause": "item failed"},
        "P": {"Type": "Pass", "End": true}
    });
    def["States"]["M"]["ItemProcessor"]["StartAt"] = json!("C");
    def["States"]["M"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = json!("STANDARD");
    let items = json!([{"fail": false}, {"fail": true}, {"fail": false}]).to_string();
    let (out, sim) = run(
        def,
        json!({}),
        &[("bkt", "items.json", &items), ("outb", ".keep", "")],
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    let output = out.output.unwrap();
    assert!(output["MapRunArn"]
        .as_str()
        .unwrap()
        .contains(":mapRun:StateMachine/fan:"));
    let key = output["ResultWriterDetails"]["Key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        key.starts_with("runs/") && key.ends_with("/manifest.json"),
        "{key}"
    );
    sim.block_on(async {
        let store = sim.world().store();
        let (_, m) = store.get("outb", &key).await.unwrap();
        let m: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(m["DestinationBucket"], "outb");
        let ok_key = m["ResultFiles"]["SUCCEEDED"][0]["Key"]
            .as_str()
            .unwrap()
            .to_string();
        let bad_key = m["ResultFiles"]["FAILED"][0]["Key"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(ok_key.ends_with("SUCCEEDED_0.json") && bad_key.ends_with("FAILED_0.json"));
        let (_, ok) = store.get("outb", &ok_key).await.unwrap();
        let ok: Value = serde_json::from_slice(&ok).unwrap();
        assert_eq!(ok.as_array().unwrap().len(), 2);
        assert_eq!(ok[0]["Status"], "SUCCEEDED");
        assert_eq!(ok[0]["Output"], "{\"fail\":false}");
        let (_, bad) = store.get("outb", &bad_key).await.unwrap();
        let bad: Value = serde_json::from_slice(&bad).unwrap();
        assert_eq!(bad[0]["Error"], "Bad");
        assert_eq!(bad[0]["Cause"], "item failed");
    });
    // One parent transition per child started, plus the Map state itself.
    assert_eq!(out.transitions, 1 + 3);
    assert_eq!(out.children.len(), 3);
}

#[test]
fn failures_over_the_threshold_fail_the_map() {
    let mut def = dmap(
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
               "Parameters": {"Bucket": "bkt", "Key": "items.json"}}),
        json!({"ToleratedFailureCount": 0}),
    );
    def["States"]["M"]["ItemProcessor"]["States"] = json!({"F": {"Type": "Fail", "Error": "Bad"}});
    def["States"]["M"]["ItemProcessor"]["StartAt"] = json!("F");
    let (out, _) = run(def, json!({}), &[("bkt", "items.json", "[1]")]);
    assert_eq!(
        out.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[test]
fn reader_errors_are_item_reader_failures() {
    let def = dmap(
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
               "Parameters": {"Bucket": "bkt", "Key": "missing.json"}}),
        json!({}),
    );
    let (out, _) = run(def, json!({}), &[("bkt", "x", "1")]);
    assert_eq!(
        out.error.as_deref(),
        Some("States.ItemReaderFailed"),
        "{:?}",
        out.cause
    );
}

/// A Distributed Map starts its children at `map_child_start_rate` a second (20.6 by default,
/// from the COSMIC-AI paper's per-rank start times), and not at all when the rate is `None`.
#[test]
fn children_start_at_the_map_start_rate() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let plan = Plan::compile(&stepsim::asl::load_value(&def).expect("valid")).unwrap();
    let items: Vec<Value> = (0..42).map(|i| json!(i)).collect();
    let starts = |opts: &ExecutionOptions| {
        let sim = Simulation::builder().seed(3).build().unwrap();
        let out = sim.run(&plan, Value::Array(items.clone()), opts).outcome;
        assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
        let mut s: Vec<f64> = out
            .children
            .iter()
            .map(|c| (c.start_date - out.start_date).num_microseconds().unwrap() as f64 / 1e6)
            .collect();
        s.sort_by(f64::total_cmp);
        (s, out.duration().as_secs_f64())
    };
    let (ramped, took) = starts(&ExecutionOptions::default());
    assert_eq!(ramped.len(), 42);
    let first = ramped[0];
    // 41 intervals of 1/20.6 s after the first.
    assert!(
        (ramped[41] - first - 41.0 / 20.6).abs() < 0.01,
        "{ramped:?}"
    );
    assert!((ramped[1] - first - 1.0 / 20.6).abs() < 0.01, "{ramped:?}");
    assert!(took >= 41.0 / 20.6, "{took}");
    let (all_at_once, _) = starts(&ExecutionOptions {
        map_child_start_rate: None,
        ..ExecutionOptions::default()
    });
    assert!(all_at_once[41] - all_at_once[0] < 1e-6, "{all_at_once:?}");
}

/// STANDARD children's input, result and history are kept while the execution's byte budget
/// lasts, then no more (and never with a budget of 0, nor for EXPRESS children).
#[test]
fn child_details_are_kept_within_the_budget() {
    let def = |kind: &str| {
        json!({"StartAt": "Fan", "States": {"Fan": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": kind},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"pad": "x".repeat(200)}, "End": true}}}}}})
    };
    let input = json!({"items": (0..20).collect::<Vec<_>>()});
    let kept = |kind: &str, budget: u64| {
        let plan = Plan::compile(&stepsim::asl::load_value(&def(kind)).unwrap()).unwrap();
        let sim = Simulation::builder().seed(3).build().unwrap();
        let opts = ExecutionOptions {
            child_detail_budget: budget,
            ..ExecutionOptions::default()
        };
        let out = sim.run(&plan, input.clone(), &opts).outcome;
        assert_eq!(out.status, ExecutionStatus::Succeeded);
        let children = &out.map_runs[0].children;
        assert_eq!(children.len(), 20);
        children
            .iter()
            .map(|c| c.detail.clone())
            .collect::<Vec<_>>()
    };
    let all = kept("STANDARD", 1 << 20);
    assert!(all.iter().all(Option::is_some));
    let d = all[0].as_ref().unwrap();
    let types: Vec<&str> = d.history.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        d.output.as_ref().unwrap()["pad"].as_str().unwrap().len(),
        200
    );
    // A budget for about five of them keeps the first ones to end, then none.
    let per_child = d.bytes;
    let some = kept("STANDARD", per_child * 5 + per_child / 2);
    let n = some.iter().filter(|d| d.is_some()).count();
    assert_eq!(n, 5, "{per_child} bytes each");
    assert!(some[..5].iter().all(Option::is_some));
    assert!(kept("STANDARD", 0).iter().all(Option::is_none));
    assert!(kept("EXPRESS", 1 << 20).iter().all(Option::is_none));
}
