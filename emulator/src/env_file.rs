//! `--env-file FILE` (SPEC EMU-4): variables for the app and the extension from a dotenv file.
//!
//! The format is the common one: `NAME=value` a line, optionally behind `export `; blank lines and
//! lines starting with `#` are skipped; a value may be in single quotes (taken literally) or double
//! quotes (`\n`, `\t`, `\"`, `\\` escapes; may span lines); an unquoted value ends at ` #` (a
//! comment) and is trimmed. Variables that are already set in the emulator's environment are kept
//! as they are, as dotenv loaders do: the file fills in, the shell overrides.

use std::fmt;
use std::path::{Path, PathBuf};

/// A file that cannot be used; the message names the file and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFileError {
    pub file: PathBuf,
    /// 1-based; 0 when the file could not be read at all.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for EnvFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "--env-file {}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "--env-file {}, line {}: {}",
                self.file.display(),
                self.line,
                self.message
            )
        }
    }
}

impl std::error::Error for EnvFileError {}

/// Reads and parses one file.
pub fn read(file: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = std::fs::read_to_string(file).map_err(|err| EnvFileError {
        file: file.to_path_buf(),
        line: 0,
        message: err.to_string(),
    })?;
    parse(&text).map_err(|(line, message)| EnvFileError {
        file: file.to_path_buf(),
        line,
        message,
    })
}

/// The variables of a dotenv text, in order (a later line with the same name wins when they are
/// applied); `Err((line, why))` for a line that is not a variable.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut variables = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let number = index + 1;
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            return Err((number, format!("{line:?} is not NAME=value")));
        };
        let name = name.trim();
        let valid_name = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err((number, format!("{name:?} is not a variable name")));
        }
        let value = value.trim_start();
        let value = if let Some(quoted) = value.strip_prefix('\'') {
            let Some((inside, _)) = quoted.split_once('\'') else {
                return Err((number, format!("the value of {name} has no closing '")));
            };
            inside.to_owned()
        } else if let Some(quoted) = value.strip_prefix('"') {
            let mut raw = quoted.to_owned();
            loop {
                if let Some(end) = closing_double_quote(&raw) {
                    raw.truncate(end);
                    break;
                }
                match lines.next() {
                    Some((_, next)) => {
                        raw.push('\n');
                        raw.push_str(next);
                    }
                    None => return Err((number, format!("the value of {name} has no closing \""))),
                }
            }
            unescape(&raw)
        } else {
            let end = value.find(" #").unwrap_or(value.len());
            value[..end].trim().to_owned()
        };
        variables.push((name.to_owned(), value));
    }
    Ok(variables)
}

/// The byte offset of the first `"` not escaped by a backslash.
fn closing_double_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(offset),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The variables of `files` (later files win) that `is_set` does not already have, and the names
/// that were left alone because it has them.
pub fn merge(
    files: &[Vec<(String, String)>],
    is_set: impl Fn(&str) -> bool,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut applied: Vec<(String, String)> = Vec::new();
    let mut kept = Vec::new();
    for (name, value) in files.iter().flatten() {
        if is_set(name) {
            if !kept.contains(name) {
                kept.push(name.clone());
            }
            continue;
        }
        match applied.iter_mut().find(|(known, _)| known == name) {
            Some(entry) => entry.1 = value.clone(),
            None => applied.push((name.clone(), value.clone())),
        }
    }
    (applied, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu4_dotenv_lines() {
        let text = "\
# the app's settings
AWS_LWA_PORT=8000
export AWS_LWA_READINESS_CHECK_PATH=/health   # a comment
EMPTY=
SPACED = a b  
SINGLE='literal $HOME \\n # not a comment'
DOUBLE=\"line one\\nline \\\"two\\\"\"
MULTI=\"first
second\"
URL=postgres://u:p@db/x#fragment

";
        let parsed = parse(text).unwrap();
        let expected = [
            ("AWS_LWA_PORT", "8000"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/health"),
            ("EMPTY", ""),
            ("SPACED", "a b"),
            ("SINGLE", "literal $HOME \\n # not a comment"),
            ("DOUBLE", "line one\nline \"two\""),
            ("MULTI", "first\nsecond"),
            ("URL", "postgres://u:p@db/x#fragment"),
        ];
        assert_eq!(parsed.len(), expected.len(), "{parsed:?}");
        for ((name, value), (expected_name, expected_value)) in parsed.iter().zip(expected) {
            assert_eq!(name, expected_name);
            assert_eq!(value, expected_value, "{name}");
        }
    }

    #[test]
    fn emu4_bad_lines_name_the_line() {
        assert_eq!(parse("A=1\njust words\n").unwrap_err().0, 2);
        assert_eq!(parse("1A=x").unwrap_err().0, 1);
        assert_eq!(parse("A-B=x").unwrap_err().0, 1);
        assert_eq!(parse("A='open").unwrap_err().0, 1);
        assert_eq!(parse("\nA=\"open\nstill").unwrap_err().0, 2);
        let missing = read(Path::new("/nonexistent/.env")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("--env-file /nonexistent/.env: "),
            "{missing}"
        );
    }

    #[test]
    fn emu4_the_environment_wins_and_later_files_win() {
        let first = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "1".to_owned()),
        ];
        let second = vec![
            ("A".to_owned(), "2".to_owned()),
            ("HOME".to_owned(), "x".to_owned()),
        ];
        let (applied, kept) = merge(&[first, second], |name| name == "HOME");
        assert_eq!(
            applied,
            [
                ("A".to_owned(), "2".to_owned()),
                ("B".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(kept, ["HOME"]);
    }
}
