//! `stepsim test`: runs a corpus of recorded cases (the format of the shared conformance
//! folder: one JSON file per case under `cases/<category>/`) and scores them.
//!
//! This module owns the corpus format: finding it, loading cases, running each one on a fresh
//! virtual runtime, and deciding whether an outcome matches the recording (placeholders
//! included). A case runs in its own [`Simulation`] ([`case_simulation`]): its Lambda
//! functions and S3 objects, on a clock that starts when the case was recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::asl::model::ExecutionType;
use crate::engine::{self, ExecutionOptions, ExecutionOutcome, HistoryMode, Plan, SimTime};
use crate::sim::Simulation;

/// One recorded case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The case file, relative to the corpus root.
    pub file: PathBuf,
    pub name: String,
    pub category: String,
    /// The whole case document.
    pub doc: Value,
}

impl Case {
    pub fn definition(&self) -> &Value {
        &self.doc["definition"]
    }
    pub fn input(&self) -> &Value {
        &self.doc["input"]
    }
    pub fn expected(&self) -> &Value {
        &self.doc["expected"]
    }
    /// The expected status: SUCCEEDED, FAILED, TIMED_OUT or CREATE_FAILED.
    pub fn expected_status(&self) -> &str {
        self.doc["expected"]["status"].as_str().unwrap_or("")
    }
    /// `STANDARD` or `EXPRESS`.
    pub fn machine_type(&self) -> &str {
        self.doc["state_machine_type"]
            .as_str()
            .unwrap_or("STANDARD")
    }
    /// Whether the definition uses JSONata anywhere.
    pub fn uses_jsonata(&self) -> bool {
        self.definition().to_string().contains("\"JSONata\"")
    }
    /// The recording date, used as "now" for the run (`dd-mm-yyyy, hh:mm:ss`).
    pub fn recorded_at(&self) -> Option<SimTime> {
        let s = self.doc["source"]["recorded_date"].as_str()?;
        let t = chrono::NaiveDateTime::parse_from_str(s, "%d-%m-%Y, %H:%M:%S").ok()?;
        Some(t.and_utc())
    }
}

/// Errors while reading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid case: {message}")]
    BadCase { path: PathBuf, message: String },
    #[error("{0} has no cases/ folder; is it a conformance corpus?")]
    NotACorpus(PathBuf),
}

/// The default corpus location: `$STEPSIM_CONFORMANCE_DIR`, else `../shared/conformance` next to
/// the crate. Returns `None` when neither exists (tests then skip with a message).
pub fn default_corpus_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("STEPSIM_CONFORMANCE_DIR") {
        let p = PathBuf::from(dir);
        return p.join("cases").is_dir().then_some(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    p.join("cases").is_dir().then_some(p)
}

/// Loads every case under `root/cases`, sorted by file path so runs are reproducible.
pub fn load_corpus(root: &Path) -> Result<Vec<Case>, CorpusError> {
    let cases_dir = root.join("cases");
    if !cases_dir.is_dir() {
        return Err(CorpusError::NotACorpus(root.to_path_buf()));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CorpusError::Io { path, source }
    };
    let mut files = Vec::new();
    for cat in std::fs::read_dir(&cases_dir).map_err(io(&cases_dir))? {
        let cat = cat.map_err(io(&cases_dir))?.path();
        if !cat.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&cat).map_err(io(&cat))? {
            let f = f.map_err(io(&cat))?.path();
            if f.extension().is_some_and(|e| e == "json") {
                files.push(f);
            }
        }
    }
    files.sort();
    files.iter().map(|p| load_case(root, p)).collect()
}

/// Loads one case file.
pub fn load_case(root: &Path, path: &Path) -> Result<Case, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| CorpusError::BadCase {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let category = doc["category"]
        .as_str()
        .map(String::from)
        .or_else(|| {
            path.parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = doc["name"].as_str().map(String::from).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if !doc["definition"].is_object() {
        return Err(CorpusError::BadCase {
            path: path.to_path_buf(),
            message: "it has no 'definition' object".into(),
        });
    }
    Ok(Case {
        file: path.strip_prefix(root).unwrap_or(path).to_path_buf(),
        name,
        category,
        doc,
    })
}

/// What happened to one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub category: String,
    pub file: PathBuf,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reason: String,
    /// Whether the recorded history event types matched (None when there is no history).
    pub history_match: Option<bool>,
}

/// Runs one case and scores it. Never panics: a panic inside the run is reported as a failure.
pub fn run_case(case: &Case) -> CaseResult {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case_inner(case)));
    let (passed, reason, history_match) = match outcome {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            (false, format!("stepsim panicked: {msg}"), None)
        }
    };
    CaseResult {
        name: case.name.clone(),
        category: case.category.clone(),
        file: case.file.clone(),
        passed,
        reason,
        history_match,
    }
}

/// Virtual time after which a case counts as hung (a task token nobody answers, say).
const HANG_LIMIT: Duration = Duration::from_secs(400 * 24 * 3600);

/// Why a case ended before its outcome could be scored: a verdict, its reason.
type Verdict = (bool, String, Option<bool>);

fn run_case_inner(case: &Case) -> Verdict {
    let (plan, opts) = match prepare(case) {
        Ok(p) => p,
        Err(verdict) => return verdict,
    };
    match execute_case(case, &plan, &opts) {
        Err(e) => (false, format!("cannot set up the case: {e}"), None),
        Ok(None) => (false, "the execution never finished (hung)".into(), None),
        Ok(Some(outcome)) => score(case, &outcome),
    }
}

/// Parses and compiles the case's definition; a definition AWS rejected must be rejected too.
fn prepare(case: &Case) -> Result<(Plan, ExecutionOptions), Verdict> {
    let expected_status = case.expected_status();
    let text = serde_json::to_string_pretty(case.definition()).unwrap_or_default();
    let machine = match crate::asl::load_str(&text) {
        Ok(m) => m,
        Err(e) => {
            return Err(if expected_status == "CREATE_FAILED" {
                (true, String::new(), None)
            } else {
                let first = e
                    .diagnostics
                    .first()
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                (false, format!("definition rejected: {first}"), None)
            });
        }
    };
    if expected_status == "CREATE_FAILED" {
        return Err((
            false,
            "definition accepted, but AWS rejected it at CreateStateMachine".into(),
            None,
        ));
    }
    let plan = Plan::compile(&machine)
        .map_err(|e| (false, format!("definition does not compile: {e}"), None))?;
    let opts = ExecutionOptions {
        execution_name: "exec".into(),
        state_machine_name: "StateMachine".into(),
        execution_type: if case.machine_type() == "EXPRESS" {
            ExecutionType::Express
        } else {
            ExecutionType::Standard
        },
        history: HistoryMode::Full,
        ..Default::default()
    };
    Ok((plan, opts))
}

/// Runs the case in its simulation; `None` when it is still running after [`HANG_LIMIT`].
fn execute_case(
    case: &Case,
    plan: &Plan,
    opts: &ExecutionOptions,
) -> Result<Option<ExecutionOutcome>, String> {
    let sim = case_simulation(case)?;
    let input = case.input().clone();
    Ok(sim.block_on(async {
        let run = sim.execute(plan, input, opts);
        let hang = sim.clock().sleep(HANG_LIMIT);
        match futures::future::select(Box::pin(run), hang).await {
            futures::future::Either::Left((report, _)) => Some(report.outcome),
            futures::future::Either::Right(_) => None,
        }
    }))
}

/// Compares an outcome with the recording.
fn score(case: &Case, outcome: &ExecutionOutcome) -> Verdict {
    let expected = case.expected();
    let expected_status = case.expected_status();
    let history_match = case.doc.get("history").and_then(Value::as_array).map(|h| {
        let want: Vec<&str> = h.iter().filter_map(|e| e["type"].as_str()).collect();
        let got: Vec<&str> = outcome.history.iter().map(|e| e.event_type).collect();
        if case.definition().to_string().contains("\"Parallel\"") {
            let mut a = want.clone();
            let mut b = got.clone();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        } else {
            want == got
        }
    });
    let wild = Wildcards::for_case(case);
    let got_status = outcome.status.as_str();
    if got_status != expected_status {
        let detail = match (&outcome.error, &outcome.cause) {
            (Some(e), Some(c)) => format!(" ({e}: {})", shorten(c, 300)),
            (Some(e), None) => format!(" ({e})"),
            _ => outcome
                .output
                .as_ref()
                .map(|o| format!(" (output {})", shorten(&o.to_string(), 200)))
                .unwrap_or_default(),
        };
        return (
            false,
            format!("status {got_status}, expected {expected_status}{detail}"),
            history_match,
        );
    }
    if expected_status == "SUCCEEDED" {
        let got = outcome.output.clone().unwrap_or(Value::Null);
        if !wild.matches(&expected["output"], &got) {
            return (
                false,
                format!(
                    "output differs:\n    expected {}\n    got      {}{}",
                    shorten(&expected["output"].to_string(), 400),
                    shorten(&got.to_string(), 400),
                    where_differs(&wild, &expected["output"], &got)
                ),
                history_match,
            );
        }
        return (true, String::new(), history_match);
    }
    let want_err = expected["error"].clone();
    let got_err = outcome
        .error
        .clone()
        .map(Value::String)
        .unwrap_or(Value::Null);
    if !wild.matches(&want_err, &got_err) {
        return (
            false,
            format!("error {got_err}, expected {want_err}"),
            history_match,
        );
    }
    let want_cause = expected["cause"].clone();
    let got_cause = outcome
        .cause
        .clone()
        .map(Value::String)
        .unwrap_or(Value::Null);
    let cause_ok = if expected["cause_is_json"].as_bool() == Some(true)
        || (want_cause.is_object() && got_cause.is_string())
    {
        let parsed = got_cause
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .unwrap_or(Value::Null);
        let want = match &want_cause {
            Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(want_cause.clone()),
            other => other.clone(),
        };
        wild.matches(&strip_runtime_keys(want), &strip_runtime_keys(parsed))
    } else {
        wild.matches(&want_cause, &got_cause)
    };
    if !cause_ok {
        return (
            false,
            format!(
                "cause differs:\n    expected {}\n    got      {}{}",
                shorten(&want_cause.to_string(), 400),
                shorten(&got_cause.to_string(), 400),
                where_differs(&wild, &want_cause, &got_cause)
            ),
            history_match,
        );
    }
    (true, String::new(), history_match)
}

/// Where two values differ: one `at PATH: ...` line per difference the wildcards do not
/// excuse (at most 8), from the structural diff; for two strings, the first differing
/// character with the text around it.
fn where_differs(wild: &Wildcards, want: &Value, got: &Value) -> String {
    if let (Value::String(w), Value::String(g)) = (want, got) {
        return string_difference(w, g);
    }
    let lines: Vec<String> = crate::testing::check::json_diff(want, got)
        .into_iter()
        .filter(|d| match (&d.expected, &d.actual) {
            (Some(e), Some(a)) => !wild.matches(e, a),
            _ => true,
        })
        .map(|d| match (&d.expected, &d.actual) {
            (Some(Value::String(e)), Some(Value::String(a))) => {
                format!(
                    "\n    at {}: {}",
                    d.path,
                    string_difference(e, a).trim_start()
                )
            }
            _ => format!("\n    at {}", d.render()),
        })
        .collect();
    let more = lines.len().saturating_sub(8);
    let mut out: String = lines.into_iter().take(8).collect();
    if more > 0 {
        out.push_str(&format!("\n    ... and {more} more difference(s)"));
    }
    out
}

/// `first difference at character N: expected "…abc…", got "…abd…"`.
fn string_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<char>, Vec<char>) = (want.chars().collect(), got.chars().collect());
    let at = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    if at == w.len() && at == g.len() {
        return String::new();
    }
    let window = |s: &[char]| -> String {
        let from = at.saturating_sub(20);
        let to = (at + 40).min(s.len());
        let mut t: String = s[from..to].iter().collect();
        if from > 0 {
            t.insert(0, '…');
        }
        if to < s.len() {
            t.push('…');
        }
        t
    };
    format!(
        "\n    first difference at character {at}: expected {:?}, got {:?}",
        window(&w),
        window(&g)
    )
}

/// Inside a Lambda error cause, `stackTrace` and `requestId` depend on the runtime.
fn strip_runtime_keys(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.remove("stackTrace");
            m.remove("requestId");
            Value::Object(m)
        }
        other => other,
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{cut}…")
    }
}

/// Redaction placeholders that stand for any value (or any substring) in a case that is not
/// exact.
struct Wildcards {
    tokens: Vec<String>,
}

impl Wildcards {
    fn for_case(case: &Case) -> Wildcards {
        let n = &case.doc["normalization"];
        if n["exact"].as_bool().unwrap_or(true) {
            return Wildcards { tokens: Vec::new() };
        }
        let mut set: BTreeSet<String> = [
            "date",
            "timestamp",
            "snf_role_arn",
            "RequestId",
            "<ArnPart_0idx>",
            "<ExecArnPart_0idx>",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for p in n["placeholders_in_expected"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(s) = p.as_str() {
                set.insert(s.to_string());
            }
        }
        for s in n["substitutions"].as_array().into_iter().flatten() {
            if let Some(r) = s["replace"].as_str() {
                set.insert(r.to_string());
            }
        }
        for s in n["redacted_jsonpaths"].as_array().into_iter().flatten() {
            if let Some(r) = s["replace"].as_str() {
                set.insert(r.to_string());
            }
        }
        // `<uuid:N>` and friends: any angle-bracketed token listed, plus the generic forms.
        let mut tokens: Vec<String> = set.into_iter().filter(|t| !t.is_empty()).collect();
        // Longest first, so `<uuid:10>` wins over `<uuid:1>`.
        tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
        Wildcards { tokens }
    }

    fn matches(&self, want: &Value, got: &Value) -> bool {
        match (want, got) {
            (Value::String(w), _) if self.tokens.iter().any(|t| t == w) => true,
            (Value::String(w), Value::String(g)) => self.str_matches(w, g),
            (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            },
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| self.matches(x, y))
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|g| self.matches(v, g)))
            }
            _ => want == got,
        }
    }

    /// String equality where each placeholder inside `want` matches any substring.
    fn str_matches(&self, want: &str, got: &str) -> bool {
        if want == got {
            return true;
        }
        let mut pieces: Vec<&str> = vec![want];
        let mut has_wild = false;
        for t in &self.tokens {
            let mut next = Vec::new();
            for p in pieces {
                let parts: Vec<&str> = p.split(t.as_str()).collect();
                if parts.len() > 1 {
                    has_wild = true;
                }
                next.extend(parts);
            }
            pieces = next;
        }
        if !has_wild {
            return false;
        }
        // Glob: pieces in order, anything between them.
        let mut rest = got;
        let n = pieces.len();
        for (i, p) in pieces.iter().enumerate() {
            if i == 0 {
                match rest.strip_prefix(p) {
                    Some(r) => rest = r,
                    None => return false,
                }
            } else if i == n - 1 {
                return rest.ends_with(p);
            } else {
                match rest.find(p) {
                    Some(at) => rest = &rest[at + p.len()..],
                    None => return false,
                }
            }
        }
        true
    }
}

/// Pass counts of a whole run.
#[derive(Clone, Debug, Default)]
pub struct Score {
    pub total: usize,
    pub passed: usize,
    pub by_category: BTreeMap<String, (usize, usize)>,
    pub history_total: usize,
    pub history_matched: usize,
}

impl Score {
    pub fn of(results: &[CaseResult]) -> Score {
        let mut s = Score::default();
        for r in results {
            s.total += 1;
            let e = s.by_category.entry(r.category.clone()).or_default();
            e.0 += 1;
            if r.passed {
                s.passed += 1;
                e.1 += 1;
            }
            if let Some(h) = r.history_match {
                s.history_total += 1;
                if h {
                    s.history_matched += 1;
                }
            }
        }
        s
    }

    /// The `--json` document.
    pub fn to_json(&self, results: &[CaseResult]) -> Value {
        let by_category: serde_json::Map<String, Value> = self
            .by_category
            .iter()
            .map(|(k, (t, p))| (k.clone(), json!({"total": t, "passed": p})))
            .collect();
        json!({
            "total": self.total,
            "passed": self.passed,
            "history": {"total": self.history_total, "matched": self.history_matched},
            "by_category": by_category,
            "failures": results.iter().filter(|r| !r.passed).map(|r| json!({
                "name": r.name, "category": r.category, "file": r.file.display().to_string(), "reason": r.reason
            })).collect::<Vec<_>>(),
        })
    }
}

/// The simulation a case runs in: the simulated Lambda service with the case's functions
/// (built from their recorded Python source by [`crate::handlers::builtin`]), and an in-memory
/// S3 holding the case's buckets and objects, as account 111111111111 in us-east-1, the clock
/// starting when the case was recorded.
pub fn case_simulation(case: &Case) -> Result<Simulation, String> {
    let mut functions = crate::sim::FunctionRegistry::new();
    if let Some(lambdas) = case.doc["lambdas"].as_object() {
        for (name, entry) in lambdas {
            let spec = crate::handlers::builtin::corpus_function(name, entry)?;
            functions.register_spec(spec).map_err(|e| e.to_string())?;
        }
    }
    let origin = case
        .recorded_at()
        .unwrap_or_else(engine::clock::default_origin);
    let store = crate::storage::Store::memory();
    let sim = Simulation::builder()
        .origin(origin)
        .store(store.clone())
        .functions(functions)
        .account("111111111111")
        .region("us-east-1")
        .log_capture(crate::sim::LogCapture::Off)
        .build()
        .map_err(|e| e.to_string())?;
    sim.block_on(fill_store(case, &store, origin))?;
    Ok(sim)
}

/// Puts the case's `s3_buckets` and `s3_objects` into the store.
async fn fill_store(
    case: &Case,
    store: &crate::storage::Store,
    now: SimTime,
) -> Result<(), String> {
    for b in case.doc["s3_buckets"].as_array().into_iter().flatten() {
        if let Some(b) = b.as_str() {
            store.create_bucket(b).await.map_err(|e| e.to_string())?;
        }
    }
    for o in case.doc["s3_objects"].as_array().into_iter().flatten() {
        let (Some(bucket), Some(key)) = (o["bucket"].as_str(), o["key"].as_str()) else {
            return Err("an s3_objects entry lacks bucket or key".into());
        };
        let body = match &o["body"] {
            Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        };
        let _ = store.create_bucket(bucket).await;
        store
            .put(bucket, key, body.into(), now)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wild(tokens: &[&str]) -> Wildcards {
        Wildcards {
            tokens: tokens.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn placeholders_match_values_and_substrings() {
        let w = wild(&["<uuid:1>", "date"]);
        assert!(w.matches(&json!("date"), &json!(12345)));
        assert!(w.matches(&json!("id-<uuid:1>-x"), &json!("id-abc-x")));
        assert!(!w.matches(&json!("id-<uuid:1>-x"), &json!("id-abc-y")));
        assert!(w.matches(&json!({"a": 1, "b": [1.0]}), &json!({"b": [1], "a": 1.0})));
        assert!(!w.matches(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        let exact = wild(&[]);
        assert!(!exact.matches(&json!("date"), &json!("x")));
    }
}
