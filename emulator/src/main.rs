//! The `lambda-emulator` program: parse the command line, then hand over to the supervisor.

use std::process::ExitCode;

use lambda_emulator::cli::{self, Command, HELP};

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("lambda-emulator {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("lambda-emulator: {err}\nTry `lambda-emulator --help`.");
            return ExitCode::from(2);
        }
    };
    run(options)
}

#[cfg(unix)]
fn run(options: cli::Options) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lambda-emulator: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(lambda_emulator::supervisor::run(options));
    // Children's output tasks may still be blocked on pipes held open by leftover processes.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

#[cfg(not(unix))]
fn run(_options: cli::Options) -> ExitCode {
    eprintln!("lambda-emulator: only Unix-like systems (Linux, macOS) are supported");
    ExitCode::FAILURE
}
