//! `cosmic.summarize`: combines the ranks' result files into `{result_path}/combined_data.json`.
//!
//! It lists `{result_path}/`, reads every rank file (`<rank>.json` directly under the prefix;
//! other keys, `combined_data.json` among them, are skipped), and writes
//!
//! ```json
//! {"result_path": …, "world_size": W, "num_records": k, "num_samples": N,
//!  "metrics": {"mae", "mse", "bias", "precision", "r2"}, "precision_source": …,
//!  "fmi_global": {…} | null, "records": [rank 0's record, …]}
//! ```
//!
//! MAE, MSE and bias are the sample-weighted means of the ranks'; R² is pooled exactly from
//! each rank's MSE, redshift mean and variance. NMAD is not poolable: it is taken from the FMI
//! gather at rank 0 when the ranks ran with FMI (`precision_source: "fmi_gather"`), otherwise
//! it is the sample-weighted mean of the ranks' NMADs (`"rank_weighted_mean"`, an
//! approximation).
//!
//! It returns `{"statusCode": 200, "body": "\"Combined data uploaded to <key>\""}` (the body is
//! JSON text of a string, as the Python original's `json.dumps` makes it and the notebook
//! prints it). The bucket is the event's `data_bucket` (where the ranks wrote), else `bucket`,
//! else the function's `bucket` parameter; `result_path` comes from the event, else from the
//! first rank payload under `lambda_result.body`, as the original reads it.
//!
//! Differences from the original, on purpose: it lists `{result_path}/` with the slash (the
//! original's prefix `results/test_1` also matched `results/test_10_…`); it fails with
//! `FileNotFoundError` when there is no rank file, and with `ValueError` on a file that is not a
//! JSON object, where the original returned a 404 or 500 body from a "successful" invocation.

use serde_json::{json, Map, Value};

use super::fields::{event_object, join_key, s3_failure, string, value_error};
use crate::sim::handler::{FunctionError, HandlerFuture, Invocation};
use crate::sim::Handler;

/// The summarizer handler.
#[derive(Clone, Debug, Default)]
pub struct Summarize {
    /// The bucket when the event names none.
    pub bucket: Option<String>,
}

impl Handler for Summarize {
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(self.run(event, ctx))
    }
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// Global metrics from per-rank records (see the module doc).
pub fn pooled_metrics(records: &[Value]) -> (u64, Value, &'static str) {
    let mut n_total = 0.0;
    let (mut mae, mut mse, mut bias, mut prec, mut mean) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for r in records {
        let n = num(r, "num_samples").unwrap_or(0.0);
        let m = &r["metrics"];
        n_total += n;
        mae += n * num(m, "mae").unwrap_or(0.0);
        mse += n * num(m, "mse").unwrap_or(0.0);
        bias += n * num(m, "bias").unwrap_or(0.0);
        prec += n * num(m, "precision").unwrap_or(0.0);
        mean += n * num(r, "redshift_mean").unwrap_or(0.0);
    }
    if n_total == 0.0 {
        return (
            0,
            json!({"mae": null, "mse": null, "bias": null, "precision": null, "r2": null}),
            "none",
        );
    }
    mean /= n_total;
    let ss_tot: f64 = records
        .iter()
        .map(|r| {
            let n = num(r, "num_samples").unwrap_or(0.0);
            let d = num(r, "redshift_mean").unwrap_or(0.0) - mean;
            n * (num(r, "redshift_variance").unwrap_or(0.0) + d * d)
        })
        .sum();
    let fmi_precision = records
        .iter()
        .find(|r| r["rank"] == json!(0))
        .and_then(|r| num(&r["fmi"]["global"], "precision"));
    let (precision, source) = match fmi_precision {
        Some(p) => (p, "fmi_gather"),
        None => (prec / n_total, "rank_weighted_mean"),
    };
    let r2 = if ss_tot > 0.0 {
        json!(1.0 - mse / ss_tot)
    } else {
        Value::Null
    };
    (
        n_total as u64,
        json!({
            "mae": mae / n_total,
            "mse": mse / n_total,
            "bias": bias / n_total,
            "precision": precision,
            "r2": r2,
        }),
        source,
    )
}

impl Summarize {
    async fn run(&self, event: Value, ctx: &mut Invocation) -> Result<Value, FunctionError> {
        let ev = event_object(&event, "the summarizer")?;
        let bucket = match (string(ev, "data_bucket")?, string(ev, "bucket")?) {
            (Some(b), _) | (None, Some(b)) if !b.is_empty() => b.to_string(),
            _ => self.bucket.clone().ok_or_else(|| {
                super::fields::missing(
                    "data_bucket",
                    "the bucket the ranks wrote to; or give the function a `bucket` parameter",
                )
            })?,
        };
        let from_ranks = ev
            .get("lambda_result")
            .and_then(|l| l.get("body"))
            .and_then(|b| b.get(0))
            .and_then(|p| p.get("result_path"))
            .and_then(Value::as_str);
        let result_path = match string(ev, "result_path")? {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => from_ranks.map(str::to_string).ok_or_else(|| {
                super::fields::missing("result_path", "where the ranks wrote their results")
            })?,
        };
        let prefix = format!("{}/", result_path.trim_end_matches('/'));
        let listed = ctx
            .s3_list(&bucket, &prefix)
            .await
            .map_err(|e| s3_failure(e, &bucket, &prefix, "listing the rank results"))?;
        let mut rank_keys: Vec<(u64, String)> = Vec::new();
        for o in listed {
            let name = o.key.strip_prefix(prefix.as_str()).unwrap_or(&o.key);
            let rank = name
                .strip_suffix(".json")
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok());
            match rank {
                Some(r) => rank_keys.push((r, o.key)),
                None if name == "combined_data.json" => {}
                None => ctx.log(format!(
                    "skipping s3://{bucket}/{}: not a rank result",
                    o.key
                )),
            }
        }
        if rank_keys.is_empty() {
            return Err(FunctionError::new(
                "FileNotFoundError",
                format!(
                    "no rank results (<rank>.json) under s3://{bucket}/{prefix}: did the \
                     inference ranks run and write there?"
                ),
            ));
        }
        // S3 lists 10.json before 2.json; the records go in rank order.
        rank_keys.sort();
        let mut records = Vec::with_capacity(rank_keys.len());
        for (_, key) in &rank_keys {
            let body = ctx
                .s3_get(&bucket, key)
                .await
                .map_err(|e| s3_failure(e, &bucket, key, "a rank result"))?;
            match serde_json::from_slice::<Value>(&body) {
                Ok(v @ Value::Object(_)) => records.push(v),
                Ok(_) => {
                    return Err(value_error(format!(
                        "s3://{bucket}/{key} must hold a JSON object (a rank record)"
                    )))
                }
                Err(e) => {
                    return Err(value_error(format!(
                        "error decoding JSON in s3://{bucket}/{key}: {e}"
                    )))
                }
            }
        }
        let (samples, metrics, source) = pooled_metrics(&records);
        let world_size = records
            .iter()
            .filter_map(|r| r.get("world_size").and_then(Value::as_u64))
            .max();
        let fmi_global = records
            .iter()
            .find(|r| r["rank"] == json!(0))
            .map(|r| r["fmi"]["global"].clone())
            .unwrap_or(Value::Null);
        let mut combined = Map::new();
        combined.insert("result_path".into(), json!(result_path));
        combined.insert("world_size".into(), json!(world_size));
        combined.insert("num_records".into(), json!(records.len()));
        combined.insert("num_samples".into(), json!(samples));
        combined.insert("metrics".into(), metrics);
        combined.insert("precision_source".into(), json!(source));
        combined.insert("fmi_global".into(), fmi_global);
        combined.insert("records".into(), Value::Array(records));
        let out_key = join_key(&result_path, "combined_data.json");
        let bytes =
            serde_json::to_vec(&Value::Object(combined)).map_err(|e| value_error(e.to_string()))?;
        ctx.s3_put(&bucket, &out_key, bytes)
            .await
            .map_err(|e| s3_failure(e, &bucket, &out_key, "writing the combined results"))?;
        ctx.log(format!(
            "Combined {} rank result(s) into s3://{bucket}/{out_key}",
            rank_keys.len()
        ));
        let body = Value::String(format!("Combined data uploaded to {out_key}")).to_string();
        Ok(json!({"statusCode": 200, "body": body}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_is_exact_for_mae_mse_bias_and_r2() {
        use crate::handlers::cosmic::photoz::metrics;
        let truth = [0.1, 0.2, 0.3, 0.15, 0.4];
        let pred = [0.12, 0.18, 0.33, 0.1, 0.38];
        let all = metrics(&pred, &truth);
        let rec = |r: u64, lo: usize, hi: usize| {
            let m = metrics(&pred[lo..hi], &truth[lo..hi]);
            let t = &truth[lo..hi];
            let mean = t.iter().sum::<f64>() / t.len() as f64;
            let var = t.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / t.len() as f64;
            json!({"rank": r, "num_samples": hi - lo, "metrics": m.to_json(),
                   "redshift_mean": mean, "redshift_variance": var, "fmi": null})
        };
        let (n, m, source) = pooled_metrics(&[rec(0, 0, 2), rec(1, 2, 5)]);
        assert_eq!(n, 5);
        assert_eq!(source, "rank_weighted_mean");
        for (k, v) in [
            ("mae", all.mae),
            ("mse", all.mse),
            ("bias", all.bias),
            ("r2", all.r2.unwrap()),
        ] {
            assert!((m[k].as_f64().unwrap() - v).abs() < 1e-12, "{k}");
        }
        let (n, m, source) = pooled_metrics(&[]);
        assert_eq!((n, source), (0, "none"));
        assert!(m["r2"].is_null());
    }
}
