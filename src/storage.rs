//! S3 as the simulation sees it, backed by `object_store`: in memory, a local folder, or (with
//! the `s3` feature) a real S3 endpoint.
