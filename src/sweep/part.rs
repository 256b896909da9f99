//! Parts of a partitioned sweep (`--partition K/N`) and their merge (`stepsim sweep merge`).
//!
//! A part is a folder (or object-store prefix) `part-K-of-N/` holding `rows.jsonl` (one line
//! per execution, in canonical order, every float written as its shortest round-trip text so
//! it reads back to the same bits) and `manifest.json` (the stepsim version, the spec's hash
//! and text, the slice and the points it holds). The manifest is written last, so a worker
//! that died mid-way leaves a part the merge refuses rather than a short one.
//!
//! The merge checks that the parts share one spec hash and version, that every slice holding
//! points is there exactly once with the points the deterministic assignment gives it, and
//! that every point has all its repetitions; then the rows go to the same report writer as a
//! one-machine sweep ([`super::report::write_all`]), so the files are byte-identical.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::partition::{self, Partition};
use super::run::Row;
use super::spec::SweepSpec;
use crate::project::Project;
use crate::sim::Money;

/// The part format this stepsim writes and reads.
pub const FORMAT: &str = "stepsim-sweep-part/1";
pub const MANIFEST: &str = "manifest.json";
pub const ROWS: &str = "rows.jsonl";

/// Where a spec came from and the command-line overrides it ran with: enough to parse it
/// again on the merging machine without the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecSource {
    /// The spec path as given to the worker (it locates the definition named in reports).
    pub file: String,
    pub text: String,
    pub seed: u64,
    pub repetitions: u32,
}

impl SpecSource {
    /// The spec, parsed as the worker parsed it, with its overrides applied.
    pub fn parse(&self) -> Result<SweepSpec, String> {
        let mut spec =
            SweepSpec::parse(&self.text, Path::new(&self.file)).map_err(|e| e.to_string())?;
        spec.seed = self.seed;
        spec.repetitions = self.repetitions;
        Ok(spec)
    }
}

/// `manifest.json` of a part.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub stepsim_version: String,
    /// sha256 of everything that decides the rows and the reports (see [`spec_hash`]).
    pub spec_hash: String,
    pub slice: usize,
    pub slices: usize,
    /// The grid points (indexes in canonical order) this part holds.
    pub points: Vec<usize>,
    pub executions: usize,
    pub spec: SpecSource,
}

/// The hash that says two parts belong to one sweep: the spec text and overrides, the
/// definition path the reports name, the S3 store the points ran against and the project's
/// files (definition, input, functions.toml, project.toml, iam/).
pub fn spec_hash(src: &SpecSource, spec: &SweepSpec, project: &Project, store: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(FORMAT.as_bytes());
    field(src.text.as_bytes());
    field(&src.seed.to_le_bytes());
    field(&src.repetitions.to_le_bytes());
    field(spec.definition.display().to_string().as_bytes());
    field(store.as_bytes());
    field(project.definition_text.as_bytes());
    field(project.input.to_string().as_bytes());
    if let Some(dir) = &project.dir {
        for name in ["functions.toml", "project.toml"] {
            field(name.as_bytes());
            field(&std::fs::read(dir.join(name)).unwrap_or_default());
        }
        let mut iam = Vec::new();
        files_under(&dir.join("iam"), &mut iam);
        iam.sort();
        for f in iam {
            field(
                f.strip_prefix(dir)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .as_bytes(),
            );
            field(&std::fs::read(&f).unwrap_or_default());
        }
    }
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Regular files below `dir` (none if it does not exist).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// One row of `rows.jsonl`. Floats are text (Rust's shortest round-trip form) so they read
/// back to the same bits; grid values are not stored (the point index and the spec give them).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartRow {
    point: usize,
    repetition: u32,
    seed: u64,
    execution: String,
    status: String,
    error: Option<String>,
    cause: Option<String>,
    duration_seconds: String,
    memory_mb: u32,
    cost_picodollars: u64,
    #[serde(default)]
    cost_max_memory_used_picodollars: u64,
    cost_by_component_picodollars: BTreeMap<String, u64>,
    records: Option<String>,
    throughput_rps: Option<String>,
    cold_starts: u64,
    billed_gb_s: String,
    transitions: u64,
    lambda_invocations: u64,
    throttles: u64,
    s3_requests: u64,
    start_date: String,
}

fn float_text(x: f64) -> String {
    format!("{x:?}")
}

fn float_of(s: &str, what: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|_| format!("{what} '{s}' is not a number"))
}

impl PartRow {
    fn of(r: &Row) -> PartRow {
        PartRow {
            point: r.point,
            repetition: r.repetition,
            seed: r.seed,
            execution: r.execution_name.clone(),
            status: r.status.clone(),
            error: r.error.clone(),
            cause: r.cause.clone(),
            duration_seconds: float_text(r.duration_seconds),
            memory_mb: r.memory_mb,
            cost_picodollars: r.cost.picodollars(),
            cost_max_memory_used_picodollars: r.cost_max_memory_used.picodollars(),
            cost_by_component_picodollars: r
                .cost_by_component
                .iter()
                .map(|(k, v)| (k.clone(), v.picodollars()))
                .collect(),
            records: r.records.map(float_text),
            throughput_rps: r.throughput_rps.map(float_text),
            cold_starts: r.cold_starts,
            billed_gb_s: float_text(r.billed_gb_s),
            transitions: r.transitions,
            lambda_invocations: r.lambda_invocations,
            throttles: r.throttles,
            s3_requests: r.s3_requests,
            start_date: r.start_date.clone(),
        }
    }

    fn into_row(self, grid: &[Vec<serde_json::Value>]) -> Result<Row, String> {
        let values = grid
            .get(self.point)
            .ok_or_else(|| format!("point {} is not in the grid", self.point))?
            .clone();
        Ok(Row {
            point: self.point,
            values,
            repetition: self.repetition,
            seed: self.seed,
            execution_name: self.execution,
            status: self.status,
            error: self.error,
            cause: self.cause,
            duration_seconds: float_of(&self.duration_seconds, "duration_seconds")?,
            memory_mb: self.memory_mb,
            cost: Money::from_picodollars(self.cost_picodollars),
            cost_max_memory_used: Money::from_picodollars(self.cost_max_memory_used_picodollars),
            cost_by_component: self
                .cost_by_component_picodollars
                .into_iter()
                .map(|(k, v)| (k, Money::from_picodollars(v)))
                .collect(),
            records: self.records.map(|s| float_of(&s, "records")).transpose()?,
            throughput_rps: self
                .throughput_rps
                .map(|s| float_of(&s, "throughput_rps"))
                .transpose()?,
            cold_starts: self.cold_starts,
            billed_gb_s: float_of(&self.billed_gb_s, "billed_gb_s")?,
            transitions: self.transitions,
            lambda_invocations: self.lambda_invocations,
            throttles: self.throttles,
            s3_requests: self.s3_requests,
            start_date: self.start_date,
        })
    }
}

/// Appends a row's line of `rows.jsonl` to `buf`.
pub fn row_line(r: &Row, buf: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(&mut *buf, &PartRow::of(r)).map_err(|e| e.to_string())?;
    buf.push(b'\n');
    Ok(())
}

/// `manifest.json` of a part holding `executions` rows of `points`.
pub fn manifest_bytes(
    src: &SpecSource,
    hash: &str,
    slice: Partition,
    points: &[usize],
    executions: usize,
) -> Result<Vec<u8>, String> {
    let manifest = Manifest {
        format: FORMAT.into(),
        stepsim_version: env!("CARGO_PKG_VERSION").into(),
        spec_hash: hash.into(),
        slice: slice.index,
        slices: slice.count,
        points: points.to_vec(),
        executions,
        spec: src.clone(),
    };
    let mut m = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    m.push(b'\n');
    Ok(m)
}

/// The files of a part: `rows.jsonl` first, `manifest.json` last (write them in this order).
pub fn part_files(
    src: &SpecSource,
    hash: &str,
    slice: Partition,
    points: &[usize],
    rows: &[Row],
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut lines = Vec::new();
    for r in rows {
        row_line(r, &mut lines)?;
    }
    let m = manifest_bytes(src, hash, slice, points, rows.len())?;
    Ok(vec![(ROWS, lines), (MANIFEST, m)])
}

/// Prepares `out/part-K-of-N/` (created) for new contents: a stale manifest from an earlier
/// run must not vouch for rows being rewritten.
fn part_dir(out: &Path, slice: Partition) -> std::io::Result<PathBuf> {
    let dir = out.join(slice.dir_name());
    std::fs::create_dir_all(&dir)?;
    match std::fs::remove_file(dir.join(MANIFEST)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(dir),
    }
}

/// Writes a part into `out/part-K-of-N/` (created), manifest last.
pub fn write_local(
    out: &Path,
    slice: Partition,
    files: &[(&str, Vec<u8>)],
) -> std::io::Result<PathBuf> {
    let dir = part_dir(out, slice)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(dir)
}

/// Writes a part folder row by row as points finish, so a worker holds no rows: `rows.jsonl`
/// grows as [`PartWriter::push`] is called, and [`PartWriter::finish`] writes the manifest.
pub struct PartWriter {
    dir: PathBuf,
    rows: std::io::BufWriter<std::fs::File>,
    line: Vec<u8>,
    executions: usize,
}

impl PartWriter {
    pub fn create(out: &Path, slice: Partition) -> Result<PartWriter, String> {
        let err = |e: std::io::Error| format!("cannot write the part in {}: {e}", out.display());
        let dir = part_dir(out, slice).map_err(err)?;
        let file = std::fs::File::create(dir.join(ROWS)).map_err(err)?;
        Ok(PartWriter {
            dir,
            rows: std::io::BufWriter::new(file),
            line: Vec::new(),
            executions: 0,
        })
    }

    pub fn push(&mut self, rows: &[Row]) -> Result<(), String> {
        use std::io::Write as _;
        for r in rows {
            self.line.clear();
            row_line(r, &mut self.line)?;
            self.rows
                .write_all(&self.line)
                .map_err(|e| format!("{}/{ROWS}: {e}", self.dir.display()))?;
            self.executions += 1;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn executions(&self) -> usize {
        self.executions
    }

    /// Flushes the rows, then writes `manifest` (see [`manifest_bytes`]); returns the folder.
    pub fn finish(self, manifest: &[u8]) -> Result<PathBuf, String> {
        let at = |e: std::io::Error| format!("{}: {e}", self.dir.display());
        let file = self.rows.into_inner().map_err(|e| at(e.into_error()))?;
        file.sync_all().map_err(at)?;
        std::fs::write(self.dir.join(MANIFEST), manifest).map_err(at)?;
        Ok(self.dir)
    }
}

/// A part as read: where it came from (for messages), its manifest and its rows file.
pub struct RawPart {
    pub location: String,
    pub manifest: Manifest,
    pub rows: Vec<u8>,
}

/// Parses a part's two files; `location` names it in errors.
pub fn parse_part(location: &str, manifest: &[u8], rows: Vec<u8>) -> Result<RawPart, String> {
    let manifest: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| format!("{location}/{MANIFEST}: not a sweep part manifest: {e}"))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "{location}/{MANIFEST}: format '{}', this stepsim reads '{FORMAT}'",
            manifest.format
        ));
    }
    Ok(RawPart {
        location: location.into(),
        manifest,
        rows,
    })
}

/// Reads the parts named by `paths`: each is a part folder (holding manifest.json) or a folder
/// of `part-K-of-N/` folders.
pub fn read_local(paths: &[PathBuf]) -> Result<Vec<RawPart>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.join(MANIFEST).is_file() {
            out.push(read_local_part(p)?);
            continue;
        }
        let entries = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|d| {
                d.is_dir() && is_part_name(&d.file_name().unwrap_or_default().to_string_lossy())
            })
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(format!(
                "{}: no sweep part here (no {MANIFEST}, no part-K-of-N folders)",
                p.display()
            ));
        }
        for d in dirs {
            out.push(read_local_part(&d)?);
        }
    }
    Ok(out)
}

/// `part-K-of-N`.
pub fn is_part_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("part-") else {
        return false;
    };
    rest.split_once("-of-").is_some_and(|(k, n)| {
        !k.is_empty()
            && !n.is_empty()
            && k.bytes().all(|b| b.is_ascii_digit())
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn read_local_part(dir: &Path) -> Result<RawPart, String> {
    let location = dir.display().to_string();
    let manifest = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| format!("{location}: no readable {MANIFEST} ({e}); did its worker finish?"))?;
    let rows = std::fs::read(dir.join(ROWS)).map_err(|e| format!("{location}/{ROWS}: {e}"))?;
    parse_part(&location, &manifest, rows)
}

/// Checks that `parts` are one whole sweep and returns its spec and rows in canonical order.
pub fn merge(parts: Vec<RawPart>) -> Result<(SweepSpec, Vec<Row>), String> {
    let Some(first) = parts.first() else {
        return Err("no parts to merge".into());
    };
    let (hash, count) = (first.manifest.spec_hash.clone(), first.manifest.slices);
    let version = env!("CARGO_PKG_VERSION");
    for p in &parts {
        let m = &p.manifest;
        if m.stepsim_version != version {
            return Err(format!(
                "{} was written by stepsim {}, this is stepsim {version}: run every part and the merge with one version",
                p.location, m.stepsim_version
            ));
        }
        if m.spec_hash != hash {
            return Err(format!(
                "{} is from another sweep than {} (spec hash {} vs {}): the spec, its overrides or the project differ",
                p.location,
                first.location,
                short(&m.spec_hash),
                short(&hash)
            ));
        }
        if m.slices != count {
            return Err(format!(
                "{} is slice {}/{} but {} is slice {}/{count}: every part must come from one N",
                p.location, m.slice, m.slices, first.location, first.manifest.slice
            ));
        }
    }
    let spec = first
        .manifest
        .spec
        .parse()
        .map_err(|e| format!("{}: the spec it carries: {e}", first.location))?;
    let expected = partition::slices(&spec, count);
    let by_slice = check_slices(&parts, &expected, count)?;
    let grid = spec.points();
    let mut rows = Vec::with_capacity(grid.len() * spec.repetitions as usize);
    for p in by_slice.values() {
        rows.extend(read_rows(p, &grid)?);
    }
    rows.sort_by_key(|r| (r.point, r.repetition));
    check_repetitions(&spec, &rows)?;
    Ok((spec, rows))
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Every slice that holds points present once, with the points it should hold.
fn check_slices<'a>(
    parts: &'a [RawPart],
    expected: &[Vec<usize>],
    count: usize,
) -> Result<BTreeMap<usize, &'a RawPart>, String> {
    let mut by_slice: BTreeMap<usize, &RawPart> = BTreeMap::new();
    for p in parts {
        let m = &p.manifest;
        if m.slice == 0 || m.slice > count {
            return Err(format!(
                "{}: slice {}/{count} does not exist",
                p.location, m.slice
            ));
        }
        if let Some(other) = by_slice.insert(m.slice, p) {
            return Err(format!(
                "slice {}/{count} is given twice: {} and {} overlap",
                m.slice, other.location, p.location
            ));
        }
        let want = &expected[m.slice - 1];
        if &m.points != want {
            return Err(format!(
                "{}: slice {}/{count} holds points {:?}, but this grid gives it {:?}",
                p.location, m.slice, m.points, want
            ));
        }
    }
    let missing: Vec<usize> = (1..=count)
        .filter(|k| !by_slice.contains_key(k) && !expected[k - 1].is_empty())
        .collect();
    if !missing.is_empty() {
        let slices: Vec<String> = missing.iter().map(|k| format!("{k}/{count}")).collect();
        let mut points: Vec<usize> = missing
            .iter()
            .flat_map(|k| expected[k - 1].iter().copied())
            .collect();
        points.sort_unstable();
        let shown: Vec<String> = points.iter().take(20).map(usize::to_string).collect();
        return Err(format!(
            "slice{} {} missing: points {}{} not run",
            if missing.len() > 1 { "s" } else { "" },
            slices.join(", "),
            shown.join(", "),
            if points.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    Ok(by_slice)
}

fn read_rows(p: &RawPart, grid: &[Vec<serde_json::Value>]) -> Result<Vec<Row>, String> {
    let text =
        std::str::from_utf8(&p.rows).map_err(|_| format!("{}/{ROWS}: not UTF-8", p.location))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("{}/{ROWS}:{}: {e}", p.location, n + 1);
        let pr: PartRow = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        if !p.manifest.points.contains(&pr.point) {
            return Err(at(format!(
                "point {} is not one of this slice's points",
                pr.point
            )));
        }
        rows.push(pr.into_row(grid).map_err(at)?);
    }
    if rows.len() != p.manifest.executions {
        return Err(format!(
            "{}/{ROWS}: {} executions, the manifest says {}",
            p.location,
            rows.len(),
            p.manifest.executions
        ));
    }
    Ok(rows)
}

/// Each point has repetitions 1..=R exactly once (rows sorted by point, repetition).
fn check_repetitions(spec: &SweepSpec, rows: &[Row]) -> Result<(), String> {
    let reps = spec.repetitions as usize;
    let points = spec.points().len();
    if rows.len() != points * reps {
        return Err(format!(
            "the parts hold {} executions, the grid has {points} points x {reps} repetitions",
            rows.len()
        ));
    }
    for (i, r) in rows.iter().enumerate() {
        let (point, rep) = (i / reps, (i % reps) as u32 + 1);
        if r.point != point || r.repetition != rep {
            return Err(format!(
                "point {point} repetition {rep} is missing or duplicated in the parts"
            ));
        }
    }
    Ok(())
}
