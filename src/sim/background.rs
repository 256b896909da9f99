//! Work a Task starts and does not wait for: a fire-and-forget `states:startExecution` child
//! keeps running on the virtual clock after the parent's Task has its answer, beside the parent.
//!
//! The world's state is `Rc`/`RefCell`, so such work cannot be a `tokio::spawn`ed task, and
//! `spawn_local` would need every caller of the world to run inside a `LocalSet`. Instead the
//! world keeps a queue ([`Background`]) and whoever runs an execution drives it with a
//! [`Driver`] polled beside the execution's own future ([`Driver::beside`]), then runs what is
//! left to its end ([`Driver::drain`]). Polling is single-threaded and in a fixed order (the
//! execution first, then the background work in the order it was woken), so a run stays
//! deterministic.
//!
//! A world used without a driver (a caller that runs the engine on the world directly) has
//! nobody to run background work; [`Background::is_driven`] tells the caller to do the work
//! inline instead.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::future::LocalBoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

#[derive(Default)]
struct Queue {
    /// Work spawned and not yet taken by a driver.
    queued: Vec<LocalBoxFuture<'static, ()>>,
    /// The driver to wake when work is queued.
    waker: Option<Waker>,
    /// How many drivers exist (work may be queued only while one does).
    drivers: usize,
}

/// The world's queue of background work (cheap to clone: one shared queue).
#[derive(Clone, Default)]
pub(crate) struct Background {
    queue: Rc<RefCell<Queue>>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = self.queue.borrow();
        f.debug_struct("Background")
            .field("queued", &q.queued.len())
            .field("drivers", &q.drivers)
            .finish()
    }
}

impl Background {
    /// Whether a [`Driver`] will run what is spawned.
    pub(crate) fn is_driven(&self) -> bool {
        self.queue.borrow().drivers > 0
    }

    /// Queues `work` for the driver (which starts it at the current virtual instant).
    pub(crate) fn spawn(&self, work: LocalBoxFuture<'static, ()>) {
        let waker = {
            let mut q = self.queue.borrow_mut();
            q.queued.push(work);
            q.waker.clone()
        };
        // Woken outside the borrow: the driver may be the task being polled right now.
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// A driver of this queue; drop it to stop (the work it holds is dropped with it).
    pub(crate) fn driver(&self) -> Driver {
        self.queue.borrow_mut().drivers += 1;
        Driver {
            queue: self.queue.clone(),
            running: FuturesUnordered::new(),
        }
    }
}

/// Runs a [`Background`]'s work (see the module doc).
pub(crate) struct Driver {
    queue: Rc<RefCell<Queue>>,
    running: FuturesUnordered<LocalBoxFuture<'static, ()>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let mut q = self.queue.borrow_mut();
        q.drivers = q.drivers.saturating_sub(1);
        if q.drivers == 0 {
            q.waker = None;
        }
    }
}

impl Driver {
    /// Polls the background work once; `Ready` when none is left.
    fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let queued = std::mem::take(&mut self.queue.borrow_mut().queued);
            let took = !queued.is_empty();
            for work in queued {
                self.running.push(work);
            }
            match self.running.poll_next_unpin(cx) {
                // One piece ended: look again (others may be ready, or new work queued).
                Poll::Ready(Some(())) => continue,
                Poll::Ready(None) if !took && self.queue.borrow().queued.is_empty() => {
                    return Poll::Ready(())
                }
                Poll::Ready(None) => continue,
                Poll::Pending => {
                    let mut q = self.queue.borrow_mut();
                    q.waker = Some(cx.waker().clone());
                    if q.queued.is_empty() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// Runs `main` to its end while the background work makes progress beside it (which may
    /// outlive `main`: see [`Driver::drain`]).
    pub(crate) async fn beside<F: Future>(&mut self, main: F) -> F::Output {
        let mut main = std::pin::pin!(main);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = main.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            // Work done or pending, `main` decides when this ends.
            let _ = self.poll_work(cx);
            Poll::Pending
        })
        .await
    }

    /// Runs the background work until none is left.
    pub(crate) async fn drain(&mut self) {
        std::future::poll_fn(|cx| self.poll_work(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn work_runs_beside_the_main_future_and_is_drained() {
        let rt = runtime();
        let log = Rc::new(RefCell::new(Vec::new()));
        rt.block_on(async {
            let bg = Background::default();
            assert!(!bg.is_driven());
            let mut driver = bg.driver();
            assert!(bg.is_driven());
            let start = tokio::time::Instant::now();
            let (l, b) = (log.clone(), bg.clone());
            let main = async move {
                let l2 = l.clone();
                let b2 = b.clone();
                b.spawn(Box::pin(async move {
                    tokio::time::sleep(Duration::from_secs(100)).await;
                    l2.borrow_mut().push("child end");
                    // Work spawned by work runs too.
                    let l3 = l2.clone();
                    b2.spawn(Box::pin(async move {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        l3.borrow_mut().push("grandchild end");
                    }));
                }));
                tokio::time::sleep(Duration::from_secs(1)).await;
                l.borrow_mut().push("main end");
                tokio::time::Instant::now() - start
            };
            let main_took = driver.beside(main).await;
            assert_eq!(main_took, Duration::from_secs(1));
            driver.drain().await;
            assert_eq!(
                tokio::time::Instant::now() - start,
                Duration::from_secs(101)
            );
        });
        assert_eq!(
            *log.borrow(),
            vec!["main end", "child end", "grandchild end"]
        );
    }

    #[test]
    fn a_dropped_driver_leaves_the_queue_undriven() {
        let bg = Background::default();
        let d = bg.driver();
        drop(d);
        assert!(!bg.is_driven());
    }
}
