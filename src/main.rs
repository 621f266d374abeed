//! `tessera`: see `tessera --help`.

use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    // SAFETY: no other thread exists yet.
    unsafe { tessera::server::tune_allocator() };
    let cli = tessera::cli::Cli::parse();
    let _flush_on_exit = tessera::logging::init();
    match actix_web::rt::System::new().block_on(tessera::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
