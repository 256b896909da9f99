//! The redshift estimator the inference ranks run, and the quality metrics the team reported.
//!
//! The real workflow runs AstroMAE (a vision transformer over 5-band images plus magnitudes).
//! Here a fixed linear photometric-redshift model over the colours does the real arithmetic on
//! the real (synthetic) magnitudes: `ẑ = c₀ + c₁(u−g) + c₂(g−r) + c₃(r−i) + c₄(i−z) + c₅·r`,
//! clamped at 0. The coefficients are a least-squares fit to 200,000 galaxies of the
//! generator ([`super::dataset`], seed 1, a seed the example never uses), done once and frozen,
//! as a trained model's weights are.
//!
//! Metrics, as in the photo-z literature and the AstroMAE paper, with `Δ = (ẑ − z) / (1 + z)`:
//! MAE `mean|ẑ − z|`, MSE `mean (ẑ − z)²`, bias `mean Δ`, precision (NMAD)
//! `1.4826 · median |Δ − median Δ|`, and R² `1 − Σ(ẑ − z)² / Σ(z − z̄)²`.

use serde_json::{json, Value};

use super::dataset::Galaxy;

/// The frozen model weights: intercept, then u−g, g−r, r−i, i−z and r.
pub const COEFFICIENTS: [f64; 6] = [-0.6144, -0.1249, 0.2212, 0.2419, 0.0928, 0.04027];

/// The model's redshift estimate for one galaxy.
pub fn predict(g: &Galaxy) -> f64 {
    let f = features(g);
    let z: f64 = COEFFICIENTS.iter().zip(f).map(|(c, x)| c * x).sum();
    z.max(0.0)
}

/// The model's inputs: 1, u−g, g−r, r−i, i−z, r.
pub fn features(g: &Galaxy) -> [f64; 6] {
    [1.0, g.u - g.g, g.g - g.r, g.r - g.i, g.i - g.z, g.r]
}

/// Quality of a set of predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub n: usize,
    pub mae: f64,
    pub mse: f64,
    pub bias: f64,
    /// NMAD of the normalised residuals.
    pub precision: f64,
    /// `None` when the true redshifts do not vary (fewer than two samples).
    pub r2: Option<f64>,
}

impl Metrics {
    /// The metrics as the records show them (`r2` is null when undefined).
    pub fn to_json(&self) -> Value {
        json!({
            "mae": self.mae,
            "mse": self.mse,
            "bias": self.bias,
            "precision": self.precision,
            "r2": self.r2,
        })
    }
}

/// The normalised residual `(ẑ − z) / (1 + z)`.
pub fn normalised_residual(predicted: f64, truth: f64) -> f64 {
    (predicted - truth) / (1.0 + truth)
}

/// The median of `v` (sorted in place); 0 for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// NMAD of normalised residuals: `1.4826 · median |Δ − median Δ|`.
pub fn nmad(residuals: &[f64]) -> f64 {
    let mut d = residuals.to_vec();
    let med = median(&mut d);
    let mut dev: Vec<f64> = residuals.iter().map(|x| (x - med).abs()).collect();
    1.4826 * median(&mut dev)
}

/// Metrics of `predicted` against `truth` (same length; extra elements are ignored).
pub fn metrics(predicted: &[f64], truth: &[f64]) -> Metrics {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return Metrics {
            n: 0,
            mae: 0.0,
            mse: 0.0,
            bias: 0.0,
            precision: 0.0,
            r2: None,
        };
    }
    let nf = n as f64;
    let pairs = predicted.iter().zip(truth).take(n);
    let (mut abs, mut sq, mut bias) = (0.0, 0.0, 0.0);
    let mut residuals = Vec::with_capacity(n);
    for (&p, &t) in pairs {
        let e = p - t;
        abs += e.abs();
        sq += e * e;
        let d = normalised_residual(p, t);
        bias += d;
        residuals.push(d);
    }
    let mean_t = truth.iter().take(n).sum::<f64>() / nf;
    let ss_tot: f64 = truth
        .iter()
        .take(n)
        .map(|t| (t - mean_t) * (t - mean_t))
        .sum();
    Metrics {
        n,
        mae: abs / nf,
        mse: sq / nf,
        bias: bias / nf,
        precision: nmad(&residuals),
        r2: (ss_tot > 0.0).then(|| 1.0 - sq / ss_tot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::cosmic::dataset::catalogue;

    /// Least squares by the normal equations (6 unknowns; Gaussian elimination with pivoting).
    fn least_squares(rows: &[[f64; 6]], y: &[f64]) -> [f64; 6] {
        let mut a = [[0.0f64; 7]; 6];
        for (x, &t) in rows.iter().zip(y) {
            for (row, xi) in a.iter_mut().zip(x) {
                for (cell, xj) in row.iter_mut().zip(x) {
                    *cell += xi * xj;
                }
                row[6] += xi * t;
            }
        }
        for col in 0..6 {
            let piv = (col..6)
                .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
                .unwrap();
            a.swap(col, piv);
            let pivot = a[col];
            for (i, row) in a.iter_mut().enumerate() {
                if i != col {
                    let f = row[col] / pivot[col];
                    for (x, p) in row.iter_mut().zip(pivot).skip(col) {
                        *x -= f * p;
                    }
                }
            }
        }
        std::array::from_fn(|i| a[i][6] / a[i][i])
    }

    #[test]
    fn the_frozen_model_is_good_and_close_to_the_best_linear_fit() {
        use crate::handlers::cosmic::dataset::DEFAULT_SEED;
        // The example's own data (not the fitting seed).
        let cat = catalogue(DEFAULT_SEED, 1253);
        let truth: Vec<f64> = cat.iter().map(|g| g.redshift).collect();
        let predicted: Vec<f64> = cat.iter().map(predict).collect();
        let m = metrics(&predicted, &truth);
        let r2 = m.r2.unwrap();
        assert!(r2 > 0.8, "{m:?}");
        assert!(
            m.mae < 0.05 && m.bias.abs() < 0.01 && m.precision < 0.05,
            "{m:?}"
        );
        // A fit on this very set can only be a little better.
        let rows: Vec<[f64; 6]> = cat.iter().map(features).collect();
        let c = least_squares(&rows, &truth);
        let best: Vec<f64> = rows
            .iter()
            .map(|x| x.iter().zip(c).map(|(a, b)| a * b).sum::<f64>().max(0.0))
            .collect();
        let best_r2 = metrics(&best, &truth).r2.unwrap();
        assert!(best_r2 - r2 < 0.02, "{best_r2} vs {r2}");
    }

    #[test]
    fn metric_definitions() {
        let m = metrics(&[0.1, 0.2, 0.5], &[0.1, 0.3, 0.4]);
        assert_eq!(m.n, 3);
        assert!((m.mae - 0.2 / 3.0).abs() < 1e-12);
        assert!((m.mse - 0.02 / 3.0).abs() < 1e-12);
        let d = [0.0, -0.1 / 1.3, 0.1 / 1.4];
        assert!((m.bias - d.iter().sum::<f64>() / 3.0).abs() < 1e-12);
        // median Δ = 0; |Δ| = 0, 0.0769, 0.0714 → median 0.0714.
        assert!((m.precision - 1.4826 * 0.1 / 1.4).abs() < 1e-12);
        // z̄ = 0.2667, SS_tot = 0.04667, SS_res = 0.02.
        assert!((m.r2.unwrap() - (1.0 - 0.02 / (0.14f64 / 3.0))).abs() < 1e-9);
        assert_eq!(metrics(&[0.3], &[0.3]).r2, None);
        assert_eq!(metrics(&[], &[]).n, 0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 10.0]), 2.5);
    }

    #[test]
    fn predictions_are_never_negative() {
        let g = Galaxy {
            objid: 0,
            u: 30.0,
            g: 10.0,
            r: 12.0,
            i: 15.0,
            z: 9.0,
            redshift: 0.1,
        };
        assert_eq!(predict(&g), 0.0);
    }
}
