//! The `campuscore` binary: parse the command line, then hand over to the library.

use clap::Parser;

/// mimalloc instead of glibc's malloc: fewer instructions per allocation (a browse makes a
/// few thousand; glibc's malloc and free were a fifth of its instructions), and memory freed
/// on one thread is reused by the others instead of staying in per-thread arenas
/// (bench/RESULTS.md, `browse`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = campuscore::cli::Cli::parse();
    campuscore::telemetry::init();
    campuscore::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(campuscore::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
