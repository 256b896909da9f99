//! Workloads: in-process Lambda handlers. The built-in kinds used by tests and the conformance
//! corpus live in [`builtin`]; workload packs (such as COSMIC-AI) add their kinds to a
//! [`HandlerCatalog`] the same way.

pub mod builtin;
pub mod cosmic;
pub mod params;

use serde_json::Value;

use crate::sim::function::HandlerCatalog;

/// A catalog with every handler kind this crate ships: the built-ins (and, as they are added,
/// the workload packs).
pub fn default_catalog() -> HandlerCatalog {
    let mut catalog = HandlerCatalog::new();
    builtin::register(&mut catalog);
    cosmic::register(&mut catalog);
    catalog
}

/// Object generators that workload packs offer, by name (`cosmic.dataset`, ...). A generator
/// turns its parameters into S3 objects `(bucket, key, body)`, deterministically; projects
/// name them in `[[seed]]` entries.
pub type SeedGenerator = fn(&Value) -> Result<Vec<(String, String, Vec<u8>)>, String>;

/// A seed generator by name; the workload packs offer these.
pub fn seed_generator(name: &str) -> Option<SeedGenerator> {
    match name {
        "cosmic.dataset" => Some(cosmic::generate_seed_objects),
        "cosmic.paper_dataset" => Some(cosmic::paper::generate_dataset),
        _ => None,
    }
}
