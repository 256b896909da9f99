//! Shared set-up of the COSMIC-AI tests (included with `#[path]` by `cosmic_*.rs`): the example
//! folder, a world with its functions and a seeded memory store, and a runner that executes the
//! example's state machine against it.

// Each test crate that includes this file uses a different subset of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use serde_json::Value;
use stepsim::engine::{self, ExecutionOptions, ExecutionOutcome, HistoryMode, Plan, TaskInvoker};
use stepsim::handlers::cosmic::generate_seed_objects;
use stepsim::handlers::default_catalog;
use stepsim::sim::{BillingOptions, FunctionRegistry, LambdaSettings, WorkflowKind, World};
use stepsim::storage::{ListRequest, Store};

/// The notebook's bucket.
pub const BUCKET: &str = "team2-cosmical-7078ea12";

pub fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asl-examples/cosmic-ai")
}

pub fn example_input() -> Value {
    let text = std::fs::read_to_string(example_dir().join("input.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn example_plan() -> Plan {
    let text = std::fs::read_to_string(example_dir().join("state-machine.asl.json")).unwrap();
    Plan::compile(&stepsim::asl::load_str(&text).unwrap()).unwrap()
}

pub fn example_functions() -> FunctionRegistry {
    FunctionRegistry::load(&example_dir().join("functions.toml"), &default_catalog()).unwrap()
}

/// The example's `inference` function (same configuration) with the AstroMAE estimator, which
/// charges the calibration batch curve, instead of the team profile's `linear` one.
pub fn astromae_inference() -> FunctionRegistry {
    let base = example_functions();
    let spec = base.get("inference").unwrap();
    let mut reg = FunctionRegistry::new();
    reg.register(
        "inference",
        spec.config.clone(),
        stepsim::handlers::cosmic::inference::Inference {
            fmi_channel: stepsim::sim::fmi::FmiChannel::Direct,
            estimator: stepsim::handlers::cosmic::inference::Estimator::AstroMae,
        },
    )
    .unwrap();
    reg
}

/// The seed generator's parameters from project.toml.
pub fn project_seed_params() -> Value {
    let text = std::fs::read_to_string(example_dir().join("project.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let seeds = doc["seed"].as_array().unwrap();
    assert_eq!(seeds.len(), 1);
    assert_eq!(seeds[0]["generator"].as_str(), Some("cosmic.dataset"));
    stepsim::sim::function::toml_to_json(&seeds[0]["params"])
}

/// Puts the generator's objects into `store`.
pub async fn seed_store(store: &Store, params: &Value) {
    for (bucket, key, bytes) in generate_seed_objects(params).unwrap() {
        store.create_bucket(&bucket).await.unwrap();
        store
            .put(
                &bucket,
                &key,
                bytes.into(),
                stepsim::engine::clock::default_origin(),
            )
            .await
            .unwrap();
    }
}

/// A world with the example's functions (plus `extra`) and a store seeded from project.toml.
/// Must run inside a virtual runtime.
pub async fn example_world(
    seed: u64,
    extra: Option<FunctionRegistry>,
    settings: Option<LambdaSettings>,
) -> World {
    let store = Store::memory();
    seed_store(&store, &project_seed_params()).await;
    let mut reg = example_functions();
    if let Some(extra) = extra {
        for spec in extra.iter() {
            reg.register_spec((**spec).clone()).unwrap();
        }
    }
    let mut b = World::builder().seed(seed).store(store).functions(reg);
    if let Some(s) = settings {
        b = b.lambda_settings(s);
    }
    b.build().unwrap()
}

/// Runs one execution of `plan` on `world`, named `name`, bracketed in the ledger.
pub async fn run_on(
    world: &World,
    plan: &Plan,
    input: Value,
    name: &str,
    seed: u64,
) -> ExecutionOutcome {
    let opts = ExecutionOptions {
        execution_name: name.to_string(),
        state_machine_name: "team2-COSMIC-AI-7078ea12".to_string(),
        account: "211125778552".to_string(),
        history: HistoryMode::Full,
        seed,
        ..ExecutionOptions::default()
    };
    let arn = opts.execution_arn();
    world.begin_execution(&arn, WorkflowKind::Standard);
    let out = engine::execute(
        plan,
        input,
        &opts,
        world.clock(),
        Rc::new(world.clone()) as Rc<dyn TaskInvoker>,
    )
    .await;
    world.end_execution(&arn);
    world.record_transitions(&arn, out.transitions);
    out
}

/// Every object of the store, as `bucket/key` → bytes.
pub async fn all_objects(store: &Store) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for bucket in store.list_buckets().await.unwrap() {
        let mut req = ListRequest::default();
        loop {
            let page = store.list(&bucket, &req).await.unwrap();
            for o in &page.objects {
                let (_, body) = store.get(&bucket, &o.key).await.unwrap();
                out.insert(format!("{bucket}/{}", o.key), body.to_vec());
            }
            match page.next_continuation_token {
                Some(t) if page.is_truncated => req.continuation_token = Some(t),
                _ => break,
            }
        }
    }
    out
}

/// One run of the example, with everything a test compares.
pub struct ExampleRun {
    pub outcome: ExecutionOutcome,
    pub objects: BTreeMap<String, Vec<u8>>,
    pub bill: String,
    pub usage: stepsim::sim::ExecutionUsage,
}

/// Runs the example once on a fresh world (master seed `seed`) with `input`.
pub fn run_example(input: Value, seed: u64) -> ExampleRun {
    run_example_with(input, seed, None)
}

/// [`run_example`] with functions replaced or added.
pub fn run_example_with(input: Value, seed: u64, extra: Option<FunctionRegistry>) -> ExampleRun {
    let rt = engine::virtual_runtime().unwrap();
    rt.block_on(async {
        let world = example_world(seed, extra, None).await;
        let plan = example_plan();
        let outcome = run_on(&world, &plan, input, "step5-execution-1753127540", seed).await;
        let bill = world
            .bill(&outcome.execution_arn, &BillingOptions::default())
            .unwrap();
        let usage = world.usage(&outcome.execution_arn).unwrap();
        let objects = all_objects(world.store()).await;
        ExampleRun {
            outcome,
            objects,
            bill: serde_json::to_string(&bill).unwrap(),
            usage,
        }
    })
}

/// The example's input with fields replaced.
pub fn input_with(changes: &[(&str, Value)]) -> Value {
    let mut v = example_input();
    for (k, x) in changes {
        v[*k] = x.clone();
    }
    v
}
