//! A deterministic layered layout of a [`Graph`], top to bottom, in whole pixels.
//!
//! Each scope (the top level, a Parallel branch, a Map body) is laid out on its own, innermost
//! first, and a Parallel or Map state is one node as big as its boxed bodies:
//!
//! 1. back edges (loops) are found by a depth-first walk from the scope's entry, following
//!    edges in definition order, and left out of the layering;
//! 2. longest-path layering puts every node one row below its lowest predecessor;
//! 3. four barycentric sweeps (down, up, down, up) order the nodes of each row by the mean
//!    position of their neighbours in the row before, ties kept in their previous order;
//! 4. each row is centred; forward edges are curves from the bottom of one node to the top of
//!    the next, loops and same-row edges run in lanes on the scope's right.
//!
//! No crate drew AWS-style nested clusters without pulling in a C library (graphviz) or a large
//! dependency tree; this is ~300 lines and lays out the COSMIC-AI machine in microseconds.
//! Everything is integer arithmetic over vectors in definition order, so the same graph always
//! gives the same numbers.

use std::collections::BTreeMap;

use super::{EdgeStyle, Graph, NodeKind, Scope};

/// A box, top-left corner plus size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

impl Rect {
    pub fn cx(&self) -> i64 {
        self.x + self.w / 2
    }
    pub fn cy(&self) -> i64 {
        self.y + self.h / 2
    }
    pub fn right(&self) -> i64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> i64 {
        self.y + self.h
    }
}

/// How one edge is drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgePath {
    /// SVG path data.
    pub d: String,
    pub style: EdgeStyle,
    pub label: Option<String>,
    /// Where the label's start goes.
    pub label_at: (i64, i64),
}

/// Positions of everything, in pixels from the drawing's top-left corner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub width: i64,
    pub height: i64,
    /// One box per node (by node id).
    pub nodes: Vec<Rect>,
    /// The boxes of Parallel branches and Map bodies, with the id of the state that owns them.
    pub bodies: Vec<(usize, Rect)>,
    pub edges: Vec<EdgePath>,
}

/// Approximate width of a character of the 12 px sans-serif labels.
const CHAR_W: i64 = 7;
const NODE_MIN_W: i64 = 120;
const NODE_H: i64 = 44;
const TERMINAL_W: i64 = 64;
const TERMINAL_H: i64 = 28;
const H_GAP: i64 = 28;
const V_GAP: i64 = 40;
/// The row gap when an edge into the row carries a label.
const V_GAP_LABEL: i64 = 56;
/// A Parallel/Map box: its title bar and its padding around the bodies.
const HEADER: i64 = 44;
const PAD: i64 = 14;
/// Room on a scope's right for each loop lane.
const LANE: i64 = 16;
const MARGIN: i64 = 16;
/// The width a long edge takes in a row it crosses.
const DUMMY_W: i64 = 12;

/// Lays out the whole graph.
pub fn layout(g: &Graph) -> Layout {
    let mut ctx = Ctx {
        g,
        rel: vec![Rect::default(); g.nodes.len()],
        row: vec![0; g.nodes.len()],
        bodies_rel: Vec::new(),
        lanes: BTreeMap::new(),
        waypoints: BTreeMap::new(),
    };
    let (w, h) = ctx.scope(&g.root);
    let mut out = Layout {
        width: w + 2 * MARGIN,
        height: h + 2 * MARGIN,
        nodes: vec![Rect::default(); g.nodes.len()],
        bodies: Vec::new(),
        edges: Vec::new(),
    };
    ctx.place(&g.root, MARGIN, MARGIN, &mut out);
    for scope in g.scopes() {
        route(&ctx, scope, &mut out);
    }
    out
}

struct Ctx<'a> {
    g: &'a Graph,
    /// Each node's box relative to its scope's origin (then to its owner's box).
    rel: Vec<Rect>,
    /// Each node's row in its scope.
    row: Vec<usize>,
    /// Body boxes relative to their owner's box.
    bodies_rel: Vec<(usize, Rect)>,
    /// Per scope (keyed by its first member): the x of its loop lanes' start, relative to
    /// that member.
    lanes: BTreeMap<usize, i64>,
    /// Per (scope's first member, edge index): the points a long edge passes through, relative
    /// to that member.
    waypoints: BTreeMap<(usize, usize), Vec<(i64, i64)>>,
}

impl Ctx<'_> {
    /// Lays out one scope with its origin at (0, 0); returns its size.
    fn scope(&mut self, scope: &Scope) -> (i64, i64) {
        for &m in &scope.members {
            let (w, h) = self.node_size(m);
            self.rel[m].w = w;
            self.rel[m].h = h;
        }
        let n = scope.members.len();
        let local: BTreeMap<usize, usize> = scope
            .members
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, i))
            .collect();
        let edges: Vec<(usize, usize, bool)> = scope
            .edges
            .iter()
            .map(|e| {
                let at = |id: usize| local.get(&id).copied().unwrap_or(0);
                (at(e.from), at(e.to), e.label.is_some())
            })
            .collect();
        let (forward, preorder) = split_back_edges(n, &edges);
        let rows = longest_path(n, &forward);
        let chains = Chains::new(n, &edges, &forward, &rows, preorder);
        let order = order_rows(&chains.rows, &chains.preorder, &chains.edges);
        let widths: Vec<i64> = (0..chains.rows.len())
            .map(|i| {
                if i < n {
                    self.rel[scope.members[i]].w
                } else {
                    DUMMY_W
                }
            })
            .collect();
        let width_of = |i: usize| widths[i];
        let row_w = |members: &Vec<usize>| -> i64 {
            members.iter().map(|&i| width_of(i)).sum::<i64>()
                + H_GAP * (members.len() as i64 - 1).max(0)
        };
        let width = order.iter().map(row_w).max().unwrap_or(0);
        // Row tops and heights.
        let mut y = 0;
        let mut row_y = Vec::new();
        for (r, members) in order.iter().enumerate() {
            if r > 0 {
                let labelled = forward.iter().any(|&(_, b, l)| l && rows[b] == r);
                y += if labelled { V_GAP_LABEL } else { V_GAP };
            }
            let h = members
                .iter()
                .filter(|&&i| i < n)
                .map(|&i| self.rel[scope.members[i]].h)
                .max()
                .unwrap_or(0);
            row_y.push((y, h));
            y += h;
        }
        let mut dummy_x = vec![0i64; chains.rows.len()];
        for (r, members) in order.iter().enumerate() {
            let mut x = (width - row_w(members)) / 2;
            for &i in members {
                if i < n {
                    let m = scope.members[i];
                    self.rel[m].x = x;
                    self.rel[m].y = row_y[r].0;
                    self.row[m] = r;
                } else {
                    dummy_x[i] = x + DUMMY_W / 2;
                }
                x += width_of(i) + H_GAP;
            }
        }
        let Some(&first) = scope.members.first() else {
            return (0, 0);
        };
        // Waypoints and lanes are kept relative to the first member, which moves with the
        // scope when an enclosing box is laid out.
        let (fx, fy) = (self.rel[first].x, self.rel[first].y);
        for (k, dummies) in chains.per_edge.iter().enumerate() {
            let points = dummies
                .iter()
                .flat_map(|&d| {
                    let (top, h) = row_y[chains.rows[d]];
                    [(dummy_x[d] - fx, top - fy), (dummy_x[d] - fx, top + h - fy)]
                })
                .collect();
            self.waypoints.insert((first, k), points);
        }
        let loops = edges.len() - forward.len();
        self.lanes.insert(first, width - fx);
        (width + loops as i64 * LANE, y)
    }

    /// A node's size; a Parallel or Map node lays out its bodies first.
    fn node_size(&mut self, id: usize) -> (i64, i64) {
        let node = &self.g.nodes[id];
        let text = node
            .label
            .chars()
            .count()
            .max(node.detail.as_deref().map_or(0, |d| d.chars().count())) as i64;
        let label_w = text * CHAR_W + 24;
        if matches!(node.kind, NodeKind::Start | NodeKind::End) {
            return (TERMINAL_W, TERMINAL_H);
        }
        if node.children.is_empty() {
            return (label_w.max(NODE_MIN_W), NODE_H);
        }
        let mut x = PAD;
        let mut inner_h = 0;
        let children = node.children.clone();
        for child in &children {
            let (w, h) = self.scope(child);
            let (w, h) = (w + 2 * PAD, h + 2 * PAD);
            for &m in &child.members {
                self.rel[m].x += x + PAD;
                self.rel[m].y += HEADER + PAD;
            }
            self.bodies_rel.push((id, Rect { x, y: HEADER, w, h }));
            x += w + PAD;
            inner_h = inner_h.max(h);
        }
        (x.max(label_w), HEADER + inner_h + PAD)
    }

    /// Turns relative boxes into absolute ones.
    fn place(&self, scope: &Scope, ox: i64, oy: i64, out: &mut Layout) {
        for &m in &scope.members {
            let r = self.rel[m];
            let abs = Rect {
                x: r.x + ox,
                y: r.y + oy,
                ..r
            };
            out.nodes[m] = abs;
            for (owner, b) in &self.bodies_rel {
                if *owner == m {
                    out.bodies.push((
                        m,
                        Rect {
                            x: b.x + abs.x,
                            y: b.y + abs.y,
                            ..*b
                        },
                    ));
                }
            }
            for child in &self.g.nodes[m].children {
                self.place(child, abs.x, abs.y, out);
            }
        }
    }
}

/// A scope's graph with every edge that spans several rows cut into a chain through one
/// virtual node per row it crosses, so that long edges are ordered (and kept off nodes)
/// like short ones.
struct Chains {
    /// Rows of the real nodes, then of the virtual ones.
    rows: Vec<usize>,
    preorder: Vec<usize>,
    edges: Vec<(usize, usize, bool)>,
    /// Per edge of the scope: its virtual nodes, top to bottom (none for short edges and loops).
    per_edge: Vec<Vec<usize>>,
}

impl Chains {
    fn new(
        n: usize,
        all: &[(usize, usize, bool)],
        forward: &[(usize, usize, bool)],
        rows: &[usize],
        mut preorder: Vec<usize>,
    ) -> Chains {
        let mut c = Chains {
            rows: rows.to_vec(),
            preorder: Vec::new(),
            edges: Vec::new(),
            per_edge: Vec::new(),
        };
        let mut remaining = forward.to_vec();
        for &(a, b, l) in all {
            // Loops are not in `forward`; each forward edge is taken once.
            let is_forward = match remaining.iter().position(|e| *e == (a, b, l)) {
                Some(p) => {
                    remaining.remove(p);
                    true
                }
                None => false,
            };
            let mut dummies = Vec::new();
            if is_forward {
                let mut prev = a;
                for r in rows[a] + 1..rows[b] {
                    let d = c.rows.len();
                    c.rows.push(r);
                    preorder.push(d);
                    c.edges.push((prev, d, l));
                    dummies.push(d);
                    prev = d;
                }
                c.edges.push((prev, b, l));
            }
            c.per_edge.push(dummies);
        }
        debug_assert!(c.rows.len() >= n);
        c.preorder = preorder;
        c
    }
}

/// Splits edges (local indices) into forward ones (returned) and loops (dropped), and gives
/// the depth-first preorder of the nodes.
fn split_back_edges(
    n: usize,
    edges: &[(usize, usize, bool)],
) -> (Vec<(usize, usize, bool)>, Vec<usize>) {
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, &(a, _, _)) in edges.iter().enumerate() {
        out_edges[a].push(k);
    }
    // 0: unseen, 1: on the stack, 2: done.
    let mut mark = vec![0u8; n];
    let mut back = vec![false; edges.len()];
    let mut preorder = Vec::with_capacity(n);
    for root in 0..n {
        if mark[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = 1;
        preorder.push(root);
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&k) = out_edges[v].get(*next) {
                *next += 1;
                let w = edges[k].1;
                match mark[w] {
                    0 => {
                        mark[w] = 1;
                        preorder.push(w);
                        stack.push((w, 0));
                    }
                    1 => back[k] = true,
                    _ => {}
                }
            } else {
                mark[v] = 2;
                stack.pop();
            }
        }
    }
    let forward = edges
        .iter()
        .zip(&back)
        .filter(|(_, &b)| !b)
        .map(|(e, _)| *e)
        .collect();
    (forward, preorder)
}

/// Each node's row: one below its lowest predecessor (the edges form no cycle).
fn longest_path(n: usize, forward: &[(usize, usize, bool)]) -> Vec<usize> {
    let mut indeg = vec![0usize; n];
    for &(_, b, _) in forward {
        indeg[b] += 1;
    }
    let mut row = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    ready.reverse();
    while let Some(v) = ready.pop() {
        for &(a, b, _) in forward {
            if a == v {
                row[b] = row[b].max(row[v] + 1);
                indeg[b] -= 1;
                if indeg[b] == 0 {
                    ready.push(b);
                }
            }
        }
    }
    row
}

/// The nodes of each row, ordered to reduce crossings.
fn order_rows(
    rows: &[usize],
    preorder: &[usize],
    forward: &[(usize, usize, bool)],
) -> Vec<Vec<usize>> {
    let count = rows.iter().max().map_or(0, |m| m + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &v in preorder {
        order[rows[v]].push(v);
    }
    let mut pos = vec![0f64; rows.len()];
    let index = |order: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for r in order {
            for (i, &v) in r.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    };
    index(&order, &mut pos);
    for sweep in 0..4 {
        let down = sweep % 2 == 0;
        let seq: Vec<usize> = if down {
            (1..count).collect()
        } else {
            (0..count.saturating_sub(1)).rev().collect()
        };
        for r in seq {
            let mut keyed: Vec<(f64, f64, usize)> = order[r]
                .iter()
                .map(|&v| {
                    let neighbours: Vec<f64> = forward
                        .iter()
                        .filter_map(|&(a, b, _)| {
                            if down && b == v {
                                Some(pos[a])
                            } else if !down && a == v {
                                Some(pos[b])
                            } else {
                                None
                            }
                        })
                        .collect();
                    let key = if neighbours.is_empty() {
                        pos[v]
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (key, pos[v], v)
                })
                .collect();
            keyed.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
            order[r] = keyed.into_iter().map(|k| k.2).collect();
            for (i, &v) in order[r].iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    }
    order
}

/// The paths of a scope's edges.
fn route(ctx: &Ctx<'_>, scope: &Scope, out: &mut Layout) {
    let Some(&first) = scope.members.first() else {
        return;
    };
    let lane_x = ctx.lanes.get(&first).copied().unwrap_or(0) + out.nodes[first].x;
    let (fx, fy) = (out.nodes[first].x, out.nodes[first].y);
    let mut lane = 0;
    let mut seen: BTreeMap<(usize, usize), i64> = BTreeMap::new();
    for (k, e) in scope.edges.iter().enumerate() {
        let (s, t) = (out.nodes[e.from], out.nodes[e.to]);
        let repeat = seen.entry((e.from, e.to)).or_insert(0);
        let shift = *repeat * 14;
        *repeat += 1;
        let (d, label_at) = if ctx.row[e.to] > ctx.row[e.from] {
            let mut points = vec![(s.cx(), s.bottom())];
            if let Some(via) = ctx.waypoints.get(&(first, k)) {
                points.extend(via.iter().map(|&(x, y)| (x + fx, y + fy)));
            }
            points.push((t.cx(), t.y));
            curve(&points, shift)
        } else {
            lane += 1;
            let x = lane_x + lane * LANE;
            let (sy, ty) = (s.cy(), t.cy());
            (
                format!(
                    "M{},{sy} L{x},{sy} L{x},{ty} L{},{ty}",
                    s.right(),
                    t.right()
                ),
                (x + 4, (sy + ty) / 2 + shift),
            )
        };
        out.edges.push(EdgePath {
            d,
            style: e.style,
            label: e.label.clone(),
            label_at,
        });
    }
}

/// A path through `points` (pairs of a row's top and bottom, after the first point): curves
/// between rows, straight lines across them; and where its label goes (the first gap).
fn curve(points: &[(i64, i64)], shift: i64) -> (String, (i64, i64)) {
    let mut d = String::new();
    let (x0, y0) = points[0];
    d.push_str(&format!("M{x0},{y0}"));
    let mut label = (x0, y0);
    for (i, pair) in points.windows(2).enumerate() {
        let ((ax, ay), (bx, by)) = (pair[0], pair[1]);
        if i % 2 == 0 {
            let my = (ay + by) / 2;
            d.push_str(&format!(" C{ax},{my} {bx},{my} {bx},{by}"));
            if i == 0 {
                label = ((ax + bx) / 2 + 4, my + shift);
            }
        } else {
            d.push_str(&format!(" L{bx},{by}"));
        }
    }
    (d, label)
}
