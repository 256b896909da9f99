//! `stepsim sweep`: byte-identical results whatever --jobs is, a golden results.csv, point
//! seeds independent of the rest of the grid, failures as rows, and spec errors before work.

use std::path::Path;
use std::process::Command;

use stepsim::project::Project;
use stepsim::sweep::{report, run, SweepOptions, SweepSpec};

const FIXTURE: &str = "tests/fixtures/lambda-chain";

fn spec(text: &str) -> SweepSpec {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    SweepSpec::parse(text, &dir.join("inline.toml")).expect("valid spec")
}

fn rows(spec: &SweepSpec, jobs: usize) -> Vec<stepsim::sweep::Row> {
    let project = Project::load(&spec.definition).unwrap();
    run::run(
        spec,
        &project,
        &SweepOptions {
            jobs,
            store: "memory".into(),
        },
        &|_, _| {},
    )
    .unwrap()
}

const SPEC: &str = r#"
name = "golden"
repetitions = 3
seed = 11
spacing_seconds = 30
records = "n * 10"
[grid]
n = [1, 2]
"functions.work.memory_mb" = [256, 1024]
[set]
items = [1, 2, 3]
"#;

#[test]
fn results_do_not_depend_on_jobs_and_match_the_golden_file() {
    let s = spec(SPEC);
    let one = report::results_csv(&s, &rows(&s, 1));
    let four = report::results_csv(&s, &rows(&s, 4));
    assert_eq!(one, four);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixture-results.csv");
    if std::env::var("STEPSIM_BLESS").is_ok() {
        std::fs::write(&golden, &one).unwrap();
    }
    let want =
        std::fs::read_to_string(&golden).expect("golden file (regenerate with STEPSIM_BLESS=1)");
    assert_eq!(
        one, want,
        "results.csv changed; if intended, rerun with STEPSIM_BLESS=1"
    );
}

#[test]
fn adding_a_point_changes_no_other_point() {
    let small = spec(&SPEC.replace("n = [1, 2]", "n = [1]"));
    let big = spec(&SPEC.replace("n = [1, 2]", "n = [1, 2, 3]"));
    let a = rows(&small, 2);
    let b = rows(&big, 2);
    for r in &a {
        let twin = b
            .iter()
            .find(|x| x.values == r.values && x.repetition == r.repetition)
            .unwrap();
        assert_eq!(r.duration_seconds, twin.duration_seconds);
        assert_eq!(r.cost, twin.cost);
        assert_eq!(r.seed, twin.seed);
    }
}

#[test]
fn warm_repetitions_start_cold_once() {
    let s = spec(SPEC);
    let rs = rows(&s, 2);
    for r in &rs {
        if r.repetition == 1 {
            assert!(r.cold_starts > 0, "{r:?}");
        } else {
            assert_eq!(r.cold_starts, 0, "{r:?}");
        }
    }
    let cold = spec(&SPEC.replace("spacing_seconds = 30", "spacing_seconds = 30\nwarm = false"));
    assert!(rows(&cold, 2).iter().all(|r| r.cold_starts > 0));
    // Past the 10-minute keep-alive, environments are gone even in the same world.
    let spaced = spec(&SPEC.replace("spacing_seconds = 30", "spacing_seconds = 900"));
    assert!(rows(&spaced, 2).iter().all(|r| r.cold_starts > 0));
}

#[test]
fn a_failed_execution_is_a_row_and_the_sweep_goes_on() {
    let s = spec(
        r#"
repetitions = 2
[grid]
items = [[1], "oops"]
"#,
    );
    let rs = rows(&s, 2);
    assert!(rs
        .iter()
        .any(|r| r.status == "FAILED" && r.error.as_deref() == Some("States.Runtime")));
    assert!(rs.iter().any(|r| r.status == "SUCCEEDED"));
}

fn stepsim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn spec_errors_are_reported_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURE)
            .join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases = [
        ("bad-empty.toml", "[grid]\n", "grid"),
        (
            "bad-unknown-fn.toml",
            "[grid]\n\"functions.nope.memory_mb\" = [128]\n",
            "no function 'nope'",
        ),
        (
            "bad-reps.toml",
            "repetitions = 0\n[grid]\nn = [1]\n",
            "repetitions",
        ),
        (
            "bad-pointer.toml",
            "[grid]\n\"/items/9\" = [1]\n",
            "past the end",
        ),
    ];
    for (name, text, needle) in cases {
        let p = write(name, text);
        let out = dir.path().join(name);
        let (code, err) = stepsim(&["sweep", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
        assert!(!out.join("results.csv").exists(), "{name} wrote results");
    }
    let p = write("ok-for-out.toml", "[grid]\nn = [1]\n");
    let (code, err) = stepsim(&[
        "sweep",
        p.to_str().unwrap(),
        "--out",
        "/proc/stepsim-cannot-write",
    ]);
    std::fs::remove_file(&p).unwrap();
    assert_eq!(code, 2);
    assert!(err.contains("cannot write"), "{err}");
}

#[test]
fn the_cli_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURE)
        .join("sweep.toml");
    let (code, err) = stepsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    for f in [
        "results.csv",
        "summary.csv",
        "results.json",
        "report.md",
        "duration.svg",
        "cost.svg",
        "throughput.svg",
    ] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(!text.is_empty(), "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(json["executions"].as_array().unwrap().len(), 12);
    assert_eq!(json["spec"]["seed"], 11);
}
