//! The command line. `main.rs` only calls [`main`]; each subcommand lives in its own module and
//! returns the process exit code.
//!
//! Exit codes follow one rule across subcommands: 0 success, 1 the thing checked or run failed
//! (invalid definition, failed execution, failing cases), 2 usage or I/O errors.

use clap::{Parser, Subcommand};

pub mod eval;
pub mod run;
pub mod serve;
pub mod sweep;
pub mod test;
pub mod validate;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when the definition is invalid, the execution failed, or cases failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code for usage and I/O errors, and for subcommands not built yet.
pub const EXIT_USAGE: i32 = 2;

/// stepsim runs AWS Step Functions workflows on one machine, offline and deterministically.
#[derive(Debug, Parser)]
#[command(name = "stepsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check state machine definitions and report every problem found.
    Validate(ValidateArgs),
    /// Run one execution of a state machine.
    Run(run::RunArgs),
    /// Run a workflow's test file (cases, mocks, expectations), or a conformance corpus.
    Test(test::TestArgs),
    /// Run a parameter sweep and write reports.
    Sweep(sweep::SweepArgs),
    /// Serve the Step Functions, Lambda, S3, CloudWatch Logs, IAM, DynamoDB, SQS, SNS and
    /// EventBridge APIs on localhost, with a web console.
    Serve(serve::ServeArgs),
    /// Evaluate one JSONata expression against an input document.
    Eval(eval::EvalArgs),
}

/// Arguments of `stepsim validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Definition files (JSON), or folders holding a `state-machine.asl.json`.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses the process arguments and runs the subcommand. Returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    run(cli)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Eval(args) => eval::run(args),
    }
}
