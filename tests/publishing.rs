//! Publishing checks (SPEC PKG-5, PKG-8, PKG-9, PKG-10): the examples' files, the image built
//! without a daemon (Containerfile, fully qualified base images, the builder `make image` picks),
//! the SAM template's private-by-default layer permission, ignored build outputs, and the CI and
//! release workflows. Plain file and command checks: the examples themselves run through the
//! emulator in `make examples-test`.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The example directories (every directory of `examples/` but the demo's, which `make demo` runs).
fn examples() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(Path::new(ROOT).join("examples"))
        .expect("examples/")
        .map(|entry| entry.expect("an entry of examples/"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "demo")
        .collect();
    names.sort();
    names
}

/// The `FROM` images of a Dockerfile, without stage names.
fn base_images(dockerfile: &str) -> Vec<String> {
    dockerfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix("FROM "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// An image reference names its registry when its first path component is a host name.
fn fully_qualified(image: &str) -> bool {
    image == "scratch"
        || image.split_once('/').is_some_and(|(registry, _)| {
            registry.contains('.') || registry.contains(':') || registry == "localhost"
        })
}

#[test]
fn pkg5_every_example_has_a_readme_a_dockerfile_and_a_test() {
    // covers PKG-5
    let tested = read("scripts/examples_test.py");
    let readme = read("README.md");
    let names = examples();
    assert!(names.len() >= 10, "at least ten examples: {names:?}");
    for name in &names {
        let dir = format!("examples/{name}");
        assert!(
            read(&format!("{dir}/README.md")).contains("## Run it locally"),
            "{dir}/README.md says how to run it locally"
        );
        let dockerfile = read(&format!("{dir}/Dockerfile"));
        assert!(
            dockerfile.contains(
                "COPY --from=lambda-adapter:latest /lambda-adapter /opt/extensions/lambda-adapter"
            ),
            "{dir}/Dockerfile has the one-line install"
        );
        assert!(
            tested.contains(&format!("\"{name}\": ({}_setup", name.replace('-', "_"))),
            "scripts/examples_test.py runs {name}"
        );
        assert!(
            readme.contains(&format!("](examples/{name})")),
            "the README's Examples section links {dir}"
        );
    }
}

#[test]
fn pkg5_run_scripts_are_executable_with_unix_line_endings() {
    // covers PKG-5, PKG-2 (the layer's bootstrap refuses scripts that are not)
    for name in examples() {
        let path = Path::new(ROOT).join("examples").join(&name).join("run.sh");
        let Ok(script) = fs::read(&path) else {
            continue;
        };
        let mode = fs::metadata(&path).expect("run.sh").permissions().mode();
        assert!(mode & 0o111 != 0, "examples/{name}/run.sh is executable");
        assert!(
            script.starts_with(b"#!/"),
            "examples/{name}/run.sh has a #! line"
        );
        assert!(
            !script.contains(&b'\r'),
            "examples/{name}/run.sh has LF line endings"
        );
    }
}

#[test]
fn pkg5_every_example_reads_its_port_from_the_environment() {
    // covers PKG-5 (issue 15: the examples test gives each app a free port in AWS_LWA_PORT)
    for name in examples() {
        let dir = Path::new(ROOT).join("examples").join(&name);
        let mut sources = vec![dir.clone()];
        let mut reads_it = false;
        while let Some(path) = sources.pop() {
            if path.is_dir() {
                let skip = ["node_modules", ".next", "target", "site"];
                if !skip.iter().any(|s| path.ends_with(s)) {
                    sources.extend(
                        fs::read_dir(&path)
                            .expect("dir")
                            .map(|e| e.expect("entry").path()),
                    );
                }
            } else if let Ok(text) = fs::read_to_string(&path) {
                reads_it |= text.contains("AWS_LWA_PORT");
            }
        }
        assert!(reads_it, "examples/{name} reads AWS_LWA_PORT");
    }
}

#[test]
fn pkg8_dockerfiles_name_their_base_images_in_full() {
    // covers PKG-8
    let mut files = vec!["Dockerfile".to_string(), "Containerfile".to_string()];
    files.extend(
        examples()
            .iter()
            .map(|name| format!("examples/{name}/Dockerfile")),
    );
    for file in files {
        for image in base_images(&read(&file)) {
            assert!(
                fully_qualified(&image),
                "{file}: FROM {image} names no registry"
            );
        }
    }
    assert!(!fully_qualified("rust:1-bookworm"));
    assert!(fully_qualified("docker.io/library/rust:1-bookworm"));
}

#[test]
fn pkg8_the_containerfile_is_the_binary_in_scratch() {
    // covers PKG-8, PKG-1
    let instructions: Vec<String> = read("Containerfile")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert_eq!(
        instructions,
        [
            "FROM scratch",
            "COPY lambda-adapter /lambda-adapter",
            "ENTRYPOINT [\"/lambda-adapter\"]",
        ]
    );
    assert!(read("Makefile").contains("\nimage: build-$(IMAGE_ARCH)\n"));
}

/// A directory of stand-in programs for `scripts/image.sh`, removed when dropped.
struct FakeTools(PathBuf);

impl FakeTools {
    fn new() -> FakeTools {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lwa-publishing-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).expect("temp dir");
        fs::create_dir_all(dir.join("dist/x86_64")).expect("temp dist");
        let binary = dir.join("dist/x86_64/lambda-adapter");
        fs::write(&binary, "#!/bin/sh\n").expect("fake binary");
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).expect("chmod");
        // What the script needs besides the builders.
        for tool in ["dirname", "id", "uname", "rm", "cat"] {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|dir| Path::new(dir).join(tool))
                .find(|path| path.exists())
                .unwrap_or_else(|| panic!("{tool} is installed"));
            symlink(real, dir.join("bin").join(tool)).expect("symlink");
        }
        FakeTools(dir)
    }

    /// A builder that logs its arguments; `info` succeeds or fails as asked, and exporting the
    /// image fails, so that the script stops after the build.
    fn builder(&self, name: &str, info_works: bool) {
        let script = format!(
            "#!/bin/sh\necho \"{name} $*\" >> \"{log}\"\ncase \"$1\" in\n  info) exit {info};;\n  build) exit 0;;\n  *) exit 3;;\nesac\n",
            log = self.0.join("log").display(),
            info = if info_works { 0 } else { 1 },
        );
        let path = self.0.join("bin").join(name);
        fs::write(&path, script).expect("fake builder");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// Runs `scripts/image.sh x86_64 9.9.9` with only the stand-ins on PATH; returns the builders' log.
    fn run(&self) -> String {
        let output = Command::new("/bin/bash")
            .arg(Path::new(ROOT).join("scripts/image.sh"))
            .args(["x86_64", "9.9.9", "lwa-test"])
            .env_clear()
            .env("PATH", self.0.join("bin"))
            .env("DIST", self.0.join("dist"))
            .output()
            .expect("run scripts/image.sh");
        assert!(!output.status.success(), "the fake export fails the script");
        fs::read_to_string(self.0.join("log")).unwrap_or_default()
    }
}

impl Drop for FakeTools {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pkg8_make_image_prefers_a_running_docker_then_podman_then_buildah() {
    // covers PKG-8
    let context = |tools: &FakeTools| tools.0.join("dist/x86_64").display().to_string();

    let tools = FakeTools::new();
    tools.builder("docker", true);
    tools.builder("podman", true);
    let log = tools.run();
    assert!(
        log.contains(&format!(
            "docker build --platform linux/amd64 -f Containerfile -t lwa-test:9.9.9-x86_64 {}",
            context(&tools)
        )),
        "{log}"
    );
    assert!(!log.contains("podman build"), "{log}");

    // A docker client without a daemon (as on this project's machines) is passed over.
    let tools = FakeTools::new();
    tools.builder("docker", false);
    tools.builder("podman", true);
    tools.builder("buildah", true);
    let log = tools.run();
    assert!(log.contains("docker info"), "{log}");
    assert!(
        log.contains(
            "podman build --platform linux/amd64 -f Containerfile -t lwa-test:9.9.9-x86_64"
        ),
        "{log}"
    );
    assert!(!log.contains("buildah build"), "{log}");

    let tools = FakeTools::new();
    tools.builder("docker", false);
    tools.builder("buildah", true);
    let log = tools.run();
    assert!(
        log.contains(
            "buildah build --platform linux/amd64 -f Containerfile -t lwa-test:9.9.9-x86_64"
        ),
        "{log}"
    );
}

#[test]
fn pkg9_the_layers_are_private_unless_sharing_is_asked_for() {
    // covers PKG-9, PKG-3
    let template = read("template.yaml");
    let access = template
        .split("\n  LayerAccess:\n")
        .nth(1)
        .expect("a LayerAccess parameter");
    let access = &access[..access.find("\n  Layer").unwrap_or(access.len())];
    assert!(access.contains("Default: private"), "{access}");
    assert!(access.contains("AllowedValues: [private, account, organization, public]"));
    // The template's blocks at the second level (parameters, resources, ...), each with its lines.
    let mut blocks: Vec<String> = Vec::new();
    for line in template.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            blocks.push(String::new());
        }
        if let Some(block) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    let permissions: Vec<&String> = blocks
        .iter()
        .filter(|block| block.contains("Type: AWS::Lambda::LayerVersionPermission"))
        .collect();
    assert_eq!(permissions.len(), 2, "one permission per layer");
    for permission in permissions {
        assert!(
            permission.contains("Condition: ShareLayers"),
            "{permission}"
        );
        assert!(!permission.contains("Principal: \"*\""), "{permission}");
    }
    assert!(template.contains("ShareLayers: !Not [!Equals [!Ref LayerAccess, private]]"));
}

#[test]
fn pkg9_build_outputs_are_ignored_by_git_and_docker() {
    // covers PKG-9
    let gitignore = read(".gitignore");
    for output in ["/target", "/dist", "/.aws-sam", "node_modules/"] {
        assert!(
            gitignore.lines().any(|l| l == output),
            ".gitignore: {output}"
        );
    }
    let dockerignore = read(".dockerignore");
    for output in ["target", "dist", ".aws-sam", "**/node_modules"] {
        assert!(
            dockerignore.lines().any(|l| l == output),
            ".dockerignore: {output}"
        );
    }
}

#[test]
fn pkg10_ci_runs_the_readmes_test_command_and_a_tag_makes_a_release() {
    // covers PKG-10
    let readme = read("README.md");
    assert!(readme.contains("make test "), "the README's test command");
    let ci = read(".github/workflows/ci.yml");
    assert!(ci.contains("\n  push:\n") && ci.contains("\n  pull_request:\n"));
    assert!(ci.contains("run: make test\n"));

    let release = read(".github/workflows/release.yml");
    assert!(release.contains("tags: [\"v*\"]"));
    for needed in [
        "make layer-x86_64 layer-arm64",
        "release/lambda-adapter-x86_64",
        "release/lambda-adapter-arm64",
        "sha256sum",
        "platforms: linux/amd64,linux/arm64",
        "${{ vars.IMAGE_REPOSITORY }}",
        "gh release create",
    ] {
        assert!(release.contains(needed), "release.yml: {needed}");
    }
    // The Makefile targets the release runs exist.
    let makefile = read("Makefile");
    for target in ["layer-x86_64:", "layer-arm64:", "actionlint:"] {
        assert!(
            makefile.contains(&format!("\n{target}")),
            "Makefile: {target}"
        );
    }
    assert!(makefile.contains("\nlint: fmt-check clippy doc cfn-lint actionlint\n"));
}
