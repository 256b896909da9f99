//! Testing users' workflows: runs with Step Functions Local mock files
//! ([`crate::sim::mock_config`]), and `stepsim test` on a test file of cases with expectations,
//! reported for people (a structural JSON diff), for CI (JUnit XML) and for tools (JSON), with
//! the coverage of states, Choice branches and Catch handlers.
//!
//! | module | what it owns |
//! |---|---|
//! | [`spec`] | the test file format (`*.test.toml`, or a folder's `tests.toml`) |
//! | [`check`] | expectations against one run, and the JSON diff |
//! | [`coverage`] | what the cases never exercised |
//! | [`report`] | the human summary, the JSON document and the JUnit XML |
//!
//! This module owns running a project with a test case's mocks ([`run_mocked`]).

pub mod check;
pub mod coverage;
pub mod report;
pub mod spec;

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use serde_json::Value;

use crate::engine::TaskInvoker;
use crate::project::{Project, ProjectError, RunOptions, RunReport};
use crate::sim::mock::{CallCount, MockingInvoker};
use crate::sim::mock_config::{MockConfig, MockConfigError, TestCaseMocks};

/// The names a project's state machine may have in a mock file, best first: the project's
/// name for a folder; for a definition file, its file name without `.asl.json`/`.json`.
pub fn machine_names(project: &Project) -> Vec<String> {
    let mut names = Vec::new();
    if project.dir.is_some() {
        names.push(project.name.clone());
    }
    if let Some(file) = project.definition_path.file_name() {
        let file = file.to_string_lossy();
        let stem = file
            .strip_suffix(".asl.json")
            .or_else(|| file.strip_suffix(".json"))
            .unwrap_or(&file)
            .to_string();
        if !names.contains(&stem) && project.dir.is_none() {
            names.push(stem);
        }
    }
    if !names.contains(&project.name) {
        names.push(project.name.clone());
    }
    names
}

/// Loads a mock file and picks `case` for the project's state machine (`machine` when given,
/// else by [`machine_names`]), checked against the definition.
pub fn load_test_case(
    project: &Project,
    file: &Path,
    machine: Option<&str>,
    case: &str,
) -> Result<TestCaseMocks, MockConfigError> {
    let config = MockConfig::load(file)?;
    let machine = match machine {
        Some(m) => m.to_string(),
        None => config.machine_for(&machine_names(project))?,
    };
    config.test_case(&machine, case, Some(&project.machine))
}

/// One run with mocks: the report and the calls made by each state.
pub struct MockedRun {
    pub report: RunReport,
    pub calls: BTreeMap<String, CallCount>,
}

/// Runs one execution of `project` in a fresh simulation, its calls going through `mocks`
/// (which may be empty: then every call reaches the world, and the calls are only counted).
pub fn run_mocked(
    project: &Project,
    input: Value,
    opts: &RunOptions,
    mocks: TestCaseMocks,
) -> Result<MockedRun, ProjectError> {
    let sim = project.simulation(opts)?;
    let eopts = project.execution_options(opts, &opts.execution_name, opts.seed);
    let world: Rc<dyn TaskInvoker> = Rc::new(sim.world().clone());
    let invoker = Rc::new(MockingInvoker::new(world, mocks));
    let report = sim.block_on(sim.execute_with(&project.plan, input, &eopts, invoker.clone()));
    Ok(MockedRun {
        report,
        calls: invoker.counts(),
    })
}
