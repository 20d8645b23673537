//! Docker Compose services and `docker run` flags mapped to the process section
//! moby (or Podman) writes (shared spec runtimes.md §2).
//!
//! The settings that matter: the user (`user:` / `--user`, numeric `uid[:gid]` or
//! root; a name needs the image's /etc/passwd), `cap_add`/`cap_drop` (normalised:
//! upper case, `CAP_` prefix, `ALL`; an unknown name makes docker refuse the
//! container), `privileged`, `security_opt: [no-new-privileges]` (also `=true`,
//! `:true`), and the command.

use super::engine::{self, Engine};
use super::process::Process;
use super::yaml::{self, Node, Value};
use crate::caps::CapSet;

/// A setting and where it was written.
type At<T> = (T, String);

/// What a Compose service or a `docker run` line says.
#[derive(Clone, Default, Debug)]
pub struct Settings {
    pub user: Option<At<String>>,
    pub add: Vec<At<String>>,
    pub drop: Vec<At<String>>,
    pub privileged: Option<At<bool>>,
    pub nnp: Option<At<bool>>,
    pub command: Option<At<Vec<String>>>,
    /// With `verify --image`: the image's User and account files.
    pub image: Option<super::ImageAccounts>,
}

/// `no-new-privileges`, `no-new-privileges=true`, `no-new-privileges:false` …
fn nnp_opt(opt: &str) -> Option<bool> {
    let rest = opt.strip_prefix("no-new-privileges")?;
    match rest {
        "" | "=true" | ":true" => Some(true),
        "=false" | ":false" => Some(false),
        _ => None,
    }
}

/// `uid[:gid]` as docker reads it without the image: numbers, or root.
fn user_ids(u: &str) -> anyhow::Result<(u32, Option<u32>)> {
    let (user, group) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let num = |s: &str| -> anyhow::Result<u32> {
        if s == "root" {
            return Ok(0);
        }
        s.parse().map_err(|_| {
            anyhow::anyhow!(
                "user '{u}': '{s}' is a name, which only the image's /etc/passwd or /etc/group resolves; write the numeric uid[:gid]"
            )
        })
    };
    Ok((num(user)?, group.map(num).transpose()?))
}

/// The process section `e` (Docker or Podman) writes for these settings.
pub fn process(s: &Settings, e: Engine, all: CapSet) -> anyhow::Result<(Process, Vec<String>)> {
    anyhow::ensure!(
        matches!(e, Engine::Docker | Engine::Podman),
        "--runtime {}: Compose files and docker run flags are run by docker or podman",
        e.name()
    );
    let mut p = Process {
        cwd: "/".to_string(),
        ..Process::default()
    };
    let mut notes = Vec::new();
    match (&s.user, &s.image) {
        (Some((u, at)), Some(img)) => {
            let who = img.resolve(u)?;
            (p.uid, p.gid, p.additional_gids) = (who.uid, who.gid, who.groups);
            p.origin("user.uid", at.clone());
            p.origin(
                "user.gid",
                format!("{at}, resolved in /etc/passwd{}", img.place),
            );
        }
        (None, Some(img)) => {
            let who = img.default_user()?;
            (p.uid, p.gid, p.additional_gids) = (who.uid, who.gid, who.groups);
            p.origin("user.uid", img.origin());
            p.origin("user.gid", img.origin());
        }
        (Some((u, at)), None) => {
            let (uid, gid) = user_ids(u)?;
            p.uid = uid;
            p.gid = gid.unwrap_or(0);
            p.origin("user.uid", at.clone());
            if gid.is_some() {
                p.origin("user.gid", at.clone());
            } else {
                notes.push(format!(
                    "no group in user '{u}': the gid comes from the image's /etc/passwd, assumed 0"
                ));
            }
        }
        (None, None) => {
            p.origin("user.uid", "the image's USER (assumed root: no user set)");
            notes.push("no user: the image's USER is used, assumed root (0) here".to_string());
        }
    }
    let names = |l: &[At<String>]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (add, drop) = (names(&s.add), names(&s.drop));
    let privileged = s.privileged.as_ref().is_some_and(|(b, _)| *b);
    let (caps, unknown) = engine::resolve(e, &add, &drop, privileged, all);
    if let Some(u) = unknown.first() {
        anyhow::bail!(
            "unknown capability '{u}': {} refuses to create the container",
            e.name()
        );
    }
    if let (Engine::Docker, Some(u)) = (e, engine::unavailable(e, &add, &drop, all).first()) {
        anyhow::bail!(
            "capability '{u}' is not available here (not in this machine's bounding set): Docker refuses to create the container"
        );
    }
    // Docker 20.10's capability library knows them up to cap_audit_read (37).
    let lacking = (CapSet::all() & CapSet::first(38)) - all;
    let every = privileged || add.iter().any(|a| a.eq_ignore_ascii_case("all"));
    if e == Engine::Docker && p.uid == 0 && every && !lacking.is_empty() {
        // Measured with Docker 20.10.24 (doc/runtimes.md).
        notes.push(format!(
            "Docker before its capabilities were read from the running daemon (20.10, as Debian 12 packages it) asks for every capability it knows, also {}, which this machine's bounding set lacks: runc then fails to start the container; this answer follows the current code, which leaves {} out",
            lacking.names().join(","),
            if lacking.iter().count() == 1 { "it" } else { "them" }
        ));
    }
    engine::apply(&mut p, e, caps, &add);
    let mut from = format!("{}'s default list", e.name());
    if let Some((true, at)) = &s.privileged {
        from = at.clone();
    } else {
        for (_, at) in s.drop.iter().chain(&s.add) {
            if !from.contains(at.as_str()) {
                from = format!("{from} + {at}");
            }
        }
    }
    for f in [
        "capabilities.bounding",
        "capabilities.effective",
        "capabilities.permitted",
    ] {
        p.origin(f, from.clone());
    }
    if p.uid != 0 {
        let why = match e {
            Engine::Podman => {
                "Podman: a non-root user gets the added capabilities in effective, permitted, inheritable and ambient"
            }
            _ => "moby: a non-root user gets the bounding set only",
        };
        for f in [
            "capabilities.effective",
            "capabilities.permitted",
            "capabilities.ambient",
        ] {
            p.origin(f, why);
        }
    }
    if let Some((b, at)) = &s.nnp {
        p.no_new_privs = *b;
        p.origin("noNewPrivileges", at.clone());
    }
    if let Some((cmd, at)) = &s.command {
        p.args = cmd.clone();
        p.origin("args", at.clone());
    }
    Ok((p, notes))
}

/// A Compose file's service.
pub fn compose(text: &str, file: &str, service: Option<&str>) -> anyhow::Result<Settings> {
    let docs = yaml::load(text, yaml::Merge::V3)?;
    let root = docs.first().ok_or_else(|| anyhow::anyhow!("empty file"))?;
    let services = match root.get("services").map(|s| &s.value) {
        Some(Value::Map(m)) => m,
        _ => anyhow::bail!("no services mapping"),
    };
    let list = || {
        services
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (name, svc) = match service {
        Some(n) => services.iter().find(|(k, _)| k == n).ok_or_else(|| {
            anyhow::anyhow!("no service named '{n}'; the services are: {}", list())
        })?,
        None if services.len() == 1 => &services[0],
        None => anyhow::bail!(
            "several services: choose one with --service NAME: {}",
            list()
        ),
    };
    let at = |n: &Node, key: &str| format!("{file}:{} (services.{name}.{key})", n.line);
    let wrong = |n: &Node, key: &str, want: &str| {
        anyhow::anyhow!(
            "line {}: services.{name}.{key}: expected {want}, found {}",
            n.line,
            n.kind()
        )
    };
    let strings = |key: &str| -> anyhow::Result<Vec<At<String>>> {
        let Some(n) = svc.get(key).filter(|n| !n.is_null()) else {
            return Ok(Vec::new());
        };
        let items = n.as_seq().ok_or_else(|| wrong(n, key, "a list"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, x)| match &x.value {
                Value::Str(s) => Ok((s.clone(), at(x, &format!("{key}[{i}]")))),
                _ => Err(wrong(x, &format!("{key}[{i}]"), "a string")),
            })
            .collect()
    };
    let mut s = Settings {
        add: strings("cap_add")?,
        drop: strings("cap_drop")?,
        ..Settings::default()
    };
    if let Some(n) = svc.get("user").filter(|n| !n.is_null()) {
        let u = match &n.value {
            Value::Str(u) => u.clone(),
            Value::Int(i) => i.to_string(),
            _ => return Err(wrong(n, "user", "a string")),
        };
        s.user = Some((u, at(n, "user")));
    }
    if let Some(n) = svc.get("privileged").filter(|n| !n.is_null()) {
        match n.value {
            Value::Bool(b) => s.privileged = Some((b, at(n, "privileged"))),
            _ => return Err(wrong(n, "privileged", "true or false")),
        }
    }
    for (v, place) in strings("security_opt")? {
        if let Some(b) = nnp_opt(&v) {
            s.nnp = Some((b, place));
        }
    }
    // The command that runs: entrypoint (then command), as a list or a string.
    for key in ["entrypoint", "command"] {
        if let Some(n) = svc.get(key).filter(|n| !n.is_null()) {
            let argv = match &n.value {
                Value::Str(c) => split(c)?,
                Value::Seq(items) => items
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => return Err(wrong(n, key, "a string or a list")),
            };
            s.command = Some((argv, at(n, key)));
            break;
        }
    }
    Ok(s)
}

/// Split a command line as a POSIX shell would for plain words and quotes.
pub fn split(line: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => anyhow::bail!("unterminated ' quote"),
                    }
                }
            }
            '"' => {
                word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.extend(chars.next()),
                        Some(x) => cur.push(x),
                        None => anyhow::bail!("unterminated \" quote"),
                    }
                }
            }
            '\\' => {
                word = true;
                cur.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if word {
                    out.push(std::mem::take(&mut cur));
                    word = false;
                }
            }
            c => {
                word = true;
                cur.push(c);
            }
        }
    }
    if word {
        out.push(cur);
    }
    Ok(out)
}

/// `docker run` short flags that take no value (`-d`, `-i`, `-t`, `-P`, `-q`).
const SHORT_BOOL: &str = "ditPq";
/// `docker run` long flags that take no value.
const LONG_BOOL: [&str; 10] = [
    "detach",
    "interactive",
    "tty",
    "rm",
    "privileged",
    "init",
    "read-only",
    "publish-all",
    "quiet",
    "no-healthcheck",
];

/// `docker run` flags (optionally starting with `docker run`, `docker container
/// run` or `podman run`): the settings, then the image, then the command.
pub fn docker_args(line: &str) -> anyhow::Result<Settings> {
    let words = split(line)?;
    let mut i = 0;
    let skip: &[&str] = &["docker", "podman", "container", "run", "create"];
    while i < words.len() && skip.contains(&words[i].as_str()) {
        i += 1;
    }
    let mut s = Settings::default();
    let at = |flag: &str| format!("--docker-args {flag}");
    while i < words.len() {
        let w = &words[i];
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') || w == "-" {
            break;
        }
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (w.clone(), None),
        };
        let boolean = match flag.strip_prefix("--") {
            Some(long) => LONG_BOOL.contains(&long),
            None => flag.len() > 1 && flag[1..].chars().all(|c| SHORT_BOOL.contains(c)),
        };
        let value = if boolean {
            inline
        } else if let Some(v) = inline {
            Some(v)
        } else {
            i += 1;
            Some(
                words
                    .get(i)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?,
            )
        };
        match flag.as_str() {
            "-u" | "--user" => s.user = value.map(|v| (v, at(w))),
            "--cap-add" => s.add.extend(value.map(|v| (v, at(w)))),
            "--cap-drop" => s.drop.extend(value.map(|v| (v, at(w)))),
            "--privileged" => {
                let on = value.as_deref() != Some("false");
                s.privileged = Some((on, at(w)));
            }
            "--security-opt" => {
                if let Some(b) = value.as_deref().and_then(nnp_opt) {
                    s.nnp = Some((
                        b,
                        at(&format!(
                            "--security-opt {}",
                            value.as_deref().unwrap_or("")
                        )),
                    ));
                }
            }
            _ => {}
        }
        i += 1;
    }
    // words[i] is the image; the rest is the command.
    if words.len() > i + 1 {
        s.command = Some((words[i + 1..].to_vec(), at("COMMAND")));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: CapSet = CapSet(0x1ffffffffff);
    const NBS: CapSet = CapSet(1 << 10);

    /// The shape of the Compose files in moby#45491 and the Docker docs.
    const COMPOSE: &str = r#"
services:
  web:
    image: nginx:1.27
    user: "101:101"
    cap_drop: [ALL]
    cap_add:
      - net_bind_service
    security_opt:
      - no-new-privileges:true
    command: ["/usr/sbin/nginx", "-g", "daemon off;"]
  db:
    image: postgres:16
    privileged: true
"#;

    #[test]
    fn compose_services_map_to_mobys_section() {
        let s = compose(COMPOSE, "c.yaml", Some("web")).unwrap();
        let (p, _) = process(&s, Engine::Docker, ALL).unwrap();
        assert_eq!((p.uid, p.gid, p.no_new_privs), (101, 101, true));
        assert_eq!(
            (p.bounding, p.permitted, p.inheritable, p.ambient),
            (NBS, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY)
        );
        assert_eq!(
            p.origin_of("noNewPrivileges"),
            Some("c.yaml:10 (services.web.security_opt[0])")
        );
        assert_eq!(p.args[0], "/usr/sbin/nginx");
        // Podman: the added capability reaches the non-root process as ambient.
        let (p, _) = process(&s, Engine::Podman, ALL).unwrap();
        assert_eq!((p.permitted, p.inheritable, p.ambient), (NBS, NBS, NBS));
        let (db, notes) = process(
            &compose(COMPOSE, "c.yaml", Some("db")).unwrap(),
            Engine::Docker,
            ALL,
        )
        .unwrap();
        assert_eq!((db.uid, db.permitted), (0, ALL));
        assert!(notes[0].contains("assumed root"));
        let e = compose(COMPOSE, "c.yaml", None).err().unwrap().to_string();
        assert_eq!(
            e,
            "several services: choose one with --service NAME: web, db"
        );
        let e = compose(COMPOSE, "c.yaml", Some("x"))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(e, "no service named 'x'; the services are: web, db");
        let e = compose("services:\n  a:\n    cap_add: NET_ADMIN\n", "c.yaml", None)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "line 3: services.a.cap_add: expected a list, found a string"
        );
    }

    #[test]
    fn compose_extension_fragments_are_merged() {
        let text = "x-hardening: &hardening\n  user: \"101:101\"\n  cap_drop: [ALL]\n  security_opt: [no-new-privileges:true]\nservices:\n  web:\n    <<: *hardening\n    cap_add: [NET_BIND_SERVICE]\n  admin:\n    <<: *hardening\n    cap_drop: [NET_RAW]\n";
        let (p, _) = process(
            &compose(text, "c.yaml", Some("web")).unwrap(),
            Engine::Docker,
            ALL,
        )
        .unwrap();
        assert_eq!((p.uid, p.bounding, p.no_new_privs), (101, NBS, true));
        assert_eq!(
            p.origin_of("noNewPrivileges"),
            Some("c.yaml:4 (services.web.security_opt[0])")
        );
        // The service's own cap_drop replaces the fragment's.
        let (p, _) = process(
            &compose(text, "c.yaml", Some("admin")).unwrap(),
            Engine::Docker,
            ALL,
        )
        .unwrap();
        assert_eq!(p.bounding, engine::MOBY_DEFAULT - CapSet::single(13));
    }

    #[test]
    fn docker_run_flags_are_read_like_the_cli() {
        let s = docker_args("docker run --rm -it -p 80:80 -u 1000:1000 --cap-drop=ALL --cap-add NET_BIND_SERVICE --cap-add net_admin --cap-drop net_admin --security-opt no-new-privileges -e A=b img:1 /app --port 80").unwrap();
        let (p, _) = process(&s, Engine::Docker, ALL).unwrap();
        assert_eq!((p.uid, p.gid, p.no_new_privs), (1000, 1000, true));
        assert_eq!(
            p.bounding,
            NBS | CapSet::single(12),
            "moby: add wins over drop"
        );
        assert_eq!(p.permitted, CapSet::EMPTY);
        assert_eq!(p.args, vec!["/app", "--port", "80"]);
        let root = process(
            &docker_args("--privileged img").unwrap(),
            Engine::Docker,
            ALL,
        )
        .unwrap()
        .0;
        assert_eq!(root.permitted, ALL);
        let e = process(
            &docker_args("--cap-add FOO img").unwrap(),
            Engine::Docker,
            ALL,
        )
        .err()
        .unwrap();
        assert!(e.to_string().starts_with("unknown capability 'CAP_FOO'"));
        let e = process(&docker_args("-u node img").unwrap(), Engine::Docker, ALL)
            .err()
            .unwrap();
        assert!(e.to_string().contains("write the numeric uid[:gid]"));
        assert!(docker_args("-u").is_err());
        assert_eq!(
            split(r#"a 'b c' "d\"e" f\ g"#).unwrap(),
            vec!["a", "b c", "d\"e", "f g"]
        );
        assert!(split("'x").is_err());
    }
}
