//! The `stepsim` binary: everything lives in [`stepsim::cli`].

fn main() {
    std::process::exit(stepsim::cli::main());
}
