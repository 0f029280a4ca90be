//! Property tests of event → request translation (SPEC EVT-8, EVT-9, ERR-3): whatever JSON arrives,
//! translating it never panics, and what it accepts becomes a valid request to the app.
//!
//! `translation_never_panics` runs a few thousand cases with the unit tests; `fuzz_for_a_while`
//! keeps generating for `LWA_FUZZ_SECONDS` (default 600): `make fuzz`.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

use crate::event::{self, EventSource};
use crate::request::{BasePath, ForwardRules};

/// Strings with the characters that break things: controls, NUL, non-ASCII, `%`, `?`, `#`, spaces.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/_.-]{0,12}",
        "\\PC{0,16}",
        ".{0,8}",
        Just("/".to_string()),
        Just("%".to_string()),
        Just("%zz/%C3%A9?x=1#y".to_string()),
        Just("a\r\nb".to_string()),
        Just("\u{0}".to_string()),
        Just("caf\u{e9} \u{1F600}".to_string()),
    ]
}

/// Any JSON value, shallow.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        nasty_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map(nasty_string(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A string map, or sometimes a value of the wrong type.
fn string_map() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::collection::btree_map(nasty_string(), nasty_string(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())),
        1 => any_json(),
    ]
}

fn multi_map() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::collection::btree_map(nasty_string(), proptest::collection::vec(nasty_string(), 0..3), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())),
        1 => any_json(),
    ]
}

/// Events shaped like the HTTP sources, with every field sometimes wrong, plus anything at all.
fn events() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string()),
        Just("PATCH".to_string()),
        nasty_string()
    ];
    let body = prop_oneof![
        Just(Value::Null),
        nasty_string().prop_map(Value::from),
        "[A-Za-z0-9+/=]{0,24}".prop_map(Value::from),
    ];
    let domain = prop_oneof![
        Just(Value::Null),
        Just(Value::from("a1b2c3d4e5.lambda-url.us-east-1.on.aws")),
        Just(Value::from(
            "r3pmxmplak.execute-api.us-east-1.amazonaws.com"
        )),
        Just(Value::from("localhost")),
        nasty_string().prop_map(Value::from),
        any_json(),
    ];
    let http = (
        (0..5usize, domain),
        method,
        nasty_string(),
        nasty_string(),
        string_map(),
        multi_map(),
        string_map(),
        multi_map(),
        proptest::collection::vec(nasty_string(), 0..3),
        body,
        any::<bool>(),
        any_json(),
    )
        .prop_map(
            |(
                (kind, domain),
                method,
                path,
                query,
                headers,
                mv_headers,
                params,
                mv_params,
                cookies,
                body,
                base64,
                extra,
            )| {
                let mut event = Map::new();
                event.insert("headers".into(), headers);
                event.insert("body".into(), body);
                event.insert("isBase64Encoded".into(), base64.into());
                match kind {
                    0 => {
                        event.insert("httpMethod".into(), method.clone().into());
                        event.insert("path".into(), path.into());
                        event.insert("multiValueHeaders".into(), mv_headers);
                        event.insert("queryStringParameters".into(), params);
                        event.insert("multiValueQueryStringParameters".into(), mv_params);
                        event.insert(
                            "requestContext".into(),
                            json!({"stage": "prod", "httpMethod": method, "extra": extra}),
                        );
                    }
                    1 => {
                        event.insert("version".into(), "2.0".into());
                        event.insert("rawPath".into(), path.into());
                        event.insert("rawQueryString".into(), query.into());
                        event.insert("cookies".into(), cookies.into());
                        event.insert(
                            "requestContext".into(),
                            json!({"http": {"method": method}, "domainName": domain, "extra": extra}),
                        );
                    }
                    // VPC Lattice v2: list-valued headers and parameters, the query in `path`.
                    3 => {
                        event.insert("version".into(), "2.0".into());
                        event.insert("method".into(), method.into());
                        event.insert("path".into(), format!("{path}?{query}").into());
                        event.insert("headers".into(), mv_headers);
                        event.insert("queryStringParameters".into(), mv_params);
                        event.insert(
                            "requestContext".into(),
                            json!({"serviceArn": "arn:aws:vpc-lattice:us-east-1:1:service/svc-1", "identity": extra}),
                        );
                    }
                    // VPC Lattice v1: snake-case fields and no request context.
                    4 => {
                        event.remove("isBase64Encoded");
                        event.insert("is_base64_encoded".into(), base64.into());
                        event.insert("method".into(), method.into());
                        event.insert("raw_path".into(), path.into());
                        event.insert("query_string_parameters".into(), params);
                    }
                    _ => {
                        event.insert("httpMethod".into(), method.into());
                        event.insert("path".into(), path.into());
                        event.insert("multiValueHeaders".into(), mv_headers);
                        event.insert("multiValueQueryStringParameters".into(), mv_params);
                        event.insert(
                            "requestContext".into(),
                            json!({"elb": {"targetGroupArn": extra}}),
                        );
                    }
                }
                Value::Object(event)
            },
        );
    prop_oneof![4 => http, 1 => any_json()]
}

fn rules() -> ForwardRules {
    ForwardRules {
        app: http::uri::Authority::from_static("127.0.0.1:8080"),
        base_path: BasePath::new("/prod"),
        pass_through_path: http::uri::PathAndQuery::from_static("/events"),
        authorization_source: Some(http::HeaderName::from_static("x-auth")),
    }
}

/// The property: parsing never panics, fails only as `InvalidEvent`, tells the sources apart as
/// the tolerant `classify` does (a pass-through event is never refused), and an accepted event
/// becomes a request to the app with an absolute, valid URI.
fn check(event: &str, rules: &ForwardRules) -> Result<(), TestCaseError> {
    let expected = event::classify(event);
    match event::parse(event.to_string()) {
        Err(err) => {
            prop_assert_eq!(err.kind(), crate::error::ErrorKind::InvalidEvent);
            let json = serde_json::from_str::<serde::de::IgnoredAny>(event).is_ok();
            prop_assert!(
                expected != EventSource::PassThrough || !json,
                "a {:?} event was refused: {}",
                expected,
                err
            );
        }
        Ok((source, request)) => {
            prop_assert_eq!(source, expected);
            let pass_through = source == EventSource::PassThrough;
            let app_request = rules.to_app_request(request).map_err(|e| {
                TestCaseError::fail(format!("accepted event, rejected request: {e}"))
            })?;
            // Origin form, and a `Host` for the app (the event's, else the app's address).
            prop_assert!(app_request.uri().authority().is_none());
            prop_assert!(app_request.headers().contains_key(http::header::HOST));
            prop_assert!(app_request.uri().path().starts_with('/'));
            if pass_through {
                prop_assert_eq!(app_request.uri().path(), "/events");
            }
        }
    }
    Ok(())
}

fn run(cases: u32) -> Result<(), proptest::test_runner::TestError<Value>> {
    let rules = rules();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner.run(&events(), |event| {
        check(&event.to_string(), &rules)?;
        check(
            &serde_json::to_string_pretty(&event).unwrap_or_default(),
            &rules,
        )
    })
}

#[test]
fn translation_never_panics() {
    // covers EVT-8, ERR-3
    if let Err(failure) = run(2_000) {
        panic!("{failure}");
    }
}

#[test]
fn raw_bytes_never_panic() {
    // covers EVT-8, ERR-3
    let rules = rules();
    let mut runner = TestRunner::new(Config {
        cases: 2_000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&"\\PC{0,64}", |text| check(&text, &rules));
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
#[ignore = "long-running fuzzing: make fuzz (LWA_FUZZ_SECONDS, default 600)"]
fn fuzz_for_a_while() {
    let seconds = std::env::var("LWA_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut total = 0u64;
    while Instant::now() < until {
        if let Err(failure) = run(10_000) {
            panic!("after {total} cases: {failure}");
        }
        total += 10_000;
    }
    eprintln!("fuzzing: {total} events in {seconds} s, no failure");
}
