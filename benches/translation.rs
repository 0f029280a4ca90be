//! Criterion micro-benchmarks of the translation hot path (issue "Performance: a benchmark
//! suite"): a Lambda event → the request sent to the app (`event::parse` +
//! `ForwardRules::to_app_request`), and the app's buffered response → the Lambda JSON payload
//! (`response::to_lambda(..).to_json()`), for small, 64 KiB and 5 MiB bodies, as text and as
//! binary (base64). They go through `lambda_web_adapter::bench_support`, which is not API.
//!
//! ```text
//! cargo bench --bench translation                # criterion's default timing
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

/// Printable text with what JSON must escape now and then (quotes, newlines).
fn text_body(len: usize) -> String {
    const LINE: &str = "lorem ipsum dolor sit amet, \"consectetur\" adipiscing elit 0123456789\n";
    if len == 17 {
        return r#"{"hello":"world"}"#.to_string();
    }
    LINE.chars().cycle().take(len).collect()
}

/// Bytes of every value, like compressed or image data.
fn binary_body(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// A Function URL (HTTP API v2) event with the headers a browser or SDK sends.
fn event(body: &str, base64: bool, content_type: &str) -> String {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/api/items/42",
        "rawQueryString": "expand=owner&page=2",
        "cookies": ["session=abc123", "theme=dark"],
        "headers": {
            "accept": "application/json",
            "accept-encoding": "gzip, deflate, br",
            "content-type": content_type,
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
            "x-amzn-trace-id": "Root=1-65f00000-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "queryStringParameters": {"expand": "owner", "page": "2"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": "/api/items/42",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2024:19:03:58 +0000",
            "timeEpoch": 1710270238000u64
        },
        "body": body,
        "isBase64Encoded": base64
    });
    event.to_string()
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
            let event = Bytes::from(event.clone());
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
