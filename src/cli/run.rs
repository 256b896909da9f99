//! `stepsim run DEFINITION`: one execution on virtual time, with its output, simulated
//! duration, bill and per-function summary; `--json` for tools.

use std::path::PathBuf;

use serde_json::Value;

use crate::asl::model::ExecutionType;
use crate::engine::{ExecutionStatus, HistoryMode};
use crate::project::{self, Project, RunOptions, RunReport};
use crate::sim::{BillingOptions, FaultPlan, InitBilling, LogCapture, MemoryBasis, PriceTable};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// Arguments of `stepsim run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A DEFINITION folder holds state-machine.asl.json, and optionally input.json, functions.toml,
project.toml and seed/. Exit status: 0 SUCCEEDED, 1 FAILED/TIMED_OUT/ABORTED, 2 usage errors.

Examples:
  stepsim run asl-examples/cosmic-ai
  stepsim run asl-examples/cosmic-ai --set world_size=4 --set batch_size=128 --json
  stepsim run machine.asl.json --input '{\"n\": 3}' --history --json")]
pub struct RunArgs {
    /// A definition file, or a project folder (see below).
    pub definition: PathBuf,
    /// The execution input: a JSON file, or inline JSON. Defaults to the folder's input.json.
    #[arg(long)]
    pub input: Option<String>,
    /// Set an input field: NAME=VALUE, NAME dotted (a.b) or a JSON pointer (/a/b); VALUE is
    /// JSON, or else a string. Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// The functions file (TOML). Defaults to the folder's functions.toml.
    #[arg(long)]
    pub functions: Option<PathBuf>,
    /// Where S3 lives: memory, dir:PATH (a local folder, buckets as subfolders), or
    /// s3://BUCKET?endpoint=URL (needs the `s3` feature).
    #[arg(long, default_value = "memory")]
    pub store: String,
    /// Fault injection file (TOML).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Price table override (TOML).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Seed of every random draw (latencies, cold starts, UUIDs). Same seed, same bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Execution name.
    #[arg(long, default_value = "run-1")]
    pub name: String,
    /// Run as an EXPRESS workflow (default STANDARD).
    #[arg(long)]
    pub express: bool,
    /// Include the execution history (AWS's GetExecutionHistory events).
    #[arg(long)]
    pub history: bool,
    /// Include the functions' log lines (START/END/REPORT and handler output).
    #[arg(long)]
    pub logs: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop a runaway execution after this many state transitions.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_transitions: u64,
    /// Do not enforce AWS's 25,000-event history limit.
    #[arg(long)]
    pub no_history_limit: bool,
    /// Bill INIT the pre-2025-08-01 way (free for zip + managed runtimes).
    #[arg(long)]
    pub legacy_init_billing: bool,
    /// Price Lambda GB-s on max memory used instead of configured memory (NOT how AWS
    /// bills; only to compare with tables that priced that way).
    #[arg(long)]
    pub max_memory_billing: bool,
    /// Simulated start time (RFC 3339). Default 2025-07-21T19:45:00Z.
    #[arg(long)]
    pub start_time: Option<String>,
    /// Do not check calls against the project's IAM roles (iam/).
    #[arg(long)]
    pub no_iam: bool,
    /// A Step Functions Local mock file (MockConfigFile.json); needs --test-case.
    #[arg(long, value_name = "FILE", requires = "test_case")]
    pub mock_config: Option<PathBuf>,
    /// The mock file's test case to run: its mocked states answer from the file, the others
    /// run against the simulated world.
    #[arg(long, value_name = "NAME", requires = "mock_config")]
    pub test_case: Option<String>,
    /// Write the execution's graph as SVG, each state coloured by its status (succeeded,
    /// failed, caught, not run).
    #[arg(long, value_name = "FILE.svg")]
    pub graph: Option<PathBuf>,
}

/// Turns the arguments into a project, an input and run options.
pub fn prepare(args: &RunArgs) -> Result<(Project, Value, RunOptions), String> {
    let mut project = Project::load(&args.definition).map_err(|e| e.to_string())?;
    if let Some(f) = &args.functions {
        project.use_functions_file(f).map_err(|e| e.to_string())?;
    }
    let mut input = match &args.input {
        Some(i) => project::parse_input_arg(i).map_err(|e| e.to_string())?,
        None => project.input.clone(),
    };
    for s in &args.set {
        project::set_input_field(&mut input, s).map_err(|e| e.to_string())?;
    }
    let mut opts = RunOptions {
        seed: args.seed,
        store: args.store.clone(),
        // The graph's colours come from the history.
        history: if args.history || args.graph.is_some() {
            HistoryMode::Full
        } else {
            HistoryMode::CountOnly
        },
        logs: if args.logs {
            LogCapture::All
        } else {
            LogCapture::Reports
        },
        execution_name: args.name.clone(),
        execution_type: if args.express {
            ExecutionType::Express
        } else {
            ExecutionType::Standard
        },
        max_transitions: args.max_transitions,
        history_limit: if args.no_history_limit {
            None
        } else {
            Some(crate::engine::HISTORY_EVENT_LIMIT)
        },
        billing: BillingOptions {
            init: if args.legacy_init_billing {
                InitBilling::Legacy
            } else {
                InitBilling::Since2025_08_01
            },
            memory: if args.max_memory_billing {
                MemoryBasis::MaxUsed
            } else {
                MemoryBasis::Configured
            },
        },
        iam: !args.no_iam,
        ..RunOptions::default()
    };
    if let Some(f) = &args.faults {
        // The message names the file and the line.
        opts.faults = FaultPlan::load(f)?;
    }
    if let Some(p) = &args.prices {
        opts.prices = PriceTable::load(p)?;
    }
    if let Some(t) = &args.start_time {
        opts.origin = chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("--start-time '{t}': {e}"))?
            .with_timezone(&chrono::Utc);
    }
    if crate::engine::execution::json_size_exceeds(&input, crate::engine::PAYLOAD_LIMIT_BYTES) {
        return Err(format!(
            "the input is over the {} byte limit AWS puts on execution input",
            crate::engine::PAYLOAD_LIMIT_BYTES
        ));
    }
    Ok((project, input, opts))
}

pub fn run(args: RunArgs) -> i32 {
    let (project, input, opts) = match prepare(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stepsim run: {e}");
            return EXIT_USAGE;
        }
    };
    let report = match &args.mock_config {
        Some(file) => crate::testing::load_test_case(
            &project,
            file,
            None,
            args.test_case.as_deref().unwrap_or_default(),
        )
        .map_err(|e| e.to_string())
        .and_then(|mocks| {
            crate::testing::run_mocked(&project, input, &opts, mocks)
                .map(|r| r.report)
                .map_err(|e| e.to_string())
        }),
        None => project::run_once(&project, input, &opts).map_err(|e| e.to_string()),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stepsim run: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(path) = &args.graph {
        let svg = crate::graph::execution_svg(&project.machine, &report.outcome.history, true);
        if let Err(e) = std::fs::write(path, svg) {
            eprintln!(
                "stepsim run: cannot write the graph to {}: {e}",
                path.display()
            );
            return EXIT_USAGE;
        }
    }
    if args.json {
        let doc = report.to_json(args.history, args.logs);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_report(&report, &args);
    }
    if report.outcome.status == ExecutionStatus::Succeeded {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn print_report(r: &RunReport, args: &RunArgs) {
    let o = &r.outcome;
    println!("execution   {}", o.execution_arn);
    println!("status      {}", o.status.as_str());
    if let Some(e) = &o.error {
        println!("error       {e}");
    }
    if let Some(c) = &o.cause {
        println!("cause       {}", shorten(c, 600));
    }
    println!(
        "duration    {:.3} s simulated ({} -> {}), {:.1} ms of host time",
        o.duration().as_secs_f64(),
        crate::engine::history::format_time(o.start_date),
        crate::engine::history::format_time(o.stop_date),
        r.wall.as_secs_f64() * 1000.0
    );
    println!(
        "states      {} transitions, {} history events{}",
        o.transitions,
        o.event_count,
        if o.children.is_empty() {
            String::new()
        } else {
            format!(", {} child executions", o.children.len())
        }
    );
    for m in &o.map_runs {
        // `mapRun:MACHINE/LABEL:ID`: the label names the Map state's run.
        let label = m
            .map_run_arn
            .rsplit(':')
            .nth(1)
            .and_then(|s| s.rsplit('/').next())
            .unwrap_or_default();
        let (e, i) = (&m.executions, &m.items);
        println!(
            "map run     {label} {}: {} child executions ({} succeeded, {} failed, {} timed out, \
             {} aborted), {} items",
            m.status.as_str(),
            e.total,
            e.succeeded,
            e.failed,
            e.timed_out,
            e.aborted,
            i.total
        );
    }
    if let Some(out) = &o.output {
        let text = serde_json::to_string_pretty(out).unwrap_or_default();
        println!(
            "output      {}",
            shorten(&text, 2000).replace('\n', "\n            ")
        );
    }
    println!(
        "\nbill        {} USD{}",
        r.bill.total.usd_exact(),
        r.bill
            .note
            .as_ref()
            .map(|n| format!("  ({n})"))
            .unwrap_or_default()
    );
    for l in &r.bill.lines {
        println!(
            "  {:<28} {:>14.3} {:<12} {:>16} USD",
            l.component,
            l.quantity,
            l.unit,
            l.amount.usd_exact()
        );
    }
    if !r.usage.functions.is_empty() {
        println!(
            "\n{:<28} {:>11} {:>5} {:>13} {:>9} {:>8} {:>8}",
            "function", "invocations", "cold", "mean ms", "billed ms", "throttle", "timeout"
        );
        for (name, f) in &r.usage.functions {
            let mean = if f.invocations > 0 {
                f.duration_ms / f.invocations as f64
            } else {
                0.0
            };
            println!(
                "{:<28} {:>11} {:>5} {:>13.1} {:>9} {:>8} {:>8}",
                name, f.invocations, f.cold_starts, mean, f.billed_ms, f.throttles, f.timeouts
            );
        }
    }
    if args.logs {
        println!("\nlogs");
        for l in &r.usage.logs {
            println!("  {} {} {}", l.timestamp, l.function, l.message);
        }
    }
    if args.history {
        println!("\nhistory");
        for e in &o.history {
            println!(
                "  {:>5} {} {}",
                e.id,
                crate::engine::history::format_time(e.timestamp),
                e.event_type
            );
        }
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{cut}… ({} characters in all)", s.chars().count())
    }
}
