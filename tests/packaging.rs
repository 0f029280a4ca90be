//! Packaging checks (SPEC PKG-1 … PKG-4): the layer's exec wrapper, the layer zip layout, the
//! Dockerfile's stages and paths, and the SAM template's build hooks. The image cannot be built
//! here (no Docker engine), so its layout is checked from the Dockerfile and `make image-rootfs`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lwa-packaging-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, content).expect("write file");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn bootstrap(task_root: Option<&Path>, handler: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(Path::new(ROOT).join("layer/bootstrap"));
    command
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LWA_PORT", "3000");
    if let Some(root) = task_root {
        command.env("LAMBDA_TASK_ROOT", root);
    }
    if let Some(handler) = handler {
        command.env("_HANDLER", handler);
    }
    command.output().expect("run layer/bootstrap")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bootstrap_execs_the_handler_with_its_arguments_and_environment() {
    // covers PKG-2
    let dir = TempDir::new();
    dir.write(
        "run.sh",
        b"#!/bin/sh\necho \"args=$*\"\necho \"port=$AWS_LWA_PORT\"\necho \"pid=$$\"\n",
        0o755,
    );
    let output = bootstrap(
        Some(&dir.0),
        Some("run.sh"),
        &["/var/lang/bin/node", "--flag", "a b"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("args=/var/lang/bin/node --flag a b"),
        "{stdout}"
    );
    assert!(stdout.contains("port=3000"), "{stdout}");
}

#[test]
fn bootstrap_reports_a_missing_handler() {
    // covers PKG-2
    let dir = TempDir::new();
    let output = bootstrap(Some(&dir.0), Some("run.sh"), &[]);
    assert_eq!(output.status.code(), Some(127));
    assert!(
        stderr(&output).contains("run.sh does not exist"),
        "{}",
        stderr(&output)
    );

    let output = bootstrap(Some(&dir.0), None, &[]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("no handler"),
        "{}",
        stderr(&output)
    );

    let output = bootstrap(None, Some("run.sh"), &[]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("LAMBDA_TASK_ROOT"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bootstrap_reports_a_handler_that_cannot_run() {
    // covers PKG-2
    let dir = TempDir::new();
    dir.write("run.sh", b"#!/bin/sh\necho hi\n", 0o644);
    let output = bootstrap(Some(&dir.0), Some("run.sh"), &[]);
    assert_eq!(output.status.code(), Some(126));
    assert!(
        stderr(&output).contains("not executable"),
        "{}",
        stderr(&output)
    );

    dir.write("crlf.sh", b"#!/bin/sh\r\necho hi\r\n", 0o755);
    let output = bootstrap(Some(&dir.0), Some("crlf.sh"), &[]);
    assert_eq!(output.status.code(), Some(126));
    assert!(stderr(&output).contains("CRLF"), "{}", stderr(&output));
}

fn layer_zip(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(Path::new(ROOT).join("scripts/layer_zip.py"))
        .args(args)
        .output()
        .expect("python3 runs scripts/layer_zip.py")
}

/// The zip's entries and unix modes, read with Python's zipfile (independently of the builder).
fn zip_listing(zip: &Path) -> Vec<(String, u32)> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(oct(i.external_attr >> 16), i.filename)",
        ])
        .arg(zip)
        .output()
        .expect("python3 lists the zip");
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (mode, name) = line.split_once(' ').expect("mode and name");
            let mode = u32::from_str_radix(mode.trim_start_matches("0o"), 8).expect("octal mode");
            (name.to_string(), mode)
        })
        .collect()
}

#[test]
fn layer_zip_has_bootstrap_and_the_extension_executable() {
    // covers PKG-2 (the layout `make layer-x86_64` writes and checks)
    let dir = TempDir::new();
    let binary = dir.write("lambda-adapter", b"\x7fELF fake binary", 0o755);
    let zip = dir.0.join("layer.zip");
    let bootstrap = Path::new(ROOT).join("layer/bootstrap");
    let built = layer_zip(&[
        "build",
        zip.to_str().unwrap(),
        bootstrap.to_str().unwrap(),
        binary.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{}", stderr(&built));
    assert_eq!(
        zip_listing(&zip),
        vec![
            ("bootstrap".to_string(), 0o100755),
            ("extensions/".to_string(), 0o40755),
            ("extensions/lambda-adapter".to_string(), 0o100755),
        ]
    );
    let checked = layer_zip(&["check", zip.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stderr(&checked));
}

#[test]
fn layer_zip_check_rejects_a_wrong_layout() {
    // covers PKG-2
    let dir = TempDir::new();
    let zip = dir.0.join("bad.zip");
    let made = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\ni = zipfile.ZipInfo('bootstrap'); i.external_attr = 0o100644 << 16; z.writestr(i, '#!/bin/sh')\nz.close()",
        ])
        .arg(&zip)
        .output()
        .expect("python3 writes a zip");
    assert!(made.status.success(), "{}", stderr(&made));
    let checked = layer_zip(&["check", zip.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(1));
    let errors = stderr(&checked);
    assert!(
        errors.contains("missing extensions/lambda-adapter"),
        "{errors}"
    );
    assert!(errors.contains("bootstrap has mode"), "{errors}");
}

fn read(path: &str) -> String {
    fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn makefile_targets() -> Vec<String> {
    read("Makefile")
        .lines()
        .filter_map(|line| line.split_once(':').map(|(target, _)| target))
        .filter(|target| !target.is_empty() && !target.contains([' ', '\t', '$', '.', '=']))
        .map(str::to_string)
        .collect()
}

#[test]
fn dockerfile_builds_a_scratch_image_with_the_binary_at_the_root() {
    // covers PKG-1
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].starts_with("FROM docker.io/library/rust:") && froms[0].ends_with(" AS build"),
        "{}",
        froms[0]
    );
    assert_eq!(froms[1], "FROM scratch");
    let final_stage = &instructions[instructions
        .iter()
        .position(|l| *l == "FROM scratch")
        .unwrap()..];
    assert_eq!(
        final_stage,
        [
            "FROM scratch",
            "COPY --from=build /lambda-adapter /lambda-adapter",
            "ENTRYPOINT [\"/lambda-adapter\"]",
        ]
    );
    // The build stage uses the Makefile's recipes, which must exist.
    let targets = makefile_targets();
    for target in ["build-x86_64", "build-arm64"] {
        assert!(
            dockerfile.contains(&format!("make {target}")),
            "Dockerfile runs make {target}"
        );
        assert!(targets.iter().any(|t| t == target), "Makefile has {target}");
    }
    assert!(dockerfile.contains("cp dist/x86_64/lambda-adapter /lambda-adapter"));
    assert!(dockerfile.contains("cp dist/arm64/lambda-adapter /lambda-adapter"));
}

#[test]
fn sam_template_layers_have_makefile_build_hooks() {
    // covers PKG-3, PKG-4
    let template = read("template.yaml");
    let targets = makefile_targets();
    let layers: Vec<&str> = template
        .lines()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].trim() == "Type: AWS::Serverless::LayerVersion")
        .map(|w| w[0].trim().trim_end_matches(':'))
        .collect();
    assert_eq!(layers, ["LambdaAdapterLayerX86", "LambdaAdapterLayerArm64"]);
    for layer in layers {
        let hook = format!("build-{layer}");
        assert!(targets.contains(&hook), "Makefile has the SAM hook {hook}");
    }
    assert_eq!(template.matches("BuildMethod: makefile").count(), 2);
    assert!(template.contains("AWS::Lambda::LayerVersionPermission"));
    for target in [
        "build",
        "test",
        "lint",
        "build-x86_64",
        "build-arm64",
        "layer-x86_64",
        "layer-arm64",
        "image-rootfs",
    ] {
        assert!(targets.iter().any(|t| t == target), "Makefile has {target}");
    }
}

/// The `[dependencies]` table of the root Cargo.toml: crate names, each with the comment above
/// its group (a comment serves the dependency lines that follow it up to a blank line).
fn dependencies() -> Vec<(String, String)> {
    let manifest = read("Cargo.toml");
    let table = manifest
        .split("\n[dependencies]\n")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    let mut comments = String::new();
    let mut found = Vec::new();
    for line in table.lines() {
        if line.trim().is_empty() {
            comments.clear();
        } else if let Some(comment) = line.trim().strip_prefix('#') {
            comments.push_str(comment);
        } else if let Some((name, _)) = line.split_once('=') {
            found.push((name.trim().to_string(), comments.clone()));
            if !line.contains('#') && FIELD.contains(&name.trim()) {
                comments.clear();
            }
        }
    }
    found
}

#[test]
fn shp1_one_crate_with_the_library_and_the_binary() {
    // covers SHP-1 (static linking is checked by `make build-x86_64 build-arm64`)
    let manifest = read("Cargo.toml");
    assert!(manifest.contains("[lib]\nname = \"lambda_web_adapter\""));
    assert!(manifest.contains("[[bin]]\nname = \"lambda-adapter\""));
    assert!(
        manifest.contains("panic = \"unwind\""),
        "ERR-3: release builds unwind"
    );
}

/// SPEC SHP-3's list of the field's own crates.
const FIELD: [&str; 14] = [
    "tokio",
    "hyper",
    "hyper-util",
    "http-body-util",
    "lambda_http",
    "lambda_runtime",
    "lambda-extension",
    "tower",
    "tower-http",
    "serde",
    "serde_json",
    "url",
    "tracing",
    "tracing-subscriber",
];

#[test]
fn shp3_dependencies_are_the_fields_crates_or_say_why() {
    // covers SHP-3
    for (name, reason) in dependencies() {
        if !FIELD.contains(&name.as_str()) {
            assert!(
                !reason.trim().is_empty(),
                "{name} is not one of SPEC SHP-3's crates and has no reason line"
            );
        }
    }
}
