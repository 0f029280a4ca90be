//! Criterion micro-benchmarks of the translation hot path (issue "Performance: a benchmark
//! suite"; the rules they time are EVT-1 to EVT-4 and RSP-1 to RSP-3), through
//! `lambda_web_adapter::bench_support` (hidden, not API: thin wrappers over the steps the runtime
//! loop runs):
//!
//! - `event_to_request/{size}/{text,binary}`: a Function URL event (`POST /api/items/42` with a
//!   query, two cookies and a browser's headers, built by the test kit's
//!   `benchmark_function_url`) → the request sent to the app, Lambda context attached
//!   (`event_to_app_request`).
//! - `response_to_lambda_json/{size}/{text,binary}`: the app's buffered `200` (content type,
//!   `cache-control`, `date`, two `set-cookie`) → the HTTP API payload posted to the Runtime API
//!   (`response_to_lambda_json`).
//!
//! Sizes: a 17-byte JSON document (`small`), 64 KiB and 5 MiB; `text` bodies travel as they are,
//! `binary` ones base64-encoded both ways. Each benchmark checks its output once before timing.
//! Timing: 1 s warm-up and 3 s of measurement per benchmark, flat sampling of 20 samples for the
//! 5 MiB inputs; `make bench` shortens it with criterion's command-line options.
//!
//! ```text
//! cargo bench --bench translation                # this file's timing
//! make bench                                     # short timing, then the end-to-end figures
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, DATE, SET_COOKIE};
use http::{HeaderMap, StatusCode};
use lambda_emulator::testing::bodies::{self, binary_body};
use lambda_emulator::testing::events::benchmark_function_url;
use lambda_http::Context;
use lambda_web_adapter::bench_support::{
    event_to_app_request, response_to_lambda_json, Rules, Source,
};

/// Body sizes: a small JSON document, 64 KiB, 5 MiB.
const SIZES: [(&str, usize); 3] = [
    ("small", 17),
    ("64KiB", 64 * 1024),
    ("5MiB", 5 * 1024 * 1024),
];

/// `len` bytes of printable text; the small size is a JSON document.
fn text_body(len: usize) -> String {
    if len == 17 {
        return r#"{"hello":"world"}"#.to_string();
    }
    bodies::text_body(len)
}

/// The event of `event_to_request`, with `body` as text or (already encoded) base64.
fn event(body: &str, base64: bool, content_type: &str) -> Bytes {
    let event = benchmark_function_url("POST", "/api/items/42")
        .raw_query("expand=owner&page=2")
        .cookie("session=abc123")
        .cookie("theme=dark")
        .header("accept", "application/json")
        .header("content-type", content_type)
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0");
    let event = if base64 {
        event.base64_body(body)
    } else {
        event.body(body)
    };
    event.to_bytes()
}

/// The Lambda context the runtime loop attaches to every request.
fn context() -> Context {
    let config = lambda_runtime::Config {
        function_name: "bench".into(),
        memory: 1024,
        version: "$LATEST".into(),
        log_stream: String::new(),
        log_group: String::new(),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_static("4102444800000"),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-65f00000-0123456789abcdef01234567;Sampled=1"),
    );
    Context::new(
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        Arc::new(config),
        &headers,
    )
    .expect("a valid Lambda context")
}

fn response_headers(content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        DATE,
        HeaderValue::from_static("Tue, 12 Mar 2024 19:03:58 GMT"),
    );
    headers.append(SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
    headers.append(SET_COOKIE, HeaderValue::from_static("b=2; Path=/"));
    headers
}

/// Large inputs take milliseconds per iteration: flat sampling with fewer samples keeps the
/// short `make bench` timing honest instead of criterion stretching it.
fn tune(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, len: usize) {
    group.throughput(Throughput::Bytes(len as u64));
    if len >= 1024 * 1024 {
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(20);
    }
}

/// Inputs and outputs of a batch are held at once: a few at a time for large bodies.
fn batch_size(len: usize) -> BatchSize {
    match len {
        0..=4096 => BatchSize::SmallInput,
        4097..=1048576 => BatchSize::LargeInput,
        _ => BatchSize::PerIteration,
    }
}

fn event_to_request(c: &mut Criterion) {
    let rules = Rules::for_port(8080);
    let context = context();
    for (size, len) in SIZES {
        let mut group = c.benchmark_group(format!("event_to_request/{size}"));
        tune(&mut group, len);
        let text = event(&text_body(len), false, "application/json");
        let binary = event(
            &base64::engine::general_purpose::STANDARD.encode(binary_body(len)),
            true,
            "application/octet-stream",
        );
        for (kind, event) in [("text", &text), ("binary", &binary)] {
            let event = event.clone();
            let request = event_to_app_request(&rules, event.clone(), context.clone())
                .expect("the benchmark event translates");
            assert_eq!(
                http_body::Body::size_hint(request.body()).exact(),
                Some(len as u64)
            );
            group.bench_function(kind, |b| {
                b.iter_batched(
                    || (event.clone(), context.clone()),
                    |(event, context)| event_to_app_request(&rules, black_box(event), context),
                    batch_size(len),
                )
            });
        }
        group.finish();
    }
}

fn response_to_json(c: &mut Criterion) {
    for (size, len) in SIZES {
        let mut group = c.benchmark_group(format!("response_to_lambda_json/{size}"));
        tune(&mut group, len);
        let text = Bytes::from(text_body(len));
        let binary = Bytes::from(binary_body(len));
        for (kind, body, content_type) in [
            ("text", &text, "text/plain; charset=utf-8"),
            ("binary", &binary, "application/octet-stream"),
        ] {
            let headers = response_headers(content_type);
            let payload =
                response_to_lambda_json(Source::HttpApi, StatusCode::OK, &headers, body.clone());
            let json: serde_json::Value =
                serde_json::from_slice(&payload).expect("the payload is JSON");
            assert_eq!(json["isBase64Encoded"], kind == "binary");
            group.bench_function(kind, |b| {
                // A body of its own per iteration, as the app's collected body is.
                b.iter_batched(
                    || Bytes::copy_from_slice(body),
                    |body| {
                        response_to_lambda_json(
                            Source::HttpApi,
                            StatusCode::OK,
                            black_box(&headers),
                            body,
                        )
                    },
                    batch_size(len),
                )
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = translation;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = event_to_request, response_to_json
}
criterion_main!(translation);
