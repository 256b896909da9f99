//! `stepsim sweep`: deterministic parameter sweeps and their reports.
