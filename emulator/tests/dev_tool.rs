//! The emulator as a development tool, end to end through its command line (covers EMU-1 …
//! EMU-6): the real `lambda-emulator` binary, the real `lambda-adapter` as its extension, and the
//! Python test apps under `tests/apps/`, driven over plain HTTP like curl would.

mod support;

use std::time::Duration;

use http::StatusCode;
use lambda_emulator::testing::ports::unshared_port;
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

/// The emulator with the stub extension in `mode` (`STUB_EXTENSION_MODE`) and `args`, and an
/// app that must never start.
async fn start_with_stub_extension(mode: &str, args: &[&str]) -> Emulator {
    EmulatorCommand::new()
        .extension(&app_script("stub_extension.py"))
        .env("STUB_EXTENSION_MODE", mode)
        .args(args.iter().copied())
        .start(&[
            "python3",
            "-c",
            "raise SystemExit('the app must not start')",
        ])
        .await
}

/// `GET /` through the emulator: a `502` whose JSON names `error_type`; its message.
async fn expect_502(emulator: &Emulator, error_type: &str) -> String {
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_GATEWAY,
        "{}\n{}",
        String::from_utf8_lossy(&answer.body),
        emulator.output()
    );
    let error = answer.json();
    assert_eq!(error["errorType"], error_type, "{error}");
    error["errorMessage"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn emu1_a_request_during_an_unfinished_init_gets_a_502_quoting_the_readiness_line() {
    // The first-hour mistake: the app listens on another port than AWS_LWA_PORT says.
    let app_port = unshared_port().unwrap().to_string();
    let command = EmulatorCommand::new();
    let expected = command.app_port();
    let emulator = command
        .args(["--init-timeout", "2.5"])
        .start(&[
            "python3",
            "-m",
            "http.server",
            &app_port,
            "--bind",
            "127.0.0.1",
        ])
        .await;
    // The emulator sees where the app listens as soon as it does, and says what to change.
    let finding = format!(
        "the app listens on port {app_port}, but the adapter waits for it on {expected} (AWS_LWA_PORT): set AWS_LWA_PORT={app_port}"
    );
    emulator.wait_line(&format!("[emulator] {finding}")).await;
    let message = expect_502(&emulator, "Runtime.InitError").await;
    assert!(
        message.contains("within 2.5 s (--init-timeout)"),
        "{message}"
    );
    assert!(
        message.contains("the adapter's last readiness line: app is not ready"),
        "{message}"
    );
    assert!(
        message.contains(&format!("; the emulator sees that {finding}")),
        "{message}"
    );
    emulator.wait_line("[emulator] init failed: ").await;
    // Once the app listens, the adapter names its port; later requests are told at once, with
    // the adapter's latest line.
    // (Other tests' apps may be listening too: then the adapter lists every new port.)
    emulator
        .wait_line_with(&["is the app listening on ", &app_port, "set AWS_LWA_PORT"])
        .await;
    let again = expect_502(&emulator, "Runtime.InitError").await;
    assert!(
        again.contains(&app_port) && again.contains("set AWS_LWA_PORT"),
        "{again}"
    );
    assert!(!emulator.output().contains("REPORT RequestId"));
    emulator.wait_line("\" 502 function-url not-invoked ").await;
}

#[tokio::test]
async fn emu1_an_init_that_ends_past_the_init_timeout_still_serves() {
    let command = EmulatorCommand::new().args(["--init-timeout", "0.3"]);
    let app = format!(
        "sleep 2; exec python3 {}",
        app_script("web_app.py").display()
    );
    let emulator = command.start(&["sh", "-c", &app]).await;
    let message = expect_502(&emulator, "Runtime.InitError").await;
    assert!(message.contains("within 0.3 s"), "{message}");
    let ready = emulator.wait_line("function ready").await;
    assert!(ready.contains("past --init-timeout (0.3 s)"), "{ready}");
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
}

#[tokio::test]
async fn emu1_a_failed_init_quotes_what_the_adapter_reported() {
    let emulator = EmulatorCommand::new()
        .env("AWS_LWA_PORT", "abc")
        .start(&["python3", "-c", "import time; time.sleep(30)"])
        .await;
    let line = emulator
        .wait_line("the next request starts a fresh environment")
        .await;
    assert!(line.contains("AWS_LWA_PORT"), "{line}");
    // The request starts a fresh environment, which fails the same way.
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        emulator.output()
    );
    let error = answer.json();
    assert!(
        error["errorType"]
            .as_str()
            .unwrap()
            .starts_with("Extension."),
        "{error}"
    );
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("AWS_LWA_PORT"),
        "{error}"
    );
    emulator
        .wait_line("starting a fresh environment (#2)")
        .await;
}

#[tokio::test]
async fn emu1_an_extension_that_never_registers_fails_init_after_the_init_timeout() {
    let emulator = start_with_stub_extension("silent", &["--init-timeout", "0.5"]).await;
    emulator
        .wait_line("did not register with the Extensions API within 0.5 s")
        .await;
    emulator.wait_line("[emulator] extension stopped").await;
    let message = expect_502(&emulator, "Extension.InitError").await;
    assert!(
        message.contains("within 0.5 s (--init-timeout)"),
        "{message}"
    );
    assert!(!emulator.output().contains("started app"));
}

#[tokio::test]
async fn emu2_an_extension_that_exits_before_registering_ends_its_environment_not_the_emulator() {
    let emulator = start_with_stub_extension("exit", &[]).await;
    emulator.assert_order_eventually(&[
        "[extension] extension gives up",
        "[emulator] Runtime.ExitError: the extension exited before it registered (exit status: 3)",
    ])
    .await;
    let message = expect_502(&emulator, "Runtime.ExitError").await;
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(!emulator.output().contains("started app"));
    assert!(emulator.is_running());
}

#[tokio::test]
async fn emu2_an_app_that_exits_at_start_ends_its_environment_not_the_emulator() {
    let emulator = EmulatorCommand::new()
        .start(&[
            "python3",
            "-c",
            "import sys; sys.stderr.write('bye\\n'); sys.exit(3)",
        ])
        .await;
    emulator
        .assert_order_eventually(&[
            "[app] bye",
            "[emulator] Runtime.ExitError: the app exited during init (exit status: 3)",
            "[emulator] stopping extension",
            "[emulator] extension stopped",
        ])
        .await;
    // The next request starts a fresh environment, extension first, whose app exits again.
    let message = expect_502(&emulator, "Runtime.ExitError").await;
    assert!(
        message.contains("exit status: 3); its last line: bye"),
        "{message}"
    );
    emulator.assert_order(&[
        "[emulator] starting a fresh environment (#2)",
        "[emulator] started extension",
        "[emulator] started app",
    ]);
    assert!(emulator.is_running());
}

#[tokio::test]
async fn emu2_an_app_that_crashes_during_a_request_gives_runtime_exit_error_and_a_fresh_environment(
) {
    let emulator = start(EmulatorCommand::new()).await;
    let crashed = get(emulator.addr, "/crash?code=9", &[]).await;
    assert_eq!(
        crashed.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        emulator.output()
    );
    let error = crashed.json();
    assert_eq!(error["errorType"], "Runtime.ExitError", "{error}");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message
            .contains("the app exited (exit status: 9); its last line: app crashes with status 9"),
        "{message}"
    );
    assert!(message.starts_with(&format!("RequestId: {} ", crashed.request_id())));
    let report = emulator.report(crashed.request_id()).await;
    assert!(
        report.ends_with("\tStatus: error\tError Type: Runtime.ExitError"),
        "{report}"
    );
    assert!(report.contains("\tMax Memory Used: "), "{report}");
    assert!(report.contains("\tInit Duration: "), "{report}");
    let line = emulator
        .wait_line("the app exited on its own (exit status: 9)")
        .await;
    assert!(line.contains("Runtime.ExitError"), "{line}");
    assert_eq!(
        emulator.count_lines("exited on its own"),
        1,
        "one line says what exited:\n{}",
        emulator.output()
    );

    // The next request gets a fresh environment, and a cold start.
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    emulator
        .wait_line("starting a fresh environment (#2)")
        .await;
    let report = emulator.report(answer.request_id()).await;
    assert!(report.contains("\tInit Duration: "), "{report}");
    assert!(emulator.is_running());
}

#[tokio::test]
async fn emu3_report_and_access_lines() {
    let emulator = start(EmulatorCommand::new()).await;
    let first = get(emulator.addr, "/echo?x=1", &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let report = emulator.report(first.request_id()).await;
    let fields: Vec<&str> = report.split('\t').collect();
    assert!(
        fields[1].starts_with("Duration: ") && fields[1].ends_with(" ms"),
        "{report}"
    );
    assert!(fields[2].starts_with("Billed Duration: "), "{report}");
    assert_eq!(fields[3], "Memory Size: 128 MB", "{report}");
    let used: u64 = fields[4]
        .strip_prefix("Max Memory Used: ")
        .and_then(|used| used.strip_suffix(" MB"))
        .and_then(|used| used.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    // The app (Python) and the adapter together hold a few MB at least.
    assert!(used >= 5, "{report}");
    assert!(fields[5].starts_with("Init Duration: "), "{report}");
    assert_eq!(fields[6], "Status: success", "{report}");
    let access = emulator
        .wait_line(&format!("RequestId: {}", first.request_id()))
        .await;
    assert!(
        access.starts_with("[emulator] 127.0.0.1 \"GET /echo?x=1\" 200 function-url buffered "),
        "{access}"
    );

    let second = get(emulator.addr, "/", &[]).await;
    let report = emulator.report(second.request_id()).await;
    assert!(!report.contains("Init Duration"), "{report}");

    // The adapter's own 502 (the app dropped the connection) is no success.
    let dropped = get(emulator.addr, "/drop", &[]).await;
    assert_eq!(dropped.status, StatusCode::BAD_GATEWAY);
    let report = emulator.report(dropped.request_id()).await;
    assert!(
        report.ends_with("\tStatus: error\tError Type: Adapter.AppUnreachable"),
        "{report}"
    );
    emulator
        .wait_line("\"GET /drop\" 502 function-url buffered")
        .await;
}

#[tokio::test]
async fn emu3_the_adapters_own_504_is_an_error_and_streams_are_marked() {
    let command = EmulatorCommand::new()
        .env("AWS_LWA_INVOKE_MODE", "response_stream")
        .args(["--timeout", "1"]);
    let app_port = command.app_port();
    let emulator = start(command).await;
    let late = get(emulator.addr, "/gate", &[]).await;
    assert_eq!(
        late.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        emulator.output()
    );
    let report = emulator.report(late.request_id()).await;
    assert!(
        report.ends_with("\tStatus: error\tError Type: Adapter.AppTimeout"),
        "{report}"
    );
    support::app_get(app_port, "/open").await;
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert_eq!(cookies.status, StatusCode::OK);
    emulator
        .wait_line("\"GET /cookies\" 200 function-url streamed ")
        .await;
}

#[tokio::test]
async fn emu6_a_changed_file_restarts_the_app_with_a_new_init() {
    let dir = std::env::temp_dir().join(format!("emu6-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("settings.py");
    std::fs::write(&source, "GREETING = 'hello'\n").unwrap();
    let emulator = start(EmulatorCommand::new().args(["--watch", dir.to_str().unwrap()])).await;
    emulator.wait_line("watching ").await;
    let before = get(emulator.addr, "/", &[]).await;
    assert_eq!(before.status, StatusCode::OK);

    std::fs::write(&source, "GREETING = 'hello, again'\n").unwrap();
    let line = emulator.wait_line("--watch: ").await;
    assert!(
        line.contains("settings.py changed: restarting the app (a new init)"),
        "{line}"
    );
    emulator
        .assert_order_eventually(&[
            "--watch: ",
            "[emulator] stopping app (SIGTERM)",
            "[emulator] starting a fresh environment (#2)",
            "[emulator] started extension",
            "[emulator] started app",
            "[emulator] function ready",
        ])
        .await;
    let after = get(emulator.addr, "/", &[]).await;
    assert_eq!(after.status, StatusCode::OK, "{}", emulator.output());
    let report = emulator.report(after.request_id()).await;
    assert!(report.contains("\tInit Duration: "), "{report}");
    let _ = std::fs::remove_dir_all(&dir);

    let (status, _, error) =
        run_emulator(&["--port", "0", "--watch", "/no/such/dir", "--", "true"]).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        error.contains("--watch /no/such/dir: no such file"),
        "{error}"
    );
}

#[tokio::test]
async fn emu5_the_inspector_serves_its_page_and_api_on_loopback_only() {
    let emulator = start(EmulatorCommand::new()).await;
    let inspector = emulator.inspector_addr().await;
    assert_eq!(inspector.ip().to_string(), "127.0.0.1");
    let page = get(inspector, "/", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains("<script src=\"/inspector.js\">"));
    let answer = get(
        emulator.addr,
        "/echo?inspect=1",
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    let request_id = answer.request_id().to_owned();
    emulator.report(&request_id).await;
    // The list, newest first, then the record in full: the event as sent, the response.
    let list = get(inspector, "/api/invocations", &[]).await.json();
    let summary = list
        .as_array()
        .unwrap()
        .iter()
        .find(|summary| summary["target"] == "/echo?inspect=1")
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    assert_eq!(summary["status"], 200);
    assert_eq!(summary["requestId"], request_id.as_str());
    let detail = get(
        inspector,
        &format!("/api/invocations/{}", summary["id"]),
        &[],
    )
    .await
    .json();
    let event: Value = serde_json::from_str(detail["event"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(event["headers"]["authorization"], "Bearer s3cret");
    assert_eq!(detail["response"]["kind"], "buffered");
    assert!(detail["report"]
        .as_str()
        .unwrap()
        .starts_with(&format!("REPORT RequestId: {request_id}")));
    // A request that does not name a loopback host (DNS rebinding) gets nothing.
    let foreign = support::call(
        inspector,
        http::Method::GET,
        "/api/invocations",
        &[("host", "attacker.example")],
        "",
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(!String::from_utf8_lossy(&foreign.body).contains("s3cret"));

    let (status, _, _) = run_emulator(&["--no-inspector", "--help"]).await;
    assert!(status.success());
}

#[tokio::test]
async fn emu5_the_inspector_lists_invocations_live_in_a_real_browser() {
    let Some(browser) = support::chromium() else {
        eprintln!("skipped: no Chromium found (set LWA_CHROMIUM or install chromium) for the inspector's browser test");
        return;
    };
    let emulator =
        start(EmulatorCommand::new().env("AWS_LWA_INVOKE_MODE", "response_stream")).await;
    let inspector = emulator.inspector_addr().await;
    let rows = "document.querySelectorAll('#rows tr[data-id]')";
    let driver = lambda_emulator::testing::ProcessCommand::new("chromium", "python3")
        .inherit_env()
        .arg(support::chromium_driver())
        .args(["--browser", browser.to_str().unwrap(), "--size", "1280x900"])
        .args(["--open", &format!("http://{inspector}/")])
        .args(["--wait-for", "document.getElementById('live').classList.contains('on')"])
        .args(["--announce", "the page is live"])
        .args(["--wait-for", &format!("{rows}.length >= 3 && ![...{rows}].some(r => r.textContent.includes('…'))")])
        .args([
            "--eval",
            &format!("[...{rows}].find(r => r.textContent.includes('/log?line=')).click()"),
        ])
        .args([
            "--wait-for",
            "(document.getElementById('logs') || {textContent: ''}).textContent.includes('a line from the app')",
        ])
        .args([
            "--print",
            &format!("({{rows: [...{rows}].map(r => r.innerText), detail: document.getElementById('detail').innerText}})"),
        ])
        .spawn()
        .expect("python3 runs the Chromium driver");
    let live = driver
        .wait_for_log("the page is live", support::WAIT)
        .await
        .unwrap_or_else(|| panic!("the page did not go live:\n{}", driver.logs()));
    assert_eq!(live, "the page is live");

    // Made while the page is open: they must appear in it as they happen.
    let echo = get(emulator.addr, "/echo?from=the-browser-test", &[]).await;
    assert_eq!(echo.status, StatusCode::OK);
    let logged = get(emulator.addr, "/log?line=a+line+from+the+app", &[]).await;
    assert_eq!(logged.status, StatusCode::OK);
    let (status, _, _) =
        run_emulator(&["invoke", "--port", &emulator.addr.port().to_string(), "sqs"]).await;
    assert!(status.success());

    let exit = driver.wait_exit(support::WAIT * 2).await;
    let result_line = driver.wait_for_log("result: ", Duration::ZERO).await;
    assert!(
        exit.is_some_and(|status| status.success()) && result_line.is_some(),
        "the browser driver failed:\n{}\nthe emulator:\n{}",
        driver.logs(),
        emulator.output()
    );
    let result: Value =
        serde_json::from_str(result_line.unwrap().trim_start_matches("result: ")).unwrap();
    let rows: Vec<&str> = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_str().unwrap())
        .collect();
    let row_with = |text: &str| {
        rows.iter()
            .find(|row| row.contains(text))
            .unwrap_or_else(|| panic!("no row with {text:?} in {rows:#?}"))
    };
    assert!(row_with("/echo?from=the-browser-test").contains("200"));
    assert!(row_with("/log?line=a+line+from+the+app").contains("function-url"));
    assert!(row_with("raw:sqs").contains("EVENT"));
    let detail = result["detail"].as_str().unwrap();
    for expected in [
        "GET /log?line=a+line+from+the+app",
        "\"rawPath\": \"/log\"",
        "Prelude",
        "logged",
        "a line from the app",
        &format!("REPORT RequestId: {}", logged.request_id()),
    ] {
        assert!(
            detail.contains(expected),
            "{expected:?} not in the page:\n{detail}"
        );
    }
}

#[tokio::test]
async fn emu1_something_else_on_the_apps_port_is_named_before_the_app_starts() {
    let command = EmulatorCommand::new();
    let port = command.app_port();
    // A leftover server holds the app's port: the adapter would take it for the app.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let emulator = command.start(&web_app_command_for_test()).await;
    let line = emulator
        .wait_line("warning: something already listens on")
        .await;
    assert!(
        line.contains(&format!(
            "127.0.0.1:{port} (AWS_LWA_PORT) before the app has started"
        )),
        "{line}"
    );
    emulator
        .assert_order_eventually(&[
            "warning: something already listens on",
            "[emulator] started app",
        ])
        .await;
    drop(squatter);
}

fn web_app_command_for_test() -> Vec<&'static str> {
    static APP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    APP.get_or_init(web_app)
        .iter()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn emu2_an_extension_that_dies_ends_its_environment_and_the_next_request_gets_a_fresh_one() {
    let emulator = start(EmulatorCommand::new()).await;
    let started = emulator.wait_line("[emulator] started extension").await;
    let pid: i32 = started
        .rsplit("(pid ")
        .next()
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {started:?}"));
    lambda_emulator::process::send_signal(pid, lambda_emulator::process::Signal::Kill).unwrap();
    emulator
        .assert_order_eventually(&[
            "[emulator] the extension exited on its own (signal: 9 (SIGKILL))",
            "[emulator] stopping app (SIGTERM)",
            "[emulator] app exited",
        ])
        .await;
    // The fresh environment's app gets the port the stopped one held.
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    emulator
        .wait_line("starting a fresh environment (#2)")
        .await;
}
