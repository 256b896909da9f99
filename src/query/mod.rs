//! Data paths and expressions: reference paths, JSONPath, payload templates, intrinsic
//! functions and JSONata. Pure functions over `serde_json::Value`; nothing here knows about
//! time, tasks or services.
pub mod jsonata;
