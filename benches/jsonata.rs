//! Host time of JSONata evaluation: a typical Task `Arguments` template over a realistic input
//! (parsed once, evaluated per iteration, as the interpreter does), plus parsing alone and a
//! heavier transformation.

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use stepsim::query::jsonata::{Expression, JsonataEnv, JsonataTemplate, Limits, NoVariables};
use stepsim::rng::SimRng;

fn states() -> Value {
    let items: Vec<Value> = (0..20)
        .map(|i| json!({"sku": format!("SKU-{i:04}"), "price": 3.5 + i as f64, "qty": 1 + i % 4, "tags": ["a", "b"]}))
        .collect();
    json!({
        "input": {
            "fn": "arn:aws:lambda:us-east-1:111111111111:function:price-order",
            "id": "order-000123",
            "customer": {"id": "c-77", "name": "Ada Lovelace", "tier": "gold"},
            "items": items,
        },
        "context": {"Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:run-1", "Name": "run-1"}, "State": {"Name": "Price"}}
    })
}

fn bench(c: &mut Criterion) {
    let states = states();
    let template = JsonataTemplate::compile(&json!({
        "FunctionName": "{% $states.input.fn %}",
        "Payload": {"id": "{% $states.input.id %}", "total": "{% $sum($states.input.items.price) %}"}
    }))
    .expect("compiles");
    let mut rng = SimRng::new(1);
    c.bench_function("jsonata/arguments_template", |b| {
        b.iter(|| {
            let mut env = JsonataEnv {
                states: &states,
                variables: &NoVariables,
                now_millis: 1_731_690_752_000,
                rng: &mut rng,
                limits: Limits::default(),
            };
            template.evaluate(&mut env, "Arguments").expect("evaluates")
        })
    });
    c.bench_function("jsonata/parse_arguments_expressions", |b| {
        b.iter(|| {
            for t in [
                "$states.input.fn",
                "$states.input.id",
                "$sum($states.input.items.price)",
            ] {
                std::hint::black_box(Expression::parse(t).expect("parses"));
            }
        })
    });
    let heavy = Expression::parse(
        "$states.input.items[qty > 1]^(>price).{'sku': sku, 'line': $formatNumber(price * qty, '#,##0.00'), 'tags': $join(tags, '|')}",
    )
    .expect("parses");
    c.bench_function("jsonata/filter_sort_map_20_items", |b| {
        b.iter(|| {
            let mut env = JsonataEnv {
                states: &states,
                variables: &NoVariables,
                now_millis: 0,
                rng: &mut rng,
                limits: Limits::default(),
            };
            heavy.evaluate(&mut env).expect("evaluates")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
