//! Per-point summaries of a sweep's rows: the metrics, their statistics, point labels and the
//! Power Tuning picks. The report writers (`report`, `figures`, `fit`, `noise`) all read these,
//! so they live below them and import none of them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::run::Row;
use super::spec::SweepSpec;

/// The metrics summarised per point.
pub const METRICS: [&str; 6] = [
    "duration_seconds",
    "cost_usd",
    "throughput_rps",
    "cold_starts",
    "billed_gb_s",
    "cost_usd_max_memory_used",
];

pub fn metric(r: &Row, name: &str) -> Option<f64> {
    match name {
        "duration_seconds" => Some(r.duration_seconds),
        "cost_usd" => Some(r.cost.usd()),
        "throughput_rps" => r.throughput_rps,
        "cold_starts" => Some(r.cold_starts as f64),
        "billed_gb_s" => Some(r.billed_gb_s),
        "cost_usd_max_memory_used" => Some(r.cost_max_memory_used.usd()),
        _ => None,
    }
}

/// Median, p95 (nearest rank), min and max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// The finite values of `values`, sorted, and their median; `None` when none is left.
pub fn sorted_with_median(values: &[f64]) -> Option<(Vec<f64>, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((v, median))
}

pub fn stats(values: &[f64]) -> Option<Stats> {
    let (v, median) = sorted_with_median(values)?;
    let n = v.len();
    let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
    Some(Stats {
        median,
        p95: v[rank - 1],
        min: v[0],
        max: v[n - 1],
        mean: v.iter().sum::<f64>() / n as f64,
    })
}

/// One point's rows and statistics.
pub struct PointSummary<'a> {
    pub values: &'a [Value],
    pub rows: Vec<&'a Row>,
    pub stats: BTreeMap<&'static str, Stats>,
}

pub fn summarize<'a>(spec: &SweepSpec, rows: &'a [Row]) -> Vec<PointSummary<'a>> {
    let mut out: Vec<PointSummary<'a>> = Vec::new();
    // One pass over the rows (a point's rows keep their order), not one pass per point: a
    // grid of many points must not take time quadratic in the executions.
    let mut by_point: Vec<Vec<&Row>> = vec![Vec::new(); spec.points().len()];
    for r in rows {
        if let Some(rs) = by_point.get_mut(r.point) {
            rs.push(r);
        }
    }
    for rs in by_point {
        let Some(first) = rs.first() else { continue };
        let ok: Vec<&Row> = rs
            .iter()
            .copied()
            .filter(|r| r.status == "SUCCEEDED")
            .collect();
        let mut st = BTreeMap::new();
        for m in METRICS {
            let vals: Vec<f64> = ok.iter().filter_map(|r| metric(r, m)).collect();
            if let Some(s) = stats(&vals) {
                st.insert(m, s);
            }
        }
        out.push(PointSummary {
            values: &first.values,
            rows: rs,
            stats: st,
        });
    }
    out
}

/// A grid value as a CSV field: strings as they are, anything else as JSON.
pub fn label_of(spec: &SweepSpec, values: &[Value]) -> String {
    spec.grid
        .iter()
        .zip(values)
        .map(|(p, v)| format!("{}={}", p.column(), plain(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The Power Tuning picks: cheapest, fastest and balanced (least sum of cost and duration,
/// each scaled to its range).
pub fn power_tuning_picks(points: &[PointSummary<'_>]) -> Option<(usize, usize, usize)> {
    let data: Vec<(usize, f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            Some((
                i,
                p.stats.get("cost_usd")?.median,
                p.stats.get("duration_seconds")?.median,
            ))
        })
        .collect();
    if data.is_empty() {
        return None;
    }
    let cheapest = data
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?
        .0;
    let fastest = data
        .iter()
        .min_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)))?
        .0;
    let (cmin, cmax) = data.iter().fold((f64::MAX, f64::MIN), |(lo, hi), d| {
        (lo.min(d.1), hi.max(d.1))
    });
    let (tmin, tmax) = data.iter().fold((f64::MAX, f64::MIN), |(lo, hi), d| {
        (lo.min(d.2), hi.max(d.2))
    });
    let norm = |x: f64, lo: f64, hi: f64| if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
    let balanced = data
        .iter()
        .min_by(|a, b| {
            let sa = norm(a.1, cmin, cmax) + norm(a.2, tmin, tmax);
            let sb = norm(b.1, cmin, cmax) + norm(b.2, tmin, tmax);
            sa.total_cmp(&sb).then(a.0.cmp(&b.0))
        })?
        .0;
    Some((cheapest, fastest, balanced))
}

pub fn number_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}
