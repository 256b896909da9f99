//! Writes a laid-out graph as a standalone SVG document (no scripts, no external references),
//! optionally coloured by each state's status in one execution.
//!
//! Every state's group carries `data-state` (its name) and `data-status`, which the console's
//! script uses to show a state's input and output on click. All text is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::layout::{Layout, Rect};
use super::status::{StateRun, StateStatus};
use super::{EdgeStyle, Graph, NodeKind};

const STYLE: &str = "\
text{font-family:Helvetica,Arial,sans-serif;font-size:12px;fill:#16191f}\
.detail{font-size:10px;fill:#5f6b7a}\
.node rect{fill:#fff;stroke:#8d99a8;stroke-width:1.2}\
.terminal rect{fill:#f2f3f3}\
.box>rect{fill:#fafafa;stroke:#8d99a8;stroke-dasharray:0}\
.body{fill:none;stroke:#c6ccd5;stroke-dasharray:4 3}\
.edge{fill:none;stroke:#5f6b7a;stroke-width:1.2;marker-end:url(#arrow)}\
.edge.catch{stroke:#d45b07;stroke-dasharray:5 4}\
.elabel{font-size:10px;fill:#414d5c;paint-order:stroke;stroke:#fff;stroke-width:3px}\
.s-succeeded rect{fill:#e9f6e6;stroke:#037f0c;stroke-width:2}\
.s-failed rect{fill:#fdeceb;stroke:#d91515;stroke-width:2}\
.s-caught rect{fill:#fff4e0;stroke:#d45b07;stroke-width:2}\
.s-running rect{fill:#e8f2fd;stroke:#0972d3;stroke-width:2}\
.s-not-run rect{fill:#fff;stroke:#b6bec9}\
.s-cancelled rect{fill:#f2f3f3;stroke:#7d8998;stroke-dasharray:3 2}\
.state{cursor:pointer}";

/// Escapes text for SVG/XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The SVG document of `graph` laid out as `layout`; states coloured by `runs` when given.
pub fn render_svg(
    graph: &Graph,
    layout: &Layout,
    runs: Option<&BTreeMap<String, StateRun>>,
) -> String {
    let mut s = String::new();
    // The legend takes two rows of three entries.
    let (legend_w, legend_h) = if runs.is_some() { (330, 48) } else { (0, 0) };
    let (w, h) = (
        layout.width.max(160).max(legend_w),
        layout.height + legend_h,
    );
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"stepsim-graph\" width=\"{w}\" \
         height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n<style>{STYLE}</style>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5f6b7a\"/></marker></defs>\n"
    );
    let status_of = |name: &str| -> Option<StateStatus> {
        runs.map(|r| r.get(name).map_or(StateStatus::NotRun, |x| x.status))
    };
    // Boxes (Parallel, Map) outermost first, so inner ones are drawn over them.
    for scope in graph.scopes() {
        for &m in &scope.members {
            let node = &graph.nodes[m];
            if node.children.is_empty() {
                continue;
            }
            let status = status_of(&node.label);
            open_group(&mut s, "node state box", &node.label, status);
            rect(&mut s, layout.nodes[m], 8);
            let r = layout.nodes[m];
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text><text class=\"detail\" \
                 x=\"{}\" y=\"{}\">{}</text>",
                r.x + 10,
                r.y + 18,
                escape(&node.label),
                r.x + 10,
                r.y + 33,
                escape(node.detail.as_deref().unwrap_or_default())
            );
            for (owner, b) in &layout.bodies {
                if *owner == m {
                    let _ = writeln!(
                        s,
                        "<rect class=\"body\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"/>",
                        b.x, b.y, b.w, b.h
                    );
                }
            }
            s.push_str("</g>\n");
        }
    }
    for e in &layout.edges {
        let class = match e.style {
            EdgeStyle::Normal => "edge",
            EdgeStyle::Catch => "edge catch",
        };
        let _ = writeln!(s, "<path class=\"{class}\" d=\"{}\"/>", e.d);
        if let Some(l) = &e.label {
            let _ = writeln!(
                s,
                "<text class=\"elabel\" x=\"{}\" y=\"{}\">{}</text>",
                e.label_at.0,
                e.label_at.1,
                escape(l)
            );
        }
    }
    for (id, node) in graph.nodes.iter().enumerate() {
        if !node.children.is_empty() {
            continue;
        }
        let r = layout.nodes[id];
        match node.kind {
            NodeKind::Start | NodeKind::End => {
                s.push_str("<g class=\"node terminal\">");
                rect(&mut s, r, r.h / 2);
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
                    r.cx(),
                    r.cy() + 4,
                    escape(&node.label)
                );
            }
            NodeKind::State { .. } => {
                let status = status_of(&node.label);
                open_group(&mut s, "node state", &node.label, status);
                rect(&mut s, r, 6);
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text><text class=\"detail\" \
                     x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
                    r.cx(),
                    r.y + 19,
                    escape(&node.label),
                    r.cx(),
                    r.y + 34,
                    escape(node.detail.as_deref().unwrap_or_default())
                );
            }
        }
    }
    if runs.is_some() {
        legend(&mut s, layout.height + 4);
    }
    s.push_str("</svg>\n");
    s
}

fn open_group(s: &mut String, class: &str, name: &str, status: Option<StateStatus>) {
    let name = escape(name);
    match status {
        Some(st) => {
            let _ = writeln!(
                s,
                "<g class=\"{class} s-{}\" data-state=\"{name}\" data-status=\"{}\">\
                 <title>{name}: {}</title>",
                st.as_str(),
                st.as_str(),
                st.label()
            );
        }
        None => {
            let _ = writeln!(
                s,
                "<g class=\"{class}\" data-state=\"{name}\"><title>{name}</title>"
            );
        }
    }
}

fn rect(s: &mut String, r: Rect, radius: i64) {
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{radius}\"/>",
        r.x, r.y, r.w, r.h
    );
}

fn legend(s: &mut String, top: i64) {
    let mut x = 16;
    let mut y = top;
    for (i, st) in [
        StateStatus::Succeeded,
        StateStatus::Failed,
        StateStatus::Caught,
        StateStatus::Cancelled,
        StateStatus::Running,
        StateStatus::NotRun,
    ]
    .into_iter()
    .enumerate()
    {
        if i == 3 {
            x = 16;
            y += 20;
        }
        let _ = writeln!(
            s,
            "<g class=\"s-{}\"><rect x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" rx=\"3\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            st.as_str(),
            x + 20,
            y + 11,
            st.label()
        );
        x += 28 + 8 * st.label().len() as i64;
    }
}

/// The definition's graph as SVG, uncoloured.
pub fn definition_svg(machine: &crate::asl::model::StateMachine) -> String {
    let g = super::build(machine);
    let l = super::layout(&g);
    render_svg(&g, &l, None)
}

/// An execution's graph as SVG, coloured by each state's status in `history`.
pub fn execution_svg(
    machine: &crate::asl::model::StateMachine,
    history: &[crate::engine::history::HistoryEvent],
    finished: bool,
) -> String {
    let g = super::build(machine);
    let l = super::layout(&g);
    let runs = super::state_runs(machine, history, finished);
    render_svg(&g, &l, Some(&runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escape("x\u{1}y"), "x y");
    }
}
