//! The test file of `stepsim test`: TOML, either `NAME.test.toml` next to `NAME.asl.json`, or
//! `tests.toml` in a project folder. It names the definition (by default the one beside it),
//! optionally a Step Functions Local mock file and a functions file, and lists cases:
//!
//! ```toml
//! mock_config = "MockConfigFile.json"
//!
//! [[case]]
//! name = "happy path"
//! mock = "HappyPath"                 # a test case of the mock file
//! input = { orderId = "42" }
//!
//! [case.expect]
//! status = "SUCCEEDED"
//! path = ["LambdaState", "SQSState"] # every state entered, in order
//! attempts = { LambdaState = 1 }     # calls a state made, retries included
//! output_has = { "$.MessageId" = "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51" }
//! duration_seconds = { max = 1 }
//! cost_usd = { max = 0.001 }
//! ```
//!
//! This module owns reading the file (unknown keys are errors naming the file and line) and
//! resolving the paths in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// A test file, read.
#[derive(Clone, Debug)]
pub struct TestFile {
    /// The file itself.
    pub path: PathBuf,
    /// The definition file or project folder the cases run.
    pub definition: PathBuf,
    /// The mock file, when the file names one.
    pub mock_config: Option<PathBuf>,
    /// The state machine's name in the mock file, when it is not found by name.
    pub state_machine: Option<String>,
    /// A functions file replacing the project's.
    pub functions: Option<PathBuf>,
    pub cases: Vec<TestCase>,
}

/// One case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    /// A test case of the mock file.
    #[serde(default)]
    pub mock: Option<String>,
    /// The input, as TOML (converted to JSON).
    #[serde(default)]
    pub input: Option<toml::Value>,
    /// The input as JSON text (for what TOML cannot say, such as `null`).
    #[serde(default)]
    pub input_json: Option<String>,
    /// The simulation's seed (default 0).
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub expect: Expect,
}

/// A lower and/or upper bound, both inclusive.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// What a case expects. Every field is optional; an empty `expect` checks `SUCCEEDED`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `SUCCEEDED` (the default), `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub cause_contains: Option<String>,
    /// The exact output, as TOML.
    pub output: Option<toml::Value>,
    /// The exact output as JSON text.
    pub output_json: Option<String>,
    /// JSONPath -> the value there (a subset check of the output).
    #[serde(default)]
    pub output_has: BTreeMap<String, toml::Value>,
    /// Every state entered, in order (nested states included).
    pub path: Option<Vec<String>>,
    /// States that must be entered at least once.
    #[serde(default)]
    pub entered: Vec<String>,
    /// States that must never be entered.
    #[serde(default)]
    pub not_entered: Vec<String>,
    /// State -> how many service calls it made (retries and Map iterations included).
    #[serde(default)]
    pub attempts: BTreeMap<String, u64>,
    /// The simulated duration, in seconds.
    pub duration_seconds: Option<Bounds>,
    /// The execution's bill, in USD.
    pub cost_usd: Option<Bounds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    definition: Option<PathBuf>,
    mock_config: Option<PathBuf>,
    state_machine: Option<String>,
    functions: Option<PathBuf>,
    #[serde(default, rename = "case")]
    cases: Vec<TestCase>,
}

pub use crate::sim::function::toml_to_json;

/// Whether `path` is a test file (rather than a conformance corpus): a `.toml` file, or a
/// folder holding `tests.toml`.
pub fn is_test_file(path: &Path) -> bool {
    if path.is_dir() {
        path.join("tests.toml").is_file()
    } else {
        path.extension().is_some_and(|e| e == "toml")
    }
}

impl TestFile {
    /// Reads a test file (or a folder's `tests.toml`).
    pub fn load(path: &Path) -> Result<TestFile, String> {
        let path = if path.is_dir() {
            path.join("tests.toml")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let definition = match raw.definition {
            Some(d) => dir.join(d),
            None => default_definition(&path, &dir)?,
        };
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in raw.cases.iter().enumerate() {
            if !names.insert(c.name.clone()) {
                return Err(format!(
                    "{}: case {} repeats the name '{}'",
                    path.display(),
                    i + 1,
                    c.name
                ));
            }
            if c.input.is_some() && c.input_json.is_some() {
                return Err(format!(
                    "{}: case '{}': give input or input_json, not both",
                    path.display(),
                    c.name
                ));
            }
            if c.mock.is_some() && raw.mock_config.is_none() {
                return Err(format!(
                    "{}: case '{}' names the mock test case '{}' but the file has no mock_config",
                    path.display(),
                    c.name,
                    c.mock.as_deref().unwrap_or_default()
                ));
            }
        }
        if raw.cases.is_empty() {
            return Err(format!("{}: no [[case]] in the file", path.display()));
        }
        Ok(TestFile {
            definition,
            mock_config: raw.mock_config.map(|m| dir.join(m)),
            state_machine: raw.state_machine,
            functions: raw.functions.map(|f| dir.join(f)),
            cases: raw.cases,
            path,
        })
    }
}

/// `tests.toml` tests its folder; `NAME.test.toml` tests `NAME.asl.json` (or `NAME.json`).
fn default_definition(path: &Path, dir: &Path) -> Result<PathBuf, String> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    if file == "tests.toml" {
        return Ok(dir.to_path_buf());
    }
    let stem = file
        .strip_suffix(".test.toml")
        .or_else(|| file.strip_suffix(".toml"))
        .unwrap_or(&file);
    for candidate in [format!("{stem}.asl.json"), format!("{stem}.json")] {
        let p = dir.join(&candidate);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(format!(
        "{}: no `definition` given and neither {stem}.asl.json nor {stem}.json is beside it",
        path.display()
    ))
}

impl TestCase {
    /// The case's input as JSON; `None` for the project's default input.
    pub fn input(&self) -> Result<Option<Value>, String> {
        if let Some(t) = &self.input {
            return Ok(Some(toml_to_json(t)));
        }
        match &self.input_json {
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| format!("case '{}': input_json: {e}", self.name)),
            None => Ok(None),
        }
    }
}

impl Expect {
    /// The exact output expected, if any.
    pub fn output(&self) -> Result<Option<Value>, String> {
        if let Some(t) = &self.output {
            return Ok(Some(toml_to_json(t)));
        }
        match &self.output_json {
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| format!("expect.output_json: {e}")),
            None => Ok(None),
        }
    }
}
