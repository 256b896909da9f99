//! FMI (the FaaS Message Interface): collective operations between the ranks of one fan-out,
//! on virtual time.
//!
//! Function code reaches it through
//! [`Invocation::fmi_communicator`](crate::sim::handler::Invocation::fmi_communicator): every rank of a Map run
//! joins a [`Communicator`] and then calls the same sequence of collectives ([`barrier`],
//! [`bcast`], [`reduce`], [`allreduce`], [`gather`]). A collective completes when the last rank
//! arrives; every rank then resumes at `last arrival + T`, where `T` is the channel model's time
//! for that collective. The wait and `T` are spent on the world's clock inside the invocation,
//! so they are billed as Lambda duration, exactly as a real rank blocked in FMI is.
//!
//! **Who meets whom.** A communicator is identified by the *Map run* the call comes from and the
//! communicator name (FMI's `comm_name`). The Map run is the caller's execution ARN; for a
//! Distributed Map child (`...:MACHINE/LABEL:NAME-<uuid>`) the per-child uuid is dropped, so the
//! children of one Map run meet while those of other runs, other executions of a sweep, and
//! other worlds (each world has its own [`FmiHub`]; worlds live on different threads) never mix.
//! The rendezvous endpoint, world size and channel must agree between ranks: a rank that brings
//! a different one fails the communicator at once with a message naming both values (on AWS
//! such ranks would wait at different rendezvous servers until their timeouts; failing fast
//! with the reason is kinder and changes no successful run).
//!
//! **Missing peers.** A rank waits for its peers until its Lambda deadline, then fails with
//! [`FmiError::Timeout`], which names the collective and the ranks that never arrived. The wait
//! ends at the same instant as the function's timeout, so the whole timeout is billed. So a Map
//! whose MaxConcurrency is below the world size, a wrong world size, or a crashed rank ends in
//! a clear error after the timeout, never in a hang.
//!
//! **Channel model.** CALIBRATION.md, "FMI (FaaS Message Interface) channel model" (from
//! spcl/FMI): one exchange between `p` producers and `c` consumers of `n` bytes takes
//! `log2(p+c) * overhead + transfer`, with
//!
//! | channel | overhead | transfer of `n` bytes |
//! |---|---|---|
//! | Direct (TCP hole punching via the rendezvous server) | 0.34 ms | `p·c·n / 400 MB/s` |
//! | Redis | 5.2 ms | `p·c·n / min(p·c·100 MB/s, 400 MB/s)` |
//! | S3 | 40.4 ms + 50 ms polling (half of the 100 ms poll timeout) | `p·c·n / (p·c·50 MB/s)` |
//!
//! Collectives on the client-server channels (S3, Redis): `bcast = lat(1, P-1)`,
//! `barrier = lat(P, 1, 1 B) + lat(1, P, 1 B)`, `reduce = gather = lat(P-1, 1)`,
//! `allreduce = reduce + bcast`. On the peer-to-peer channel (Direct):
//! `bcast = reduce = ceil(log2 P) · lat(1, 1, n)`, `allreduce = 2 · floor(log2 P) · lat(1, 1, n)`
//! (recursive doubling); `barrier` is an allreduce of one byte, as FMI implements it. The
//! Direct `gather` is not in CALIBRATION.md: it is modelled as FMI's binomial tree, whose round
//! `k` moves `2^k · n` bytes over one pair (derived, not measured). MB is read as 10⁶ bytes.
//! `n` is the largest contribution of any rank. Connection setup with the rendezvous server is
//! not modelled (no published figure).
//!
//! [`barrier`]: Communicator::barrier
//! [`bcast`]: Communicator::bcast
//! [`reduce`]: Communicator::reduce
//! [`allreduce`]: Communicator::allreduce
//! [`gather`]: Communicator::gather

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::engine::{Clock, SimTime};
use crate::sim::dist::seconds;

/// The transport a communicator uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FmiChannel {
    /// Direct TCP between functions, paired through the rendezvous server (peer-to-peer).
    #[default]
    Direct,
    /// A Redis server as a mailbox (client-server).
    Redis,
    /// An S3 bucket as a mailbox, polled (client-server).
    S3,
}

impl FmiChannel {
    /// Parses `direct`, `redis` or `s3` (any case).
    pub fn parse(s: &str) -> Option<FmiChannel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct" => Some(FmiChannel::Direct),
            "redis" => Some(FmiChannel::Redis),
            "s3" => Some(FmiChannel::S3),
            _ => None,
        }
    }

    /// The lowercase name (`direct`, `redis`, `s3`).
    pub fn as_str(self) -> &'static str {
        match self {
            FmiChannel::Direct => "direct",
            FmiChannel::Redis => "redis",
            FmiChannel::S3 => "s3",
        }
    }

    /// The channel's latency model (CALIBRATION.md, "FMI channel model").
    pub fn model(self) -> ChannelModel {
        match self {
            // Row "Direct": 0.34 ms per operation, 400 MB/s.
            FmiChannel::Direct => ChannelModel {
                overhead_s: 0.34e-3,
                polling_s: 0.0,
                pair_bandwidth: 400e6,
                aggregate_bandwidth: Some(400e6),
                peer_to_peer: true,
            },
            // Row "Redis": 5.2 ms, 100 MB/s per pair, 400 MB/s aggregate.
            FmiChannel::Redis => ChannelModel {
                overhead_s: 5.2e-3,
                polling_s: 0.0,
                pair_bandwidth: 100e6,
                aggregate_bandwidth: Some(400e6),
                peer_to_peer: false,
            },
            // Row "S3": 40.4 ms plus polling (half of a 100 ms timeout), 50 MB/s per pair.
            FmiChannel::S3 => ChannelModel {
                overhead_s: 40.4e-3,
                polling_s: 50e-3,
                pair_bandwidth: 50e6,
                aggregate_bandwidth: None,
                peer_to_peer: false,
            },
        }
    }
}

impl fmt::Display for FmiChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latency model of one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelModel {
    /// Fixed cost per exchange step, in seconds.
    pub overhead_s: f64,
    /// Expected polling wait added to each step (S3), in seconds.
    pub polling_s: f64,
    /// Bytes per second between one producer and one consumer.
    pub pair_bandwidth: f64,
    /// Cap on the bytes per second of all pairs together (`None`: no cap).
    pub aggregate_bandwidth: Option<f64>,
    /// Whether collectives run peer to peer (trees) rather than through a server.
    pub peer_to_peer: bool,
}

impl ChannelModel {
    /// Seconds for one exchange of `bytes` from `producers` to `consumers`:
    /// `log2(p + c) · (overhead + polling) + p·c·bytes / aggregate bandwidth`.
    pub fn latency(&self, producers: u32, consumers: u32, bytes: u64) -> f64 {
        let p = f64::from(producers);
        let c = f64::from(consumers);
        let pairs = p * c;
        let steps = if p + c > 1.0 { (p + c).log2() } else { 0.0 };
        let aggregate = if self.peer_to_peer {
            // Direct: one link per function, whatever the number of pairs.
            self.aggregate_bandwidth.unwrap_or(self.pair_bandwidth)
        } else {
            let all = pairs * self.pair_bandwidth;
            match self.aggregate_bandwidth {
                Some(cap) => all.min(cap),
                None => all,
            }
        };
        let transfer = if pairs > 0.0 && aggregate > 0.0 {
            pairs * bytes as f64 / aggregate
        } else {
            0.0
        };
        steps * (self.overhead_s + self.polling_s) + transfer
    }

    /// Seconds for one collective among `peers` ranks with contributions of `bytes` each.
    pub fn collective_seconds(&self, op: Collective, peers: u32, bytes: u64) -> f64 {
        let p = peers.max(1);
        if self.peer_to_peer {
            let ceil_log = f64::from(ceil_log2(p));
            let floor_log = f64::from(floor_log2(p));
            let pair = |n: u64| self.latency(1, 1, n);
            match op {
                Collective::Bcast | Collective::Reduce => ceil_log * pair(bytes),
                Collective::Allreduce => 2.0 * floor_log * pair(bytes),
                Collective::Barrier => 2.0 * floor_log * pair(1),
                Collective::Gather => {
                    // Binomial tree: round k forwards the 2^k contributions gathered so far.
                    (0..ceil_log2(p))
                        .map(|k| pair(bytes.saturating_mul(1u64 << k.min(63))))
                        .sum()
                }
            }
        } else {
            match op {
                Collective::Barrier => self.latency(p, 1, 1) + self.latency(1, p, 1),
                Collective::Bcast => self.latency(1, p - 1, bytes),
                Collective::Reduce | Collective::Gather => self.latency(p - 1, 1, bytes),
                Collective::Allreduce => {
                    self.latency(p - 1, 1, bytes) + self.latency(1, p - 1, bytes)
                }
            }
        }
    }
}

fn floor_log2(p: u32) -> u32 {
    31 - p.max(1).leading_zeros()
}

fn ceil_log2(p: u32) -> u32 {
    let f = floor_log2(p);
    if p.max(1).is_power_of_two() {
        f
    } else {
        f + 1
    }
}

/// The collectives a communicator offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Collective {
    Barrier,
    Bcast,
    Reduce,
    Allreduce,
    Gather,
}

impl Collective {
    /// The operation's name, as in FMI's API.
    pub fn as_str(self) -> &'static str {
        match self {
            Collective::Barrier => "barrier",
            Collective::Bcast => "bcast",
            Collective::Reduce => "reduce",
            Collective::Allreduce => "allreduce",
            Collective::Gather => "gather",
        }
    }
}

/// How `reduce` and `allreduce` combine the ranks' vectors, element by element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReduceOp {
    Sum,
    Min,
    Max,
}

impl ReduceOp {
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            ReduceOp::Sum => a + b,
            ReduceOp::Min => a.min(b),
            ReduceOp::Max => a.max(b),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
        }
    }
}

/// What a rank brings to a communicator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FmiSpec {
    /// The rendezvous server (`host:port`); every rank must name the same one.
    pub endpoint: String,
    /// FMI's communicator name; ranks with different names never meet.
    pub comm_name: String,
    /// How many ranks take part (≥ 1).
    pub world_size: u32,
    /// This rank (0 ≤ rank < world_size).
    pub rank: u32,
    /// The transport; every rank must use the same one.
    pub channel: FmiChannel,
}

/// Why an FMI operation failed. Each message says what to check.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FmiError {
    /// The spec itself is unusable.
    #[error("{0}")]
    InvalidSpec(String),
    /// Ranks disagree on the endpoint, world size, channel or the collective sequence; the
    /// communicator is failed for every rank.
    #[error("{0}")]
    Mismatch(String),
    /// The communicator was failed by another rank while this one waited.
    #[error("communicator '{comm_name}' failed while rank {rank} waited in {op}: {reason}")]
    Aborted {
        comm_name: String,
        rank: u32,
        op: &'static str,
        reason: String,
    },
    /// Peers did not arrive before the Lambda deadline.
    #[error("{0}")]
    Timeout(Box<FmiTimeout>),
}

/// A collective whose peers did not all arrive before the rank's deadline.
#[derive(Clone, Debug, PartialEq)]
pub struct FmiTimeout {
    pub op: &'static str,
    /// The collective's number in the communicator's sequence (0 is the first).
    pub seq: u64,
    pub comm_name: String,
    pub endpoint: String,
    pub rank: u32,
    pub world_size: u32,
    /// How long the rank waited, in seconds.
    pub waited_s: f64,
    /// Ranks that had arrived at this collective.
    pub arrived: Vec<u32>,
    /// Ranks that never arrived.
    pub missing: Vec<u32>,
}

impl fmt::Display for FmiTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FMI {} #{} on communicator '{}' (rendezvous {}) timed out after {:.3} s, at the \
             function's timeout: rank {} waited for rank(s) {} of world_size {} (arrived: {}). \
             Peers that never arrive come from a Map MaxConcurrency below world_size, a \
             world_size larger than the ranks started, or a rank that crashed.",
            self.op,
            self.seq,
            self.comm_name,
            self.endpoint,
            self.waited_s,
            self.rank,
            join_ranks(self.missing.iter()),
            self.world_size,
            join_ranks(self.arrived.iter()),
        )
    }
}

impl FmiError {
    /// The `errorType` a handler that lets this error escape reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            FmiError::Timeout(_) => "FmiTimeoutError",
            _ => "FmiError",
        }
    }
}

/// One collective whose ranks have not all arrived.
struct PendingOp {
    op: Collective,
    root: u32,
    reduce: Option<ReduceOp>,
    /// Contributions by rank.
    arrivals: BTreeMap<u32, Vec<f64>>,
}

/// A completed collective, kept until every rank has picked it up.
struct DoneOp {
    done_at: SimTime,
    /// The channel model's time for this collective.
    channel_time: Duration,
    /// Contributions in rank order.
    values: Rc<Vec<Vec<f64>>>,
    pickups_left: u32,
}

struct Group {
    endpoint: String,
    world_size: u32,
    channel: FmiChannel,
    /// Ranks whose communicator is alive.
    members: BTreeSet<u32>,
    failed: Option<String>,
    /// Collectives `0..completed` are done.
    completed: u64,
    pending: BTreeMap<u64, PendingOp>,
    done: BTreeMap<u64, DoneOp>,
    notify: Rc<Notify>,
}

impl Group {
    fn fail(&mut self, reason: String) {
        if self.failed.is_none() {
            self.failed = Some(reason);
        }
        self.notify.notify_waiters();
    }
}

/// Identifies a communicator: the Map run and the communicator name.
type GroupKey = (String, String);

/// The communicators of one world. Cheap to clone; shared by every invocation of the world.
#[derive(Clone, Default)]
pub struct FmiHub {
    groups: Rc<RefCell<BTreeMap<GroupKey, Rc<RefCell<Group>>>>>,
}

impl fmt::Debug for FmiHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FmiHub")
            .field("open", &self.open_communicators())
            .finish()
    }
}

impl FmiHub {
    /// Communicators that still have a live rank.
    pub fn open_communicators(&self) -> usize {
        self.groups.borrow().len()
    }

    /// Adds rank `spec.rank` to the communicator of `execution_arn`'s Map run.
    pub fn join(
        &self,
        clock: Rc<dyn Clock>,
        execution_arn: &str,
        deadline: SimTime,
        spec: FmiSpec,
    ) -> Result<Communicator, FmiError> {
        if spec.world_size == 0 {
            return Err(FmiError::InvalidSpec(
                "FMI world_size must be at least 1, got 0".to_string(),
            ));
        }
        if spec.rank >= spec.world_size {
            return Err(FmiError::InvalidSpec(format!(
                "FMI rank {} is outside 0..{} (world_size {})",
                spec.rank,
                spec.world_size.saturating_sub(1),
                spec.world_size
            )));
        }
        if spec.endpoint.trim().is_empty() {
            return Err(FmiError::InvalidSpec(
                "FMI needs a rendezvous endpoint (host:port); got an empty one".to_string(),
            ));
        }
        let key: GroupKey = (
            map_run_key(execution_arn).to_string(),
            spec.comm_name.clone(),
        );
        let group = self
            .groups
            .borrow_mut()
            .entry(key.clone())
            .or_insert_with(|| {
                Rc::new(RefCell::new(Group {
                    endpoint: spec.endpoint.clone(),
                    world_size: spec.world_size,
                    channel: spec.channel,
                    members: BTreeSet::new(),
                    failed: None,
                    completed: 0,
                    pending: BTreeMap::new(),
                    done: BTreeMap::new(),
                    notify: Rc::new(Notify::new()),
                }))
            })
            .clone();
        let result = {
            let mut g = group.borrow_mut();
            let others = || {
                g.members
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mismatch = if g.endpoint != spec.endpoint {
                Some(format!(
                    "rank {} connects to rendezvous endpoint '{}', but communicator '{}' was \
                     opened at '{}' (ranks: {}); every rank of a Map run must use the same \
                     rendezvous_endpoint",
                    spec.rank,
                    spec.endpoint,
                    spec.comm_name,
                    g.endpoint,
                    others()
                ))
            } else if g.world_size != spec.world_size {
                Some(format!(
                    "rank {} says world_size {}, but communicator '{}' was opened with \
                     world_size {} (ranks: {})",
                    spec.rank,
                    spec.world_size,
                    spec.comm_name,
                    g.world_size,
                    others()
                ))
            } else if g.channel != spec.channel {
                Some(format!(
                    "rank {} uses the {} channel, but communicator '{}' was opened on the {} \
                     channel (ranks: {})",
                    spec.rank,
                    spec.channel,
                    spec.comm_name,
                    g.channel,
                    others()
                ))
            } else if g.members.contains(&spec.rank) {
                Some(format!(
                    "rank {} joined communicator '{}' twice (two Map items carry the same rank)",
                    spec.rank, spec.comm_name
                ))
            } else {
                None
            };
            if let Some(reason) = g.failed.clone() {
                Err(FmiError::Aborted {
                    comm_name: spec.comm_name.clone(),
                    rank: spec.rank,
                    op: "join",
                    reason,
                })
            } else if let Some(reason) = mismatch {
                g.fail(reason.clone());
                Err(FmiError::Mismatch(reason))
            } else if g.completed > 0 {
                // A restarted rank cannot catch up with collectives that finished without it.
                Err(FmiError::Mismatch(format!(
                    "rank {} joined communicator '{}' after {} collective(s) had completed \
                     without it",
                    spec.rank, spec.comm_name, g.completed
                )))
            } else {
                g.members.insert(spec.rank);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.release_if_empty(&key, &group);
            return Err(e);
        }
        Ok(Communicator {
            hub: self.clone(),
            key,
            group,
            clock,
            deadline,
            spec,
            next_seq: 0,
            stats: FmiStats::default(),
        })
    }

    fn release_if_empty(&self, key: &GroupKey, group: &Rc<RefCell<Group>>) {
        if group.borrow().members.is_empty() {
            let mut groups = self.groups.borrow_mut();
            if groups.get(key).is_some_and(|g| Rc::ptr_eq(g, group)) {
                groups.remove(key);
            }
        }
    }
}

/// The part of an execution ARN that names the Map run a call belongs to: a Distributed Map
/// child's ARN (`arn:aws:states:R:A:execution:MACHINE/LABEL:NAME-<uuid>`, or `express:`)
/// without its `-<uuid>`; any other ARN as it is (inline Map iterations call with their
/// execution's own ARN).
pub fn map_run_key(execution_arn: &str) -> &str {
    const UUID_LEN: usize = 36;
    let Some(cut) = execution_arn.len().checked_sub(UUID_LEN + 1) else {
        return execution_arn;
    };
    let (Some(head), Some(tail)) = (execution_arn.get(..cut), execution_arn.get(cut..)) else {
        return execution_arn;
    };
    let is_uuid = tail.starts_with('-')
        && tail[1..].bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    // A state machine name cannot contain '/', so '/' in the machine segment marks a child.
    let machine = head.rsplit(':').nth(1).unwrap_or("");
    if is_uuid && machine.contains('/') {
        head
    } else {
        execution_arn
    }
}

/// What a rank spent in FMI.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FmiStats {
    /// Collectives completed.
    pub collectives: u32,
    /// Time from arrival to completion, summed (waiting for peers plus the channel time).
    pub time_in_collectives: Duration,
    /// The channel model's share of that time.
    pub channel_time: Duration,
}

/// One rank's handle on a communicator. Dropping it leaves the communicator.
pub struct Communicator {
    hub: FmiHub,
    key: GroupKey,
    group: Rc<RefCell<Group>>,
    clock: Rc<dyn Clock>,
    deadline: SimTime,
    spec: FmiSpec,
    next_seq: u64,
    stats: FmiStats,
}

impl fmt::Debug for Communicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Communicator")
            .field("comm_name", &self.spec.comm_name)
            .field("rank", &self.spec.rank)
            .field("world_size", &self.spec.world_size)
            .field("channel", &self.spec.channel)
            .finish()
    }
}

impl Drop for Communicator {
    fn drop(&mut self) {
        if let Ok(mut g) = self.group.try_borrow_mut() {
            g.members.remove(&self.spec.rank);
        }
        self.hub.release_if_empty(&self.key, &self.group);
    }
}

impl Communicator {
    /// This rank.
    pub fn rank(&self) -> u32 {
        self.spec.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> u32 {
        self.spec.world_size
    }

    /// The channel in use.
    pub fn channel(&self) -> FmiChannel {
        self.spec.channel
    }

    /// What this rank has spent in collectives so far.
    pub fn stats(&self) -> FmiStats {
        self.stats
    }

    /// Waits until every rank has called `barrier`.
    pub async fn barrier(&mut self) -> Result<(), FmiError> {
        self.collective(Collective::Barrier, 0, None, Vec::new(), 1)
            .await
            .map(|_| ())
    }

    /// Rank `root`'s `values`, delivered to every rank (other ranks' `values` are ignored).
    pub async fn bcast(&mut self, values: &[f64], root: u32) -> Result<Vec<f64>, FmiError> {
        self.check_root(Collective::Bcast, root)?;
        let bytes = if self.spec.rank == root {
            vec_bytes(values.len())
        } else {
            0
        };
        let all = self
            .collective(Collective::Bcast, root, None, values.to_vec(), bytes)
            .await?;
        Ok(all.get(root as usize).cloned().unwrap_or_default())
    }

    /// The element-wise combination of every rank's `values`, at `root` only (`None` elsewhere).
    /// All ranks must pass vectors of the same length.
    pub async fn reduce(
        &mut self,
        values: &[f64],
        op: ReduceOp,
        root: u32,
    ) -> Result<Option<Vec<f64>>, FmiError> {
        self.check_root(Collective::Reduce, root)?;
        let all = self
            .collective(
                Collective::Reduce,
                root,
                Some(op),
                values.to_vec(),
                vec_bytes(values.len()),
            )
            .await?;
        Ok((self.spec.rank == root).then(|| combine(&all, op)))
    }

    /// The element-wise combination of every rank's `values`, at every rank.
    pub async fn allreduce(&mut self, values: &[f64], op: ReduceOp) -> Result<Vec<f64>, FmiError> {
        let all = self
            .collective(
                Collective::Allreduce,
                0,
                Some(op),
                values.to_vec(),
                vec_bytes(values.len()),
            )
            .await?;
        Ok(combine(&all, op))
    }

    /// Every rank's `values` (any lengths), in rank order, at `root` only.
    pub async fn gather(
        &mut self,
        values: &[f64],
        root: u32,
    ) -> Result<Option<Vec<Vec<f64>>>, FmiError> {
        self.check_root(Collective::Gather, root)?;
        let all = self
            .collective(
                Collective::Gather,
                root,
                None,
                values.to_vec(),
                vec_bytes(values.len()),
            )
            .await?;
        Ok((self.spec.rank == root).then(|| all.as_ref().clone()))
    }

    fn check_root(&self, op: Collective, root: u32) -> Result<(), FmiError> {
        if root < self.spec.world_size {
            Ok(())
        } else {
            Err(FmiError::InvalidSpec(format!(
                "FMI {}: root {root} is outside 0..{}",
                op.as_str(),
                self.spec.world_size - 1
            )))
        }
    }

    /// Arrives at collective number `next_seq`, waits for the other ranks (at most until the
    /// deadline), then until the collective's completion time. Returns every contribution.
    async fn collective(
        &mut self,
        op: Collective,
        root: u32,
        reduce: Option<ReduceOp>,
        values: Vec<f64>,
        bytes: u64,
    ) -> Result<Rc<Vec<Vec<f64>>>, FmiError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let rank = self.spec.rank;
        let arrived_at = self.clock.now();
        let notify = {
            let mut g = self.group.borrow_mut();
            if let Some(reason) = g.failed.clone() {
                return Err(self.aborted(op, reason));
            }
            let world_size = g.world_size;
            let pending = g.pending.entry(seq).or_insert_with(|| PendingOp {
                op,
                root,
                reduce,
                arrivals: BTreeMap::new(),
            });
            if pending.op != op || pending.root != root || pending.reduce != reduce {
                let theirs = describe(pending.op, pending.root, pending.reduce);
                let reason = format!(
                    "ranks disagree on collective #{seq}: rank {rank} called {}, while rank(s) \
                     {} called {theirs}",
                    describe(op, root, reduce),
                    join_ranks(pending.arrivals.keys()),
                );
                g.fail(reason.clone());
                return Err(FmiError::Mismatch(reason));
            }
            if let (Some(_), Some(first)) = (reduce, pending.arrivals.values().next()) {
                if first.len() != values.len() {
                    let reason = format!(
                        "{} #{seq}: rank {rank} contributes {} value(s), but rank(s) {} \
                         contributed {}",
                        op.as_str(),
                        values.len(),
                        join_ranks(pending.arrivals.keys()),
                        first.len()
                    );
                    g.fail(reason.clone());
                    return Err(FmiError::Mismatch(reason));
                }
            }
            pending.arrivals.insert(rank, values);
            if pending.arrivals.len() == world_size as usize {
                if let Some(done) = g.pending.remove(&seq) {
                    let largest = done
                        .arrivals
                        .values()
                        .map(|v| vec_bytes(v.len()))
                        .max()
                        .unwrap_or(0);
                    let bytes = if op == Collective::Barrier {
                        1
                    } else {
                        largest.max(bytes)
                    };
                    let t = g.channel.model().collective_seconds(op, world_size, bytes);
                    let channel_time = seconds(t);
                    let done_at = arrived_at
                        + chrono::Duration::from_std(channel_time)
                            .unwrap_or(chrono::Duration::zero());
                    g.done.insert(
                        seq,
                        DoneOp {
                            done_at,
                            channel_time,
                            values: Rc::new(done.arrivals.into_values().collect()),
                            pickups_left: world_size,
                        },
                    );
                    g.completed = g.completed.max(seq + 1);
                    g.notify.notify_waiters();
                }
            }
            g.notify.clone()
        };

        let (done_at, channel_time, values) = loop {
            // Registered before the state is checked, so a completion between the check and
            // the await is not missed.
            let notified = notify.notified();
            {
                let mut g = self.group.borrow_mut();
                if let Some(d) = g.done.get_mut(&seq) {
                    let got = (d.done_at, d.channel_time, d.values.clone());
                    d.pickups_left = d.pickups_left.saturating_sub(1);
                    if d.pickups_left == 0 {
                        g.done.remove(&seq);
                    }
                    break got;
                }
                if let Some(reason) = g.failed.clone() {
                    return Err(self.aborted(op, reason));
                }
            }
            let deadline = self.clock.sleep_until(self.deadline);
            tokio::select! {
                biased;
                _ = notified => {}
                _ = deadline => return Err(self.timeout(op, seq, arrived_at)),
            }
        };
        self.clock.sleep_until(done_at).await;
        let now = self.clock.now();
        self.stats.collectives += 1;
        self.stats.time_in_collectives += (now - arrived_at).to_std().unwrap_or(Duration::ZERO);
        self.stats.channel_time += channel_time;
        Ok(values)
    }

    fn aborted(&self, op: Collective, reason: String) -> FmiError {
        FmiError::Aborted {
            comm_name: self.spec.comm_name.clone(),
            rank: self.spec.rank,
            op: op.as_str(),
            reason,
        }
    }

    fn timeout(&self, op: Collective, seq: u64, arrived_at: SimTime) -> FmiError {
        let g = self.group.borrow();
        let arrived: BTreeSet<u32> = g
            .pending
            .get(&seq)
            .map(|p| p.arrivals.keys().copied().collect())
            .unwrap_or_default();
        let missing: Vec<u32> = (0..g.world_size).filter(|r| !arrived.contains(r)).collect();
        let waited = (self.clock.now() - arrived_at)
            .to_std()
            .unwrap_or(Duration::ZERO);
        FmiError::Timeout(Box::new(FmiTimeout {
            op: op.as_str(),
            seq,
            comm_name: self.spec.comm_name.clone(),
            endpoint: g.endpoint.clone(),
            rank: self.spec.rank,
            world_size: g.world_size,
            waited_s: waited.as_secs_f64(),
            arrived: arrived.into_iter().collect(),
            missing,
        }))
    }
}

fn vec_bytes(len: usize) -> u64 {
    (len as u64).saturating_mul(8)
}

fn join_ranks<'a>(ranks: impl Iterator<Item = &'a u32>) -> String {
    let v: Vec<String> = ranks.map(u32::to_string).collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

fn describe(op: Collective, root: u32, reduce: Option<ReduceOp>) -> String {
    match (op, reduce) {
        (Collective::Barrier | Collective::Allreduce, None) => op.as_str().to_string(),
        (Collective::Allreduce, Some(r)) => format!("allreduce({})", r.as_str()),
        (_, Some(r)) => format!("{}({}, root {root})", op.as_str(), r.as_str()),
        (_, None) => format!("{}(root {root})", op.as_str()),
    }
}

/// Combines vectors element-wise in rank order (a fixed order, so sums are reproducible).
fn combine(all: &[Vec<f64>], op: ReduceOp) -> Vec<f64> {
    let mut iter = all.iter();
    let Some(first) = iter.next() else {
        return Vec::new();
    };
    let mut acc = first.clone();
    for v in iter {
        for (a, b) in acc.iter_mut().zip(v) {
            *a = op.apply(*a, *b);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn channel_latencies_follow_the_calibration_formulas() {
        let direct = FmiChannel::Direct.model();
        // One pair, 400 bytes: log2(2)·0.34 ms + 400 B / 400 MB/s.
        assert!(close(direct.latency(1, 1, 400), 0.34e-3 + 1e-6));
        let s3 = FmiChannel::S3.model();
        // 3 producers → 1 consumer, 8 bytes: log2(4)·(40.4 + 50) ms + 3·8 / (3·50e6).
        assert!(close(s3.latency(3, 1, 8), 2.0 * 0.0904 + 8.0 / 50e6));
        let redis = FmiChannel::Redis.model();
        // 4×4 pairs saturate the 400 MB/s aggregate: log2(8)·5.2 ms + 16·1e6 / 400e6.
        assert!(close(redis.latency(4, 4, 1_000_000), 3.0 * 5.2e-3 + 0.04));
        // Nothing to exchange with oneself.
        assert_eq!(direct.latency(0, 1, 8), 0.0);
    }

    #[test]
    fn collective_times() {
        let d = FmiChannel::Direct.model();
        let pair8 = d.latency(1, 1, 8);
        assert!(close(
            d.collective_seconds(Collective::Allreduce, 4, 8),
            4.0 * pair8
        ));
        // Recursive doubling uses floor(log2 P) rounds: P = 3 → 1 round each way.
        assert!(close(
            d.collective_seconds(Collective::Allreduce, 3, 8),
            2.0 * pair8
        ));
        assert!(close(
            d.collective_seconds(Collective::Reduce, 3, 8),
            2.0 * pair8
        ));
        assert_eq!(d.collective_seconds(Collective::Barrier, 1, 1), 0.0);
        assert!(close(
            d.collective_seconds(Collective::Gather, 4, 8),
            d.latency(1, 1, 8) + d.latency(1, 1, 16)
        ));
        let s3 = FmiChannel::S3.model();
        assert!(close(
            s3.collective_seconds(Collective::Barrier, 4, 1),
            s3.latency(4, 1, 1) + s3.latency(1, 4, 1)
        ));
        assert!(close(
            s3.collective_seconds(Collective::Allreduce, 4, 80),
            s3.latency(3, 1, 80) + s3.latency(1, 3, 80)
        ));
        assert_eq!(s3.collective_seconds(Collective::Reduce, 1, 80), 0.0);
    }

    #[test]
    fn logs() {
        assert_eq!((floor_log2(1), ceil_log2(1)), (0, 0));
        assert_eq!((floor_log2(2), ceil_log2(2)), (1, 1));
        assert_eq!((floor_log2(3), ceil_log2(3)), (1, 2));
        assert_eq!((floor_log2(4), ceil_log2(4)), (2, 2));
        assert_eq!((floor_log2(5), ceil_log2(5)), (2, 3));
    }

    #[test]
    fn map_run_keys() {
        let child = "arn:aws:states:us-east-1:1:execution:SM/Distributed:run-1-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
        assert_eq!(
            map_run_key(child),
            "arn:aws:states:us-east-1:1:execution:SM/Distributed:run-1"
        );
        let express =
            "arn:aws:states:us-east-1:1:express:SM/L:e-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
        assert_eq!(
            map_run_key(express),
            "arn:aws:states:us-east-1:1:express:SM/L:e"
        );
        // A top-level execution whose name ends in a uuid is its own key.
        let top = "arn:aws:states:us-east-1:1:execution:SM:x-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
        assert_eq!(map_run_key(top), top);
        assert_eq!(map_run_key(""), "");
        assert_eq!(map_run_key("é"), "é");
        let odd = format!("{}é", "x".repeat(40));
        assert_eq!(map_run_key(&odd), odd);
    }

    #[test]
    fn channel_names() {
        assert_eq!(FmiChannel::parse("S3"), Some(FmiChannel::S3));
        assert_eq!(FmiChannel::parse(" direct "), Some(FmiChannel::Direct));
        assert_eq!(FmiChannel::parse("tcp"), None);
        assert_eq!(FmiChannel::Redis.to_string(), "redis");
    }

    #[test]
    fn combine_in_rank_order() {
        let all = vec![vec![1.0, 5.0], vec![2.0, -1.0], vec![3.0, 4.0]];
        assert_eq!(combine(&all, ReduceOp::Sum), vec![6.0, 8.0]);
        assert_eq!(combine(&all, ReduceOp::Max), vec![3.0, 5.0]);
        assert_eq!(combine(&all, ReduceOp::Min), vec![1.0, -1.0]);
        assert!(combine(&[], ReduceOp::Sum).is_empty());
    }
}
