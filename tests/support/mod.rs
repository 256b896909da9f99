//! What the integration tests share: where the conformance corpus is, and how to build a
//! simulation and run a definition in it. Each test file includes it with `mod support;`.
//! Two submodules serve one family of tests each: [`api`] (a server and an AWS client for the
//! `api_*` tests) and [`cosmic`] (the COSMIC-AI example's simulation for the `cosmic_*` tests).
//!
//! The corpus rule (one for every test and for `stepsim test`): `$STEPSIM_CONFORMANCE_DIR` names
//! the corpus folder (the one holding `cases/`), else `../shared/conformance` beside the crate
//! ([`stepsim::conformance::default_corpus_dir`]). Without a corpus the corpus tests print
//! `SKIPPED` and pass, except under CI (`CI` set), where the corpus is expected beside the
//! checkout and its absence fails the test; set `STEPSIM_CORPUS_OPTIONAL=1` to run such a CI
//! without it.
#![allow(dead_code)]

pub mod api;
pub mod cli;
pub mod cosmic;

use std::path::PathBuf;

use serde_json::Value;
use stepsim::conformance::{default_corpus_dir, load_corpus, Case};
use stepsim::sim::{FunctionRegistry, LambdaSettings, Simulation};

/// The corpus folder, or `None` (after printing `SKIPPED: ...`) when it is absent outside CI.
/// Panics under CI when it is absent, so that a broken lookup cannot pass silently.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    if let Some(dir) = default_corpus_dir() {
        return Some(dir);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let optional = std::env::var_os("STEPSIM_CORPUS_OPTIONAL").is_some();
    if ci && !optional {
        panic!(
            "{test}: the conformance corpus is expected under CI but was not found \
             (looked at $STEPSIM_CONFORMANCE_DIR and ../shared/conformance; \
             set STEPSIM_CORPUS_OPTIONAL=1 to run without it)"
        );
    }
    eprintln!(
        "SKIPPED {test}: no conformance corpus (set STEPSIM_CONFORMANCE_DIR to the folder \
         holding cases/, or place it at ../shared/conformance)"
    );
    None
}

/// Every case of the corpus, sorted by file, or `None` as for [`corpus_dir`].
pub fn corpus_cases(test: &str) -> Option<Vec<Case>> {
    let dir = corpus_dir(test)?;
    Some(load_corpus(&dir).expect("the conformance corpus loads"))
}

/// `(path under cases/, case document)` for every case, for tests that read the raw documents.
pub fn corpus_documents(test: &str) -> Option<Vec<(String, Value)>> {
    let cases = corpus_cases(test)?;
    Some(
        cases
            .into_iter()
            .map(|c| {
                let rel = c.file.strip_prefix("cases").unwrap_or(&c.file);
                (rel.display().to_string(), c.doc)
            })
            .collect(),
    )
}

/// Compiles a definition given as JSON; panics with the problems when it is invalid (a test's
/// own definitions are meant to be valid).
pub fn plan(definition: &Value) -> stepsim::engine::Plan {
    let machine = stepsim::asl::load_value(definition)
        .unwrap_or_else(|e| panic!("invalid test definition: {e:?}"));
    stepsim::engine::Plan::compile(&machine).expect("the definition compiles")
}

/// A [`Simulation`] holding `functions`, with no Lambda invoke latency so that timings are exact
/// (INIT, handler time and S3 transfers still spend virtual time); every other part is the
/// default (seed 0, empty in-memory S3). The set-up of most world-model tests.
pub fn simulation(functions: FunctionRegistry) -> Simulation {
    Simulation::builder()
        .functions(functions)
        .lambda_settings(LambdaSettings::without_latency())
        .build()
        .expect("a simulation")
}

/// Runs one execution in a fresh default [`Simulation`] (no functions, in-memory S3) with its
/// service calls answered by `invoker` (a test fake, or `NoServices`).
pub fn run_with_invoker(
    plan: &stepsim::engine::Plan,
    input: Value,
    opts: &stepsim::engine::ExecutionOptions,
    origin: stepsim::engine::SimTime,
    invoker: std::rc::Rc<dyn stepsim::engine::TaskInvoker>,
) -> stepsim::engine::ExecutionOutcome {
    let sim = Simulation::builder()
        .origin(origin)
        .build()
        .expect("a simulation");
    sim.block_on(sim.execute_with(plan, input, opts, invoker))
        .outcome
}
