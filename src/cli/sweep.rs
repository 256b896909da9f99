//! `stepsim sweep SPEC --out DIR`: runs a parameter sweep on every core and writes its reports;
//! with `--partition K/N` it runs one slice into a part, and `stepsim sweep merge` turns the
//! parts into the same reports.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::project::Project;
use crate::sweep::{part, part_store, partition, report};
use crate::sweep::{run, Partition, SweepOptions, SweepSpec};

use super::{EXIT_OK, EXIT_USAGE};

/// Arguments of `stepsim sweep`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(after_help = "\
Writes results.csv, summary.csv, results.json, report.md and SVG charts into --out.
The results are byte-identical for the same spec and seed, whatever --jobs is.

Spec keys (TOML; the README has a full example):
  definition             the project folder, relative to the spec (default \".\")
  [grid]                 parameter = [values]: an input field (dotted name or /pointer) or
                         functions.NAME.FIELD (memory_mb, timeout_seconds, architecture, runtime,
                         reserved_concurrency, provisioned_concurrency, ephemeral_storage_mb,
                         handler_cpu_ms)
  [set]                  input fields fixed for every execution
  repetitions, seed      runs per point (default 1) and the master seed (default 0)
  spacing_seconds, warm  time between a point's runs (default 60) and whether environments
                         stay warm across them (default true)
  records                \"world_size * batch_size\", { pointer = \"/output/n\" } or
                         { object = \"s3://b/{result_path}/x.json\", pointer = \"/n\" }
  kind                   \"grid\" or \"power-tuning\" (adds the cost/speed chart)
  [[baseline]]           measured figures per point, shown beside the simulated ones;
                         baseline_source, baseline_poll_seconds (durations timed by polling)
                         and notes go into report.md

Scale-out: --partition K/N runs one slice of the grid into OUT/part-K-of-N/, and
`stepsim sweep merge OUT --out DIR` writes the same reports as the one-machine run.

Example:
  stepsim sweep asl-examples/cosmic-ai/sweep.toml --out out/cosmic")]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The sweep spec (TOML).
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    /// The output folder (created if missing); with --partition, the part goes into
    /// OUT/part-K-of-N/, and OUT may be s3://BUCKET/PREFIX (built with the `s3` feature).
    #[arg(long, default_value = "sweep-out")]
    pub out: PathBuf,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where S3 lives during the sweep (each point gets its own store when `memory`).
    #[arg(long, default_value = "memory")]
    pub store: String,
    /// Override the spec's master seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the spec's repetitions.
    #[arg(long)]
    pub repetitions: Option<u32>,
    /// Run only the K-th (1-based) of N slices of the grid and write a part for `sweep merge`:
    /// K/N, auto/N (K from JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or
    /// AWS_BATCH_JOB_ARRAY_INDEX) or auto (N from SLURM_ARRAY_TASK_COUNT too).
    #[arg(long, value_name = "K/N")]
    pub partition: Option<String>,
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `stepsim sweep merge`.
#[derive(Debug, clap::Subcommand)]
pub enum SweepCommand {
    /// Merge the parts of a partitioned sweep into the reports a one-machine sweep writes.
    #[command(after_help = "\
Each PART is a part folder (part-K-of-N/) or a folder holding them, or an s3://BUCKET/PREFIX
holding them (built with the `s3` feature). The parts must come from one spec, seed and stepsim
version and cover the grid exactly once; the reports are then byte-identical to the ones
`stepsim sweep SPEC --out DIR` writes on one machine.

Example:
  for k in 1 2 3; do stepsim sweep sweep.toml --partition $k/3 --out parts -q; done
  stepsim sweep merge parts --out out")]
    Merge(MergeArgs),
}

/// Arguments of `stepsim sweep merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Part folders, folders of parts, or s3:// prefixes.
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<String>,
    /// The output folder for the reports (created if missing).
    #[arg(long, default_value = "sweep-out")]
    pub out: PathBuf,
    /// No summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What `run` needs after the spec and project are loaded and checked.
struct Loaded {
    spec: SweepSpec,
    project: Project,
    source: part::SpecSource,
}

fn load(args: &SweepArgs, spec_path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(spec_path)
        .map_err(|e| format!("{}: (file): {e}", spec_path.display()))?;
    let mut spec = SweepSpec::parse(&text, spec_path).map_err(|e| e.to_string())?;
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    if let Some(r) = args.repetitions {
        if r == 0 {
            return Err("--repetitions must be at least 1".into());
        }
        spec.repetitions = r;
    }
    let project = Project::load(&spec.definition)
        .map_err(|e| format!("{}: definition: {e}", spec_path.display()))?;
    run::check(&spec, &project).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let source = part::SpecSource {
        file: spec_path.display().to_string(),
        text,
        seed: spec.seed,
        repetitions: spec.repetitions,
    };
    Ok(Loaded {
        spec,
        project,
        source,
    })
}

/// Creates the output folder and checks it takes files.
fn check_out(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out)
        .and_then(|_| {
            let probe = out.join(".stepsim-write-test");
            std::fs::write(&probe, b"")?;
            std::fs::remove_file(&probe)
        })
        .map_err(|e| format!("cannot write to the output folder {}: {e}", out.display()))
}

/// The progress bar on an interactive terminal.
fn progress_bar(quiet: bool, total: usize) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bar:40} {pos}/{len} executions  {elapsed} (eta {eta})",
    ) {
        b.set_style(style);
    }
    Some(b)
}

pub fn run(args: SweepArgs) -> i32 {
    if let Some(SweepCommand::Merge(m)) = args.command {
        return merge(m);
    }
    let Some(spec_path) = args.spec.clone() else {
        eprintln!("stepsim sweep: name a spec, or `stepsim sweep merge PART... --out DIR`");
        return EXIT_USAGE;
    };
    let partition = match &args.partition {
        None => None,
        Some(p) => match Partition::parse(p, &|name| std::env::var(name).ok()) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("stepsim sweep: --partition: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let loaded = match load(&args, &spec_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("stepsim sweep: {e}");
            return EXIT_USAGE;
        }
    };
    let remote = part_store::is_remote(&args.out);
    if remote && partition.is_none() {
        eprintln!("stepsim sweep: an s3:// --out takes parts only: add --partition K/N, then `stepsim sweep merge` into a folder");
        return EXIT_USAGE;
    }
    let out_checked = if remote {
        part_store::check_remote(&args.out)
    } else {
        check_out(&args.out)
    };
    if let Err(e) = out_checked {
        eprintln!("stepsim sweep: {e}");
        return EXIT_USAGE;
    }
    let spec = &loaded.spec;
    let selected: Vec<usize> = match partition {
        Some(p) => partition::points_of(spec, p),
        None => (0..spec.points().len()).collect(),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let bar = progress_bar(args.quiet, selected.len() * spec.repetitions as usize);
    let started = Instant::now();
    let progress = |done: usize, _total: usize| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    };
    let opts = SweepOptions {
        jobs,
        store: args.store.clone(),
    };
    match partition {
        Some(p) if !remote => {
            let streamed = stream_part(&args, &loaded, p, &selected, &opts, &progress);
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            match streamed {
                Ok((place, executions)) => part_written(
                    &args,
                    p,
                    selected.len(),
                    executions,
                    started.elapsed(),
                    jobs,
                    &place,
                ),
                Err(e) => {
                    eprintln!("stepsim sweep: {e}");
                    EXIT_USAGE
                }
            }
        }
        _ => {
            let result = run::run_points(spec, &loaded.project, &opts, &selected, &progress);
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let rows = match result {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("stepsim sweep: {e}");
                    return EXIT_USAGE;
                }
            };
            let wall = started.elapsed();
            match partition {
                Some(p) => write_part(&args, &loaded, p, &selected, &rows, wall, jobs),
                None => write_reports(&args.out, spec, &rows, args.quiet, Some((wall, jobs))),
            }
        }
    }
}

/// Runs this slice into OUT/part-K-of-N/, each point's rows written as it finishes (no rows
/// kept); returns the folder and the number of executions.
fn stream_part(
    args: &SweepArgs,
    loaded: &Loaded,
    p: Partition,
    points: &[usize],
    opts: &SweepOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(String, usize), String> {
    let hash = part::spec_hash(&loaded.source, &loaded.spec, &loaded.project, &args.store);
    let mut writer = part::PartWriter::create(&args.out, p)?;
    run::run_points_into(
        &loaded.spec,
        &loaded.project,
        opts,
        points,
        progress,
        &mut |rows: Vec<crate::sweep::Row>| writer.push(&rows),
    )
    .map_err(|e| e.to_string())?;
    let executions = writer.executions();
    let manifest = part::manifest_bytes(&loaded.source, &hash, p, points, executions)?;
    let dir = writer.finish(&manifest)?;
    Ok((dir.display().to_string(), executions))
}

/// The line a worker prints when its part is written.
fn part_written(
    args: &SweepArgs,
    p: Partition,
    points: usize,
    executions: usize,
    wall: Duration,
    jobs: usize,
    place: &str,
) -> i32 {
    if !args.quiet {
        println!(
            "slice {p}: {points} points, {executions} executions in {:.2} s of host time on {jobs} thread(s); wrote {place}",
            wall.as_secs_f64()
        );
    }
    EXIT_OK
}

/// Writes this slice's part to the object store (rows held in memory until the upload).
fn write_part(
    args: &SweepArgs,
    loaded: &Loaded,
    p: Partition,
    points: &[usize],
    rows: &[crate::sweep::Row],
    wall: Duration,
    jobs: usize,
) -> i32 {
    let hash = part::spec_hash(&loaded.source, &loaded.spec, &loaded.project, &args.store);
    let written = part::part_files(&loaded.source, &hash, p, points, rows)
        .and_then(|files| part_store::write_remote(&args.out, p, &files));
    match written {
        Ok(place) => part_written(args, p, points.len(), rows.len(), wall, jobs, &place),
        Err(e) => {
            eprintln!("stepsim sweep: {e}");
            EXIT_USAGE
        }
    }
}

/// Writes every report into `out`, and prints the summary unless quiet.
fn write_reports(
    out: &Path,
    spec: &SweepSpec,
    rows: &[crate::sweep::Row],
    quiet: bool,
    timing: Option<(Duration, usize)>,
) -> i32 {
    let files = match report::write_all(out, spec, rows) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "stepsim sweep: cannot write the reports in {}: {e}",
                out.display()
            );
            return EXIT_USAGE;
        }
    };
    if !quiet {
        print_summary(spec, rows);
        let failed = rows.iter().filter(|r| r.status != "SUCCEEDED").count();
        let host = timing
            .map(|(wall, jobs)| {
                format!(
                    " in {:.2} s of host time on {jobs} thread(s)",
                    wall.as_secs_f64()
                )
            })
            .unwrap_or_default();
        println!(
            "\n{} executions ({} failed){host}; wrote {} in {}",
            rows.len(),
            failed,
            files.join(", "),
            out.display()
        );
    }
    EXIT_OK
}

/// `stepsim sweep merge PART... --out DIR`.
fn merge(args: MergeArgs) -> i32 {
    let mut parts = Vec::new();
    let mut local = Vec::new();
    for p in &args.parts {
        if part_store::is_remote(Path::new(p)) {
            match part_store::read_remote(p) {
                Ok(mut ps) => parts.append(&mut ps),
                Err(e) => {
                    eprintln!("stepsim sweep merge: {e}");
                    return EXIT_USAGE;
                }
            }
        } else {
            local.push(PathBuf::from(p));
        }
    }
    let merged = part::read_local(&local).and_then(|mut ps| {
        parts.append(&mut ps);
        part::merge(parts)
    });
    let (spec, rows) = match merged {
        Ok(m) => m,
        Err(e) => {
            eprintln!("stepsim sweep merge: {e}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = check_out(&args.out) {
        eprintln!("stepsim sweep merge: {e}");
        return EXIT_USAGE;
    }
    write_reports(&args.out, &spec, &rows, args.quiet, None)
}

fn print_summary(spec: &SweepSpec, rows: &[crate::sweep::Row]) {
    let points = report::summarize(spec, rows);
    let cols: Vec<String> = spec.grid.iter().map(|p| p.column()).collect();
    let mut header: Vec<String> = cols.iter().map(|c| format!("{c:>12}")).collect();
    header.extend(
        ["duration_s", "cost_usd", "throughput", "cold(1st)"]
            .iter()
            .map(|h| format!("{h:>12}")),
    );
    println!("{}", header.join(" "));
    for p in &points {
        let mut line: Vec<String> = p
            .values
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => format!("{s:>12}"),
                other => format!("{:>12}", other.to_string()),
            })
            .collect();
        let med = |m: &str, d: usize| {
            p.stats
                .get(m)
                .map(|s| format!("{:>12.d$}", s.median))
                .unwrap_or_else(|| format!("{:>12}", "-"))
        };
        line.push(med("duration_seconds", 2));
        line.push(med("cost_usd", 6));
        line.push(med("throughput_rps", 2));
        line.push(format!(
            "{:>12}",
            p.rows.first().map(|r| r.cold_starts).unwrap_or(0)
        ));
        println!("{}", line.join(" "));
    }
}
