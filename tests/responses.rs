//! Response translation (SPEC RSP-1 … RSP-6): what Lambda gets back for each event source, with the
//! real adapter binary between the fake control plane and a scripted app.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use support::events::{self, HttpEvent};
use support::{Harness, RecordedRequest, Reply, TestApp, TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// PNG signature, an IHDR length, and bytes that are not UTF-8.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, b'I', b'H', b'D', b'R',
    0xff, 0xfe, 0x80, 0xc3, 0x28, 0x00,
];

/// Invokes and returns the buffered response JSON (panics with the adapter's output otherwise).
async fn respond(h: &Harness, event: impl Into<Bytes>) -> Value {
    let result = h.invoke(event).await;
    result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()))
}

/// Every response header name (from `headers` and `multiValueHeaders`), lower-cased.
fn header_names(response: &Value) -> Vec<String> {
    ["headers", "multiValueHeaders"]
        .iter()
        .filter_map(|field| response.get(field).and_then(Value::as_object))
        .flat_map(|map| map.keys().map(|name| name.to_ascii_lowercase()))
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut decoded)
        .expect("a valid gzip body");
    decoded
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut decoded)
        .expect("a valid br body");
    decoded
}

/// The scripted response every RSP-1/RSP-2 test looks at: a 404 with a repeated header and two
/// cookies.
fn not_found(_: &RecordedRequest) -> Reply {
    Reply::new(404)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-many", "1")
        .header("x-many", "2")
        .header("set-cookie", "a=1; Path=/")
        .header("set-cookie", "b=2; HttpOnly")
        .body("no such thing")
}

/// [`not_found`]'s headers in `multiValueHeaders`, every value of each kept (RSP-2).
fn assert_not_found_multi_value_headers(response: &Value) {
    let headers = &response["multiValueHeaders"];
    assert_eq!(
        headers["content-type"],
        json!(["text/plain; charset=utf-8"]),
        "{response}"
    );
    assert_eq!(headers["x-many"], json!(["1", "2"]), "{response}");
    assert_eq!(
        headers["set-cookie"],
        json!(["a=1; Path=/", "b=2; HttpOnly"]),
        "{response}"
    );
}

async fn shape_harness() -> Harness {
    let app = TestApp::builder()
        .route("/missing", not_found)
        .route("/created", |_| {
            Reply::new(201)
                .header("content-type", "application/json")
                .body(r#"{"id":7}"#)
        })
        .start()
        .await
        .expect("the app listens");
    Harness::start_with_app(app, &[]).await
}

// covers RSP-1, RSP-2
#[tokio::test]
async fn rsp1_rest_v1_response_has_multi_value_headers() {
    let h = shape_harness().await;
    let response = respond(&h, events::rest_v1("GET", "/missing")).await;
    assert_eq!(response["statusCode"], 404, "{response}");
    assert_not_found_multi_value_headers(&response);
    assert!(
        response["multiValueHeaders"]
            .as_object()
            .expect("multiValueHeaders is an object")
            .values()
            .all(Value::is_array),
        "every multiValueHeaders value is an array: {response}"
    );
    assert_eq!(response["body"], "no such thing");
    assert_eq!(response["isBase64Encoded"], false);

    let response = respond(&h, events::rest_v1("POST", "/created")).await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(
        response["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(response["body"], r#"{"id":7}"#);
    assert_eq!(response["isBase64Encoded"], false);
}

// covers RSP-1, RSP-2
#[tokio::test]
async fn rsp1_v2_and_function_url_responses_have_headers_and_cookies() {
    let h = shape_harness().await;
    for event in [
        events::http_v2("GET", "/missing"),
        events::function_url("GET", "/missing"),
    ] {
        let response = respond(&h, event).await;
        assert_eq!(response["statusCode"], 404, "{response}");
        let headers = response["headers"]
            .as_object()
            .unwrap_or_else(|| panic!("headers is an object: {response}"));
        assert!(
            headers.values().all(Value::is_string),
            "every header value is a string: {response}"
        );
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(headers["x-many"], "1, 2", "{response}");
        assert!(
            !header_names(&response).contains(&"set-cookie".to_owned()),
            "set-cookie goes to cookies only: {response}"
        );
        assert_eq!(
            response["cookies"],
            json!(["a=1; Path=/", "b=2; HttpOnly"]),
            "{response}"
        );
        assert_eq!(response["body"], "no such thing");
        assert_eq!(response["isBase64Encoded"], false);
    }
}

// covers RSP-1
#[tokio::test]
async fn rsp1_alb_response_has_status_description_and_its_header_mode() {
    let h = shape_harness().await;

    let response = respond(&h, events::alb("GET", "/missing")).await;
    assert_eq!(response["statusCode"], 404, "{response}");
    assert_eq!(response["statusDescription"], "404 Not Found", "{response}");
    assert_eq!(
        response["headers"]["content-type"], "text/plain; charset=utf-8",
        "{response}"
    );
    assert_eq!(response["body"], "no such thing");
    assert_eq!(response["isBase64Encoded"], false);

    let response = respond(&h, events::alb_multi_value("GET", "/missing")).await;
    assert_eq!(response["statusCode"], 404, "{response}");
    assert_eq!(response["statusDescription"], "404 Not Found", "{response}");
    assert_not_found_multi_value_headers(&response);
    assert_eq!(response["body"], "no such thing");
    assert_eq!(response["isBase64Encoded"], false);

    let response = respond(&h, events::alb("POST", "/created")).await;
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["statusDescription"], "201 Created", "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(response["body"], r#"{"id":7}"#);

    // The echo app's default answer.
    let response = respond(&h, events::alb_multi_value("GET", "/ok")).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["statusDescription"], "200 OK", "{response}");
    assert_eq!(
        response["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
}

// covers RSP-2
#[tokio::test]
async fn rsp2_repeated_response_headers_are_never_lost() {
    let app = TestApp::builder()
        .route("/many", |_| {
            Reply::new(200)
                .header("content-type", "text/plain")
                .header("vary", "accept")
                .header("vary", "origin")
                .header("x-trace", "a")
                .header("x-trace", "b")
                .header("x-trace", "c")
                .header("set-cookie", "session=abc; Secure")
                .header("set-cookie", "theme=dark")
                .header("set-cookie", "lang=en; Max-Age=60")
                .body("ok")
        })
        .start()
        .await
        .expect("the app listens");
    let h = Harness::start_with_app(app, &[]).await;

    let cookies = json!(["session=abc; Secure", "theme=dark", "lang=en; Max-Age=60"]);
    for event in [
        events::http_v2("GET", "/many"),
        events::function_url("GET", "/many"),
    ] {
        let response = respond(&h, event).await;
        assert_eq!(response["headers"]["vary"], "accept, origin", "{response}");
        assert_eq!(response["headers"]["x-trace"], "a, b, c", "{response}");
        assert_eq!(response["cookies"], cookies, "{response}");
        assert!(
            response["headers"].get("set-cookie").is_none(),
            "{response}"
        );
    }

    let response = respond(&h, events::rest_v1("GET", "/many")).await;
    let headers = &response["multiValueHeaders"];
    assert_eq!(headers["vary"], json!(["accept", "origin"]), "{response}");
    assert_eq!(headers["x-trace"], json!(["a", "b", "c"]), "{response}");
    assert_eq!(headers["set-cookie"], cookies, "{response}");
}

/// Answers with the content type and content encoding the request asks for in `x-want-type` and
/// `x-want-encoding`, and the body in `x-want-body` (or the PNG bytes when it is absent).
fn typed(request: &RecordedRequest) -> Reply {
    let mut reply = Reply::new(200);
    if let Some(content_type) = request.header("x-want-type") {
        reply = reply.header("content-type", &content_type);
    }
    if let Some(encoding) = request.header("x-want-encoding") {
        reply = reply.header("content-encoding", &encoding);
    }
    match request.header("x-want-body") {
        Some(body) => reply.body(body),
        None => reply.body(PNG),
    }
}

// covers RSP-3
#[tokio::test]
async fn rsp3_binary_bodies_are_base64_and_text_bodies_stay_text() {
    let app = TestApp::builder()
        .route("/typed", typed)
        .route("/raw", |_| {
            Reply::new(200).body(&b"caf\xe9 \xff\xfe\x00 latin-1"[..])
        })
        .route("/gzipped", |_| {
            Reply::new(200)
                .header("content-type", "text/plain; charset=utf-8")
                .header("content-encoding", "gzip")
                .body(gzip(b"hello hello hello"))
        })
        .start()
        .await
        .expect("the app listens");
    let h = Harness::start_with_app(app, &[]).await;

    // A PNG comes back base64 and decodes to the exact bytes, whatever the source.
    for source in events::HTTP_SOURCES {
        let response = respond(
            &h,
            source("GET", "/typed").header("x-want-type", "image/png"),
        )
        .await;
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["isBase64Encoded"], true, "{response}");
        assert_eq!(events::response_body(&response), PNG, "{response}");
    }

    // Text types stay text, byte for byte.
    let text = r#"{"name":"välue","list":[1,2]}"#;
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "text/html; charset=utf-8",
        "text/plain",
        "text/csv",
        "application/vnd.api+json",
        "application/javascript",
        "application/xml",
        "application/yaml",
        "image/svg+xml",
        "application/problem+xml",
        "application/x-custom+yaml",
    ] {
        let response = respond(
            &h,
            events::http_v2("GET", "/typed")
                .header("x-want-type", content_type)
                .header("x-want-body", text),
        )
        .await;
        assert_eq!(
            response["isBase64Encoded"], false,
            "{content_type}: {response}"
        );
        assert_eq!(response["body"], text, "{content_type}: {response}");
        assert_eq!(response["headers"]["content-type"], content_type);
    }

    // A type that is not text is base64 even when the bytes happen to be ASCII.
    for content_type in ["application/octet-stream", "application/pdf", "audio/mpeg"] {
        let response = respond(
            &h,
            events::http_v2("GET", "/typed")
                .header("x-want-type", content_type)
                .header("x-want-body", "plain ascii"),
        )
        .await;
        assert_eq!(
            response["isBase64Encoded"], true,
            "{content_type}: {response}"
        );
        assert_eq!(events::response_body(&response), b"plain ascii");
    }

    // No content type and not UTF-8: base64, never mangled.
    let response = respond(&h, events::http_v2("GET", "/raw")).await;
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(
        events::response_body(&response),
        b"caf\xe9 \xff\xfe\x00 latin-1"
    );
    let response = respond(&h, events::rest_v1("GET", "/raw")).await;
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(
        events::response_body(&response),
        b"caf\xe9 \xff\xfe\x00 latin-1"
    );

    // Any content-encoding: base64, even for a text type.
    let response = respond(&h, events::http_v2("GET", "/gzipped")).await;
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(response["headers"]["content-encoding"], "gzip");
    assert_eq!(
        gunzip(&events::response_body(&response)),
        b"hello hello hello"
    );
    let response = respond(
        &h,
        events::rest_v1("GET", "/typed")
            .header("x-want-type", "application/json")
            .header("x-want-encoding", "deflate")
            .header("x-want-body", r#"{"a":1}"#),
    )
    .await;
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(events::response_body(&response), br#"{"a":1}"#);
    assert_eq!(
        response["multiValueHeaders"]["content-encoding"],
        json!(["deflate"])
    );
}

const LONG_TEXT: &str = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps \
    over the lazy dog. The quick brown fox jumps over the lazy dog. Pack my box with five dozen \
    liquor jugs. Pack my box with five dozen liquor jugs.";

fn compression_app() -> support::app::TestAppBuilder {
    TestApp::builder()
        .route("/long", |_| Reply::text(LONG_TEXT))
        .route("/short", |_| Reply::text("tiny"))
        .route("/image", |_| {
            Reply::new(200)
                .header("content-type", "image/png")
                .body(PNG.repeat(20))
        })
        .route("/encoded", |_| {
            Reply::new(200)
                .header("content-type", "text/plain")
                .header("content-encoding", "gzip")
                .body(gzip(LONG_TEXT.as_bytes()))
        })
}

/// `event` gets `/long` compressed: the content encoding in `header_map` (`headers` or
/// `multiValueHeaders`) is `encoding`, the body is base64 and `decode` gives the text back.
async fn assert_compressed(
    h: &Harness,
    event: HttpEvent,
    (header_map, encoding): (&str, Value),
    decode: fn(&[u8]) -> Vec<u8>,
) {
    let response = respond(h, event).await;
    assert_eq!(
        response[header_map]["content-encoding"], encoding,
        "{response}"
    );
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(
        decode(&events::response_body(&response)),
        LONG_TEXT.as_bytes()
    );
}

/// `event` gets `/long` as the app sent it: no content encoding, the text as text.
async fn assert_not_compressed(h: &Harness, event: HttpEvent, case: &str) {
    let response = respond(h, event).await;
    assert!(
        !header_names(&response).contains(&"content-encoding".to_owned()),
        "{case}: {response}"
    );
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    assert_eq!(response["body"], LONG_TEXT);
}

// covers RSP-4
#[tokio::test]
async fn rsp4_compression_by_accept_encoding() {
    assert!(LONG_TEXT.len() > 200);
    let app = compression_app().start().await.expect("the app listens");
    let h = Harness::start_with_app(app, &[("AWS_LWA_ENABLE_COMPRESSION", "true")]).await;

    assert_compressed(
        &h,
        events::http_v2("GET", "/long").header("accept-encoding", "gzip"),
        ("headers", json!("gzip")),
        gunzip,
    )
    .await;
    assert_compressed(
        &h,
        events::function_url("GET", "/long").header("accept-encoding", "br"),
        ("headers", json!("br")),
        unbrotli,
    )
    .await;
    assert_compressed(
        &h,
        events::rest_v1("GET", "/long").header("Accept-Encoding", "gzip"),
        ("multiValueHeaders", json!(["gzip"])),
        gunzip,
    )
    .await;

    // Not compressed: images.
    let response = respond(
        &h,
        events::http_v2("GET", "/image").header("accept-encoding", "gzip"),
    )
    .await;
    assert!(
        response["headers"].get("content-encoding").is_none(),
        "{response}"
    );
    assert_eq!(events::response_body(&response), PNG.repeat(20));

    // Not compressed: bodies under 32 bytes.
    let response = respond(
        &h,
        events::http_v2("GET", "/short").header("accept-encoding", "gzip"),
    )
    .await;
    assert!(
        response["headers"].get("content-encoding").is_none(),
        "{response}"
    );
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    assert_eq!(response["body"], "tiny");

    // Not compressed again: the app already encoded the body.
    let response = respond(
        &h,
        events::http_v2("GET", "/encoded").header("accept-encoding", "gzip, br"),
    )
    .await;
    assert_eq!(
        response["headers"]["content-encoding"], "gzip",
        "{response}"
    );
    assert_eq!(
        events::response_body(&response),
        gzip(LONG_TEXT.as_bytes()),
        "the app's bytes, untouched"
    );

    // Not compressed: the client sent no accept-encoding.
    for event in [
        events::http_v2("GET", "/long"),
        events::rest_v1("GET", "/long"),
    ] {
        assert_not_compressed(&h, event, "no accept-encoding").await;
    }
}

// covers RSP-4
#[tokio::test]
async fn rsp4_nothing_is_compressed_when_compression_is_off() {
    let app = compression_app().start().await.expect("the app listens");
    let h = Harness::start_with_app(app, &[]).await;
    for encoding in ["gzip", "br", "gzip, deflate, br"] {
        let event = events::http_v2("GET", "/long").header("accept-encoding", encoding);
        assert_not_compressed(&h, event, encoding).await;
    }
}

// covers RSP-5
#[tokio::test]
async fn rsp5_error_status_codes_fail_the_invocation() {
    let app = TestApp::builder()
        // `/status/{code}`: answers that status with the body `{reason} from app`.
        .route("/status/", |request| {
            let code: u16 = request
                .path
                .trim_start_matches("/status/")
                .parse()
                .expect("a status code in the path");
            let reason = http::StatusCode::from_u16(code)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("status")
                .to_ascii_lowercase();
            Reply::new(code)
                .header("content-type", "text/plain")
                .body(format!("{reason} from app"))
        })
        .start()
        .await
        .expect("the app listens");
    let h = Harness::start_with_app(app, &[("AWS_LWA_ERROR_STATUS_CODES", "500,502-504")]).await;

    for (code, event) in [
        (502, events::http_v2("GET", "/status/502")),
        (500, events::rest_v1("GET", "/status/500")),
        (503, events::alb("GET", "/status/503")),
        (504, events::function_url("GET", "/status/504")),
    ] {
        let result = h.invoke(event).await;
        let (_header_error_type, body) = result
            .error()
            .unwrap_or_else(|err| panic!("{code}: {err}; adapter output:\n{}", h.adapter.logs()));
        // The readable type is the body's `errorType`; lambda_runtime sends the
        // `Lambda-Runtime-Function-Error-Type` header as `unhandled`.
        assert_eq!(body["errorType"], "Adapter.ErrorStatus", "{code}: {body}");
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(&code.to_string()), "{code}: {body}");
        let app_body = match code {
            500 => "internal server error from app",
            502 => "bad gateway from app",
            503 => "service unavailable from app",
            _ => "gateway timeout from app",
        };
        assert!(message.contains(app_body), "{code}: {body}");
    }

    // Statuses outside the set are ordinary responses.
    for (code, body) in [(501, "not implemented from app"), (200, "ok from app")] {
        let response = respond(&h, events::http_v2("GET", &format!("/status/{code}"))).await;
        assert_eq!(response["statusCode"], code, "{response}");
        assert_eq!(response["body"], body, "{response}");
    }
    let response = respond(&h, events::rest_v1("GET", "/status/404")).await;
    assert_eq!(response["statusCode"], 404, "{response}");
}

// covers RSP-5
#[tokio::test]
async fn rsp5_without_error_status_codes_every_status_is_a_response() {
    let app = TestApp::builder()
        .route("/fail", |_| Reply::new(502).body("bad gateway from app"))
        .start()
        .await
        .expect("the app listens");
    let h = Harness::start_with_app(app, &[]).await;
    let response = respond(&h, events::http_v2("GET", "/fail")).await;
    assert_eq!(response["statusCode"], 502, "{response}");
    assert_eq!(events::response_body(&response), b"bad gateway from app");
}

/// The raw response head the app sends for `path` (to prove it really is chunked).
async fn raw_response(app: &TestApp, path: &str) -> String {
    let exchange = async {
        let mut stream = TcpStream::connect(app.addr()).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read the answer");
        String::from_utf8_lossy(&raw).into_owned()
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("the app answers in time")
}

// covers RSP-6
#[tokio::test]
async fn rsp6_transfer_encoding_is_not_passed_on() {
    let app = TestApp::builder()
        .route("/chunked", |_| {
            Reply::new(200)
                .header("content-type", "text/plain")
                .header("transfer-encoding", "chunked")
                .chunks([
                    (Duration::ZERO, "part one, "),
                    (Duration::from_millis(5), "part two, "),
                    (Duration::from_millis(5), "part three"),
                ])
        })
        .start()
        .await
        .expect("the app listens");
    let raw = raw_response(&app, "/chunked").await.to_ascii_lowercase();
    assert!(
        raw.contains("transfer-encoding: chunked"),
        "the app answers chunked: {raw}"
    );
    let h = Harness::start_with_app(app, &[]).await;

    for source in events::HTTP_SOURCES {
        let response = respond(&h, source("GET", "/chunked")).await;
        assert_eq!(response["statusCode"], 200, "{response}");
        assert!(
            !header_names(&response).contains(&"transfer-encoding".to_owned()),
            "{response}"
        );
        assert_eq!(response["isBase64Encoded"], false, "{response}");
        assert_eq!(response["body"], "part one, part two, part three");
    }
}
