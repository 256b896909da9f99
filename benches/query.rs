//! Benchmarks of the query layer's per-state work: reference-path get/set, a JSONPath filter
//! over 1,000 elements, a payload template with four `.$` fields, and two intrinsics.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use stepsim::query::{parse_intrinsic, Env, JsonPath, NoVariables, ReferencePath, Template};
use stepsim::rng::SimRng;

fn input() -> Value {
    json!({
        "order": {"id": "o-123", "customer": {"name": "Ada", "tier": "gold"}, "total": 42.5},
        "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 3}],
        "count": 7
    })
}

fn reference_paths(c: &mut Criterion) {
    let v = input();
    let get = ReferencePath::parse("$.order.customer.name").unwrap();
    c.bench_function("refpath_get", |b| {
        b.iter(|| black_box(get.get(black_box(&v))))
    });
    let set = ReferencePath::parse("$.result.payload").unwrap();
    c.bench_function("refpath_set", |b| {
        b.iter_batched(
            || v.clone(),
            |target| black_box(set.set(target, json!({"ok": true}))),
            criterion::BatchSize::SmallInput,
        )
    });
    let jp = JsonPath::parse("$.order.customer.name").unwrap();
    c.bench_function("jsonpath_definite_eval", |b| {
        b.iter(|| black_box(jp.eval(black_box(&v))))
    });
}

fn jsonpath_filter(c: &mut Criterion) {
    let items: Vec<Value> = (0..1000)
        .map(|i| json!({"id": i, "status": i % 3, "name": format!("n{i}")}))
        .collect();
    let v = json!({ "items": items });
    let p = JsonPath::parse("$.items[?(@.status == 0)].id").unwrap();
    c.bench_function("jsonpath_filter_1000", |b| {
        b.iter(|| black_box(p.eval(black_box(&v))))
    });
}

fn template(c: &mut Criterion) {
    let t = Template::compile(&json!({
        "orderId.$": "$.order.id",
        "customer.$": "$.order.customer.name",
        "execution.$": "$$.Execution.Id",
        "firstSku.$": "$.items[0].sku",
        "constant": "x"
    }))
    .unwrap();
    let v = input();
    let ctx = json!({"Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:e"}});
    let mut rng = SimRng::new(1);
    c.bench_function("template_4_fields", |b| {
        b.iter(|| {
            let mut env = Env::new(&v, &ctx, &NoVariables, &mut rng);
            black_box(t.eval(&mut env).unwrap())
        })
    });
}

fn intrinsics(c: &mut Criterion) {
    let v = input();
    let ctx = json!({});
    let mut rng = SimRng::new(1);
    let format = parse_intrinsic(
        "States.Format('Order {} for {} ({} items)', $.order.id, $.order.customer.name, $.count)",
    )
    .unwrap();
    c.bench_function("intrinsic_format", |b| {
        b.iter(|| {
            let mut env = Env::new(&v, &ctx, &NoVariables, &mut rng);
            black_box(format.eval(&mut env).unwrap())
        })
    });
    let add = parse_intrinsic("States.MathAdd($.count, -1)").unwrap();
    c.bench_function("intrinsic_math_add", |b| {
        b.iter(|| {
            let mut env = Env::new(&v, &ctx, &NoVariables, &mut rng);
            black_box(add.eval(&mut env).unwrap())
        })
    });
    c.bench_function("intrinsic_parse_format", |b| {
        b.iter(|| {
            black_box(parse_intrinsic(black_box(
                "States.Format('Order {} for {}', $.order.id, $.order.customer.name)",
            )))
        })
    });
}

criterion_group!(
    benches,
    reference_paths,
    jsonpath_filter,
    template,
    intrinsics
);
criterion_main!(benches);
