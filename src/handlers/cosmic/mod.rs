//! The COSMIC-AI workload pack: the team's redshift-inference workflow (initializer, FMI-enabled
//! data-parallel inference, summarizer) as in-process Lambda handlers, and the synthetic
//! SDSS-like dataset it runs on. `asl-examples/cosmic-ai/` wires them into the team's state
//! machine.
//!
//! | kind | params (functions file) | what it does |
//! |---|---|---|
//! | `cosmic.init` | `bucket` (used when the event has none), `payload_key` (default `payload.json`) | [`init`]: loads payload.json, assigns partition files to ranks, returns one payload per rank |
//! | `cosmic.inference` | `fmi_channel`: `direct` (default), `redis` or `s3`; `estimator`: `astromae` (default, the calibration batch curve) or `linear` (no modelled inference time) | [`inference`]: one rank; photo-z over its partitions, FMI collectives, writes `{result_path}/{rank}.json` |
//! | `cosmic.summarize` | `bucket` (used when the event has none) | [`summarize`]: combines the rank files into `{result_path}/combined_data.json` |
//! | `cosmic.paper_plan`, `cosmic.paper_rank`, `cosmic.paper_summarize` | `paper_rank`: `speedup`, `batch_sigma`, `tail_share`, `tail_factor`, `cold_handler_seconds`, `working_set_mb`, `model_key` | [`paper`]: the COSMIC-AI paper's workflow at scale (`asl-examples/cosmic-ai-paper/`) |
//!
//! Unknown parameters are rejected. The seed generator for a project folder is
//! [`generate_seed_objects`] (payload.json plus the partition files; see [`dataset`]).

pub mod dataset;
pub mod fields;
pub mod inference;
pub mod init;
pub mod paper;
pub mod photoz;
pub mod summarize;

use std::sync::Arc;

use serde::Deserialize;

use crate::handlers::params::parse;
use serde_json::Value;

pub use dataset::{generate_seed_objects, notebook_payload};

use crate::sim::fmi::FmiChannel;
use crate::sim::function::HandlerCatalog;
use crate::sim::Handler;

/// The handler kinds of this pack, sorted.
pub const KINDS: [&str; 6] = [
    "cosmic.inference",
    "cosmic.init",
    "cosmic.paper_plan",
    "cosmic.paper_rank",
    "cosmic.paper_summarize",
    "cosmic.summarize",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketParams {
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    payload_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummarizeParams {
    #[serde(default)]
    bucket: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InferenceParams {
    #[serde(default)]
    fmi_channel: Option<String>,
    #[serde(default)]
    estimator: Option<String>,
}

/// Adds the COSMIC-AI kinds to `catalog`.
pub fn register(catalog: &mut HandlerCatalog) {
    catalog.register("cosmic.init", |p: &Value| {
        let b: BucketParams = parse("cosmic.init", p)?;
        let payload_key = b.payload_key.unwrap_or_else(|| "payload.json".to_string());
        if payload_key.is_empty() {
            return Err("cosmic.init: `payload_key` must not be empty".to_string());
        }
        Ok(Arc::new(init::Init {
            bucket: b.bucket,
            payload_key,
        }) as Arc<dyn Handler>)
    });
    catalog.register("cosmic.inference", |p: &Value| {
        let i: InferenceParams = parse("cosmic.inference", p)?;
        let fmi_channel = match i.fmi_channel {
            None => FmiChannel::Direct,
            Some(c) => FmiChannel::parse(&c).ok_or_else(|| {
                format!("cosmic.inference: `fmi_channel` must be direct, redis or s3, got `{c}`")
            })?,
        };
        let estimator = match i.estimator {
            None => inference::Estimator::default(),
            Some(e) => inference::Estimator::parse(&e).ok_or_else(|| {
                format!("cosmic.inference: `estimator` must be astromae or linear, got `{e}`")
            })?,
        };
        Ok(Arc::new(inference::Inference {
            fmi_channel,
            estimator,
        }) as Arc<dyn Handler>)
    });
    catalog.register("cosmic.paper_plan", |p: &Value| {
        let _: NoParams = parse("cosmic.paper_plan", p)?;
        Ok(Arc::new(paper::Plan) as Arc<dyn Handler>)
    });
    catalog.register("cosmic.paper_rank", |p: &Value| {
        let params: paper::RankParams = parse("cosmic.paper_rank", p)?;
        params
            .check()
            .map_err(|e| format!("cosmic.paper_rank: {e}"))?;
        Ok(Arc::new(paper::Rank { params }) as Arc<dyn Handler>)
    });
    catalog.register("cosmic.paper_summarize", |p: &Value| {
        let _: NoParams = parse("cosmic.paper_summarize", p)?;
        Ok(Arc::new(paper::Summarize) as Arc<dyn Handler>)
    });
    catalog.register("cosmic.summarize", |p: &Value| {
        let s: SummarizeParams = parse("cosmic.summarize", p)?;
        Ok(Arc::new(summarize::Summarize { bucket: s.bucket }) as Arc<dyn Handler>)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_and_params() {
        let mut c = HandlerCatalog::new();
        register(&mut c);
        assert_eq!(c.kinds(), KINDS);
        assert!(c.build("cosmic.init", &Value::Null).is_ok());
        assert!(c
            .build(
                "cosmic.init",
                &json!({"bucket": "b", "payload_key": "p.json"})
            )
            .is_ok());
        assert!(c.build("cosmic.init", &json!({"payload_key": ""})).is_err());
        assert!(c.build("cosmic.init", &json!({"buckets": "b"})).is_err());
        assert!(c
            .build("cosmic.inference", &json!({"fmi_channel": "redis"}))
            .is_ok());
        let e = c
            .build("cosmic.inference", &json!({"fmi_channel": "tcp"}))
            .err()
            .unwrap();
        assert!(e.contains("direct, redis or s3"), "{e}");
        assert!(c
            .build("cosmic.inference", &json!({"estimator": "linear"}))
            .is_ok());
        let e = c
            .build("cosmic.inference", &json!({"estimator": "vit"}))
            .err()
            .unwrap();
        assert!(e.contains("astromae or linear"), "{e}");
        assert!(c.build("cosmic.summarize", &json!({"bucket": "b"})).is_ok());
        assert!(c.build("cosmic.paper_rank", &Value::Null).is_ok());
        let e = c
            .build("cosmic.paper_rank", &json!({"batch_sigma": 5}))
            .err()
            .unwrap();
        assert!(e.contains("batch_sigma"), "{e}");
        assert!(c.build("cosmic.paper_rank", &json!({"speed": 1})).is_err());
        assert!(c.build("cosmic.paper_plan", &json!({"x": 1})).is_err());
        assert!(c
            .build("cosmic.summarize", &json!({"payload_key": "b"}))
            .is_err());
    }
}
