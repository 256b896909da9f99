//! Sweep parts in an object store: `--out s3://BUCKET/PREFIX` for array-job workers that share
//! no file system, and `stepsim sweep merge s3://BUCKET/PREFIX` to read them back. A part is
//! the same two objects as a part folder: `PREFIX/part-K-of-N/rows.jsonl`, then
//! `PREFIX/part-K-of-N/manifest.json`.
//!
//! The reading and writing work on any `object_store` store (tests use the in-memory one);
//! only opening a real S3 bucket needs the `s3` cargo feature. Credentials and region come
//! from the usual AWS environment variables; `?endpoint=URL&region=R` after the prefix points
//! at an S3-compatible server. Every request is bounded by [`TIMEOUT`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::part::{self, RawPart, MANIFEST, ROWS};
use super::partition::Partition;

/// The longest any one object-store operation may take.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// `s3://...`.
pub fn is_remote(out: &Path) -> bool {
    out.to_str().is_some_and(|s| s.starts_with("s3://"))
}

/// An `s3://BUCKET/PREFIX[?endpoint=URL&region=R]` address, split.
#[derive(Debug, PartialEq, Eq)]
pub struct Address {
    pub bucket: String,
    /// Without leading or trailing `/` (may be empty).
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

pub fn parse_address(url: &str) -> Result<Address, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("'{url}' is not an s3://BUCKET/PREFIX address"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Err(format!(
            "'{url}': the bucket name is missing (s3://BUCKET/PREFIX)"
        ));
    }
    let mut a = Address {
        bucket: bucket.into(),
        prefix: prefix.trim_matches('/').into(),
        endpoint: None,
        region: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("endpoint", v)) => a.endpoint = Some(v.into()),
            Some(("region", v)) => a.region = Some(v.into()),
            _ => {
                return Err(format!(
                    "'{url}': unknown parameter '{pair}' (known: endpoint=URL, region=R)"
                ))
            }
        }
    }
    Ok(a)
}

/// The object path of `name` in the part of `slice` below `prefix`.
fn object(prefix: &str, part_dir: &str, name: &str) -> ObjectPath {
    let full = [prefix, part_dir, name]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    ObjectPath::from(full)
}

/// Opens the bucket of `a` (needs the `s3` feature).
#[cfg(feature = "s3")]
pub fn open(a: &Address) -> Result<Arc<dyn ObjectStore>, String> {
    let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&a.bucket);
    if let Some(e) = &a.endpoint {
        b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
    }
    let has_region = a.region.is_some()
        || std::env::var("AWS_REGION").is_ok()
        || std::env::var("AWS_DEFAULT_REGION").is_ok();
    if let Some(r) = &a.region {
        b = b.with_region(r);
    } else if !has_region {
        b = b.with_region("us-east-1");
    }
    b.build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| format!("s3://{}: {e}", a.bucket))
}

/// Without the `s3` feature there is no S3 client: say how to get one.
#[cfg(not(feature = "s3"))]
pub fn open(a: &Address) -> Result<Arc<dyn ObjectStore>, String> {
    Err(format!(
        "s3://{}: this stepsim was built without S3 support; rebuild with `cargo build --features s3` \
         (or write parts to a shared folder)",
        a.bucket
    ))
}

/// Checks an `s3://` output address before any work starts.
pub fn check_remote(out: &Path) -> Result<(), String> {
    let url = out.to_string_lossy();
    let a = parse_address(&url)?;
    open(&a).map(|_| ())
}

/// Runs `fut` to completion on a small runtime of its own, within [`TIMEOUT`].
fn block_on<T>(fut: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the object-store runtime: {e}"))?;
    rt.block_on(async {
        tokio::time::timeout(TIMEOUT, fut)
            .await
            .map_err(|_| format!("the object store did not answer within {TIMEOUT:?}"))?
    })
}

/// Writes a part's files (rows first, manifest last) below `prefix`; returns its address.
pub async fn put_part(
    store: &dyn ObjectStore,
    prefix: &str,
    slice: Partition,
    files: &[(&str, Vec<u8>)],
) -> Result<String, String> {
    let dir = slice.dir_name();
    // A stale manifest must not vouch for rows being rewritten.
    match store.delete(&object(prefix, &dir, MANIFEST)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    for (name, bytes) in files {
        let path = object(prefix, &dir, name);
        store
            .put(&path, PutPayload::from(bytes.clone()))
            .await
            .map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(object(prefix, &dir, "").to_string())
}

/// Reads every complete part below `prefix`; `label` names the place in messages.
pub async fn get_parts(
    store: &dyn ObjectStore,
    prefix: &str,
    label: &str,
) -> Result<Vec<RawPart>, String> {
    let base = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let listing = store
        .list_with_delimiter(base.as_ref())
        .await
        .map_err(|e| format!("{label}: cannot list: {e}"))?;
    let mut dirs: Vec<String> = listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .filter(|n| part::is_part_name(n))
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(format!("{label}: no part-K-of-N parts here"));
    }
    let mut out = Vec::new();
    for d in dirs {
        let location = format!("{label}/{d}");
        let get = |name: &'static str| {
            let path = object(prefix, &d, name);
            let location = location.clone();
            async move {
                let r = store.get(&path).await.map_err(|e| match e {
                    object_store::Error::NotFound { .. } if name == MANIFEST => {
                        format!("{location}: no {MANIFEST}; did its worker finish?")
                    }
                    e => format!("{location}/{name}: {e}"),
                })?;
                r.bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| format!("{location}/{name}: {e}"))
            }
        };
        let manifest = get(MANIFEST).await?;
        let rows = get(ROWS).await?;
        out.push(part::parse_part(&location, &manifest, rows)?);
    }
    Ok(out)
}

/// Writes a part to `s3://BUCKET/PREFIX`.
pub fn write_remote(
    out: &Path,
    slice: Partition,
    files: &[(&str, Vec<u8>)],
) -> Result<String, String> {
    let url = out.to_string_lossy();
    let a = parse_address(&url)?;
    let store = open(&a)?;
    let at = block_on(put_part(store.as_ref(), &a.prefix, slice, files))?;
    Ok(format!("s3://{}/{at}", a.bucket))
}

/// Reads the parts below `s3://BUCKET/PREFIX`.
pub fn read_remote(url: &str) -> Result<Vec<RawPart>, String> {
    let a = parse_address(url)?;
    let store = open(&a)?;
    let label = url.split('?').next().unwrap_or(url).trim_end_matches('/');
    block_on(get_parts(store.as_ref(), &a.prefix, label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    #[test]
    fn addresses() {
        let a = parse_address("s3://b/sweeps/x/?endpoint=http://localhost:5000&region=eu-west-1")
            .unwrap();
        assert_eq!(
            a,
            Address {
                bucket: "b".into(),
                prefix: "sweeps/x".into(),
                endpoint: Some("http://localhost:5000".into()),
                region: Some("eu-west-1".into()),
            }
        );
        assert_eq!(parse_address("s3://b").unwrap().prefix, "");
        assert!(parse_address("s3:///x").unwrap_err().contains("bucket"));
        assert!(parse_address("s3://b/x?colour=red")
            .unwrap_err()
            .contains("colour"));
        assert!(is_remote(Path::new("s3://b/x")) && !is_remote(Path::new("out/s3")));
    }

    #[test]
    fn parts_round_trip_through_an_object_store() {
        let store = InMemory::new();
        let files = |slice: usize| -> Vec<(&'static str, Vec<u8>)> {
            let manifest = serde_json::json!({
                "format": part::FORMAT, "stepsim_version": env!("CARGO_PKG_VERSION"),
                "spec_hash": "h", "slice": slice, "slices": 2, "points": [slice - 1],
                "executions": 0,
                "spec": {"file": "s.toml", "text": "", "seed": 0, "repetitions": 1}
            });
            vec![
                (ROWS, b"".to_vec()),
                (MANIFEST, serde_json::to_vec(&manifest).unwrap()),
            ]
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let p = |index| Partition { index, count: 2 };
            let at = put_part(&store, "sweeps/x", p(2), &files(2)).await.unwrap();
            assert_eq!(at, "sweeps/x/part-2-of-2");
            put_part(&store, "sweeps/x", p(1), &files(1)).await.unwrap();
            // Something else under the prefix is not a part.
            store
                .put(&ObjectPath::from("sweeps/x/notes/a.txt"), "x".into())
                .await
                .unwrap();
            let parts = get_parts(&store, "sweeps/x", "s3://b/sweeps/x")
                .await
                .unwrap();
            let got: Vec<(String, usize)> = parts
                .iter()
                .map(|p| (p.location.clone(), p.manifest.slice))
                .collect();
            assert_eq!(
                got,
                vec![
                    ("s3://b/sweeps/x/part-1-of-2".to_string(), 1),
                    ("s3://b/sweeps/x/part-2-of-2".to_string(), 2)
                ]
            );
            // A worker that has written its rows but not yet its manifest.
            store
                .delete(&ObjectPath::from("sweeps/x/part-1-of-2/manifest.json"))
                .await
                .unwrap();
            let e = get_parts(&store, "sweeps/x", "s3://b/sweeps/x")
                .await
                .err()
                .unwrap();
            assert!(e.contains("part-1-of-2: no manifest.json"), "{e}");
            let e = get_parts(&store, "elsewhere", "s3://b/elsewhere")
                .await
                .err()
                .unwrap();
            assert!(e.contains("no part-K-of-N parts"), "{e}");
        });
    }
}
