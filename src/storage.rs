//! S3 as the simulation sees it, backed by `object_store`: in memory, a local folder, or (with
//! the `s3` cargo feature) a real S3 or S3-compatible endpoint.
//!
//! [`Store`] is the one object store that the S3 service integration (Distributed Map's
//! ItemReader/ResultWriter), Lambda handlers, and the API server share. It speaks in S3 terms
//! (buckets, keys, prefixes, delimiters, continuation tokens) and keeps the timing model out:
//! latency and billing are added by the world model (`sim`), not here.
//!
//! # How buckets map onto each backend
//!
//! Every backend is one `object_store` namespace, and the simulated object `s3://B/K` lives at the
//! path `B/<K encoded>`:
//!
//! | spec                      | backend                     | `s3://B/K` is stored at |
//! |---------------------------|-----------------------------|-------------------------|
//! | `memory` (default)        | `object_store::memory`      | `B/K`, in memory        |
//! | `dir:PATH`                | `object_store::local`       | the file `PATH/B/K`: buckets are subfolders |
//! | `s3://BUCKET?endpoint=URL` | `object_store::aws` (feature `s3`) | `s3://BUCKET/B/K`: simulated buckets are top-level prefixes of the one real bucket |
//!
//! Keys are split on `/`. Each segment is percent-encoded the way `object_store` encodes path
//! parts (so `%`, `#`, `*`, `?` and control characters never reach a file name raw), and an empty
//! segment (as in `a//b` or a key ending in `/`) is written as `%`, which the percent encoding can
//! never produce otherwise. Ordinary keys therefore appear unchanged on disk, and any S3 key
//! round-trips. One thing a folder cannot hold: a key that is also a "folder" of another key
//! (`a/b` next to `a/b/c`); putting the second one fails with a backend error.
//!
//! # Metadata
//!
//! S3 reports an ETag (the quoted MD5 of the body for a single PUT) and a LastModified time. Objects
//! written through a [`Store`] get exactly that ETag, and the *simulated* time the caller passes to
//! [`Store::put`], so listings are byte-for-byte reproducible (the in-memory backend would
//! otherwise stamp host wall-clock time). Objects that were already in a folder or bucket before
//! the run report the backend's own ETag and modification time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use md5::{Digest, Md5};
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A point in simulated time (the same type as `engine::SimTime`).
pub type Timestamp = DateTime<Utc>;

/// The most keys one listing page returns (S3's cap for ListObjectsV2).
pub const MAX_KEYS_PER_PAGE: usize = 1000;

/// Why a storage operation failed. The variants mirror the S3 error codes a caller needs to map
/// onto AWS-shaped errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The bucket does not exist (S3 `NoSuchBucket`).
    #[error("the specified bucket does not exist: {bucket}")]
    NoSuchBucket { bucket: String },
    /// The key does not exist (S3 `NoSuchKey`).
    #[error("the specified key does not exist: s3://{bucket}/{key}")]
    NoSuchKey { bucket: String, key: String },
    /// The bucket name cannot be used (S3 `InvalidBucketName`).
    #[error("invalid bucket name {bucket:?}: {reason}")]
    InvalidBucketName { bucket: String, reason: String },
    /// The key cannot be used (empty, or longer than 1,024 bytes).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    /// A listing's continuation token was not one this store issued (S3 `InvalidArgument`).
    #[error("the continuation token provided is incorrect")]
    InvalidContinuationToken,
    /// The store spec string could not be understood.
    #[error("invalid store spec {spec:?}: {reason}")]
    InvalidSpec { spec: String, reason: String },
    /// The spec names a backend this build does not include.
    #[error("{0}")]
    FeatureDisabled(String),
    /// The backend failed (I/O error, network error, conflicting file layout, ...).
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// The S3 error code for this error (`NoSuchKey`, `NoSuchBucket`, ...).
    pub fn s3_code(&self) -> &'static str {
        match self {
            StoreError::NoSuchBucket { .. } => "NoSuchBucket",
            StoreError::NoSuchKey { .. } => "NoSuchKey",
            StoreError::InvalidBucketName { .. } => "InvalidBucketName",
            StoreError::InvalidKey { .. } => "KeyTooLongError",
            StoreError::InvalidContinuationToken => "InvalidArgument",
            StoreError::InvalidSpec { .. } | StoreError::FeatureDisabled(_) => "InvalidRequest",
            StoreError::Backend(_) => "InternalError",
        }
    }
}

/// What S3 reports about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object key (not including the bucket).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag, with its double quotes, as S3 shows it (`"<md5 hex>"` for single PUTs).
    pub etag: String,
    /// When the object was last written (simulated time for objects written through this store).
    pub last_modified: Timestamp,
}

/// A ListObjectsV2 request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys that start with this string.
    pub prefix: String,
    /// Group keys that contain this string after the prefix into common prefixes (usually `/`).
    pub delimiter: Option<String>,
    /// A token from a previous page's `next_continuation_token`.
    pub continuation_token: Option<String>,
    /// Only keys after this one (ignored when a continuation token is given, as in S3).
    pub start_after: Option<String>,
    /// At most this many keys plus common prefixes (default and cap: 1,000).
    pub max_keys: Option<usize>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects, in UTF-8 binary key order.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes (each ends with the delimiter), in order.
    pub common_prefixes: Vec<String>,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// The token for the next page, when `is_truncated`.
    pub next_continuation_token: Option<String>,
    /// The effective page size limit.
    pub max_keys: usize,
}

impl ListPage {
    /// Objects plus common prefixes on this page (S3's `KeyCount`).
    pub fn key_count(&self) -> usize {
        self.objects.len() + self.common_prefixes.len()
    }
}

#[derive(Debug)]
enum Backend {
    Memory,
    Dir(PathBuf),
    /// A real S3 bucket whose top-level prefixes are the simulated buckets.
    #[cfg(feature = "s3")]
    S3,
}

/// Metadata this store assigned when it wrote an object.
#[derive(Debug, Clone)]
struct WrittenMeta {
    etag: String,
    last_modified: Timestamp,
}

struct StoreInner {
    spec: String,
    backend: Backend,
    objects: Arc<dyn ObjectStore>,
    /// Buckets created through this store (the only source of truth for the memory backend).
    buckets: Mutex<BTreeSet<String>>,
    /// ETag and simulated LastModified of objects written through this store, by path.
    written: Mutex<BTreeMap<String, WrittenMeta>>,
}

/// Runs one object_store operation. Memory and folder stores run it in place. A real S3 store
/// needs network I/O, which the simulation's paused clock must not run past: the request runs
/// on a separate I/O runtime, awaited through `spawn_blocking`, and tokio does not auto-advance
/// a paused clock while a blocking task is outstanding. So virtual time stands still while a
/// request is in flight, as it should (its modelled latency is charged separately).
async fn call<T, Fut>(
    objects: &Arc<dyn ObjectStore>,
    remote: bool,
    op: impl FnOnce(Arc<dyn ObjectStore>) -> Fut,
) -> object_store::Result<T>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = object_store::Result<T>> + Send + 'static,
{
    let fut = op(objects.clone());
    if !remote {
        return fut.await;
    }
    #[cfg(feature = "s3")]
    {
        let handle = io_runtime().map_err(|e| object_store::Error::Generic {
            store: "stepsim",
            source: e.into(),
        })?;
        match tokio::task::spawn_blocking(move || handle.block_on(fut)).await {
            Ok(r) => r,
            Err(e) => Err(object_store::Error::Generic {
                store: "stepsim",
                source: Box::new(e),
            }),
        }
    }
    #[cfg(not(feature = "s3"))]
    fut.await
}

/// The process-wide runtime that performs real S3 requests.
#[cfg(feature = "s3")]
fn io_runtime() -> Result<tokio::runtime::Handle, String> {
    static IO: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stepsim-s3-io")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the S3 I/O runtime: {e}"))
    })
    .as_ref()
    .map(|rt| rt.handle().clone())
    .map_err(Clone::clone)
}

/// The S3 object store shared by the simulation, handlers and the API server. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("spec", &self.inner.spec)
            .finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::memory()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the maps stay
    // consistent (every update is a single insert), so keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn backend_err(e: object_store::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Store {
        Store::with_backend(
            "memory".to_string(),
            Backend::Memory,
            Arc::new(object_store::memory::InMemory::new()),
        )
    }

    /// A store in the folder `root` (created if missing); each bucket is a subfolder.
    pub fn dir(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root: PathBuf = root.into();
        std::fs::create_dir_all(&root).map_err(|e| {
            StoreError::Backend(format!("cannot create folder {}: {e}", root.display()))
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(&root).map_err(|e| {
            StoreError::Backend(format!("cannot open folder {}: {e}", root.display()))
        })?;
        Ok(Store::with_backend(
            format!("dir:{}", root.display()),
            Backend::Dir(root),
            Arc::new(fs),
        ))
    }

    /// Opens a store from a spec string: `memory`, `dir:PATH`, or `s3://BUCKET?endpoint=URL`
    /// (optionally `&region=R`; credentials come from the usual `AWS_*` environment variables).
    pub fn open(spec: &str) -> Result<Store, StoreError> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "memory" {
            return Ok(Store::memory());
        }
        if let Some(path) = spec.strip_prefix("dir:") {
            if path.is_empty() {
                return Err(StoreError::InvalidSpec {
                    spec: spec.to_string(),
                    reason: "`dir:` needs a folder path, as in `dir:./data`".to_string(),
                });
            }
            return Store::dir(path);
        }
        if let Some(rest) = spec.strip_prefix("s3://") {
            return Store::open_s3(spec, rest);
        }
        Err(StoreError::InvalidSpec {
            spec: spec.to_string(),
            reason: "expected `memory`, `dir:PATH` or `s3://BUCKET?endpoint=URL`".to_string(),
        })
    }

    #[cfg(not(feature = "s3"))]
    fn open_s3(spec: &str, _rest: &str) -> Result<Store, StoreError> {
        Err(StoreError::FeatureDisabled(format!(
            "store {spec:?} needs real S3 support, which this build does not include: \
             rebuild stepsim with `--features s3`"
        )))
    }

    #[cfg(feature = "s3")]
    fn open_s3(spec: &str, rest: &str) -> Result<Store, StoreError> {
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Err(StoreError::InvalidSpec {
                spec: spec.to_string(),
                reason: "expected `s3://BUCKET?endpoint=URL` with a bare bucket name".to_string(),
            });
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        let mut has_region =
            std::env::var("AWS_REGION").is_ok() || std::env::var("AWS_DEFAULT_REGION").is_ok();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "endpoint" => {
                    builder = builder
                        .with_endpoint(v)
                        .with_allow_http(v.starts_with("http://"));
                }
                "region" => {
                    builder = builder.with_region(v);
                    has_region = true;
                }
                other => {
                    return Err(StoreError::InvalidSpec {
                        spec: spec.to_string(),
                        reason: format!(
                            "unknown parameter `{other}` (known: `endpoint`, `region`)"
                        ),
                    })
                }
            }
        }
        if !has_region {
            builder = builder.with_region("us-east-1");
        }
        let s3 = builder.build().map_err(|e| StoreError::InvalidSpec {
            spec: spec.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Store::with_backend(
            spec.to_string(),
            Backend::S3,
            Arc::new(s3),
        ))
    }

    fn with_backend(spec: String, backend: Backend, objects: Arc<dyn ObjectStore>) -> Store {
        Store {
            inner: Arc::new(StoreInner {
                spec,
                backend,
                objects,
                buckets: Mutex::new(BTreeSet::new()),
                written: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The spec this store was opened with (`memory`, `dir:...`, `s3://...`).
    pub fn spec(&self) -> &str {
        &self.inner.spec
    }

    /// Makes what a `dir:` store wrote durable: object files are complete when a put returns
    /// (written aside, then renamed), but may still sit in the page cache; this flushes the
    /// file system that holds the folder. Other backends have nothing to flush.
    pub fn sync(&self) -> std::io::Result<()> {
        if let Backend::Dir(root) = &self.inner.backend {
            let dir = std::fs::File::open(root)?;
            // SAFETY: syncfs only reads the descriptor, which stays open for the call.
            if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Whether operations reach a real S3 endpoint over the network.
    fn remote(&self) -> bool {
        match &self.inner.backend {
            #[cfg(feature = "s3")]
            Backend::S3 => true,
            _ => false,
        }
    }

    /// Creates a bucket. Creating one that exists is not an error (as in us-east-1).
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        validate_bucket(bucket)?;
        if let Backend::Dir(root) = &self.inner.backend {
            let dir = root.join(bucket);
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::Backend(format!("cannot create folder {}: {e}", dir.display()))
            })?;
        }
        lock(&self.inner.buckets).insert(bucket.to_string());
        Ok(())
    }

    /// Whether the bucket exists.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, StoreError> {
        if validate_bucket(bucket).is_err() {
            return Ok(false);
        }
        if lock(&self.inner.buckets).contains(bucket) {
            return Ok(true);
        }
        match &self.inner.backend {
            Backend::Memory => Ok(false),
            Backend::Dir(root) => Ok(root.join(bucket).is_dir()),
            #[cfg(feature = "s3")]
            Backend::S3 => {
                // A simulated bucket on real S3 is a top-level prefix: it exists once it holds
                // an object.
                let prefix = Path::from(bucket);
                let first = call(&self.inner.objects, true, move |os| async move {
                    os.list(Some(&prefix)).try_next().await
                })
                .await
                .map_err(backend_err)?;
                Ok(first.is_some())
            }
        }
    }

    /// All buckets, sorted by name.
    pub async fn list_buckets(&self) -> Result<Vec<String>, StoreError> {
        let mut names: BTreeSet<String> = lock(&self.inner.buckets).clone();
        match &self.inner.backend {
            Backend::Memory => {}
            _ => {
                let listed = call(&self.inner.objects, self.remote(), |os| async move {
                    os.list_with_delimiter(None).await
                })
                .await
                .map_err(backend_err)?;
                for p in listed.common_prefixes {
                    let name = p.as_ref().to_string();
                    if validate_bucket(&name).is_ok() {
                        names.insert(name);
                    }
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    async fn require_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        validate_bucket(bucket)?;
        if self.bucket_exists(bucket).await? {
            Ok(())
        } else {
            Err(StoreError::NoSuchBucket {
                bucket: bucket.to_string(),
            })
        }
    }

    /// Writes an object, stamping it with the simulated time `at`. Returns what S3 would report.
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        at: Timestamp,
    ) -> Result<ObjectInfo, StoreError> {
        self.require_bucket(bucket).await?;
        let path = object_path(bucket, key)?;
        let etag = format!("\"{}\"", hex(&Md5::digest(&body)));
        let size = body.len() as u64;
        let put_path = path.clone();
        call(&self.inner.objects, self.remote(), move |os| async move {
            os.put(&put_path, PutPayload::from(body)).await
        })
        .await
        .map_err(backend_err)?;
        lock(&self.inner.written).insert(
            path.as_ref().to_string(),
            WrittenMeta {
                etag: etag.clone(),
                last_modified: at,
            },
        );
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            etag,
            last_modified: at,
        })
    }

    /// Reads a whole object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<(ObjectInfo, Bytes), StoreError> {
        self.require_bucket(bucket).await?;
        let path = object_path(bucket, key)?;
        let get_path = path.clone();
        let got = call(&self.inner.objects, self.remote(), move |os| async move {
            let g = os.get(&get_path).await?;
            let meta = g.meta.clone();
            Ok((meta, g.bytes().await?))
        })
        .await;
        match got {
            Ok((meta, body)) => Ok((self.info_for(key, &meta), body)),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::NoSuchKey {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    /// Reads an object's metadata.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.require_bucket(bucket).await?;
        let path = object_path(bucket, key)?;
        let head_path = path.clone();
        match call(&self.inner.objects, self.remote(), move |os| async move {
            os.head(&head_path).await
        })
        .await
        {
            Ok(meta) => Ok(self.info_for(key, &meta)),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::NoSuchKey {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    /// Deletes an object. Deleting a missing key is not an error (as in S3).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.require_bucket(bucket).await?;
        let path = object_path(bucket, key)?;
        let delete_path = path.clone();
        match call(&self.inner.objects, self.remote(), move |os| async move {
            os.delete(&delete_path).await
        })
        .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(backend_err(e)),
        }
        lock(&self.inner.written).remove(path.as_ref());
        Ok(())
    }

    /// One page of a ListObjectsV2 listing.
    pub async fn list(&self, bucket: &str, req: &ListRequest) -> Result<ListPage, StoreError> {
        self.require_bucket(bucket).await?;
        let max_keys = req
            .max_keys
            .unwrap_or(MAX_KEYS_PER_PAGE)
            .min(MAX_KEYS_PER_PAGE);
        // object_store lists whole path segments only, so ask for the longest whole-segment
        // part of the prefix and filter the rest here (S3 prefixes may end mid-segment).
        let dir_part = match req.prefix.rfind('/') {
            Some(i) => &req.prefix[..i],
            None => "",
        };
        let list_root = if req.prefix.contains('/') {
            object_path_raw(bucket, dir_part)
        } else {
            Path::from(bucket)
        };
        let metas: Vec<object_store::ObjectMeta> =
            call(&self.inner.objects, self.remote(), move |os| async move {
                os.list(Some(&list_root)).try_collect().await
            })
            .await
            .map_err(backend_err)?;
        let mut entries: Vec<(String, object_store::ObjectMeta)> = metas
            .into_iter()
            .filter_map(|m| {
                let key = key_of(bucket, &m.location)?;
                key.starts_with(&req.prefix).then_some((key, m))
            })
            .collect();
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

        // Where the previous page stopped: after a key, or after a whole common prefix.
        let resume = match &req.continuation_token {
            Some(t) => Some(decode_token(t)?),
            None => req.start_after.clone().map(Resume::After),
        };
        let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());

        let mut page = ListPage {
            max_keys,
            ..ListPage::default()
        };
        let mut last: Option<Resume> = None;
        for (key, meta) in &entries {
            match &resume {
                Some(Resume::After(k)) if key.as_bytes() <= k.as_bytes() => continue,
                Some(Resume::AfterPrefix(p)) if key.as_bytes() <= p.as_bytes() => continue,
                Some(Resume::AfterPrefix(p)) if key.starts_with(p.as_str()) => continue,
                _ => {}
            }
            let item = match delimiter.and_then(|d| {
                key[req.prefix.len()..]
                    .find(d)
                    .map(|i| key[..req.prefix.len() + i + d.len()].to_string())
            }) {
                Some(cp) => {
                    if matches!(&last, Some(Resume::AfterPrefix(p)) if *p == cp) {
                        continue;
                    }
                    Resume::AfterPrefix(cp)
                }
                None => Resume::After(key.clone()),
            };
            if page.key_count() >= max_keys {
                page.is_truncated = max_keys > 0;
                break;
            }
            match &item {
                Resume::AfterPrefix(cp) => page.common_prefixes.push(cp.clone()),
                Resume::After(_) => page.objects.push(self.info_for(key, meta)),
            }
            last = Some(item);
        }
        if page.is_truncated {
            page.next_continuation_token = last.as_ref().map(encode_token);
        }
        Ok(page)
    }

    fn info_for(&self, key: &str, meta: &object_store::ObjectMeta) -> ObjectInfo {
        let written = lock(&self.inner.written)
            .get(meta.location.as_ref())
            .cloned();
        match written {
            Some(w) => ObjectInfo {
                key: key.to_string(),
                size: meta.size,
                etag: w.etag,
                last_modified: w.last_modified,
            },
            None => {
                let etag = meta.e_tag.clone().unwrap_or_default();
                let etag = if etag.starts_with('"') {
                    etag
                } else {
                    format!("\"{etag}\"")
                };
                ObjectInfo {
                    key: key.to_string(),
                    size: meta.size,
                    etag,
                    last_modified: meta.last_modified,
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Resume {
    After(String),
    AfterPrefix(String),
}

fn encode_token(r: &Resume) -> String {
    let raw = match r {
        Resume::After(k) => format!("k{k}"),
        Resume::AfterPrefix(p) => format!("p{p}"),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

fn decode_token(t: &str) -> Result<Resume, StoreError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t.as_bytes())
        .map_err(|_| StoreError::InvalidContinuationToken)?;
    let raw = String::from_utf8(raw).map_err(|_| StoreError::InvalidContinuationToken)?;
    match raw.split_at_checked(1) {
        Some(("k", k)) => Ok(Resume::After(k.to_string())),
        Some(("p", p)) => Ok(Resume::AfterPrefix(p.to_string())),
        _ => Err(StoreError::InvalidContinuationToken),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

/// S3's bucket naming rules, loosely: 3–63 characters of lowercase letters, digits, `.`, `-`
/// (plus `_`, which older buckets allowed and the corpus uses).
fn validate_bucket(bucket: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| StoreError::InvalidBucketName {
        bucket: bucket.to_string(),
        reason: reason.to_string(),
    };
    if !(3..=63).contains(&bucket.len()) {
        return Err(bad("a bucket name has 3 to 63 characters"));
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(bad(
            "a bucket name has only lowercase letters, digits, '.', '-' and '_'",
        ));
    }
    if bucket == "." || bucket == ".." || bucket.contains("..") {
        return Err(bad("a bucket name cannot contain '..'"));
    }
    Ok(())
}

/// The encoded form of one key segment (see the module docs).
fn encode_segment(seg: &str) -> String {
    if seg.is_empty() {
        "%".to_string()
    } else {
        PathPart::from(seg).as_ref().to_string()
    }
}

fn decode_segment(seg: &str) -> String {
    if seg == "%" {
        return String::new();
    }
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of `bucket/key`, where `key` may be empty (the bucket's root).
fn object_path_raw(bucket: &str, key: &str) -> Path {
    let mut raw = String::with_capacity(bucket.len() + key.len() + 8);
    raw.push_str(bucket);
    if !key.is_empty() {
        for seg in key.split('/') {
            raw.push('/');
            raw.push_str(&encode_segment(seg));
        }
    }
    // Every segment is non-empty, never `.`/`..`, and free of control characters, so parsing
    // cannot fail; fall back to the bucket root rather than panic if it ever did.
    Path::parse(&raw).unwrap_or_else(|_| Path::from(bucket))
}

fn object_path(bucket: &str, key: &str) -> Result<Path, StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason: "a key cannot be empty".to_string(),
        });
    }
    if key.len() > 1024 {
        return Err(StoreError::InvalidKey {
            key: key.chars().take(64).collect::<String>() + "...",
            reason: "a key has at most 1,024 bytes".to_string(),
        });
    }
    let path = object_path_raw(bucket, key);
    if path.as_ref() == bucket {
        return Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason: "the key cannot be stored".to_string(),
        });
    }
    Ok(path)
}

/// The S3 key of a stored path, when the path is inside `bucket`.
fn key_of(bucket: &str, location: &Path) -> Option<String> {
    let raw = location.as_ref();
    let rest = raw.strip_prefix(bucket)?.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(decode_segment)
            .collect::<Vec<_>>()
            .join("/"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        DateTime::parse_from_rfc3339("2025-07-21T19:45:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn key_encoding_round_trips() {
        for key in [
            "a",
            "a/b/c.json",
            "a//b",
            "trailing/",
            "/leading",
            "odd %#*?[]~ chars",
            ".",
            "./..",
            "x/../y",
            "ünïcödé/π",
        ] {
            let p = object_path("bkt", key).unwrap();
            assert_eq!(
                key_of("bkt", &p).as_deref(),
                Some(key),
                "key {key:?} via {p}"
            );
        }
        assert_eq!(
            object_path("bkt", "plain/name.txt").unwrap().as_ref(),
            "bkt/plain/name.txt"
        );
        assert!(object_path("bkt", "").is_err());
        assert!(object_path("bkt", &"k".repeat(1025)).is_err());
    }

    #[test]
    fn decode_is_lenient() {
        assert_eq!(decode_segment("50%.txt"), "50%.txt");
        assert_eq!(decode_segment("a%2"), "a%2");
        assert_eq!(decode_segment("a%25b"), "a%b");
    }

    #[test]
    fn bucket_names() {
        assert!(validate_bucket("bucket-u01").is_ok());
        assert!(validate_bucket("ab").is_err());
        assert!(validate_bucket("Upper").is_err());
        assert!(validate_bucket("a/b").is_err());
        assert!(validate_bucket("a..b").is_err());
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(Store::open("memory").unwrap().spec(), "memory");
        assert!(matches!(
            Store::open("ftp://x"),
            Err(StoreError::InvalidSpec { .. })
        ));
        assert!(matches!(
            Store::open("dir:"),
            Err(StoreError::InvalidSpec { .. })
        ));
        #[cfg(not(feature = "s3"))]
        {
            let err = Store::open("s3://b?endpoint=http://127.0.0.1:5000").unwrap_err();
            assert!(err.to_string().contains("--features s3"), "{err}");
        }
    }

    /// The same checks against every backend: objects, then listings, then pagination.
    async fn exercise(store: &Store) {
        exercise_objects(store).await;
        exercise_listing(store).await;
        exercise_pagination(store).await;
        store.delete("data", "logz.txt").await.unwrap();
        store.delete("data", "logz.txt").await.unwrap();
        assert!(store.head("data", "logz.txt").await.is_err());
    }

    /// One listing of bucket `data` that must succeed.
    async fn list_data(store: &Store, req: ListRequest) -> ListPage {
        store.list("data", &req).await.unwrap()
    }

    fn keys_of(page: &ListPage) -> Vec<&str> {
        page.objects.iter().map(|o| o.key.as_str()).collect()
    }

    /// Buckets, put, get and head; leaves `data/hello.txt` and an `empty` bucket.
    async fn exercise_objects(store: &Store) {
        assert!(matches!(
            store
                .put("nobucket", "k", Bytes::from_static(b"x"), t0())
                .await,
            Err(StoreError::NoSuchBucket { .. })
        ));
        store.create_bucket("data").await.unwrap();
        store.create_bucket("empty").await.unwrap();
        assert_eq!(store.list_buckets().await.unwrap(), vec!["data", "empty"]);

        let info = store
            .put("data", "hello.txt", Bytes::from_static(b"hello"), t0())
            .await
            .unwrap();
        // MD5("hello"), as S3 reports it for a single PUT.
        assert_eq!(info.etag, "\"5d41402abc4b2a76b9719d911017c592\"");
        let (meta, body) = store.get("data", "hello.txt").await.unwrap();
        assert_eq!(&body[..], b"hello");
        assert_eq!(meta, info);
        assert_eq!(store.head("data", "hello.txt").await.unwrap().size, 5);
        assert!(matches!(
            store.get("data", "missing").await,
            Err(StoreError::NoSuchKey { .. })
        ));
    }

    /// Prefixes and delimiters over a small tree of keys (which it puts).
    async fn exercise_listing(store: &Store) {
        for k in [
            "logs/2024/a.json",
            "logs/2024/b.json",
            "logs/2025/c.json",
            "logs/top.json",
            "logz.txt",
            "odd key #1.json",
        ] {
            store
                .put("data", k, Bytes::from(k.to_string()), t0())
                .await
                .unwrap();
        }

        // Prefix that ends mid-segment.
        let page = list_data(
            store,
            ListRequest {
                prefix: "log".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            keys_of(&page),
            [
                "logs/2024/a.json",
                "logs/2024/b.json",
                "logs/2025/c.json",
                "logs/top.json",
                "logz.txt"
            ]
        );
        assert!(!page.is_truncated);

        // Delimiter groups into common prefixes.
        let page = list_data(
            store,
            ListRequest {
                prefix: "logs/".into(),
                delimiter: Some("/".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(page.common_prefixes, ["logs/2024/", "logs/2025/"]);
        assert_eq!(page.objects.len(), 1);
        assert_eq!(page.objects[0].key, "logs/top.json");
    }

    /// Continuation tokens, with and without a delimiter, and a token that is not one.
    async fn exercise_pagination(store: &Store) {
        // One item per page, delimiter on.
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = list_data(
                store,
                ListRequest {
                    prefix: String::new(),
                    delimiter: Some("/".into()),
                    continuation_token: token.clone(),
                    max_keys: Some(1),
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(page.key_count(), 1);
            seen.extend(page.common_prefixes.iter().cloned());
            seen.extend(page.objects.iter().map(|o| o.key.clone()));
            if !page.is_truncated {
                break;
            }
            token = page.next_continuation_token.clone();
            assert!(token.is_some());
        }
        assert_eq!(seen, ["hello.txt", "logs/", "logz.txt", "odd key #1.json"]);

        // Without a delimiter, two per page.
        let page = list_data(
            store,
            ListRequest {
                prefix: "logs/".into(),
                max_keys: Some(2),
                ..Default::default()
            },
        )
        .await;
        assert!(page.is_truncated);
        let page2 = list_data(
            store,
            ListRequest {
                prefix: "logs/".into(),
                max_keys: Some(2),
                continuation_token: page.next_continuation_token.clone(),
                ..Default::default()
            },
        )
        .await;
        assert!(!page2.is_truncated);
        assert_eq!(keys_of(&page2), ["logs/2025/c.json", "logs/top.json"]);
        assert!(matches!(
            store
                .list(
                    "data",
                    &ListRequest {
                        continuation_token: Some("!!".into()),
                        ..Default::default()
                    }
                )
                .await,
            Err(StoreError::InvalidContinuationToken)
        ));
    }

    #[test]
    fn memory_backend() {
        rt().block_on(async {
            let store = Store::memory();
            exercise(&store).await;
        });
    }

    #[test]
    fn dir_backend() {
        let tmp = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let store = Store::open(&format!("dir:{}", tmp.path().display())).unwrap();
            exercise(&store).await;
            // Buckets are subfolders and ordinary keys are plain files.
            assert!(tmp.path().join("data/logs/2024/a.json").is_file());
            // A second store over the same folder sees the objects (with backend metadata).
            let again = Store::dir(tmp.path()).unwrap();
            assert_eq!(again.list_buckets().await.unwrap(), vec!["data", "empty"]);
            let (_, body) = again.get("data", "odd key #1.json").await.unwrap();
            assert_eq!(&body[..], b"odd key #1.json");
        });
    }
}
