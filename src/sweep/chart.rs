//! SVG charts for sweep reports: the renderer. [`super::figures`] decides what each chart
//! shows; this module owns layout and drawing. The output is a pure function of the data
//! (fixed number formatting, no timestamps, no font metrics), so charts are byte-identical
//! between runs and machines.
//!
//! Why our own SVG writer and not `plotters`: plotters lays text out with font metrics (its
//! `ttf`/`ab_glyph` features read system or bundled fonts; without them it still estimates
//! sizes to place labels), and its SVG output of a line chart is one element per segment with
//! no room for what these charts need most: a legend and a picks table outside the plot,
//! hollow "measured" markers beside the simulated ones, log2 axes ticked at the swept values,
//! and labels that never cover data. Here every text width is an estimate from the character
//! count ([`text_width`]), so layout never depends on the fonts installed; the viewer's font
//! only changes how the glyphs look. It also keeps the default build free of a plotting stack.
//!
//! Layout, left to right: the y-axis title and ticks, the plot (one or more stacked panels
//! sharing the x axis), then a side column with the legend and the picks table. The title and
//! notes sit above; x ticks and the x-axis title below. Nothing but series, spread bars and
//! pick marks is drawn inside a plot panel.
//!
//! The x axis ([`XKind`]) is chosen by [`XAxis::from_values`]:
//! - every value a number, all positive, and either all powers of two (at least two distinct
//!   values) or spanning at least 8x (max / min >= 8): a log2 axis with a tick at each value;
//! - every value a number otherwise: a linear axis, each value at its true position;
//! - anything else (strings, arrays, a mix): evenly spaced categories.
//!
//! Numeric tick labels that would overlap are thinned (the first kept, each next one drawn only
//! if it clears the last drawn); category labels are rotated when they would overlap, and
//! thinned only if even rotated they would not fit.

use std::fmt::Write;

/// Series colours (Tableau 10): the same series index gets the same colour in every chart.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f",
];

/// How the x values are placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XKind {
    /// Evenly spaced, in the grid's order.
    Categorical,
    /// Numbers at their true positions.
    Linear,
    /// Numbers at their log2 positions.
    Log2,
}

/// The x axis: its title, how values are placed, and one label (and number) per value.
#[derive(Clone, Debug)]
pub struct XAxis {
    pub title: String,
    pub kind: XKind,
    pub labels: Vec<String>,
    /// The numeric value of each label (its index for categorical axes).
    pub values: Vec<f64>,
}

impl XAxis {
    /// The axis for these labels and (where every one is a number) values; see the module doc.
    pub fn from_values(title: &str, labels: Vec<String>, numbers: Option<Vec<f64>>) -> XAxis {
        let kind = match &numbers {
            None => XKind::Categorical,
            Some(v) if log2_suits(v) => XKind::Log2,
            Some(v) if v.iter().all(|x| x.is_finite()) => XKind::Linear,
            Some(_) => XKind::Categorical,
        };
        let values = match (kind, numbers) {
            (XKind::Categorical, _) | (_, None) => (0..labels.len()).map(|i| i as f64).collect(),
            (_, Some(v)) => v,
        };
        XAxis {
            title: title.to_string(),
            kind,
            labels,
            values,
        }
    }
}

/// The log2 rule of the module doc.
pub fn log2_suits(values: &[f64]) -> bool {
    if values.is_empty() || !values.iter().all(|v| v.is_finite() && *v > 0.0) {
        return false;
    }
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    let pow2 = values.iter().all(|v| v.log2().fract() == 0.0);
    (pow2 && hi > lo) || hi / lo >= 8.0
}

/// One plotted value: the median, and the spread drawn as a bar (`lo == hi`: no bar).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub y: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Point {
    pub fn at(y: f64) -> Point {
        Point { y, lo: y, hi: y }
    }
}

/// One line of a panel.
#[derive(Clone, Debug)]
pub struct Line {
    pub label: String,
    /// Index into [`PALETTE`] (wraps).
    pub color: usize,
    /// One entry per x value (`None`: no value there).
    pub points: Vec<Option<Point>>,
    /// A measured baseline: dashed, hollow markers, one shared legend entry.
    pub measured: bool,
}

/// A marked point (a pick), ringed and labelled.
#[derive(Clone, Debug)]
pub struct Mark {
    pub x_index: usize,
    pub y: f64,
    pub label: String,
}

/// One plot area with its own y axis (from 0).
#[derive(Clone, Debug)]
pub struct Panel {
    pub y_title: String,
    pub lines: Vec<Line>,
    pub marks: Vec<Mark>,
}

/// A whole chart.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    /// Lines under the title (wrapped to the chart's width).
    pub notes: Vec<String>,
    pub x: XAxis,
    /// Stacked top to bottom, sharing the x axis.
    pub panels: Vec<Panel>,
    /// Lines of the table under the legend (the picks); empty: none.
    pub side: Vec<String>,
}

const LEFT: f64 = 84.0;
const PLOT_W: f64 = 560.0;
const PANEL_H: f64 = 280.0;
const PANEL_GAP: f64 = 28.0;
const PAD: f64 = 24.0;
const FONT: f64 = 12.0;
const LINE_H: f64 = 16.0;
const DASH: &str = " stroke-dasharray=\"6 4\"";
/// Longest label drawn in full; longer ones end in "...".
const MAX_LABEL: usize = 44;
/// The side column's widest text, and its indent for continuation lines.
const SIDE_MAX: f64 = 340.0;
const SIDE_INDENT: f64 = 12.0;

/// The estimated width of `s` at `size` px: 0.6 em a character, the average of a sans-serif
/// face's glyphs, so layout does not depend on which font the viewer has.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.6
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max.saturating_sub(3)).collect();
        format!("{head}...")
    }
}

/// `text` broken at spaces into lines of at most `max` characters.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// A "nice" upper bound and tick step for an axis from 0 to `max`.
pub fn nice_axis(max: f64) -> (f64, f64) {
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

/// A tick label: integers plain, others with at most the digits they need.
pub fn fmt_tick(v: f64) -> String {
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

/// The tick values 0, `step`, ... up to `max`.
fn ticks(max: f64, step: f64) -> Vec<f64> {
    let n = (max / step).round() as usize;
    (0..=n).map(|k| k as f64 * step).collect()
}

/// Where the parts of a chart go.
struct Frame {
    width: f64,
    height: f64,
    top: f64,
    side_x: f64,
    side_w: f64,
    rotate: bool,
    /// Draw every `thin`-th category label.
    thin: usize,
}

impl Frame {
    fn panel_top(&self, k: usize) -> f64 {
        self.top + k as f64 * (PANEL_H + PANEL_GAP)
    }
}

impl Chart {
    /// The x pixel of value index `i`.
    fn x_at(&self, i: usize) -> f64 {
        let inner = PLOT_W - 2.0 * PAD;
        let pos = |v: f64| match self.x.kind {
            XKind::Log2 => v.log2(),
            _ => v,
        };
        let vals: Vec<f64> = self.x.values.iter().map(|v| pos(*v)).collect();
        let lo = vals.iter().copied().fold(f64::MAX, f64::min);
        let hi = vals.iter().copied().fold(f64::MIN, f64::max);
        match vals.get(i) {
            Some(v) if hi > lo => LEFT + PAD + inner * (v - lo) / (hi - lo),
            _ => LEFT + PLOT_W / 2.0,
        }
    }

    fn label_texts(&self) -> Vec<String> {
        self.x.labels.iter().map(|l| clip(l, 24)).collect()
    }

    /// Sizes every part from the data.
    fn frame(&self) -> Frame {
        let legend = self.legend_entries();
        let widest = legend
            .iter()
            .map(|(l, _, _)| text_width(l, FONT) + 30.0)
            .chain(
                self.side_lines()
                    .iter()
                    .map(|(l, ind)| text_width(l, FONT) + ind),
            )
            .fold(160.0f64, f64::max)
            .min(SIDE_MAX);
        let side_x = LEFT + PLOT_W + 24.0;
        let width = (side_x + widest + 12.0).ceil();
        let note_lines: usize = self.wrapped_notes(width).len();
        let top = 44.0 + note_lines as f64 * LINE_H;
        let labels = self.label_texts();
        let (rotate, thin) = self.category_layout(&labels);
        let longest = labels
            .iter()
            .map(|l| text_width(l, FONT))
            .fold(0.0, f64::max);
        let tick_h = if rotate { longest * 0.7 + 16.0 } else { 22.0 };
        let panels = self.panels.len().max(1) as f64;
        let plot_bottom = top + panels * PANEL_H + (panels - 1.0) * PANEL_GAP;
        let side_h = top + (legend.len() + self.side_lines().len() + 1) as f64 * LINE_H;
        let height = (plot_bottom + tick_h + 34.0).max(side_h + 10.0).ceil();
        Frame {
            width,
            height,
            top,
            side_x,
            side_w: widest,
            rotate,
            thin,
        }
    }

    /// The side table's lines, wrapped to the side column, with their indent in pixels: a
    /// line written with leading spaces, and every continuation, is indented.
    fn side_lines(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for line in &self.side {
            let text = line.trim_start();
            let indent = if text.len() < line.len() {
                SIDE_INDENT
            } else {
                0.0
            };
            let max = ((SIDE_MAX - indent - SIDE_INDENT) / (FONT * 0.6)) as usize;
            for (k, part) in wrap(text, max).into_iter().enumerate() {
                let ind = if k == 0 { indent } else { indent + SIDE_INDENT };
                out.push((clip(&part, max), ind));
            }
        }
        out
    }

    fn wrapped_notes(&self, width: f64) -> Vec<String> {
        let max = ((width - 20.0) / (FONT * 0.6)) as usize;
        self.notes
            .iter()
            .flat_map(|n| wrap(n, max.max(20)))
            .collect()
    }

    /// For categorical axes: whether labels must rotate, and how many to skip.
    fn category_layout(&self, labels: &[String]) -> (bool, usize) {
        if self.x.kind != XKind::Categorical || labels.len() < 2 {
            return (false, 1);
        }
        let gap = self.x_at(1) - self.x_at(0);
        let widest = labels
            .iter()
            .map(|l| text_width(l, FONT))
            .fold(0.0, f64::max);
        if widest + 6.0 <= gap {
            return (false, 1);
        }
        // Rotated labels need about one line height of room each.
        let thin = ((LINE_H + 2.0) / gap).ceil().max(1.0) as usize;
        (true, thin)
    }

    /// The legend: each simulated line once (by label), then one "measured" entry.
    fn legend_entries(&self) -> Vec<(String, usize, bool)> {
        let mut out: Vec<(String, usize, bool)> = Vec::new();
        let mut measured = false;
        for l in self.panels.iter().flat_map(|p| p.lines.iter()) {
            if l.measured {
                measured = true;
            } else if !out
                .iter()
                .any(|(label, _, _)| label == &clip(&l.label, MAX_LABEL))
            {
                out.push((clip(&l.label, MAX_LABEL), l.color, false));
            }
        }
        if measured {
            out.push(("measured (hollow, dashed)".into(), usize::MAX, true));
        }
        if self.panels.iter().any(has_bars) {
            out.push(("bar: min..max of repetitions".into(), usize::MAX - 1, false));
        }
        out
    }
}

fn has_bars(p: &Panel) -> bool {
    p.lines
        .iter()
        .flat_map(|l| l.points.iter().flatten())
        .any(|pt| pt.hi > pt.lo)
}

fn color(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

/// The chart as SVG text.
pub fn render(c: &Chart) -> String {
    let fr = c.frame();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"{FONT}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{:.1}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        fr.width / 2.0,
        esc(&c.title),
        w = fr.width,
        h = fr.height,
    );
    for (k, line) in c.wrapped_notes(fr.width).iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{:.1}\" fill=\"#333\">{}</text>",
            44.0 + k as f64 * LINE_H,
            esc(line)
        );
    }
    for (k, panel) in c.panels.iter().enumerate() {
        draw_panel(&mut s, c, &fr, k, panel);
    }
    x_ticks(&mut s, c, &fr);
    side_column(&mut s, c, &fr);
    s.push_str("</svg>\n");
    s
}

/// The y pixel of `v` on a panel whose top is `top` and axis runs 0..`max`.
fn y_at(v: f64, max: f64, top: f64) -> f64 {
    top + PANEL_H - PANEL_H * (v / max).clamp(0.0, 1.0)
}

/// One panel: grid, y axis, spread bars, lines, markers and pick marks.
fn draw_panel(s: &mut String, c: &Chart, fr: &Frame, k: usize, p: &Panel) {
    let top = fr.panel_top(k);
    let data_max = p
        .lines
        .iter()
        .flat_map(|l| l.points.iter().flatten())
        .map(|pt| pt.hi.max(pt.y))
        .chain(p.marks.iter().map(|m| m.y))
        .fold(0.0f64, f64::max);
    // Headroom so the top value's pick label stays inside the panel.
    let (ymax, ystep) = nice_axis(data_max * 1.08);
    for t in ticks(ymax, ystep) {
        let y = y_at(t, ymax, top);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + PLOT_W,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t)
        );
    }
    for i in 0..c.x.labels.len() {
        let x = c.x_at(i);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#f0f0f0\"/>",
            top + PANEL_H
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{PLOT_W}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"black\"/>\n<text transform=\"translate(18,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        top + PANEL_H / 2.0,
        esc(&clip(&p.y_title, 48))
    );
    for l in &p.lines {
        draw_line(s, c, l, ymax, top);
    }
    draw_marks(s, c, &p.marks, ymax, top);
}

/// A line: its spread bars, the polyline through its values, and a marker at each.
fn draw_line(s: &mut String, c: &Chart, l: &Line, ymax: f64, top: f64) {
    let col = color(l.color);
    let at: Vec<(f64, Point)> = l
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (c.x_at(i), p)))
        .collect();
    for (x, p) in &at {
        if p.hi > p.lo {
            let (y0, y1) = (y_at(p.lo, ymax, top), y_at(p.hi, ymax, top));
            let _ = writeln!(
                s,
                "<path d=\"M{:.1},{y0:.1}H{:.1}M{x:.1},{y0:.1}V{y1:.1}M{:.1},{y1:.1}H{:.1}\" stroke=\"{col}\" stroke-opacity=\"0.5\" fill=\"none\"/>",
                x - 3.0,
                x + 3.0,
                x - 3.0,
                x + 3.0
            );
        }
    }
    let pts: Vec<String> = at
        .iter()
        .map(|(x, p)| format!("{x:.1},{:.1}", y_at(p.y, ymax, top)))
        .collect();
    let (dash, width) = if l.measured { (DASH, "1.5") } else { ("", "2") };
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"{col}\" stroke-width=\"{width}\"{dash} points=\"{}\"/>",
        pts.join(" ")
    );
    for (x, p) in &at {
        let y = y_at(p.y, ymax, top);
        if l.measured {
            let _ = writeln!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\" fill=\"white\" stroke=\"{col}\" stroke-width=\"2\"/>"
            );
        } else {
            let _ = writeln!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{col}\"/>"
            );
        }
    }
}

/// Pick marks: a ring at the point and a boxed label above it, stacked upwards when labels
/// would collide, with a leader line from label to ring.
fn draw_marks(s: &mut String, c: &Chart, marks: &[Mark], ymax: f64, top: f64) {
    let mut placed: Vec<(f64, f64, f64)> = Vec::new(); // label centre x, baseline y, half width
    for m in marks {
        let (x, y) = (c.x_at(m.x_index), y_at(m.y, ymax, top));
        let half = text_width(&m.label, FONT) / 2.0 + 4.0;
        // Keep the label inside the plot horizontally.
        let lx = x.clamp(LEFT + half + 2.0, LEFT + PLOT_W - half - 2.0);
        let mut ly = y - 16.0;
        while placed
            .iter()
            .any(|(px, py, ph)| (px - lx).abs() < ph + half && (py - ly).abs() < LINE_H + 2.0)
        {
            ly -= LINE_H + 2.0;
        }
        // Below the point if there is no room above.
        if ly - FONT < top {
            ly = y + 26.0;
        }
        placed.push((lx, ly, half));
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"8\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{lx:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-width=\"0.8\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"black\" stroke-width=\"0.5\"/><text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            if ly < y { y - 8.0 } else { y + 8.0 },
            if ly < y { ly + 4.0 } else { ly - FONT - 1.0 },
            lx - half,
            ly - FONT - 1.0,
            2.0 * half,
            FONT + 5.0,
            esc(&m.label)
        );
    }
}

/// The x tick labels under the bottom panel and the x-axis title.
fn x_ticks(s: &mut String, c: &Chart, fr: &Frame) {
    let bottom = fr.panel_top(c.panels.len().max(1) - 1) + PANEL_H;
    let labels = c.label_texts();
    let mut last_right = f64::MIN;
    for (i, l) in labels.iter().enumerate() {
        let x = c.x_at(i);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
            bottom + 4.0
        );
        if fr.rotate {
            if i % fr.thin != 0 {
                continue;
            }
            let _ = writeln!(
                s,
                "<text transform=\"translate({x:.1},{:.1}) rotate(-40)\" text-anchor=\"end\">{}</text>",
                bottom + 14.0,
                esc(l)
            );
            continue;
        }
        let half = text_width(l, FONT) / 2.0;
        if x - half < last_right + 6.0 {
            continue;
        }
        last_right = x + half;
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 18.0,
            esc(l)
        );
    }
    let scale = match c.x.kind {
        XKind::Log2 => " (log2 scale)",
        XKind::Linear | XKind::Categorical => "",
    };
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{scale}</text>",
        LEFT + PLOT_W / 2.0,
        fr.height - 10.0,
        esc(&c.x.title)
    );
}

/// The legend and, under it, the side table.
fn side_column(s: &mut String, c: &Chart, fr: &Frame) {
    let x = fr.side_x;
    let max_chars = ((fr.side_w - 28.0) / (FONT * 0.6)) as usize;
    let mut y = fr.top + 4.0;
    for (label, col, measured) in c.legend_entries() {
        let swatch = if col == usize::MAX - 1 {
            format!(
                "<path d=\"M{:.1},{:.1}V{:.1}M{:.1},{:.1}H{:.1}M{:.1},{:.1}H{:.1}\" stroke=\"#555\" fill=\"none\"/>",
                x + 10.0, y - 10.0, y + 2.0, x + 7.0, y - 10.0, x + 13.0, x + 7.0, y + 2.0, x + 13.0
            )
        } else if measured {
            format!(
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555\" stroke-width=\"1.5\"{DASH}/><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"white\" stroke=\"#555\" stroke-width=\"2\"/>",
                y - 4.0, x + 22.0, y - 4.0, x + 11.0, y - 4.0
            )
        } else {
            format!(
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-width=\"2\"/><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{c}\"/>",
                y - 4.0, x + 22.0, y - 4.0, x + 11.0, y - 4.0, c = color(col)
            )
        };
        let _ = writeln!(
            s,
            "{swatch}<text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            x + 28.0,
            esc(&clip(&label, max_chars))
        );
        y += LINE_H;
    }
    y += LINE_H / 2.0;
    for (k, (line, indent)) in c.side_lines().iter().enumerate() {
        let weight = if k == 0 { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{y:.1}\"{weight}>{}</text>",
            x + indent,
            esc(line)
        );
        y += LINE_H;
    }
}

/// A one-panel categorical line chart with an optional second panel (the right-axis series of
/// the charts before [`Chart`]); kept for callers that build series by hand.
pub fn line_chart(
    title: &str,
    x_label: &str,
    categories: &[String],
    y_label: &str,
    series: &[Series],
    right: Option<(&str, &[Series])>,
    marks: &[Mark],
) -> String {
    let lines = |ss: &[Series], offset: usize| -> Vec<Line> {
        ss.iter()
            .enumerate()
            .map(|(k, se)| Line {
                label: se.label.clone(),
                color: k + offset,
                points: se.values.iter().map(|v| v.map(Point::at)).collect(),
                measured: false,
            })
            .collect()
    };
    let mut panels = vec![Panel {
        y_title: y_label.to_string(),
        lines: lines(series, 0),
        marks: marks.to_vec(),
    }];
    if let Some((label, ss)) = right {
        panels.push(Panel {
            y_title: label.to_string(),
            lines: lines(ss, series.len()),
            marks: Vec::new(),
        });
    }
    render(&Chart {
        title: title.to_string(),
        notes: Vec::new(),
        x: XAxis::from_values(x_label, categories.to_vec(), None),
        panels,
        side: Vec::new(),
    })
}

/// One line of a [`line_chart`].
pub struct Series {
    pub label: String,
    /// One value per x category (`None` leaves a gap).
    pub values: Vec<Option<f64>>,
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

    #[test]
    fn the_x_axis_follows_the_rule() {
        let kind = |v: &[f64]| {
            let labels = v.iter().map(|x| x.to_string()).collect();
            XAxis::from_values("x", labels, Some(v.to_vec())).kind
        };
        // Powers of two: log2, even when the span is small.
        assert_eq!(kind(&[8.0, 16.0, 32.0, 64.0, 128.0]), XKind::Log2);
        assert_eq!(kind(&[1.0, 2.0, 4.0]), XKind::Log2);
        // Not all powers of two but spanning 80x (Lambda memory sizes): log2.
        assert_eq!(kind(&[128.0, 1769.0, 3008.0, 10240.0]), XKind::Log2);
        // World sizes 1..4: linear, at true positions.
        assert_eq!(kind(&[1.0, 2.0, 3.0, 4.0]), XKind::Linear);
        assert_eq!(kind(&[25.0, 50.0, 75.0, 100.0]), XKind::Linear);
        assert_eq!(kind(&[0.0, 8.0, 64.0]), XKind::Linear);
        assert_eq!(kind(&[4.0]), XKind::Linear);
        let cat = XAxis::from_values("x", vec!["a".into(), "b".into()], None);
        assert_eq!((cat.kind, cat.values), (XKind::Categorical, vec![0.0, 1.0]));
    }

    fn one_line_chart(labels: &[&str], numbers: Option<Vec<f64>>) -> Chart {
        let n = labels.len();
        Chart {
            title: "t".into(),
            notes: vec![],
            x: XAxis::from_values("x", labels.iter().map(|s| s.to_string()).collect(), numbers),
            panels: vec![Panel {
                y_title: "y".into(),
                lines: vec![Line {
                    label: "a".into(),
                    color: 0,
                    points: (0..n).map(|i| Some(Point::at(i as f64 + 1.0))).collect(),
                    measured: false,
                }],
                marks: vec![],
            }],
            side: vec![],
        }
    }

    #[test]
    fn linear_and_log_positions_are_true() {
        let c = one_line_chart(&["1", "2", "4"], Some(vec![1.0, 2.0, 4.0]));
        // log2: 1, 2, 4 evenly spaced.
        let (a, b, d) = (c.x_at(0), c.x_at(1), c.x_at(2));
        assert!(((b - a) - (d - b)).abs() < 1e-9);
        let c = one_line_chart(&["1", "2", "3", "10"], Some(vec![1.0, 2.0, 3.0, 10.0]));
        assert_eq!(c.x.kind, XKind::Log2);
        let c = one_line_chart(&["1", "2", "5"], Some(vec![1.0, 2.0, 5.0]));
        assert_eq!(c.x.kind, XKind::Linear);
        // 1 -> 2 is a quarter of 1 -> 5.
        let (a, b, d) = (c.x_at(0), c.x_at(1), c.x_at(2));
        assert!(((b - a) * 4.0 - (d - a)).abs() < 1e-9);
    }

    #[test]
    fn many_categories_rotate_and_crowded_numbers_thin() {
        let labels: Vec<String> = (0..12).map(|i| format!("config-{i}")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let svg = render(&one_line_chart(&refs, None));
        assert_eq!(svg.matches("rotate(-40)").count(), 12, "{svg}");
        // 100 values 1..100 on a linear axis: far fewer than 100 labels drawn.
        let nums: Vec<f64> = (1..=100).map(f64::from).collect();
        let labels: Vec<String> = nums.iter().map(|v| v.to_string()).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let svg = render(&one_line_chart(&refs, Some(nums)));
        let drawn = svg.matches("text-anchor=\"middle\">").count();
        assert!(drawn < 40, "{drawn} labels");
    }

    #[test]
    fn the_legend_is_outside_the_plot() {
        let svg = render(&one_line_chart(&["a", "b"], None));
        let legend_x = LEFT + PLOT_W + 24.0 + 28.0;
        assert!(svg.contains(&format!("<text x=\"{legend_x:.1}\"")), "{svg}");
    }
}
