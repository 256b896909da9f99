//! How well a sweep fits its measured baseline: for each measured metric, the share of cells
//! within 20% of the measurement, the mean absolute percentage error (MAPE) and the worst cell,
//! over the cells the model was not calibrated on (`calibration = true` rows are listed apart).
//! Computed on the simulated median (the figure report.md's table shows) and on the simulated
//! mean (the figure to hold against a baseline that is itself a mean of runs).

use std::fmt::Write as _;

use super::spec::{Baseline, SweepSpec};
use super::summary::{number_eq, PointSummary};

/// The relative error band a cell must fall in to count as a fit.
pub const WITHIN: f64 = 0.20;

/// One baseline cell of one metric.
#[derive(Clone, Debug)]
pub struct CellFit {
    pub label: String,
    pub measured: f64,
    pub median: f64,
    pub mean: f64,
    pub calibration: bool,
}

impl CellFit {
    fn err_median(&self) -> f64 {
        (self.median - self.measured) / self.measured
    }
    fn err_mean(&self) -> f64 {
        (self.mean - self.measured) / self.measured
    }
}

/// The fit figures of one metric over its non-calibration cells.
#[derive(Clone, Debug, PartialEq)]
pub struct FitSummary {
    pub cells: usize,
    pub within_median: usize,
    pub within_mean: usize,
    pub mape_median: f64,
    pub mape_mean: f64,
}

/// The cells of `metric` that have both a measurement (non-zero) and a simulated value.
pub fn cells(spec: &SweepSpec, points: &[PointSummary<'_>], metric: &str) -> Vec<CellFit> {
    spec.baseline
        .iter()
        .filter_map(|b| {
            let measured = b.metrics.iter().find(|(k, _)| k == metric)?.1;
            if measured == 0.0 || !measured.is_finite() {
                return None;
            }
            let st = find_point(spec, points, b)?.stats.get(metric)?;
            Some(CellFit {
                label: b
                    .point
                    .iter()
                    .map(|(k, v)| format!("{k}={}", plain(v)))
                    .collect::<Vec<_>>()
                    .join(", "),
                measured,
                median: st.median,
                mean: st.mean,
                calibration: b.calibration,
            })
        })
        .collect()
}

/// Two decimals for ordinary magnitudes, four significant digits for small ones (costs).
fn num(x: f64) -> String {
    if x == 0.0 || x.abs() >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3e}")
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn find_point<'p, 'a>(
    spec: &SweepSpec,
    points: &'p [PointSummary<'a>],
    b: &Baseline,
) -> Option<&'p PointSummary<'a>> {
    points.iter().find(|p| {
        b.point.iter().all(|(k, v)| {
            spec.grid
                .iter()
                .position(|g| &g.column() == k)
                .is_some_and(|i| p.values.get(i).is_some_and(|pv| number_eq(pv, v)))
        })
    })
}

/// The fit over the non-calibration cells; `None` when there are none.
pub fn summarize(cells: &[CellFit]) -> Option<FitSummary> {
    let held: Vec<&CellFit> = cells.iter().filter(|c| !c.calibration).collect();
    if held.is_empty() {
        return None;
    }
    let n = held.len();
    let within = |e: f64| e.abs() <= WITHIN + 1e-12;
    Some(FitSummary {
        cells: n,
        within_median: held.iter().filter(|c| within(c.err_median())).count(),
        within_mean: held.iter().filter(|c| within(c.err_mean())).count(),
        mape_median: held.iter().map(|c| c.err_median().abs()).sum::<f64>() / n as f64,
        mape_mean: held.iter().map(|c| c.err_mean().abs()).sum::<f64>() / n as f64,
    })
}

/// report.md's fit paragraph for every measured metric.
pub fn md_fit(s: &mut String, spec: &SweepSpec, points: &[PointSummary<'_>]) {
    let mut metrics: Vec<&str> = Vec::new();
    for (k, _) in spec.baseline.iter().flat_map(|b| b.metrics.iter()) {
        if !metrics.contains(&k.as_str()) {
            metrics.push(k);
        }
    }
    for m in metrics {
        let cells = cells(spec, points, m);
        let Some(fit) = summarize(&cells) else {
            continue;
        };
        let held: Vec<&CellFit> = cells.iter().filter(|c| !c.calibration).collect();
        let worst = held.iter().copied().max_by(|a, b| {
            a.err_median()
                .abs()
                .total_cmp(&b.err_median().abs())
                .then_with(|| b.label.cmp(&a.label))
        });
        let _ = writeln!(
            s,
            "\n**Fit of `{m}`** over the {} cells the model was not calibrated on: **{} of {}** \
             within {:.0}% of the measurement (simulated median; {} of {} with the simulated \
             mean), MAPE **{:.1}%** (mean: {:.1}%).",
            fit.cells,
            fit.within_median,
            fit.cells,
            WITHIN * 100.0,
            fit.within_mean,
            fit.cells,
            fit.mape_median * 100.0,
            fit.mape_mean * 100.0
        );
        if let Some(w) = worst {
            let _ = writeln!(
                s,
                "Worst cell: {}: simulated {} against {} measured ({:+.1}%).",
                w.label,
                num(w.median),
                num(w.measured),
                w.err_median() * 100.0
            );
        }
        let outside: Vec<String> = held
            .iter()
            .filter(|c| c.err_median().abs() > WITHIN + 1e-12)
            .map(|c| format!("{} ({:+.1}%)", c.label, c.err_median() * 100.0))
            .collect();
        if !outside.is_empty() {
            let _ = writeln!(s, "Outside {:.0}%: {}.", WITHIN * 100.0, outside.join("; "));
        }
        let cal: Vec<String> = cells
            .iter()
            .filter(|c| c.calibration)
            .map(|c| format!("{} ({:+.1}%)", c.label, c.err_median() * 100.0))
            .collect();
        if !cal.is_empty() {
            let _ = writeln!(
                s,
                "Calibration cells, not counted above: {}.",
                cal.join("; ")
            );
        }
    }
}

/// report.md's two prices per point, when they differ anywhere: on configured memory (how AWS
/// bills) and on max memory used (how some published tables priced their runs).
pub fn md_cost_bases(s: &mut String, spec: &SweepSpec, points: &[PointSummary<'_>]) {
    let pairs: Vec<(&PointSummary<'_>, f64, f64)> = points
        .iter()
        .filter_map(|p| {
            Some((
                p,
                p.stats.get("cost_usd")?.median,
                p.stats.get("cost_usd_max_memory_used")?.median,
            ))
        })
        .collect();
    if pairs.iter().all(|(_, a, b)| (a - b).abs() < 1e-12) {
        return;
    }
    let cols: Vec<String> = spec.grid.iter().map(|p| p.column()).collect();
    let _ = writeln!(
        s,
        "\n## Cost on both memory bases\n\nAWS bills Lambda GB-s on *configured* memory \
         (`cost_usd`). Some published tables price *max memory used* instead \
         (`cost_usd_max_memory_used`); both are medians per execution, with everything else \
         (requests, Step Functions, S3) priced the same.\n"
    );
    let _ = writeln!(
        s,
        "| {} | cost_usd (configured) | cost_usd (max memory used) | configured / max used |\n|{}",
        cols.join(" | "),
        "---|".repeat(cols.len() + 3)
    );
    for (p, configured, used) in pairs {
        let vals: Vec<String> = p.values.iter().map(plain).collect();
        let ratio = if used > 0.0 {
            format!("{:.2}", configured / used)
        } else {
            "-".to_string()
        };
        let _ = writeln!(
            s,
            "| {} | {configured:.6} | {used:.6} | {ratio} |",
            vals.join(" | ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(measured: f64, median: f64, calibration: bool) -> CellFit {
        CellFit {
            label: format!("x={measured}"),
            measured,
            median,
            mean: median * 1.1,
            calibration,
        }
    }

    #[test]
    fn counts_and_mape_leave_calibration_cells_out() {
        let cells = vec![
            cell(10.0, 11.0, false), // +10%
            cell(10.0, 13.0, false), // +30%
            cell(10.0, 8.0, false),  // -20%: on the edge, inside
            cell(10.0, 50.0, true),  // calibration: ignored
        ];
        let f = summarize(&cells).unwrap();
        assert_eq!(f.cells, 3);
        assert_eq!(f.within_median, 2);
        assert!((f.mape_median - 0.2).abs() < 1e-9, "{}", f.mape_median);
        // Means are 12.1, 14.3, 8.8: +21%, +43%, -12%.
        assert_eq!(f.within_mean, 1);
        assert!(summarize(&[cell(1.0, 1.0, true)]).is_none());
    }
}
