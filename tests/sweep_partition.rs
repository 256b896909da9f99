//! Scale-out sweeps: `--partition K/N` parts merged by `stepsim sweep merge` give the same
//! bytes as the one-machine sweep for any N and grid shape; missing, overlapping, foreign and
//! unfinished parts are refused with the slices named; the array-job environment forms pick
//! the right slice; the README's shell-loop recipe works end to end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use stepsim::project::Project;
use stepsim::sweep::part::{self, SpecSource};
use stepsim::sweep::{partition, report, run, Partition, SweepOptions, SweepSpec};

const FIXTURE: &str = "tests/fixtures/lambda-chain";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

fn source(text: &str) -> (SpecSource, SweepSpec, Project) {
    let file = fixture().join("inline.toml");
    let spec = SweepSpec::parse(text, &file).expect("valid spec");
    let project = Project::load(&spec.definition).expect("project");
    let src = SpecSource {
        file: file.display().to_string(),
        text: text.to_string(),
        seed: spec.seed,
        repetitions: spec.repetitions,
    };
    (src, spec, project)
}

fn opts(jobs: usize) -> SweepOptions {
    SweepOptions {
        jobs,
        store: "memory".into(),
    }
}

/// Every file in `dir`, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The reports of the one-machine sweep.
fn whole(text: &str, out: &Path) -> BTreeMap<String, Vec<u8>> {
    let (_, spec, project) = source(text);
    let rows = run::run(&spec, &project, &opts(2), &|_, _| {}).unwrap();
    std::fs::create_dir_all(out).unwrap();
    report::write_all(out, &spec, &rows).unwrap();
    files(out)
}

/// Runs slice `k` of `n` into `parts/part-k-of-n/`.
fn run_slice(text: &str, k: usize, n: usize, parts: &Path) {
    let (src, spec, project) = source(text);
    let p = Partition { index: k, count: n };
    let points = partition::points_of(&spec, p);
    let rows = run::run_points(&spec, &project, &opts(1), &points, &|_, _| {}).unwrap();
    let hash = part::spec_hash(&src, &spec, &project, "memory");
    let f = part::part_files(&src, &hash, p, &points, &rows).unwrap();
    part::write_local(parts, p, &f).unwrap();
}

/// Merges the parts below `parts` into `out`.
fn merged(parts: &[PathBuf], out: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let (spec, rows) = part::merge(part::read_local(parts)?)?;
    std::fs::create_dir_all(out).unwrap();
    report::write_all(out, &spec, &rows).map_err(|e| e.to_string())?;
    Ok(files(out))
}

fn spec_text(sizes: &[usize], reps: u32, seed: u64) -> String {
    let names = ["n", "\"functions.work.memory_mb\"", "pad"];
    let values = [
        vec!["1", "2", "3"],
        vec!["256", "1024", "512"],
        vec!["\"a\"", "\"b\"", "\"c\""],
    ];
    let mut grid = String::new();
    for (i, size) in sizes.iter().enumerate() {
        grid.push_str(&format!(
            "{} = [{}]\n",
            names[i],
            values[i][..*size].join(", ")
        ));
    }
    format!(
        "name = \"partitioned\"\nrepetitions = {reps}\nseed = {seed}\nspacing_seconds = 30\nrecords = \"n * 10\"\n[grid]\n{grid}[set]\nitems = [1, 2]\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn any_partition_merges_to_the_one_machine_bytes(
        sizes in prop::collection::vec(1usize..=3, 1..=3).prop_filter("needs n", |s| !s.is_empty()),
        reps in 1u32..=2,
        seed in 0u64..1000,
    ) {
        let text = spec_text(&sizes, reps, seed);
        let tmp = tempfile::tempdir().unwrap();
        let want = whole(&text, &tmp.path().join("whole"));
        prop_assert!(want.contains_key("results.csv") && want.contains_key("report.md"));
        for n in 1..=5 {
            let parts = tmp.path().join(format!("parts-{n}"));
            for k in 1..=n {
                run_slice(&text, k, n, &parts);
            }
            let got = merged(&[parts], &tmp.path().join(format!("merged-{n}"))).unwrap();
            prop_assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
            for (name, bytes) in &want {
                prop_assert!(&got[name] == bytes, "{} differs for N = {}", name, n);
            }
        }
    }
}

const SPEC: &str = r#"
name = "partition errors"
repetitions = 2
seed = 5
[grid]
n = [1, 2, 3]
"functions.work.memory_mb" = [256, 1024]
[set]
items = [1, 2]
"#;

#[test]
fn a_missing_slice_is_named_with_its_points() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    for k in [1, 2, 4] {
        run_slice(SPEC, k, 5, &parts);
    }
    let e = merged(&[parts], &tmp.path().join("out")).unwrap_err();
    // 6 points over 5 slices: slice 3 holds point 2, slice 5 point 4.
    assert!(
        e.contains("slices 3/5, 5/5 missing: points 2, 4 not run"),
        "{e}"
    );
    assert!(!tmp.path().join("out").exists());
    // Slices that hold no point need no part: one point over three slices.
    let one = SPEC
        .replace("n = [1, 2, 3]", "n = [1]")
        .replace("[256, 1024]", "[256]");
    let parts = tmp.path().join("one");
    run_slice(&one, 1, 3, &parts);
    let got = merged(&[parts], &tmp.path().join("one-out")).unwrap();
    assert_eq!(got, whole(&one, &tmp.path().join("one-whole")));
}

#[test]
fn a_part_from_another_spec_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    run_slice(SPEC, 1, 2, &parts);
    run_slice(&SPEC.replace("seed = 5", "seed = 6"), 2, 2, &parts);
    let e = merged(&[parts], &tmp.path().join("out")).unwrap_err();
    assert!(e.contains("part-2-of-2 is from another sweep than"), "{e}");
    assert!(e.contains("part-1-of-2"), "{e}");
}

#[test]
fn overlapping_and_mixed_parts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_slice(SPEC, 1, 2, &a);
    run_slice(SPEC, 2, 2, &a);
    run_slice(SPEC, 2, 2, &b);
    let e = merged(&[a.clone(), b.join("part-2-of-2")], &tmp.path().join("out")).unwrap_err();
    assert!(e.contains("slice 2/2 is given twice"), "{e}");
    assert!(
        e.contains("a/part-2-of-2 and") && e.contains("b/part-2-of-2 overlap"),
        "{e}"
    );
    // Parts cut for another N.
    run_slice(SPEC, 1, 3, &b);
    let e = merged(&[b], &tmp.path().join("out")).unwrap_err();
    assert!(e.contains("every part must come from one N"), "{e}");
    // The whole set still merges.
    assert!(merged(&[a], &tmp.path().join("out")).is_ok());
}

#[test]
fn unfinished_and_tampered_parts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    run_slice(SPEC, 1, 2, &parts);
    run_slice(SPEC, 2, 2, &parts);
    // A worker that died before its manifest.
    let manifest = parts.join("part-2-of-2/manifest.json");
    let kept = std::fs::read(&manifest).unwrap();
    std::fs::remove_file(&manifest).unwrap();
    let e = merged(std::slice::from_ref(&parts), &tmp.path().join("out")).unwrap_err();
    assert!(e.contains("part-2-of-2: no readable manifest.json"), "{e}");
    std::fs::write(&manifest, &kept).unwrap();
    // A truncated rows file.
    let rows = parts.join("part-2-of-2/rows.jsonl");
    let text = std::fs::read_to_string(&rows).unwrap();
    let first_line = text.lines().next().unwrap().to_string() + "\n";
    std::fs::write(&rows, first_line).unwrap();
    let e = merged(std::slice::from_ref(&parts), &tmp.path().join("out")).unwrap_err();
    assert!(e.contains("executions, the manifest says"), "{e}");
    // A part whose manifest claims another stepsim version.
    std::fs::write(&rows, &text).unwrap();
    let m = String::from_utf8(kept).unwrap().replace(
        &format!("\"stepsim_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"stepsim_version\": \"0.0.0-other\"",
    );
    std::fs::write(&manifest, m).unwrap();
    let e = merged(&[parts], &tmp.path().join("out")).unwrap_err();
    assert!(e.contains("written by stepsim 0.0.0-other"), "{e}");
    // Not a part at all.
    let e = merged(&[tmp.path().to_path_buf()], &tmp.path().join("out2")).unwrap_err();
    assert!(e.contains("no sweep part here"), "{e}");
}

#[test]
fn environment_forms_pick_the_slice() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let parse = |text: &str, pairs: &'static [(&'static str, &'static str)]| {
        Partition::parse(text, &env(pairs))
    };
    let p = |index, count| Ok(Partition { index, count });
    // Kubernetes Indexed Job and AWS Batch array indexes are 0-based.
    assert_eq!(parse("auto/5", &[("JOB_COMPLETION_INDEX", "0")]), p(1, 5));
    assert_eq!(
        parse("auto/5", &[("AWS_BATCH_JOB_ARRAY_INDEX", "4")]),
        p(5, 5)
    );
    // Slurm counts from the first task of --array, and exports the count.
    assert_eq!(
        parse(
            "auto",
            &[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4")
            ]
        ),
        p(3, 4)
    );
    assert_eq!(
        parse(
            "auto",
            &[
                ("SLURM_ARRAY_TASK_ID", "0"),
                ("SLURM_ARRAY_TASK_COUNT", "2")
            ]
        ),
        p(1, 2)
    );
    // Errors name what is wrong.
    let err = |text: &str, pairs: &'static [(&'static str, &'static str)]| {
        parse(text, pairs).unwrap_err()
    };
    assert!(err("auto/5", &[]).contains("JOB_COMPLETION_INDEX"));
    assert!(err("auto", &[("JOB_COMPLETION_INDEX", "0")]).contains("auto/N"));
    assert!(err("auto/5", &[("JOB_COMPLETION_INDEX", "5")]).contains("slice 6 of 5"));
    assert!(err("auto/5", &[("JOB_COMPLETION_INDEX", "x")]).contains("JOB_COMPLETION_INDEX='x'"));
    assert!(err(
        "auto/5",
        &[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1")]
    )
    .contains("below the first index"));
}

fn stepsim(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepsim"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for v in partition::INDEX_VARIABLES
        .iter()
        .chain(&["SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"])
    {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The README's plain-shell recipe, through the binary: three workers (one from an array-job
/// variable), then the merge, give the one-machine bytes.
#[test]
fn the_cli_shell_recipe_matches_the_one_machine_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("{FIXTURE}/sweep.toml");
    let dir = |name: &str| tmp.path().join(name).display().to_string();
    let (code, _, err) = stepsim(&["sweep", &spec, "--out", &dir("whole"), "-q"], &[]);
    assert_eq!(code, 0, "{err}");
    let script = format!(
        "set -e; for k in 1 3; do \"$STEPSIM\" sweep {spec} --partition $k/3 --out {parts} -q --jobs 1; done",
        parts = dir("parts")
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env("STEPSIM", env!("CARGO_BIN_EXE_stepsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Before the last worker: the merge names the missing slice and writes nothing.
    let (code, _, err) = stepsim(
        &["sweep", "merge", &dir("parts"), "--out", &dir("merged")],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("slice 2/3 missing"), "{err}");
    assert!(!tmp.path().join("merged").exists());
    // The second worker as a Kubernetes Indexed Job pod (index 1 of 3).
    let (code, stdout, err) = stepsim(
        &[
            "sweep",
            &spec,
            "--partition",
            "auto/3",
            "--out",
            &dir("parts"),
        ],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("slice 2/3"), "{stdout}");
    assert!(tmp.path().join("parts/part-2-of-3/manifest.json").is_file());
    let (code, stdout, err) = stepsim(
        &["sweep", "merge", &dir("parts"), "--out", &dir("merged")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("12 executions"), "{stdout}");
    let want = files(&tmp.path().join("whole"));
    let got = files(&tmp.path().join("merged"));
    assert_eq!(want.len(), 8, "{:?}", want.keys());
    assert_eq!(want, got);
    // Bad forms are refused before any work.
    let (code, _, err) = stepsim(
        &["sweep", &spec, "--partition", "4/3", "--out", &dir("x")],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--partition: slice 4 of 3 does not exist"),
        "{err}"
    );
    let (code, _, err) = stepsim(
        &["sweep", &spec, "--partition", "auto/3", "--out", &dir("x")],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("none of JOB_COMPLETION_INDEX"), "{err}");
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn an_s3_out_without_the_feature_says_how_to_get_it() {
    if cfg!(feature = "s3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("{FIXTURE}/sweep.toml");
    let (code, _, err) = stepsim(
        &[
            "sweep",
            &spec,
            "--partition",
            "1/2",
            "--out",
            "s3://bucket/sweeps/x",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--features s3"), "{err}");
    let (code, _, err) = stepsim(
        &[
            "sweep",
            "merge",
            "s3://bucket/sweeps/x",
            "--out",
            &tmp.path().display().to_string(),
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--features s3"), "{err}");
}
