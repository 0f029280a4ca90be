//! The `lambda-adapter` executable: `--version`/`--help`, else read configuration, start logging,
//! run the adapter (SPEC LIF-1, CFG-20, RDY-6, PKG-7).

use std::process::ExitCode;

use lambda_web_adapter::{
    report_init_error, termination_signal, tracing, usage, Adapter, AdapterError, AdapterOptions,
    LogSettings, ParsedOptions,
};

fn main() -> ExitCode {
    // PKG-7: these answer without contacting anything.
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!("lambda-adapter {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let environment = |name: &str| std::env::var(name).ok();
    let parsed = AdapterOptions::from_lookup(environment);
    LogSettings::from_lookup(environment).init();
    Adapter::apply_runtime_proxy_config();

    // One invocation at a time (classic Lambda) runs best on one thread: no hand-over between
    // threads on the request path. Managed Instances with AWS_LAMBDA_MAX_CONCURRENCY > 1 get a
    // worker per core.
    let concurrent = parsed.settings().is_some_and(|s| s.concurrency() > 1);
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
    let runtime_api = parsed.runtime_api().to_owned();
    let settings = match parsed.into_settings() {
        Ok(settings) => settings,
        // CFG-20: one error line, the reason reported to Lambda, a non-zero exit.
        Err(err) => {
            tracing::error!("invalid configuration: {}", err.message());
            report_init_error(&runtime_api, "Extension.ConfigInvalid", err.message()).await;
            return ExitCode::FAILURE;
        }
    };
    let mut adapter = Adapter::from_settings(settings);
    adapter.register_default_extension();
    tokio::select! {
        ready = adapter.wait_for_app() => if let Err(err) = ready {
            // RDY-6: one line with the last status or error seen.
            tracing::error!("{err}");
            report_init_error(&runtime_api, "Extension.AppNotReady", err.message()).await;
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
            match err.downcast_ref::<AdapterError>() {
                // A failure of the adapter's own (a SnapStart hook): its message says it all.
                Some(err) => tracing::error!("{err}"),
                None => tracing::error!("the Lambda runtime loop stopped: {err}"),
            }
            ExitCode::FAILURE
        }
    }
}
