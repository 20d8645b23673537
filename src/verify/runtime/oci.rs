//! An OCI runtime config (`config.json`, runtime-spec 1.0) read as runc reads it.
//!
//! Unknown fields are ignored; a field of the wrong type is an error naming its JSON
//! path. Capability names are matched the way runc 1.1 does: exactly `CAP_X` in
//! upper case and known to the running kernel, anything else is ignored with a
//! warning (runc: "ignoring unknown or unavailable capabilities").

use super::process::Process;
use crate::caps::{self, CapSet};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What `verify` needs from a bundle's config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub process: Process,
    /// `root.path` as written (relative paths are relative to the bundle directory).
    pub root: PathBuf,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong(path: &str, want: &str, v: &Value) -> anyhow::Error {
    anyhow::anyhow!("{path}: expected {want}, found {}", kind(v))
}

fn id(v: &Value, path: &str) -> anyhow::Result<u32> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong(path, "a number from 0 to 4294967295", v))
}

fn strings(v: &Value, path: &str) -> anyhow::Result<Vec<String>> {
    let list = v
        .as_array()
        .ok_or_else(|| wrong(path, "a list of strings", v))?;
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| wrong(&format!("{path}[{i}]"), "a string", s))
        })
        .collect()
}

/// runc's capability lookup: the exact upper-case `CAP_` name of a capability the
/// running kernel has.
pub fn runc_cap(name: &str) -> Option<u32> {
    let lower = name.strip_prefix("CAP_")?;
    if lower.bytes().any(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let n = caps::NAMES
        .iter()
        .position(|t| t[4..].eq_ignore_ascii_case(lower))? as u32;
    (n < caps::kernel_cap_count()).then_some(n)
}

/// Parse `config.json` text.
pub fn parse(text: &str) -> anyhow::Result<Config> {
    let v: Value = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("not JSON: {e}"))?;
    anyhow::ensure!(v.is_object(), "expected a JSON object, found {}", kind(&v));
    let process = v
        .get("process")
        .ok_or_else(|| anyhow::anyhow!("no \"process\" section"))?;
    anyhow::ensure!(
        process.is_object(),
        "{}",
        wrong("process", "an object", process)
    );
    let mut p = Process {
        cwd: "/".to_string(),
        ..Process::default()
    };
    if let Some(user) = process.get("user") {
        anyhow::ensure!(
            user.is_object(),
            "{}",
            wrong("process.user", "an object", user)
        );
        if let Some(u) = user.get("uid") {
            p.uid = id(u, "process.user.uid")?;
            p.origin("user.uid", "process.user.uid");
        }
        if let Some(g) = user.get("gid") {
            p.gid = id(g, "process.user.gid")?;
            p.origin("user.gid", "process.user.gid");
        }
        if let Some(list) = user.get("additionalGids") {
            let arr = list
                .as_array()
                .ok_or_else(|| wrong("process.user.additionalGids", "a list of numbers", list))?;
            for (i, g) in arr.iter().enumerate() {
                p.additional_gids
                    .push(id(g, &format!("process.user.additionalGids[{i}]"))?);
            }
            p.origin("user.additionalGids", "process.user.additionalGids");
        }
    }
    if let Some(c) = process.get("capabilities") {
        anyhow::ensure!(
            c.is_object(),
            "{}",
            wrong("process.capabilities", "an object", c)
        );
        let sets: [(&'static str, &mut CapSet); 5] = [
            ("bounding", &mut p.bounding),
            ("effective", &mut p.effective),
            ("permitted", &mut p.permitted),
            ("inheritable", &mut p.inheritable),
            ("ambient", &mut p.ambient),
        ];
        let mut seen = Vec::new();
        for (key, set) in sets {
            let Some(list) = c.get(key) else { continue };
            let path = format!("process.capabilities.{key}");
            for name in strings(list, &path)? {
                match runc_cap(&name) {
                    Some(n) => *set = *set | CapSet::single(n),
                    None => {
                        if !p.ignored.contains(&name) {
                            p.ignored.push(name)
                        }
                    }
                }
            }
            seen.push((key, path));
        }
        for (key, path) in seen {
            let field = match key {
                "bounding" => "capabilities.bounding",
                "effective" => "capabilities.effective",
                "permitted" => "capabilities.permitted",
                "inheritable" => "capabilities.inheritable",
                _ => "capabilities.ambient",
            };
            p.origin(field, path);
        }
    }
    if let Some(n) = process.get("noNewPrivileges") {
        p.no_new_privs = n
            .as_bool()
            .ok_or_else(|| wrong("process.noNewPrivileges", "true or false", n))?;
        p.origin("noNewPrivileges", "process.noNewPrivileges");
    }
    if let Some(a) = process.get("args") {
        p.args = strings(a, "process.args")?;
        p.origin("args", "process.args");
    }
    if let Some(d) = process.get("cwd") {
        p.cwd = d
            .as_str()
            .ok_or_else(|| wrong("process.cwd", "a string", d))?
            .to_string();
    }
    if let Some(e) = process.get("env") {
        p.path_env = strings(e, "process.env")?
            .into_iter()
            .rev()
            .find_map(|kv| kv.strip_prefix("PATH=").map(str::to_string));
    }
    let root = match v.get("root").map(|r| (r, r.get("path"))) {
        None => PathBuf::from("rootfs"),
        Some((_, Some(Value::String(s)))) => PathBuf::from(s),
        Some((_, Some(other))) => return Err(wrong("root.path", "a string", other)),
        Some((r, None)) => return Err(wrong("root", "an object with \"path\"", r)),
    };
    Ok(Config { process: p, root })
}

/// Go's `exec.LookPath` default when the environment has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host path of the file the entrypoint execs: `args[0]` inside `rootfs`,
/// relative to `cwd` when it has a slash, else searched in the process's `PATH`
/// like runc's `exec.LookPath` (the first regular file with an execute bit).
pub fn entrypoint(p: &Process, rootfs: &Path) -> anyhow::Result<PathBuf> {
    let Some(arg0) = p.args.first().filter(|a| !a.is_empty()) else {
        anyhow::bail!("process.args is empty: name the file to verify");
    };
    let inside = |p: &Path| -> PathBuf {
        let rel = p.strip_prefix("/").unwrap_or(p);
        rootfs.join(rel)
    };
    if arg0.contains('/') {
        let full = Path::new(&p.cwd).join(arg0);
        return Ok(inside(&full));
    }
    let search = p.path_env.as_deref().unwrap_or(DEFAULT_PATH);
    for dir in search.split(':').filter(|d| !d.is_empty()) {
        let cand = inside(&Path::new(dir).join(arg0));
        if let Ok(md) = std::fs::metadata(&cand) {
            use std::os::unix::fs::PermissionsExt;
            if md.is_file() && md.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    anyhow::bail!(
        "process.args[0] '{arg0}' is not found in the container's PATH ({search}) under the bundle's root"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `runc spec` (runc 1.1.5) as generated, trimmed to what matters.
    const RUNC_SPEC: &str = r#"{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh" ],
    "env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "runc"
}"#;

    #[test]
    fn runc_spec_is_read() {
        let c = parse(RUNC_SPEC).unwrap();
        let p = &c.process;
        let three = CapSet::single(5) | CapSet::single(10) | CapSet::single(29);
        assert_eq!((p.uid, p.gid), (0, 0));
        assert_eq!(
            (p.bounding, p.effective, p.permitted, p.ambient),
            (three, three, three, three)
        );
        assert_eq!(p.inheritable, CapSet::EMPTY);
        assert!(p.no_new_privs);
        assert_eq!(p.args, vec!["sh"]);
        assert_eq!(c.root, PathBuf::from("rootfs"));
        assert_eq!(
            p.origin_of("capabilities.ambient"),
            Some("process.capabilities.ambient")
        );
        assert_eq!(p.origin_of("capabilities.inheritable"), None);
    }

    #[test]
    fn names_are_matched_like_runc() {
        assert_eq!(runc_cap("CAP_NET_RAW"), Some(13));
        assert_eq!(runc_cap("cap_net_raw"), None);
        assert_eq!(runc_cap("NET_RAW"), None);
        assert_eq!(runc_cap("CAP_FOO"), None);
        let c = parse(
            r#"{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_FOO","cap_kill"]}}}"#,
        )
        .unwrap();
        assert_eq!(c.process.bounding, CapSet::single(0));
        assert_eq!(c.process.ignored, vec!["CAP_FOO", "cap_kill"]);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = |t: &str| parse(t).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"process":{"user":{"uid":"1000"}}}"#),
            "process.user.uid: expected a number from 0 to 4294967295, found a string"
        );
        assert_eq!(
            e(r#"{"process":{"capabilities":{"ambient":["CAP_KILL",3]}}}"#),
            "process.capabilities.ambient[1]: expected a string, found a number"
        );
        assert_eq!(e(r#"{"root":{}}"#), "no \"process\" section");
        assert!(e("[1]").contains("expected a JSON object"));
        assert!(e("{").starts_with("not JSON"));
    }

    #[test]
    fn entrypoint_is_found_like_lookpath() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("app"), b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("app"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut p = Process {
            args: vec!["app".into()],
            cwd: "/".into(),
            ..Process::default()
        };
        assert_eq!(entrypoint(&p, d.path()).unwrap(), bin.join("app"));
        p.args = vec!["./x".into()];
        p.cwd = "/srv".into();
        assert_eq!(entrypoint(&p, d.path()).unwrap(), d.path().join("srv/./x"));
        p.args = vec!["nope".into()];
        assert!(
            entrypoint(&p, d.path())
                .unwrap_err()
                .to_string()
                .contains("not found")
        );
    }
}
