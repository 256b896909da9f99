//! The threads that run simulations for the server.
//!
//! Every execution (and every Lambda `Invoke`, `StartSyncExecution` or `TestState`) is its own
//! simulation on its own current-thread runtime, because the engine's futures are not `Send`
//! and because an execution that waits for a task token must keep its own clock. Such a job
//! runs on an OS thread of this pool.
//!
//! The pool bounds *computing* jobs, not threads: at most `permits` jobs compute at once, and
//! the rest wait in a queue (a queued job costs no thread). A job that starts waiting for a
//! callback hands its permit back ([`ExecPool::release`]), so executions parked on task tokens
//! never starve new work, and takes one again before it goes on ([`ExecPool::reacquire`]),
//! ahead of queued jobs so that an execution that has started finishes first. Threads exit
//! when the queue is empty: an idle server holds no worker threads.
//!
//! Heavy jobs do not starve light ones: a job that has computed for more than [`HEAVY`] no
//! longer counts against the permits, so a job submitted behind it starts on a thread of its
//! own and the OS shares the cores between them, up to [`OVERFLOW`] times the permits in all.
//! (A trivial Pass waited 9.7 s behind three 1e6-item Distributed Maps before this.)

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// After computing this long, a job counts as heavy and stops holding back queued ones.
pub const HEAVY: Duration = Duration::from_millis(250);

/// Jobs computing at once, heavy ones included, are at most this many times the permits.
pub const OVERFLOW: usize = 4;

use super::error::ApiError;

/// One unit of work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

struct PoolState {
    /// Jobs holding a permit.
    busy: usize,
    /// Threads blocked in `reacquire`.
    reacquiring: usize,
    queue: VecDeque<Job>,
    /// When each computing job started, by a job number.
    started: BTreeMap<u64, Instant>,
    next_job: u64,
}

impl PoolState {
    /// Whether a queued job may start now.
    fn may_start(&self, permits: usize) -> bool {
        if self.reacquiring > 0 {
            return false;
        }
        if self.busy < permits {
            return true;
        }
        let heavy = self
            .started
            .values()
            .filter(|t| t.elapsed() >= HEAVY)
            .count();
        self.busy < permits * OVERFLOW && self.busy.saturating_sub(heavy) < permits
    }

    /// Numbers a job that starts computing now.
    fn begin(&mut self) -> u64 {
        let id = self.next_job;
        self.next_job += 1;
        self.started.insert(id, Instant::now());
        self.busy += 1;
        id
    }
}

/// A bounded pool of simulation threads; see the module documentation.
pub struct ExecPool {
    permits: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

impl std::fmt::Debug for ExecPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("ExecPool")
            .field("permits", &self.permits)
            .field("busy", &st.busy)
            .field("queued", &st.queue.len())
            .finish()
    }
}

impl ExecPool {
    /// A pool that computes at most `permits` jobs at once (at least 1).
    pub fn new(permits: usize) -> Arc<ExecPool> {
        Arc::new(ExecPool {
            permits: permits.max(1),
            state: Mutex::new(PoolState {
                busy: 0,
                reacquiring: 0,
                queue: VecDeque::new(),
                started: BTreeMap::new(),
                next_job: 0,
            }),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Jobs run outside the lock, so a poisoned lock cannot hold a half-made update.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a job; it starts as soon as a permit is free.
    pub fn submit(self: &Arc<Self>, job: Job) {
        let mut st = self.lock();
        st.queue.push_back(job);
        self.start_queued(&mut st);
    }

    /// Jobs waiting for a permit.
    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    fn start_queued(self: &Arc<Self>, st: &mut PoolState) {
        while st.may_start(self.permits) {
            let Some(job) = st.queue.pop_front() else {
                return;
            };
            let id = st.begin();
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name("stepsim-sim".to_string())
                .spawn(move || pool.work(job, id));
            if let Err(e) = spawned {
                // The job went into the closure that failed to start; it is lost, but its
                // owner's channel is dropped with it, so the client gets an error, not a hang.
                st.busy -= 1;
                st.started.remove(&id);
                eprintln!("stepsim serve: cannot start a simulation thread: {e}");
                return;
            }
        }
    }

    fn work(self: Arc<Self>, first: Job, first_id: u64) {
        let (mut job, mut id) = (first, first_id);
        loop {
            // A panicking job must not take the permit with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            let mut st = self.lock();
            st.busy -= 1;
            st.started.remove(&id);
            if st.reacquiring > 0 {
                self.freed.notify_one();
                return;
            }
            if !st.may_start(self.permits) {
                return;
            }
            match st.queue.pop_front() {
                Some(next) => {
                    id = st.begin();
                    job = next;
                }
                None => return,
            }
        }
    }

    /// Gives the calling job's permit back while it waits for something outside the
    /// simulation (a task token). Pair with [`ExecPool::reacquire`].
    pub fn release(self: &Arc<Self>) {
        let mut st = self.lock();
        st.busy = st.busy.saturating_sub(1);
        self.start_queued(&mut st);
    }

    /// Takes a permit again after [`ExecPool::release`], blocking until one is free.
    pub fn reacquire(&self) {
        let mut st = self.lock();
        st.reacquiring += 1;
        while st.busy >= self.permits {
            st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.reacquiring -= 1;
        st.busy += 1;
    }
}

/// What a job sent back through `rx` (the server's synchronous calls wait for it), or
/// `InternalFailure` when its thread ended without an answer or the simulation could not run.
pub async fn outcome<T>(
    rx: tokio::sync::oneshot::Receiver<Result<T, String>>,
) -> Result<T, ApiError> {
    rx.await
        .map_err(|_| ApiError::internal("the simulation thread ended without a result"))?
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn runs_every_job_with_bounded_concurrency() {
        let pool = ExecPool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for i in 0..20 {
            let (running, peak, tx) = (running.clone(), peak.clone(), tx.clone());
            pool.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                tx.send(i).unwrap();
            }));
        }
        let mut got: Vec<i32> = (0..20)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn a_released_permit_lets_queued_work_run() {
        let pool = ExecPool::new(1);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<&'static str>();
        let p = pool.clone();
        let d = done_tx.clone();
        pool.submit(Box::new(move || {
            // Waits for a "callback" that only the second job sends.
            p.release();
            go_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            p.reacquire();
            d.send("waiter").unwrap();
        }));
        pool.submit(Box::new(move || {
            go_tx.send(()).unwrap();
            done_tx.send("second").unwrap();
        }));
        let a = done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let b = done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let mut both = [a, b];
        both.sort();
        assert_eq!(both, ["second", "waiter"]);
    }

    #[test]
    fn a_light_job_does_not_wait_behind_a_heavy_one() {
        let pool = ExecPool::new(1);
        let (tx, rx) = mpsc::channel::<&'static str>();
        let heavy_tx = tx.clone();
        pool.submit(Box::new(move || {
            std::thread::sleep(Duration::from_millis(1500));
            heavy_tx.send("heavy").unwrap();
        }));
        std::thread::sleep(HEAVY + Duration::from_millis(100));
        pool.submit(Box::new(move || tx.send("light").unwrap()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "light");
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "heavy");
    }

    #[test]
    fn overflow_is_bounded() {
        let pool = ExecPool::new(1);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for i in 0..(OVERFLOW * 3) {
            let (running, peak, tx) = (running.clone(), peak.clone(), tx.clone());
            pool.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(HEAVY + Duration::from_millis(50));
                running.fetch_sub(1, Ordering::SeqCst);
                tx.send(i).unwrap();
            }));
            std::thread::sleep(HEAVY + Duration::from_millis(20));
        }
        for _ in 0..(OVERFLOW * 3) {
            rx.recv_timeout(Duration::from_secs(30)).unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((2..=OVERFLOW).contains(&peak), "peak {peak}");
    }

    #[test]
    fn a_panicking_job_frees_its_permit() {
        let pool = ExecPool::new(1);
        pool.submit(Box::new(|| panic!("job failed")));
        let (tx, rx) = mpsc::channel();
        pool.submit(Box::new(move || tx.send(1).unwrap()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
    }
}
