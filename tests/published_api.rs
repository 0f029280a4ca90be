//! SHP-2: code written against the published `lambda_web_adapter` 1.0 crate compiles and works
//! unchanged against this library. The test is written the way a user of that crate writes it:
//! options as a struct literal, `Adapter::new`, `check_init_health`, then the adapter used as a
//! `tower::Service<lambda_http::Request>`, bare and behind tower-http's `CompressionLayer`.
//!
//! It talks to a real HTTP app (the test support's `TestApp`); no binary, no control plane.

mod support;

use std::fmt::{Debug, Display};
use std::io::Read;

use flate2::read::GzDecoder;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use lambda_http::{Context, RequestExt};
use std::time::Duration;

use lambda_web_adapter::{Adapter, AdapterOptions, Error, ErrorKind, LambdaInvokeMode, Protocol};
use serde_json::Value;
use support::TestApp;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::compression::CompressionLayer;

/// An ALB event as Lambda delivers it, for `GET /hello?name=world`.
const ALB_EVENT: &str = r#"{
    "requestContext": {
        "elb": {
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/6d0ecf831eec9f09"
        }
    },
    "httpMethod": "GET",
    "path": "/hello",
    "queryStringParameters": { "name": "world" },
    "headers": {
        "accept": "application/json",
        "accept-encoding": "gzip",
        "host": "lambda-alb-123578498.us-east-1.elb.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "192.0.2.10",
        "x-forwarded-port": "80",
        "x-forwarded-proto": "http"
    },
    "body": "",
    "isBase64Encoded": false
}"#;

/// The request the way the runtime hands it over: parsed from the event, with a Lambda context.
fn alb_request() -> lambda_http::Request {
    let request = lambda_http::request::from_str(ALB_EVENT).expect("an ALB event");
    request.with_lambda_context(Context::default())
}

/// Compile-time check of the service's shape: what `CompressionLayer` and `.call()` need.
fn assert_service_shape<S>(_: &S)
where
    S: Service<lambda_http::Request, Response = http::Response<hyper::body::Incoming>>
        + Clone
        + Send
        + 'static,
    S::Error: Debug + Display,
{
}

// covers SHP-2
#[tokio::test]
async fn shp2_published_api_forwards_a_request_plain_and_compressed() -> Result<(), Error> {
    let app = TestApp::start().await?;

    let options = AdapterOptions {
        host: "127.0.0.1".to_string(),
        port: app.port().to_string(),
        readiness_check_port: app.port().to_string(),
        readiness_check_path: "/".to_string(),
        readiness_check_protocol: Protocol::Http,
        invoke_mode: LambdaInvokeMode::Buffered,
        ..Default::default()
    };
    assert!(matches!(Protocol::from("tcp"), Protocol::Tcp));
    assert!(matches!(
        LambdaInvokeMode::from("response_stream"),
        LambdaInvokeMode::ResponseStream
    ));

    let mut adapter: Adapter<HttpConnector, lambda_http::Body> =
        Adapter::new(&options).expect("the options are valid");
    adapter.check_init_health().await;
    assert_service_shape(&adapter);

    // Plain: the adapter itself as a tower service.
    let response = adapter.ready().await?.call(alb_request()).await?;
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await?.to_bytes();
    let echo: Value = serde_json::from_slice(&body)?;
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], "/hello");
    assert_eq!(echo["query"], "name=world");

    let forwarded = app.wait_request(support::TIMEOUT).await.expect("forwarded");
    assert_eq!(forwarded.uri, "/hello?name=world");
    assert!(forwarded.header("x-amzn-lambda-context").is_some());

    // Behind tower-http's compression, as the published crate's users wrap it.
    let mut compressed = ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .service(adapter.clone());
    let response = compressed.ready().await?.call(alb_request()).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let body = response.into_body().collect().await?.to_bytes();
    let mut text = String::new();
    GzDecoder::new(&body[..]).read_to_string(&mut text)?;
    let echo: Value = serde_json::from_str(&text)?;
    assert_eq!(echo["path"], "/hello");

    // The error type prints both ways.
    let dead = AdapterOptions {
        host: "127.0.0.1".to_string(),
        port: TestApp::reserve_port().to_string(),
        readiness_check_port: app.port().to_string(),
        readiness_check_path: "/".to_string(),
        ..Default::default()
    };
    let mut unreachable = Adapter::new(&dead)?;
    unreachable.check_init_health().await;
    let mut request = lambda_http::request::from_str(ALB_EVENT)?;
    request.extensions_mut().insert(Context::default());
    let err = unreachable
        .ready()
        .await?
        .call(request)
        .await
        .expect_err("nothing listens on the app port");
    assert!(!format!("{err}").is_empty() && !format!("{err:?}").is_empty());
    Ok(())
}

// covers SHP-2: a struct literal naming every published field, without `..Default::default()`
#[tokio::test]
#[allow(deprecated)] // the published struct's deprecated field is part of a full literal
async fn shp2_a_full_literal_of_the_published_fields_compiles_and_works() -> Result<(), Error> {
    let app = TestApp::start().await?;
    let options = AdapterOptions {
        host: "127.0.0.1".to_string(),
        port: app.port().to_string(),
        readiness_check_port: app.port().to_string(),
        readiness_check_path: "/".to_string(),
        readiness_check_protocol: Protocol::Http,
        readiness_check_min_unhealthy_status: 500,
        readiness_check_healthy_status: (100..500).collect(),
        base_path: Some("/prod".to_string()),
        pass_through_path: "/events".to_string(),
        async_init: false,
        compression: false,
        invoke_mode: LambdaInvokeMode::Buffered,
        authorization_source: None,
        error_status_codes: None,
    };
    let mut adapter = Adapter::new(&options)?;
    adapter.check_init_health().await;
    let mut request = lambda_http::request::from_str(&ALB_EVENT.replace("/hello", "/prod/hello"))?;
    request.extensions_mut().insert(Context::default());
    let response = adapter.ready().await?.call(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    let echo: Value = serde_json::from_slice(&body)?;
    assert_eq!(echo["path"], "/hello", "the base path is removed");
    Ok(())
}

// covers SHP-2, CFG-21: the adapter's newer options are set on its settings, not as fields
#[tokio::test]
async fn shp2_newer_options_are_set_on_the_settings() -> Result<(), Error> {
    let app = TestApp::builder().not_ready().start().await?;
    let port = app.port().to_string();
    let parsed = AdapterOptions::from_lookup(|name| (name == "AWS_LWA_PORT").then(|| port.clone()));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let settings = parsed
        .into_settings()?
        .with_pool_idle_timeout(Duration::ZERO)
        .with_readiness_check_timeout(Some(Duration::from_millis(200)));
    let mut adapter = Adapter::from_settings(settings);
    let not_ready = adapter
        .wait_for_app()
        .await
        .expect_err("the app never gets ready");
    assert_eq!(not_ready.kind(), ErrorKind::AppNotReady);
    assert!(not_ready
        .message()
        .contains("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS"));
    Ok(())
}

/// A user's `main`, as in the published crate's documentation: only compiled, never run (it
/// would register with the Extensions API and run the Lambda runtime loop).
#[allow(dead_code)]
async fn published_main() -> Result<(), Error> {
    Adapter::apply_runtime_proxy_config();
    let options = AdapterOptions::default();
    let mut adapter = Adapter::new(&options)?;
    adapter.register_default_extension();
    adapter.check_init_health().await;
    lambda_web_adapter::tracing::info!("starting the runtime loop");
    adapter.run().await
}

/// Every public field keeps the published type.
#[allow(dead_code)]
fn published_fields(options: AdapterOptions) {
    let AdapterOptions {
        host,
        port,
        readiness_check_port,
        readiness_check_path,
        readiness_check_protocol,
        readiness_check_healthy_status,
        base_path,
        pass_through_path,
        async_init,
        compression,
        invoke_mode,
        authorization_source,
        error_status_codes,
        ..
    } = options;
    let _: (String, String, String, String) =
        (host, port, readiness_check_port, readiness_check_path);
    let _: Protocol = readiness_check_protocol;
    let _: Vec<u16> = readiness_check_healthy_status;
    let _: Option<String> = base_path;
    let _: String = pass_through_path;
    let _: (bool, bool) = (async_init, compression);
    let _: LambdaInvokeMode = invoke_mode;
    let _: Option<String> = authorization_source;
    let _: Option<Vec<u16>> = error_status_codes;
}
