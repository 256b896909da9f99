//! `stepsim test DIR`: runs a conformance corpus (a test file or a folder with `tests.toml`
//! goes to the user-test runner below instead) and prints pass rates by category, then every
//! failure with a short reason. `--json` prints one document for tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::conformance::{self, CaseResult, Score};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// Arguments of `stepsim test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// A test file (`NAME.test.toml`, or a folder holding `tests.toml`), or a conformance
    /// corpus folder (it holds `cases/<category>/*.json`). Defaults to
    /// $STEPSIM_CONFORMANCE_DIR or ../shared/conformance.
    pub dir: Option<PathBuf>,
    /// Only run cases whose name, category or file contains this text (repeatable: any match).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Print one JSON document: {total, passed, by_category, failures}.
    #[arg(long)]
    pub json: bool,
    /// A known-differences file (TOML, `[differences]` "case name" = "reason"): listed cases
    /// are expected to fail, and the exit code only reflects surprises. Defaults to
    /// ./known-differences.toml, else the one of the stepsim checkout, when present.
    #[arg(long)]
    pub known: Option<PathBuf>,
    /// Test files: also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Test files: report the states, Choice branches and catchers no case exercised.
    #[arg(long)]
    pub coverage: bool,
    /// Print passing cases too.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write the cases that fail now to this known-differences file, keeping the reasons
    /// already written there for cases that still fail.
    #[arg(long, value_name = "FILE")]
    pub write_known: Option<PathBuf>,
}

/// Writes a known-differences file: one `"case" = "reason"` line per failing case.
pub fn write_known(
    path: &Path,
    results: &[CaseResult],
    previous: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let mut out = String::from(
        "# Conformance cases that stepsim does not pass yet, with the reason.\n\
         # `cargo test` checks that every case not listed here passes and that every listed case\n\
         # still fails. Regenerate with `stepsim test --write-known known-differences.toml`.\n\n\
         [differences]\n",
    );
    let mut failing: Vec<&CaseResult> = results.iter().filter(|r| !r.passed).collect();
    failing.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
    for r in failing {
        let reason = previous.get(&r.name).cloned().unwrap_or_else(|| {
            let first = r.reason.lines().next().unwrap_or("").trim().to_string();
            format!("[{}] {first}", r.category)
        });
        let key = toml::Value::String(r.name.clone()).to_string();
        let val = toml::Value::String(reason).to_string();
        out.push_str(&format!("{key} = {val}\n"));
    }
    std::fs::write(path, out)
}

/// Reads a known-differences file: case name → reason.
pub fn load_known(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
    let Some(diffs) = doc.get("differences") else {
        return Ok(BTreeMap::new());
    };
    let table = diffs
        .as_table()
        .ok_or_else(|| format!("{}: 'differences' must be a table", path.display()))?;
    table
        .iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|r| (k.clone(), r.to_string()))
                .ok_or_else(|| format!("{}: the reason for '{k}' must be a string", path.display()))
        })
        .collect()
}

/// The known-differences file used when `--known` is not given: `./known-differences.toml`,
/// else the checkout's (the corpus is the checkout's sibling, `../shared/conformance`).
pub fn default_known() -> Option<PathBuf> {
    [
        PathBuf::from("known-differences.toml"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("known-differences.toml"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

pub fn run(args: TestArgs) -> i32 {
    if args
        .dir
        .as_deref()
        .is_some_and(crate::testing::spec::is_test_file)
    {
        return run_test_file(&args);
    }
    if args.junit.is_some() || args.coverage {
        eprintln!("stepsim test: --junit and --coverage apply to test files; a conformance corpus ignores them");
    }
    let Some(dir) = args.dir.clone().or_else(conformance::default_corpus_dir) else {
        eprintln!("stepsim test: no corpus folder given, and none found at $STEPSIM_CONFORMANCE_DIR or ../shared/conformance");
        return EXIT_USAGE;
    };
    let cases = match conformance::load_corpus(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stepsim test: {e}");
            return EXIT_USAGE;
        }
    };
    // Writing a new known-differences file starts from nothing unless --known is given.
    let known_file = match &args.known {
        Some(p) => Some(p.clone()),
        None if args.write_known.is_none() => default_known(),
        None => None,
    };
    let known = match &known_file {
        Some(p) => match load_known(p) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("stepsim test: {e}");
                return EXIT_USAGE;
            }
        },
        None => BTreeMap::new(),
    };
    let selected: Vec<_> = cases
        .iter()
        .filter(|c| {
            args.filter.is_empty()
                || args.filter.iter().any(|f| {
                    c.name.contains(f.as_str())
                        || c.category == *f
                        || c.file.to_string_lossy().contains(f.as_str())
                })
        })
        .collect();
    if selected.is_empty() {
        eprintln!("stepsim test: no case matches the filter");
        return EXIT_USAGE;
    }
    let results: Vec<CaseResult> = selected.iter().map(|c| conformance::run_case(c)).collect();
    let score = Score::of(&results);
    if let Some(path) = &args.write_known {
        if let Err(e) = write_known(path, &results, &known) {
            eprintln!("stepsim test: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    let surprises: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.passed == known.contains_key(&r.name))
        .collect();
    if args.json {
        let doc = score.to_json(&results);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_report(&score, &results, &known, args.verbose);
    }
    let failed = if known.is_empty() {
        score.passed < score.total
    } else {
        !surprises.is_empty()
    };
    if failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn pct(p: usize, t: usize) -> f64 {
    if t == 0 {
        0.0
    } else {
        p as f64 * 100.0 / t as f64
    }
}

fn print_report(
    score: &Score,
    results: &[CaseResult],
    known: &BTreeMap<String, String>,
    verbose: bool,
) {
    println!(
        "{:<22} {:>7} {:>7} {:>8}",
        "category", "passed", "total", "rate"
    );
    for (cat, (t, p)) in &score.by_category {
        println!("{cat:<22} {p:>7} {t:>7} {:>7.1}%", pct(*p, *t));
    }
    println!(
        "{:<22} {:>7} {:>7} {:>7.1}%",
        "ALL",
        score.passed,
        score.total,
        pct(score.passed, score.total)
    );
    if score.history_total > 0 {
        println!(
            "history event types match on {} of {} recorded histories ({:.1}%)",
            score.history_matched,
            score.history_total,
            pct(score.history_matched, score.history_total)
        );
    }
    let mut printed_header = false;
    for r in results {
        if verbose && r.passed {
            println!("PASS {}", r.name);
        }
        if r.passed {
            if known.contains_key(&r.name) {
                println!(
                    "\nNOW PASSES (remove it from the known differences): {}",
                    r.name
                );
            }
            continue;
        }
        if !printed_header {
            println!("\nfailures:");
            printed_header = true;
        }
        let tag = match known.get(&r.name) {
            Some(reason) => format!(" [known: {reason}]"),
            None => String::new(),
        };
        println!("FAIL [{}] {}{tag}\n    {}", r.category, r.name, r.reason);
    }
}

/// `stepsim test FILE`: the user's own workflow tests (a `*.test.toml`, or a folder holding
/// `tests.toml`; format in [`crate::testing::spec`]). Prints a summary with structural diffs,
/// or `--json`; writes `--junit FILE`; adds `--coverage`. Exit 1 when a case fails.
fn run_test_file(args: &TestArgs) -> i32 {
    let Some(path) = &args.dir else {
        return EXIT_USAGE;
    };
    let file = match crate::testing::spec::TestFile::load(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("stepsim test: {e}");
            return EXIT_USAGE;
        }
    };
    let result = match crate::testing::report::run_file(&file, &args.filter) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stepsim test: {e}");
            return EXIT_USAGE;
        }
    };
    if result.cases.is_empty() {
        eprintln!("stepsim test: no case matches the filter");
        return EXIT_USAGE;
    }
    let results: Vec<crate::testing::report::FileResult> = vec![result];
    if let Some(junit) = &args.junit {
        if let Err(e) = std::fs::write(junit, crate::testing::report::junit(&results)) {
            eprintln!("stepsim test: cannot write {}: {e}", junit.display());
            return EXIT_USAGE;
        }
    }
    if args.json {
        let doc = crate::testing::report::to_json(&results, args.coverage);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!(
            "{}",
            crate::testing::report::render(&results, args.coverage, args.verbose)
        );
    }
    if results.iter().all(|f| f.passed() == f.cases.len()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
