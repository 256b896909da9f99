//! `stepsim sweep`: byte-identical results whatever --jobs is, a golden results.csv, point
//! seeds independent of the rest of the grid, failures as rows, and spec errors before work.

mod support;

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

#[test]
fn handler_cpu_ms_is_a_grid_parameter_and_polling_is_reported() {
    // The Map runs `work` once per item (3 items); at 1,024 MB, 100 CPU-ms of handler work is
    // 100 / (1024 / 1769) = 172.75 ms more per invocation, and the items run side by side.
    let s = spec(
        r#"
        name = "handler work"
        repetitions = 2
        seed = 3
        [grid]
        "functions.work.handler_cpu_ms" = [0, 100]
        [set]
        items = [1, 2, 3]
        baseline_poll_seconds = 0.5
        "#,
    );
    // `baseline_poll_seconds` inside [set] is an input field, not the spec key; the spec key
    // lives at the top level.
    assert!(s.baseline_poll_seconds.is_none());
    let s = spec(
        r#"
        name = "handler work"
        repetitions = 2
        seed = 3
        baseline_poll_seconds = 0.5
        [grid]
        "functions.work.handler_cpu_ms" = [0, 100]
        [set]
        items = [1, 2, 3]
        [[baseline]]
        "work.handler_cpu_ms" = 0
        duration_seconds = 2.2
        "#,
    );
    let r = rows(&s, 1);
    assert!(r.iter().all(|row| row.status == "SUCCEEDED"));
    let mean = |point: usize| {
        let d: Vec<f64> = r
            .iter()
            .filter(|row| row.point == point)
            .map(|row| row.duration_seconds)
            .collect();
        d.iter().sum::<f64>() / d.len() as f64
    };
    let extra = mean(1) - mean(0);
    let expect = 0.1 / (1024.0 / 1769.0);
    assert!((extra - expect).abs() < 0.05, "{extra} vs {expect}");
    let billed_extra = r[2].billed_gb_s - r[0].billed_gb_s;
    assert!(billed_extra > 0.0, "the handler work is billed");

    let points = report::summarize(&s, &r);
    let md = report::report_md(&s, &r, &points);
    assert!(md.contains("timed by polling every 0.5 s"), "{md}");
    let line = md
        .lines()
        .find(|l| l.starts_with("| 0 | 2.200 |"))
        .unwrap_or_else(|| panic!("{md}"));
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    // | param | measured | simulated | ratio | polled | ratio |
    let simulated: f64 = cells[3].parse().unwrap();
    let polled: f64 = cells[5].parse().unwrap();
    assert!(polled >= simulated && polled - simulated < 0.5, "{line}");
    assert_eq!((polled * 2.0).fract(), 0.0, "{line}");

    // Bad values are refused before any work, with the key named.
    for (text, key) in [
        (
            "baseline_poll_seconds = 0\n[grid]\nn=[1]",
            "baseline_poll_seconds",
        ),
        (
            "baseline_poll_seconds = \"1\"\n[grid]\nn=[1]",
            "baseline_poll_seconds",
        ),
        (
            "[grid]\n\"functions.work.handler_cpu_ms\" = [-5]",
            "grid.functions.work.handler_cpu_ms",
        ),
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
        let e = SweepSpec::parse(text, &dir.join("x.toml")).unwrap_err();
        assert_eq!(e.key, key, "{text}: {e}");
    }
}

#[test]
fn polled_seconds_is_the_first_poll_at_or_after_the_end() {
    use stepsim::sweep::report::polled_seconds;
    assert_eq!(polled_seconds(4.2, 1.0), 5.0);
    assert_eq!(polled_seconds(5.0, 1.0), 5.0);
    assert_eq!(polled_seconds(0.0, 1.0), 0.0);
    assert_eq!(polled_seconds(1.0 - 1e-12, 1.0), 1.0);
    // Three 0.1 s polls, not four, despite the float noise.
    assert!((polled_seconds(0.1 + 0.1 + 0.1, 0.1) - 0.3).abs() < 1e-12);
    assert_eq!(polled_seconds(6.01, 0.5), 6.5);
    // No interval: unchanged.
    assert_eq!(polled_seconds(6.01, 0.0), 6.01);
}

/// `carry_over = true` replays the team's sequence on one world: all three functions start
/// cold at the first run, then one new inference environment at each new world size.
#[test]
fn carry_over_replays_the_teams_sequence() {
    let out = std::env::temp_dir().join(format!("stepsim-replay-{}", std::process::id()));
    let outs = out.to_str().unwrap().to_string();
    let (code, _, err) = support::cli::stepsim(&[
        "sweep",
        "asl-examples/cosmic-ai/replay.toml",
        "--out",
        &outs,
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == "cold_starts").unwrap();
    let cold: Vec<u64> = lines
        .map(|l| l.split(',').nth(i).unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        cold,
        [3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("carried over from point to point"),
        "{report}"
    );
    assert!(
        report.contains("**Fit of `duration_seconds`** over the 20 cells"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// A carry-over sweep cannot vary function settings (one world runs every point).
#[test]
fn carry_over_refuses_function_parameters() {
    let dir = std::env::temp_dir().join(format!("stepsim-carry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("s.toml");
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("asl-examples/cosmic-ai");
    std::fs::write(
        &spec,
        format!(
            "definition = {:?}\ncarry_over = true\n[grid]\n\"functions.inference.memory_mb\" = [128, 256]\n",
            project.to_str().unwrap()
        ),
    )
    .unwrap();
    let (code, _, err) = support::cli::stepsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "-q",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("only input fields"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
