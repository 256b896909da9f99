//! Sweep reports: `results.csv` (one row per execution), `summary.csv` (per point: median,
//! p95, min, max), `results.json` (all of it, with the spec, seed and version), `report.md`
//! (the notebook's analysis, the measured baseline beside the simulated figures, the cost
//! breakdown) and SVG charts. Every file is a pure function of the rows: no timestamps, fixed
//! number formatting.
//!
//! The CSV files go through the `csv` crate, with the bytes the hand-written writer produced:
//! `\n` line ends, quotes only around fields holding `,`, `"`, `\r` or `\n`. One difference,
//! on purpose: a grid value that is a TOML array or table (`[1, 2]`) is written as JSON, and
//! the old writer left its commas unquoted (`1,[1,2],...`, a broken row); it is now quoted
//! (`1,"[1,2]",...`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::figures::{best, fmt_metric, noise_words};
use super::noise::{judge, RULE};
use super::run::Row;
use super::spec::{SweepKind, SweepSpec};
pub use super::summary::{
    label_of, metric, number_eq, plain, power_tuning_picks, sorted_with_median, stats, summarize,
    PointSummary, Stats, METRICS,
};
use crate::sim::Money;

fn cell(v: &Value) -> String {
    plain(v)
}

fn f(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map(|v| f(v, decimals)).unwrap_or_default()
}

/// A CSV writer with the files' conventions: `,` between fields, `\n` after each record, a
/// field quoted only when it holds `,`, `"`, `\r` or `\n` (with `"` doubled). Records may
/// differ in length only if the grid is empty, which a checked spec never is.
fn csv_writer<W: std::io::Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .flexible(true)
        .from_writer(w)
}

/// Text written through [`csv_writer`]: a `Vec` never fails to take bytes, and every field is
/// UTF-8, so neither fallback is ever taken.
fn csv_text(write: impl FnOnce(&mut csv::Writer<&mut Vec<u8>>) -> csv::Result<()>) -> String {
    let mut buf = Vec::new();
    let mut w = csv_writer(&mut buf);
    let written = write(&mut w).and_then(|()| w.flush().map_err(csv::Error::from));
    drop(w);
    match written {
        Ok(()) => String::from_utf8(buf).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The grid's column names, then `rest`.
fn header(spec: &SweepSpec, rest: impl IntoIterator<Item = String>) -> Vec<String> {
    spec.grid.iter().map(|p| p.column()).chain(rest).collect()
}

/// The columns of `results.csv` after the grid's.
const RESULT_COLUMNS: [&str; 17] = [
    "repetition",
    "status",
    "duration_seconds",
    "memory_mb",
    "cost_usd",
    "throughput_rps",
    "records",
    "cold_starts",
    "billed_gb_s",
    "transitions",
    "lambda_invocations",
    "throttles",
    "s3_requests",
    "seed",
    "execution",
    "error",
    "cost_usd_max_memory_used",
];

/// Writes `results.csv`: one record per execution.
pub fn write_results_csv<W: std::io::Write>(
    w: W,
    spec: &SweepSpec,
    rows: &[Row],
) -> csv::Result<()> {
    let mut w = csv_writer(w);
    write_results_records(&mut w, spec, rows)?;
    w.flush()?;
    Ok(())
}

fn write_results_records<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    spec: &SweepSpec,
    rows: &[Row],
) -> csv::Result<()> {
    w.write_record(header(spec, RESULT_COLUMNS.map(String::from)))?;
    for r in rows {
        let fields = [
            r.repetition.to_string(),
            r.status.clone(),
            f(r.duration_seconds, 3),
            r.memory_mb.to_string(),
            r.cost.usd_exact(),
            opt(r.throughput_rps, 3),
            opt(r.records, 3),
            r.cold_starts.to_string(),
            f(r.billed_gb_s, 6),
            r.transitions.to_string(),
            r.lambda_invocations.to_string(),
            r.throttles.to_string(),
            r.s3_requests.to_string(),
            r.seed.to_string(),
            r.execution_name.clone(),
            r.error.clone().unwrap_or_default(),
            r.cost_max_memory_used.usd_exact(),
        ];
        w.write_record(r.values.iter().map(cell).chain(fields))?;
    }
    Ok(())
}

/// `results.csv`.
pub fn results_csv(spec: &SweepSpec, rows: &[Row]) -> String {
    csv_text(|w| write_results_records(w, spec, rows))
}

/// `summary.csv`.
pub fn summary_csv(spec: &SweepSpec, points: &[PointSummary<'_>]) -> String {
    csv_text(|w| {
        let stat_columns = METRICS
            .iter()
            .flat_map(|m| ["median", "p95", "min", "max"].map(|s| format!("{m}_{s}")));
        w.write_record(header(
            spec,
            ["executions".to_string(), "succeeded".to_string()]
                .into_iter()
                .chain(stat_columns),
        ))?;
        for p in points {
            let ok = p.rows.iter().filter(|r| r.status == "SUCCEEDED").count();
            let mut record: Vec<String> = p.values.iter().map(cell).collect();
            record.extend([p.rows.len().to_string(), ok.to_string()]);
            for m in METRICS {
                let d = if m.starts_with("cost_usd") { 9 } else { 3 };
                match p.stats.get(m) {
                    Some(st) => record.extend([st.median, st.p95, st.min, st.max].map(|x| f(x, d))),
                    None => record.extend(std::iter::repeat_n(String::new(), 4)),
                }
            }
            w.write_record(&record)?;
        }
        Ok(())
    })
}

fn row_json(spec: &SweepSpec, r: &Row) -> Value {
    let mut params = Map::new();
    for (p, v) in spec.grid.iter().zip(&r.values) {
        params.insert(p.name.clone(), v.clone());
    }
    let components: Map<String, Value> = r
        .cost_by_component
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.usd_exact())))
        .collect();
    json!({
        "params": params,
        "repetition": r.repetition,
        "seed": r.seed,
        "execution": r.execution_name,
        "start_date": r.start_date,
        "status": r.status,
        "error": r.error,
        "cause": r.cause,
        "duration_seconds": r.duration_seconds,
        "memory_mb": r.memory_mb,
        "cost_usd": r.cost.usd_exact(),
        "cost_usd_max_memory_used": r.cost_max_memory_used.usd_exact(),
        "cost_by_component_usd": components,
        "records": r.records,
        "throughput_rps": r.throughput_rps,
        "cold_starts": r.cold_starts,
        "billed_gb_s": r.billed_gb_s,
        "transitions": r.transitions,
        "lambda_invocations": r.lambda_invocations,
        "throttles": r.throttles,
        "s3_requests": r.s3_requests,
    })
}

/// `results.json`: the spec, the seed, every execution and the per-point summary. It
/// serializes one execution at a time, so writing it holds no second copy of the rows.
pub struct ResultsJson<'a> {
    pub spec: &'a SweepSpec,
    pub rows: &'a [Row],
    pub points: &'a [PointSummary<'a>],
}

/// The executions of `results.json`, each built as it is written.
struct Executions<'a> {
    spec: &'a SweepSpec,
    rows: &'a [Row],
}

impl Serialize for Executions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for r in self.rows {
            seq.serialize_element(&row_json(self.spec, r))?;
        }
        seq.end()
    }
}

impl Serialize for ResultsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spec = self.spec;
        let grid: Map<String, Value> = spec
            .grid
            .iter()
            .map(|p| (p.name.clone(), Value::Array(p.values.clone())))
            .collect();
        let set: Map<String, Value> = spec.set.iter().cloned().collect();
        let summary: Vec<Value> = self
            .points
            .iter()
            .map(|p| {
                let mut params = Map::new();
                for (g, v) in spec.grid.iter().zip(p.values) {
                    params.insert(g.name.clone(), v.clone());
                }
                let st: Map<String, Value> = p
                    .stats
                    .iter()
                    .map(|(k, s)| {
                        let v = json!({
                            "median": s.median, "p95": s.p95, "min": s.min, "max": s.max,
                            "mean": s.mean
                        });
                        ((*k).to_string(), v)
                    })
                    .collect();
                json!({"params": params, "executions": p.rows.len(), "stats": st})
            })
            .collect();
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("stepsim_version", env!("CARGO_PKG_VERSION"))?;
        m.serialize_entry(
            "spec",
            &json!({
                "name": spec.name,
                "definition": spec.definition.display().to_string(),
                "grid": grid,
                "set": set,
                "repetitions": spec.repetitions,
                "seed": spec.seed,
                "spacing_seconds": spec.spacing_seconds,
                "warm": spec.warm,
            }),
        )?;
        m.serialize_entry("seed", &spec.seed)?;
        m.serialize_entry(
            "executions",
            &Executions {
                spec,
                rows: self.rows,
            },
        )?;
        m.serialize_entry("summary", &summary)?;
        m.end()
    }
}

/// The charts: file name → SVG text (see [`super::figures`]).
pub fn charts(spec: &SweepSpec, points: &[PointSummary<'_>]) -> Vec<(String, String)> {
    super::figures::charts(spec, points)
}

/// `report.md`: one section after another.
pub fn report_md(spec: &SweepSpec, rows: &[Row], points: &[PointSummary<'_>]) -> String {
    let mut s = String::new();
    md_intro(&mut s, spec, rows, points);
    md_results(&mut s, spec, points);
    md_averages(&mut s, spec, rows);
    md_best(&mut s, spec, points);
    md_cost_breakdown(&mut s, rows);
    super::fit::md_cost_bases(&mut s, spec, points);
    md_baseline(&mut s, spec, points);
    md_notes_and_files(&mut s, spec, points);
    s
}

/// The title, what was run, and how many executions failed.
fn md_intro(s: &mut String, spec: &SweepSpec, rows: &[Row], points: &[PointSummary<'_>]) {
    let _ = writeln!(s, "# {}\n", spec.name);
    let _ = writeln!(
        s,
        "{} points x {} repetitions = {} executions of `{}`, master seed {}, {} s between executions, environments {}. Simulated by stepsim {} on virtual time; figures are medians over repetitions unless stated.\n",
        points.len(),
        spec.repetitions,
        rows.len(),
        spec.definition.display(),
        spec.seed,
        spec.spacing_seconds,
        if spec.carry_over {
            "carried over from point to point (one world runs every execution in grid order)"
        } else if spec.warm {
            "warm across repetitions"
        } else {
            "cold across repetitions"
        },
        env!("CARGO_PKG_VERSION")
    );
    // The definition drawn once; write_all puts graph.svg beside this file.
    let _ = writeln!(s, "![The state machine](graph.svg)\n");
    let failed = rows.iter().filter(|r| r.status != "SUCCEEDED").count();
    if failed > 0 {
        let _ = writeln!(s, "**{failed} execution(s) did not succeed**; they are left out of the statistics and listed in results.csv.\n");
    }
}

/// Per point: median and p95 duration, the first run, memory, cost, throughput.
fn md_results(s: &mut String, spec: &SweepSpec, points: &[PointSummary<'_>]) {
    let cols: Vec<String> = spec.grid.iter().map(|p| p.column()).collect();
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "| {} | duration_seconds | p95 | first run | memory_mb | cost_usd | throughput_rps | cold starts (first run) |",
        cols.join(" | ")
    );
    let _ = writeln!(s, "|{}", "---|".repeat(cols.len() + 7));
    for p in points {
        let get = |m: &str| p.stats.get(m).copied();
        let first = p.rows.first();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            p.values.iter().map(plain).collect::<Vec<_>>().join(" | "),
            get("duration_seconds")
                .map(|x| f(x.median, 2))
                .unwrap_or("-".into()),
            get("duration_seconds")
                .map(|x| f(x.p95, 2))
                .unwrap_or("-".into()),
            first
                .map(|r| f(r.duration_seconds, 2))
                .unwrap_or("-".into()),
            first.map(|r| r.memory_mb.to_string()).unwrap_or("-".into()),
            get("cost_usd")
                .map(|x| f(x.median, 6))
                .unwrap_or("-".into()),
            get("throughput_rps")
                .map(|x| f(x.median, 2))
                .unwrap_or("-".into()),
            first
                .map(|r| r.cold_starts.to_string())
                .unwrap_or("-".into()),
        );
    }
}

/// Averages by the first parameter, as the notebook's "Performance Analysis by World Size".
fn md_averages(s: &mut String, spec: &SweepSpec, rows: &[Row]) {
    if spec.grid.len() > 1 {
        let first = &spec.grid[0];
        let _ = writeln!(s, "\n## Averages by {}\n", first.column());
        let _ = writeln!(
            s,
            "| {} | runs | avg duration_seconds | avg memory_mb | avg cost_usd | avg throughput_rps |\n|---|---|---|---|---|---|",
            first.column()
        );
        for v in &first.values {
            let rs: Vec<&Row> = rows
                .iter()
                .filter(|r| &r.values[0] == v && r.status == "SUCCEEDED")
                .collect();
            if rs.is_empty() {
                continue;
            }
            let n = rs.len() as f64;
            let avg = |g: &dyn Fn(&Row) -> f64| rs.iter().map(|r| g(r)).sum::<f64>() / n;
            let tp: Vec<f64> = rs.iter().filter_map(|r| r.throughput_rps).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                plain(v),
                rs.len(),
                f(avg(&|r| r.duration_seconds), 2),
                f(avg(&|r| r.memory_mb as f64), 1),
                f(avg(&|r| r.cost.usd()), 8),
                if tp.is_empty() {
                    "-".into()
                } else {
                    f(tp.iter().sum::<f64>() / tp.len() as f64, 2)
                }
            );
        }
    }
}

/// The best configurations (and the Power Tuning picks), each with its noise verdict.
fn md_best(s: &mut String, spec: &SweepSpec, points: &[PointSummary<'_>]) {
    let _ = writeln!(s, "\n## Best configuration\n");
    let noise = |i: usize, m: &str| noise_words(spec, points, &judge(points, i, m), m, 5);
    for (word, m, maximize, unit) in [
        ("Highest throughput", "throughput_rps", true, ""),
        ("Fastest", "duration_seconds", false, ""),
        ("Cheapest", "cost_usd", false, " per execution"),
    ] {
        if let Some(i) = best(points, m, maximize) {
            let v = points[i].stats.get(m).map_or(0.0, |st| st.median);
            let _ = writeln!(
                s,
                "- {word}: {} ({}{unit}; {})",
                label_of(spec, points[i].values),
                fmt_metric(m, v),
                noise(i, m)
            );
        }
    }
    if spec.kind == SweepKind::PowerTuning {
        if let Some((c, fa, b)) = power_tuning_picks(points) {
            let _ = writeln!(
                s,
                "- Power Tuning picks: cheapest {} ({}), fastest {} ({}), balanced {} (balanced minimises cost and duration, each scaled to its range). See power-tuning.svg.",
                label_of(spec, points[c].values),
                noise(c, "cost_usd"),
                label_of(spec, points[fa].values),
                noise(fa, "duration_seconds"),
                label_of(spec, points[b].values)
            );
        }
    }
    if !points.is_empty() {
        let _ = writeln!(s, "\n{RULE}");
    }
}

/// The cost over all executions, by bill component.
fn md_cost_breakdown(s: &mut String, rows: &[Row]) {
    let _ = writeln!(s, "\n## Cost breakdown by component\n");
    let mut totals: BTreeMap<String, Money> = BTreeMap::new();
    let mut all = Money::ZERO;
    for r in rows {
        for (k, v) in &r.cost_by_component {
            let e = totals.entry(k.clone()).or_insert(Money::ZERO);
            *e = e.saturating_add(*v);
        }
        all = all.saturating_add(r.cost);
    }
    let _ = writeln!(
        s,
        "Over all {} executions (total ${}):\n",
        rows.len(),
        all.usd_exact()
    );
    let _ = writeln!(
        s,
        "| component | total USD | share | per execution USD |\n|---|---|---|---|"
    );
    for (k, v) in &totals {
        let share = if all.usd() > 0.0 {
            v.usd() / all.usd() * 100.0
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "| {k} | {} | {}% | {} |",
            v.usd_exact(),
            f(share, 1),
            f(v.usd() / rows.len().max(1) as f64, 9)
        );
    }
}

/// The measured baseline beside the simulated figures.
fn md_baseline(s: &mut String, spec: &SweepSpec, points: &[PointSummary<'_>]) {
    let cols: Vec<String> = spec.grid.iter().map(|p| p.column()).collect();
    if !spec.baseline.is_empty() {
        let _ = writeln!(s, "\n## Measured vs simulated\n");
        if let Some(src) = &spec.baseline_source {
            let _ = writeln!(s, "Measured: {src}\n");
        }
        let mut metric_names: Vec<String> = Vec::new();
        for (k, _) in spec.baseline.iter().flat_map(|b| b.metrics.iter()) {
            if !metric_names.contains(k) {
                metric_names.push(k.clone());
            }
        }
        // Durations timed by polling read as the first poll at or after the end.
        let poll = spec
            .baseline_poll_seconds
            .filter(|_| metric_names.iter().any(|m| m == "duration_seconds"));
        if let Some(p) = poll {
            let _ = writeln!(
                s,
                "The measured durations were timed by polling every {p} s, so each is the first \
                 poll at or after the end; \"polled\" is the simulated duration rounded up the \
                 same way (median over repetitions), and its ratio is the fairer one.\n"
            );
        }
        let mut header = cols.clone();
        for m in &metric_names {
            header.push(format!("{m} measured"));
            header.push(format!("{m} simulated (median)"));
            header.push("ratio".into());
            if poll.is_some() && m == "duration_seconds" {
                header.push(format!("{m} simulated, polled"));
                header.push("ratio".into());
            }
        }
        let _ = writeln!(
            s,
            "| {} |\n|{}",
            header.join(" | "),
            "---|".repeat(header.len())
        );
        for b in &spec.baseline {
            let point = points.iter().find(|p| {
                b.point.iter().all(|(k, v)| {
                    spec.grid
                        .iter()
                        .position(|g| &g.column() == k)
                        .is_some_and(|i| number_eq(&p.values[i], v))
                })
            });
            let mut line: Vec<String> = cols
                .iter()
                .map(|c| {
                    b.point
                        .iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| plain(v))
                        .unwrap_or_default()
                })
                .collect();
            for m in &metric_names {
                let measured = b.metrics.iter().find(|(k, _)| k == m).map(|(_, v)| *v);
                let sim = point
                    .and_then(|p| p.stats.get(m.as_str()))
                    .map(|st| st.median);
                line.push(measured.map(fmt_g).unwrap_or("-".into()));
                line.push(sim.map(fmt_g).unwrap_or("-".into()));
                line.push(match (measured, sim) {
                    (Some(a), Some(b)) if a != 0.0 => f(b / a, 2),
                    _ => "-".into(),
                });
                if let (Some(p), true) = (poll, m == "duration_seconds") {
                    let polled = point.and_then(|pt| {
                        let v: Vec<f64> = pt
                            .rows
                            .iter()
                            .filter(|r| r.status == "SUCCEEDED")
                            .map(|r| polled_seconds(r.duration_seconds, p))
                            .collect();
                        stats(&v).map(|st| st.median)
                    });
                    line.push(polled.map(fmt_g).unwrap_or("-".into()));
                    line.push(match (measured, polled) {
                        (Some(a), Some(b)) if a != 0.0 => f(b / a, 2),
                        _ => "-".into(),
                    });
                }
            }
            let _ = writeln!(s, "| {} |", line.join(" | "));
        }
        super::fit::md_fit(s, spec, points);
    }
}

/// The spec's notes on the model, and the list of files.
fn md_notes_and_files(s: &mut String, spec: &SweepSpec, points: &[PointSummary<'_>]) {
    if let Some(n) = &spec.notes {
        let _ = writeln!(
            s,
            "\n## What the model does and does not capture\n\n{}",
            n.trim()
        );
    }
    // Exactly the charts write_all writes, then the drawing of the definition.
    let mut drawn = super::figures::chart_names(spec, points);
    drawn.push("graph.svg".into());
    let _ = writeln!(
        s,
        "\n## Files\n\n- results.csv: one row per execution\n- summary.csv: per point, median / p95 / min / max\n- results.json: everything above, with the spec\n- {}",
        drawn.join(", ")
    );
}

/// What a loop that polls every `poll` seconds from the start reads for a run of `seconds`:
/// the first poll at or after the end.
pub fn polled_seconds(seconds: f64, poll: f64) -> f64 {
    if !(poll > 0.0 && seconds.is_finite()) {
        return seconds;
    }
    // A float quotient a hair above an integer is that integer (10 runs of 0.1 s are 1 s).
    let q = seconds / poll;
    let n = if (q - q.round()).abs() < 1e-9 {
        q.round()
    } else {
        q.ceil()
    };
    n.max(0.0) * poll
}

/// Compact number formatting for mixed-scale tables.
fn fmt_g(x: f64) -> String {
    if x.abs() >= 100.0 {
        f(x, 1)
    } else if x.abs() >= 0.01 {
        f(x, 3)
    } else {
        format!("{x:.3e}")
    }
}

/// Writes `results.json` to `w`, pretty-printed, ending in a newline.
pub fn write_results_json(
    w: impl std::io::Write,
    spec: &SweepSpec,
    rows: &[Row],
    points: &[PointSummary<'_>],
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut w = std::io::BufWriter::new(w);
    serde_json::to_writer_pretty(&mut w, &ResultsJson { spec, rows, points })
        .map_err(std::io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Writes every report file into `dir` (which must exist), one at a time.
pub fn write_all(dir: &Path, spec: &SweepSpec, rows: &[Row]) -> std::io::Result<Vec<String>> {
    let points = summarize(spec, rows);
    write_results_csv(
        std::io::BufWriter::new(std::fs::File::create(dir.join("results.csv"))?),
        spec,
        rows,
    )
    .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("summary.csv"), summary_csv(spec, &points))?;
    write_results_json(
        std::fs::File::create(dir.join("results.json"))?,
        spec,
        rows,
        &points,
    )?;
    std::fs::write(dir.join("report.md"), report_md(spec, rows, &points))?;
    let mut names: Vec<String> = ["results.csv", "summary.csv", "results.json", "report.md"]
        .map(String::from)
        .to_vec();
    for (name, text) in charts(spec, &points) {
        std::fs::write(dir.join(&name), text)?;
        names.push(name);
    }
    let project = crate::project::Project::load(&spec.definition).map_err(std::io::Error::other)?;
    std::fs::write(
        dir.join("graph.svg"),
        crate::graph::definition_svg(&project.machine),
    )?;
    names.push("graph.svg".to_string());
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        let s = stats(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.p95), (3.0, 1.0, 5.0, 5.0));
        let s = stats(&[1.0, 2.0]).unwrap();
        assert_eq!(s.median, 1.5);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(stats(&v).unwrap().p95, 95.0);
        assert!(stats(&[]).is_none());
    }

    #[test]
    fn csv_escaping() {
        let line = |field: &str| csv_text(|w| w.write_record([field, "z"]));
        assert_eq!(line("a,b"), "\"a,b\",z\n");
        assert_eq!(line("say \"x\""), "\"say \"\"x\"\"\",z\n");
        assert_eq!(line("plain"), "plain,z\n");
        assert_eq!(line("two\nlines"), "\"two\nlines\",z\n");
        assert_eq!(line(""), ",z\n");
    }
}
