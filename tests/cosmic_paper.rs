//! The COSMIC-AI paper's workflow at scale (`asl-examples/cosmic-ai-paper/`): the planner's W,
//! per-rank compute against the paper's 1 GB per-rank figures, the scaling sweep's fit to the
//! paper's table (a floor at what the model reaches today), both cost bases, and determinism.
//! `cosmic_paper_records.rs` checks the figures taken from the paper's per-rank records.

mod support;

use std::path::Path;

use serde_json::Value;
use support::cli::{json_without_wall, stepsim};

fn run(partition_mb: u32, data_gb: &str) -> Value {
    let (code, out, err) = stepsim(&[
        "run",
        "asl-examples/cosmic-ai-paper",
        "--set",
        &format!("partition_mb={partition_mb}"),
        "--set",
        &format!("data_gb={data_gb}"),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    json_without_wall(&out)
}

#[test]
fn ranks_compute_what_the_paper_measured_at_1_gb() {
    // result_stats.csv, data 1.0 GB, mean per-rank total_cpu_time (s) and the W the paper ran.
    for (mb, paper_mean, w) in [
        (25, 5.61, 41),
        (50, 11.54, 21),
        (75, 16.16, 14),
        (100, 21.50, 11),
    ] {
        let v = run(mb, "1");
        assert_eq!(v["status"], "SUCCEEDED", "{v}");
        assert_eq!(v["output"]["ranks"], w, "{mb} MB");
        assert_eq!(
            v["output"]["num_samples"], 52_370,
            "1 GB of 659,857 samples in 12.6 GB"
        );
        let mean = v["output"]["rank_compute_seconds"]["mean"]
            .as_f64()
            .unwrap();
        assert!(
            (mean - paper_mean).abs() / paper_mean < 0.10,
            "{mb} MB: mean rank compute {mean:.2} s, paper {paper_mean} s"
        );
        // The slowest rank is a straggler, but not an absurd one.
        let max = v["output"]["rank_compute_seconds"]["max"].as_f64().unwrap();
        assert!(
            max > mean && max < 3.0 * mean,
            "{mb} MB: max {max}, mean {mean}"
        );
    }
}

#[test]
fn the_optional_profiler_tail_slows_the_ranks_it_picks() {
    // A copy of the example with every rank in the tail (`tail_share = 1`).
    let dir = std::env::temp_dir().join(format!("stepsim-paper-tail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("asl-examples/cosmic-ai-paper");
    for entry in std::fs::read_dir(&example).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let functions = std::fs::read_to_string(dir.join("functions.toml")).unwrap();
    assert!(functions.contains("\nbatch_sigma = "), "{functions}");
    let functions = functions.replace("\nbatch_sigma = ", "\ntail_share = 1.0\nbatch_sigma = ");
    std::fs::write(dir.join("functions.toml"), functions).unwrap();
    let mean = |v: &Value| {
        v["output"]["rank_compute_seconds"]["mean"]
            .as_f64()
            .unwrap()
    };
    let plain = run(100, "1");
    let (code, out, err) = stepsim(&[
        "run",
        dir.to_str().unwrap(),
        "--set",
        "partition_mb=100",
        "--set",
        "data_gb=1",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let tailed = json_without_wall(&out);
    let ratio = mean(&tailed) / mean(&plain);
    // The same draws, each multiplied by the default tail_factor (3.63).
    assert!((ratio - 3.63).abs() < 0.01, "{ratio}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runs_are_deterministic() {
    assert_eq!(run(100, "2"), run(100, "2"));
}

fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("{name}"));
    lines
        .map(|l| l.split(',').nth(i).unwrap().to_string())
        .collect()
}

#[test]
fn the_scaling_sweep_fits_the_paper_and_prices_both_bases() {
    let out = std::env::temp_dir().join(format!("stepsim-paper-{}", std::process::id()));
    let outs = out.to_str().unwrap();
    let (code, _, err) = stepsim(&[
        "sweep",
        "asl-examples/cosmic-ai-paper/sweep.toml",
        "--out",
        outs,
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    for c in ["partition_mb", "data_gb", "duration_seconds_median"] {
        assert_eq!(column(&summary, c).len(), 28, "{c}");
    }
    // Configured memory (10,240 MB) costs more than the 2,800 MB the ranks use, for every cell.
    let configured = column(&summary, "cost_usd_median");
    let used = column(&summary, "cost_usd_max_memory_used_median");
    for (c, u) in configured.iter().zip(&used) {
        let (c, u): (f64, f64) = (c.parse().unwrap(), u.parse().unwrap());
        assert!(c > 2.5 * u && c < 10240.0 / 2800.0 * u + 0.01, "{c} vs {u}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let fit = report
        .lines()
        .find(|l| l.starts_with("**Fit of `duration_seconds`**"))
        .expect("a fit line");
    // "... **N of 24** within 20% ..., MAPE **X%** ..."
    let n: usize = fit
        .split("**")
        .nth(3)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{fit}"));
    assert!(fit.contains(" of 24** within 20%"), "{fit}");
    let mape: f64 = fit
        .split("MAPE **")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{fit}"));
    // Today's figures are 19 of 24 and 12.9%: a floor, so the model cannot silently get worse.
    assert!(n >= 19, "{fit}");
    assert!(mape < 14.0, "{fit}");
    // The cells outside 20% are the 100 MB row's jump (W >= 41, from 4 GB on) and no other.
    if let Some(outside) = report.lines().find(|l| l.starts_with("Outside 20%:")) {
        for cell in outside.trim_start_matches("Outside 20%:").split(';') {
            let gb: f64 = cell
                .split("data_gb=")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{outside}"));
            assert!(
                cell.contains("partition_mb=100,") && gb >= 4.0,
                "{cell} in {outside}"
            );
        }
    }
    assert!(
        report.contains("Calibration cells, not counted above"),
        "{report}"
    );
    assert!(report.contains("## Cost on both memory bases"), "{report}");
    let _ = std::fs::remove_dir_all(Path::new(outs));
}
