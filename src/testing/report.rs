//! Running a test file's cases, and reporting them: the human summary, the `--json` document
//! and the `--junit` XML (the JUnit format GitLab, GitHub Actions reporters and Jenkins read).
//!
//! Everything reported is a pure function of the files and seeds: the JUnit `time` of a case is
//! its simulated duration, and host time appears nowhere, so two runs give the same bytes.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{json, Value};

use super::check::{check, Failure, Observed};
use super::coverage::{Coverage, CoverageReport};
use super::spec::TestFile;
use super::{load_test_case, run_mocked};
use crate::engine::HistoryMode;
use crate::project::{Project, RunOptions};
use crate::sim::mock_config::{MockConfig, TestCaseMocks};

/// One case's result.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub mock: Option<String>,
    pub failures: Vec<Failure>,
    /// `None` when the case could not run (its `error` says why).
    pub observed: Option<Observed>,
    pub error: Option<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.failures.is_empty()
    }
}

/// One test file's results.
#[derive(Clone, Debug)]
pub struct FileResult {
    pub file: String,
    pub definition: String,
    pub cases: Vec<CaseResult>,
    pub coverage: CoverageReport,
}

impl FileResult {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }
}

/// Loads the project and the mocks of every case first (so a bad mock file or an unknown test
/// case stops everything before any run), then runs the cases whose name contains one of
/// `filter` (all when it is empty).
pub fn run_file(file: &TestFile, filter: &[String]) -> Result<FileResult, String> {
    let mut project = Project::load(&file.definition).map_err(|e| e.to_string())?;
    if let Some(f) = &file.functions {
        project.use_functions_file(f).map_err(|e| e.to_string())?;
    }
    if let Some(m) = &file.mock_config {
        // The whole file is checked even when no case uses it.
        MockConfig::load(m).map_err(|e| e.to_string())?;
    }
    let selected: Vec<_> = file
        .cases
        .iter()
        .filter(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str())))
        .collect();
    let mut prepared = Vec::new();
    for case in &selected {
        let mocks = match (&case.mock, &file.mock_config) {
            (Some(name), Some(m)) => {
                load_test_case(&project, m, file.state_machine.as_deref(), name)
                    .map_err(|e| format!("case '{}': {e}", case.name))?
            }
            _ => TestCaseMocks::default(),
        };
        let input = case
            .input()
            .map_err(|e| format!("{}: {e}", file.path.display()))?
            .unwrap_or_else(|| project.input.clone());
        prepared.push((case, mocks, input));
    }
    let mut coverage = Coverage::default();
    let mut cases = Vec::new();
    for (i, (case, mocks, input)) in prepared.into_iter().enumerate() {
        let opts = RunOptions {
            seed: case.seed,
            history: HistoryMode::Full,
            execution_name: format!("case-{}", i + 1),
            ..RunOptions::default()
        };
        let result = match run_mocked(&project, input, &opts, mocks) {
            Ok(run) => {
                coverage.add(&project.machine, &run.report.outcome.history);
                let observed = Observed::of(&run.report, &run.calls);
                CaseResult {
                    name: case.name.clone(),
                    mock: case.mock.clone(),
                    failures: check(&case.expect, &observed),
                    observed: Some(observed),
                    error: None,
                }
            }
            Err(e) => CaseResult {
                name: case.name.clone(),
                mock: case.mock.clone(),
                failures: Vec::new(),
                observed: None,
                error: Some(e.to_string()),
            },
        };
        cases.push(result);
    }
    Ok(FileResult {
        file: file.path.display().to_string(),
        definition: file.definition.display().to_string(),
        coverage: coverage.report(&project.machine),
        cases,
    })
}

/// The human summary.
pub fn render(results: &[FileResult], coverage: bool, verbose: bool) -> String {
    let mut out = String::new();
    let (mut total, mut passed) = (0, 0);
    for f in results {
        out.push_str(&format!("{} ({})\n", f.file, f.definition));
        for c in &f.cases {
            total += 1;
            let mock = c
                .mock
                .as_ref()
                .map(|m| format!(" [mock {m}]"))
                .unwrap_or_default();
            if c.passed() {
                passed += 1;
                out.push_str(&format!("  PASS {}{mock}\n", c.name));
                if verbose {
                    if let Some(o) = &c.observed {
                        out.push_str(&format!(
                            "       {} in {:.3} s simulated, {} USD, path [{}]\n",
                            o.status,
                            o.duration_seconds,
                            o.cost_text,
                            o.path.join(", ")
                        ));
                    }
                }
                continue;
            }
            out.push_str(&format!("  FAIL {}{mock}\n", c.name));
            if let Some(e) = &c.error {
                out.push_str(&format!("       could not run: {e}\n"));
            }
            for fail in &c.failures {
                out.push_str(&format!("       {}: {}\n", fail.check, fail.message));
                for d in &fail.diff {
                    out.push_str(&format!("         {}\n", d.render()));
                }
            }
        }
        if coverage {
            for line in f.coverage.render().lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out.push_str(&format!(
        "\n{passed} of {total} cases passed{}\n",
        if passed == total { "" } else { ", FAILED" }
    ));
    out
}

/// The `--json` document.
pub fn to_json(results: &[FileResult], coverage: bool) -> Value {
    let files: Vec<Value> = results
        .iter()
        .map(|f| {
            let cases: Vec<Value> = f
                .cases
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "mock": c.mock,
                        "passed": c.passed(),
                        "error": c.error,
                        "failures": c.failures.iter().map(Failure::to_json).collect::<Vec<_>>(),
                        "observed": c.observed.as_ref().map(Observed::to_json),
                    })
                })
                .collect();
            let mut doc = json!({
                "file": f.file,
                "definition": f.definition,
                "total": f.cases.len(),
                "passed": f.passed(),
                "cases": cases,
            });
            if coverage {
                doc["coverage"] = f.coverage.to_json();
            }
            doc
        })
        .collect();
    let total: usize = results.iter().map(|f| f.cases.len()).sum();
    let passed: usize = results.iter().map(FileResult::passed).sum();
    json!({"total": total, "passed": passed, "failed": total - passed, "files": files})
}

/// Attribute and text values: XML 1.0 cannot carry most control characters at all.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn failure_text(c: &CaseResult) -> String {
    let mut text = String::new();
    if let Some(e) = &c.error {
        text.push_str(&format!("could not run: {e}\n"));
    }
    for f in &c.failures {
        text.push_str(&format!("{}: {}\n", f.check, f.message));
        for d in &f.diff {
            text.push_str(&format!("  {}\n", d.render()));
        }
    }
    xml_safe(&text)
}

/// The JUnit XML: `<testsuites>`, a `<testsuite>` per test file, a `<testcase>` per case with
/// a `<failure>` (expectations not met) or an `<error>` (the case could not run).
pub fn junit(results: &[FileResult]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let mut emit = |e: Event<'_>| {
        let _ = w.write_event(e);
    };
    let secs = |c: &CaseResult| {
        c.observed
            .as_ref()
            .map(|o| o.duration_seconds)
            .unwrap_or(0.0)
    };
    let total: usize = results.iter().map(|f| f.cases.len()).sum();
    let count = |pred: &dyn Fn(&CaseResult) -> bool| {
        results
            .iter()
            .flat_map(|f| &f.cases)
            .filter(|c| pred(c))
            .count()
    };
    let failures = count(&|c| c.error.is_none() && !c.failures.is_empty());
    let errors = count(&|c| c.error.is_some());
    let time: f64 = results.iter().flat_map(|f| &f.cases).map(secs).sum();
    emit(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    emit(Event::Start(BytesStart::new("testsuites").with_attributes(
        [
            ("name", "stepsim"),
            ("tests", total.to_string().as_str()),
            ("failures", failures.to_string().as_str()),
            ("errors", errors.to_string().as_str()),
            ("time", format!("{time:.3}").as_str()),
        ],
    )));
    for f in results {
        let fails = f
            .cases
            .iter()
            .filter(|c| c.error.is_none() && !c.failures.is_empty())
            .count();
        let errs = f.cases.iter().filter(|c| c.error.is_some()).count();
        let t: f64 = f.cases.iter().map(secs).sum();
        emit(Event::Start(BytesStart::new("testsuite").with_attributes(
            [
                ("name", xml_safe(&f.file).as_str()),
                ("tests", f.cases.len().to_string().as_str()),
                ("failures", fails.to_string().as_str()),
                ("errors", errs.to_string().as_str()),
                ("skipped", "0"),
                ("time", format!("{t:.3}").as_str()),
            ],
        )));
        for c in &f.cases {
            let start = BytesStart::new("testcase").with_attributes([
                ("name", xml_safe(&c.name).as_str()),
                ("classname", xml_safe(&f.definition).as_str()),
                ("time", format!("{:.3}", secs(c)).as_str()),
            ]);
            if c.passed() {
                emit(Event::Empty(start));
                continue;
            }
            emit(Event::Start(start));
            let (tag, kind, message) = match (&c.error, c.failures.first()) {
                (Some(e), _) => ("error", "run", xml_safe(e)),
                (None, Some(f)) => ("failure", f.check.as_str(), xml_safe(&f.message)),
                (None, None) => ("failure", "", String::new()),
            };
            emit(Event::Start(BytesStart::new(tag).with_attributes([
                ("message", message.as_str()),
                ("type", kind),
            ])));
            emit(Event::Text(BytesText::new(&failure_text(c))));
            emit(Event::End(BytesEnd::new(tag)));
            emit(Event::End(BytesEnd::new("testcase")));
        }
        emit(Event::End(BytesEnd::new("testsuite")));
    }
    emit(Event::End(BytesEnd::new("testsuites")));
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    String::from_utf8_lossy(&bytes).into_owned()
}
