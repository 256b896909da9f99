//! Running the `stepsim` binary from integration tests.

#![allow(dead_code)] // each test crate uses a different subset of these helpers

use std::process::Command;

use serde_json::Value;

/// Runs `stepsim ARGS` in the crate's folder: `(exit code, stdout, stderr)`.
pub fn stepsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("stepsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `--json` document without `wall_ms` (the one field that differs run to run).
pub fn json_without_wall(text: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).expect("valid JSON");
    v.as_object_mut().unwrap().remove("wall_ms");
    v
}
