//! Time as the interpreter sees it.
//!
//! The engine never reads `std::time`: every timestamp (history events, `$$.Execution.StartTime`,
//! `$now()`) and every delay (Wait, Retry intervals, task latency) goes through a [`Clock`]. The
//! world model supplies the implementation: a virtual clock on a paused tokio runtime for runs
//! and sweeps, or a scaled wall clock for `stepsim serve`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::LocalBoxFuture;

/// A point in simulated time.
pub type SimTime = DateTime<Utc>;

/// The source of time and delays for one or more executions.
pub trait Clock {
    /// The current (simulated) time.
    fn now(&self) -> SimTime;

    /// A future that completes after `d` of simulated time.
    fn sleep(&self, d: Duration) -> LocalBoxFuture<'static, ()>;

    /// A future that completes at `t` (at once when `t` is not in the future).
    fn sleep_until(&self, t: SimTime) -> LocalBoxFuture<'static, ()> {
        let now = self.now();
        let d = (t - now).to_std().unwrap_or(Duration::ZERO);
        self.sleep(d)
    }
}

/// A clock driven by the tokio runtime's timer.
///
/// On a runtime built with `start_paused(true)` the timer jumps to the next deadline whenever
/// every task is idle, so an hour-long Wait costs microseconds of host time while `now()` still
/// advances by the hour. On a normal runtime it is a wall clock, optionally sped up by `scale`.
#[derive(Clone, Debug)]
pub struct TokioClock {
    origin: SimTime,
    base: tokio::time::Instant,
    scale: f64,
}

impl TokioClock {
    /// A clock that reads `origin` now. Must be created inside a tokio runtime.
    pub fn new(origin: SimTime) -> Self {
        TokioClock {
            origin,
            base: tokio::time::Instant::now(),
            scale: 1.0,
        }
    }

    /// A clock where one real second counts as `scale` simulated seconds (`scale` > 0).
    /// Only meaningful on an unpaused runtime.
    pub fn with_scale(origin: SimTime, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        TokioClock {
            origin,
            base: tokio::time::Instant::now(),
            scale,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SimTime {
        let elapsed = self.base.elapsed();
        let scaled = if self.scale == 1.0 {
            elapsed
        } else {
            elapsed.mul_f64(self.scale)
        };
        self.origin + chrono::Duration::from_std(scaled).unwrap_or(chrono::Duration::zero())
    }

    fn sleep(&self, d: Duration) -> LocalBoxFuture<'static, ()> {
        let real = if self.scale == 1.0 {
            d
        } else {
            d.div_f64(self.scale)
        };
        Box::pin(tokio::time::sleep(real))
    }
}

/// The moment simulated executions start unless told otherwise: a fixed date, so that runs are
/// reproducible byte for byte.
pub fn default_origin() -> SimTime {
    DateTime::parse_from_rfc3339("2025-07-21T19:45:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_clock_jumps() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let clock = TokioClock::new(default_origin());
            let t0 = clock.now();
            let wall = std::time::Instant::now();
            clock.sleep(Duration::from_secs(3600)).await;
            let t1 = clock.now();
            assert_eq!((t1 - t0).num_seconds(), 3600);
            assert!(wall.elapsed() < Duration::from_secs(5));
        });
    }
}
