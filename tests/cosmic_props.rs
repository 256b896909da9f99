//! "Never panics" properties of the COSMIC-AI handlers and seed generator: whatever event a
//! function receives, it returns a value or a function error, never a crash (`Lambda.Unknown`).

mod support;

use proptest::prelude::*;
use serde_json::{Map, Value};
use stepsim::handlers::cosmic::generate_seed_objects;
use support::cosmic::*;

const FIELDS: [&str; 18] = [
    "bucket",
    "data_bucket",
    "data_prefix",
    "file_limit",
    "object_type",
    "world_size",
    "batch_size",
    "rank",
    "data_path",
    "result_path",
    "test_mode",
    "fmi_enabled",
    "rendezvous_endpoint",
    "fmi_channel",
    "unique_id",
    "lambda_result",
    "samples",
    "samples_per_file",
];

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..6).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,8}".prop_map(Value::String),
        prop_oneof![
            Just(BUCKET),
            Just("datasets"),
            Just("datasets/batch_0.json"),
            Just("results/x"),
            Just("payload.json"),
            Just("s3"),
            Just("128"),
            Just("-1"),
            Just("true"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), inner, 0..3)
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
        ]
    })
}

/// An event: the example's input with some fields replaced or removed, or anything at all.
fn arb_event() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::btree_map(
            prop::sample::select(FIELDS.to_vec()),
            prop::option::of(arb_value()),
            0..6,
        )
        .prop_map(|changes| {
            let mut e: Map<String, Value> = example_input().as_object().cloned().unwrap_or_default();
            e.insert("rank".into(), Value::from(0));
            e.insert("data_path".into(), Value::from("datasets/batch_0.json"));
            e.insert("fmi_enabled".into(), Value::Bool(false));
            for (k, v) in changes {
                match v {
                    Some(v) => e.insert(k.to_string(), v),
                    None => e.remove(k),
                };
            }
            Value::Object(e)
        }),
        1 => arb_value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn handlers_never_crash(event in arb_event()) {
        let sim = example_simulation(1, None);
        let w = sim.world();
        let crashes = sim.block_on(async {
            let mut crashes = Vec::new();
            for f in ["data-parallel-init2", "inference", "summarize"] {
                if let Err(e) = w.invoke_function(f, event.clone(), "prop").await {
                    if e.error == "Lambda.Unknown" {
                        crashes.push(format!("{f}: {}", e.cause));
                    }
                }
            }
            crashes
        });
        prop_assert!(crashes.is_empty(), "{crashes:?}");
    }

    #[test]
    fn the_seed_generator_never_panics(params in arb_value()) {
        let _ = generate_seed_objects(&params);
    }
}
