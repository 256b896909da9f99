//! Workloads: in-process Lambda handlers. The built-in kinds used by tests and the conformance
//! corpus, and the COSMIC-AI pack.
