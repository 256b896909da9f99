//! stepsim: an offline, deterministic simulator of AWS Step Functions.
//!
//! The crate is layered; a lower layer never imports an upper one:
//!
//! | layer        | modules                                  |
//! |--------------|------------------------------------------|
//! | language     | [`asl`], [`query`] (and the [`rng`] used by intrinsics) |
//! | interpreter  | [`engine`]                               |
//! | world model  | [`sim`], [`storage`]                     |
//! | workloads    | [`handlers`]                             |
//! | applications | [`project`] (shared by the others), [`sweep`], [`conformance`], [`api`], [`cli`] |
//!
//! See `DESIGN.md` in the project's shared folder for the reasoning behind the layers.

pub mod asl;
pub mod query;
pub mod rng;

pub mod engine;
pub mod graph;

pub mod sim;
pub mod storage;

pub mod handlers;

pub mod project;

pub mod api;
pub mod cli;
pub mod conformance;
pub mod sweep;
pub mod testing;
