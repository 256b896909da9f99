//! `stepsim sweep`: deterministic parameter sweeps and their reports. A spec names a project,
//! a grid of input or function-configuration parameters and the repetitions; [`run`] executes
//! every point on every core, and [`report`] writes CSV, JSON, Markdown and SVG charts.
//! [`partition`] cuts the grid into slices for other machines and [`part`] merges their
//! results into the same reports.

pub mod chart;
pub mod figures;
pub mod fit;
pub mod noise;
pub mod part;
pub mod part_store;
pub mod partition;
pub mod report;
pub mod run;
pub mod spec;
pub mod summary;

pub use partition::Partition;
pub use run::{Row, SweepError, SweepOptions};
pub use spec::{SpecError, SweepSpec};
