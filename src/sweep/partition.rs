//! `--partition K/N`: which points of a sweep's grid the K-th of N slices runs.
//!
//! The unit of work is a grid point with all its repetitions: a point's repetitions run one
//! after the other in one world (environments stay warm, and each start date follows the
//! previous run), so a repetition cannot be run without the ones before it. A point's seed
//! comes from the master seed and its parameter values only, so its rows are the same
//! whichever slice runs it.
//!
//! Slices are balanced by expected cost with a deterministic greedy (longest processing time
//! first over the canonical point order, ties to the lowest slice): each point weighs its
//! repetitions, so slices differ by at most one point's worth of executions. The assignment
//! depends on nothing but the grid and N, so every worker and the merge agree on it.
//!
//! The slice may also come from a batch engine's array index: `auto/N` takes K from
//! `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job), `SLURM_ARRAY_TASK_ID` (minus
//! `SLURM_ARRAY_TASK_MIN`) or `AWS_BATCH_JOB_ARRAY_INDEX`, all 0-based; plain `auto` also takes
//! N from `SLURM_ARRAY_TASK_COUNT` (Kubernetes and AWS Batch do not export the count).

use std::fmt;

use super::spec::SweepSpec;

/// The K-th (1-based) of N slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The 0-based array-index variables `auto` reads, in the order they are tried.
pub const INDEX_VARIABLES: [&str; 3] = [
    "JOB_COMPLETION_INDEX",
    "SLURM_ARRAY_TASK_ID",
    "AWS_BATCH_JOB_ARRAY_INDEX",
];

/// At most this many slices (far more than any grid this tool runs has points).
pub const MAX_SLICES: usize = 1_000_000;

impl Partition {
    /// Parses `K/N` (1 <= K <= N), `auto/N` or `auto`; `env` looks up environment variables
    /// (the process environment in the CLI, a table in tests).
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Partition, String> {
        let text = text.trim();
        let (k, n) = match text.split_once('/') {
            Some((k, n)) => (k.trim(), Some(n.trim())),
            None => (text, None),
        };
        let count = match n {
            Some(n) => parse_count(n, "N")?,
            None if k == "auto" => slurm_count(env)?,
            None => {
                return Err(format!(
                "'{text}' is not K/N, auto/N or auto (for example 2/5: the second of five slices)"
            ))
            }
        };
        let index = if k == "auto" {
            index_from_env(env)?
        } else {
            parse_count(k, "K")?
        };
        if index > count {
            return Err(format!(
                "slice {index} of {count} does not exist (K runs from 1 to N)"
            ));
        }
        Ok(Partition { index, count })
    }

    /// The directory (or object prefix) name of this slice's part.
    pub fn dir_name(&self) -> String {
        format!("part-{}-of-{}", self.index, self.count)
    }
}

fn parse_count(s: &str, what: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_SLICES).contains(&n) => Ok(n),
        _ => Err(format!(
            "{what} must be a whole number from 1 to {MAX_SLICES}, not '{s}'"
        )),
    }
}

/// A 0-based index variable's value, as a number.
fn var_number(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<i64>, String> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{name}='{v}' is not a whole number")),
    }
}

/// K (1-based) from the first array-index variable that is set.
fn index_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<usize, String> {
    for name in INDEX_VARIABLES {
        let Some(i) = var_number(env, name)? else {
            continue;
        };
        // Slurm numbers tasks as `--array` says (0-4 or 1-5): count from the first one.
        let base = if name == "SLURM_ARRAY_TASK_ID" {
            var_number(env, "SLURM_ARRAY_TASK_MIN")?.unwrap_or(0)
        } else {
            0
        };
        let k = i - base;
        if k < 0 {
            return Err(format!("{name}={i} is below the first index {base}"));
        }
        return Ok(k as usize + 1);
    }
    Err(format!(
        "--partition auto: none of {} is set (give K/N explicitly outside an array job)",
        INDEX_VARIABLES.join(", ")
    ))
}

fn slurm_count(env: &dyn Fn(&str) -> Option<String>) -> Result<usize, String> {
    match env("SLURM_ARRAY_TASK_COUNT") {
        Some(n) => parse_count(n.trim(), "SLURM_ARRAY_TASK_COUNT"),
        None => Err(
            "--partition auto needs SLURM_ARRAY_TASK_COUNT; elsewhere give the slice count: auto/N"
                .into(),
        ),
    }
}

/// The expected cost of running a point: its executions.
fn point_weight(spec: &SweepSpec) -> u64 {
    u64::from(spec.repetitions)
}

/// Assigns `weights.len()` units to `n` slices: heaviest first (canonical order among equals),
/// each to the least-loaded slice (lowest slice among equals). Each slice's units come back in
/// canonical order.
pub fn assign(weights: &[u64], n: usize) -> Vec<Vec<usize>> {
    let n = n.max(1);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| weights[*b].cmp(&weights[*a]).then(a.cmp(b)));
    let mut load = vec![0u64; n];
    let mut slices: Vec<Vec<usize>> = vec![Vec::new(); n];
    for unit in order {
        let mut best = 0;
        for s in 1..n {
            if load[s] < load[best] {
                best = s;
            }
        }
        load[best] = load[best].saturating_add(weights[unit]);
        slices[best].push(unit);
    }
    for s in &mut slices {
        s.sort_unstable();
    }
    slices
}

/// Every slice's points (indexes into `spec.points()`), slice 1 first.
pub fn slices(spec: &SweepSpec, count: usize) -> Vec<Vec<usize>> {
    let points = spec.points().len();
    assign(&vec![point_weight(spec); points], count)
}

/// The points slice `p` runs.
pub fn points_of(spec: &SweepSpec, p: Partition) -> Vec<usize> {
    slices(spec, p.count)
        .into_iter()
        .nth(p.index - 1)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn explicit_slices() {
        assert_eq!(
            Partition::parse("2/5", &no_env),
            Ok(Partition { index: 2, count: 5 })
        );
        assert_eq!(Partition::parse(" 1 / 1 ", &no_env).unwrap().count, 1);
        for bad in ["0/5", "6/5", "x/5", "2/0", "2", "", "2/5/1", "-1/5"] {
            assert!(Partition::parse(bad, &no_env).is_err(), "{bad}");
        }
        assert_eq!(Partition { index: 3, count: 4 }.dir_name(), "part-3-of-4");
    }

    #[test]
    fn greedy_balances_by_weight_and_is_canonical() {
        assert_eq!(assign(&[1, 1, 1, 1, 1], 2), vec![vec![0, 2, 4], vec![1, 3]]);
        // Heaviest first: 5 alone, then 3+2 against it.
        assert_eq!(assign(&[2, 5, 3], 2), vec![vec![1], vec![0, 2]]);
        // More slices than units: the extra slices are empty.
        assert_eq!(assign(&[1], 3), vec![vec![0], vec![], vec![]]);
        // Every unit exactly once, for any N.
        for n in 1..7 {
            let mut all: Vec<usize> = assign(&[3, 1, 4, 1, 5, 9, 2, 6], n).concat();
            all.sort_unstable();
            assert_eq!(all, (0..8).collect::<Vec<_>>());
        }
    }
}
