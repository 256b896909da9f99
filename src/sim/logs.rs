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
        self.last_ingestion = Some(
            self.last_ingestion
                .map_or(event.ingestion, |t| t.max(event.ingestion)),
        );
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
            // Events are sorted by timestamp first.
            first_event: self.events.front().map(|e| e.timestamp),
            last_event: self.events.back().map(|e| e.timestamp),
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
            Some(('f', k)) => keyed
                .into_iter()
                .filter(|(x, _)| *x > k)
                .take(limit)
                .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::default_origin;
    use crate::engine::history::Details;
    use serde_json::json;

    fn at(ms_after: i64) -> SimTime {
        default_origin() + chrono::Duration::milliseconds(ms_after)
    }

    fn messages(page: &EventsPage) -> Vec<&str> {
        page.events.iter().map(|e| e.message.as_str()).collect()
    }

    /// A group `g` with stream `s` holding `n` events one second apart: `e0`, `e1`, ...
    fn stream_of(n: usize) -> Logs {
        let logs = Logs::default();
        logs.create_group("g", at(0)).unwrap();
        logs.create_stream("g", "s", at(0)).unwrap();
        let events = (0..n)
            .map(|i| (ms(at(1000 * i as i64)), format!("e{i}")))
            .collect();
        logs.put_events("g", "s", events, at(0)).unwrap();
        logs
    }

    #[test]
    fn lambda_streams_are_named_as_lambda_names_them() {
        let logs = Logs::default();
        let t = logs.open_lambda_stream("inference", "$LATEST", at(0));
        assert_eq!(t.group(), "/aws/lambda/inference");
        let (date, rest) = t.stream().split_at(11);
        assert_eq!(date, default_origin().format("%Y/%m/%d/").to_string());
        let hex = rest.strip_prefix("[$LATEST]").expect("version in brackets");
        assert_eq!(hex.len(), 32);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // Each environment gets its own stream; the same seed gives the same names.
        let u = logs.open_lambda_stream("inference", "$LATEST", at(0));
        assert_ne!(t, u);
        let again = Logs::default().open_lambda_stream("inference", "$LATEST", at(0));
        assert_eq!(t, again);
    }

    #[test]
    fn stream_fields_follow_the_events() {
        let logs = Logs::default();
        let t = logs.open_lambda_stream("f", "$LATEST", at(5));
        logs.write(&t, at(10), "START".into());
        logs.write(&t, at(30), "REPORT".into());
        let page = logs
            .describe_streams(
                "/aws/lambda/f",
                &StreamQuery {
                    limit: 50,
                    ..Default::default()
                },
            )
            .unwrap();
        let s = &page.items[0];
        assert_eq!(s.creation_time, ms(at(5)));
        assert_eq!(s.first_event, Some(ms(at(10))));
        assert_eq!(s.last_event, Some(ms(at(30))));
        assert_eq!(s.last_ingestion, Some(ms(at(30))));
        assert_eq!(s.stored_bytes, 5 + 6 + 2 * EVENT_OVERHEAD_BYTES);
        assert_eq!(logs.stored_bytes(), s.stored_bytes);
    }

    #[test]
    fn streams_order_by_last_event_time_and_page() {
        let logs = Logs::default();
        logs.create_group("g", at(0)).unwrap();
        for (name, t) in [("a", 300), ("b", 100), ("c", 200)] {
            logs.create_stream("g", name, at(0)).unwrap();
            logs.put_events("g", name, vec![(ms(at(t)), "x".into())], at(t))
                .unwrap();
        }
        let q = |descending, token| StreamQuery {
            by_last_event: true,
            descending,
            limit: 2,
            token,
            ..Default::default()
        };
        let names =
            |p: &Page<StreamInfo>| p.items.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let first = logs.describe_streams("g", &q(true, None)).unwrap();
        assert_eq!(names(&first), ["a", "c"]);
        let token = first.next_token.clone().expect("a second page");
        let second = logs.describe_streams("g", &q(true, Some(&token))).unwrap();
        assert_eq!(names(&second), ["b"]);
        assert_eq!(second.next_token, None);
        let up = logs.describe_streams("g", &q(false, None)).unwrap();
        assert_eq!(names(&up), ["b", "c"]);
        // By name, with a prefix; LastEventTime with a prefix is refused as AWS refuses it.
        let by_name = logs
            .describe_streams(
                "g",
                &StreamQuery {
                    descending: true,
                    limit: 50,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(names(&by_name), ["c", "b", "a"]);
        let refused = logs.describe_streams(
            "g",
            &StreamQuery {
                by_last_event: true,
                prefix: Some("a"),
                limit: 50,
                ..Default::default()
            },
        );
        assert!(matches!(refused, Err(LogsError::InvalidParameter(_))));
        let bad = logs.describe_streams("g", &q(true, Some("garbage")));
        assert!(matches!(bad, Err(LogsError::InvalidParameter(_))));
    }

    #[test]
    fn groups_page_by_name_with_a_prefix() {
        let logs = Logs::default();
        for g in ["/aws/lambda/b", "/aws/lambda/a", "/other", "/aws/lambda/c"] {
            logs.create_group(g, at(0)).unwrap();
        }
        let first = logs.describe_groups(Some("/aws/lambda/"), 2, None).unwrap();
        let names: Vec<_> = first.items.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["/aws/lambda/a", "/aws/lambda/b"]);
        let rest = logs
            .describe_groups(Some("/aws/lambda/"), 2, first.next_token.as_deref())
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.next_token, None);
    }

    #[test]
    fn get_events_pages_from_the_tail_and_from_the_head() {
        let logs = stream_of(5);
        let q = |head, token, limit| EventQuery {
            limit,
            start_from_head: head,
            token,
            ..Default::default()
        };
        let tail = logs.get_events("g", "s", &q(false, None, 2)).unwrap();
        assert_eq!(messages(&tail), ["e3", "e4"]);
        let back = logs
            .get_events("g", "s", &q(false, Some(&tail.backward_token), 2))
            .unwrap();
        assert_eq!(messages(&back), ["e1", "e2"]);
        let head = logs.get_events("g", "s", &q(true, None, 3)).unwrap();
        assert_eq!(messages(&head), ["e0", "e1", "e2"]);
        let next = logs
            .get_events("g", "s", &q(true, Some(&head.forward_token), 3))
            .unwrap();
        assert_eq!(messages(&next), ["e3", "e4"]);
        // At the end, the forward token comes back unchanged.
        let end = logs
            .get_events("g", "s", &q(true, Some(&next.forward_token), 3))
            .unwrap();
        assert!(end.events.is_empty());
        assert_eq!(end.forward_token, next.forward_token);
        // A later event shows up behind that token.
        logs.put_events("g", "s", vec![(ms(at(9000)), "late".into())], at(9000))
            .unwrap();
        let late = logs
            .get_events("g", "s", &q(true, Some(&end.forward_token), 3))
            .unwrap();
        assert_eq!(messages(&late), ["late"]);
        // Time range: start inclusive, end exclusive.
        let range = logs
            .get_events(
                "g",
                "s",
                &EventQuery {
                    start: Some(ms(at(1000))),
                    end: Some(ms(at(3000))),
                    limit: 100,
                    start_from_head: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(messages(&range), ["e1", "e2"]);
    }

    #[test]
    fn retention_drops_the_oldest_events_first() {
        let per_event = 2 + EVENT_OVERHEAD_BYTES;
        let logs = Logs::new(0, 3 * per_event);
        logs.create_group("g", at(0)).unwrap();
        logs.create_stream("g", "s", at(0)).unwrap();
        for i in 0..5 {
            logs.put_events("g", "s", vec![(ms(at(i)), format!("e{i}"))], at(i))
                .unwrap();
        }
        assert_eq!(logs.stored_bytes(), 3 * per_event);
        let all = logs
            .get_events(
                "g",
                "s",
                &EventQuery {
                    limit: 100,
                    start_from_head: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(messages(&all), ["e2", "e3", "e4"]);
        logs.delete_group("g").unwrap();
        assert_eq!(logs.stored_bytes(), 0);
        assert!(matches!(
            logs.delete_group("g"),
            Err(LogsError::ResourceNotFound(_))
        ));
    }

    #[test]
    fn filter_patterns_match_terms_and_phrases() {
        let p = FilterPattern::parse(r#"ERROR "disk full" -retry"#).unwrap();
        assert!(p.matches("ERROR: the disk full at 3am"));
        assert!(!p.matches("ERROR: the disk is full"));
        assert!(!p.matches("ERROR disk full, retry"));
        assert!(!p.matches("error disk full"), "terms are case-sensitive");
        assert!(FilterPattern::parse("").unwrap().matches("anything"));
        for bad in [r#""open"#, "{ $.a = 1 }", "[ip, user]", "?ERROR ?WARN"] {
            assert!(
                matches!(
                    FilterPattern::parse(bad),
                    Err(LogsError::InvalidParameter(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn filter_events_across_streams_in_time_order_with_paging() {
        let logs = Logs::default();
        logs.create_group("g", at(0)).unwrap();
        logs.create_stream("g", "a", at(0)).unwrap();
        logs.create_stream("g", "b", at(0)).unwrap();
        logs.put_events(
            "g",
            "a",
            vec![(1, "REPORT a1".into()), (4, "x".into())],
            at(5),
        )
        .unwrap();
        logs.put_events(
            "g",
            "b",
            vec![(2, "REPORT b2".into()), (3, "REPORT b3".into())],
            at(5),
        )
        .unwrap();
        let q = |token| FilterQuery {
            pattern: "REPORT",
            limit: 2,
            token,
            ..Default::default()
        };
        let first = logs.filter_events("g", &q(None)).unwrap();
        let got: Vec<_> = first.items.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(got, ["REPORT a1", "REPORT b2"]);
        let second = logs
            .filter_events("g", &q(first.next_token.as_deref()))
            .unwrap();
        assert_eq!(second.items[0].message, "REPORT b3");
        assert_eq!(second.items[0].stream, "b");
        assert_eq!(second.next_token, None);
        let only_a = logs
            .filter_events(
                "g",
                &FilterQuery {
                    streams: Some(vec!["a".into()]),
                    limit: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(only_a.items.len(), 2);
    }

    #[test]
    fn api_errors_are_aws_errors() {
        let logs = Logs::default();
        assert!(matches!(
            logs.create_stream("nope", "s", at(0)),
            Err(LogsError::ResourceNotFound(_))
        ));
        logs.create_group("g", at(0)).unwrap();
        assert!(matches!(
            logs.create_group("g", at(0)),
            Err(LogsError::ResourceAlreadyExists(_))
        ));
        assert!(matches!(
            logs.create_group("bad name!", at(0)),
            Err(LogsError::InvalidParameter(_))
        ));
        assert!(matches!(
            logs.put_events("g", "missing", vec![(1, "x".into())], at(0)),
            Err(LogsError::ResourceNotFound(_))
        ));
        logs.create_stream("g", "s", at(0)).unwrap();
        assert!(matches!(
            logs.put_events("g", "s", vec![(2, "x".into()), (1, "y".into())], at(0)),
            Err(LogsError::InvalidParameter(_))
        ));
        assert!(matches!(
            logs.get_events(
                "g",
                "s",
                &EventQuery {
                    token: Some("f/zz"),
                    ..Default::default()
                }
            ),
            Err(LogsError::InvalidParameter(_))
        ));
    }

    fn history() -> Vec<HistoryEvent> {
        let event = |id, event_type, details| HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: at(id as i64 * 10),
            event_type,
            details,
        };
        vec![
            event(
                1,
                "ExecutionStarted",
                Details::ExecutionStarted {
                    input: json!({"secret": 1}),
                    role_arn: Arc::from("arn:aws:iam::123456789012:role/r"),
                },
            ),
            event(2, "TaskFailed", Details::None),
            event(3, "ExecutionFailed", Details::None),
        ]
    }

    fn logged(logging: &ExecutionLogging) -> Vec<Value> {
        let logs = Logs::default();
        logs.record_execution(logging, "m", "arn:exec", &history());
        let Ok(page) = logs.filter_events(
            &logging.group,
            &FilterQuery {
                limit: 100,
                ..Default::default()
            },
        ) else {
            return Vec::new();
        };
        page.items
            .iter()
            .map(|e| serde_json::from_str(&e.message).unwrap())
            .collect()
    }

    #[test]
    fn execution_logging_follows_the_level_and_the_data_flag() {
        let config = |level: &str, data: bool| {
            ExecutionLogging::from_config(&json!({
                "level": level,
                "includeExecutionData": data,
                "destinations": [{"cloudWatchLogsLogGroup": {
                    "logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/m:*"
                }}]
            }))
        };
        assert_eq!(config("OFF", true), None);
        let all = config("ALL", true).unwrap();
        assert_eq!(all.group, "/aws/vendedlogs/states/m");
        let events = logged(&all);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["id"], "1");
        assert_eq!(events[0]["type"], "ExecutionStarted");
        assert_eq!(events[0]["previous_event_id"], "0");
        assert_eq!(events[0]["execution_arn"], "arn:exec");
        assert_eq!(events[0]["event_timestamp"], ms(at(10)).to_string());
        assert_eq!(events[0]["details"]["input"], r#"{"secret":1}"#);
        let without = logged(&config("ALL", false).unwrap());
        assert!(without[0]["details"].get("input").is_none());
        assert!(without[0]["details"].get("roleArn").is_some());
        let errors = logged(&config("ERROR", false).unwrap());
        let types: Vec<_> = errors.iter().map(|e| e["type"].clone()).collect();
        assert_eq!(types, [json!("TaskFailed"), json!("ExecutionFailed")]);
        let fatal = logged(&config("FATAL", false).unwrap());
        assert_eq!(fatal.len(), 1);
        assert_eq!(fatal[0]["type"], "ExecutionFailed");
    }
}
