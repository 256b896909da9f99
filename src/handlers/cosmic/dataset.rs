//! The synthetic SDSS-like galaxy catalogue the COSMIC-AI example runs on, its partition files,
//! and the seed objects (payload.json plus partitions) a run needs in S3.
//!
//! Each galaxy has the five SDSS magnitudes `u, g, r, i, z` and a true `redshift`. Its colours
//! redden with redshift and with galaxy type (blue star-forming to red passive), its apparent
//! magnitude grows fainter with distance, and every band carries photometric noise that grows
//! for fainter objects, the u band most. The relations are simple polynomials chosen to look
//! like SDSS main-sample galaxies (z ≲ 0.5, most below 0.2); they are not fitted to SDSS.
//!
//! Determinism: galaxy `j` is drawn from its own stream `SimRng::derived(seed,
//! "cosmic/galaxy/j")`, so the small set (250) is the first 250 galaxies of the medium one (626),
//! which is the first 626 of the large one (1,253), and partitioning never changes a galaxy.
//! Only `+ − × ÷` are used (noise is an Irwin–Hall sum of twelve uniforms), so the bytes are
//! the same on every platform.
//!
//! A partition file (`object_type` `batch_json`) is JSON:
//! `{"object_type": "batch_json", "data_size": "medium", "partition": 0, "partitions": 10,
//!   "bands": ["u","g","r","i","z"], "samples": [{"objid": …, "u": …, "g": …, "r": …, "i": …,
//!   "z": …, "redshift": …}, …]}` (`z` is the z-band magnitude, as in SDSS tables).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::rng::SimRng;

/// Samples per data size, from the team's notebook (Teams/team2 README, "Dataset Sizes").
pub const DATA_SIZES: [(&str, usize); 3] = [("small", 250), ("medium", 626), ("large", 1253)];

/// Galaxies per partition file by default. The real project split its data into files of a
/// fixed byte size (10 MB in the team's instructions); a partition here is a number of samples,
/// chosen so that the medium set gives 10 files and every world size the notebook tried (1–4)
/// has a file for each rank.
pub const DEFAULT_SAMPLES_PER_FILE: usize = 64;

/// The default master seed of the catalogue.
pub const DEFAULT_SEED: u64 = 20_250_721;

/// The notebook's bucket.
pub const NOTEBOOK_BUCKET: &str = "team2-cosmical-7078ea12";

/// SDSS object ids are 64-bit; synthetic ones count up from here.
const OBJID_BASE: u64 = 1_237_648_700_000_000_000;

/// One galaxy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Galaxy {
    #[serde(default)]
    pub objid: u64,
    pub u: f64,
    pub g: f64,
    pub r: f64,
    pub i: f64,
    /// The z-band magnitude (not the redshift).
    pub z: f64,
    /// The true (spectroscopic) redshift.
    pub redshift: f64,
}

impl Galaxy {
    /// The magnitudes in band order u, g, r, i, z.
    pub fn magnitudes(&self) -> [f64; 5] {
        [self.u, self.g, self.r, self.i, self.z]
    }
}

/// A partition file as stored in S3.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    #[serde(default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub data_size: Option<String>,
    #[serde(default)]
    pub partition: Option<u64>,
    #[serde(default)]
    pub partitions: Option<u64>,
    #[serde(default)]
    pub bands: Option<Vec<String>>,
    pub samples: Vec<Galaxy>,
}

/// A standard normal draw from twelve uniforms (Irwin–Hall); arithmetic only, so portable.
fn normal(rng: &mut SimRng) -> f64 {
    (0..12).map(|_| rng.next_f64()).sum::<f64>() - 6.0
}

fn round_to(x: f64, digits: i32) -> f64 {
    let scale = match digits {
        3 => 1e3,
        4 => 1e4,
        _ => 1e5,
    };
    (x * scale).round() / scale
}

/// Galaxy number `index` of the catalogue with master seed `seed`.
pub fn galaxy(seed: u64, index: u64) -> Galaxy {
    let mut rng = SimRng::derived(seed, &format!("cosmic/galaxy/{index}"));
    // Redshift: min of two uniforms is skewed to low values (mean 1/3), as the SDSS main
    // sample is; z in [0.02, 0.47], mean ≈ 0.17, sd ≈ 0.11.
    let s = rng.next_f64().min(rng.next_f64());
    let redshift = 0.02 + 0.45 * s;
    // Galaxy type: 0 blue star-forming … 1 red passive.
    let t = rng.next_f64();
    // Luminosity scatter at fixed redshift (mag).
    let lum = 0.6 * normal(&mut rng);
    let r_true = 14.8 + 14.0 * redshift - 8.0 * redshift * redshift + lum;
    let gr = 0.30 + 0.45 * t + 1.6 * redshift;
    let ug = 0.95 + 0.85 * t + 1.0 * redshift;
    let ri = 0.20 + 0.18 * t + 0.75 * redshift;
    let iz = 0.12 + 0.10 * t + 0.35 * redshift;
    // Photometric errors grow for fainter objects; u is the noisiest band.
    let faint = (r_true - 15.0).max(0.0);
    let sigma = 0.02 + 0.01 * faint;
    let r = r_true + sigma * normal(&mut rng);
    let g = r_true + gr + sigma * normal(&mut rng);
    let u = r_true + gr + ug + 2.5 * sigma * normal(&mut rng);
    let i = r_true - ri + sigma * normal(&mut rng);
    let z = r_true - ri - iz + 1.5 * sigma * normal(&mut rng);
    Galaxy {
        objid: OBJID_BASE + index,
        u: round_to(u, 4),
        g: round_to(g, 4),
        r: round_to(r, 4),
        i: round_to(i, 4),
        z: round_to(z, 4),
        redshift: round_to(redshift, 5),
    }
}

/// The first `n` galaxies of the catalogue.
pub fn catalogue(seed: u64, n: usize) -> Vec<Galaxy> {
    (0..n as u64).map(|j| galaxy(seed, j)).collect()
}

/// The number of samples of a data size (`small`, `medium`, `large`).
pub fn data_size_samples(name: &str) -> Option<usize> {
    DATA_SIZES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, k)| k)
}

/// The payload.json of the team's notebook (and the example's input.json).
pub fn notebook_payload() -> Value {
    json!({
        "bucket": NOTEBOOK_BUCKET,
        "file_limit": "1000",
        "object_type": "batch_json",
        "script": "/tmp/cosmic_inference_workflow",
        "data_bucket": NOTEBOOK_BUCKET,
        "data_prefix": "datasets",
        "rendezvous_endpoint": "rendezvous.uva-ds5110.com:10000",
        "unique_id": "7078ea12",
        "test_mode": true,
        "fmi_enabled": true,
        "data_size": "medium",
        "batch_size": 128,
        "world_size": 4,
        "S3_object_name": "batch_2.json",
        "result_path": "results/test_20_ws4_bs128",
        "data_map": {"0": null, "1": null, "2": null, "3": null}
    })
}

/// Parameters of [`generate_seed_objects`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedParams {
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    data_bucket: Option<String>,
    #[serde(default)]
    data_prefix: Option<String>,
    #[serde(default)]
    data_size: Option<String>,
    #[serde(default)]
    samples: Option<u64>,
    #[serde(default)]
    samples_per_file: Option<u64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    payload_key: Option<String>,
}

/// The S3 objects a COSMIC-AI run needs before it starts: `payload.json` and the catalogue's
/// partition files. Each item is `(bucket, key, bytes)`.
///
/// `params` (a JSON object, every key optional):
///
/// | key | default | meaning |
/// |---|---|---|
/// | `payload` | the notebook's payload.json | the object written as payload.json; `false` writes none |
/// | `payload_key` | `payload.json` | its key |
/// | `bucket` | payload's `bucket` | where payload.json goes |
/// | `data_bucket` | payload's `data_bucket` (else `bucket`) | where the partitions go |
/// | `data_prefix` | payload's `data_prefix` (else `datasets`) | partition keys are `{data_prefix}/batch_{i}.json` |
/// | `data_size` | payload's `data_size` (else `medium`) | `small` 250, `medium` 626, `large` 1,253 samples |
/// | `samples` | from `data_size` | an explicit sample count (overrides `data_size`) |
/// | `samples_per_file` | 64 | galaxies per partition file |
/// | `seed` | 20250721 | the catalogue's master seed |
pub fn generate_seed_objects(params: &Value) -> Result<Vec<(String, String, Vec<u8>)>, String> {
    let params = if params.is_null() {
        Value::Object(Map::new())
    } else {
        params.clone()
    };
    let p: SeedParams = serde_json::from_value(params)
        .map_err(|e| format!("cosmic.dataset seed parameters: {e}"))?;
    let payload = match p.payload {
        None => Some(notebook_payload()),
        Some(Value::Bool(false)) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(other) => {
            return Err(format!(
            "cosmic.dataset: `payload` must be an object (the payload.json) or false, got {other}"
        ))
        }
    };
    let from_payload = |key: &str| -> Option<String> {
        payload
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let bucket = p
        .bucket
        .or_else(|| from_payload("bucket"))
        .unwrap_or_else(|| NOTEBOOK_BUCKET.to_string());
    let data_bucket = p
        .data_bucket
        .or_else(|| from_payload("data_bucket"))
        .unwrap_or_else(|| bucket.clone());
    let prefix = p
        .data_prefix
        .or_else(|| from_payload("data_prefix"))
        .unwrap_or_else(|| "datasets".to_string());
    let prefix = prefix.trim_end_matches('/').to_string();
    let data_size = p
        .data_size
        .or_else(|| from_payload("data_size"))
        .unwrap_or_else(|| "medium".to_string());
    let samples = match p.samples {
        Some(n) => {
            usize::try_from(n).map_err(|_| format!("cosmic.dataset: {n} samples is too many"))?
        }
        None => data_size_samples(&data_size).ok_or_else(|| {
            format!(
                "cosmic.dataset: unknown data_size `{data_size}` (known: small 250, medium 626, \
                 large 1253), or give `samples`"
            )
        })?,
    };
    // A bound that keeps a typo from filling memory; the full SDSS set is 659,857 galaxies.
    if samples > 1_000_000 {
        return Err(format!(
            "cosmic.dataset: {samples} samples is more than the 1,000,000 this generator writes"
        ));
    }
    let per_file = p
        .samples_per_file
        .unwrap_or(DEFAULT_SAMPLES_PER_FILE as u64);
    if per_file == 0 {
        return Err("cosmic.dataset: `samples_per_file` must be at least 1".to_string());
    }
    let per_file = usize::try_from(per_file).unwrap_or(usize::MAX);
    let seed = p.seed.unwrap_or(DEFAULT_SEED);
    let payload_key = p.payload_key.unwrap_or_else(|| "payload.json".to_string());

    let mut out = Vec::new();
    if let Some(payload) = &payload {
        let bytes = serde_json::to_vec_pretty(payload).map_err(|e| e.to_string())?;
        out.push((bucket.clone(), payload_key, bytes));
    }
    let galaxies = catalogue(seed, samples);
    let partitions = galaxies.len().div_ceil(per_file);
    for (k, chunk) in galaxies.chunks(per_file).enumerate() {
        let file = Partition {
            object_type: Some("batch_json".to_string()),
            data_size: Some(data_size.clone()),
            partition: Some(k as u64),
            partitions: Some(partitions as u64),
            bands: Some(["u", "g", "r", "i", "z"].map(String::from).to_vec()),
            samples: chunk.to_vec(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| e.to_string())?;
        let key = if prefix.is_empty() {
            format!("batch_{k}.json")
        } else {
            format!("{prefix}/batch_{k}.json")
        };
        out.push((data_bucket.clone(), key, bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galaxies_are_reproducible_and_nested() {
        assert_eq!(galaxy(1, 5), galaxy(1, 5));
        assert_ne!(galaxy(1, 5), galaxy(2, 5));
        let small = catalogue(7, 250);
        let medium = catalogue(7, 626);
        assert_eq!(&medium[..250], &small[..]);
    }

    #[test]
    fn galaxies_look_like_sdss() {
        let cat = catalogue(DEFAULT_SEED, 5000);
        let n = cat.len() as f64;
        let mean_z = cat.iter().map(|g| g.redshift).sum::<f64>() / n;
        assert!((0.13..0.21).contains(&mean_z), "{mean_z}");
        for g in &cat {
            assert!((0.02..=0.47).contains(&g.redshift));
            for m in g.magnitudes() {
                assert!(m.is_finite() && (10.0..26.0).contains(&m), "{g:?}");
            }
        }
        // Colours redden with redshift: g - r of the far half is redder on average.
        let (near, far): (Vec<_>, Vec<_>) = cat.iter().partition(|g| g.redshift < 0.15);
        let gr = |v: &[&Galaxy]| v.iter().map(|g| g.g - g.r).sum::<f64>() / v.len() as f64;
        assert!(gr(&far) > gr(&near) + 0.2);
    }

    #[test]
    fn seed_objects() {
        let objs = generate_seed_objects(&Value::Null).unwrap();
        // payload.json plus ceil(626 / 64) = 10 partitions.
        assert_eq!(objs.len(), 11);
        assert_eq!(objs[0].1, "payload.json");
        let payload: Value = serde_json::from_slice(&objs[0].2).unwrap();
        assert_eq!(payload, notebook_payload());
        assert_eq!(objs[1].0, NOTEBOOK_BUCKET);
        assert_eq!(objs[1].1, "datasets/batch_0.json");
        let total: usize = objs[1..]
            .iter()
            .map(|(_, _, b)| {
                serde_json::from_slice::<Partition>(b)
                    .unwrap()
                    .samples
                    .len()
            })
            .sum();
        assert_eq!(total, 626);
        assert_eq!(generate_seed_objects(&Value::Null).unwrap(), objs);

        let large = generate_seed_objects(
            &json!({"data_size": "large", "payload": false, "samples_per_file": 500}),
        )
        .unwrap();
        assert_eq!(large.len(), 3);
        let custom = generate_seed_objects(
            &json!({"samples": 3, "data_prefix": "d/", "data_bucket": "other"}),
        )
        .unwrap();
        assert_eq!(custom[1].0, "other");
        assert_eq!(custom[1].1, "d/batch_0.json");
    }

    #[test]
    fn bad_seed_parameters() {
        for (p, needle) in [
            (json!({"data_size": "huge"}), "unknown data_size"),
            (json!({"samples_per_file": 0}), "at least 1"),
            (json!({"sample": 3}), "unknown field"),
            (json!({"payload": [1]}), "must be an object"),
            (json!({"samples": 5_000_000}), "1,000,000"),
            (json!({"seed": -1}), "seed"),
        ] {
            let e = generate_seed_objects(&p).unwrap_err();
            assert!(e.contains(needle), "{p}: {e}");
        }
    }
}
