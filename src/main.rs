//! The `lambda-adapter` executable: read configuration, start logging, run the adapter.

use std::process::ExitCode;

use lambda_web_adapter::{
    report_init_error, termination_signal, tracing, Adapter, AdapterOptions, LogSettings,
    ParsedOptions,
};

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--version" || arg == "-V" {
            println!("lambda-adapter {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
    }
    let parsed = AdapterOptions::from_lookup(|name| std::env::var(name).ok());
    LogSettings::from_lookup(|name| std::env::var(name).ok()).init();
    Adapter::apply_runtime_proxy_config();

    // One invocation at a time (classic Lambda) runs best on one thread: no hand-over between
    // threads on the request path. Managed Instances with AWS_LAMBDA_MAX_CONCURRENCY > 1 get a
    // worker per core.
    let concurrent = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| n > 1);
    let mut builder = if concurrent {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(start(parsed))
}

async fn start(parsed: ParsedOptions) -> ExitCode {
    for warning in &parsed.warnings {
        tracing::warn!("{warning}");
    }
    if !parsed.errors.is_empty() {
        return fail_init(&parsed.errors.join("; ")).await;
    }
    let mut adapter = match Adapter::new(&parsed.options) {
        Ok(adapter) => adapter,
        Err(err) => return fail_init(&err.to_string()).await,
    };
    adapter.register_default_extension();
    tokio::select! {
        ready = adapter.wait_for_app() => if let Err(err) = ready {
            // RDY-6: one line with the last status or error seen.
            tracing::error!("{err}");
            report_init_error("Extension.AppNotReady", err.message()).await;
            return ExitCode::FAILURE;
        },
        () = termination_signal() => {
            tracing::info!("stopping before the app was ready");
            return ExitCode::SUCCESS;
        }
    }
    match adapter.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("the Lambda runtime loop stopped: {err}");
            ExitCode::FAILURE
        }
    }
}

/// CFG-20: one error line, the reason reported to Lambda, a non-zero exit.
async fn fail_init(reason: &str) -> ExitCode {
    tracing::error!("invalid configuration: {reason}");
    report_init_error("Extension.ConfigInvalid", reason).await;
    ExitCode::FAILURE
}
