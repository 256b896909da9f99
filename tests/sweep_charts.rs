//! Sweep charts as a reader sees them: memory on the x axis of a two-parameter Power Tuning
//! sweep, legends and the picks table outside the plot, pick labels that do not collide, the
//! same colour for a line in every chart, measured baselines drawn, picks with noise verdicts,
//! report.md listing exactly the files written, byte-identical output, and every chart kind
//! rasterized (resvg) to a PNG that is not blank and shows each line's colour in the plot.

use std::path::{Path, PathBuf};

use stepsim::project::Project;
use stepsim::sweep::{report, run, Row, SweepOptions, SweepSpec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spec_file(rel: &str) -> SweepSpec {
    let path = root().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    SweepSpec::parse(&text, &path).expect("valid spec")
}

fn fixture_spec(text: &str) -> SweepSpec {
    let dir = root().join("tests/fixtures/lambda-chain");
    SweepSpec::parse(text, &dir.join("inline.toml")).expect("valid spec")
}

fn rows(spec: &SweepSpec, jobs: usize) -> Vec<Row> {
    let project = Project::load(&spec.definition).unwrap();
    let options = SweepOptions {
        jobs,
        store: "memory".into(),
    };
    run::run(spec, &project, &options, &|_, _| {}).unwrap()
}

fn charts(spec: &SweepSpec, rows: &[Row]) -> Vec<(String, String)> {
    let points = report::summarize(spec, rows);
    report::charts(spec, &points)
}

fn chart<'a>(charts: &'a [(String, String)], name: &str) -> &'a str {
    &charts
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

/// The number after `key="` in `s`.
fn attr(s: &str, key: &str) -> Option<f64> {
    let at = s.find(&format!("{key}=\""))? + key.len() + 2;
    s[at..].split('"').next()?.parse().ok()
}

/// The panels' plot rectangles: (x, y, width, height).
fn panels(svg: &str) -> Vec<(f64, f64, f64, f64)> {
    svg.lines()
        .filter(|l| l.starts_with("<rect x=") && l.contains("fill=\"none\" stroke=\"black\"/>"))
        .map(|l| {
            (
                attr(l, "x").unwrap(),
                attr(l, "y").unwrap(),
                attr(l, "width").unwrap(),
                attr(l, "height").unwrap(),
            )
        })
        .collect()
}

/// Legend entries: (label, colour, text x).
fn legend(svg: &str) -> Vec<(String, String, f64)> {
    svg.lines()
        .filter(|l| l.contains("stroke-width=\"2\"/><circle") && l.contains("</text>"))
        .map(|l| {
            let color = l.split("fill=\"").nth(1).unwrap()[..7].to_string();
            let text_at = l.rfind("<text").unwrap();
            let label = l[text_at..]
                .split('>')
                .nth(1)
                .unwrap()
                .trim_end_matches("</text")
                .to_string();
            (label, color, attr(&l[text_at..], "x").unwrap())
        })
        .collect()
}

/// Pick-label boxes: (x, y, width, height).
fn pick_boxes(svg: &str) -> Vec<(f64, f64, f64, f64)> {
    svg.lines()
        .filter(|l| l.contains("fill-opacity=\"0.85\""))
        .map(|l| {
            let r = &l[l.find("<rect").unwrap()..];
            (
                attr(r, "x").unwrap(),
                attr(r, "y").unwrap(),
                attr(r, "width").unwrap(),
                attr(r, "height").unwrap(),
            )
        })
        .collect()
}

const TWO_D: &str = "tests/data/power-tuning-2d.toml";

#[test]
fn two_parameter_power_tuning_puts_memory_on_x_and_keeps_marks_apart() {
    let spec = spec_file(TWO_D);
    let r = rows(&spec, 2);
    let all = charts(&spec, &r);
    let svg = chart(&all, "power-tuning.svg");
    // Memory is the x axis although it is the first grid key; one line per world size.
    assert!(
        svg.contains(">inference.memory_mb (log2 scale)</text>"),
        "{svg}"
    );
    for v in ["128", "512", "1024", "1769", "3008", "10240"] {
        assert!(
            svg.contains(&format!("text-anchor=\"middle\">{v}</text>")),
            "{v}"
        );
    }
    let entries = legend(svg);
    let labels: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(labels, ["world_size=1", "world_size=2", "world_size=4"]);
    // The legend and the picks table sit right of every plot panel.
    let ps = panels(svg);
    assert_eq!(ps.len(), 2, "duration and cost panels");
    let plot_right = ps.iter().map(|p| p.0 + p.2).fold(0.0, f64::max);
    for (label, _, x) in &entries {
        assert!(*x > plot_right, "{label} at {x}");
    }
    assert!(svg.contains(">Power Tuning picks</text>"));
    for word in ["cheapest", "fastest", "balanced"] {
        assert!(
            svg.contains(&format!("{word}: inference.memory_mb=")),
            "{word}"
        );
    }
    // Every pick is labelled on both panels, and no two labels overlap.
    let boxes = pick_boxes(svg);
    let texts: Vec<&str> = svg
        .lines()
        .filter(|l| l.contains("fill-opacity=\"0.85\""))
        .collect();
    for word in ["cheapest", "fastest", "balanced"] {
        let n = texts
            .iter()
            .filter(|t| t.contains(&format!("{word}</text>")) || t.contains(&format!("{word} +")))
            .count();
        assert_eq!(n, 2, "{word} on both panels");
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "pick labels overlap: {a:?} {b:?}");
        }
        // Inside the plot horizontally.
        assert!(a.0 >= ps[0].0 && a.0 + a.2 <= plot_right, "{a:?}");
    }
}

#[test]
fn a_line_has_the_same_colour_in_every_chart() {
    let spec = spec_file(TWO_D);
    let r = rows(&spec, 2);
    let all = charts(&spec, &r);
    let first = legend(chart(&all, "duration.svg"));
    assert_eq!(first.len(), 3);
    for name in ["cost.svg", "throughput.svg", "power-tuning.svg"] {
        let other = legend(chart(&all, name));
        let a: Vec<(&str, &str)> = first.iter().map(|e| (&*e.0, &*e.1)).collect();
        let b: Vec<(&str, &str)> = other.iter().map(|e| (&*e.0, &*e.1)).collect();
        assert_eq!(a, b, "{name}");
    }
    // Distinct lines, distinct colours.
    assert_ne!(first[0].1, first[1].1);
    assert_ne!(first[1].1, first[2].1);
}

#[test]
fn charts_are_byte_identical_whatever_the_jobs() {
    let spec = spec_file(TWO_D);
    let a = charts(&spec, &rows(&spec, 1));
    let b = charts(&spec, &rows(&spec, 3));
    assert_eq!(a, b);
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "duration.svg",
            "cost.svg",
            "throughput.svg",
            "power-tuning.svg"
        ]
    );
}

const BASELINE: &str = r#"
name = "baseline"
repetitions = 3
seed = 11
spacing_seconds = 30
records = "n * 10"
[grid]
n = [1, 2]
"functions.work.memory_mb" = [256, 512, 1024]
[set]
items = [1, 2, 3]
[[baseline]]
n = 1
"work.memory_mb" = 256
duration_seconds = 2.5
throughput_rps = 4.0
[[baseline]]
n = 1
"work.memory_mb" = 1024
duration_seconds = 1.5
[[baseline]]
n = 2
"work.memory_mb" = 512
duration_seconds = 1.0
"#;

#[test]
fn measured_baselines_are_drawn_beside_the_simulated_lines() {
    let spec = fixture_spec(BASELINE);
    let all = charts(&spec, &rows(&spec, 2));
    let hollow = |svg: &str| svg.matches("r=\"4.5\" fill=\"white\"").count();
    let duration = chart(&all, "duration.svg");
    // Three measured points plus the legend's swatch.
    assert_eq!(hollow(duration), 4, "{duration}");
    assert!(duration.contains(">measured (hollow, dashed)</text>"));
    // Each measured line is dashed in its simulated line's colour.
    let entries = legend(duration);
    for (_, color, _) in &entries {
        let dashed = format!("stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray");
        assert!(duration.contains(&dashed), "{color}");
    }
    let throughput = chart(&all, "throughput.svg");
    assert_eq!(hollow(throughput), 2);
    // No baseline has a cost: no measured markers and no "measured" legend entry.
    let cost = chart(&all, "cost.svg");
    assert_eq!(hollow(cost), 0);
    assert!(!cost.contains("measured"));
    // batch-like axes: 256, 512, 1024 are powers of two.
    assert!(duration.contains("work.memory_mb (log2 scale)"));
}

#[test]
fn report_lists_exactly_the_files_written_and_judges_noise() {
    let dir = tempfile::tempdir().unwrap();
    // No `records`: no throughput, so no throughput.svg.
    let spec = fixture_spec(
        "name = \"no records\"\nrepetitions = 1\nseed = 3\n[grid]\n\"functions.work.memory_mb\" = [128, 1024]\n[set]\nitems = [1, 2]\n",
    );
    let r = rows(&spec, 1);
    let written = report::write_all(dir.path(), &spec, &r).unwrap();
    let svgs: Vec<&str> = written
        .iter()
        .map(String::as_str)
        .filter(|n| n.ends_with(".svg"))
        .collect();
    assert_eq!(svgs, ["duration.svg", "cost.svg", "graph.svg"]);
    assert!(!dir.path().join("throughput.svg").exists());
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("\n- duration.svg, cost.svg, graph.svg\n"),
        "{md}"
    );
    assert!(!md.contains("throughput.svg"));
    // One repetition: noise cannot be judged, and the report says so.
    assert!(
        md.contains("noise cannot be judged from 1 successful repetition"),
        "{md}"
    );
    let duration = std::fs::read_to_string(dir.path().join("duration.svg")).unwrap();
    assert!(duration.contains("noise cannot be judged"), "{duration}");
}

#[test]
fn picks_within_noise_are_named_in_the_report_and_on_the_chart() {
    let spec = spec_file(TWO_D);
    let r = rows(&spec, 2);
    let points = report::summarize(&spec, &r);
    let md = report::report_md(&spec, &r, &points);
    let fastest = md.lines().find(|l| l.starts_with("- Fastest: ")).unwrap();
    // 3 repetitions: a verdict, one way or the other.
    assert!(
        fastest.contains("within noise of") || fastest.contains("no other point within noise"),
        "{fastest}"
    );
    assert!(
        md.contains("larger interquartile range"),
        "the rule is stated"
    );
    let all = report::charts(&spec, &points);
    let duration = chart(&all, "duration.svg");
    assert!(
        duration.contains("fastest: inference.memory_mb="),
        "{duration}"
    );
}

/// Rasterizes `svg` (no text: the default-features-free resvg draws shapes only), writes the
/// PNG beside the test's temp dir, and returns (width, height, RGBA pixels).
fn rasterize(svg: &str, png: &Path) -> (u32, u32, Vec<u8>) {
    use resvg::{tiny_skia, usvg};
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).expect("valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(png).unwrap();
    (size.width(), size.height(), pixmap.data().to_vec())
}

fn hex(c: &str) -> [u8; 3] {
    let v = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap();
    [v(1), v(3), v(5)]
}

#[test]
fn every_chart_kind_renders_to_a_png_that_is_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_file(TWO_D);
    let all = charts(&spec, &rows(&spec, 2));
    let baseline = fixture_spec(BASELINE);
    let measured = charts(&baseline, &rows(&baseline, 2));
    let cases = [
        ("duration.svg", chart(&all, "duration.svg")),
        ("cost.svg", chart(&all, "cost.svg")),
        ("throughput.svg", chart(&all, "throughput.svg")),
        ("power-tuning.svg", chart(&all, "power-tuning.svg")),
        ("measured-duration.svg", chart(&measured, "duration.svg")),
    ];
    for (name, svg) in cases {
        let png = dir.path().join(name.replace(".svg", ".png"));
        let (w, h, px) = rasterize(svg, &png);
        assert!(std::fs::metadata(&png).unwrap().len() > 1000, "{name}");
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 4) as usize;
            [px[i], px[i + 1], px[i + 2]]
        };
        let non_white = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|(x, y)| at(*x, *y) != [255, 255, 255])
            .count();
        let share = non_white as f64 / (w * h) as f64;
        assert!(share > 0.02, "{name}: {share:.4} of the pixels drawn");
        // Each line's colour appears inside a plot panel.
        let entries = legend(svg);
        assert!(entries.len() >= 2, "{name}: {entries:?}");
        for (label, color, _) in entries {
            let want = hex(&color);
            let hits = panels(svg)
                .iter()
                .map(|&(x0, y0, pw, ph)| {
                    let (x0, y0) = (x0 as u32 + 2, y0 as u32 + 2);
                    (y0..y0 + ph as u32 - 4)
                        .flat_map(|y| (x0..x0 + pw as u32 - 4).map(move |x| (x, y)))
                        .filter(|(x, y)| {
                            let p = at(*x, *y);
                            (0..3).all(|k| p[k].abs_diff(want[k]) <= 24)
                        })
                        .count()
                })
                .sum::<usize>();
            assert!(
                hits >= 30,
                "{name}: {label} ({color}) has {hits} pixels in the plot"
            );
        }
    }
}
