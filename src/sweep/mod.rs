//! `stepsim sweep`: deterministic parameter sweeps and their reports. A spec names a project,
//! a grid of input or function-configuration parameters and the repetitions; [`run`] executes
//! every point on every core, and [`report`] writes CSV, JSON, Markdown and SVG charts.

pub mod chart;
pub mod report;
pub mod run;
pub mod spec;

pub use run::{Row, SweepError, SweepOptions};
pub use spec::{SpecError, SweepSpec};
