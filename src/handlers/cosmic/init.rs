//! `cosmic.init`: the initializer. It loads payload.json, lists the partition files, gives
//! each rank its share and returns one payload per rank for the Map.
//!
//! What it does, step by step:
//!
//! 1. Reads `payload.json` from the event's `bucket` (or the `bucket` parameter). The event's
//!    own fields override the file's, so a run's input (a sweep point, `--set world_size=2`)
//!    wins over the stored defaults, as the notebook's sweep relies on.
//! 2. Lists `data_bucket`/`data_prefix` and keeps the partition files (`.json` keys for
//!    `object_type` `batch_json`, payload.json itself excluded), in S3's key order, capped at
//!    `file_limit` (an integer or a numeric string such as the notebook's `"1000"`).
//! 3. Assigns files to ranks as the real initializer does: rank `r` takes
//!    `ceil(files left / ranks left)` files; a single file is a string, several are a list.
//!    `world_size` defaults to the number of files (the real one takes `file_limit`, which
//!    plans a thousand ranks for the notebook's `"1000"`).
//! 4. Records `data_map` (rank → data path) and writes payload.json back, as the real one does.
//! 5. Returns `{"statusCode": 200, "body": [payload of rank 0, …]}`.
//!
//! Bad input is a function error with a readable message: payload.json missing (`NoSuchKey`),
//! no partition files under the prefix (`FileNotFoundError`; the real initializer returned a
//! 404 body that the Map then failed on with an unrelated error), `world_size` 0, a batch size
//! or file limit below 1, or a field of the wrong type (`ValueError`).
//!
//! **More ranks than files.** The UVA initializer then gives rank `r` file `r mod files`, so
//! several ranks process the same partition and its samples are counted twice. This one gives
//! the ranks beyond the file count `data_path: null` (the notebook's `data_map` shows null as
//! "Ready for assignment"); such a rank still joins the FMI collectives, so its peers do not
//! wait for it, and writes no result, as the UVA inference script exits when its data path is
//! null. The run succeeds and every sample is counted once.

use serde_json::{json, Map, Value};

use super::fields::{
    event_object, int_at_least, required_int, required_string, s3_failure, string, value_error,
};
use crate::sim::handler::{FunctionError, HandlerFuture, Invocation};
use crate::sim::Handler;

/// Fields copied from the configuration into every rank's payload when present.
const PASSED_THROUGH: [&str; 10] = [
    "bucket",
    "data_prefix",
    "object_type",
    "S3_object_name",
    "script",
    "rendezvous_endpoint",
    "unique_id",
    "test_mode",
    "fmi_enabled",
    "data_size",
];

/// The initializer handler.
#[derive(Clone, Debug, Default)]
pub struct Init {
    /// The bucket holding payload.json when the event names none.
    pub bucket: Option<String>,
    /// The configuration's key (default `payload.json`).
    pub payload_key: String,
}

impl Handler for Init {
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(self.run(event, ctx))
    }
}

/// Rank → data path, as the real initializer assigns them.
pub fn assign_files(files: &[String], world_size: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(world_size);
    let mut start = 0usize;
    for rank in 0..world_size {
        let left = files.len().saturating_sub(start);
        let step = left.div_ceil(world_size - rank);
        let path = match step {
            0 => Value::Null,
            1 => Value::String(files[start].clone()),
            _ => Value::Array(
                files[start..start + step]
                    .iter()
                    .map(|f| Value::String(f.clone()))
                    .collect(),
            ),
        };
        start += step;
        out.push(path);
    }
    out
}

impl Init {
    async fn run(&self, event: Value, ctx: &mut Invocation) -> Result<Value, FunctionError> {
        let ev = event_object(&event, "the initializer")?;
        let bucket = match string(ev, "bucket")? {
            Some(b) if !b.is_empty() => b.to_string(),
            _ => self.bucket.clone().ok_or_else(|| {
                super::fields::missing(
                    "bucket",
                    "the bucket that holds payload.json; or give the function a `bucket` parameter",
                )
            })?,
        };
        let key = &self.payload_key;
        let raw = ctx.s3_get(&bucket, key).await.map_err(|e| {
            s3_failure(
                e,
                &bucket,
                key,
                "the initializer loads its configuration from payload.json; put it in the \
                 bucket before the run",
            )
        })?;
        let stored: Value = serde_json::from_slice(&raw)
            .map_err(|e| value_error(format!("s3://{bucket}/{key} is not valid JSON: {e}")))?;
        let Value::Object(mut config) = stored else {
            return Err(value_error(format!(
                "s3://{bucket}/{key} must hold a JSON object, got {}",
                super::fields::short(&stored)
            )));
        };
        for (k, v) in ev {
            config.insert(k.clone(), v.clone());
        }
        config.insert("bucket".into(), Value::String(bucket.clone()));

        let batch_size = required_int(&config, "batch_size", 1, "samples per inference batch")?;
        let file_limit = int_at_least(&config, "file_limit", 1)?.unwrap_or(1000);
        let world_size = int_at_least(&config, "world_size", 1)?;
        let data_bucket = match string(&config, "data_bucket")? {
            Some(b) if !b.is_empty() => b.to_string(),
            _ => bucket.clone(),
        };
        let prefix = string(&config, "data_prefix")?.unwrap_or("").to_string();
        let result_path = required_string(
            &config,
            "result_path",
            "where the ranks write their results",
        )?
        .to_string();
        let suffix = match string(&config, "object_type")? {
            None | Some("batch_json") => ".json",
            Some(other) => {
                return Err(value_error(format!(
                    "`object_type` `{other}` is not supported: the partitions here are \
                     `batch_json` files"
                )))
            }
        };

        let listed = ctx
            .s3_list(&data_bucket, &prefix)
            .await
            .map_err(|e| s3_failure(e, &data_bucket, &prefix, "listing the partition files"))?;
        let mut files: Vec<String> = listed
            .into_iter()
            .map(|o| o.key)
            .filter(|k| k.ends_with(suffix) && !(data_bucket == bucket && k == key))
            .collect();
        if files.is_empty() {
            return Err(FunctionError::new(
                "FileNotFoundError",
                format!(
                    "no partition files ({suffix}) under s3://{data_bucket}/{prefix}: nothing to \
                     assign to the ranks; check `data_bucket` and `data_prefix`, and that the \
                     dataset was uploaded"
                ),
            ));
        }
        let limit = usize::try_from(file_limit).unwrap_or(usize::MAX);
        if limit < files.len() {
            files.truncate(limit);
        } else if limit > files.len() {
            // As the real initializer does, record the effective limit.
            config.insert("file_limit".into(), Value::from(files.len()));
        }
        let world_size = match world_size {
            Some(w) => usize::try_from(w).unwrap_or(usize::MAX),
            None => files.len(),
        };
        // A bound far above any Map a workflow could run, so a typo cannot allocate the world.
        if world_size > 100_000 {
            return Err(value_error(format!(
                "`world_size` {world_size} is more than the 100,000 ranks this initializer plans"
            )));
        }
        ctx.log(format!(
            "payload.json loaded from s3://{bucket}/{key}: world_size={world_size} \
             batch_size={batch_size}; {} partition file(s) under s3://{data_bucket}/{prefix}",
            files.len()
        ));
        if world_size > files.len() {
            ctx.log(format!(
                "{} rank(s) get no file: world_size {world_size} is larger than the {} \
                 partition file(s)",
                world_size - files.len(),
                files.len()
            ));
        }

        let paths = assign_files(&files, world_size);
        let mut data_map = Map::new();
        for (rank, path) in paths.iter().enumerate() {
            data_map.insert(rank.to_string(), path.clone());
        }
        config.insert("world_size".into(), Value::from(world_size));
        config.insert("data_map".into(), Value::Object(data_map));
        let written = serde_json::to_vec_pretty(&Value::Object(config.clone()))
            .map_err(|e| value_error(e.to_string()))?;
        ctx.s3_put(&bucket, key, written)
            .await
            .map_err(|e| s3_failure(e, &bucket, key, "recording data_map in payload.json"))?;

        let mut body = Vec::with_capacity(world_size);
        for (rank, path) in paths.into_iter().enumerate() {
            let mut p = Map::new();
            p.insert("rank".into(), Value::from(rank));
            p.insert("world_size".into(), Value::from(world_size));
            p.insert("batch_size".into(), Value::from(batch_size));
            p.insert("data_bucket".into(), Value::String(data_bucket.clone()));
            p.insert("data_path".into(), path);
            p.insert("result_path".into(), Value::String(result_path.clone()));
            for k in PASSED_THROUGH {
                if let Some(v) = config.get(k) {
                    p.insert(k.into(), v.clone());
                }
            }
            if let Some(v) = config.get("fmi_channel") {
                p.insert("fmi_channel".into(), v.clone());
            }
            p.insert("task_id".into(), Value::String(format!("task_{rank}")));
            body.push(Value::Object(p));
        }
        Ok(json!({"statusCode": 200, "body": body}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("d/batch_{i}.json")).collect()
    }

    #[test]
    fn ceil_of_files_left_over_ranks_left() {
        // 10 files over 4 ranks: 3, 3, 2, 2.
        let a = assign_files(&files(10), 4);
        let sizes: Vec<usize> = a.iter().map(|v| v.as_array().map_or(1, Vec::len)).collect();
        assert_eq!(sizes, [3, 3, 2, 2]);
        assert_eq!(a[0][0], "d/batch_0.json");
        assert_eq!(a[3][1], "d/batch_9.json");
        // One file per rank is a plain string.
        let a = assign_files(&files(3), 3);
        assert_eq!(a[2], "d/batch_2.json");
        // More ranks than files: the rest get null.
        let a = assign_files(&files(2), 4);
        assert_eq!(a[1], "d/batch_1.json");
        assert_eq!(a[2], Value::Null);
        assert_eq!(a[3], Value::Null);
        assert!(assign_files(&files(2), 0).is_empty());
    }
}
