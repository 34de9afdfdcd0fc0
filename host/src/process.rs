//! Whether the process that recorded a run is still that process.
//!
//! A pid alone does not say: after a restart, or once pids wrap around,
//! another process can hold the pid of a host that died mid-run, and that
//! run would stay `running`, holding its logical key, for as long as the
//! other process lives. On Linux a process is also named by the boot it runs
//! in and its start time within that boot, which no later process shares;
//! elsewhere the pid alone is used.

/// This process's identity, `<boot id>/<start time in clock ticks>`; `None`
/// where the system does not tell.
pub(crate) fn own_identity() -> Option<String> {
    identity_of("self")
}

/// True when process `pid`, recorded with `identity`, is still running. An
/// identity that was not recorded, or that the system does not tell now,
/// leaves the pid alone to decide.
pub(crate) fn is_alive(pid: i64, identity: Option<&str>) -> bool {
    if !pid_exists(pid) {
        return false;
    }
    match (identity, identity_of(&pid.to_string())) {
        (Some(recorded), Some(current)) => recorded == current,
        _ => true,
    }
}

/// The identity of `process` (a pid, or `self`) read from `/proc`.
fn identity_of(process: &str) -> Option<String> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // Field 2, the command name, is in parentheses and may itself hold
    // spaces and parentheses; field 22, the start time, is the 20th after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start_time = after_name.split_whitespace().nth(19)?;
    Some(format!("{}/{start_time}", boot_id.trim()))
}

/// True when a process with this pid exists on this machine.
fn pid_exists(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        // 0 and negative pids name process groups, not one process.
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_alive_under_its_own_identity_and_not_under_another() {
        // `cat` on a pipe the test holds lives until the test kills it.
        let child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = i64::from(child.id());
        let identity = identity_of(&pid.to_string()).expect("a live child has an identity");
        assert!(is_alive(pid, Some(&identity)));
        assert!(is_alive(pid, None));
        let own = own_identity().expect("this process has an identity");
        assert!(is_alive(i64::from(std::process::id()), Some(&own)));
        // The same pid under another start time: a process that reused it.
        let reused = format!("{}/0", identity.rsplit_once('/').unwrap().0);
        assert!(!is_alive(pid, Some(&reused)));
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_alive(pid, Some(&identity)));
        assert!(!is_alive(pid, None));
    }

    #[test]
    fn pids_that_name_no_single_process_are_not_alive() {
        for pid in [0, -1, 99_999_999, i64::MAX] {
            assert!(!is_alive(pid, None), "{pid}");
        }
    }
}
