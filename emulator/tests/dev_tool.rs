//! The emulator as a development tool, end to end through its command line (covers EMU-1 …
//! EMU-6): the real `lambda-emulator` binary, the real `lambda-adapter` as its extension, and the
//! Python test apps under `tests/apps/`, driven over plain HTTP like curl would.

mod support;

use http::StatusCode;
use serde_json::{json, Value};
use support::{app_script, get, run_emulator, Emulator, EmulatorCommand, TempFile};

fn web_app() -> Vec<String> {
    vec![
        "python3".to_owned(),
        app_script("web_app.py").display().to_string(),
    ]
}

async fn start(command: EmulatorCommand) -> Emulator {
    let app = web_app();
    let app: Vec<&str> = app.iter().map(String::as_str).collect();
    let emulator = command.start(&app).await;
    emulator.wait_ready().await;
    emulator
}

/// The value of header `name` as the app saw it (its `/echo` answer).
fn seen_header(echo: &Value, name: &str) -> Option<String> {
    echo["headers"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == name)
        .and_then(|pair| pair[1].as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn emu4_http_events_carry_what_aws_adds() {
    let emulator = start(EmulatorCommand::new()).await;
    let answer = get(
        emulator.addr,
        "/echo",
        &[
            ("user-agent", "first-hour/1.0"),
            ("x-forwarded-for", "203.0.113.5"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    let seen = answer.json();
    let header =
        |name: &str| seen_header(&seen, name).unwrap_or_else(|| panic!("no {name} in {seen}"));
    assert_eq!(header("x-forwarded-for"), "203.0.113.5, 127.0.0.1");
    assert_eq!(header("x-forwarded-proto"), "http");
    assert_eq!(header("x-forwarded-port"), emulator.addr.port().to_string());
    assert!(header("x-amzn-trace-id").starts_with("Root=1-"));
    assert_eq!(
        header("host"),
        emulator.addr.to_string(),
        "the Host the client sent"
    );
    let context: Value = serde_json::from_str(&header("x-amzn-request-context")).unwrap();
    assert!(
        context["domainName"]
            .as_str()
            .unwrap()
            .ends_with(".lambda-url.us-east-1.on.aws"),
        "{context}"
    );
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "first-hour/1.0");
    assert!(context["requestId"].is_string() && context["timeEpoch"].is_u64());
    assert!(context["time"].as_str().unwrap().ends_with(" +0000"));
    // The trace reaches the Lambda context too, as Lambda-Runtime-Trace-Id.
    let lambda: Value = serde_json::from_str(&header("x-amzn-lambda-context")).unwrap();
    let trace = header("x-amzn-trace-id");
    assert!(
        lambda.to_string().contains(&trace),
        "{trace} not in the Lambda context {lambda}"
    );
}

#[tokio::test]
async fn emu4_sample_events_are_listed_printed_and_invoked() {
    let (status, listing, _) = run_emulator(&["events"]).await;
    assert!(status.success());
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "sqs",
            "sns",
            "s3",
            "eventbridge",
            "dynamodb",
            "kinesis",
            "apigw-rest",
            "apigw-http",
            "function-url",
            "alb",
            "lattice"
        ]
    );
    let (status, printed, _) = run_emulator(&["event", "sqs"]).await;
    assert!(status.success());
    let sqs: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(sqs["Records"][0]["eventSource"], "aws:sqs");
    let (status, _, error) = run_emulator(&["event", "kafka"]).await;
    assert_eq!(status.code(), Some(2));
    assert!(error.contains("lambda-emulator events"), "{error}");

    // Every sample through a running emulator: events that are not HTTP reach the app as
    // they are (its /events route echoes them), HTTP ones as a request for `/`.
    let emulator = start(EmulatorCommand::new()).await;
    let port = emulator.addr.port().to_string();
    for name in names {
        let (status, result, error) = run_emulator(&["invoke", "--port", &port, name]).await;
        assert!(status.success(), "{name}: {error}\n{}", emulator.output());
        let result: Value = serde_json::from_str(&result).unwrap();
        let (_, sample, _) = run_emulator(&["event", name]).await;
        let sample: Value = serde_json::from_str(&sample).unwrap();
        if result.get("received").is_some() {
            assert_eq!(result, json!({ "received": sample }), "{name}");
        } else {
            assert_eq!(result["statusCode"], 200, "{name}: {result}");
            assert_eq!(result["body"], "ok", "{name}: {result}");
        }
    }

    // A saved event from a file.
    let saved = TempFile::new("event.json", r#"{"saved": true}"#);
    let (status, result, _) = run_emulator(&["invoke", "--port", &port, saved.path()]).await;
    assert!(status.success());
    assert_eq!(
        serde_json::from_str::<Value>(&result).unwrap(),
        json!({"received": {"saved": true}})
    );
}

#[tokio::test]
async fn emu4_env_file_configures_the_app_and_the_adapter() {
    let command = EmulatorCommand::new();
    let port = command.app_port();
    let env_file = TempFile::new(
        ".env",
        &format!(
            "# the app's port, for both\nexport AWS_LWA_PORT={port}\nGREETING=\"hello there\"\n"
        ),
    );
    let command = command
        .unset("AWS_LWA_PORT")
        .args(["--env-file", env_file.path()]);
    let emulator = start(command).await;
    emulator.wait_line("set AWS_LWA_PORT, GREETING").await;
    // The app listens where the file says, and the adapter found it there.
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    assert_eq!(answer.body, "ok");

    let bad = TempFile::new("bad.env", "A=1\nnot a variable\n");
    let (status, _, error) =
        run_emulator(&["--port", "0", "--env-file", bad.path(), "--", "true"]).await;
    assert_eq!(status.code(), Some(2), "{error}");
    assert!(error.contains(", line 2: "), "{error}");
}
