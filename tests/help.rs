//! PKG-7: `lambda-adapter --help` and `-h` say what the binary is, how Lambda starts it and every
//! variable with its default, and exit 0 without contacting anything (as `--version` does).

use std::net::TcpListener;
use std::process::Command;

const ADAPTER: &str = env!("CARGO_BIN_EXE_lambda-adapter");

// covers PKG-7
#[test]
fn pkg7_help_explains_the_binary_and_contacts_nothing() {
    // A Runtime API that would see any attempt to register.
    let runtime_api = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    runtime_api.set_nonblocking(true).expect("non-blocking");
    let address = runtime_api.local_addr().expect("its address").to_string();
    for flag in ["--help", "-h"] {
        let output = Command::new(ADAPTER)
            .arg(flag)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &address)
            .output()
            .expect("the adapter runs");
        assert!(output.status.success(), "{flag}: {:?}", output.status);
        let text = String::from_utf8_lossy(&output.stdout);
        for expected in [
            "lambda-adapter",
            "/opt/extensions/lambda-adapter",
            "AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap",
            "AWS_LWA_PORT",
            "8080",
            "AWS_LWA_READINESS_CHECK_PATH",
            "AWS_LWA_INVOKE_MODE",
            "buffered",
            "AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS",
            "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH",
            "README",
        ] {
            assert!(
                text.contains(expected),
                "{flag}: no {expected:?} in:\n{text}"
            );
        }
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        runtime_api.accept().is_err(),
        "--help contacted the Runtime API"
    );
}
