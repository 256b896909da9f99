//! Delay distributions fitted to published percentiles.
//!
//! The calibration sources give a few percentiles (p10/p50/p90/p99 of invoke latency, p50/p90/p99
//! of cold-start INIT), not a fitted model. [`QuantileDist`] passes through every given
//! percentile exactly: it interpolates the logarithm of the delay linearly in the standard-normal
//! score of the percentile. With two points that is exactly a log-normal distribution; with more
//! points it is a piecewise log-normal that also honours the middle of the published curve.
//! Beyond the outermost points it extends the nearest segment, so the tails stay log-normal.
//!
//! Why this does not use `rand_distr`: sampling is by inverse CDF, one uniform per draw, and
//! `rand_distr` has no normal quantile function. Its `Normal`/`LogNormal` sample with a ziggurat
//! that takes a variable number of draws (measured: 1.022 uniforms per sample on average, up to 7),
//! so every stream would shift after its first rejection and every value differs from the first
//! (seed 1, p50 84 ms / p99 125 ms: first sample 97.694 ms here, 97.031 ms from `LogNormal`), which
//! changes the sweep golden bytes. It would not be faster either: 26.4 ns per `LogNormal` draw
//! against 29.6 ns per draw here (optimized build, 10^7 draws). A piecewise (3+ knot) curve has
//! no `rand_distr` counterpart at all, so [`inverse_normal_cdf`] stays hand-written.

use std::time::Duration;

use crate::rng::SimRng;

/// A positive delay distribution defined by its percentiles.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantileDist {
    shape: Shape,
}

#[derive(Clone, Debug, PartialEq)]
enum Shape {
    /// Always the same delay, in ms (for tests and for switching a delay off).
    Constant(f64),
    /// `(z, ln(ms))`, sorted by `z`, at least two knots.
    Knots(Vec<(f64, f64)>),
}

/// Why a set of percentiles does not define a distribution.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(String);

impl QuantileDist {
    /// A distribution through `(percentile, milliseconds)` points, with percentiles strictly
    /// between 0 and 100 and both coordinates increasing.
    pub fn from_percentiles(points: &[(f64, f64)]) -> Result<QuantileDist, DistError> {
        if points.len() < 2 {
            return Err(DistError(
                "at least two percentiles are needed (for example p50 and p99)".to_string(),
            ));
        }
        let mut knots = Vec::with_capacity(points.len());
        for &(pct, ms) in points {
            if !(pct > 0.0 && pct < 100.0) {
                return Err(DistError(format!(
                    "percentile {pct} is not strictly between 0 and 100"
                )));
            }
            if !(ms.is_finite() && ms > 0.0) {
                return Err(DistError(format!(
                    "p{pct} = {ms} ms: a delay must be a positive number of milliseconds"
                )));
            }
            knots.push((inverse_normal_cdf(pct / 100.0), ms.ln()));
        }
        for w in knots.windows(2) {
            if !(w[1].0 > w[0].0 && w[1].1 > w[0].1) {
                return Err(DistError(
                    "percentiles and their delays must both increase".to_string(),
                ));
            }
        }
        Ok(QuantileDist {
            shape: Shape::Knots(knots),
        })
    }

    /// A distribution that always yields `ms` (negative or NaN means zero).
    pub fn constant(ms: f64) -> QuantileDist {
        let ms = if ms.is_nan() || ms < 0.0 { 0.0 } else { ms };
        QuantileDist {
            shape: Shape::Constant(ms),
        }
    }

    /// A log-normal distribution with the given median and 99th percentile (milliseconds).
    pub fn lognormal_p50_p99(p50_ms: f64, p99_ms: f64) -> Result<QuantileDist, DistError> {
        QuantileDist::from_percentiles(&[(50.0, p50_ms), (99.0, p99_ms)])
    }

    /// The delay at quantile `q` (0 < q < 1), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        // Keep u away from 0 and 1: the normal score is infinite there.
        let knots = match &self.shape {
            Shape::Constant(ms) => return *ms,
            Shape::Knots(k) => k,
        };
        let q = if q.is_nan() {
            0.5
        } else {
            q.clamp(1e-9, 1.0 - 1e-9)
        };
        let z = inverse_normal_cdf(q);
        // Choose the segment that contains z, or the outermost one for the tails. There are
        // always at least two knots (checked on construction).
        let i = match knots.iter().position(|&(kz, _)| kz >= z) {
            Some(0) => 0,
            Some(i) => i - 1,
            None => knots.len().saturating_sub(2),
        };
        let (Some(&(z0, y0)), Some(&(z1, y1))) = (knots.get(i), knots.get(i + 1)) else {
            return 0.0;
        };
        let y = y0 + (y1 - y0) * (z - z0) / (z1 - z0);
        y.exp()
    }

    /// The median, in milliseconds.
    pub fn median_ms(&self) -> f64 {
        self.quantile_ms(0.5)
    }

    /// Draws one delay in milliseconds (a constant distribution consumes no random numbers).
    pub fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        match self.shape {
            Shape::Constant(ms) => ms,
            Shape::Knots(_) => self.quantile_ms(rng.next_f64()),
        }
    }

    /// Draws one delay.
    pub fn sample(&self, rng: &mut SimRng) -> Duration {
        millis(self.sample_ms(rng))
    }
}

/// A duration from (possibly fractional, possibly nonsense) milliseconds, never panicking:
/// NaN and negatives become zero, huge values saturate.
pub fn millis(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

/// A duration from (possibly nonsense) seconds, never panicking (see [`millis`]).
pub fn seconds(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9), for 0 < p < 1.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles() {
        assert!(inverse_normal_cdf(0.5).abs() < 1e-9);
        assert!((inverse_normal_cdf(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((inverse_normal_cdf(0.1) + 1.281_551_566).abs() < 1e-6);
        assert!((inverse_normal_cdf(0.001) + 3.090_232_306).abs() < 1e-6);
    }

    #[test]
    fn passes_through_every_percentile() {
        let d = QuantileDist::from_percentiles(&[
            (10.0, 73.0),
            (50.0, 99.0),
            (90.0, 133.0),
            (99.0, 250.0),
        ])
        .unwrap();
        for (q, ms) in [(0.1, 73.0), (0.5, 99.0), (0.9, 133.0), (0.99, 250.0)] {
            assert!((d.quantile_ms(q) - ms).abs() < 1e-6, "q{q}");
        }
        // Tails extend monotonically.
        assert!(d.quantile_ms(0.01) < 73.0);
        assert!(d.quantile_ms(0.999) > 250.0);
    }

    #[test]
    fn sampled_percentiles_match() {
        let d = QuantileDist::lognormal_p50_p99(84.0, 125.0).unwrap();
        let mut rng = SimRng::new(11);
        let mut xs: Vec<f64> = (0..20_000).map(|_| d.sample_ms(&mut rng)).collect();
        xs.sort_by(|a, b| a.total_cmp(b));
        let p50 = xs[10_000];
        let p99 = xs[19_800];
        assert!((p50 - 84.0).abs() < 1.5, "p50 {p50}");
        assert!((p99 - 125.0).abs() < 4.0, "p99 {p99}");
    }

    #[test]
    fn rejects_bad_points() {
        assert!(QuantileDist::from_percentiles(&[(50.0, 10.0)]).is_err());
        assert!(QuantileDist::from_percentiles(&[(50.0, 10.0), (99.0, 5.0)]).is_err());
        assert!(QuantileDist::from_percentiles(&[(0.0, 10.0), (99.0, 50.0)]).is_err());
        assert!(QuantileDist::from_percentiles(&[(50.0, -1.0), (99.0, 50.0)]).is_err());
        assert!(QuantileDist::from_percentiles(&[(50.0, f64::NAN), (99.0, 50.0)]).is_err());
    }

    #[test]
    fn constant() {
        let d = QuantileDist::constant(5.0);
        let mut rng = SimRng::new(1);
        assert_eq!(d.sample_ms(&mut rng), 5.0);
        assert_eq!(rng, SimRng::new(1));
        assert_eq!(QuantileDist::constant(-1.0).median_ms(), 0.0);
    }

    #[test]
    fn durations_never_panic() {
        assert_eq!(millis(f64::NAN), Duration::ZERO);
        assert_eq!(millis(-3.0), Duration::ZERO);
        assert_eq!(millis(f64::INFINITY), Duration::MAX);
        assert_eq!(millis(1500.0), Duration::from_millis(1500));
        assert_eq!(seconds(1e300), Duration::MAX);
    }
}
