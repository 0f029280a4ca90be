//! The report: a row per figure (one value per subject, the ratio ours/theirs, the issue's
//! target), notes, printed as the run goes and written as Markdown and JSON at the end.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::stats::{percentile, PERCENTILES};
use crate::Subject;

#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Stored in µs, shown in µs.
    Micros,
    /// Stored in µs, shown in ms.
    Millis,
    KiB,
    Bytes,
    PerSecond,
}

impl Unit {
    pub fn show(self, value: f64) -> String {
        match self {
            Unit::Micros => format!("{value:.0} µs"),
            Unit::Millis => format!("{:.2} ms", value / 1000.0),
            Unit::KiB => format!("{:.1} MiB", value / 1024.0),
            Unit::Bytes => format!("{value:.0} B"),
            Unit::PerSecond => format!("{value:.0}/s"),
        }
    }

    /// [`Unit::show`], or a dash for a figure that was not measured.
    pub fn show_or_dash(self, value: Option<f64>) -> String {
        value.map_or_else(|| "—".to_string(), |value| self.show(value))
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Micros | Unit::Millis => "us",
            Unit::KiB => "KiB",
            Unit::Bytes => "bytes",
            Unit::PerSecond => "per_second",
        }
    }
}

/// The goals for a figure.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    RatioAtMost(f64),
    RatioAtLeast(f64),
    AbsoluteBelowMicros(f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::RatioAtMost(r) => format!("≤ {r}×"),
            Target::RatioAtLeast(r) => format!("≥ {r}×"),
            Target::AbsoluteBelowMicros(us) => format!("< {} ms", us / 1000.0),
        }
    }

    fn met(self, ours: Option<f64>, ratio: Option<f64>) -> Option<bool> {
        match self {
            Target::RatioAtMost(r) => ratio.map(|ratio| ratio <= r),
            Target::RatioAtLeast(r) => ratio.map(|ratio| ratio >= r),
            Target::AbsoluteBelowMicros(us) => ours.map(|ours| ours < us),
        }
    }
}

struct Row {
    id: String,
    label: String,
    unit: Unit,
    values: Vec<Option<f64>>,
    target: Option<Target>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        match self.values.as_slice() {
            [Some(ours), Some(theirs)] if *theirs != 0.0 => Some(ours / theirs),
            _ => None,
        }
    }

    fn met(&self) -> Option<bool> {
        self.target?
            .met(self.values.first().copied().flatten(), self.ratio())
    }
}

/// A table of a scenario's own (the server matrix of (h)), shown after the figures.
pub struct Table {
    pub id: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The same figures as numbers, for `results.json`.
    pub data: Value,
}

impl Table {
    fn markdown(&self) -> String {
        let mut md = format!("## {}\n\n| {} |\n|", self.title, self.columns.join(" | "));
        let last = self.columns.len().saturating_sub(1);
        for index in 0..self.columns.len() {
            // Text columns (the first two, the last) left, figures right.
            md.push_str(if index < 2 || index == last {
                "---|"
            } else {
                "---:|"
            });
        }
        md.push('\n');
        for row in &self.rows {
            let _ = writeln!(md, "| {} |", row.join(" | "));
        }
        md
    }
}

pub struct Report {
    subjects: Vec<Subject>,
    rows: Vec<Row>,
    tables: Vec<Table>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(subjects: Vec<Subject>) -> Report {
        Report {
            subjects,
            rows: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A row per percentile of each binary's sorted `samples`; `target` names the rows with one.
    pub fn percentile_rows(
        &mut self,
        id: &str,
        label: &str,
        unit: Unit,
        samples: &[Vec<Duration>],
        target: impl Fn(&str) -> Option<Target>,
    ) {
        for (p, name) in PERCENTILES {
            self.row(
                &format!("{id}.{name}"),
                &format!("{label} {name}"),
                unit,
                samples.iter().map(|v| percentile(v, p)).collect(),
                target(name),
            );
        }
    }

    pub fn row(
        &mut self,
        id: &str,
        label: &str,
        unit: Unit,
        values: Vec<Option<f64>>,
        target: Option<Target>,
    ) {
        let row = Row {
            id: id.to_string(),
            label: label.to_string(),
            unit,
            values,
            target,
        };
        println!(
            "  {:<58} {}",
            row.label,
            row.values
                .iter()
                .map(|v| unit.show_or_dash(*v))
                .collect::<Vec<_>>()
                .join("  |  ")
        );
        self.rows.push(row);
    }

    pub fn table(&mut self, table: Table) {
        println!("\n{}", table.markdown());
        self.tables.push(table);
    }

    pub fn note(&mut self, note: String) {
        println!("  note: {note}");
        self.notes.push(note);
    }

    pub fn markdown(&self, took: Duration, target_dir: &Path) -> String {
        let compare = self.subjects.len() > 1;
        let mut md = String::from("# lambda-adapter end-to-end benchmark\n\n");
        let _ = writeln!(md, "{}\n", machine());
        if compare {
            md.push_str(
                "| figure | ours | theirs | ours/theirs | target | met |\n|---|---:|---:|---:|---|---|\n",
            );
        } else {
            md.push_str("| figure | ours | target |\n|---|---:|---|\n");
        }
        for row in &self.rows {
            let cell = |index: usize| {
                row.unit
                    .show_or_dash(row.values.get(index).copied().flatten())
            };
            let target = row.target.map_or(String::new(), Target::describe);
            if compare {
                let ratio = row.ratio().map_or("—".to_string(), |r| format!("{r:.2}"));
                let met = match row.met() {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {ratio} | {target} | {met} |",
                    row.label,
                    cell(0),
                    cell(1)
                );
            } else {
                let _ = writeln!(md, "| {} | {} | {target} |", row.label, cell(0));
            }
        }
        for table in &self.tables {
            md.push('\n');
            md.push_str(&table.markdown());
        }
        md.push_str("\nNotes:\n\n");
        for subject in &self.subjects {
            let _ = writeln!(md, "- {}: `{}`", subject.label, subject.bin.display());
        }
        for note in &self.notes {
            let _ = writeln!(md, "- {note}");
        }
        let _ = writeln!(
            md,
            "- percentiles are nearest-rank; the end-to-end run took {:.0} s",
            took.as_secs_f64()
        );
        let micro = criterion_medians(&target_dir.join("criterion"));
        if !micro.is_empty() {
            md.push_str("\n## Micro-benchmarks (criterion, median of the last run)\n\n");
            md.push_str("| benchmark | median |\n|---|---:|\n");
            for (name, ns) in micro {
                let shown = if ns >= 1e6 {
                    format!("{:.2} ms", ns / 1e6)
                } else {
                    format!("{:.2} µs", ns / 1e3)
                };
                let _ = writeln!(md, "| {name} | {shown} |");
            }
        }
        md
    }

    pub fn json(&self, took: Duration) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let values: serde_json::Map<String, Value> = self
                    .subjects
                    .iter()
                    .zip(&row.values)
                    .map(|(s, v)| (s.label.to_string(), json!(v)))
                    .collect();
                json!({
                    "id": row.id,
                    "label": row.label,
                    "unit": row.unit.name(),
                    "values": values,
                    "ratio": row.ratio(),
                    "target": row.target.map(Target::describe),
                    "met": row.met(),
                })
            })
            .collect();
        json!({
            "generated_unix_s": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "machine": machine(),
            "seconds": took.as_secs_f64(),
            "subjects": self.subjects.iter().map(|s| json!({
                "label": s.label,
                "bin": s.bin.display().to_string(),
            })).collect::<Vec<_>>(),
            "rows": rows,
            "tables": self.tables.iter().map(|t| json!({
                "id": t.id,
                "title": t.title,
                "data": t.data,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}

/// CPUs and kernel, for the record.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    format!(
        "Machine: {cpus} CPUs ({model}), Linux {}; loopback only.",
        kernel.trim()
    )
}

/// `(benchmark id, median ns)` of every criterion benchmark under `dir`.
fn criterion_medians(dir: &Path) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Bounded: criterion's tree is a few levels deep.
    let mut visited = 0;
    while let Some(dir) = pending.pop() {
        visited += 1;
        if visited > 10_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let read = |name: &str| -> Option<Value> {
                    serde_json::from_str(&std::fs::read_to_string(path.join(name)).ok()?).ok()
                };
                if let (Some(benchmark), Some(estimates)) =
                    (read("benchmark.json"), read("estimates.json"))
                {
                    if let (Some(id), Some(median)) = (
                        benchmark["full_id"].as_str(),
                        estimates["median"]["point_estimate"].as_f64(),
                    ) {
                        found.push((id.to_string(), median));
                    }
                }
            } else {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}
