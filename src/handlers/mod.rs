//! Workloads: in-process Lambda handlers. The built-in kinds used by tests and the conformance
//! corpus live in [`builtin`]; workload packs (such as COSMIC-AI) add their kinds to a
//! [`HandlerCatalog`] the same way.

pub mod builtin;
pub mod cosmic;

use crate::sim::function::HandlerCatalog;

/// A catalog with every handler kind this crate ships: the built-ins (and, as they are added,
/// the workload packs).
pub fn default_catalog() -> HandlerCatalog {
    let mut catalog = HandlerCatalog::new();
    builtin::register(&mut catalog);
    cosmic::register(&mut catalog);
    catalog
}

/// A seed generator by name (see [`crate::project`]); the workload packs offer these.
pub fn seed_generator(name: &str) -> Option<crate::project::SeedGenerator> {
    match name {
        "cosmic.dataset" => Some(cosmic::generate_seed_objects),
        _ => None,
    }
}
