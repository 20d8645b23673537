//! `fcap list` and `fcap explain`: every capability is covered, and what they say about
//! this machine (kernel support, bounding set, the unprivileged-port sysctl) is checked
//! against the kernel's own answers: /proc/self/status, a bounding set really dropped
//! with capsh, and a sysctl really changed in a fresh network namespace.

use crate::util::{fcap, fcap_run, run};
use std::process::Command;

/// This test process's bounding set, read from procfs (fcap itself asks prctl).
fn proc_bounding_set() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    u64::from_str_radix(hex, 16).unwrap()
}

fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[track_caller]
fn require_root() {
    assert_eq!(
        euid(),
        0,
        "this test needs root (CI runs as root): it drops bounding capabilities and changes a sysctl in a new network namespace"
    );
}

fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap();
    uid.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn list_json_covers_every_capability_with_the_kernels_answers() {
    let r = fcap_run(["list", "--json"]);
    r.ok();
    let rows = r.json_lines();
    let last = cap_last_cap();
    assert_eq!(rows.len() as u32, 41.max(last + 1));
    let bounding = proc_bounding_set();
    for (n, row) in rows.iter().enumerate() {
        let n = n as u32;
        assert_eq!(row["number"], n);
        assert_eq!(row["name"], fcap::caps::name(n));
        assert_eq!(row["summary"], fcap::caps::summary(n));
        assert_eq!(row["kernel"], n <= last, "{row}");
        assert_eq!(row["bounding"], bounding & (1 << n) != 0, "{row}");
        let want = fcap::catalogue::danger(n).map(|d| d.as_str());
        assert_eq!(row["danger"].as_str(), want, "{row}");
        if fcap::caps::is_root_equivalent(n) {
            assert_eq!(row["danger"], "root-equivalent");
        }
    }
    // The machine this runs on lacks cap_sys_resource in its bounding set; whatever
    // the machine, the row must say what procfs says, which the loop checked.
    assert!(rows.iter().any(|r| r["bounding"] == true));
}

#[test]
fn list_reports_a_bounding_set_dropped_for_real() {
    require_root();
    let mut c = Command::new("capsh");
    c.arg("--drop=cap_net_raw,cap_sys_time")
        .arg("--")
        .arg("-c")
        .arg(format!("exec {} list --json", env!("CARGO_BIN_EXE_fcap")));
    let r = run(c);
    r.ok();
    let rows = r.json_lines();
    assert_eq!(rows[13]["name"], "cap_net_raw");
    assert_eq!(rows[13]["bounding"], false);
    assert_eq!(rows[13]["kernel"], true);
    assert_eq!(rows[25]["bounding"], false);
    assert_eq!(rows[10]["bounding"], true);
}

#[test]
fn list_table_has_one_aligned_row_per_capability_and_no_colour_unless_asked() {
    let r = fcap_run(["--color", "never", "list"]);
    r.ok();
    let out = r.stdout();
    assert!(!out.contains('\u{1b}'), "colour without --color always");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NUM  NAME "), "{}", lines[0]);
    assert_eq!(lines.len() as u32, 1 + 41.max(cap_last_cap() + 1));
    let col = lines[0].find("DESCRIPTION").unwrap();
    for (n, line) in lines[1..].iter().enumerate() {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(n.to_string().as_str()), "{line}");
        assert_eq!(words.next(), Some(fcap::caps::name(n as u32).as_str()));
        assert_eq!(&line[col..], fcap::caps::summary(n as u32), "{line}");
    }
    assert!(lines[8].contains(" root-equivalent "), "{}", lines[8]);
    assert!(lines[11].contains(" low "), "{}", lines[11]);

    let coloured = fcap_run(["--color", "always", "list"]);
    coloured.ok();
    assert!(
        coloured.stdout().contains("\u{1b}["),
        "no colour with --color always"
    );
}

#[test]
fn explain_accepts_every_spelling_and_covers_all_41() {
    for (n, name) in fcap::caps::NAMES.iter().enumerate() {
        let r = fcap_run(["explain", "--json", name]);
        r.ok();
        let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
        assert_eq!(v["number"], n);
        assert_eq!(v["name"], *name);
        assert_eq!(v["permits"], fcap::catalogue::DETAILS[n].permits);
        assert!(!v["notes"].as_array().unwrap().is_empty(), "{v}");
        let human = fcap_run(["--color", "never", "explain", name]);
        human.ok();
        let text = human.stdout();
        assert!(
            text.starts_with(&format!("{name} ({n}): ")),
            "{name}:\n{text}"
        );
        assert!(text.contains("What it permits:"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "line too long: {line:?}");
        }
    }
    let reference = fcap_run(["explain", "cap_net_raw"]).stdout();
    for spelling in ["CAP_NET_RAW", "net_raw", "NET_RAW", "13", "0xd", "015"] {
        fcap_run(["explain", spelling]).ok().stdout_is(&reference);
    }
}

#[test]
fn explain_danger_levels_match_the_shared_root_list() {
    for name in [
        "cap_sys_admin",
        "cap_setuid",
        "cap_dac_override",
        "cap_sys_module",
        "cap_setfcap",
    ] {
        let r = fcap_run(["--color", "never", "explain", name]);
        r.ok();
        assert!(
            r.stdout().contains("\nDanger: root-equivalent ("),
            "{name}:\n{}",
            r.stdout()
        );
    }
    let r = fcap_run(["--color", "never", "explain", "net_bind_service"]);
    assert!(r.stdout().contains("\nDanger: low ("), "{}", r.stdout());
}

#[test]
fn explain_net_bind_service_reads_the_live_port_sysctl() {
    let live: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let r = fcap_run(["explain", "--json", "net_bind_service"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(v["unprivileged_port_start"], live);
    let human = fcap_run(["--color", "never", "explain", "net_bind_service"]).stdout();
    let flat = human.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "Here net.ipv4.ip_unprivileged_port_start is {live}:"
        )),
        "{human}"
    );

    // The sysctl is per network namespace: change it in a fresh one (the host's value
    // is untouched) and fcap must report the new value.
    require_root();
    for (value, says) in [
        ("80", "binding ports 1-79 needs this capability"),
        ("0", "every port is unprivileged"),
    ] {
        let mut c = Command::new("unshare");
        c.args(["--net", "sh", "-c"]).arg(format!(
            "echo {value} > /proc/sys/net/ipv4/ip_unprivileged_port_start && exec {} --color never explain cap_net_bind_service",
            env!("CARGO_BIN_EXE_fcap")
        ));
        let r = run(c);
        r.ok();
        let flat = r.stdout().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(says), "value {value}:\n{}", r.stdout());
    }
    let after: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(after, live, "the host's sysctl must not change");
}

#[test]
fn explain_says_when_the_bounding_set_lacks_the_capability() {
    require_root();
    let mut c = Command::new("capsh");
    c.arg("--drop=cap_net_raw").arg("--").arg("-c").arg(format!(
        "exec {} --color never explain net_raw",
        env!("CARGO_BIN_EXE_fcap")
    ));
    let r = run(c);
    r.ok();
    let flat = r.stdout().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("NOT in this process's bounding set"),
        "{}",
        r.stdout()
    );
}

#[test]
fn explain_unknown_capability_exits_2_with_a_suggestion() {
    fcap_run(["explain", "net_bind_servce"])
        .status(2)
        .stdout_is("")
        .stderr_is(
            "fcap: unknown capability 'net_bind_servce' (did you mean 'cap_net_bind_service'?)\n",
        );
    fcap_run(["explain", "frobnicate"])
        .status(2)
        .stderr_is("fcap: unknown capability 'frobnicate'\n");
    // A number below 64 that neither fcap's table nor this kernel knows.
    let r = fcap_run(["explain", "63"]);
    r.status(2).stdout_is("");
    r.stderr_has("fcap: unknown capability '63': neither fcap nor the running kernel");
    // A missing argument is a usage error, also exit 2.
    let mut c = fcap();
    c.arg("explain");
    run(c).status(2);
}
