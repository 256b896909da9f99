//! `stepsim validate FILE...`: reports every problem of every definition.
//!
//! Text output is one line per problem, `file:line:col: pointer: message`, which editors and CI
//! annotators understand. `--json` prints one document for tools.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{ValidateArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// Expands the arguments into definition files: a file as is; a folder with a
/// `state-machine.asl.json` means that file; any other folder means every `*.asl.json` below it.
pub fn definition_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for a in args {
        if a.is_file() {
            out.push(a.clone());
        } else if a.is_dir() {
            let direct = a.join("state-machine.asl.json");
            if direct.is_file() {
                out.push(direct);
            } else {
                let before = out.len();
                let files = crate::project::files_below(a, 16)
                    .map_err(|e| format!("{}: {e}", a.display()))?;
                out.extend(
                    files
                        .into_iter()
                        .filter(|p| p.to_string_lossy().ends_with(".asl.json")),
                );
                if out.len() == before {
                    return Err(format!("{}: no *.asl.json definitions found", a.display()));
                }
            }
        } else {
            return Err(format!("{}: no such file or folder", a.display()));
        }
    }
    Ok(out)
}

pub fn run(args: ValidateArgs) -> i32 {
    let files = match definition_files(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("stepsim validate: {e}");
            return EXIT_USAGE;
        }
    };
    let mut any_invalid = false;
    let mut reports = Vec::new();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("stepsim validate: cannot read {}: {e}", file.display());
                return EXIT_USAGE;
            }
        };
        let (_, diags) = crate::asl::check_str(&text);
        any_invalid |= !diags.is_empty();
        if args.json {
            reports.push(json!({
                "file": file.display().to_string(),
                "valid": diags.is_empty(),
                "problems": diags.iter().map(|d| d.to_json()).collect::<Vec<Value>>(),
            }));
        } else if diags.is_empty() {
            println!("{}: valid", file.display());
        } else {
            for d in &diags {
                let pos = d
                    .position
                    .map(|p| format!("{}:{}", p.line, p.column))
                    .unwrap_or_else(|| "1:1".into());
                let ptr = if d.pointer.is_empty() {
                    "/"
                } else {
                    &d.pointer
                };
                println!("{}:{pos}: {ptr}: {}", file.display(), d.message);
            }
        }
    }
    if args.json {
        let doc = json!({ "valid": !any_invalid, "files": reports });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else if files.len() > 1 || any_invalid {
        let bad = if any_invalid {
            "problems found"
        } else {
            "all valid"
        };
        eprintln!("{} definition(s) checked: {bad}", files.len());
    }
    if any_invalid {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}
