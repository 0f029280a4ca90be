//! Registration with the Lambda Extensions API (SPEC LIF-1, LIF-2, CFG-20).
//!
//! The adapter registers as an external extension named after its executable, with no events,
//! then parks on `event/next` for the life of the environment. Lambda starts the app only once
//! every extension has registered, so this runs in its own task, first, and never waits for the
//! app. A failed registration ends the process with status 1.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_extension::Extension;

/// The extension's name: its executable's file name, as Lambda found it under `/opt/extensions`.
pub(crate) fn extension_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name())
        .and_then(|name| name.to_str())
        .map(str::to_string)
        .unwrap_or_else(|| "lambda-adapter".to_string())
}

/// Registers and parks on `event/next` in a spawned task; exits the process with status 1 if the
/// registration fails. `runtime_api` names the API in that case (the `lambda-extension` crate reads
/// the address from `AWS_LAMBDA_RUNTIME_API` itself).
pub(crate) fn spawn_registration(runtime_api: String) {
    tokio::spawn(async move {
        let name = extension_name();
        let registration = Extension::new()
            .with_events(&[])
            .with_extension_name(&name)
            .register();
        let registered = match registration.await {
            Ok(registered) => registered,
            Err(err) => {
                tracing::error!(
                    "registration with the Extensions API at {runtime_api} failed: {err}"
                );
                std::process::exit(1);
            }
        };
        tracing::debug!("registered extension {name} as {}", registered.extension_id);
        if let Err(err) = registered.run().await {
            tracing::error!("the Extensions API's event/next failed: {err}");
        }
    });
}

/// Registers, then tells Lambda (the Runtime API at `runtime_api`, `host:port`) why init failed
/// (e.g. `Extension.ConfigInvalid`, CFG-20), so the reason shows in the function's init error.
/// Bounded in time: the caller exits right after.
pub async fn report_init_error(runtime_api: &str, error_type: &str, message: &str) {
    let report = async {
        let name = extension_name();
        let registered = Extension::new()
            .with_events(&[])
            .with_extension_name(&name)
            .register()
            .await?;
        let error = lambda_extension::requests::ErrorRequest {
            error_message: message,
            error_type,
            stack_trace: Vec::new(),
        };
        let request = lambda_extension::requests::init_error(
            &registered.extension_id,
            error_type,
            Some(error),
        )?;
        send_to_runtime_api(runtime_api, request).await
    };
    match tokio::time::timeout(Duration::from_secs(1), report).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::debug!("could not report the init error to the Extensions API: {err}")
        }
        Err(_) => {
            tracing::debug!("the Extensions API did not answer the init error report in time")
        }
    }
}

async fn send_to_runtime_api<B>(
    api: &str,
    request: http::Request<B>,
) -> Result<(), lambda_extension::Error>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = format!("http://{api}{path}").parse()?;
    let client = Client::builder(TokioExecutor::new()).build_http::<B>();
    let response = client
        .request(http::Request::from_parts(parts, body))
        .await?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("init/error answered {status}").into())
    }
}
