//! Whether a sweep's pick (fastest, cheapest, highest throughput) stands out from the other
//! points or lies within the run-to-run noise of the repetitions.
//!
//! The rule: another point is *within noise* of the pick when the two medians differ by no
//! more than the larger of the two points' interquartile ranges (p75 - p25 of the point's
//! successful repetitions, nearest rank: with 3 repetitions that is min..max, with 5 the
//! second and fourth values). The IQR, not min..max, so that one cold first run does not
//! make every point look noisy. With fewer than two successful repetitions at the pick or at a
//! point, noise cannot be judged, and the report says so instead of naming a clear winner.

use super::summary::{metric, PointSummary};

/// The median and the interquartile range of one point's repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub n: usize,
}

impl Spread {
    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// Nearest-rank quantile `q` of sorted, non-empty `v`.
fn rank(v: &[f64], q: f64) -> f64 {
    let r = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[r - 1]
}

/// The spread of `values` (non-finite ones dropped); `None` when none is left.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let (v, median) = super::summary::sorted_with_median(values)?;
    let n = v.len();
    Some(Spread {
        median,
        q1: rank(&v, 0.25),
        q3: rank(&v, 0.75),
        n,
    })
}

/// The spread of `metric_name` over a point's successful repetitions.
pub fn point_spread(p: &PointSummary<'_>, metric_name: &str) -> Option<Spread> {
    let v: Vec<f64> = p
        .rows
        .iter()
        .filter(|r| r.status == "SUCCEEDED")
        .filter_map(|r| metric(r, metric_name))
        .collect();
    spread(&v)
}

/// What the noise says about a pick.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Too few repetitions (the fewest successful ones at any point with the metric).
    Unjudged { repetitions: usize },
    /// No other point is within noise.
    Clear,
    /// These points (indices into the summaries, by closeness of their medians) are.
    Within(Vec<usize>),
}

/// The verdict on `pick` for `metric_name`, by the rule in the module doc.
pub fn judge(points: &[PointSummary<'_>], pick: usize, metric_name: &str) -> Verdict {
    let spreads: Vec<Option<Spread>> = points
        .iter()
        .map(|p| point_spread(p, metric_name))
        .collect();
    judge_spreads(&spreads, pick)
}

/// The verdict on `pick` among these points' spreads (`None`: the point has no value).
pub fn judge_spreads(spreads: &[Option<Spread>], pick: usize) -> Verdict {
    let fewest = spreads.iter().flatten().map(|s| s.n).min().unwrap_or(0);
    let Some(Some(best)) = spreads.get(pick) else {
        return Verdict::Unjudged { repetitions: 0 };
    };
    if fewest < 2 {
        return Verdict::Unjudged {
            repetitions: fewest,
        };
    }
    let mut close: Vec<(f64, usize)> = spreads
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != pick)
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .filter(|(_, s)| (s.median - best.median).abs() <= best.iqr().max(s.iqr()))
        .map(|(i, s)| ((s.median - best.median).abs(), i))
        .collect();
    if close.is_empty() {
        return Verdict::Clear;
    }
    close.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Verdict::Within(close.into_iter().map(|(_, i)| i).collect())
}

/// The report's sentence for the rule.
pub const RULE: &str = "A pick is within noise of another point when their medians differ by no more than the larger interquartile range (p25..p75, nearest rank) of the two points' repetitions.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_uses_nearest_ranks() {
        let s = spread(&[6.7, 6.3, 6.4, 6.5, 9.0]).unwrap();
        assert_eq!((s.median, s.q1, s.q3, s.n), (6.5, 6.4, 6.7, 5));
        let s = spread(&[1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.q1, s.q3), (1.0, 3.0));
        assert!(spread(&[f64::NAN]).is_none());
    }

    #[test]
    fn the_noise_rule() {
        let s = |v: &[f64]| spread(v);
        // The case: 6.35 vs 6.71 s with run-to-run spread of about 0.4 s is noise;
        // 9.0 s is not.
        let spreads = [
            s(&[6.2, 6.3, 6.35, 6.6, 6.7]),
            s(&[6.4, 6.5, 6.71, 6.9, 7.1]),
            s(&[8.9, 9.0, 9.0, 9.1, 9.2]),
            None,
        ];
        assert_eq!(judge_spreads(&spreads, 0), Verdict::Within(vec![1]));
        // Tight repetitions: the same gap is a real difference.
        let tight = [s(&[6.34, 6.35, 6.36]), s(&[6.70, 6.71, 6.72])];
        assert_eq!(judge_spreads(&tight, 0), Verdict::Clear);
        // Nearer points come first.
        let three = [
            s(&[1.0, 2.0, 3.0]),
            s(&[2.6, 2.6, 2.6]),
            s(&[2.2, 2.2, 2.2]),
        ];
        assert_eq!(judge_spreads(&three, 0), Verdict::Within(vec![2, 1]));
        // One repetition anywhere: cannot be judged.
        let single = [s(&[6.35]), s(&[6.71, 6.8])];
        assert_eq!(
            judge_spreads(&single, 0),
            Verdict::Unjudged { repetitions: 1 }
        );
    }
}
