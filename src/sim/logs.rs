//! CloudWatch Logs as a service of the simulated account: log groups, their streams and events,
//! with a bounded store (oldest events evicted first), AWS's paging and filter patterns.
//!
//! Two writers feed it. The Lambda model writes each function's log lines (START, the handler's
//! lines, END, REPORT) to `/aws/lambda/<name>`, one stream per execution environment, named as
//! Lambda names them (`YYYY/MM/DD/[$LATEST]<32 hex>`). Step Functions writes the history events
//! of executions whose state machine has a `loggingConfiguration` ([`ExecutionLogging`]) to the
//! configured group, one stream per execution. The API (`api/logs.rs`) reads and writes it too.
//!
//! A [`Logs`] is a shared handle (`Arc<Mutex<..>>`): `stepsim serve` keeps one across every
//! simulation it runs, on whichever pool thread, the way it shares the S3 store. Timestamps are
//! the simulated ones of the writer; stream ids come from the store's own seeded stream, so the
//! world's other random draws are untouched by logging.
//!
//! Size: every event counts its message's UTF-8 bytes plus 26, the figure CloudWatch bills
//! ingestion by. `storedBytes` reports that sum (AWS reports compressed bytes, updated lazily).
//! When the total passes the retention bound, the events ingested first are dropped first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::engine::history::{HistoryEvent, TimestampFormat};
use crate::engine::SimTime;
use crate::rng::SimRng;

/// The default retention bound: 64 MiB of events.
pub const DEFAULT_RETENTION_BYTES: u64 = 64 * 1024 * 1024;

/// The per-event overhead CloudWatch counts on top of the message.
pub const EVENT_OVERHEAD_BYTES: u64 = 26;

/// The most items DescribeLogGroups and DescribeLogStreams return per page (AWS: 50).
pub const MAX_DESCRIBE_LIMIT: usize = 50;

/// The most events GetLogEvents, FilterLogEvents and PutLogEvents handle at once (AWS: 10,000).
pub const MAX_EVENTS_LIMIT: usize = 10_000;

/// Why a Logs operation failed; each variant is the AWS error code of the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogsError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceAlreadyExists(String),
    #[error("{0}")]
    InvalidParameter(String),
}

impl LogsError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            LogsError::ResourceNotFound(_) => "ResourceNotFoundException",
            LogsError::ResourceAlreadyExists(_) => "ResourceAlreadyExistsException",
            LogsError::InvalidParameter(_) => "InvalidParameterException",
        }
    }

    fn no_group() -> Self {
        LogsError::ResourceNotFound("The specified log group does not exist.".into())
    }

    fn no_stream() -> Self {
        LogsError::ResourceNotFound("The specified log stream does not exist.".into())
    }

    fn bad_token() -> Self {
        LogsError::InvalidParameter("The specified nextToken is invalid.".into())
    }
}

/// One stored event. Its key orders events by timestamp, then by ingestion.
#[derive(Debug, Clone)]
struct Event {
    timestamp: i64,
    ingestion: i64,
    seq: u64,
    message: String,
}

impl Event {
    fn key(&self) -> u128 {
        event_key(self.timestamp, self.seq)
    }

    fn size(&self) -> u64 {
        self.message.len() as u64 + EVENT_OVERHEAD_BYTES
    }
}

/// Timestamps are never negative (PutLogEvents refuses them), so the key is monotonic in both.
fn event_key(timestamp: i64, seq: u64) -> u128 {
    (u128::from(timestamp.max(0) as u64) << 64) | u128::from(seq)
}

#[derive(Debug)]
struct Stream {
    creation_time: i64,
    /// Sorted by key; appends in time order (the common case) go to the back.
    events: VecDeque<Event>,
    stored_bytes: u64,
    last_ingestion: Option<i64>,
    uploads: u64,
}

impl Stream {
    fn new(creation_time: i64) -> Self {
        Stream {
            creation_time,
            events: VecDeque::new(),
            stored_bytes: 0,
            last_ingestion: None,
            uploads: 0,
        }
    }

    fn insert(&mut self, event: Event) {
        self.stored_bytes += event.size();
        self.last_ingestion = Some(self.last_ingestion.map_or(event.ingestion, |t| {
            t.max(event.ingestion)
        }));
        let key = event.key();
        if self.events.back().is_none_or(|e| e.key() < key) {
            self.events.push_back(event);
        } else {
            let at = self.events.partition_point(|e| e.key() < key);
            self.events.insert(at, event);
        }
    }

    /// Removes the event ingested as `seq`: its size, if it was still there.
    fn remove(&mut self, seq: u64) -> Option<u64> {
        let at = if self.events.front().is_some_and(|e| e.seq == seq) {
            0
        } else {
            self.events.iter().position(|e| e.seq == seq)?
        };
        let size = self.events.remove(at)?.size();
        self.stored_bytes -= size;
        Some(size)
    }

    fn info(&self, name: &str) -> StreamInfo {
        StreamInfo {
            name: name.to_string(),
            creation_time: self.creation_time,
            first_event: self.events.iter().map(|e| e.timestamp).min(),
            last_event: self.events.iter().map(|e| e.timestamp).max(),
            last_ingestion: self.last_ingestion,
            upload_sequence_token: format!("49{:054}", self.uploads + 1),
            stored_bytes: self.stored_bytes,
        }
    }
}

#[derive(Debug)]
struct Group {
    creation_time: i64,
    streams: BTreeMap<Arc<str>, Stream>,
}

impl Group {
    fn stored_bytes(&self) -> u64 {
        self.streams.values().map(|s| s.stored_bytes).sum()
    }
}

#[derive(Debug)]
struct LogsState {
    groups: BTreeMap<Arc<str>, Group>,
    retention_bytes: u64,
    stored_bytes: u64,
    /// Every stored event in ingestion order (the eviction order); entries of deleted groups
    /// are dropped with the group.
    ingested: VecDeque<(u64, Arc<str>, Arc<str>)>,
    next_seq: u64,
    ids: SimRng,
}

impl LogsState {
    fn group_key(&self, name: &str) -> Option<Arc<str>> {
        self.groups.get_key_value(name).map(|(k, _)| k.clone())
    }

    /// The group, made at `now` if it is missing.
    fn ensure_group(&mut self, name: &str, now: i64) -> Arc<str> {
        if let Some(k) = self.group_key(name) {
            return k;
        }
        let key: Arc<str> = Arc::from(name);
        self.groups.insert(
            key.clone(),
            Group {
                creation_time: now,
                streams: BTreeMap::new(),
            },
        );
        key
    }

    /// The stream, made at `now` (with its group) if it is missing.
    fn ensure_stream(&mut self, group: &str, stream: &str, now: i64) -> (Arc<str>, Arc<str>) {
        let g = self.ensure_group(group, now);
        let streams = &mut self.groups.get_mut(&g).expect("group just ensured").streams;
        let s = match streams.get_key_value(stream) {
            Some((k, _)) => k.clone(),
            None => {
                let k: Arc<str> = Arc::from(stream);
                streams.insert(k.clone(), Stream::new(now));
                k
            }
        };
        (g, s)
    }

    fn append(&mut self, group: &Arc<str>, stream: &Arc<str>, timestamp: i64, message: String) {
        let Some(s) = self
            .groups
            .get_mut(group)
            .and_then(|g| g.streams.get_mut(stream))
        else {
            return;
        };
        self.next_seq += 1;
        let event = Event {
            timestamp,
            ingestion: timestamp,
            seq: self.next_seq,
            message,
        };
        self.stored_bytes += event.size();
        s.insert(event);
        self.ingested
            .push_back((self.next_seq, group.clone(), stream.clone()));
        self.evict();
    }

    /// Drops the events ingested first until the store fits its bound.
    fn evict(&mut self) {
        while self.stored_bytes > self.retention_bytes {
            let Some((seq, group, stream)) = self.ingested.pop_front() else {
                self.stored_bytes = 0;
                return;
            };
            let freed = self
                .groups
                .get_mut(&group)
                .and_then(|g| g.streams.get_mut(&stream))
                .and_then(|s| s.remove(seq));
            if let Some(size) = freed {
                self.stored_bytes -= size;
            }
        }
    }

    /// A fresh hex id of `bytes` random bytes.
    fn hex_id(&mut self, bytes: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = vec![0u8; bytes];
        self.ids.fill_bytes(&mut b);
        b.iter()
            .flat_map(|x| [HEX[usize::from(x >> 4)], HEX[usize::from(x & 0x0f)]])
            .map(char::from)
            .collect()
    }

    fn stream(&self, group: &str, stream: &str) -> Result<&Stream, LogsError> {
        self.groups
            .get(group)
            .ok_or_else(LogsError::no_group)?
            .streams
            .get(stream)
            .ok_or_else(LogsError::no_stream)
    }
}

/// What DescribeLogGroups says of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    /// Milliseconds since the epoch, as every Logs timestamp.
    pub creation_time: i64,
    pub stored_bytes: u64,
}

/// What DescribeLogStreams says of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub creation_time: i64,
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    pub last_ingestion: Option<i64>,
    pub upload_sequence_token: String,
    pub stored_bytes: u64,
}

/// One event as GetLogEvents and FilterLogEvents return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    pub stream: String,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
    /// A unique id (FilterLogEvents' `eventId`).
    pub event_id: String,
}

/// A page of a listing and the token of the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// A page of GetLogEvents and its two tokens (AWS returns both, always; a token equal to the
/// one sent means the end of the stream in that direction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPage {
    pub events: Vec<EventInfo>,
    pub forward_token: String,
    pub backward_token: String,
}

/// DescribeLogStreams' options.
#[derive(Debug, Clone, Default)]
pub struct StreamQuery<'a> {
    pub prefix: Option<&'a str>,
    /// `orderBy: LastEventTime` (default `LogStreamName`).
    pub by_last_event: bool,
    pub descending: bool,
    pub limit: usize,
    pub token: Option<&'a str>,
}

/// GetLogEvents' options. `start` is inclusive, `end` exclusive, as in AWS.
#[derive(Debug, Clone, Default)]
pub struct EventQuery<'a> {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub limit: usize,
    pub start_from_head: bool,
    pub token: Option<&'a str>,
}

/// FilterLogEvents' options.
#[derive(Debug, Clone, Default)]
pub struct FilterQuery<'a> {
    pub streams: Option<Vec<String>>,
    pub prefix: Option<&'a str>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub pattern: &'a str,
    pub limit: usize,
    pub token: Option<&'a str>,
}

/// Takes one page out of `items` (sorted ascending by key): those after `after` in the
/// direction asked, at most `limit`, and the key of the last one when more remain.
fn page_of<K: Ord + Clone, T>(
    mut items: Vec<(K, T)>,
    descending: bool,
    after: Option<K>,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    if descending {
        items.reverse();
    }
    let mut rest = items.into_iter().filter(|(k, _)| match &after {
        None => true,
        Some(a) if descending => k < a,
        Some(a) => k > a,
    });
    let mut out = Vec::new();
    let mut last = None;
    for (k, t) in rest.by_ref().take(limit.max(1)) {
        last = Some(k);
        out.push(t);
    }
    let next = if rest.next().is_some() { last } else { None };
    (out, next)
}

fn in_range(t: i64, start: Option<i64>, end: Option<i64>) -> bool {
    start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e)
}

fn ms(t: SimTime) -> i64 {
    t.timestamp_millis()
}

/// The event-position tokens of GetLogEvents: `f/` or `b/` and a 39-digit key.
fn position_token(direction: char, key: u128) -> String {
    format!("{direction}/{key:039}")
}

fn parse_position(token: &str) -> Result<(char, u128), LogsError> {
    let (dir, digits) = token.split_at_checked(2).ok_or_else(LogsError::bad_token)?;
    let dir = match dir {
        "f/" => 'f',
        "b/" => 'b',
        _ => return Err(LogsError::bad_token()),
    };
    let key = digits.parse::<u128>().map_err(|_| LogsError::bad_token())?;
    Ok((dir, key))
}

/// CloudWatch Logs for one simulated account (a shared handle; see the module doc).
#[derive(Clone)]
pub struct Logs {
    inner: Arc<Mutex<LogsState>>,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state();
        f.debug_struct("Logs")
            .field("groups", &st.groups.len())
            .field("stored_bytes", &st.stored_bytes)
            .field("retention_bytes", &st.retention_bytes)
            .finish()
    }
}

impl Default for Logs {
    fn default() -> Self {
        Logs::new(0, DEFAULT_RETENTION_BYTES)
    }
}

impl Logs {
    /// An empty store whose stream ids derive from `seed`, keeping at most `retention_bytes`.
    pub fn new(seed: u64, retention_bytes: u64) -> Logs {
        Logs {
            inner: Arc::new(Mutex::new(LogsState {
                groups: BTreeMap::new(),
                retention_bytes,
                stored_bytes: 0,
                ingested: VecDeque::new(),
                next_seq: 0,
                ids: SimRng::derived(seed, "logs/stream-ids"),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, LogsState> {
        // Every update is finished before the lock is released, so a panic elsewhere cannot
        // leave the store half-made: keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes stored now, over every group.
    pub fn stored_bytes(&self) -> u64 {
        self.state().stored_bytes
    }

    /// Opens a new stream for a Lambda execution environment that starts at `now`:
    /// `/aws/lambda/<function>` (made if missing) and `YYYY/MM/DD/[<version>]<32 hex>`.
    pub fn open_lambda_stream(&self, function: &str, version: &str, now: SimTime) -> LogTarget {
        let group = format!("/aws/lambda/{function}");
        let mut st = self.state();
        let name = format!("{}/[{version}]{}", now.format("%Y/%m/%d"), st.hex_id(16));
        let (group, stream) = st.ensure_stream(&group, &name, ms(now));
        LogTarget { group, stream }
    }

    /// Appends one line to a stream at simulated time `at` (the group and stream are made
    /// again if they were deleted meanwhile, as Lambda's role would).
    pub fn write(&self, target: &LogTarget, at: SimTime, message: String) {
        let mut st = self.state();
        let (g, s) = st.ensure_stream(&target.group, &target.stream, ms(at));
        st.append(&g, &s, ms(at), message);
    }

    /// CreateLogGroup.
    pub fn create_group(&self, name: &str, now: SimTime) -> Result<(), LogsError> {
        check_group_name(name)?;
        let mut st = self.state();
        if st.groups.contains_key(name) {
            return Err(LogsError::ResourceAlreadyExists(
                "The specified log group already exists".into(),
            ));
        }
        st.ensure_group(name, ms(now));
        Ok(())
    }

    /// DeleteLogGroup: the group, its streams and their events.
    pub fn delete_group(&self, name: &str) -> Result<(), LogsError> {
        let mut st = self.state();
        let group = st.groups.remove(name).ok_or_else(LogsError::no_group)?;
        st.stored_bytes -= group.stored_bytes();
        st.ingested.retain(|(_, g, _)| &**g != name);
        Ok(())
    }

    /// CreateLogStream.
    pub fn create_stream(&self, group: &str, stream: &str, now: SimTime) -> Result<(), LogsError> {
        check_stream_name(stream)?;
        let mut st = self.state();
        let g = st.groups.get(group).ok_or_else(LogsError::no_group)?;
        if g.streams.contains_key(stream) {
            return Err(LogsError::ResourceAlreadyExists(
                "The specified log stream already exists".into(),
            ));
        }
        st.ensure_stream(group, stream, ms(now));
        Ok(())
    }

    /// PutLogEvents: `(timestamp ms, message)` in chronological order, ingested at `now`.
    /// Returns the stream's next sequence token.
    pub fn put_events(
        &self,
        group: &str,
        stream: &str,
        events: Vec<(i64, String)>,
        now: SimTime,
    ) -> Result<String, LogsError> {
        if events.is_empty() || events.len() > MAX_EVENTS_LIMIT {
            return Err(LogsError::InvalidParameter(format!(
                "A batch of log events must hold 1 to {MAX_EVENTS_LIMIT} events"
            )));
        }
        if events.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err(LogsError::InvalidParameter(
                "Log events in a single PutLogEvents request must be in chronological order."
                    .into(),
            ));
        }
        if events.iter().any(|(t, m)| *t < 0 || m.is_empty()) {
            return Err(LogsError::InvalidParameter(
                "Log events need a non-negative timestamp and a non-empty message.".into(),
            ));
        }
        let mut st = self.state();
        st.stream(group, stream)?;
        let (g, s) = st.ensure_stream(group, stream, ms(now));
        for (timestamp, message) in events {
            st.next_seq += 1;
            let seq = st.next_seq;
            let event = Event {
                timestamp,
                ingestion: ms(now),
                seq,
                message,
            };
            st.stored_bytes += event.size();
            if let Some(stream) = st.groups.get_mut(&g).and_then(|x| x.streams.get_mut(&s)) {
                stream.insert(event);
            }
            st.ingested.push_back((seq, g.clone(), s.clone()));
        }
        st.evict();
        let stream = st.stream(group, stream)?;
        let uploads = stream.uploads + 1;
        if let Some(x) = st.groups.get_mut(&g).and_then(|x| x.streams.get_mut(&s)) {
            x.uploads = uploads;
        }
        Ok(format!("49{:054}", uploads + 1))
    }

    /// DescribeLogGroups: by name, those starting with `prefix`.
    pub fn describe_groups(
        &self,
        prefix: Option<&str>,
        limit: usize,
        token: Option<&str>,
    ) -> Result<Page<GroupInfo>, LogsError> {
        let after = token
            .map(|t| t.strip_prefix("G/").ok_or_else(LogsError::bad_token))
            .transpose()?;
        let st = self.state();
        let items: Vec<(&str, GroupInfo)> = st
            .groups
            .iter()
            .filter(|(name, _)| prefix.is_none_or(|p| name.starts_with(p)))
            .map(|(name, g)| {
                let info = GroupInfo {
                    name: name.to_string(),
                    creation_time: g.creation_time,
                    stored_bytes: g.stored_bytes(),
                };
                (&**name, info)
            })
            .collect();
        let (items, next) = page_of(items, false, after, limit);
        Ok(Page {
            items,
            next_token: next.map(|n| format!("G/{n}")),
        })
    }

    /// DescribeLogStreams.
    pub fn describe_streams(
        &self,
        group: &str,
        q: &StreamQuery<'_>,
    ) -> Result<Page<StreamInfo>, LogsError> {
        if q.by_last_event && q.prefix.is_some() {
            return Err(LogsError::InvalidParameter(
                "Cannot order by LastEventTime with a logStreamNamePrefix.".into(),
            ));
        }
        let st = self.state();
        let g = st.groups.get(group).ok_or_else(LogsError::no_group)?;
        let streams = g
            .streams
            .iter()
            .filter(|(name, _)| q.prefix.is_none_or(|p| name.starts_with(p)));
        if q.by_last_event {
            let after = q.token.map(parse_time_token).transpose()?;
            let items: Vec<((i64, String), StreamInfo)> = {
                let mut v: Vec<_> = streams
                    .map(|(name, s)| {
                        let info = s.info(name);
                        ((info.last_event.unwrap_or(0), name.to_string()), info)
                    })
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            };
            let (items, next) = page_of(items, q.descending, after, q.limit);
            Ok(Page {
                items,
                next_token: next.map(|(t, n)| format!("T/{t}/{n}")),
            })
        } else {
            let after = q
                .token
                .map(|t| t.strip_prefix("N/").ok_or_else(LogsError::bad_token))
                .transpose()?;
            let items: Vec<(&str, StreamInfo)> =
                streams.map(|(name, s)| (&**name, s.info(name))).collect();
            let (items, next) = page_of(items, q.descending, after, q.limit);
            Ok(Page {
                items,
                next_token: next.map(|n| format!("N/{n}")),
            })
        }
    }

    /// GetLogEvents: one page of a stream, oldest first, from its head or its tail.
    pub fn get_events(
        &self,
        group: &str,
        stream: &str,
        q: &EventQuery<'_>,
    ) -> Result<EventsPage, LogsError> {
        let position = q.token.map(parse_position).transpose()?;
        let st = self.state();
        let s = st.stream(group, stream)?;
        let keyed: Vec<(u128, &Event)> = s
            .events
            .iter()
            .filter(|e| in_range(e.timestamp, q.start, q.end))
            .map(|e| (e.key(), e))
            .collect();
        let limit = q.limit.max(1);
        let forward = match position {
            Some((dir, _)) => dir == 'f',
            None => q.start_from_head,
        };
        let chosen: Vec<(u128, &Event)> = match position {
            Some(('f', k)) => keyed.into_iter().filter(|(x, _)| *x > k).take(limit).collect(),
            Some((_, k)) => {
                let before: Vec<_> = keyed.into_iter().filter(|(x, _)| *x < k).collect();
                let from = before.len().saturating_sub(limit);
                before[from..].to_vec()
            }
            None if forward => keyed.into_iter().take(limit).collect(),
            None => {
                let from = keyed.len().saturating_sub(limit);
                keyed[from..].to_vec()
            }
        };
        let (forward_token, backward_token) = match (chosen.first(), chosen.last(), position) {
            (Some((first, _)), Some((last, _)), _) => {
                (position_token('f', *last), position_token('b', *first))
            }
            // An empty page: the token sent comes back for its own direction (the end), and
            // the other one points at the same place from the other side.
            (_, _, Some(('f', k))) => (position_token('f', k), position_token('b', k + 1)),
            (_, _, Some((_, k))) => (
                position_token('f', k.saturating_sub(1)),
                position_token('b', k),
            ),
            _ => (position_token('f', 0), position_token('b', 0)),
        };
        let events = chosen
            .into_iter()
            .map(|(key, e)| event_info(stream, key, e))
            .collect();
        Ok(EventsPage {
            events,
            forward_token,
            backward_token,
        })
    }

    /// FilterLogEvents: the events of the group (or of the streams named) that match the
    /// pattern, in time order across streams.
    pub fn filter_events(
        &self,
        group: &str,
        q: &FilterQuery<'_>,
    ) -> Result<Page<EventInfo>, LogsError> {
        if q.streams.is_some() && q.prefix.is_some() {
            return Err(LogsError::InvalidParameter(
                "logStreamNames and logStreamNamePrefix cannot be given together.".into(),
            ));
        }
        let pattern = FilterPattern::parse(q.pattern)?;
        let after = q
            .token
            .map(|t| {
                t.strip_prefix("E/")
                    .and_then(|k| k.parse::<u128>().ok())
                    .ok_or_else(LogsError::bad_token)
            })
            .transpose()?;
        let st = self.state();
        let g = st.groups.get(group).ok_or_else(LogsError::no_group)?;
        let mut items: Vec<(u128, EventInfo)> = Vec::new();
        for (name, s) in &g.streams {
            let wanted = match (&q.streams, q.prefix) {
                (Some(names), _) => names.iter().any(|n| n == &**name),
                (None, Some(p)) => name.starts_with(p),
                (None, None) => true,
            };
            if !wanted {
                continue;
            }
            items.extend(
                s.events
                    .iter()
                    .filter(|e| in_range(e.timestamp, q.start, q.end))
                    .filter(|e| after.is_none_or(|a| e.key() > a))
                    .filter(|e| pattern.matches(&e.message))
                    .map(|e| (e.key(), event_info(name, e.key(), e))),
            );
        }
        items.sort_by_key(|(k, _)| *k);
        let (items, next) = page_of(items, false, None, q.limit);
        Ok(Page {
            items,
            next_token: next.map(|k| format!("E/{k}")),
        })
    }

    /// Writes an execution's history to its state machine's log group as Step Functions does:
    /// one stream per execution (`states/<machine>/<YYYY-MM-DD-HH-MM>/<8 hex>`, made when the
    /// first event passes the level), one event per history event.
    pub fn record_execution(
        &self,
        logging: &ExecutionLogging,
        machine: &str,
        execution_arn: &str,
        history: &[HistoryEvent],
    ) {
        let mut st = self.state();
        let mut target: Option<(Arc<str>, Arc<str>)> = None;
        for event in history {
            if !logging.level.logs(event.event_type) {
                continue;
            }
            let at = ms(event.timestamp);
            let (g, s) = match &target {
                Some(t) => t.clone(),
                None => {
                    let name = format!(
                        "states/{machine}/{}/{}",
                        event.timestamp.format("%Y-%m-%d-%H-%M"),
                        st.hex_id(4)
                    );
                    let t = st.ensure_stream(&logging.group, &name, at);
                    target = Some(t.clone());
                    t
                }
            };
            let message = execution_log_message(event, execution_arn, logging.include_data);
            st.append(&g, &s, at, message);
        }
    }
}

fn event_info(stream: &str, key: u128, e: &Event) -> EventInfo {
    EventInfo {
        stream: stream.to_string(),
        timestamp: e.timestamp,
        ingestion_time: e.ingestion,
        message: e.message.clone(),
        event_id: format!("{key:039}"),
    }
}

fn parse_time_token(token: &str) -> Result<(i64, String), LogsError> {
    let rest = token.strip_prefix("T/").ok_or_else(LogsError::bad_token)?;
    let (t, name) = rest.split_once('/').ok_or_else(LogsError::bad_token)?;
    let t = t.parse::<i64>().map_err(|_| LogsError::bad_token())?;
    Ok((t, name.to_string()))
}

fn check_group_name(name: &str) -> Result<(), LogsError> {
    let ok = (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )))
    }
}

fn check_stream_name(name: &str) -> Result<(), LogsError> {
    let ok = (1..=512).contains(&name.len()) && !name.contains([':', '*']);
    if ok {
        Ok(())
    } else {
        Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*"
        )))
    }
}

/// A handle on one Lambda environment's stream, kept by the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    group: Arc<str>,
    stream: Arc<str>,
}

impl LogTarget {
    /// The log group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }
}

/// A filter pattern of terms and quoted phrases: every term or phrase must appear in the
/// message (case-sensitive), and none of those written with a leading `-`. The JSON (`{...}`)
/// and space-delimited (`[...]`) pattern languages and `?` alternatives are refused rather than
/// matched wrongly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterPattern {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl FilterPattern {
    /// Reads a pattern; blank matches everything.
    pub fn parse(text: &str) -> Result<FilterPattern, LogsError> {
        let unsupported = |what: &str| {
            LogsError::InvalidParameter(format!(
                "Invalid filter pattern '{text}': stepsim matches terms and quoted phrases, not \
                 {what}"
            ))
        };
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            return Err(unsupported("JSON patterns"));
        }
        if trimmed.starts_with('[') {
            return Err(unsupported("space-delimited patterns"));
        }
        let mut pattern = FilterPattern::default();
        let mut chars = trimmed.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            let negated = c == '-';
            if negated {
                chars.next();
            }
            if chars.peek() == Some(&'?') {
                return Err(unsupported("'?' alternatives"));
            }
            let mut term = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => term.extend(chars.next()),
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => term.push(c),
                    }
                }
                if !closed {
                    return Err(LogsError::InvalidParameter(format!(
                        "Invalid filter pattern '{text}': a quoted phrase is not closed"
                    )));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    term.push(c);
                    chars.next();
                }
            }
            if term.is_empty() {
                continue;
            }
            if negated {
                pattern.exclude.push(term);
            } else {
                pattern.include.push(term);
            }
        }
        Ok(pattern)
    }

    /// Whether a message matches.
    pub fn matches(&self, message: &str) -> bool {
        self.include.iter().all(|t| message.contains(t.as_str()))
            && !self.exclude.iter().any(|t| message.contains(t.as_str()))
    }
}

/// Which history events a state machine's log level keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Every event.
    All,
    /// Failure events: the `...Failed`, `...TimedOut` and `...Aborted` ones, and
    /// `FailStateEntered`.
    Error,
    /// Only the execution's own failure: `ExecutionFailed`, `ExecutionTimedOut`,
    /// `ExecutionAborted`.
    Fatal,
}

impl LogLevel {
    /// Whether an event of this type is logged at this level.
    pub fn logs(self, event_type: &str) -> bool {
        match self {
            LogLevel::All => true,
            LogLevel::Error => {
                event_type == "FailStateEntered"
                    || ["Failed", "TimedOut", "Aborted"]
                        .iter()
                        .any(|s| event_type.ends_with(s))
            }
            LogLevel::Fatal => matches!(
                event_type,
                "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
            ),
        }
    }
}

/// A state machine's `loggingConfiguration`, when it sends events somewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionLogging {
    pub level: LogLevel,
    pub include_data: bool,
    /// The log group's name, from the destination's ARN.
    pub group: String,
}

impl ExecutionLogging {
    /// Reads a `loggingConfiguration` (as CreateStateMachine keeps it). `None` when the level
    /// is OFF or missing, or no destination names a log group.
    pub fn from_config(config: &Value) -> Option<ExecutionLogging> {
        let level = match config.get("level").and_then(Value::as_str)? {
            "ALL" => LogLevel::All,
            "ERROR" => LogLevel::Error,
            "FATAL" => LogLevel::Fatal,
            _ => return None,
        };
        let include_data = config
            .get("includeExecutionData")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let group = config
            .get("destinations")?
            .as_array()?
            .iter()
            .filter_map(|d| d.pointer("/cloudWatchLogsLogGroup/logGroupArn")?.as_str())
            .find_map(group_of_arn)?;
        Some(ExecutionLogging {
            level,
            include_data,
            group,
        })
    }
}

/// The group name in `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`.
pub fn group_of_arn(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| name.to_string())
}

/// Members of event details that are execution data, dropped unless `includeExecutionData`.
const EXECUTION_DATA: &[&str] = &[
    "input",
    "inputDetails",
    "output",
    "outputDetails",
    "parameters",
];

/// The JSON Step Functions writes for one history event.
fn execution_log_message(event: &HistoryEvent, execution_arn: &str, include_data: bool) -> String {
    let rendered = event.to_json(TimestampFormat::EpochSeconds);
    let mut details = rendered
        .as_object()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.ends_with("EventDetails"))
                .and_then(|(_, v)| v.as_object().cloned())
        })
        .unwrap_or_default();
    if !include_data {
        details.retain(|k, _| !EXECUTION_DATA.contains(&k.as_str()));
    }
    let mut m = Map::new();
    m.insert("id".into(), event.id.to_string().into());
    m.insert("type".into(), event.event_type.into());
    m.insert("details".into(), Value::Object(details));
    m.insert(
        "previous_event_id".into(),
        event.previous_event_id.to_string().into(),
    );
    m.insert(
        "event_timestamp".into(),
        ms(event.timestamp).to_string().into(),
    );
    m.insert("execution_arn".into(), execution_arn.into());
    Value::Object(m).to_string()
}
