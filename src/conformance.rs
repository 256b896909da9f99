//! `stepsim test`: runs a corpus of recorded cases (the format of the shared conformance
//! folder: one JSON file per case under `cases/<category>/`) and scores them.
//!
//! This module owns the corpus format: finding it, loading cases, and deciding whether an
//! outcome matches a recording (placeholders included).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One recorded case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The case file, relative to the corpus root.
    pub file: PathBuf,
    pub name: String,
    pub category: String,
    /// The whole case document.
    pub doc: Value,
}

impl Case {
    pub fn definition(&self) -> &Value {
        &self.doc["definition"]
    }
    pub fn input(&self) -> &Value {
        &self.doc["input"]
    }
    pub fn expected(&self) -> &Value {
        &self.doc["expected"]
    }
    /// The expected status: SUCCEEDED, FAILED, TIMED_OUT or CREATE_FAILED.
    pub fn expected_status(&self) -> &str {
        self.doc["expected"]["status"].as_str().unwrap_or("")
    }
    /// `STANDARD` or `EXPRESS`.
    pub fn machine_type(&self) -> &str {
        self.doc["state_machine_type"].as_str().unwrap_or("STANDARD")
    }
}

/// Errors while reading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid case: {message}")]
    BadCase { path: PathBuf, message: String },
    #[error("{0} has no cases/ folder; is it a conformance corpus?")]
    NotACorpus(PathBuf),
}

/// The default corpus location: `$STEPSIM_CONFORMANCE_DIR`, else `../shared/conformance` next to
/// the crate. Returns `None` when neither exists (tests then skip with a message).
pub fn default_corpus_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("STEPSIM_CONFORMANCE_DIR") {
        let p = PathBuf::from(dir);
        return p.join("cases").is_dir().then_some(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    p.join("cases").is_dir().then_some(p)
}

/// Loads every case under `root/cases`, sorted by file path so runs are reproducible.
pub fn load_corpus(root: &Path) -> Result<Vec<Case>, CorpusError> {
    let cases_dir = root.join("cases");
    if !cases_dir.is_dir() {
        return Err(CorpusError::NotACorpus(root.to_path_buf()));
    }
    let mut files = Vec::new();
    let read = |p: &Path| {
        std::fs::read_dir(p).map_err(|source| CorpusError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    for cat in read(&cases_dir)? {
        let cat = cat.map_err(|source| CorpusError::Io {
            path: cases_dir.clone(),
            source,
        })?;
        if !cat.path().is_dir() {
            continue;
        }
        for f in read(&cat.path())? {
            let f = f.map_err(|source| CorpusError::Io {
                path: cat.path(),
                source,
            })?;
            if f.path().extension().is_some_and(|e| e == "json") {
                files.push(f.path());
            }
        }
    }
    files.sort();
    files.iter().map(|p| load_case(root, p)).collect()
}

/// Loads one case file.
pub fn load_case(root: &Path, path: &Path) -> Result<Case, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| CorpusError::BadCase {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let category = doc["category"]
        .as_str()
        .map(String::from)
        .or_else(|| {
            path.parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = doc["name"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    if !doc["definition"].is_object() {
        return Err(CorpusError::BadCase {
            path: path.to_path_buf(),
            message: "it has no 'definition' object".into(),
        });
    }
    Ok(Case {
        file: path.strip_prefix(root).unwrap_or(path).to_path_buf(),
        name,
        category,
        doc,
    })
}
