//! `stepsim sweep SPEC --out DIR`: runs a parameter sweep on every core and writes its reports.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use crate::project::Project;
use crate::sweep::report;
use crate::sweep::{run, SweepOptions, SweepSpec};

use super::{EXIT_OK, EXIT_USAGE};

/// Arguments of `stepsim sweep`.
#[derive(Debug, clap::Args)]
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

Example:
  stepsim sweep asl-examples/cosmic-ai/sweep.toml --out out/cosmic")]
pub struct SweepArgs {
    /// The sweep spec (TOML).
    pub spec: PathBuf,
    /// The output folder (created if missing).
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
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: SweepArgs) -> i32 {
    let mut spec = match SweepSpec::load(&args.spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepsim sweep: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    if let Some(r) = args.repetitions {
        if r == 0 {
            eprintln!("stepsim sweep: --repetitions must be at least 1");
            return EXIT_USAGE;
        }
        spec.repetitions = r;
    }
    let project = match Project::load(&spec.definition) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stepsim sweep: {}: definition: {e}", args.spec.display());
            return EXIT_USAGE;
        }
    };
    if let Err(e) = run::check(&spec, &project) {
        eprintln!("stepsim sweep: {}: {e}", args.spec.display());
        return EXIT_USAGE;
    }
    if let Err(e) = std::fs::create_dir_all(&args.out).and_then(|_| {
        let probe = args.out.join(".stepsim-write-test");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)
    }) {
        eprintln!(
            "stepsim sweep: cannot write to the output folder {}: {e}",
            args.out.display()
        );
        return EXIT_USAGE;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let interactive = !args.quiet && std::io::stderr().is_terminal();
    let total = spec.points().len() * spec.repetitions as usize;
    let bar = if interactive {
        let b = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} executions  {elapsed} (eta {eta})",
        ) {
            b.set_style(style);
        }
        Some(b)
    } else {
        None
    };
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
    let rows = match run::run(&spec, &project, &opts, &progress) {
        Ok(r) => r,
        Err(e) => {
            if let Some(b) = &bar {
                b.abandon();
            }
            eprintln!("stepsim sweep: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall = started.elapsed();
    let files = match report::write_all(&args.out, &spec, &rows) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "stepsim sweep: cannot write the reports in {}: {e}",
                args.out.display()
            );
            return EXIT_USAGE;
        }
    };
    if !args.quiet {
        print_summary(&spec, &rows);
        let failed = rows.iter().filter(|r| r.status != "SUCCEEDED").count();
        println!(
            "\n{} executions ({} failed) in {:.2} s of host time on {jobs} thread(s); wrote {} in {}",
            rows.len(),
            failed,
            wall.as_secs_f64(),
            files.join(", "),
            args.out.display()
        );
    }
    EXIT_OK
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
