//! Shared set-up of the COSMIC-AI tests (`support::cosmic`, used by `cosmic_*.rs`): the example
//! folder, a [`Simulation`] with its functions and a seeded memory store, and a runner that
//! executes the example's state machine in it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use stepsim::engine::{ExecutionOptions, ExecutionOutcome, HistoryMode, Plan};
use stepsim::handlers::cosmic::generate_seed_objects;
use stepsim::handlers::default_catalog;
use stepsim::sim::{FunctionRegistry, RunReport, Simulation};
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

/// A simulation with the example's functions (plus `extra`, which replace same-named ones) and
/// a memory store seeded from project.toml, its world seeded with `seed`.
pub fn example_simulation(seed: u64, extra: Option<FunctionRegistry>) -> Simulation {
    let store = Store::memory();
    let mut reg = example_functions();
    if let Some(extra) = extra {
        for spec in extra.iter() {
            reg.register_spec((**spec).clone()).unwrap();
        }
    }
    let sim = Simulation::builder()
        .seed(seed)
        .store(store.clone())
        .functions(reg)
        .build()
        .unwrap();
    sim.block_on(seed_store(&store, &project_seed_params()));
    sim
}

/// The options of one execution of the example's state machine, named `name`.
pub fn example_options(name: &str, seed: u64) -> ExecutionOptions {
    ExecutionOptions {
        execution_name: name.to_string(),
        state_machine_name: "team2-COSMIC-AI-7078ea12".to_string(),
        account: "211125778552".to_string(),
        history: HistoryMode::Full,
        seed,
        ..ExecutionOptions::default()
    }
}

/// Runs one execution of `plan` in `sim`, named `name`, and prices it.
pub fn run_on(sim: &Simulation, plan: &Plan, input: Value, name: &str, seed: u64) -> RunReport {
    sim.run(plan, input, &example_options(name, seed))
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

/// Runs the example once in a fresh simulation (master seed `seed`) with `input`.
pub fn run_example(input: Value, seed: u64) -> ExampleRun {
    run_example_with(input, seed, None)
}

/// [`run_example`] with functions replaced or added.
pub fn run_example_with(input: Value, seed: u64, extra: Option<FunctionRegistry>) -> ExampleRun {
    let sim = example_simulation(seed, extra);
    let report = run_on(
        &sim,
        &example_plan(),
        input,
        "step5-execution-1753127540",
        seed,
    );
    ExampleRun {
        objects: sim.block_on(all_objects(sim.world().store())),
        bill: serde_json::to_string(&report.bill).unwrap(),
        outcome: report.outcome,
        usage: report.usage,
    }
}

/// The example's input with fields replaced.
pub fn input_with(changes: &[(&str, Value)]) -> Value {
    let mut v = example_input();
    for (k, x) in changes {
        v[*k] = x.clone();
    }
    v
}
