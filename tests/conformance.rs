//! The conformance corpus against the known-differences list: every case not listed must pass,
//! and every listed case must still fail, so no regression lands and the list stays true.
//! Skips (with a message) when the corpus folder is absent, except under CI (see `support`).

use std::path::Path;

use stepsim::cli::test::load_known;
use stepsim::conformance::{load_corpus, run_case, Score};

mod support;

#[test]
fn corpus_matches_known_differences() {
    let Some(dir) = support::corpus_dir("corpus_matches_known_differences") else {
        return;
    };
    let known = load_known(&Path::new(env!("CARGO_MANIFEST_DIR")).join("known-differences.toml"))
        .expect("known-differences.toml loads");
    let cases = load_corpus(&dir).expect("corpus loads");
    let results: Vec<_> = cases.iter().map(run_case).collect();
    let score = Score::of(&results);
    eprintln!(
        "conformance: {}/{} passed ({:.1}%), history types {}/{}",
        score.passed,
        score.total,
        score.passed as f64 * 100.0 / score.total as f64,
        score.history_matched,
        score.history_total
    );
    let mut problems = Vec::new();
    for r in &results {
        match (r.passed, known.contains_key(&r.name)) {
            (false, false) => problems.push(format!("REGRESSION {}: {}", r.name, r.reason)),
            (true, true) => problems.push(format!(
                "NOW PASSES (remove from known-differences.toml): {}",
                r.name
            )),
            _ => {}
        }
    }
    for name in known.keys() {
        if !results.iter().any(|r| &r.name == name) {
            problems.push(format!("LISTED BUT NOT IN THE CORPUS: {name}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
