//! Execution environments: the per-function pool of warm environments, cold starts and their
//! INIT duration, keep-alive expiry, recycling, provisioned concurrency, and the per-function
//! scaling rate.
//!
//! Expiry is evaluated lazily, when the pool is consulted: an idle environment whose keep-alive
//! has passed, or that has lived past the maximum lifetime, is dropped at that moment. The
//! outcome is the same as a timer-driven reaper, at no cost while nothing asks.

use std::time::Duration;

use crate::engine::SimTime;
use crate::rng::SimRng;
use crate::sim::config::{FunctionConfig, PackageType, RuntimeFamily};
use crate::sim::dist::{millis, QuantileDist};

/// How long INIT may take. CALIBRATION.md, row "Lambda INIT phase": INIT is capped at 10 s.
pub const MAX_INIT: Duration = Duration::from_secs(10);

/// One execution environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Environment {
    pub id: u64,
    pub created: SimTime,
    pub last_used: SimTime,
    /// Provisioned environments are initialized ahead of time and never expire.
    pub provisioned: bool,
}

/// The environments of one function.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Idle provisioned environments.
    provisioned_idle: Vec<Environment>,
    /// Idle on-demand environments, oldest `last_used` first (releases happen in time order, so
    /// pushing keeps the order). The most recently used one is reused first; this is a guess
    /// about AWS's placement, and it lets the others reach their keep-alive and expire.
    idle: Vec<Environment>,
    next_id: u64,
    /// Scaling-rate token bucket: new environments that may start now.
    tokens: f64,
    tokens_at: SimTime,
}

impl Pool {
    /// A pool with `provisioned` environments ready at `now` and a full scaling bucket.
    pub fn new(now: SimTime, provisioned: u32, scaling_burst: u32) -> Pool {
        let provisioned_idle = (0..u64::from(provisioned))
            .map(|id| Environment {
                id,
                created: now,
                last_used: now,
                provisioned: true,
            })
            .collect();
        Pool {
            provisioned_idle,
            idle: Vec::new(),
            next_id: u64::from(provisioned),
            tokens: f64::from(scaling_burst),
            tokens_at: now,
        }
    }

    /// Drops idle environments that are past their keep-alive.
    fn expire(&mut self, now: SimTime, keep_alive: Duration) {
        let keep = chrono::Duration::from_std(keep_alive).unwrap_or(chrono::Duration::MAX);
        let first_alive = self.idle.partition_point(|e| {
            e.last_used
                .checked_add_signed(keep)
                .is_some_and(|t| t <= now)
        });
        if first_alive > 0 {
            self.idle.drain(..first_alive);
        }
    }

    /// An idle environment to reuse: a provisioned one first, else the most recently used
    /// on-demand one that is neither past its keep-alive nor past its maximum lifetime.
    pub fn take_warm(
        &mut self,
        now: SimTime,
        keep_alive: Duration,
        max_lifetime: Duration,
    ) -> Option<Environment> {
        if let Some(e) = self.provisioned_idle.pop() {
            return Some(e);
        }
        self.expire(now, keep_alive);
        let life = chrono::Duration::from_std(max_lifetime).unwrap_or(chrono::Duration::MAX);
        while let Some(e) = self.idle.pop() {
            // Busy environments are recycled after their lifetime: the check happens when one
            // would be reused, which is when a recycled environment would show up as cold.
            if e.created.checked_add_signed(life).is_some_and(|t| t <= now) {
                continue;
            }
            return Some(e);
        }
        None
    }

    /// Takes one new-environment token if the scaling rate allows (`burst` per `window`,
    /// refilled continuously).
    pub fn take_scaling_token(&mut self, now: SimTime, burst: u32, window: Duration) -> bool {
        let burst = f64::from(burst);
        let elapsed = (now - self.tokens_at).to_std().unwrap_or(Duration::ZERO);
        if !window.is_zero() {
            self.tokens =
                (self.tokens + burst * elapsed.as_secs_f64() / window.as_secs_f64()).min(burst);
        } else {
            self.tokens = burst;
        }
        self.tokens_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A new (cold) environment.
    pub fn new_environment(&mut self, now: SimTime) -> Environment {
        let id = self.next_id;
        self.next_id += 1;
        Environment {
            id,
            created: now,
            last_used: now,
            provisioned: false,
        }
    }

    /// Returns an environment to the pool after an invocation that ended at `now`.
    pub fn release(&mut self, mut env: Environment, now: SimTime) {
        env.last_used = now;
        if env.provisioned {
            self.provisioned_idle.push(env);
        } else {
            self.idle.push(env);
        }
    }

    /// A provisioned environment that had to be torn down (timeout, crash) is replaced in the
    /// background, ready again at once; an on-demand one is simply gone.
    pub fn discard(&mut self, env: Environment, now: SimTime) {
        if env.provisioned {
            self.release(env, now);
        }
    }

    /// Idle environments that are still warm at `now` (expiring the others).
    pub fn warm_count(
        &mut self,
        now: SimTime,
        keep_alive: Duration,
        max_lifetime: Duration,
    ) -> usize {
        self.expire(now, keep_alive);
        let life = chrono::Duration::from_std(max_lifetime).unwrap_or(chrono::Duration::MAX);
        self.idle
            .retain(|e| e.created.checked_add_signed(life).is_none_or(|t| t > now));
        self.idle.len() + self.provisioned_idle.len()
    }
}

/// A function's cold-start INIT duration model.
#[derive(Clone, Debug)]
pub(crate) struct InitModel {
    base: QuantileDist,
    /// Multiplier on the base (arm64 speed-up).
    factor: f64,
    /// Extra INIT of a container image.
    image_penalty: Option<QuantileDist>,
}

impl InitModel {
    /// The model for a function: its explicit `init` figures, or its runtime's hello-world
    /// figures (with the arm64 factor), plus the image penalty for container images.
    pub fn for_function(config: &FunctionConfig, image_penalty: &QuantileDist) -> InitModel {
        let family = config.runtime_family();
        let (base, factor) = match (&config.init, family) {
            (Some(spec), _) => (
                spec.dist()
                    .unwrap_or_else(|_| QuantileDist::constant(spec.p50_ms)),
                1.0,
            ),
            (None, Some(f)) => (
                QuantileDist::from_percentiles(&f.init_percentiles_ms())
                    .unwrap_or_else(|_| QuantileDist::constant(f.init_percentiles_ms()[0].1)),
                if config.architecture == crate::sim::config::Architecture::Arm64 {
                    f.arm64_init_factor()
                } else {
                    1.0
                },
            ),
            // Validation rejects unknown runtimes without an `init` table; fall back to the
            // Python row rather than panic if one slips through.
            (None, None) => (
                QuantileDist::from_percentiles(&RuntimeFamily::Python.init_percentiles_ms())
                    .unwrap_or_else(|_| QuantileDist::constant(84.0)),
                1.0,
            ),
        };
        // An explicit `init` describes the function as packaged, so no image penalty on top.
        let image_penalty = (config.package_type == PackageType::Image && config.init.is_none())
            .then(|| image_penalty.clone());
        InitModel {
            base,
            factor,
            image_penalty,
        }
    }

    /// Draws one INIT duration (at most [`MAX_INIT`]).
    pub fn sample(&self, rng: &mut SimRng) -> Duration {
        let mut ms = self.base.sample_ms(rng) * self.factor;
        if let Some(p) = &self.image_penalty {
            ms += p.sample_ms(rng);
        }
        millis(ms).min(MAX_INIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::default_origin;

    fn at(s: i64) -> SimTime {
        default_origin() + chrono::Duration::seconds(s)
    }

    const KEEP: Duration = Duration::from_secs(600);
    const LIFE: Duration = Duration::from_secs(7200);

    #[test]
    fn warm_reuse_and_keep_alive() {
        let mut p = Pool::new(at(0), 0, 1000);
        assert!(p.take_warm(at(0), KEEP, LIFE).is_none());
        let e = p.new_environment(at(0));
        p.release(e, at(1));
        let e = p.take_warm(at(100), KEEP, LIFE).unwrap();
        assert_eq!(e.id, 0);
        p.release(e, at(101));
        // Idle for exactly the keep-alive: expired.
        assert!(p.take_warm(at(701), KEEP, LIFE).is_none());
    }

    #[test]
    fn most_recent_first_and_recycling() {
        let mut p = Pool::new(at(0), 0, 1000);
        let a = p.new_environment(at(0));
        let b = p.new_environment(at(0));
        p.release(a, at(10));
        p.release(b, at(20));
        assert_eq!(p.take_warm(at(30), KEEP, LIFE).unwrap().id, 1);
        assert_eq!(p.warm_count(at(30), KEEP, LIFE), 1);
        // Past the lifetime, an environment is not reused even if recently idle.
        let mut p = Pool::new(at(0), 0, 1000);
        let e = p.new_environment(at(0));
        p.release(e, at(7199));
        assert!(p.take_warm(at(7200), KEEP, LIFE).is_none());
    }

    #[test]
    fn provisioned_never_expire() {
        let mut p = Pool::new(at(0), 2, 1000);
        assert_eq!(p.warm_count(at(100_000), KEEP, LIFE), 2);
        let e = p.take_warm(at(100_000), KEEP, LIFE).unwrap();
        assert!(e.provisioned);
        p.discard(e, at(100_001));
        assert_eq!(p.warm_count(at(100_001), KEEP, LIFE), 2);
    }

    #[test]
    fn scaling_rate() {
        let w = Duration::from_secs(10);
        let mut p = Pool::new(at(0), 0, 3);
        assert!(p.take_scaling_token(at(0), 3, w));
        assert!(p.take_scaling_token(at(0), 3, w));
        assert!(p.take_scaling_token(at(0), 3, w));
        assert!(!p.take_scaling_token(at(0), 3, w));
        // 3 per 10 s refills one token in 10/3 s.
        assert!(!p.take_scaling_token(at(3), 3, w));
        assert!(p.take_scaling_token(at(4), 3, w));
    }

    #[test]
    fn init_model() {
        let penalty = QuantileDist::constant(100.0);
        let mut cfg = FunctionConfig::default();
        let zip = InitModel::for_function(&cfg, &penalty);
        cfg.package_type = PackageType::Image;
        let image = InitModel::for_function(&cfg, &penalty);
        let mut r1 = SimRng::new(5);
        let mut r2 = SimRng::new(5);
        let a = zip.sample(&mut r1);
        let b = image.sample(&mut r2);
        assert!((b.as_secs_f64() - a.as_secs_f64() - 0.1).abs() < 1e-9);
        cfg.init = Some(crate::sim::config::InitSpec {
            p50_ms: 50_000.0,
            p90_ms: None,
            p99_ms: 90_000.0,
        });
        assert_eq!(
            InitModel::for_function(&cfg, &penalty).sample(&mut r1),
            MAX_INIT
        );
    }
}
