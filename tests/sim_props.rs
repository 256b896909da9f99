//! "Never panics" properties of everything a user feeds the world model: functions, fault and
//! price files, function references, money, store keys, and arbitrary `lambda:invoke` and S3
//! parameters sent through the `TaskInvoker`.

use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::engine::{CallContext, ServiceCall, ServiceRequest, TaskFailure, TaskInvoker};
use stepsim::handlers::default_catalog;
use stepsim::sim::dist::QuantileDist;
use stepsim::sim::{FaultPlan, FunctionRegistry, FunctionTarget, Money, PriceTable, Simulation};
use stepsim::storage::{ListRequest, Store};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("f"),
            Just("arn:aws:lambda:us-east-1:1:function:f"),
            Just("bkt"),
            Just("k")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("FunctionName".to_string()),
                    Just("Payload".to_string()),
                    Just("Qualifier".to_string()),
                    Just("InvocationType".to_string()),
                    Just("Bucket".to_string()),
                    Just("Key".to_string()),
                    Just("Prefix".to_string()),
                    Just("Delimiter".to_string()),
                    Just("MaxKeys".to_string()),
                    Just("ContinuationToken".to_string()),
                    Just("Body".to_string()),
                    ".{0,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The call the engine makes for `resource` (the service and action are the resource's; an
/// optimized `lambda:invoke` whose parameters form no invocation is refused before any call).
fn call(
    resource: &str,
    service: &str,
    action: &str,
    parameters: Value,
) -> Result<ServiceCall, TaskFailure> {
    let context = CallContext {
        execution_arn: "arn:aws:states:us-east-1:1:execution:sm:e".into(),
        state_name: "S".into(),
        ..CallContext::default()
    };
    let call = ServiceCall::for_resource(resource, parameters, context)?;
    if let ServiceRequest::Sdk {
        service: s,
        action: a,
        ..
    } = &call.request
    {
        assert_eq!((s.as_str(), a.as_str()), (service, action));
    }
    Ok(call)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_files_never_panic(text in ".{0,200}") {
        let _ = FunctionRegistry::from_toml_str(&text, "f.toml", &default_catalog());
        let _ = FaultPlan::from_toml_str(&text);
        let _ = PriceTable::from_toml_str(&text);
    }

    #[test]
    fn structured_functions_files_never_panic(
        memory in any::<i64>(),
        timeout in any::<i64>(),
        reserved in any::<i64>(),
        kind in prop_oneof![Just("identity"), Just("sleep"), Just("raise"), Just("nope")],
        seconds in any::<f64>(),
    ) {
        let text = format!(
            "[functions.f]\nhandler = \"{kind}\"\nmemory_mb = {memory}\ntimeout_seconds = {timeout}\n\
             reserved_concurrency = {reserved}\n[functions.f.params]\nseconds = {seconds:?}\n"
        );
        let _ = FunctionRegistry::from_toml_str(&text, "f.toml", &default_catalog());
    }

    #[test]
    fn references_and_money_never_panic(text in ".{0,80}") {
        let _ = FunctionTarget::parse(&text);
        let _ = Money::parse_usd(&text);
        if !text.starts_with("dir:") {
            let _ = Store::open(&text);
        }
    }

    #[test]
    fn distributions_never_panic(points in prop::collection::vec((any::<f64>(), any::<f64>()), 0..5), q in any::<f64>()) {
        if let Ok(d) = QuantileDist::from_percentiles(&points) {
            let ms = d.quantile_ms(q);
            prop_assert!(ms >= 0.0 || ms.is_nan());
        }
    }

    #[test]
    fn store_keys_round_trip(key in "[^\\x00]{1,40}", prefix in ".{0,4}", delim in prop::option::of("[/a-]{1,2}")) {
        let sim = Simulation::builder().build().unwrap();
        sim.block_on(async {
            let store = Store::memory();
            store.create_bucket("bkt").await.unwrap();
            let now = stepsim::engine::clock::default_origin();
            store.put("bkt", &key, bytes::Bytes::from_static(b"v"), now).await.unwrap();
            let (info, _) = store.get("bkt", &key).await.unwrap();
            assert_eq!(info.key, key);
            let page = store.list("bkt", &ListRequest { prefix: prefix.clone(), delimiter: delim, ..Default::default() }).await.unwrap();
            let found = page.objects.iter().any(|o| o.key == key) || page.common_prefixes.iter().any(|p| key.starts_with(p.as_str()));
            assert_eq!(found, key.starts_with(&prefix));
        });
    }

    #[test]
    fn invoker_never_panics(params in arb_json(), which in 0usize..8) {
        let reg = FunctionRegistry::from_toml_str(
            "[functions.f]\nhandler = \"identity\"\n",
            "f.toml",
            &default_catalog(),
        )
        .unwrap();
        let sim = Simulation::builder().functions(reg).build().unwrap();
        let w = sim.world();
        sim.block_on(async {
            w.store().create_bucket("bkt").await.unwrap();
            let c = match which {
                0 => call("arn:aws:states:::lambda:invoke", "lambda", "invoke", params),
                1 => call("arn:aws:lambda:us-east-1:1:function:f", "lambda", "invoke", params),
                2 => call("arn:aws:states:::s3:getObject", "s3", "getObject", params),
                3 => call("arn:aws:states:::s3:putObject", "s3", "putObject", params),
                4 => call("arn:aws:states:::s3:listObjectsV2", "s3", "listObjectsV2", params),
                5 => call("arn:aws:states:::s3:headObject", "s3", "headObject", params),
                6 => call("arn:aws:states:::s3:deleteObject", "s3", "deleteObject", params),
                _ => call("arn:aws:states:::sqs:sendMessage", "sqs", "sendMessage", json!({})),
            };
            if let Ok(c) = c {
                let _ = w.invoke(c).await;
            }
        });
    }
}
