//! Reading the adapter's text-format log (CFG-16): its lines by level, warnings (CFG-20).

/// Lines of a text-format log at `level` (`"ERROR message"`, `" WARN message"`).
pub fn level_lines<'a>(logs: &'a str, level: &str) -> Vec<&'a str> {
    logs.lines()
        .filter(|line| line.trim_start().starts_with(&format!("{level} ")))
        .collect()
}

/// Lines containing `needle`.
pub fn lines_with<'a>(logs: &'a str, needle: &str) -> Vec<&'a str> {
    logs.lines().filter(|line| line.contains(needle)).collect()
}

/// Asserts that exactly one line of the whole output is a warning, and that it contains every
/// one of `needles`.
pub fn assert_one_warning(logs: &str, needles: &[&str]) {
    let warnings = level_lines(logs, "WARN");
    assert_eq!(warnings.len(), 1, "expected one warning; output:\n{logs}");
    for needle in needles {
        assert!(
            warnings[0].contains(needle),
            "the warning should contain {needle:?}: {}",
            warnings[0]
        );
    }
}

/// Asserts that no line of the output is a warning.
pub fn assert_no_warning(logs: &str) {
    assert!(
        level_lines(logs, "WARN").is_empty(),
        "expected no warning; output:\n{logs}"
    );
}
