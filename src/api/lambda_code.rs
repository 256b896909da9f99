//! Uploaded function code under `serve`: CreateFunction and UpdateFunctionCode with a
//! `Code.ZipFile` on a runtime stepsim can run (python3.x, nodejs, provided.*) install the zip
//! in a folder of the server's and bind the function to a [`ProcessHandler`], which runs the
//! code through the Lambda Runtime API exactly as a functions file's `code = "folder"` does.
//!
//! The zip reader is the small subset Lambda packages use (stored and deflated entries, no
//! ZIP64, no encryption), over `miniz_oxide`; entries that would land outside the folder
//! (absolute paths, `..`) are refused.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::sim::runtime::{DurationMode, ProcessHandler, UserCode};
use crate::sim::Handler;

use super::error::ApiError;
use super::state::ApiState;

/// Largest unzipped package (Lambda's limit for zip packages: 250 MB).
const MAX_UNZIPPED: usize = 250 * 1024 * 1024;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidParameterValueException", message)
}

/// The bytes of `Code.ZipFile` (base64 in the request), if given.
pub fn zip_file(members: &Map<String, Value>) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(code) = members.get("Code").and_then(Value::as_object) else {
        return Ok(None);
    };
    match code.get("ZipFile") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map(Some)
            .map_err(|e| invalid(format!("Code.ZipFile is not base64: {e}"))),
        Some(_) => Err(invalid("Code.ZipFile must be a base64 string")),
    }
}

/// Whether a runtime identifier is one whose uploaded code stepsim runs.
pub fn runs_code(runtime: &str) -> bool {
    crate::sim::runtime::Language::of(runtime).is_ok()
}

/// The folder that holds function `name`'s code on this server.
pub fn code_dir(state: &ApiState, name: &str) -> PathBuf {
    let server = state as *const ApiState as usize;
    std::env::temp_dir()
        .join(format!("stepsim-functions-{}", std::process::id()))
        .join(format!("{server:x}"))
        .join(name)
}

/// Unpacks `zip` as function `name`'s code, replacing what was there.
pub fn install(state: &ApiState, name: &str, zip: &[u8]) -> Result<PathBuf, ApiError> {
    let dir = code_dir(state, name);
    let fail = |e: std::io::Error| {
        ApiError::internal(format!(
            "cannot write the code of {name} to {}: {e}",
            dir.display()
        ))
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(fail)?;
    }
    std::fs::create_dir_all(&dir).map_err(fail)?;
    unzip(zip, &dir).map_err(|m| invalid(format!("Code.ZipFile: {m}")))?;
    Ok(dir)
}

/// The handler that runs function `name`'s installed code.
pub fn handler(
    state: &ApiState,
    name: &str,
    runtime: &str,
    handler: &str,
    env: &Map<String, Value>,
) -> Result<Arc<dyn Handler>, ApiError> {
    let environment: BTreeMap<String, String> = env
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect();
    let code = UserCode {
        runtime: runtime.to_string(),
        handler: handler.to_string(),
        code_dir: code_dir(state, name),
        environment,
        duration: DurationMode::Model,
    };
    let h = ProcessHandler::new(code).map_err(|(key, m)| {
        let field = match key {
            "runtime" => "Runtime",
            "handler" => "Handler",
            _ => "Code",
        };
        invalid(format!("{field}: {m}"))
    })?;
    Ok(Arc::new(h))
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)).ok()
}

/// A relative path inside the folder, or `None` for one that would escape it.
fn safe_path(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Unpacks a zip archive into `dir`; returns the number of files. Unix permissions stored in
/// the archive are kept (a `provided.*` function's `bootstrap` must stay executable).
pub fn unzip(zip: &[u8], dir: &Path) -> Result<usize, String> {
    let bad = |what: &str| format!("not a zip archive stepsim can read ({what})");
    // End of central directory: 22 bytes plus a comment of up to 64 KiB, at the end.
    let min = zip.len().saturating_sub(22 + 65_535);
    let eocd = (min..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| zip.get(i..i + 4) == Some(b"PK\x05\x06"))
        .ok_or_else(|| bad("no end of central directory"))?;
    let entries = u16_at(zip, eocd + 10).ok_or_else(|| bad("short directory"))?;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(|| bad("short directory"))?;
    let mut files = 0usize;
    let mut total = 0usize;
    for _ in 0..entries {
        if zip.get(at..at + 4) != Some(b"PK\x01\x02") {
            return Err(bad("broken central directory"));
        }
        let field = |off: usize| u16_at(zip, at + off).ok_or_else(|| bad("short entry"));
        let method = field(10)?;
        let compressed = u32_at(zip, at + 20).ok_or_else(|| bad("short entry"))?;
        let size = u32_at(zip, at + 24).ok_or_else(|| bad("short entry"))?;
        let (name_len, extra_len, comment_len) = (field(28)?, field(30)?, field(32)?);
        let external = u32_at(zip, at + 38).ok_or_else(|| bad("short entry"))?;
        let local = u32_at(zip, at + 42).ok_or_else(|| bad("short entry"))?;
        let name_bytes = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad("short name"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if compressed == 0xFFFF_FFFF || size == 0xFFFF_FFFF {
            return Err(bad("ZIP64"));
        }
        let rel =
            safe_path(&name).ok_or_else(|| format!("entry `{name}` points outside the folder"))?;
        let path = dir.join(&rel);
        if name.ends_with('/') {
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            continue;
        }
        if zip.get(local..local + 4) != Some(b"PK\x03\x04") {
            return Err(bad("broken local header"));
        }
        let start = local
            + 30
            + u16_at(zip, local + 26).unwrap_or(0)
            + u16_at(zip, local + 28).unwrap_or(0);
        let data = zip
            .get(start..start + compressed)
            .ok_or_else(|| bad("entry past the end"))?;
        total += size;
        if total > MAX_UNZIPPED {
            return Err(format!("unzipped, the code exceeds {MAX_UNZIPPED} bytes"));
        }
        let bytes = match method {
            0 => data.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, size.max(1))
                .map_err(|e| format!("entry `{name}`: bad deflate data ({e:?})"))?,
            m => {
                return Err(format!(
                    "entry `{name}`: compression method {m} is not supported (use deflate)"
                ))
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let mode = (external >> 16) & 0o777;
        if mode != 0 {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(u32::try_from(mode).unwrap_or(0o644));
            std::fs::set_permissions(&path, perms)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        files += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip with one file, built by hand.
    fn stored_zip(name: &str, body: &[u8], mode: u32) -> Vec<u8> {
        let mut z = Vec::new();
        let crc = 0u32; // not checked
        let local = z.len();
        z.extend_from_slice(b"PK\x03\x04");
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&(body.len() as u32).to_le_bytes());
        z.extend_from_slice(&(body.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(body);
        let cd = z.len();
        z.extend_from_slice(b"PK\x01\x02");
        z.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&(body.len() as u32).to_le_bytes());
        z.extend_from_slice(&(body.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&(mode << 16).to_le_bytes());
        z.extend_from_slice(&(local as u32).to_le_bytes());
        z.extend_from_slice(name.as_bytes());
        let cd_len = z.len() - cd;
        z.extend_from_slice(b"PK\x05\x06");
        z.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
        z.extend_from_slice(&(cd_len as u32).to_le_bytes());
        z.extend_from_slice(&(cd as u32).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z
    }

    #[test]
    fn unzips_stored_entries_and_refuses_escapes() {
        let dir = std::env::temp_dir().join(format!("stepsim-unzip-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let z = stored_zip("pkg/app.py", b"x = 1\n", 0o755);
        assert_eq!(unzip(&z, &dir).unwrap(), 1);
        assert_eq!(std::fs::read(dir.join("pkg/app.py")).unwrap(), b"x = 1\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("pkg/app.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        let e = unzip(&stored_zip("../evil", b"", 0), &dir).unwrap_err();
        assert!(e.contains("outside"), "{e}");
        assert!(unzip(b"not a zip", &dir).unwrap_err().contains("not a zip"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
