//! `stepsim serve --state-dir DIR`: the append-only journal that keeps state machines,
//! executions and their histories across restarts (and `kill -9`).
//!
//! # The file
//!
//! `DIR/journal.jsonl` holds one JSON object per line, one line per change, each with its
//! kind in `"t"`:
//!
//! - `version`: a state machine version (`"v"`, its number in this file, plus its ARN, name,
//!   definition, role, type, revision id, update date, logging and tracing). Written once,
//!   before the first record that refers to it;
//! - `machine`: a machine created or updated (`arn`, `v`, `created`);
//! - `machine_deleted`: a machine deleted (`arn`);
//! - `start`: an execution started (`arn`, `name`, `v`, `input` as given, `start`);
//! - `end`: an execution ended (`arn`, `status`, `output`, `error`, `cause`, `stop` and its
//!   `history`: every event with its id, previous id, timestamp, type and details). A later
//!   `end` of the same execution replaces an earlier one (a stop of a result still being
//!   revealed);
//!   An end also keeps what RedriveExecution needs: `resume` (where a redrive would continue,
//!   [`crate::engine::Resume`] as JSON), `redriveCount` and `redriveDate`;
//! - `redrive`: an execution redriven (`arn`, `date`): its last `end` becomes the earlier
//!   attempts of a new run. If the server stops before that run ends, replay ends it ABORTED
//!   like any lost run, with the earlier attempts' history and resume point kept (it can be
//!   redriven again);
//! - `drop`: an ended execution dropped by `--max-executions` / `--max-memory` (`arn`).
//!
//! Dates are RFC 3339 with nanoseconds. State inputs and outputs are written in full, except
//! that an event showing the very payload of the state event before it (a state's output
//! entering the next state) writes `"same": true`; replay rebuilds the shared payloads the
//! history had in memory ([`Payload::shared_with`]).
//!
//! # Crash safety
//!
//! Each change is one `write` of whole lines, made while the registry lock is held (so the
//! file's order is the registry's order); machine changes and execution ends are also
//! `fsync`ed. A crash mid-write leaves at most a torn last line without its newline: the next
//! start warns, ignores it and truncates it away. Any other line that does not read is an
//! error naming `FILE:LINE`, and the server refuses to start rather than overwrite data.
//! A write that fails (disk full) is rolled back to the last whole line and logged; the server
//! keeps serving.
//!
//! # Replay
//!
//! On start the journal is replayed into the registry. Executions that were running when the
//! server stopped come back ABORTED (error `States.Runtime`, see [`LOST_CAUSE`]) with the
//! restart as their stop date: their in-memory run is gone. That end is journaled, so a second
//! restart shows the same stop date. Results that were computed but still being revealed
//! under `--time-scale` come back whole. Retention limits apply after replay. Bills and usage
//! (the console's cost column) are not kept.
//!
//! # Compaction
//!
//! When the file is over [`COMPACT_FACTOR`] times the bytes of the records still live (and
//! over [`COMPACT_FLOOR`]), it is rewritten with only those: a temporary file is written,
//! `fsync`ed and renamed over the journal, and the directory is `fsync`ed. A crash at any
//! point leaves either the old or the new file whole.
//!
//! A lock (`DIR/lock`, `flock`) keeps two servers from sharing one directory.
//!
//! Not kept: Distributed Map children's inputs, results and histories (their list is),
//! activities, task tokens, API-created Lambda functions, IAM, CloudWatch Logs,
//! DynamoDB, SQS, SNS and EventBridge state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::asl::model::ExecutionType;
use crate::engine::history::{Details, HistoryEvent, Payload};
use crate::engine::{ExecutionStatus, SimTime};

use super::state::{
    AliasRecord, ApiState, Attempt, ChangeLog, ExecControl, ExecutionRecord, Finished,
    MachineRecord, MachineVersion, Published, RedriveFacts, Registry, StartedVia,
};

/// The journal's file name inside the state directory.
pub const FILE_NAME: &str = "journal.jsonl";
/// The lock file's name inside the state directory.
pub const LOCK_NAME: &str = "lock";
/// How long a start waits for another server to let go of the directory's lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// Compact when the file is this many times the live records' bytes.
pub const COMPACT_FACTOR: u64 = 4;
/// ... and at least this large (a small journal is not worth rewriting).
pub const COMPACT_FLOOR: u64 = 1024 * 1024;
/// The error of executions that were running when the server stopped.
pub const LOST_ERROR: &str = "States.Runtime";
/// Their cause.
pub const LOST_CAUSE: &str =
    "The server stopped before this execution ended; stepsim serve --state-dir restored it as \
     ABORTED because its run was lost.";

/// The open journal of a server started with `--state-dir`.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// `None` once a write could not be rolled back: journaling stops, serving goes on.
    file: Option<File>,
    /// Held for the server's life (the `flock` goes with it).
    _lock: File,
    /// The bytes of whole lines in the file.
    len: u64,
    /// The versions written, by the address of their allocation. The `Weak` keeps that
    /// allocation (not the version) alive, so an address is never reused while listed.
    versions: HashMap<usize, (Weak<MachineVersion>, u64)>,
    next_version: u64,
    /// Bytes of the live records: `m ARN` (machine), `s ARN` (start), `e ARN` (end).
    live: BTreeMap<String, u64>,
    live_bytes: u64,
    /// Bytes of version lines (all counted as live until the next compaction).
    version_bytes: u64,
    /// The file size under which no compaction is tried.
    floor: u64,
}

/// What a start restored, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    pub machines: usize,
    pub executions: usize,
    /// Executions that were running and came back ABORTED.
    pub aborted: usize,
    /// Whether a torn last line was dropped.
    pub torn: bool,
}

// ----- names ---------------------------------------------------------------------------------

/// `s` as a `&'static str`: event types and details keys are static in memory. Each distinct
/// name is leaked once; a journal holds a few dozen.
fn intern(s: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(s) {
        return n;
    }
    let n: &'static str = Box::leak(s.to_string().into_boxed_str());
    names.insert(n);
    n
}

// ----- writing -------------------------------------------------------------------------------

fn date(t: SimTime) -> Value {
    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn push_line(buf: &mut Vec<u8>, v: &Value) -> u64 {
    let before = buf.len();
    // Serialising a `Value` to memory cannot fail.
    let _ = serde_json::to_writer(&mut *buf, v);
    buf.push(b'\n');
    (buf.len() - before) as u64
}

fn version_json(id: u64, v: &MachineVersion) -> Value {
    json!({
        "t": "version", "v": id, "arn": v.arn, "name": v.name, "definition": v.definition,
        "roleArn": v.role_arn, "type": v.kind.as_str(), "revisionId": v.revision_id,
        "updated": date(v.updated), "logging": v.logging, "tracing": v.tracing,
    })
}

/// A state event's payload: `"same": true` when it is the previous state event's payload.
fn payload_member(m: &mut Map<String, Value>, key: &str, p: &Payload, last: &mut Option<usize>) {
    if *last == Some(p.identity()) {
        m.insert("same".into(), Value::Bool(true));
    } else {
        m.insert(key.into(), p.to_value());
    }
    *last = Some(p.identity());
}

fn event_json(e: &HistoryEvent, last: &mut Option<usize>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), e.id.into());
    m.insert("p".into(), e.previous_event_id.into());
    m.insert("ts".into(), date(e.timestamp));
    m.insert("type".into(), e.event_type.into());
    match &e.details {
        Details::None => {}
        Details::StateEntered { name, input } => {
            m.insert("se".into(), name.as_ref().into());
            payload_member(&mut m, "in", input, last);
        }
        Details::StateExited { name, output } => {
            m.insert("sx".into(), name.as_ref().into());
            payload_member(&mut m, "out", output, last);
        }
        Details::ExecutionStarted { input, role_arn } => {
            m.insert("es".into(), role_arn.as_ref().into());
            m.insert("in".into(), input.clone());
        }
        Details::ExecutionSucceeded { output } => {
            m.insert("ok".into(), output.clone());
        }
        Details::MapIteration { key, index, name } => {
            m.insert("mi".into(), (*key).into());
            m.insert("index".into(), (*index).into());
            m.insert("name".into(), name.as_ref().into());
        }
        Details::Json(key, v) => {
            m.insert("k".into(), (*key).into());
            m.insert("d".into(), v.clone());
        }
    }
    Value::Object(m)
}

fn start_json(rec: &ExecutionRecord, version: u64) -> Value {
    let mut v = json!({
        "t": "start", "arn": rec.arn, "name": rec.name, "v": version,
        "input": rec.input_text, "start": date(rec.start),
    });
    if let Some(a) = &rec.via.version_arn {
        v["versionArn"] = a.clone().into();
    }
    if let Some(a) = &rec.via.alias_arn {
        v["aliasArn"] = a.clone().into();
    }
    if let Some(c) = &rec.via.test_case {
        v["testCase"] = c.clone().into();
    }
    v
}

/// A machine's line: its current version, tags, published versions and aliases (the
/// versions' `version` lines are written into `buf` first when needed).
fn machine_json(j: &mut Journal, arn: &str, m: &MachineRecord, buf: &mut Vec<u8>) -> Value {
    let v = j.version_id(&m.version, buf);
    let mut line = json!({"t": "machine", "arn": arn, "v": v, "created": date(m.created)});
    if !m.tags.is_empty() {
        line["tags"] = json!(m.tags);
    }
    if !m.published.is_empty() || m.next_version != 1 {
        let published: Vec<Value> = m
            .published
            .iter()
            .map(|(n, p)| {
                let v = j.version_id(&p.version, buf);
                let mut e = json!({"n": n, "v": v, "created": date(p.created)});
                if let Some(d) = &p.description {
                    e["description"] = d.clone().into();
                }
                e
            })
            .collect();
        line["published"] = Value::Array(published);
        line["next"] = m.next_version.into();
    }
    if !m.aliases.is_empty() {
        let aliases: Map<String, Value> = m
            .aliases
            .iter()
            .map(|(name, a)| {
                let mut e = json!({
                    "routes": a.routes,
                    "created": date(a.created),
                    "updated": date(a.updated),
                });
                if let Some(d) = &a.description {
                    e["description"] = d.clone().into();
                }
                (name.clone(), e)
            })
            .collect();
        line["aliases"] = Value::Object(aliases);
    }
    line
}

fn end_json(arn: &str, f: &Finished) -> Value {
    let mut last = None;
    let history: Vec<Value> = f.history.iter().map(|e| event_json(e, &mut last)).collect();
    let mut m = Map::new();
    m.insert("t".into(), "end".into());
    m.insert("arn".into(), arn.into());
    m.insert("status".into(), f.status.as_str().into());
    if let Some(o) = &f.output {
        m.insert("output".into(), o.clone());
    }
    if let Some(e) = &f.error {
        m.insert("error".into(), e.clone().into());
    }
    if let Some(c) = &f.cause {
        m.insert("cause".into(), c.clone().into());
    }
    m.insert("stop".into(), date(f.stop));
    m.insert("history".into(), Value::Array(history));
    if !f.map_runs.is_empty() {
        let runs = f.map_runs.iter().map(super::map_runs::to_json).collect();
        m.insert("mapRuns".into(), Value::Array(runs));
    }
    if let Some(r) = &f.redrive.resume {
        // A Resume is plain data (names, numbers, JSON values): serializing cannot fail.
        if let Ok(v) = serde_json::to_value(&**r) {
            m.insert("resume".into(), v);
        }
    }
    if f.redrive.count > 0 {
        m.insert("redriveCount".into(), f.redrive.count.into());
    }
    if let Some(d) = f.redrive.date {
        m.insert("redriveDate".into(), date(d));
    }
    Value::Object(m)
}

fn redrive_json(arn: &str, a: &Attempt) -> Value {
    json!({"t": "redrive", "arn": arn, "date": date(a.start)})
}

impl Journal {
    /// The number of `v` in this file, writing its `version` line into `buf` first if needed.
    fn version_id(&mut self, v: &Arc<MachineVersion>, buf: &mut Vec<u8>) -> u64 {
        let key = Arc::as_ptr(v) as usize;
        if let Some((weak, id)) = self.versions.get(&key) {
            if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(v)) {
                return *id;
            }
        }
        let id = self.next_version;
        self.next_version += 1;
        self.versions.insert(key, (Arc::downgrade(v), id));
        self.version_bytes += push_line(buf, &version_json(id, v));
        id
    }

    fn set_live(&mut self, key: String, bytes: u64) {
        let old = self.live.insert(key, bytes).unwrap_or(0);
        self.live_bytes = self.live_bytes.saturating_sub(old) + bytes;
    }

    fn forget(&mut self, key: &str) {
        let old = self.live.remove(key).unwrap_or(0);
        self.live_bytes = self.live_bytes.saturating_sub(old);
    }

    /// Appends `buf` (whole lines) with one write; `sync` also `fsync`s. A failed write is
    /// cut back to the last whole line, so the file never holds a torn line in its middle.
    fn append(&mut self, buf: &[u8], sync: bool) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let written = file
            .write_all(buf)
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        match written {
            Ok(()) => self.len += buf.len() as u64,
            Err(e) => {
                tracing::warn!(
                    "state dir: writing {} failed ({e}); this change is not kept",
                    self.path.display()
                );
                if let Err(e) = file.set_len(self.len) {
                    tracing::error!(
                        "state dir: cannot cut {} back to its last whole line ({e}); \
                         journaling stops (restart to resume)",
                        self.path.display()
                    );
                    self.file = None;
                }
            }
        }
    }

    fn needs_compaction(&self) -> bool {
        self.file.is_some()
            && self.len > self.floor
            && self.len > COMPACT_FACTOR.saturating_mul(self.live_bytes + self.version_bytes)
    }
}

impl ChangeLog for Journal {
    /// Journals machine `arn` as it now is: its current version, or its deletion.
    fn machine_changed(&mut self, reg: &Registry, arn: &str) {
        let mut buf = Vec::new();
        let key = format!("m {arn}");
        match reg.machines.get(arn) {
            Some(m) => {
                let line = machine_json(self, arn, m, &mut buf);
                let n = push_line(&mut buf, &line);
                self.set_live(key, n);
            }
            None => {
                push_line(&mut buf, &json!({"t": "machine_deleted", "arn": arn}));
                self.forget(&key);
            }
        }
        self.append(&buf, true);
        self.compact_if_grown(reg);
    }

    /// Journals a newly inserted execution (and its end, when it came in ended).
    fn execution_started(&mut self, reg: &Registry, arn: &str) {
        let Some(rec) = reg.executions.get(arn) else {
            return;
        };
        let mut buf = Vec::new();
        let v = self.version_id(&rec.machine, &mut buf);
        let n = push_line(&mut buf, &start_json(rec, v));
        self.set_live(format!("s {arn}"), n);
        if let Some(f) = &rec.result {
            let n = push_line(&mut buf, &end_json(arn, f));
            self.set_live(format!("e {arn}"), n);
        }
        self.append(&buf, rec.result.is_some());
        self.compact_if_grown(reg);
    }

    /// Journals an execution's end (again, when a stop changed it).
    fn execution_ended(&mut self, reg: &Registry, arn: &str) {
        let Some(f) = reg.executions.get(arn).and_then(|r| r.result.as_ref()) else {
            return;
        };
        let mut buf = Vec::new();
        let n = push_line(&mut buf, &end_json(arn, f));
        self.set_live(format!("e {arn}"), n);
        // An end after a redrive holds the whole history: the redrive line is spent.
        self.forget(&format!("r {arn}"));
        self.append(&buf, true);
        self.compact_if_grown(reg);
    }

    /// Journals a redrive: the execution's last end is now the prior of a running attempt.
    fn execution_redriven(&mut self, reg: &Registry, arn: &str) {
        let Some(a) = reg.executions.get(arn).and_then(|r| r.attempt.as_deref()) else {
            return;
        };
        let mut buf = Vec::new();
        let n = push_line(&mut buf, &redrive_json(arn, a));
        self.set_live(format!("r {arn}"), n);
        self.append(&buf, true);
        self.compact_if_grown(reg);
    }

    /// Journals that retention dropped an execution.
    fn execution_dropped(&mut self, reg: &Registry, arn: &str) {
        let mut buf = Vec::new();
        push_line(&mut buf, &json!({"t": "drop", "arn": arn}));
        self.forget(&format!("s {arn}"));
        self.forget(&format!("e {arn}"));
        self.forget(&format!("r {arn}"));
        self.append(&buf, false);
        self.compact_if_grown(reg);
    }
}

impl Journal {
    /// Compacts when the file has grown past the live records.
    fn compact_if_grown(&mut self, reg: &Registry) {
        if self.needs_compaction() {
            compact(self, reg);
        }
    }
}

// ----- compaction ----------------------------------------------------------------------------

/// Rewrites the journal with only the live records. On failure the old file stays and the
/// next try waits until the file has doubled.
fn compact(j: &mut Journal, reg: &Registry) {
    j.versions.clear();
    j.next_version = 1;
    j.live.clear();
    j.live_bytes = 0;
    j.version_bytes = 0;
    let mut buf = Vec::new();
    for (arn, m) in &reg.machines {
        let line = machine_json(j, arn, m, &mut buf);
        let n = push_line(&mut buf, &line);
        j.set_live(format!("m {arn}"), n);
    }
    for arn in reg.order.values() {
        let Some(rec) = reg.executions.get(arn) else {
            continue;
        };
        let v = j.version_id(&rec.machine, &mut buf);
        let n = push_line(&mut buf, &start_json(rec, v));
        j.set_live(format!("s {arn}"), n);
        if let Some(f) = &rec.result {
            let n = push_line(&mut buf, &end_json(arn, f));
            j.set_live(format!("e {arn}"), n);
        }
        // A running redrive: the end it continues, then the redrive.
        if let Some((a, prior)) = rec
            .attempt
            .as_deref()
            .and_then(|a| Some((a, a.prior.as_ref()?)))
        {
            let n = push_line(&mut buf, &end_json(arn, prior));
            j.set_live(format!("e {arn}"), n);
            let n = push_line(&mut buf, &redrive_json(arn, a));
            j.set_live(format!("r {arn}"), n);
        }
    }
    match replace_file(&j.path, &buf) {
        Ok(file) => {
            tracing::info!(
                "state dir: compacted {} from {} to {} bytes",
                j.path.display(),
                j.len,
                buf.len()
            );
            j.file = Some(file);
            j.len = buf.len() as u64;
        }
        Err(e) => {
            tracing::warn!("state dir: compacting {} failed: {e}", j.path.display());
            j.floor = j.len.saturating_mul(2);
            // The counts above describe the file not written: count everything as live so
            // the doubled floor alone decides the next try.
            j.live_bytes = j.len;
        }
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, directory fsync) and
/// opens the result for appending.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

// ----- reading -------------------------------------------------------------------------------

/// One record's reading error (the caller adds `FILE:LINE`).
type ReadResult<T> = Result<T, String>;

fn field<'a>(m: &'a Map<String, Value>, key: &str) -> ReadResult<&'a Value> {
    m.get(key).ok_or_else(|| format!("missing \"{key}\""))
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> ReadResult<&'a str> {
    field(m, key)?
        .as_str()
        .ok_or_else(|| format!("\"{key}\" is not a string"))
}

fn number(m: &Map<String, Value>, key: &str) -> ReadResult<u64> {
    field(m, key)?
        .as_u64()
        .ok_or_else(|| format!("\"{key}\" is not a whole number"))
}

fn parse_date(m: &Map<String, Value>, key: &str) -> ReadResult<SimTime> {
    let s = text(m, key)?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|e| format!("\"{key}\" is not an RFC 3339 date ({e})"))
}

fn parse_status(s: &str) -> ReadResult<ExecutionStatus> {
    Ok(match s {
        "SUCCEEDED" => ExecutionStatus::Succeeded,
        "FAILED" => ExecutionStatus::Failed,
        "TIMED_OUT" => ExecutionStatus::TimedOut,
        "ABORTED" => ExecutionStatus::Aborted,
        other => return Err(format!("unknown status {other:?}")),
    })
}

fn read_version(m: &Map<String, Value>) -> ReadResult<MachineVersion> {
    let definition = text(m, "definition")?;
    let plan = super::sfn::compile_definition(definition)
        .map_err(|e| format!("the definition no longer compiles: {}", e.message))?;
    let kind = match text(m, "type")? {
        "STANDARD" => ExecutionType::Standard,
        "EXPRESS" => ExecutionType::Express,
        other => return Err(format!("unknown machine type {other:?}")),
    };
    Ok(MachineVersion {
        arn: text(m, "arn")?.to_string(),
        name: text(m, "name")?.to_string(),
        definition: definition.to_string(),
        role_arn: text(m, "roleArn")?.to_string(),
        kind,
        plan: Arc::new(plan),
        revision_id: text(m, "revisionId")?.to_string(),
        updated: parse_date(m, "updated")?,
        logging: field(m, "logging")?.clone(),
        tracing: field(m, "tracing")?.clone(),
    })
}

/// A state event's payload: its value, or the previous state event's payload (`"same"`),
/// shared with the previous one as [`crate::engine::history::History::payload`] does.
fn read_payload(
    m: &Map<String, Value>,
    key: &str,
    last: &mut Option<Payload>,
) -> ReadResult<Payload> {
    let p = if m.get("same") == Some(&Value::Bool(true)) {
        last.clone()
            .ok_or("\"same\" payload with no state event before it")?
    } else {
        Payload::shared_with(field(m, key)?, last.as_ref())
    };
    *last = Some(p.clone());
    Ok(p)
}

fn read_event(v: &Value, last: &mut Option<Payload>) -> ReadResult<HistoryEvent> {
    let m = v.as_object().ok_or("a history event is not an object")?;
    let name = |k: &str| -> ReadResult<Arc<str>> { Ok(Arc::from(text(m, k)?)) };
    let details = if m.contains_key("se") {
        Details::StateEntered {
            name: name("se")?,
            input: read_payload(m, "in", last)?,
        }
    } else if m.contains_key("sx") {
        Details::StateExited {
            name: name("sx")?,
            output: read_payload(m, "out", last)?,
        }
    } else if m.contains_key("es") {
        Details::ExecutionStarted {
            input: field(m, "in")?.clone(),
            role_arn: name("es")?,
        }
    } else if let Some(o) = m.get("ok") {
        Details::ExecutionSucceeded { output: o.clone() }
    } else if m.contains_key("mi") {
        Details::MapIteration {
            key: intern(text(m, "mi")?),
            index: usize::try_from(number(m, "index")?).map_err(|e| e.to_string())?,
            name: name("name")?,
        }
    } else if m.contains_key("k") {
        Details::Json(intern(text(m, "k")?), field(m, "d")?.clone())
    } else {
        Details::None
    };
    Ok(HistoryEvent {
        id: number(m, "id")?,
        previous_event_id: number(m, "p")?,
        timestamp: parse_date(m, "ts")?,
        event_type: intern(text(m, "type")?),
        details,
    })
}

/// An optional text member.
fn opt_text(m: &Map<String, Value>, k: &str) -> ReadResult<Option<String>> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{k}\" is not a string")),
    }
}

fn read_end(m: &Map<String, Value>) -> ReadResult<Finished> {
    let events = field(m, "history")?
        .as_array()
        .ok_or("\"history\" is not an array")?;
    let mut last = None;
    let history = events
        .iter()
        .enumerate()
        .map(|(i, e)| read_event(e, &mut last).map_err(|err| format!("history[{i}]: {err}")))
        .collect::<ReadResult<Vec<_>>>()?;
    let opt_text = |k: &str| opt_text(m, k);
    let map_runs = match m.get("mapRuns") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, r)| super::map_runs::from_json(r).map_err(|e| format!("mapRuns[{i}]: {e}")))
            .collect::<ReadResult<Vec<_>>>()?,
        Some(_) => return Err("\"mapRuns\" is not an array".into()),
    };
    let resume = match m.get("resume") {
        None => None,
        Some(v) => Some(Arc::new(
            serde_json::from_value::<crate::engine::Resume>(v.clone())
                .map_err(|e| format!("\"resume\" does not read: {e}"))?,
        )),
    };
    let redrive = RedriveFacts {
        resume,
        count: match m.get("redriveCount") {
            None => 0,
            Some(_) => u32::try_from(number(m, "redriveCount")?)
                .map_err(|_| "\"redriveCount\" is too large")?,
        },
        date: match m.get("redriveDate") {
            None => None,
            Some(_) => Some(parse_date(m, "redriveDate")?),
        },
    };
    Ok(Finished {
        status: parse_status(text(m, "status")?)?,
        output: m.get("output").cloned(),
        error: opt_text("error")?,
        cause: opt_text("cause")?,
        stop: parse_date(m, "stop")?,
        history,
        reveal_at: Instant::now(),
        summary: None,
        map_runs,
        redrive,
    })
}

/// What replay keeps besides the registry: the versions by their number in the file.
#[derive(Default)]
struct Replay {
    versions: HashMap<u64, Arc<MachineVersion>>,
}

impl Replay {
    fn version(&self, m: &Map<String, Value>) -> ReadResult<Arc<MachineVersion>> {
        let v = number(m, "v")?;
        self.versions
            .get(&v)
            .cloned()
            .ok_or_else(|| format!("version {v} was never written before this line"))
    }

    /// Reads a machine line's tags, published versions and aliases into `rec`.
    fn machine_extras(&self, m: &Map<String, Value>, rec: &mut MachineRecord) -> ReadResult<()> {
        if let Some(tags) = m.get("tags") {
            let tags = tags.as_object().ok_or("\"tags\" is not an object")?;
            for (k, v) in tags {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("tag {k:?} is not a string"))?;
                rec.tags.insert(k.clone(), v.to_string());
            }
        }
        if let Some(published) = m.get("published") {
            let list = published
                .as_array()
                .ok_or("\"published\" is not an array")?;
            for p in list {
                let p = p
                    .as_object()
                    .ok_or("a published version is not an object")?;
                let description = opt_text(p, "description")?;
                rec.published.insert(
                    number(p, "n")?,
                    Published {
                        version: self.version(p)?,
                        description,
                        created: parse_date(p, "created")?,
                    },
                );
            }
            rec.next_version = number(m, "next")?;
        }
        if let Some(aliases) = m.get("aliases") {
            let aliases = aliases.as_object().ok_or("\"aliases\" is not an object")?;
            for (name, a) in aliases {
                let a = a.as_object().ok_or("an alias is not an object")?;
                let routes: Vec<(u64, u32)> = serde_json::from_value(field(a, "routes")?.clone())
                    .map_err(|e| format!("alias {name:?} routes: {e}"))?;
                let description = opt_text(a, "description")?;
                rec.aliases.insert(
                    name.clone(),
                    AliasRecord {
                        description,
                        routes,
                        created: parse_date(a, "created")?,
                        updated: parse_date(a, "updated")?,
                    },
                );
            }
        }
        Ok(())
    }

    /// Applies one record to `reg`.
    fn apply(&mut self, reg: &mut Registry, record: &Value) -> ReadResult<()> {
        let m = record.as_object().ok_or("a record is not a JSON object")?;
        match text(m, "t")? {
            "version" => {
                let v = read_version(m)?;
                self.versions.insert(number(m, "v")?, Arc::new(v));
            }
            "machine" => {
                let version = self.version(m)?;
                let created = parse_date(m, "created")?;
                let arn = text(m, "arn")?.to_string();
                let mut rec = MachineRecord::new(version, created);
                self.machine_extras(m, &mut rec)?;
                reg.machines.insert(arn, rec);
            }
            "machine_deleted" => {
                reg.machines.remove(text(m, "arn")?);
            }
            "start" => {
                let arn = text(m, "arn")?;
                let input_text = text(m, "input")?.to_string();
                let input = serde_json::from_str(&input_text)
                    .map_err(|e| format!("\"input\" is not JSON text ({e})"))?;
                reg.remove_execution(arn);
                reg.insert_execution(ExecutionRecord {
                    arn: arn.to_string(),
                    name: text(m, "name")?.to_string(),
                    machine: self.version(m)?,
                    input_text,
                    input,
                    start: parse_date(m, "start")?,
                    real_start: Instant::now(),
                    result: None,
                    control: ExecControl::new(),
                    via: StartedVia {
                        version_arn: m
                            .get("versionArn")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        alias_arn: m
                            .get("aliasArn")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        test_case: m
                            .get("testCase")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    },
                    attempt: None,
                    redrive_tokens: Default::default(),
                });
            }
            "end" => {
                let arn = text(m, "arn")?;
                let fin = read_end(m)?;
                let rec = reg
                    .executions
                    .get_mut(arn)
                    .ok_or_else(|| format!("the end of {arn}, which was never started"))?;
                // A later end replaces an earlier one (a stop while revealing), and the end
                // of a redrive holds the whole history already.
                rec.result = None;
                if let Some(a) = rec.attempt.as_mut() {
                    a.prior = None;
                }
                reg.finish_execution(arn, fin);
            }
            "redrive" => {
                let arn = text(m, "arn")?;
                let start = parse_date(m, "date")?;
                let rec = reg
                    .executions
                    .get_mut(arn)
                    .ok_or_else(|| format!("a redrive of {arn}, which was never started"))?;
                let prior = rec
                    .result
                    .take()
                    .ok_or_else(|| format!("a redrive of {arn}, which had not ended"))?;
                rec.attempt = Some(Box::new(Attempt {
                    start,
                    real_start: Instant::now(),
                    prior: Some(prior),
                }));
            }
            "drop" => {
                reg.remove_execution(text(m, "arn")?);
            }
            other => return Err(format!("unknown record kind {other:?}")),
        }
        Ok(())
    }
}

/// Replays `bytes` (the journal's content) into `reg`. Returns the length of the whole lines
/// read and whether a torn last line was dropped.
fn replay(reg: &mut Registry, bytes: &[u8], path: &Path) -> Result<(u64, bool), String> {
    let mut replay = Replay::default();
    let mut offset = 0usize;
    let mut line_no = 0usize;
    while offset < bytes.len() {
        line_no += 1;
        let (line, whole) = match bytes[offset..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[offset..offset + i], true),
            None => (&bytes[offset..], false),
        };
        let at = || format!("{}:{line_no}", path.display());
        let parsed = serde_json::from_slice::<Value>(line);
        match parsed {
            Err(e) if !whole => {
                tracing::warn!(
                    "{}: the last line is torn (a crash while writing it: {e}); ignoring it",
                    at()
                );
                return Ok((offset as u64, true));
            }
            Err(e) => {
                return Err(format!(
                    "{}: not a JSON record ({e}); fix or remove the line (the server does not \
                     overwrite a journal it cannot read)",
                    at()
                ))
            }
            Ok(v) => replay
                .apply(reg, &v)
                .map_err(|e| format!("{}: {e}", at()))?,
        }
        offset += line.len() + usize::from(whole);
    }
    Ok((offset as u64, false))
}

/// Takes an exclusive lock on `DIR/lock` so that two servers never share one journal.
fn lock_dir(dir: &Path) -> Result<File, String> {
    use std::os::fd::AsRawFd;
    let path = dir.join(LOCK_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // A server stopping in this same process (or one just killed) lets go of the lock a moment
    // after it stops answering: wait for it, but only briefly.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    // SAFETY (each call): flock only reads the descriptor, which `file` keeps open.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "{} is in use by another stepsim serve (its lock {} is held)",
                dir.display(),
                path.display()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(file)
}

/// Opens (or creates) the journal in `dir`, replays it into the server's registry, closes
/// the executions whose run was lost, applies the retention limits and keeps journaling
/// from then on. Errors name the file and line; nothing is written before replay succeeds.
pub fn open(state: &ApiState, dir: &Path) -> Result<Restored, String> {
    open_with_floor(state, dir, COMPACT_FLOOR)
}

/// [`open`] with the size under which no compaction is tried (tests use a small one).
pub fn open_with_floor(state: &ApiState, dir: &Path, floor: u64) -> Result<Restored, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the state dir {}: {e}", dir.display()))?;
    let lock = lock_dir(dir)?;
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut reg = state.registry();
    let (len, torn) = replay(&mut reg, &bytes, &path)?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if torn {
        file.set_len(len)
            .map_err(|e| format!("cannot cut the torn line off {}: {e}", path.display()))?;
    }
    let mut journal = Journal {
        path,
        file: Some(file),
        _lock: lock,
        len,
        versions: HashMap::new(),
        next_version: 1,
        live: BTreeMap::new(),
        live_bytes: 0,
        version_bytes: 0,
        floor,
    };
    // The file's records were written with other numbers: start from a clean file whose
    // numbering this journal knows. Compacting here also drops what the file kept of
    // deleted machines and dropped executions.
    compact(&mut journal, &reg);
    if journal.file.is_none() {
        return Err(format!("cannot rewrite {}", journal.path.display()));
    }
    reg.journal = Some(Box::new(journal));
    let aborted = abort_lost(&mut reg, state.wall_now());
    let s = &state.settings;
    reg.enforce_limits(
        s.max_executions,
        s.max_retained_bytes,
        Instant::now(),
        s.time_scale,
    );
    // Names of unnamed executions come from the id stream; with a pinned seed it would
    // repeat the names of the restored ones, so it moves on by what was restored.
    if !bytes.is_empty() {
        let mut ids = state.ids.lock().unwrap_or_else(|e| e.into_inner());
        *ids = crate::rng::SimRng::derived(s.seed, &format!("serve/ids/restart/{len}"));
    }
    Ok(Restored {
        machines: reg.machines.len(),
        executions: reg.executions.len(),
        aborted,
        torn,
    })
}

/// Ends every execution without a result as ABORTED at `now` (their runs died with the
/// previous server). Returns how many.
fn abort_lost(reg: &mut Registry, now: SimTime) -> usize {
    let lost: Vec<String> = reg
        .order
        .values()
        .filter(|arn| reg.executions.get(*arn).is_some_and(|r| r.result.is_none()))
        .cloned()
        .collect();
    for arn in &lost {
        let Some(rec) = reg.executions.get(arn) else {
            continue;
        };
        // A lost redrive keeps its earlier attempts and where they stopped (it can be
        // redriven again); `finish_execution` joins the two.
        let prior = rec
            .attempt
            .as_deref()
            .and_then(|a| Some((a, a.prior.as_ref()?)));
        let started = match prior {
            Some((a, p)) => super::state::redriven_event(&[], a.start, p.redrive.count + 1),
            None => rec.started_event(),
        };
        let resume = prior.and_then(|(_, p)| p.redrive.resume.clone());
        let stop = now.max(rec.run_origin().0);
        let aborted = HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp: stop,
            event_type: "ExecutionAborted",
            details: Details::Json(
                "executionAbortedEventDetails",
                json!({"error": LOST_ERROR, "cause": LOST_CAUSE}),
            ),
        };
        let fin = Finished {
            status: ExecutionStatus::Aborted,
            output: None,
            error: Some(LOST_ERROR.to_string()),
            cause: Some(LOST_CAUSE.to_string()),
            stop,
            history: vec![started, aborted],
            reveal_at: Instant::now(),
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts {
                resume,
                ..RedriveFacts::default()
            },
        };
        reg.finish_execution(arn, fin);
    }
    lost.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{build_state, ServerConfig};

    fn state() -> Arc<ApiState> {
        build_state(ServerConfig {
            log_requests: false,
            workers: 1,
            ..ServerConfig::default()
        })
    }

    fn version(name: &str) -> Arc<MachineVersion> {
        let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
        let m = crate::asl::load_str(def).unwrap();
        Arc::new(MachineVersion {
            arn: format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}"),
            name: name.into(),
            definition: def.into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            kind: ExecutionType::Standard,
            plan: Arc::new(crate::engine::Plan::compile(&m).unwrap()),
            revision_id: "rev".into(),
            updated: crate::engine::clock::default_origin(),
            logging: json!({"level": "OFF"}),
            tracing: json!({"enabled": false}),
        })
    }

    fn add_ended(reg: &mut Registry, v: &Arc<MachineVersion>, name: &str, big: &Value) {
        let t = crate::engine::clock::default_origin();
        let arn = format!("{}:{name}", v.arn.replace("stateMachine", "execution"));
        reg.insert_execution(ExecutionRecord {
            arn: arn.clone(),
            name: name.into(),
            machine: v.clone(),
            input_text: big.to_string(),
            input: big.clone(),
            start: t,
            real_start: Instant::now(),
            result: None,
            control: ExecControl::new(),
            via: Default::default(),
            attempt: None,
            redrive_tokens: Default::default(),
        });
        let p = Payload::new(big);
        let ev = |id: u64, ty: &'static str, details: Details| HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: t + chrono::Duration::microseconds(id as i64 * 1500),
            event_type: ty,
            details,
        };
        let fin = Finished {
            status: ExecutionStatus::Succeeded,
            output: Some(big.clone()),
            error: None,
            cause: None,
            stop: t,
            history: vec![
                ev(
                    1,
                    "ExecutionStarted",
                    Details::ExecutionStarted {
                        input: big.clone(),
                        role_arn: Arc::from(v.role_arn.as_str()),
                    },
                ),
                ev(
                    2,
                    "PassStateEntered",
                    Details::StateEntered {
                        name: Arc::from("P"),
                        input: p.clone(),
                    },
                ),
                ev(
                    3,
                    "PassStateExited",
                    Details::StateExited {
                        name: Arc::from("P"),
                        output: p,
                    },
                ),
                ev(
                    4,
                    "MapIterationStarted",
                    Details::MapIteration {
                        key: "mapIterationStartedEventDetails",
                        index: 3,
                        name: Arc::from("M"),
                    },
                ),
                ev(
                    5,
                    "ExecutionSucceeded",
                    Details::ExecutionSucceeded {
                        output: big.clone(),
                    },
                ),
            ],
            reveal_at: Instant::now(),
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts::default(),
        };
        // Both journal themselves (insert_execution, finish_execution).
        reg.finish_execution(&arn, fin);
    }

    /// Inserts machine `v` and journals it.
    /// Inserts machine `v`, with a tag, its version published as 2 (1 deleted) and an alias
    /// to it, and journals it.
    fn add_machine(reg: &mut Registry, v: &Arc<MachineVersion>) {
        let t0 = crate::engine::clock::default_origin();
        let mut m = MachineRecord::new(v.clone(), t0);
        m.tags.insert("team".into(), "astro".into());
        m.published.insert(
            2,
            Published {
                version: v.clone(),
                description: Some("second".into()),
                created: t0 + chrono::Duration::seconds(2),
            },
        );
        m.next_version = 3;
        m.aliases.insert(
            "prod".into(),
            AliasRecord {
                description: None,
                routes: vec![(2, 100)],
                created: t0,
                updated: t0 + chrono::Duration::seconds(3),
            },
        );
        reg.machines.insert(v.arn.clone(), m);
        reg.log(|j, r| j.machine_changed(r, &v.arn));
    }

    #[test]
    fn records_replay_to_the_same_registry_and_compaction_keeps_only_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let big = json!({"blob": "x".repeat(2000), "n": 1.5});
        let a = state();
        open_with_floor(&a, dir.path(), 0).unwrap();
        let v = version("m");
        {
            let mut reg = a.registry();
            add_machine(&mut reg, &v);
            for i in 0..40 {
                add_ended(&mut reg, &v, &format!("e{i}"), &big);
            }
            // Drop most of them: the journal must shrink back towards the live ones.
            for i in 0..38 {
                let arn = format!("{}:e{i}", v.arn.replace("stateMachine", "execution"));
                reg.remove_execution(&arn);
                reg.log(|j, r| j.execution_dropped(r, &arn));
            }
        }
        let file = dir.path().join(FILE_NAME);
        let size = std::fs::metadata(&file).unwrap().len();
        // An execution writes about 10 KB (the blob in its input, its start and end events,
        // its output and one state payload; the other state event says "same"): 40 of them
        // are ~400 KB, and compaction keeps the file within 4x of the 2 live ones.
        assert!(size < 4 * 2 * 11_000, "not compacted: {size} bytes");
        let text = std::fs::read_to_string(&file).unwrap();
        let last_end = text
            .lines()
            .rfind(|l| l.starts_with("{\"t\":\"end\""))
            .unwrap();
        assert_eq!(last_end.matches("\"same\":true").count(), 1, "{last_end}");
        assert_eq!(last_end.matches(&"x".repeat(2000)).count(), 4);
        let before = snapshot(&a);
        drop(a);
        let b = state();
        let r = open(&b, dir.path()).unwrap();
        assert_eq!(
            (r.machines, r.executions, r.aborted, r.torn),
            (1, 2, 0, false)
        );
        assert_eq!(snapshot(&b), before);
        // The restored state payloads are one shared value again.
        let reg = b.registry();
        let rec = reg.executions.values().next().unwrap();
        let h = &rec.result.as_ref().unwrap().history;
        match (&h[1].details, &h[2].details) {
            (Details::StateEntered { input, .. }, Details::StateExited { output, .. }) => {
                assert_eq!(input.identity(), output.identity())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_running_redrive_survives_compaction_and_ends_aborted_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let big = json!({"blob": "x".repeat(2000)});
        let a = state();
        open_with_floor(&a, dir.path(), 0).unwrap();
        let v = version("m");
        let exec = format!("{}:kept", v.arn.replace("stateMachine", "execution"));
        let resume = crate::engine::Resume {
            state: 0,
            name: "P".into(),
            input: json!({"at": "P"}),
            variables: Map::new(),
            branches: None,
            map_run: None,
        };
        let redrive_date = crate::engine::clock::default_origin() + chrono::Duration::hours(1);
        {
            let mut reg = a.registry();
            add_machine(&mut reg, &v);
            add_ended(&mut reg, &v, "kept", &big);
            let rec = reg.executions.get_mut(&exec).unwrap();
            let mut prior = rec.result.take().unwrap();
            prior.status = ExecutionStatus::Failed;
            prior.redrive.resume = Some(Arc::new(resume.clone()));
            rec.attempt = Some(Box::new(Attempt {
                start: redrive_date,
                real_start: Instant::now(),
                prior: Some(prior),
            }));
            reg.log(|j, r| j.execution_redriven(r, &exec));
            // Enough churn after it for the journal to be compacted.
            for i in 0..30 {
                add_ended(&mut reg, &v, &format!("e{i}"), &big);
                let arn = format!("{}:e{i}", v.arn.replace("stateMachine", "execution"));
                reg.remove_execution(&arn);
                reg.log(|j, r| j.execution_dropped(r, &arn));
            }
        }
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        // 31 executions of ~10 KB each were written; compaction kept the live one.
        assert!(
            text.len() < 8 * 11_000,
            "not compacted: {} bytes",
            text.len()
        );
        assert!(
            text.contains("{\"t\":\"redrive\""),
            "compaction keeps the running redrive"
        );
        drop(a);

        let b = state();
        let r = open(&b, dir.path()).unwrap();
        assert_eq!((r.executions, r.aborted), (1, 1));
        let reg = b.registry();
        let rec = &reg.executions[&exec];
        let f = rec.result.as_ref().unwrap();
        assert_eq!(f.status, ExecutionStatus::Aborted);
        assert_eq!(f.redrive.count, 1);
        assert_eq!(f.redrive.date, Some(redrive_date));
        assert_eq!(
            f.redrive.resume.as_deref(),
            Some(&resume),
            "it can be redriven again"
        );
        let types: Vec<&str> = f.history.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "PassStateEntered",
                "PassStateExited",
                "MapIterationStarted",
                "ExecutionSucceeded",
                "ExecutionRedriven",
                "ExecutionAborted"
            ]
        );
        let ids: Vec<u64> = f.history.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7]);
    }

    /// Everything a client could read of a registry, as text.
    fn snapshot(state: &ApiState) -> String {
        let reg = state.registry();
        let mut out = String::new();
        for (arn, m) in &reg.machines {
            let v = &m.version;
            out += &format!(
                "{arn} {} {} {:?} {}\n",
                v.definition, v.revision_id, m.created, v.logging
            );
            out += &format!("  tags {:?} next {}\n", m.tags, m.next_version);
            for (n, p) in &m.published {
                let d = &p.version.definition;
                out += &format!("  v{n} {d} {:?} {:?}\n", p.description, p.created);
            }
            for (name, a) in &m.aliases {
                out += &format!("  alias {name} {a:?}\n");
            }
        }
        for arn in reg.order.values() {
            let r = &reg.executions[arn];
            let f = r.result.as_ref().unwrap();
            out += &format!(
                "{arn} {} {:?} {:?} {:?}\n",
                r.input_text, r.start, f.status, f.output
            );
            for e in &f.history {
                out += &e
                    .to_json(crate::engine::history::TimestampFormat::Rfc3339)
                    .to_string();
                out += &format!(" {:?}\n", e.timestamp);
            }
        }
        out
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_middle_line_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = state();
        open(&a, dir.path()).unwrap();
        let v = version("m");
        {
            let mut reg = a.registry();
            add_machine(&mut reg, &v);
        }
        drop(a);
        let file = dir.path().join(FILE_NAME);
        let good = std::fs::read(&file).unwrap();
        let mut torn = good.clone();
        torn.extend_from_slice(br#"{"t":"drop","ar"#);
        std::fs::write(&file, &torn).unwrap();
        let b = state();
        let r = open(&b, dir.path()).unwrap();
        assert!(r.torn);
        assert_eq!(r.machines, 1);
        drop(b);
        assert!(std::fs::read(&file).unwrap().ends_with(b"\n"));

        let lines = good
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let mut bad = b"{not json\n".to_vec();
        bad.extend_from_slice(&good);
        std::fs::write(&file, &bad).unwrap();
        let c = state();
        let e = open(&c, dir.path()).unwrap_err();
        assert!(e.contains(&format!("{}:1:", file.display())), "{e}");
        // Nothing was overwritten.
        assert_eq!(std::fs::read(&file).unwrap(), bad);
        assert!(lines >= 2);
    }

    #[test]
    fn a_second_server_cannot_share_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a = state();
        open(&a, dir.path()).unwrap();
        let e = open(&state(), dir.path()).unwrap_err();
        assert!(e.contains("in use"), "{e}");
    }
}
