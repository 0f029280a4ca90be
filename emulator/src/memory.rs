//! `Max Memory Used` of the REPORT line (SPEC EMU-3): the peak resident set (`VmHWM` in
//! `/proc/<pid>/status`) of every process of the app's and the extension's process groups,
//! summed, in MB as Lambda prints it (MiB, rounded up).
//!
//! Process groups rather than two pids: `npm start` or a shell wrapper starts the process that
//! really holds the memory. Where `/proc` cannot be read (macOS), there is no figure.

use std::path::Path;

/// The peak memory of the processes in `groups`, in MB; `None` when nothing could be read.
pub fn max_memory_used_mb(groups: &[i32]) -> Option<u64> {
    let kib = peak_kib_of_groups(Path::new("/proc"), groups)?;
    Some(kib.div_ceil(1024))
}

/// The sum of `VmHWM` (KiB) over the processes under `proc_root` whose process group is one of
/// `groups`.
fn peak_kib_of_groups(proc_root: &Path, groups: &[i32]) -> Option<u64> {
    let entries = std::fs::read_dir(proc_root).ok()?;
    let mut total = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let dir = proc_root.join(pid);
        let in_group = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|stat| process_group(&stat))
            .is_some_and(|group| groups.contains(&group));
        if !in_group {
            continue;
        }
        // A process that is gone by now just does not count.
        if let Some(kib) = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|status| vm_hwm_kib(&status))
        {
            *total.get_or_insert(0) += kib;
        }
    }
    total
}

/// The process group (the 5th field) of a `/proc/<pid>/stat` line. The 2nd field, the command
/// name in parentheses, may itself hold spaces and parentheses: fields are counted after the last `)`.
fn process_group(stat: &str) -> Option<i32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // state, ppid, pgrp
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// `VmHWM:   12345 kB` → 12345.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu3_proc_fields() {
        let stat = "4242 (my (odd) app) S 1 4240 4240 0 -1 4194560 1 0 0 0";
        assert_eq!(process_group(stat), Some(4240));
        assert_eq!(process_group("garbage"), None);
        let status =
            "Name:\tpython3\nVmPeak:\t  30000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 12000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(12345));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn emu3_the_groups_peaks_are_summed() {
        let root = std::env::temp_dir().join(format!("emu-proc-{}", std::process::id()));
        for (pid, group, hwm) in [
            (10, 10, 1000),
            (11, 10, 24),
            (20, 20, 2048),
            (30, 30, 99_999),
        ] {
            let dir = root.join(pid.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("stat"), format!("{pid} (x) S 1 {group} {group} 0")).unwrap();
            std::fs::write(dir.join("status"), format!("VmHWM:\t{hwm} kB\n")).unwrap();
        }
        std::fs::create_dir_all(root.join("self")).unwrap();
        assert_eq!(peak_kib_of_groups(&root, &[10, 20]), Some(3072));
        assert_eq!(peak_kib_of_groups(&root, &[40]), None);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn emu3_this_process_has_a_peak() {
        // The test process is in a group of its own or its runner's; either way it is found.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let group = process_group(&stat).unwrap();
        assert!(max_memory_used_mb(&[group]).unwrap() >= 1);
    }
}
