//! `stepsim test FILE`: the user's own workflow tests (a `*.test.toml`, or a folder holding
//! `tests.toml`; format in [`crate::testing::spec`]). Prints a summary with structural diffs,
//! or `--json`; writes `--junit FILE`; adds `--coverage`. Exit 1 when a case fails.

use crate::testing::report::{self, FileResult};
use crate::testing::spec::TestFile;

use super::test::TestArgs;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// Runs the test file `args.dir` names.
pub fn run(args: &TestArgs) -> i32 {
    let Some(path) = &args.dir else {
        return EXIT_USAGE;
    };
    let file = match TestFile::load(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("stepsim test: {e}");
            return EXIT_USAGE;
        }
    };
    let result = match report::run_file(&file, &args.filter) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stepsim test: {e}");
            return EXIT_USAGE;
        }
    };
    if result.cases.is_empty() {
        eprintln!("stepsim test: no case matches the filter");
        return EXIT_USAGE;
    }
    let results: Vec<FileResult> = vec![result];
    if let Some(junit) = &args.junit {
        if let Err(e) = std::fs::write(junit, report::junit(&results)) {
            eprintln!("stepsim test: cannot write {}: {e}", junit.display());
            return EXIT_USAGE;
        }
    }
    if args.json {
        let doc = report::to_json(&results, args.coverage);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", report::render(&results, args.coverage, args.verbose));
    }
    if results.iter().all(|f| f.passed() == f.cases.len()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
