//! What the sweep charts show: which grid parameter is the x axis, one line per value of the
//! others, the measured baselines beside the simulated medians, and the picks with their noise
//! verdicts. [`super::chart`] draws them.
//!
//! - `duration.svg`, `cost.svg`, `throughput.svg`: the median per point, a bar from the
//!   fastest to the slowest repetition, the measured baseline (hollow markers, dashed) where
//!   the spec has one for that metric, and the best point (fastest, cheapest, highest
//!   throughput) ringed, with its noise verdict ([`super::noise`]) under the title. A chart
//!   with no value at all (throughput without `records`) is not written.
//! - `power-tuning.svg` (`kind = "power-tuning"`): duration over cost, two panels sharing the
//!   memory axis, the cheapest / fastest / balanced picks ringed on both (picks at one point
//!   share a label) and listed in a table beside the chart.
//!
//! The x axis is the grid key `functions.*.memory_mb` in a power-tuning sweep (whatever its
//! place in the grid), else the last grid key. Every other combination of grid values is one
//! line, in the grid's order, so a line has the same colour in every chart.

use serde_json::Value;

use super::chart::{render, Chart, Line, Mark, Panel, Point, XAxis};
use super::noise::{judge, Verdict};
use super::spec::{FunctionField, SweepKind, SweepSpec, Target};
use super::summary::{label_of, number_eq, plain, power_tuning_picks, PointSummary};

/// Which grid key is the x axis, and the lines.
struct Layout {
    x: usize,
    /// Per line: its label and the values of the other grid keys, in grid order.
    lines: Vec<(String, Vec<Value>)>,
}

/// The x axis's grid index: memory in a power-tuning sweep, else the last key.
pub fn x_param(spec: &SweepSpec) -> usize {
    let memory = spec.grid.iter().position(|p| {
        matches!(
            p.target,
            Target::Function {
                field: FunctionField::MemoryMb,
                ..
            }
        )
    });
    match (spec.kind, memory) {
        (SweepKind::PowerTuning, Some(i)) => i,
        _ => spec.grid.len().saturating_sub(1),
    }
}

impl Layout {
    fn new(spec: &SweepSpec) -> Layout {
        let x = x_param(spec);
        let mut lines: Vec<(String, Vec<Value>)> = Vec::new();
        for point in spec.points() {
            let others: Vec<Value> = point
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != x)
                .map(|(_, v)| v.clone())
                .collect();
            if lines.iter().any(|(_, o)| o == &others) {
                continue;
            }
            let label = spec
                .grid
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != x)
                .zip(&others)
                .map(|((_, g), v)| format!("{}={}", g.column(), plain(v)))
                .collect::<Vec<_>>()
                .join(", ");
            let label = if label.is_empty() {
                "simulated (median)".to_string()
            } else {
                label
            };
            lines.push((label, others));
        }
        Layout { x, lines }
    }

    /// The (line, x index) of a grid point.
    fn place(&self, spec: &SweepSpec, values: &[Value]) -> Option<(usize, usize)> {
        let xi = spec
            .grid
            .get(self.x)?
            .values
            .iter()
            .position(|v| Some(v) == values.get(self.x))?;
        let others: Vec<&Value> = values
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.x)
            .map(|(_, v)| v)
            .collect();
        let line = self
            .lines
            .iter()
            .position(|(_, o)| o.iter().zip(&others).all(|(a, b)| a == *b))?;
        Some((line, xi))
    }

    /// The (line, x index) of a measured baseline: its x value must be on the axis; a grid key
    /// it does not name matches only when that key has a single value.
    fn place_baseline(
        &self,
        spec: &SweepSpec,
        point: &[(String, Value)],
    ) -> Option<(usize, usize)> {
        let named = |col: &str| point.iter().find(|(k, _)| k == col).map(|(_, v)| v);
        let xg = spec.grid.get(self.x)?;
        let xv = named(&xg.column())?;
        let xi = xg.values.iter().position(|v| number_eq(v, xv))?;
        let others: Vec<&super::spec::Param> = spec
            .grid
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.x)
            .map(|(_, g)| g)
            .collect();
        let line = self.lines.iter().position(|(_, o)| {
            others.iter().zip(o).all(|(g, v)| match named(&g.column()) {
                Some(b) => number_eq(b, v),
                None => g.values.len() == 1,
            })
        })?;
        Some((line, xi))
    }

    fn axis(&self, spec: &SweepSpec) -> XAxis {
        let g = &spec.grid[self.x];
        let labels: Vec<String> = g.values.iter().map(plain).collect();
        let numbers: Option<Vec<f64>> = g.values.iter().map(Value::as_f64).collect();
        XAxis::from_values(&g.column(), labels, numbers)
    }
}

/// The metric charts: file, metric, title, y-axis title, pick word, whether more is better.
const METRIC_CHARTS: [(&str, &str, &str, &str, &str, bool); 3] = [
    (
        "duration.svg",
        "duration_seconds",
        "Duration (median)",
        "duration per execution (s)",
        "fastest",
        false,
    ),
    (
        "cost.svg",
        "cost_usd",
        "Cost per execution (median)",
        "cost per execution (USD)",
        "cheapest",
        false,
    ),
    (
        "throughput.svg",
        "throughput_rps",
        "Throughput (median)",
        "throughput (records/s)",
        "highest throughput",
        true,
    ),
];

/// The point with the best median of `metric` (the first of equals).
pub fn best(points: &[PointSummary<'_>], metric: &str, maximize: bool) -> Option<usize> {
    points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.stats.get(metric).map(|st| (i, st.median)))
        .reduce(|a, b| {
            let better = if maximize { b.1 > a.1 } else { b.1 < a.1 };
            if better {
                b
            } else {
                a
            }
        })
        .map(|(i, _)| i)
}

/// A metric's value with its unit.
pub fn fmt_metric(metric: &str, v: f64) -> String {
    match metric {
        "duration_seconds" => format!("{v:.2} s"),
        "cost_usd" => format!("${v:.8}"),
        "throughput_rps" => format!("{v:.2} records/s"),
        _ => format!("{v:.3}"),
    }
}

/// The noise verdict in words; `names` caps how many points are named (the rest counted).
pub fn noise_words(
    spec: &SweepSpec,
    points: &[PointSummary<'_>],
    verdict: &Verdict,
    metric: &str,
    names: usize,
) -> String {
    match verdict {
        Verdict::Unjudged { repetitions } => format!(
            "noise cannot be judged from {repetitions} successful repetition{}",
            if *repetitions == 1 { "" } else { "s" }
        ),
        Verdict::Clear => "no other point within noise".into(),
        Verdict::Within(others) if names == 0 => format!(
            "within noise of {} other point{}",
            others.len(),
            if others.len() == 1 { "" } else { "s" }
        ),
        Verdict::Within(others) => {
            let mut named: Vec<String> = others
                .iter()
                .take(names)
                .map(|i| {
                    let v = points[*i].stats.get(metric).map(|s| s.median);
                    match v {
                        Some(v) => format!(
                            "{} ({})",
                            label_of(spec, points[*i].values),
                            fmt_metric(metric, v)
                        ),
                        None => label_of(spec, points[*i].values),
                    }
                })
                .collect();
            if others.len() > names {
                named.push(format!("{} more", others.len() - names));
            }
            format!("within noise of {}", join_and(&named))
        }
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// One metric's simulated lines (median, min..max bars) and measured lines.
fn metric_lines(
    spec: &SweepSpec,
    layout: &Layout,
    points: &[PointSummary<'_>],
    metric: &str,
) -> Vec<Line> {
    let n = spec.grid[layout.x].values.len();
    let mut sim: Vec<Vec<Option<Point>>> = vec![vec![None; n]; layout.lines.len()];
    for p in points {
        if let (Some((l, xi)), Some(st)) = (layout.place(spec, p.values), p.stats.get(metric)) {
            sim[l][xi] = Some(Point {
                y: st.median,
                lo: st.min,
                hi: st.max,
            });
        }
    }
    let mut measured: Vec<Vec<Option<Point>>> = vec![vec![None; n]; layout.lines.len()];
    for b in &spec.baseline {
        let value = b.metrics.iter().find(|(k, _)| k == metric).map(|(_, v)| *v);
        if let (Some((l, xi)), Some(v)) = (layout.place_baseline(spec, &b.point), value) {
            measured[l][xi] = Some(Point::at(v));
        }
    }
    let mut out: Vec<Line> = sim
        .into_iter()
        .enumerate()
        .map(|(k, points)| Line {
            label: layout.lines[k].0.clone(),
            color: k,
            points,
            measured: false,
        })
        .collect();
    for (k, points) in measured.into_iter().enumerate() {
        if points.iter().any(Option::is_some) {
            out.push(Line {
                label: format!("{} measured", layout.lines[k].0),
                color: k,
                points,
                measured: true,
            });
        }
    }
    out
}

fn has_values(lines: &[Line]) -> bool {
    lines
        .iter()
        .any(|l| !l.measured && l.points.iter().any(Option::is_some))
}

/// A pick's mark on a panel for `metric`, if the point has it.
fn mark_at(
    spec: &SweepSpec,
    layout: &Layout,
    p: &PointSummary<'_>,
    metric: &str,
    label: &str,
) -> Option<Mark> {
    let (_, xi) = layout.place(spec, p.values)?;
    Some(Mark {
        x_index: xi,
        y: p.stats.get(metric)?.median,
        label: label.to_string(),
    })
}

/// The file names [`charts`] writes, in order, without drawing them.
pub fn chart_names(spec: &SweepSpec, points: &[PointSummary<'_>]) -> Vec<String> {
    let layout = Layout::new(spec);
    let mut out: Vec<String> = METRIC_CHARTS
        .iter()
        .filter(|c| has_values(&metric_lines(spec, &layout, points, c.1)))
        .map(|c| c.0.to_string())
        .collect();
    if spec.kind == SweepKind::PowerTuning {
        out.push("power-tuning.svg".into());
    }
    out
}

/// The charts: file name → SVG text.
pub fn charts(spec: &SweepSpec, points: &[PointSummary<'_>]) -> Vec<(String, String)> {
    let layout = Layout::new(spec);
    let axis = layout.axis(spec);
    let reps = spec.repetitions;
    let mut out = Vec::new();
    for (file, metric, title, y_title, word, maximize) in METRIC_CHARTS {
        let lines = metric_lines(spec, &layout, points, metric);
        if !has_values(&lines) {
            continue;
        }
        let mut notes = vec![format!(
            "Median of {reps} repetition{} per point{}.",
            if reps == 1 { "" } else { "s" },
            if lines.len() > 1 && layout.lines.len() > 1 {
                format!("; one line per {}", other_columns(spec, layout.x))
            } else {
                String::new()
            }
        )];
        let mut marks = Vec::new();
        if let Some(b) = best(points, metric, maximize) {
            let p = &points[b];
            if let (Some(m), Some(st)) =
                (mark_at(spec, &layout, p, metric, word), p.stats.get(metric))
            {
                marks.push(m);
                let verdict = judge(points, b, metric);
                notes.push(format!(
                    "{word}: {} at {}; {}.",
                    label_of(spec, p.values),
                    fmt_metric(metric, st.median),
                    noise_words(spec, points, &verdict, metric, 3)
                ));
            }
        }
        let chart = Chart {
            title: format!("{}: {title}", spec.name),
            notes,
            x: axis.clone(),
            panels: vec![Panel {
                y_title: y_title.to_string(),
                lines,
                marks,
            }],
            side: Vec::new(),
        };
        out.push((file.to_string(), render(&chart)));
    }
    if spec.kind == SweepKind::PowerTuning {
        out.push((
            "power-tuning.svg".to_string(),
            render(&power_tuning_chart(spec, points, &layout, axis)),
        ));
    }
    out
}

/// "world_size" or "world_size, batch_size": the grid keys that make the lines.
fn other_columns(spec: &SweepSpec, x: usize) -> String {
    spec.grid
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != x)
        .map(|(_, g)| g.column())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Duration over cost by memory, with the picks ringed and tabulated.
fn power_tuning_chart(
    spec: &SweepSpec,
    points: &[PointSummary<'_>],
    layout: &Layout,
    axis: XAxis,
) -> Chart {
    let picks: Vec<(usize, &str, Option<&str>)> = match power_tuning_picks(points) {
        Some((c, f, b)) => vec![
            (c, "cheapest", Some("cost_usd")),
            (f, "fastest", Some("duration_seconds")),
            (b, "balanced", None),
        ],
        None => Vec::new(),
    };
    // Picks at one point share one label ("cheapest + balanced").
    let mut at: Vec<(usize, String)> = Vec::new();
    for (i, word, _) in &picks {
        match at.iter_mut().find(|(j, _)| j == i) {
            Some((_, label)) => *label = format!("{label} + {word}"),
            None => at.push((*i, (*word).to_string())),
        }
    }
    let panel = |metric: &str, y_title: &str| Panel {
        y_title: y_title.to_string(),
        lines: metric_lines(spec, layout, points, metric),
        marks: at
            .iter()
            .filter_map(|(i, label)| mark_at(spec, layout, &points[*i], metric, label))
            .collect(),
    };
    let mut side = vec!["Power Tuning picks".to_string()];
    for (i, word, metric) in &picks {
        let p = &points[*i];
        side.push(format!("{word}: {}", label_of(spec, p.values)));
        let get = |m: &str| p.stats.get(m).map(|s| fmt_metric(m, s.median));
        side.push(format!(
            "  {}, {}",
            get("cost_usd").unwrap_or_default(),
            get("duration_seconds").unwrap_or_default()
        ));
        side.push(match metric {
            Some(m) => format!(
                "  {}",
                noise_words(spec, points, &judge(points, *i, m), m, 0)
            ),
            None => "  least cost + duration, each scaled to its range".into(),
        });
    }
    let lines_note = if layout.lines.len() > 1 {
        format!(" One line per {}.", other_columns(spec, layout.x))
    } else {
        String::new()
    };
    Chart {
        title: format!("{}: cost and speed by memory", spec.name),
        notes: vec![format!(
            "Median of {} repetitions per point; bars span min..max.{lines_note}",
            spec.repetitions
        )],
        x: axis,
        panels: vec![
            panel("duration_seconds", "duration per execution (s)"),
            panel("cost_usd", "cost per execution (USD)"),
        ],
        side,
    }
}
