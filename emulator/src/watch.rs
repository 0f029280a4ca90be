//! `--watch PATH` (SPEC EMU-6): when files under PATH change, the function gets a fresh
//! environment (a new init, logged), so that the app runs the code just saved.
//!
//! The tree is polled: every [`POLL_INTERVAL`] each file's modification time and size are read
//! (no file-watching crate, nothing platform-specific). A change is acted on once the tree has
//! been quiet for one more poll, so that an editor's or a build's burst of writes restarts the
//! app once. Hidden files and directories (`.git`, editor swap files) and the usual dependency and
//! build directories are not watched, and at most [`MAX_FILES`] files are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::environment::Function;

/// How often the tree is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(300);
/// Files watched at most; past this the rest of the tree is ignored (with one line saying so).
pub const MAX_FILES: usize = 20_000;
/// How long a burst of changes may go on before the restart happens anyway.
const MAX_SETTLE: Duration = Duration::from_secs(5);
/// Directories that hold dependencies or build output, not the app's sources.
const SKIPPED_DIRECTORIES: [&str; 5] = ["node_modules", "target", "__pycache__", "venv", "vendor"];

/// What a poll saw: every watched file's modification time and size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    files: HashMap<PathBuf, (Option<SystemTime>, u64)>,
    /// More than [`MAX_FILES`] files were there.
    pub truncated: bool,
}

impl Snapshot {
    /// Reads the trees under `roots` (a root may also be a single file).
    pub fn take(roots: &[PathBuf]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for root in roots {
            snapshot.add(root, true);
        }
        snapshot
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn add(&mut self, path: &Path, is_root: bool) {
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        if metadata.is_dir() {
            let hidden_or_skipped = !is_root
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| {
                        name.starts_with('.') || SKIPPED_DIRECTORIES.contains(&name)
                    });
            if hidden_or_skipped {
                return;
            }
            let Ok(entries) = std::fs::read_dir(path) else {
                return;
            };
            let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
            children.sort();
            for child in children {
                if self.truncated {
                    return;
                }
                self.add(&child, false);
            }
        } else {
            let hidden = !is_root
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with('.') || name.ends_with('~'));
            if hidden {
                return;
            }
            if self.files.len() >= MAX_FILES {
                self.truncated = true;
                return;
            }
            self.files.insert(
                path.to_path_buf(),
                (metadata.modified().ok(), metadata.len()),
            );
        }
    }

    /// The files added, removed or modified since `before`, sorted.
    pub fn changed_since(&self, before: &Snapshot) -> Vec<PathBuf> {
        let mut changed: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(path, stamp)| before.files.get(*path) != Some(stamp))
            .map(|(path, _)| path.clone())
            .chain(
                before
                    .files
                    .keys()
                    .filter(|path| !self.files.contains_key(*path))
                    .cloned(),
            )
            .collect();
        changed.sort();
        changed
    }
}

/// Checks that every path exists; the message names the one that does not.
pub fn check(roots: &[PathBuf]) -> Result<(), String> {
    match roots.iter().find(|root| !root.exists()) {
        Some(missing) => Err(format!(
            "--watch {}: no such file or directory",
            missing.display()
        )),
        None => Ok(()),
    }
}

async fn take(roots: &Arc<Vec<PathBuf>>) -> Snapshot {
    let roots = roots.clone();
    tokio::task::spawn_blocking(move || Snapshot::take(&roots))
        .await
        .unwrap_or_default()
}

/// Polls `roots` until the task is dropped, giving `function` a fresh environment after each
/// change.
pub async fn watch(roots: Vec<PathBuf>, function: Arc<Function>) {
    let roots = Arc::new(roots);
    let listed = roots
        .iter()
        .map(|root| root.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut last = take(&roots).await;
    if last.truncated {
        say!(
            "--watch {listed}: more than {MAX_FILES} files; only the first {MAX_FILES} are watched (point --watch at your sources)"
        );
    }
    say!(
        "watching {listed} ({} files): the app restarts when one changes",
        last.len()
    );
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let now = take(&roots).await;
        let first_changed = now.changed_since(&last);
        if first_changed.is_empty() {
            continue;
        }
        // Wait for the burst to end: one quiet poll (bounded).
        let mut settled = now;
        let started = tokio::time::Instant::now();
        while started.elapsed() < MAX_SETTLE {
            tokio::time::sleep(POLL_INTERVAL).await;
            let next = take(&roots).await;
            if next == settled {
                break;
            }
            settled = next;
        }
        // Changed and changed back: still a change worth a restart.
        let mut changed = settled.changed_since(&last);
        if changed.is_empty() {
            changed = first_changed;
        }
        last = settled;
        let shown = changed
            .iter()
            .take(3)
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let more = changed.len().saturating_sub(3);
        let what = if more > 0 {
            format!("{shown} and {more} more")
        } else {
            shown
        };
        say!("--watch: {what} changed: restarting the app (a new init)");
        if function
            .restart(&format!("{what} changed (--watch)"))
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu6_snapshots_see_changes_and_skip_what_is_not_source() {
        let root = std::env::temp_dir().join(format!("emu-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["src", "node_modules/x", ".git", "src/__pycache__"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "src/app.py",
            "README.md",
            "node_modules/x/index.js",
            ".git/HEAD",
            "src/.app.py.swp",
            "src/app.py~",
            "src/__pycache__/app.pyc",
        ] {
            std::fs::write(root.join(file), "x").unwrap();
        }
        let roots = vec![root.clone()];
        let first = Snapshot::take(&roots);
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(first.changed_since(&first).is_empty());

        std::fs::write(root.join("src/app.py"), "longer content").unwrap();
        std::fs::write(root.join("node_modules/x/index.js"), "ignored change").unwrap();
        std::fs::write(root.join("src/new.py"), "").unwrap();
        std::fs::remove_file(root.join("README.md")).unwrap();
        let second = Snapshot::take(&roots);
        assert_eq!(
            second.changed_since(&first),
            [
                root.join("README.md"),
                root.join("src/app.py"),
                root.join("src/new.py")
            ]
        );
        // A single file can be watched too.
        let single = Snapshot::take(&[root.join("src/app.py")]);
        assert_eq!(single.len(), 1);
        assert!(check(&[root.join("src/app.py")]).is_ok());
        assert!(check(&[root.join("missing")])
            .unwrap_err()
            .contains("missing"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
