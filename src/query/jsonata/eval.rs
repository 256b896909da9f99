//! The tree-walking evaluator: JSONata's sequence semantics (paths map over arrays and flatten,
//! singleton sequences unwrap, empty ones are `undefined`), predicates, tuple streams for
//! `@`/`#`/`%`, grouping, sorting, closures, partial application, `~>` and transforms.
//!
//! Safety: every call to [`Ev::eval`] counts one step against [`Limits::max_steps`] and one level
//! against [`Limits::max_depth`]; loops inside built-in functions count their iterations too. Both
//! limits end the evaluation with `U1001`, so runaway recursion never reaches the real stack and
//! the outcome never depends on the host's speed.

use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::Value;

use super::functions;
use super::parser::{BinOp, Expr, Kind, Path, SortTerm, Stage};
use super::value::{
    deep_equal, err, string_num, stringify, to_text, truthy, FrameId, Func, Host, Val, CONS, KEEP,
};
use super::{JsonataError, Limits, VariableLookup};
use crate::rng::SimRng;

pub(crate) use super::value::R;

/// Ancestors of the current context item, for `%`.
#[derive(Debug)]
pub(crate) struct ChainNode<'a> {
    value: Val<'a>,
    next: Option<Rc<ChainNode<'a>>>,
}
type Chain<'a> = Option<Rc<ChainNode<'a>>>;

#[derive(Default)]
struct Frame<'a> {
    parent: Option<FrameId>,
    vars: Vec<(&'a str, Val<'a>)>,
    ancestors: Option<Chain<'a>>,
}

/// One item of a tuple stream: the context value plus the variables bound along the path.
#[derive(Clone)]
struct Tuple<'a> {
    value: Option<Val<'a>>,
    binds: Rc<Vec<(&'a str, Val<'a>)>>,
    chain: Chain<'a>,
}

impl<'a> Tuple<'a> {
    /// A value with no variables bound yet.
    fn unbound(value: Option<Val<'a>>, chain: Chain<'a>) -> Self {
        Tuple {
            value,
            binds: Rc::new(Vec::new()),
            chain,
        }
    }
}

/// Stack an evaluation may use: half of a 2 MiB thread stack (tokio's default for workers).
const STACK_BUDGET: usize = 1 << 20;

pub(crate) struct Ev<'a> {
    stack_base: usize,
    states: Val<'a>,
    variables: &'a dyn VariableLookup,
    pub(crate) now_millis: i64,
    pub(crate) rng: &'a mut SimRng,
    limits: Limits,
    frames: Vec<Frame<'a>>,
    steps: u64,
    depth: usize,
    /// The input document (`$$`, and `$` at the top level); `None` inside Step Functions.
    pub(crate) root: Option<Val<'a>>,
    /// Stack this evaluation may use, from where it started.
    pub(crate) stack_budget: usize,
}

/// The array input document inside its outer wrapper (see [`super::value::OUTER`]).
fn unwrap_outer<'a>(v: &Val<'a>) -> Val<'a> {
    if v.flags() & super::value::OUTER != 0 {
        if let Some(inner) = v.arr_get(0) {
            return inner;
        }
    }
    v.clone()
}

fn at(mut e: JsonataError, pos: usize) -> JsonataError {
    if e.position.is_none() {
        e.position = Some(pos);
    }
    e
}

impl<'a> Ev<'a> {
    pub(crate) fn new(
        states: &'a Value,
        variables: &'a dyn VariableLookup,
        now_millis: i64,
        rng: &'a mut SimRng,
        limits: Limits,
    ) -> Self {
        let here = 0u8;
        super::value::reset_build_budget();
        Ev {
            stack_base: &here as *const u8 as usize,
            states: Val::from_json(states),
            variables,
            now_millis,
            rng,
            limits,
            frames: vec![Frame::default()],
            steps: 0,
            depth: 0,
            root: None,
            stack_budget: STACK_BUDGET,
        }
    }

    pub(crate) fn root_frame(&self) -> FrameId {
        0
    }

    /// Counts `n` units of work against the step budget.
    pub(crate) fn tick(&mut self, n: u64) -> Result<(), JsonataError> {
        super::value::build_budget_check()?;
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(err(
                "U1001",
                format!(
                    "Expression evaluation exceeded the step budget of {}: check for an infinite loop",
                    self.limits.max_steps
                ),
            ));
        }
        Ok(())
    }

    fn new_frame(&mut self, parent: FrameId) -> FrameId {
        self.frames.push(Frame {
            parent: Some(parent),
            vars: Vec::new(),
            ancestors: None,
        });
        self.frames.len() - 1
    }

    fn bind(&mut self, frame: FrameId, name: &'a str, v: Val<'a>) {
        if let Some(f) = self.frames.get_mut(frame) {
            if let Some(slot) = f.vars.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = v;
            } else {
                f.vars.push((name, v));
            }
        }
    }

    fn lookup_var(&self, frame: FrameId, name: &str) -> Option<Val<'a>> {
        let mut cur = Some(frame);
        while let Some(id) = cur {
            let f = self.frames.get(id)?;
            if let Some((_, v)) = f.vars.iter().rev().find(|(n, _)| *n == name) {
                return Some(v.clone());
            }
            cur = f.parent;
        }
        if name == "states" {
            return Some(self.states.clone());
        }
        if let Some(b) = functions::builtin(name) {
            return Some(Val::func(Func::Builtin(b)));
        }
        self.variables.lookup(name).map(Val::from_json)
    }

    fn ancestors(&self, frame: FrameId) -> Chain<'a> {
        let mut cur = Some(frame);
        while let Some(id) = cur {
            let f = self.frames.get(id)?;
            if let Some(c) = &f.ancestors {
                return c.clone();
            }
            cur = f.parent;
        }
        None
    }

    fn tuple_frame(&mut self, env: FrameId, t: &Tuple<'a>) -> FrameId {
        let id = self.new_frame(env);
        if let Some(f) = self.frames.get_mut(id) {
            f.vars.extend(t.binds.iter().cloned());
            f.ancestors = Some(t.chain.clone());
        }
        id
    }

    // -----------------------------------------------------------------------------------------

    pub(crate) fn eval(&mut self, e: &'a Expr, ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        self.depth += 1;
        if self.depth > self.limits.max_depth || self.stack_exhausted() {
            self.depth -= 1;
            return Err(at(
                err(
                    "U1001",
                    "Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.",
                ),
                e.pos,
            ));
        }
        let r = self.tick(1).and_then(|_| self.eval_node(e, ctx, env));
        self.depth -= 1;
        let r = r.map_err(|x| at(x, e.pos))?;
        if e.predicates.is_empty() && e.group.is_none() && !matches!(&r, Some(v) if v.is_seq()) {
            return Ok(r);
        }
        self.post(e, r, env)
    }

    /// Predicates and grouping attached to a node, then JSONata's sequence unwrapping.
    #[inline(never)]
    fn post(&mut self, e: &'a Expr, mut r: Option<Val<'a>>, env: FrameId) -> R<'a> {
        for p in &e.predicates {
            r = self.filter(p, r, env)?;
        }
        if let Some(g) = &e.group {
            if !matches!(e.kind, Kind::Path(_)) {
                // An array is grouped item by item (jsonata-js turns anything else into a
                // one-item sequence).
                let items = match r {
                    Some(v) if v.is_array() => v.arr_items(),
                    Some(v) => vec![v],
                    None => Vec::new(),
                };
                r = Some(self.group(g, items, env)?);
            }
        }
        Ok(match r {
            Some(v) if v.is_seq() => {
                let v = if e.keep_array { v.with_flags(KEEP) } else { v };
                let len = v.arr_len().unwrap_or(0);
                if len == 0 {
                    None
                } else if len == 1 && v.flags() & KEEP == 0 {
                    v.arr_get(0)
                } else {
                    Some(v)
                }
            }
            other => other,
        })
    }

    /// Belt and braces under the depth limit: stop when this evaluation has used more than
    /// [`STACK_BUDGET`] bytes of the thread's stack (frames are far larger in debug builds).
    fn stack_exhausted(&self) -> bool {
        let here = 0u8;
        let addr = &here as *const u8 as usize;
        addr.abs_diff(self.stack_base) > self.stack_budget
    }

    fn eval_node(&mut self, e: &'a Expr, ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        // Each non-trivial kind is its own (never inlined) function, so that the frame of this
        // recursive dispatcher stays small, in debug builds too.
        match &e.kind {
            Kind::Str(s) => Ok(Some(Val::str(s))),
            Kind::Num(n) => Ok(Some(Val::Num(*n))),
            Kind::Bool(b) => Ok(Some(Val::Bool(*b))),
            Kind::Null => Ok(Some(Val::Null)),
            Kind::Name(n) => Ok(ctx.and_then(|c| lookup_field(c, n))),
            Kind::Var(name) => Ok(match name.as_str() {
                "" => ctx.map(unwrap_outer),
                // `$$`, the root input: a Step Functions expression has no input document, so
                // it is undefined there; `stepsim eval --input` supplies one.
                "$" => self.root.as_ref().map(unwrap_outer),
                _ => self.lookup_var(env, name),
            }),
            Kind::Regex(r) => Ok(Some(Val::func(Func::Regex(r)))),
            Kind::Wildcard => Ok(ctx.map(|c| {
                let mut out = Vec::new();
                wildcard(&unwrap_outer(c), &mut out);
                Val::seq(out)
            })),
            Kind::Descendant => self.eval_descendants(ctx),
            Kind::Parent => Ok(self.ancestors(env).map(|c| c.value.clone())),
            Kind::Placeholder => Err(err(
                "S0201",
                "A ? placeholder may only be a function argument",
            )),
            Kind::Neg(x) => self.eval_neg(x, ctx, env),
            Kind::Array(items) => self.eval_array(e, items, ctx, env),
            Kind::Object(pairs) => self.eval_object(pairs, ctx, env),
            Kind::Block(items) => self.eval_block(items, ctx, env),
            Kind::Bind(name, value) => self.eval_bind(name, value, ctx, env),
            Kind::Condition(c, t, o) => self.eval_condition(c, t, o.as_deref(), ctx, env),
            Kind::Binary(op, l, r) => self.binary(*op, l, r, ctx, env),
            Kind::Path(p) => self.path(p, ctx, env),
            Kind::Sort(terms) => self.eval_sort(terms, ctx, env),
            Kind::Call {
                func,
                args,
                partial,
            } => self.call(func, args, *partial, ctx, env, None),
            Kind::Apply(l, r) => self.eval_apply(l, r, ctx, env),
            Kind::Lambda {
                params,
                body,
                signature,
            } => Ok(Some(Val::func(Func::Lambda {
                params,
                body,
                signature: signature.as_deref(),
                frame: env,
                input: ctx.cloned(),
            }))),
            Kind::Transform { .. } => Ok(Some(Val::func(Func::Transform {
                expr: e,
                frame: env,
            }))),
        }
    }

    #[inline(never)]
    fn eval_descendants(&mut self, ctx: Option<&Val<'a>>) -> R<'a> {
        let Some(c) = ctx else { return Ok(None) };
        let mut out = Vec::new();
        self.descendants(c, &mut out, 0)?;
        Ok(Some(Val::seq(out)))
    }

    #[inline(never)]
    fn eval_neg(&mut self, x: &'a Expr, ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        match self.eval(x, ctx, env)? {
            None => Ok(None),
            Some(Val::Num(n)) => Ok(Some(Val::Num(-n))),
            Some(v) => Err(err(
                "D1002",
                format!(
                    "Cannot negate a non-numeric value: {}",
                    stringify(&v, false)?
                ),
            )),
        }
    }

    #[inline(never)]
    fn eval_array(
        &mut self,
        e: &'a Expr,
        items: &'a [Expr],
        ctx: Option<&Val<'a>>,
        env: FrameId,
    ) -> R<'a> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(v) = self.eval(item, ctx, env)? else {
                continue;
            };
            if matches!(item.kind, Kind::Array(_)) || !v.is_array() {
                out.push(v);
            } else {
                out.extend(v.arr_items());
            }
        }
        self.tick(out.len() as u64)?;
        Ok(Some(Val::array(out, if e.cons_array { CONS } else { 0 })?))
    }

    #[inline(never)]
    fn eval_object(
        &mut self,
        pairs: &'a [(Expr, Expr)],
        ctx: Option<&Val<'a>>,
        env: FrameId,
    ) -> R<'a> {
        let input = match ctx {
            None => vec![],
            Some(c) if c.is_array() => c.arr_items(),
            Some(c) => vec![c.clone()],
        };
        Ok(Some(self.group(pairs, input, env)?))
    }

    #[inline(never)]
    fn eval_block(&mut self, items: &'a [Expr], ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        let frame = self.new_frame(env);
        let mut last = None;
        for item in items {
            last = self.eval(item, ctx, frame)?;
        }
        Ok(last)
    }

    #[inline(never)]
    fn eval_bind(
        &mut self,
        name: &'a str,
        value: &'a Expr,
        ctx: Option<&Val<'a>>,
        env: FrameId,
    ) -> R<'a> {
        let v = self.eval(value, ctx, env)?;
        if let Some(v) = &v {
            self.bind(env, name, v.clone());
        }
        Ok(v)
    }

    #[inline(never)]
    fn eval_condition(
        &mut self,
        c: &'a Expr,
        t: &'a Expr,
        o: Option<&'a Expr>,
        ctx: Option<&Val<'a>>,
        env: FrameId,
    ) -> R<'a> {
        let cond = self.eval(c, ctx, env)?;
        if cond.as_ref().is_some_and(truthy) {
            self.eval(t, ctx, env)
        } else if let Some(o) = o {
            self.eval(o, ctx, env)
        } else {
            Ok(None)
        }
    }

    #[inline(never)]
    fn eval_sort(&mut self, terms: &'a [SortTerm], ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        let items = match ctx {
            None => return Ok(None),
            Some(c) if c.is_array() => c.arr_items(),
            Some(c) => vec![c.clone()],
        };
        let tuples = items
            .into_iter()
            .map(|v| Tuple::unbound(Some(v), None))
            .collect();
        let sorted = self.sort(terms, tuples, env, false)?;
        Ok(Some(Val::seq(
            sorted.into_iter().filter_map(|t| t.value).collect(),
        )))
    }

    #[inline(never)]
    fn eval_apply(
        &mut self,
        l: &'a Expr,
        r: &'a Expr,
        ctx: Option<&Val<'a>>,
        env: FrameId,
    ) -> R<'a> {
        let lhs = self.eval(l, ctx, env)?;
        if let Kind::Call {
            func,
            args,
            partial: false,
        } = &r.kind
        {
            return self.call(func, args, false, ctx, env, Some(lhs));
        }
        let f = self.eval(r, ctx, env)?;
        match (lhs, f) {
            (Some(lf @ Val::Func(_)), Some(rf @ Val::Func(_))) => {
                Ok(Some(Val::func(Func::Compose(lf, rf))))
            }
            (lhs, Some(f @ Val::Func(_))) => self.apply(&f, vec![lhs], ctx),
            _ => Err(err(
                "T2006",
                "The right side of the function application operator ~> must be a function",
            )),
        }
    }

    fn descendants(
        &mut self,
        v: &Val<'a>,
        out: &mut Vec<Val<'a>>,
        depth: u32,
    ) -> Result<(), JsonataError> {
        if depth > super::value::MAX_VALUE_DEPTH + 200 {
            return Err(super::value::too_deep());
        }
        self.tick(1)?;
        if v.is_array() {
            for item in v.arr_items() {
                self.descendants(&item, out, depth + 1)?;
            }
            return Ok(());
        }
        out.push(v.clone());
        if v.is_object() {
            for (_, item) in v.obj_entries() {
                self.descendants(&item, out, depth + 1)?;
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Paths

    fn path(&mut self, p: &'a Path, ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        if p.tuple {
            return self.tuple_path(p, ctx, env);
        }
        let Some(first) = p.steps.first() else {
            return Ok(None);
        };
        // The first step sees the whole input once when it is a variable (an absolute path) or
        // when the input is not an array; otherwise it maps over the input's items.
        let first_inputs: Vec<Option<Val<'a>>> = match ctx {
            Some(c) if c.is_array() && !matches!(first.kind, Kind::Var(_)) => {
                c.arr_items().into_iter().map(Some).collect()
            }
            other => vec![other.cloned()],
        };
        let mut current: Val<'a> = Val::seq(Vec::new());
        let last_index = p.steps.len() - 1;
        for (i, step) in p.steps.iter().enumerate() {
            current = if i == 0 && step.cons_array {
                match self.eval(step, ctx, env)? {
                    Some(v) => v,
                    None => Val::seq(Vec::new()),
                }
            } else if i == 0 {
                self.step(step, first_inputs.clone(), env, i == last_index)?
            } else {
                let inputs = current.arr_items().into_iter().map(Some).collect();
                self.step(step, inputs, env, i == last_index)?
            };
            if current.arr_len().unwrap_or(1) == 0 {
                break;
            }
            if !current.is_array() {
                current = Val::seq(vec![current]);
            }
        }
        if p.keep_singleton {
            if current.flags() & CONS != 0 && !current.is_seq() {
                current = Val::seq(vec![current]);
            }
            current = current.with_flags(KEEP);
        }
        if let Some(g) = &p.group {
            let items = current.arr_items();
            return Ok(Some(self.group(g, items, env)?));
        }
        Ok(Some(current))
    }

    fn step(
        &mut self,
        step: &'a Expr,
        inputs: Vec<Option<Val<'a>>>,
        env: FrameId,
        last: bool,
    ) -> Result<Val<'a>, JsonataError> {
        if let Kind::Sort(terms) = &step.kind {
            let tuples = inputs
                .into_iter()
                .flatten()
                .map(|v| Tuple::unbound(Some(v), None))
                .collect();
            let sorted = self.sort(terms, tuples, env, false)?;
            let mut res = Some(Val::seq(
                sorted.into_iter().filter_map(|t| t.value).collect(),
            ));
            for stage in &step.stages {
                if let Stage::Filter(f) = stage {
                    res = self.filter(f, res, env)?;
                }
            }
            return Ok(res.unwrap_or_else(|| Val::seq(Vec::new())));
        }
        let mut results: Vec<Val<'a>> = Vec::new();
        for item in inputs {
            let mut res = self.eval(step, item.as_ref(), env)?;
            for stage in &step.stages {
                if let Stage::Filter(f) = stage {
                    res = self.filter(f, res, env)?;
                }
            }
            if let Some(r) = res {
                results.push(r);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_seq() {
            return Ok(results.swap_remove(0));
        }
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            if !r.is_array() || r.flags() & CONS != 0 {
                out.push(r);
            } else {
                out.extend(r.arr_items());
            }
        }
        Ok(Val::seq(out))
    }

    fn tuple_path(&mut self, p: &'a Path, ctx: Option<&Val<'a>>, env: FrameId) -> R<'a> {
        let Some(first) = p.steps.first() else {
            return Ok(None);
        };
        let chain = self.ancestors(env);
        let mut tuples: Vec<Tuple<'a>> = match ctx {
            Some(c) if c.is_array() && !matches!(first.kind, Kind::Var(_)) => c
                .arr_items()
                .into_iter()
                .map(|v| Tuple::unbound(Some(v), chain.clone()))
                .collect(),
            other => vec![Tuple::unbound(other.cloned(), chain)],
        };
        for step in &p.steps {
            tuples = self.tuple_step(step, tuples, env)?;
            if tuples.is_empty() {
                break;
            }
        }
        if let Some(g) = &p.group {
            if p.group_parent {
                return Ok(Some(Val::object(IndexMap::new())?));
            }
            return Ok(Some(self.group_tuples(g, tuples, env)?));
        }
        let values: Vec<Val<'a>> = tuples.into_iter().filter_map(|t| t.value).collect();
        let mut out = Val::seq(values);
        if p.keep_singleton {
            out = out.with_flags(KEEP);
        }
        Ok(Some(out))
    }

    /// The tuples of path `p` run from one tuple (its value split into items as a path's
    /// context is), keeping every step's ancestry.
    fn path_tuples(
        &mut self,
        p: &'a Path,
        start: Tuple<'a>,
        env: FrameId,
    ) -> Result<Vec<Tuple<'a>>, JsonataError> {
        let mut tuples = match &start.value {
            Some(c)
                if c.is_array()
                    && !p
                        .steps
                        .first()
                        .is_some_and(|f| matches!(f.kind, Kind::Var(_))) =>
            {
                c.arr_items()
                    .into_iter()
                    .map(|v| Tuple {
                        value: Some(v),
                        binds: start.binds.clone(),
                        chain: start.chain.clone(),
                    })
                    .collect()
            }
            _ => vec![start],
        };
        for step in &p.steps {
            tuples = self.tuple_step(step, tuples, env)?;
            if tuples.is_empty() {
                break;
            }
        }
        Ok(tuples)
    }

    fn tuple_step(
        &mut self,
        step: &'a Expr,
        tuples: Vec<Tuple<'a>>,
        env: FrameId,
    ) -> Result<Vec<Tuple<'a>>, JsonataError> {
        let mut result: Vec<Tuple<'a>> = Vec::new();
        if let Kind::Sort(terms) = &step.kind {
            result = self.sort(terms, tuples, env, true)?;
        } else {
            for t in &tuples {
                if matches!(step.kind, Kind::Parent) {
                    if let Some(node) = &t.chain {
                        result.push(Tuple {
                            value: Some(node.value.clone()),
                            binds: t.binds.clone(),
                            chain: node.next.clone(),
                        });
                    }
                    continue;
                }
                // `(a.b.c)[%.x]`: a block whose only expression is a path keeps that path's
                // ancestry, so `%` after it is the parent inside the block (as in jsonata-js,
                // whose parent-seeking looks into a block's last expression).
                if let Some(inner) = ancestry_block(step) {
                    let mut ts = self.path_tuples(inner, t.clone(), env)?;
                    for p in &step.predicates {
                        ts = self.filter_tuples(p, ts, env)?;
                    }
                    result.extend(ts);
                    continue;
                }
                let frame = self.tuple_frame(env, t);
                let Some(res) = self.eval(step, t.value.as_ref(), frame)? else {
                    continue;
                };
                let items = if res.is_array() {
                    res.arr_items()
                } else {
                    vec![res]
                };
                for (i, r) in items.into_iter().enumerate() {
                    let mut binds = t.binds.clone();
                    let value = if let Some(focus) = &step.focus {
                        Rc::make_mut(&mut binds).push((focus.as_str(), r));
                        t.value.clone()
                    } else {
                        Some(r)
                    };
                    if let Some(index) = &step.index {
                        Rc::make_mut(&mut binds).push((index.as_str(), Val::Num(i as f64)));
                    }
                    // A focus step (`@$p`) keeps the context, and its `%` is that context
                    // (the parent of the focused item), so the context joins the chain either way.
                    let chain = {
                        match &t.value {
                            Some(v) => Some(Rc::new(ChainNode {
                                value: v.clone(),
                                next: t.chain.clone(),
                            })),
                            None => t.chain.clone(),
                        }
                    };
                    result.push(Tuple {
                        value,
                        binds,
                        chain,
                    });
                }
            }
        }
        for stage in &step.stages {
            match stage {
                Stage::Filter(f) => result = self.filter_tuples(f, result, env)?,
                Stage::Index(name) => {
                    for (i, t) in result.iter_mut().enumerate() {
                        Rc::make_mut(&mut t.binds).push((name.as_str(), Val::Num(i as f64)));
                    }
                }
            }
        }
        Ok(result)
    }

    // -----------------------------------------------------------------------------------------
    // Predicates, grouping, sorting

    fn filter(&mut self, pred: &'a Expr, input: Option<Val<'a>>, env: FrameId) -> R<'a> {
        let Some(input) = input else { return Ok(None) };
        let items = if input.is_array() {
            input.arr_items()
        } else {
            vec![input]
        };
        if let Kind::Num(n) = pred.kind {
            let len = items.len() as f64;
            let mut idx = n.floor();
            if idx < 0.0 {
                idx += len;
            }
            if idx < 0.0 || idx >= len {
                return Ok(Some(Val::seq(Vec::new())));
            }
            let item = items[idx as usize].clone();
            return Ok(Some(if item.is_array() {
                item
            } else {
                Val::seq(vec![item])
            }));
        }
        let mut out = Vec::new();
        let len = items.len();
        for (i, item) in items.iter().enumerate() {
            let res = self.eval(pred, Some(item), env)?;
            if predicate_selects(res.as_ref(), i, len) {
                out.push(item.clone());
            }
        }
        Ok(Some(Val::seq(out)))
    }

    fn filter_tuples(
        &mut self,
        pred: &'a Expr,
        tuples: Vec<Tuple<'a>>,
        env: FrameId,
    ) -> Result<Vec<Tuple<'a>>, JsonataError> {
        let len = tuples.len();
        if let Kind::Num(n) = pred.kind {
            let mut idx = n.floor();
            if idx < 0.0 {
                idx += len as f64;
            }
            if idx < 0.0 || idx >= len as f64 {
                return Ok(Vec::new());
            }
            return Ok(tuples.into_iter().nth(idx as usize).into_iter().collect());
        }
        let mut out = Vec::new();
        for (i, t) in tuples.into_iter().enumerate() {
            let frame = self.tuple_frame(env, &t);
            let res = self.eval(pred, t.value.as_ref(), frame)?;
            if predicate_selects(res.as_ref(), i, len) {
                out.push(t);
            }
        }
        Ok(out)
    }

    fn group(
        &mut self,
        pairs: &'a [(Expr, Expr)],
        input: Vec<Val<'a>>,
        env: FrameId,
    ) -> Result<Val<'a>, JsonataError> {
        let tuples = input
            .into_iter()
            .map(|v| Tuple::unbound(Some(v), None))
            .collect();
        self.group_impl(pairs, tuples, env, false)
    }

    fn group_tuples(
        &mut self,
        pairs: &'a [(Expr, Expr)],
        tuples: Vec<Tuple<'a>>,
        env: FrameId,
    ) -> Result<Val<'a>, JsonataError> {
        self.group_impl(pairs, tuples, env, true)
    }

    fn group_impl(
        &mut self,
        pairs: &'a [(Expr, Expr)],
        mut input: Vec<Tuple<'a>>,
        env: FrameId,
        tuple_env: bool,
    ) -> Result<Val<'a>, JsonataError> {
        if input.is_empty() {
            input.push(Tuple::unbound(None, None));
        }
        // key -> (pair index, items)
        let mut groups: IndexMap<String, (usize, Vec<Tuple<'a>>)> = IndexMap::new();
        for t in &input {
            let frame = if tuple_env {
                self.tuple_frame(env, t)
            } else {
                env
            };
            for (pi, (k, _)) in pairs.iter().enumerate() {
                let key = self.eval(k, t.value.as_ref(), frame)?;
                let Some(key) = key else { continue };
                let Some(key) = key.as_str() else {
                    return Err(at(
                        err(
                            "T1003",
                            format!(
                                "Key in object structure must evaluate to a string; got: {}",
                                stringify(&key, false)?
                            ),
                        ),
                        k.pos,
                    ));
                };
                match groups.get_mut(key) {
                    Some((idx, items)) => {
                        if *idx != pi {
                            return Err(at(
                                err(
                                    "D1009",
                                    format!(
                                        "Multiple key definitions evaluate to same key: \"{key}\""
                                    ),
                                ),
                                k.pos,
                            ));
                        }
                        items.push(t.clone());
                    }
                    None => {
                        groups.insert(key.to_string(), (pi, vec![t.clone()]));
                    }
                }
            }
        }
        let mut out: IndexMap<String, Val<'a>> = IndexMap::new();
        for (key, (pi, items)) in groups {
            let (ctx, frame) = if items.len() == 1 {
                let t = &items[0];
                let frame = if tuple_env {
                    self.tuple_frame(env, t)
                } else {
                    env
                };
                (t.value.clone(), frame)
            } else {
                let mut values = Vec::new();
                for t in &items {
                    if let Some(v) = &t.value {
                        if v.is_array() {
                            values.extend(v.arr_items());
                        } else {
                            values.push(v.clone());
                        }
                    }
                }
                let frame = if tuple_env {
                    // Merge the bindings of all tuples into arrays, as JSONata does.
                    let mut merged: IndexMap<&'a str, Vec<Val<'a>>> = IndexMap::new();
                    for t in &items {
                        for (n, v) in t.binds.iter() {
                            merged.entry(n).or_default().push(v.clone());
                        }
                    }
                    let f = self.new_frame(env);
                    for (n, vs) in merged {
                        let v = if vs.len() == 1 {
                            vs.into_iter().next().unwrap_or(Val::Null)
                        } else {
                            Val::seq(vs)
                        };
                        self.bind(f, n, v);
                    }
                    f
                } else {
                    env
                };
                (Some(Val::seq(values)), frame)
            };
            if let Some((_, vexpr)) = pairs.get(pi) {
                if let Some(v) = self.eval(vexpr, ctx.as_ref(), frame)? {
                    out.insert(key, v);
                }
            }
        }
        Val::object(out)
    }

    fn sort(
        &mut self,
        terms: &'a [SortTerm],
        tuples: Vec<Tuple<'a>>,
        env: FrameId,
        tuple_env: bool,
    ) -> Result<Vec<Tuple<'a>>, JsonataError> {
        // One item needs no comparison: jsonata-js returns it without evaluating the keys.
        if tuples.len() <= 1 {
            return Ok(tuples);
        }
        // Evaluate every term for every item once, then merge-sort on the keys (stable).
        let mut keyed: Vec<(Vec<Option<Val<'a>>>, Tuple<'a>)> = Vec::with_capacity(tuples.len());
        for t in tuples {
            let frame = if tuple_env {
                self.tuple_frame(env, &t)
            } else {
                env
            };
            let mut keys = Vec::with_capacity(terms.len());
            for term in terms {
                let k = self.eval(&term.expr, t.value.as_ref(), frame)?;
                if let Some(k) = &k {
                    if !matches!(k, Val::Num(_)) && k.as_str().is_none() {
                        return Err(at(
                            err("T2008", "The expressions within an order-by clause must evaluate to numeric or string values"),
                            term.expr.pos,
                        ));
                    }
                }
                keys.push(k);
            }
            keyed.push((keys, t));
        }
        let n = keyed.len() as u64;
        self.tick(n.saturating_mul(64 - n.leading_zeros() as u64))?;
        let mut type_error = None;
        let mut cmp = |a: &Vec<Option<Val<'a>>>, b: &Vec<Option<Val<'a>>>| -> std::cmp::Ordering {
            use std::cmp::Ordering;
            for (i, term) in terms.iter().enumerate() {
                let (x, y) = (&a[i], &b[i]);
                let mut o = match (x, y) {
                    (None, None) => Ordering::Equal,
                    (None, _) => Ordering::Greater,
                    (_, None) => Ordering::Less,
                    (Some(Val::Num(p)), Some(Val::Num(q))) => {
                        p.partial_cmp(q).unwrap_or(Ordering::Equal)
                    }
                    (Some(p), Some(q)) => match (p.as_str(), q.as_str()) {
                        (Some(s), Some(t)) => s.cmp(t),
                        _ => {
                            type_error = Some(term.expr.pos);
                            Ordering::Equal
                        }
                    },
                };
                if term.descending && x.is_some() && y.is_some() {
                    o = o.reverse();
                }
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        };
        keyed.sort_by(|a, b| cmp(&a.0, &b.0));
        if let Some(pos) = type_error {
            return Err(at(
                err(
                    "T2007",
                    "Type mismatch within order-by clause. All values must be of the same type",
                ),
                pos,
            ));
        }
        Ok(keyed.into_iter().map(|(_, t)| t).collect())
    }

    // -----------------------------------------------------------------------------------------
    // Operators

    fn binary(
        &mut self,
        op: BinOp,
        l: &'a Expr,
        r: &'a Expr,
        ctx: Option<&Val<'a>>,
        env: FrameId,
    ) -> R<'a> {
        match op {
            BinOp::And => {
                let lhs = self.eval(l, ctx, env)?;
                if !lhs.as_ref().is_some_and(truthy) {
                    return Ok(Some(Val::Bool(false)));
                }
                let rhs = self.eval(r, ctx, env)?;
                return Ok(Some(Val::Bool(rhs.as_ref().is_some_and(truthy))));
            }
            BinOp::Or => {
                let lhs = self.eval(l, ctx, env)?;
                if lhs.as_ref().is_some_and(truthy) {
                    return Ok(Some(Val::Bool(true)));
                }
                let rhs = self.eval(r, ctx, env)?;
                return Ok(Some(Val::Bool(rhs.as_ref().is_some_and(truthy))));
            }
            _ => {}
        }
        let lhs = self.eval(l, ctx, env)?;
        let rhs = self.eval(r, ctx, env)?;
        self.binary_values(op, lhs, rhs, l, r)
    }

    /// The operator applied to evaluated operands; a leaf, so its large frame is never part of
    /// the recursion.
    #[inline(never)]
    fn binary_values(
        &mut self,
        op: BinOp,
        lhs: Option<Val<'a>>,
        rhs: Option<Val<'a>>,
        l: &'a Expr,
        r: &'a Expr,
    ) -> R<'a> {
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                let a = number_operand(op, &lhs, "T2001", "left", l.pos)?;
                let b = number_operand(op, &rhs, "T2002", "right", r.pos)?;
                let (Some(a), Some(b)) = (a, b) else {
                    return Ok(None);
                };
                let v = match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    _ => a % b,
                };
                Ok(Some(Val::Num(v)))
            }
            BinOp::Eq | BinOp::Ne => {
                let (Some(a), Some(b)) = (&lhs, &rhs) else {
                    return Ok(Some(Val::Bool(false)));
                };
                let eq = deep_equal(a, b);
                Ok(Some(Val::Bool(if op == BinOp::Eq { eq } else { !eq })))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare(op, &lhs, &rhs),
            BinOp::Concat => {
                let mut s = String::new();
                for v in [&lhs, &rhs].into_iter().flatten() {
                    // Strings are charged to the build budget before they are copied, so
                    // that doubling a string fails before it is built.
                    match v.as_str() {
                        Some(t) => {
                            super::value::charge(t.len())?;
                            s.push_str(t);
                        }
                        None => s.push_str(&to_text(v, false)?),
                    }
                }
                Ok(Some(Val::string(s)))
            }
            BinOp::In => {
                let (Some(a), Some(b)) = (&lhs, &rhs) else {
                    return Ok(Some(Val::Bool(false)));
                };
                // jsonata-js compares with `===`: arrays and objects are never found.
                let same = |x: &Val<'a>| !a.is_array() && !a.is_object() && deep_equal(a, x);
                let found = if b.is_array() {
                    b.arr_items().iter().any(same)
                } else {
                    same(b)
                };
                Ok(Some(Val::Bool(found)))
            }
            BinOp::Range => self.range(&lhs, &rhs),
            BinOp::And | BinOp::Or => Ok(None),
        }
    }

    /// `a..b`: the integers from `a` to `b`, nothing when `a > b`.
    fn range(&mut self, lhs: &Option<Val<'a>>, rhs: &Option<Val<'a>>) -> R<'a> {
        let int =
            |v: &Option<Val<'a>>, code: &str, side: &str| -> Result<Option<f64>, JsonataError> {
                match v {
                    None => Ok(None),
                    Some(Val::Num(n)) if n.fract() == 0.0 => Ok(Some(*n)),
                    Some(_) => Err(err(
                        code,
                        format!(
                        "The {side} side of the range operator (..) must evaluate to an integer"
                    ),
                    )),
                }
            };
        let a = int(lhs, "T2003", "left")?;
        let b = int(rhs, "T2004", "right")?;
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(None);
        };
        if a > b {
            return Ok(None);
        }
        let size = b - a + 1.0;
        if size > 1e7 {
            return Err(err(
                "D2014",
                format!("The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate {}", string_num(size)),
            ));
        }
        self.tick(size as u64)?;
        let items = (0..size as i64).map(|i| Val::Num(a + i as f64)).collect();
        Ok(Some(Val::array(items, 0)?))
    }

    // -----------------------------------------------------------------------------------------
    // Functions

    fn call(
        &mut self,
        func: &'a Expr,
        args: &'a [Expr],
        partial: bool,
        ctx: Option<&Val<'a>>,
        env: FrameId,
        applied: Option<Option<Val<'a>>>,
    ) -> R<'a> {
        let f = self.eval(func, ctx, env)?;
        let Some(f @ Val::Func(_)) = f else {
            // A bare name of a built-in where a function was meant (`not(x)`) is T1005 in
            // jsonata-js ("did you mean $not?"); other names are T1006.
            let bare = match &func.kind {
                Kind::Name(n) => Some(n.as_str()),
                Kind::Path(p) if p.steps.len() == 1 => match &p.steps[0].kind {
                    Kind::Name(n) => Some(n.as_str()),
                    _ => None,
                },
                _ => None,
            }
            .filter(|n| functions::builtin(n).is_some());
            let e = if partial {
                err("T1008", "Attempted to partially apply a non-function")
            } else if let Some(name) = bare {
                err(
                    "T1005",
                    format!("Attempted to invoke a non-function. Did you mean ${name}?"),
                )
            } else {
                err("T1006", "Attempted to invoke a non-function")
            };
            return Err(at(e, func.pos));
        };
        let mut values: Vec<Option<Option<Val<'a>>>> = Vec::with_capacity(args.len() + 1);
        if let Some(a) = applied {
            values.push(Some(a));
        }
        for a in args {
            if matches!(a.kind, Kind::Placeholder) {
                values.push(None);
            } else {
                values.push(Some(self.eval(a, ctx, env)?));
            }
        }
        if partial {
            return Ok(Some(Val::func(Func::Partial {
                func: f,
                args: values,
            })));
        }
        let values = values.into_iter().map(|v| v.unwrap_or(None)).collect();
        self.apply(&f, values, ctx).map_err(|e| at(e, func.pos))
    }

    /// Calls a function value with evaluated arguments (`None` = undefined).
    pub(crate) fn apply(
        &mut self,
        f: &Val<'a>,
        args: Vec<Option<Val<'a>>>,
        ctx: Option<&Val<'a>>,
    ) -> R<'a> {
        let Val::Func(func) = f else {
            return Err(err("T1006", "Attempted to invoke a non-function"));
        };
        self.tick(1)?;
        match &**func {
            Func::Lambda {
                params,
                body,
                frame,
                input,
                signature,
            } => {
                let args = match signature {
                    Some(sig) => sig.validate("lambda", args, ctx, true)?,
                    None => args,
                };
                let fr = self.new_frame(*frame);
                for (i, p) in params.iter().enumerate() {
                    if let Some(Some(v)) = args.get(i) {
                        self.bind(fr, p, v.clone());
                    }
                }
                self.eval(body, input.as_ref(), fr)
            }
            Func::Builtin(id) => functions::call(self, *id, args, ctx),
            Func::Partial {
                func,
                args: template,
            } => {
                let mut supplied = args.into_iter();
                let full = template
                    .iter()
                    .map(|a| match a {
                        Some(v) => v.clone(),
                        None => supplied.next().unwrap_or(None),
                    })
                    .collect();
                let func = func.clone();
                self.apply(&func, full, ctx)
            }
            Func::Regex(re) => {
                let Some(Some(s)) = args.first() else {
                    return Ok(None);
                };
                let Some(s) = s.as_str() else {
                    return Err(err(
                        "T0410",
                        "Argument 1 of a regular expression must be a string",
                    ));
                };
                functions::regex_match_object(re, s)
            }
            Func::Compose(first, second) => {
                let (first, second) = (first.clone(), second.clone());
                let mid = self.apply(&first, args, ctx)?;
                self.apply(&second, vec![mid], ctx)
            }
            Func::Transform { expr, frame } => {
                let (expr, frame) = (*expr, *frame);
                self.transform(expr, frame, args.into_iter().next().flatten())
            }
        }
    }

    fn transform(&mut self, e: &'a Expr, env: FrameId, input: Option<Val<'a>>) -> R<'a> {
        let Kind::Transform {
            pattern,
            update,
            delete,
        } = &e.kind
        else {
            return Ok(None);
        };
        let Some(input) = input else { return Ok(None) };
        // A transform's signature is `<(oa):o>`.
        if !input.is_object() && !input.is_array() {
            return Err(err(
                "T0410",
                "Argument 1 of function \"transform\" does not match function signature",
            ));
        }
        // Deep copy into owned values so that matched objects have an identity (their Rc).
        let copy = self.deep_copy(&input, 0)?;
        let matches = self.eval(pattern, Some(&copy), env)?;
        let mut targets: Vec<*const super::value::Obj<'a>> = Vec::new();
        if let Some(m) = &matches {
            let items = if m.is_array() {
                m.arr_items()
            } else {
                vec![m.clone()]
            };
            for item in items {
                if let Val::Obj(o) = item {
                    targets.push(Rc::as_ptr(&o));
                }
            }
        }
        let out = self.rebuild(&copy, &targets, update, delete.as_deref(), env, 0)?;
        Ok(Some(out))
    }

    fn deep_copy(&mut self, v: &Val<'a>, depth: u32) -> Result<Val<'a>, JsonataError> {
        if depth > super::value::MAX_VALUE_DEPTH {
            return Err(super::value::too_deep());
        }
        self.tick(1)?;
        if let Some(s) = v.as_str() {
            return Ok(Val::str(s));
        }
        if v.is_array() {
            let mut items = Vec::new();
            for i in v.arr_items() {
                items.push(self.deep_copy(&i, depth + 1)?);
            }
            return Val::array(items, v.flags());
        }
        if v.is_object() {
            let mut m = IndexMap::new();
            for (k, i) in v.obj_entries() {
                m.insert(k, self.deep_copy(&i, depth + 1)?);
            }
            return Val::object(m);
        }
        Ok(v.clone())
    }

    fn rebuild(
        &mut self,
        v: &Val<'a>,
        targets: &[*const super::value::Obj<'a>],
        update: &'a Expr,
        delete: Option<&'a Expr>,
        env: FrameId,
        depth: u32,
    ) -> Result<Val<'a>, JsonataError> {
        if depth > super::value::MAX_VALUE_DEPTH {
            return Err(super::value::too_deep());
        }
        match v {
            Val::Arr(a) => {
                let mut items = Vec::with_capacity(a.items.len());
                for i in &a.items {
                    items.push(self.rebuild(i, targets, update, delete, env, depth + 1)?);
                }
                Val::array(items, a.flags)
            }
            Val::Obj(o) => {
                let mut map = IndexMap::new();
                for (k, i) in &o.map {
                    map.insert(
                        k.clone(),
                        self.rebuild(i, targets, update, delete, env, depth + 1)?,
                    );
                }
                if targets.contains(&Rc::as_ptr(o)) {
                    let upd = self.eval(update, Some(v), env)?;
                    if let Some(u) = upd {
                        if !u.is_object() {
                            return Err(at(
                                err("T2011", format!("The insert/update clause of the transform expression must evaluate to an object: {}", stringify(&u, false)?)),
                                update.pos,
                            ));
                        }
                        for (k, x) in u.obj_entries() {
                            map.insert(k, x);
                        }
                    }
                    if let Some(d) = delete {
                        if let Some(del) = self.eval(d, Some(v), env)? {
                            let names = if del.is_array() {
                                del.arr_items()
                            } else {
                                vec![del]
                            };
                            for n in names {
                                let Some(n) = n.as_str() else {
                                    return Err(at(
                                        err("T2012", format!("The delete clause of the transform expression must evaluate to a string or array of strings: {}", stringify(&n, false)?)),
                                        d.pos,
                                    ));
                                };
                                map.shift_remove(n);
                            }
                        }
                    }
                }
                Val::object(map)
            }
            other => Ok(other.clone()),
        }
    }
}

/// An operand of an arithmetic operator: a number or nothing; anything else is `code`.
fn number_operand(
    op: BinOp,
    v: &Option<Val>,
    code: &str,
    side: &str,
    pos: usize,
) -> Result<Option<f64>, JsonataError> {
    match v {
        None => Ok(None),
        Some(Val::Num(n)) => Ok(Some(*n)),
        Some(_) => Err(at(
            err(
                code,
                format!(
                    "The {side} side of the \"{}\" operator must evaluate to a number",
                    op.symbol()
                ),
            ),
            pos,
        )),
    }
}

/// `<`, `<=`, `>`, `>=`: two numbers or two strings; nothing when a side is missing.
fn compare<'a>(op: BinOp, lhs: &Option<Val<'a>>, rhs: &Option<Val<'a>>) -> R<'a> {
    let comparable = |v: &Option<Val<'a>>| match v {
        None => true,
        Some(Val::Num(_)) => true,
        Some(x) => x.as_str().is_some(),
    };
    if !comparable(lhs) || !comparable(rhs) {
        let bad = if comparable(lhs) { rhs } else { lhs };
        let text = bad
            .as_ref()
            .map(|v| stringify(v, false))
            .transpose()?
            .unwrap_or_default();
        return Err(err(
            "T2010",
            format!("The expressions either side of operator \"{}\" must evaluate to numeric or string values: {text}", op.symbol()),
        ));
    }
    let (Some(a), Some(b)) = (lhs, rhs) else {
        return Ok(None);
    };
    let ord = match (a, b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => Some(x.cmp(y)),
            _ => {
                return Err(err(
                    "T2009",
                    format!(
                        "The values {} and {} either side of operator \"{}\" must be of the same data type",
                        stringify(a, false)?,
                        stringify(b, false)?,
                        op.symbol()
                    ),
                ))
            }
        },
    };
    use std::cmp::Ordering::*;
    let res = match (op, ord) {
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Less,
        (BinOp::Le, Some(o)) => o != Greater,
        (BinOp::Gt, Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    };
    Ok(Some(Val::Bool(res)))
}

fn predicate_selects(res: Option<&Val>, index: usize, len: usize) -> bool {
    let Some(res) = res else { return false };
    let matches_index = |n: f64| {
        let mut i = n.floor();
        if i < 0.0 {
            i += len as f64;
        }
        i == index as f64
    };
    if let Val::Num(n) = res {
        return matches_index(*n);
    }
    if res.is_array() {
        let items = res.arr_items();
        if !items.is_empty() && items.iter().all(|x| matches!(x, Val::Num(_))) {
            return items.iter().any(|x| x.as_num().is_some_and(matches_index));
        }
    }
    truthy(res)
}

/// Field lookup, mapping over arrays and flattening one level.
fn lookup_field<'a>(v: &Val<'a>, key: &str) -> Option<Val<'a>> {
    if v.is_array() {
        let mut out = Vec::new();
        for item in v.arr_items() {
            if let Some(r) = lookup_field(&item, key) {
                if r.is_array() {
                    out.extend(r.arr_items());
                } else {
                    out.push(r);
                }
            }
        }
        return Some(Val::seq(out));
    }
    v.field(key)
}

fn wildcard<'a>(v: &Val<'a>, out: &mut Vec<Val<'a>>) {
    let values: Vec<Val<'a>> = if v.is_object() {
        v.obj_entries().into_iter().map(|(_, x)| x).collect()
    } else if v.is_array() {
        v.arr_items()
    } else {
        return;
    };
    for x in values {
        if x.is_array() {
            flatten_into(&x, out, 0);
        } else {
            out.push(x);
        }
    }
}

fn flatten_into<'a>(v: &Val<'a>, out: &mut Vec<Val<'a>>, depth: u32) {
    if v.is_array() && depth < super::value::MAX_VALUE_DEPTH + 200 {
        for x in v.arr_items() {
            flatten_into(&x, out, depth + 1);
        }
    } else {
        out.push(v.clone());
    }
}

/// The evaluator as the built-in functions see it.
impl<'a> Host<'a> for Ev<'a> {
    fn tick(&mut self, n: u64) -> Result<(), JsonataError> {
        Ev::tick(self, n)
    }
    fn apply(&mut self, f: &Val<'a>, args: Vec<Option<Val<'a>>>, ctx: Option<&Val<'a>>) -> R<'a> {
        Ev::apply(self, f, args, ctx)
    }
    fn now_millis(&self) -> i64 {
        self.now_millis
    }
    fn rng(&mut self) -> &mut SimRng {
        self.rng
    }
}

/// The path inside a step written `(path)`, when the step is just that: no focus, index
/// or grouping of its own, and the path has none either.
fn ancestry_block(step: &Expr) -> Option<&Path> {
    let Kind::Block(xs) = &step.kind else {
        return None;
    };
    let [inner] = xs.as_slice() else { return None };
    let Kind::Path(p) = &inner.kind else {
        return None;
    };
    let plain = step.focus.is_none()
        && step.index.is_none()
        && step.group.is_none()
        && p.group.is_none()
        && inner.predicates.is_empty()
        && inner.stages.is_empty()
        && inner.group.is_none();
    plain.then_some(p)
}
