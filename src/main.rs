//! The `stepsim` binary: everything lives in [`stepsim::cli`].

// A simulation allocates many small JSON values; mimalloc handles them markedly faster than the
// system allocator (see benches/engine.rs, which uses it too).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Like other Unix tools, exit quietly when the reader of our output goes away
    // (`stepsim test | head`), instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any thread
    // exists, has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(stepsim::cli::main());
}
