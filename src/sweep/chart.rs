//! Small, dependency-free SVG line charts for sweep reports. The output is a pure function of
//! the data (fixed number formatting, no timestamps), so charts are byte-identical between runs.

use std::fmt::Write;

/// One line of a chart.
pub struct Series {
    pub label: String,
    /// One value per x category (`None` leaves a gap).
    pub values: Vec<Option<f64>>,
}

/// A marked point (Power Tuning's cheapest / fastest / balanced picks).
pub struct Mark {
    pub x_index: usize,
    pub y: f64,
    pub label: String,
    /// Which axis the y value belongs to (false: left, true: right).
    pub right_axis: bool,
}

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" upper bound and tick step for an axis from 0 to `max`.
fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let s = format!("{v:.8}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;
const DASH: &str = " stroke-dasharray=\"6 4\"";

/// The x of category `i` of `n`.
fn x_at(i: usize, n: usize) -> f64 {
    if n == 1 {
        LEFT + PLOT_W / 2.0
    } else {
        LEFT + PLOT_W * i as f64 / (n - 1) as f64
    }
}

/// The y of `v` on an axis from 0 to `max`.
fn y_at(v: f64, max: f64) -> f64 {
    TOP + PLOT_H - PLOT_H * (v / max).clamp(0.0, 1.0)
}

fn max_of(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b))
}

/// The tick values of an axis: 0, `step`, ... up to `max` (summed, as the charts always were).
fn ticks(max: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut t = 0.0;
    while t <= max + step / 2.0 {
        out.push(t);
        t += step;
    }
    out
}

/// A line chart over categorical x values, with an optional second series set on a right axis.
pub fn line_chart(
    title: &str,
    x_label: &str,
    categories: &[String],
    y_label: &str,
    series: &[Series],
    right: Option<(&str, &[Series])>,
    marks: &[Mark],
) -> String {
    let n = categories.len().max(1);
    let (ymax, ystep) = nice_axis(max_of(series));
    let right_axis = right.map(|(l, ss)| (l, ss, nice_axis(max_of(ss))));
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        W / 2.0,
        esc(title)
    );
    left_axis(&mut s, ymax, ystep);
    if let Some((label, _, (rmax, rstep))) = &right_axis {
        right_axis_ticks(&mut s, label, *rmax, *rstep);
    }
    axes(&mut s, categories, x_label, y_label);
    draw_series(&mut s, n, series, ymax, 0, false);
    let rmax = right_axis.as_ref().map(|(_, _, (rmax, _))| *rmax);
    if let (Some((_, ss, _)), Some(rmax)) = (&right_axis, rmax) {
        draw_series(&mut s, n, ss, rmax, series.len(), true);
    }
    draw_marks(&mut s, n, marks, ymax, rmax);
    let right_series: &[Series] = right_axis.as_ref().map_or(&[], |(_, ss, _)| *ss);
    legend(&mut s, series, right_series);
    s.push_str("</svg>\n");
    s
}

/// Grid lines and the left axis's ticks.
fn left_axis(s: &mut String, ymax: f64, ystep: f64) {
    for t in ticks(ymax, ystep) {
        let y = y_at(t, ymax);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t)
        );
    }
}

/// The right axis's ticks and label.
fn right_axis_ticks(s: &mut String, label: &str, rmax: f64, rstep: f64) {
    for t in ticks(rmax, rstep) {
        let y = y_at(t, rmax);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"start\" fill=\"#555\">{}</text>",
            W - RIGHT + 6.0,
            y + 4.0,
            fmt_tick(t)
        );
    }
    let _ = writeln!(
        s,
        "<text transform=\"translate({:.1},{:.1}) rotate(90)\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        W - 12.0,
        TOP + PLOT_H / 2.0,
        esc(label)
    );
}

/// The axes, the category labels and the axis labels.
fn axes(s: &mut String, categories: &[String], x_label: &str, y_label: &str) {
    let n = categories.len().max(1);
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"black\"/><line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
        TOP + PLOT_H,
        TOP + PLOT_H,
        W - RIGHT,
        TOP + PLOT_H
    );
    for (i, c) in categories.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x_at(i, n),
            TOP + PLOT_H + 18.0,
            esc(c)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n<text transform=\"translate(16,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        LEFT + PLOT_W / 2.0,
        H - 30.0,
        esc(x_label),
        TOP + PLOT_H / 2.0,
        esc(y_label)
    );
}

/// Each series as a polyline with a dot per value; colours continue from `offset`.
fn draw_series(s: &mut String, n: usize, ss: &[Series], max: f64, offset: usize, dashed: bool) {
    for (k, se) in ss.iter().enumerate() {
        let color = COLORS[(k + offset) % COLORS.len()];
        let pts: Vec<String> = se
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x_at(i, n), y_at(v, max))))
            .collect();
        let dash = if dashed { DASH } else { "" };
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
            pts.join(" ")
        );
        for (i, v) in se.values.iter().enumerate() {
            if let Some(v) = v {
                let _ = writeln!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                    x_at(i, n),
                    y_at(*v, max)
                );
            }
        }
    }
}

/// The marked points, ringed and labelled, on the axis each belongs to.
fn draw_marks(s: &mut String, n: usize, marks: &[Mark], ymax: f64, rmax: Option<f64>) {
    for m in marks {
        let max = match (rmax, m.right_axis) {
            (Some(rmax), true) => rmax,
            _ => ymax,
        };
        let (x, y) = (x_at(m.x_index, n), y_at(m.y, max));
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"7\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            y - 12.0,
            esc(&m.label)
        );
    }
}

/// The legend: four entries a row, right-axis series dashed.
fn legend(s: &mut String, left: &[Series], right: &[Series]) {
    let all = left
        .iter()
        .map(|s| (s.label.as_str(), false))
        .chain(right.iter().map(|s| (s.label.as_str(), true)));
    for (k, (label, dashed)) in all.enumerate() {
        let x = LEFT + (k % 4) as f64 * 150.0;
        let y = H - 12.0 - (k / 4) as f64 * 14.0;
        let dash = if dashed { DASH } else { "" };
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2\"{dash}/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 4.0,
            x + 20.0,
            y - 4.0,
            COLORS[k % COLORS.len()],
            x + 24.0,
            esc(label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_axis(9.3), (10.0, 2.0));
        assert_eq!(nice_axis(0.00042), (0.0005, 0.0001));
        assert_eq!(nice_axis(0.0), (1.0, 0.2));
    }

    #[test]
    fn chart_is_well_formed_and_stable() {
        let series = vec![Series {
            label: "W=1 <x>".into(),
            values: vec![Some(1.0), None, Some(3.0)],
        }];
        let chart = || {
            line_chart(
                "t",
                "x",
                &["a".into(), "b".into(), "c".into()],
                "y",
                &series,
                None,
                &[],
            )
        };
        let (a, b) = (chart(), chart());
        assert_eq!(a, b);
        assert!(a.starts_with("<svg") && a.ends_with("</svg>\n"));
        assert!(a.contains("W=1 &lt;x&gt;"));
        assert_eq!(a.matches("<polyline").count(), 1);
    }
}
