//! What `/proc` tells about the app's and the extension's processes (SPEC EMU-1, EMU-3; Linux,
//! elsewhere nothing):
//!
//! - `Max Memory Used` of the REPORT line (SPEC EMU-3): the peak resident set (`VmHWM` in
//!   `/proc/<pid>/status`) of every process of the app's and the extension's process groups,
//!   summed, in MB as Lambda prints it (MiB, rounded up);
//! - the TCP ports the app's processes listen on (EMU-1), so that an app listening elsewhere than
//!   the adapter probes is named as soon as it listens.
//!
//! Process groups rather than single pids: `npm start` or a shell wrapper starts the process that
//! really holds the memory, or the socket.

use std::collections::HashSet;
use std::path::Path;

/// The peak memory of the processes in `groups`, in MB; `None` when nothing could be read.
pub fn max_memory_used_mb(groups: &[i32]) -> Option<u64> {
    let kib = peak_kib_of_groups(Path::new("/proc"), groups)?;
    Some(kib.div_ceil(1024))
}

/// The sum of `VmHWM` (KiB) over the processes under `proc_root` whose process group is one of
/// `groups`.
fn peak_kib_of_groups(proc_root: &Path, groups: &[i32]) -> Option<u64> {
    let mut total = None;
    for pid in pids_in_groups(proc_root, groups) {
        // A process that is gone by now just does not count.
        if let Some(kib) = std::fs::read_to_string(proc_root.join(&pid).join("status"))
            .ok()
            .and_then(|status| vm_hwm_kib(&status))
        {
            *total.get_or_insert(0) += kib;
        }
    }
    total
}

/// The pids (directory names under `proc_root`) of the processes in `groups`.
fn pids_in_groups(proc_root: &Path, groups: &[i32]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(proc_root.join(pid).join("stat"))
                .ok()
                .and_then(|stat| process_group(&stat))
                .is_some_and(|group| groups.contains(&group))
        })
        .collect()
}

/// The TCP ports on which processes of `groups` listen (any local address), sorted.
pub fn listening_ports(groups: &[i32]) -> Vec<u16> {
    let root = Path::new("/proc");
    let sockets: HashSet<u64> = pids_in_groups(root, groups)
        .iter()
        .flat_map(|pid| socket_inodes(&root.join(pid).join("fd")))
        .collect();
    if sockets.is_empty() {
        return Vec::new();
    }
    let mut ports: Vec<u16> = ["net/tcp", "net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(root.join(table)).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(listening_socket)
                .collect::<Vec<_>>()
        })
        .filter(|(_, inode)| sockets.contains(inode))
        .map(|(port, _)| port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The inodes of the sockets among a process's open files (`socket:[12345]` links).
fn socket_inodes(fd_dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(fd_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// `(port, inode)` of a `/proc/net/tcp{,6}` line whose socket listens (state `0A`).
fn listening_socket(line: &str) -> Option<(u16, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.get(3)? != &"0A" {
        return None;
    }
    let port = u16::from_str_radix(fields.get(1)?.rsplit_once(':')?.1, 16).ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((port, inode))
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
    fn emu1_listening_sockets_from_proc_net_tcp() {
        let line = "   1: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listening_socket(line), Some((8000, 424242)));
        let established = line.replace(" 0A ", " 01 ");
        assert_eq!(listening_socket(&established), None);
        assert_eq!(listening_socket("garbage"), None);
    }

    #[test]
    fn emu1_the_ports_a_process_group_listens_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let group = process_group(&stat).unwrap();
        assert!(listening_ports(&[group]).contains(&port));
        drop(listener);
        assert!(!listening_ports(&[group]).contains(&port));
    }

    #[test]
    fn emu3_this_process_has_a_peak() {
        // The test process is in a group of its own or its runner's; either way it is found.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let group = process_group(&stat).unwrap();
        assert!(max_memory_used_mb(&[group]).unwrap() >= 1);
    }
}
