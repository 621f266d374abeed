//! `tessera`: see `tessera --help`.

use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // SAFETY: no other thread exists yet.
    unsafe { tessera::server::tune_allocator() };
    let cli = tessera::cli::Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Lines go to a background thread that writes them in batches (one write for many lines
    // under load, flushed whenever it catches up), so a request never waits on stderr. If that
    // thread falls 128k lines behind, further lines are dropped rather than slow the server.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking(
        std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()),
    );
    // Colours only for a person at a terminal, not in files and log pipelines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_env_filter(filter);
    // One JSON object a line for log pipelines; readable text otherwise.
    if std::env::var("TESSERA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    match actix_web::rt::System::new().block_on(tessera::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
