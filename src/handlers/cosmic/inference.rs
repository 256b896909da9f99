//! `cosmic.inference`: one rank of the data-parallel inference. It reads its partition files,
//! estimates redshifts in batches, measures the quality, takes part in the FMI collectives, and
//! writes `{result_path}/{rank}.json`.
//!
//! **Event** (one item of the initializer's body): `rank`, `world_size`, `batch_size`,
//! `data_bucket`, `data_path` (a key, a list of keys, or null), `result_path`, and optionally
//! `test_mode` (process one batch only), `fmi_enabled`, `rendezvous_endpoint`, `fmi_channel`
//! (`direct` | `redis` | `s3`, overriding the function's `fmi_channel` parameter) and
//! `unique_id` (the FMI communicator name; default `cosmic`).
//!
//! **Time.** Reading and writing S3 costs what the world's S3 model says. FMI collectives cost
//! the channel model's time (see [`crate::sim::fmi`]). Inference costs what the function's
//! `estimator` parameter says ([`Estimator`]):
//! - `astromae` (the default) charges the calibration batch curve, `0.085 s + 0.005 s × n` of
//!   CPU per batch of `n` samples at one vCPU (CALIBRATION.md, COSMIC-AI, "Local CPU batch
//!   curve … per batch this is about 0.085 s + 0.005 s × B"), spent through
//!   [`Invocation::compute`], so a 128 MB function (0.072 vCPU) takes 13.8 times as long. The
//!   figures describe AstroMAE on images; the estimator here is a linear model over the
//!   magnitudes, so only its time is borrowed, its arithmetic is its own.
//! - `linear` charges nothing for the estimate: a handler that does not load AstroMAE, whose
//!   arithmetic (five multiply-adds a sample) is far below a millisecond. A 128 MB Python zip
//!   function cannot load AstroMAE (PyTorch alone exceeds the 250 MB unzipped package quota),
//!   and the team's 128 MB durations do not grow with the batch size, so their profile uses it.
//!
//! Work the handler does whatever the estimator (imports, SDK clients) is the function's
//! `handler_cpu_ms`, charged by the Lambda model before the handler runs.
//!
//! **FMI** (when `fmi_enabled`): the rank joins the communicator of its Map run, meets its peers
//! at a barrier before reading, and after inference allreduces the sums behind the global
//! metrics (sample count, Σ|e|, Σe², ΣΔ, Σz, Σz²) and the slowest rank's compute time, and
//! gathers the normalised residuals at rank 0 for the global NMAD. A rank with no data takes
//! part with empty contributions, so its peers never wait for it.
//!
//! **Record** (`{result_path}/{rank}.json`): the real record's fields — `total_cpu_time
//! (seconds)` (modelled inference time), `total_cpu_memory (MB)` (the data the rank held),
//! `execution_time (seconds/batch)` (`total / (samples / batch_size)`, the real formula),
//! `num_batches`, `batch_size`, `device` (`cpu`), `throughput_bps` (input bits per second,
//! counting the 164,000 bits of one AstroMAE input, a 5×32×32 float32 image and 5 float32
//! magnitudes, so the figure compares with the real records), `sample_persec`, `result_path`,
//! `data_path`, `s3_num_requests`, `s3_total_time` — then `rank`, `world_size`, `num_samples`,
//! `partition_samples`, `metrics` (MAE, MSE, bias, precision, R²), `redshift_mean`,
//! `redshift_variance` (population), and `fmi` (null without FMI). `throughput_bps` and
//! `sample_persec` are null when the estimate took no modelled time (the `linear` estimator).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::dataset::{Galaxy, Partition};
use super::fields::{
    boolean, event_object, join_key, required_int, required_string, s3_failure, short, string,
    value_error,
};
use super::photoz::{metrics, nmad, normalised_residual, predict, Metrics};
use crate::sim::fmi::{Communicator, FmiChannel, FmiSpec, ReduceOp};
use crate::sim::handler::{FunctionError, HandlerFuture, Invocation};
use crate::sim::Handler;

/// CPU seconds per batch at one vCPU, fixed part (CALIBRATION.md, COSMIC-AI batch curve).
pub const BATCH_CPU_SECONDS: f64 = 0.085;
/// CPU seconds per sample at one vCPU (same row).
pub const SAMPLE_CPU_SECONDS: f64 = 0.005;
/// Bits of one AstroMAE input: a 5×32×32 float32 image plus 5 float32 magnitudes.
pub const BITS_PER_SAMPLE: f64 = (5.0 * 32.0 * 32.0 + 5.0) * 32.0;

/// What the inference step costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Estimator {
    /// The AstroMAE calibration batch curve ([`cpu_seconds`]).
    #[default]
    AstroMae,
    /// The linear estimator's own arithmetic: no modelled time.
    Linear,
}

impl Estimator {
    /// `astromae` or `linear`.
    pub fn parse(s: &str) -> Option<Estimator> {
        match s {
            "astromae" => Some(Estimator::AstroMae),
            "linear" => Some(Estimator::Linear),
            _ => None,
        }
    }

    /// CPU seconds at one vCPU for batches of these sizes.
    pub fn cpu_seconds(self, batch_sizes: impl IntoIterator<Item = usize>) -> f64 {
        match self {
            Estimator::AstroMae => cpu_seconds(batch_sizes),
            Estimator::Linear => 0.0,
        }
    }
}

/// The inference handler.
#[derive(Clone, Debug, Default)]
pub struct Inference {
    /// The FMI channel unless the event names one.
    pub fmi_channel: FmiChannel,
    /// What an estimate costs.
    pub estimator: Estimator,
}

impl Handler for Inference {
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(self.run(event, ctx))
    }
}

/// The modelled CPU seconds (at one vCPU) of inference over batches of these sizes.
pub fn cpu_seconds(batch_sizes: impl IntoIterator<Item = usize>) -> f64 {
    batch_sizes
        .into_iter()
        .map(|n| BATCH_CPU_SECONDS + SAMPLE_CPU_SECONDS * n as f64)
        .sum()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The keys of a `data_path`: one key, a list, or none.
fn data_keys(v: Option<&Value>) -> Result<Vec<String>, FunctionError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|k| match k {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                other => Err(value_error(format!(
                    "`data_path` must list S3 keys (strings), found {}",
                    short(other)
                ))),
            })
            .collect(),
        Some(other) => Err(value_error(format!(
            "`data_path` must be a key, a list of keys or null, got {}",
            short(other)
        ))),
    }
}

/// One rank's event, checked (the module doc lists its fields). Fields are read in a fixed
/// order, so that an event with several problems always reports the same one first.
struct RankEvent {
    rank: u64,
    world_size: u64,
    batch_size: u64,
    data_bucket: String,
    result_path: String,
    /// The partition keys `data_path` names.
    keys: Vec<String>,
    /// `data_path` as given, copied into the record.
    data_path: Value,
    test_mode: bool,
    /// The communicator to join, when `fmi_enabled`.
    fmi: Option<FmiSpec>,
}

impl RankEvent {
    /// Checks `event`; `channel` is the FMI channel unless the event names one.
    fn parse(event: &Value, channel: FmiChannel) -> Result<RankEvent, FunctionError> {
        let ev = event_object(event, "the inference function")?;
        let world_size = required_int(ev, "world_size", 1, "the number of ranks")?;
        let rank = required_int(ev, "rank", 0, "this rank's number")?;
        if rank >= world_size {
            return Err(value_error(format!(
                "`rank` {rank} is outside 0..{} for world_size {world_size}",
                world_size - 1
            )));
        }
        let batch_size = required_int(ev, "batch_size", 1, "samples per inference batch")?;
        let data_bucket =
            required_string(ev, "data_bucket", "the bucket of the partition files")?.to_string();
        let result_path =
            required_string(ev, "result_path", "where to write this rank's result")?.to_string();
        let keys = data_keys(ev.get("data_path"))?;
        let test_mode = boolean(ev, "test_mode")?.unwrap_or(false);
        let fmi_enabled = boolean(ev, "fmi_enabled")?.unwrap_or(false);
        let world_size_u32 = u32::try_from(world_size)
            .map_err(|_| value_error(format!("`world_size` {world_size} is too large")))?;
        let fmi = if fmi_enabled {
            let rank_u32 = u32::try_from(rank).unwrap_or(u32::MAX);
            Some(fmi_spec(ev, channel, world_size_u32, rank_u32)?)
        } else {
            None
        };
        Ok(RankEvent {
            rank,
            world_size,
            batch_size,
            data_bucket,
            result_path,
            keys,
            data_path: ev.get("data_path").cloned().unwrap_or(Value::Null),
            test_mode,
            fmi,
        })
    }
}

/// What rank `rank` of `world_size` brings to its communicator, from the event's FMI fields
/// (`rendezvous_endpoint`, `fmi_channel` over the default `channel`, `unique_id`).
fn fmi_spec(
    ev: &Map<String, Value>,
    channel: FmiChannel,
    world_size: u32,
    rank: u32,
) -> Result<FmiSpec, FunctionError> {
    let endpoint = required_string(
        ev,
        "rendezvous_endpoint",
        "the FMI rendezvous server (host:port), needed when fmi_enabled is true",
    )?
    .to_string();
    let channel = match string(ev, "fmi_channel")? {
        None => channel,
        Some(c) => FmiChannel::parse(c).ok_or_else(|| {
            value_error(format!(
                "`fmi_channel` must be direct, redis or s3, got \"{c}\""
            ))
        })?,
    };
    let comm_name = string(ev, "unique_id")?.unwrap_or("cosmic").to_string();
    Ok(FmiSpec {
        endpoint,
        comm_name,
        world_size,
        rank,
        channel,
    })
}

/// Joins the rank's communicator and meets its peers at a barrier before reading.
async fn join(spec: FmiSpec, ctx: &mut Invocation) -> Result<Communicator, FunctionError> {
    let mut comm = ctx.fmi_communicator(spec)?;
    comm.barrier().await?;
    Ok(comm)
}

/// What the rank read from S3.
struct Loaded {
    galaxies: Vec<Galaxy>,
    /// Time spent reading.
    s3_total: Duration,
    /// The data the rank holds in memory, in MB.
    data_mb: f64,
}

/// Reads every assigned partition, as the real script loads all of its files, and charges the
/// memory the data takes.
async fn read_partitions(ev: &RankEvent, ctx: &mut Invocation) -> Result<Loaded, FunctionError> {
    let bucket = &ev.data_bucket;
    let mut galaxies: Vec<Galaxy> = Vec::new();
    let mut bytes_read = 0u64;
    let s3_started = ctx.now();
    for key in &ev.keys {
        let body = ctx
            .s3_get(bucket, key)
            .await
            .map_err(|e| s3_failure(e, bucket, key, "this rank's partition file"))?;
        bytes_read += body.len() as u64;
        let part: Partition = serde_json::from_slice(&body).map_err(|e| {
            value_error(format!(
                "s3://{bucket}/{key} is not a batch_json partition: {e}"
            ))
        })?;
        if let Some(bad) = part
            .samples
            .iter()
            .position(|g| !(g.magnitudes().iter().all(|m| m.is_finite()) && g.redshift.is_finite()))
        {
            return Err(value_error(format!(
                "s3://{bucket}/{key}: sample {bad} has a non-finite magnitude or redshift"
            )));
        }
        galaxies.extend(part.samples);
    }
    let s3_total = (ctx.now() - s3_started).to_std().unwrap_or(Duration::ZERO);
    let data_mb = (bytes_read as f64 * 2.0 + galaxies.len() as f64 * 64.0) / 1e6;
    ctx.use_memory_mb(data_mb.ceil() as u64);
    Ok(Loaded {
        galaxies,
        s3_total,
        data_mb,
    })
}

/// The rank's estimates over the samples it processed.
struct Estimates {
    num_batches: usize,
    predicted: Vec<f64>,
    truth: Vec<f64>,
    /// The normalised residuals, in sample order.
    residuals: Vec<f64>,
    /// Modelled inference time, seconds.
    total_time: f64,
    local: Metrics,
    mean_z: f64,
    /// Population variance of the true redshifts.
    var_z: f64,
}

impl Estimates {
    /// Samples processed.
    fn n(&self) -> usize {
        self.predicted.len()
    }
}

impl Inference {
    /// One rank, in the order the real script works: check the event, join the communicator,
    /// read the partitions, estimate, pool the metrics over FMI, write the record.
    async fn run(&self, event: Value, ctx: &mut Invocation) -> Result<Value, FunctionError> {
        let ev = RankEvent::parse(&event, self.fmi_channel)?;
        let mut comm = match ev.fmi.clone() {
            Some(spec) => Some(join(spec, ctx).await?),
            None => None,
        };
        let loaded = read_partitions(&ev, ctx).await?;
        let est = self.estimate(&ev, &loaded.galaxies, ctx).await;
        let fmi = match (comm.as_mut(), &ev.fmi) {
            (Some(comm), Some(spec)) => fmi_summary(comm, spec, &est).await?,
            _ => Value::Null,
        };
        // Leave the communicator before the upload: no collective follows.
        drop(comm);

        let rank = ev.rank;
        if ev.keys.is_empty() {
            ctx.log(format!(
                "Rank: {rank}. Data path is not specified. Nothing to process."
            ));
            return Ok(json!({
                "statusCode": 200,
                "body": {"rank": rank, "result": null, "num_samples": 0,
                         "message": format!("rank {rank} has no data assigned; no result written")}
            }));
        }

        let body = serde_json::to_vec(&record(&ev, &loaded, &est, fmi))
            .map_err(|e| value_error(e.to_string()))?;
        let bucket = &ev.data_bucket;
        let key = join_key(&ev.result_path, &format!("{rank}.json"));
        ctx.s3_put(bucket, &key, body)
            .await
            .map_err(|e| s3_failure(e, bucket, &key, "writing this rank's result"))?;
        let n = est.n();
        ctx.log(format!(
            "Rank: {rank}. End Inference. {n} sample(s) in {} batch(es), {:.3} s; \
             result s3://{bucket}/{key}",
            est.num_batches, est.total_time
        ));
        Ok(json!({
            "statusCode": 200,
            "body": {"rank": rank, "result": format!("s3://{bucket}/{key}"), "num_samples": n}
        }))
    }

    /// Inference, batch by batch (one batch in test mode), spending the estimator's time.
    async fn estimate(
        &self,
        ev: &RankEvent,
        galaxies: &[Galaxy],
        ctx: &mut Invocation,
    ) -> Estimates {
        let batch = usize::try_from(ev.batch_size).unwrap_or(usize::MAX);
        let mut batches: Vec<&[Galaxy]> = galaxies.chunks(batch).collect();
        if ev.test_mode {
            batches.truncate(1);
        }
        let processed: Vec<&Galaxy> = batches.iter().flat_map(|b| b.iter()).collect();
        let predicted: Vec<f64> = processed.iter().map(|g| predict(g)).collect();
        let truth: Vec<f64> = processed.iter().map(|g| g.redshift).collect();
        let cpu = self.estimator.cpu_seconds(batches.iter().map(|b| b.len()));
        let compute_started = ctx.now();
        if cpu > 0.0 {
            ctx.compute(cpu).await;
        }
        let total_time = secs(
            (ctx.now() - compute_started)
                .to_std()
                .unwrap_or(Duration::ZERO),
        );
        let n = processed.len();
        let local = metrics(&predicted, &truth);
        let residuals: Vec<f64> = predicted
            .iter()
            .zip(&truth)
            .map(|(&p, &t)| normalised_residual(p, t))
            .collect();
        let mean_z = if n > 0 {
            truth.iter().sum::<f64>() / n as f64
        } else {
            0.0
        };
        let var_z = if n > 0 {
            truth
                .iter()
                .map(|t| (t - mean_z) * (t - mean_z))
                .sum::<f64>()
                / n as f64
        } else {
            0.0
        };
        Estimates {
            num_batches: batches.len(),
            predicted,
            truth,
            residuals,
            total_time,
            local,
            mean_z,
            var_z,
        }
    }
}

/// The FMI part of the record: allreduces the sums behind the global metrics and the slowest
/// rank's time, gathers the residuals at rank 0 for the global NMAD, and reports the
/// communicator's cost.
async fn fmi_summary(
    comm: &mut Communicator,
    spec: &FmiSpec,
    est: &Estimates,
) -> Result<Value, FunctionError> {
    let (mut abs, mut sq) = (0.0, 0.0);
    for (&p, &t) in est.predicted.iter().zip(&est.truth) {
        abs += (p - t).abs();
        sq += (p - t) * (p - t);
    }
    let sums = comm
        .allreduce(
            &[
                est.n() as f64,
                abs,
                sq,
                est.residuals.iter().sum(),
                est.truth.iter().sum(),
                est.truth.iter().map(|t| t * t).sum(),
            ],
            ReduceOp::Sum,
        )
        .await?;
    let slowest = comm.allreduce(&[est.total_time], ReduceOp::Max).await?;
    let gathered = comm.gather(&est.residuals, 0).await?;
    let stats = comm.stats();
    let get = |i: usize| sums.get(i).copied().unwrap_or(0.0);
    let total_n = get(0);
    let mut global = Map::new();
    global.insert("num_samples".into(), json!(total_n as u64));
    if total_n > 0.0 {
        let ss_tot = get(5) - get(4) * get(4) / total_n;
        global.insert("mae".into(), json!(get(1) / total_n));
        global.insert("mse".into(), json!(get(2) / total_n));
        global.insert("bias".into(), json!(get(3) / total_n));
        global.insert(
            "r2".into(),
            if ss_tot > 0.0 {
                json!(1.0 - get(2) / ss_tot)
            } else {
                Value::Null
            },
        );
    }
    if let Some(all) = gathered {
        let flat: Vec<f64> = all.into_iter().flatten().collect();
        global.insert("precision".into(), json!(nmad(&flat)));
    }
    global.insert(
        "max_total_cpu_time (seconds)".into(),
        json!(slowest.first().copied().unwrap_or(0.0)),
    );
    Ok(json!({
        "enabled": true,
        "channel": comm.channel().as_str(),
        "rendezvous_endpoint": spec.endpoint,
        "comm_name": spec.comm_name,
        "collectives": stats.collectives,
        "time_in_collectives (seconds)": secs(stats.time_in_collectives),
        "channel_time (seconds)": secs(stats.channel_time),
        "global": Value::Object(global),
    }))
}

/// The rank's result record (`{result_path}/{rank}.json`), in the real record's field order.
fn record(ev: &RankEvent, loaded: &Loaded, est: &Estimates, fmi: Value) -> Value {
    let total_time = est.total_time;
    let n = est.n();
    let rate = |x: f64| {
        if total_time > 0.0 {
            json!(x / total_time)
        } else {
            Value::Null
        }
    };
    let per_batch = if n > 0 {
        total_time / (n as f64 / ev.batch_size as f64)
    } else {
        0.0
    };
    let mut record = Map::new();
    record.insert("total_cpu_time (seconds)".into(), json!(total_time));
    record.insert("total_cpu_memory (MB)".into(), json!(loaded.data_mb));
    record.insert("execution_time (seconds/batch)".into(), json!(per_batch));
    record.insert("num_batches".into(), json!(est.num_batches));
    record.insert("batch_size".into(), json!(ev.batch_size));
    record.insert("device".into(), json!("cpu"));
    record.insert("throughput_bps".into(), rate(n as f64 * BITS_PER_SAMPLE));
    record.insert("sample_persec".into(), rate(n as f64));
    record.insert("result_path".into(), json!(ev.result_path));
    record.insert("data_path".into(), ev.data_path.clone());
    record.insert("s3_num_requests".into(), json!(ev.keys.len()));
    record.insert("s3_total_time".into(), json!(secs(loaded.s3_total)));
    record.insert("rank".into(), json!(ev.rank));
    record.insert("world_size".into(), json!(ev.world_size));
    record.insert("num_samples".into(), json!(n));
    record.insert("partition_samples".into(), json!(loaded.galaxies.len()));
    record.insert("metrics".into(), est.local.to_json());
    record.insert("redshift_mean".into(), json!(est.mean_z));
    record.insert("redshift_variance".into(), json!(est.var_z));
    record.insert("fmi".into(), fmi);
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_curve() {
        // CALIBRATION.md: 1,253 samples at B = 128 took 7.21 s locally; the per-batch fit gives
        // 10 batches · 0.085 + 1,253 · 0.005 = 7.115 s.
        let sizes = (0..10).map(|i| if i < 9 { 128 } else { 1253 - 9 * 128 });
        assert!((cpu_seconds(sizes) - 7.115).abs() < 1e-9);
        assert_eq!(cpu_seconds([]), 0.0);
        assert_eq!(BITS_PER_SAMPLE, 164_000.0);
    }

    #[test]
    fn data_paths() {
        assert!(data_keys(None).unwrap().is_empty());
        assert_eq!(data_keys(Some(&json!("a"))).unwrap(), ["a"]);
        assert_eq!(data_keys(Some(&json!(["a", "b"]))).unwrap(), ["a", "b"]);
        assert!(data_keys(Some(&json!([1]))).is_err());
        assert!(data_keys(Some(&json!(""))).is_err());
        assert!(data_keys(Some(&json!({}))).is_err());
    }
}
