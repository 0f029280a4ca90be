//! The `lambda-emulator` program (SPEC PKG-6, EMU-4): parse the command line, then hand over to
//! the supervisor, or print or send a sample event.

use std::io::Write;
use std::process::ExitCode;

use lambda_emulator::cli::{self, Command, HELP};
use lambda_emulator::{invoke, samples};

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
        Ok(Command::ListEvents) => {
            print!("{}", samples::listing());
            return ExitCode::SUCCESS;
        }
        Ok(Command::PrintEvent(name)) => return print_event(&name),
        Ok(Command::Invoke { port, event }) => return send_event(port, &event),
        Err(err) => {
            eprintln!("lambda-emulator: {err}\nTry `lambda-emulator --help`.");
            return ExitCode::from(2);
        }
    };
    run(options)
}

fn print_event(name: &str) -> ExitCode {
    match samples::find(name) {
        Some(sample) => {
            print!("{}", sample.json);
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "lambda-emulator: no sample event {name:?}; `lambda-emulator events` lists them"
            );
            ExitCode::from(2)
        }
    }
}

/// Prints the result on stdout; a function error or a failed call also says so on stderr and
/// exits 1.
fn send_event(port: u16, spec: &str) -> ExitCode {
    let answer = invoke::load_event(spec).and_then(|event| invoke::invoke(port, &event));
    match answer {
        Ok(answer) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&answer.body);
            if !answer.body.ends_with(b"\n") {
                let _ = stdout.write_all(b"\n");
            }
            if let Some(error) = &answer.function_error {
                eprintln!("lambda-emulator: the function failed (X-Amz-Function-Error: {error})");
                ExitCode::FAILURE
            } else if answer.status != 200 {
                eprintln!("lambda-emulator: the emulator answered {}", answer.status);
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(message) => {
            eprintln!("lambda-emulator: {message}");
            ExitCode::FAILURE
        }
    }
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
