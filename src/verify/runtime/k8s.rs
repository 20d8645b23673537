//! A Kubernetes workload's container mapped to the process section its runtime
//! writes (kubelet + containerd CRI, CRI-O, or cri-dockerd; shared spec
//! runtimes.md §3).
//!
//! Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob objects are
//! read from every document of the file; `initContainers` count as containers. The
//! pod-level `securityContext` gives `runAsUser`, `runAsGroup`, `runAsNonRoot` and
//! `supplementalGroups`; the container's own values win.

use super::engine::{self, Engine};
use super::process::Process;
use super::yaml::{self, Node, Value};
use crate::caps::CapSet;

/// The pod spec of a workload object, and the YAML path to it.
fn pod_spec(doc: &Node) -> Option<(&Node, &'static str)> {
    let kind = doc.get("kind")?.as_str()?;
    let spec = doc.get("spec")?;
    match kind {
        "Pod" => Some((spec, "spec")),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some((spec.get("template")?.get("spec")?, "spec.template.spec"))
        }
        "CronJob" => Some((
            spec.get("jobTemplate")?
                .get("spec")?
                .get("template")?
                .get("spec")?,
            "spec.jobTemplate.spec.template.spec",
        )),
        _ => None,
    }
}

/// One container of one workload.
struct Found<'a> {
    workload: String,
    name: String,
    pod: &'a Node,
    pod_path: &'static str,
    container: &'a Node,
    container_path: String,
}

fn containers<'a>(docs: &'a [Node]) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    for doc in docs {
        let Some((pod, pod_path)) = pod_spec(doc) else {
            continue;
        };
        let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("?");
        let name = doc
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or("?");
        for list in ["initContainers", "containers"] {
            let Some(items) = pod.get(list).and_then(Node::as_seq) else {
                continue;
            };
            for (i, c) in items.iter().enumerate() {
                out.push(Found {
                    workload: format!("{kind}/{name}"),
                    name: c
                        .get("name")
                        .and_then(Node::as_str)
                        .unwrap_or("")
                        .to_string(),
                    pod,
                    pod_path,
                    container: c,
                    container_path: format!("{pod_path}.{list}[{i}]"),
                });
            }
        }
    }
    out
}

/// The choices, for an error message.
fn choices<'a, 'b: 'a>(found: impl IntoIterator<Item = &'a Found<'b>>) -> String {
    found
        .into_iter()
        .map(|f| format!("{} ({})", f.name, f.workload))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Kubernetes container's process section, plus findings (Pod Security).
pub struct Mapped {
    /// The YAML path of the chosen container (for suggested fixes).
    pub container_path: String,
    pub process: Process,
    pub findings: Vec<String>,
    pub notes: Vec<String>,
}

/// A field read with its place: `FILE:LINE (yaml.path)`.
struct Reader<'a> {
    file: &'a str,
}

impl Reader<'_> {
    fn at(&self, n: &Node, path: &str) -> String {
        format!("{}:{} ({path})", self.file, n.line)
    }
    fn wrong(&self, n: &Node, path: &str, want: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "line {}: {path}: expected {want}, found {}",
            n.line,
            n.kind()
        )
    }
    fn id(&self, n: &Node, path: &str) -> anyhow::Result<u32> {
        match n.value {
            Value::Int(i) => u32::try_from(i).map_err(|_| self.wrong(n, path, "a uid/gid number")),
            _ => Err(self.wrong(n, path, "a uid/gid number")),
        }
    }
    /// A boolean as the kubelet's YAML (1.1) reads it: also yes/no/on/off.
    fn flag(&self, n: &Node, path: &str) -> anyhow::Result<bool> {
        match &n.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) => match s.as_str() {
                "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Ok(true),
                "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Ok(false),
                _ => Err(self.wrong(n, path, "true or false")),
            },
            _ => Err(self.wrong(n, path, "true or false")),
        }
    }
    fn names(&self, n: &Node, path: &str) -> anyhow::Result<Vec<String>> {
        if n.is_null() {
            return Ok(Vec::new());
        }
        let items = n
            .as_seq()
            .ok_or_else(|| self.wrong(n, path, "a list of capability names"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.wrong(x, &format!("{path}[{i}]"), "a capability name"))
            })
            .collect()
    }
}

/// Map the chosen container of a manifest to the process section `engine` writes.
/// `file` names the manifest in origins; `all` is every capability of this kernel.
pub fn map(
    text: &str,
    file: &str,
    container: Option<&str>,
    e: Engine,
    all: CapSet,
    image: Option<&super::ImageAccounts>,
) -> anyhow::Result<Mapped> {
    map_tweaked(
        text,
        file,
        container,
        e,
        all,
        &super::Tweak::default(),
        image,
    )
}

/// [`map`] with a suggested change applied (`capabilities.add` += caps,
/// `allowPrivilegeEscalation: true`).
pub fn map_tweaked(
    text: &str,
    file: &str,
    container: Option<&str>,
    e: Engine,
    all: CapSet,
    tweak: &super::Tweak,
    image: Option<&super::ImageAccounts>,
) -> anyhow::Result<Mapped> {
    let docs = yaml::load(text, yaml::Merge::V2)?;
    let found = containers(&docs);
    anyhow::ensure!(
        !found.is_empty(),
        "no container found (looked for Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob objects)"
    );
    let f = match container {
        Some(n) => {
            let matching: Vec<&Found> = found.iter().filter(|f| f.name == n).collect();
            match matching.len() {
                0 => anyhow::bail!(
                    "no container named '{n}'; the containers are: {}",
                    choices(&found)
                ),
                1 => matching[0],
                _ => anyhow::bail!("several containers are named '{n}': {}", choices(matching)),
            }
        }
        None if found.len() == 1 => &found[0],
        None => anyhow::bail!(
            "several containers: choose one with --container NAME: {}",
            choices(&found)
        ),
    };
    let r = Reader { file };
    let mut p = Process {
        cwd: "/".to_string(),
        ..Process::default()
    };
    let mut notes = Vec::new();
    let mut findings = Vec::new();
    let pod_sc = f.pod.get("securityContext").filter(|n| !n.is_null());
    let sc = f.container.get("securityContext").filter(|n| !n.is_null());
    let pod_sc_path = format!("{}.securityContext", f.pod_path);
    let sc_path = format!("{}.securityContext", f.container_path);
    // The container's value wins over the pod's.
    let pick = |key: &str| -> Option<(&Node, String)> {
        sc.and_then(|s| s.get(key).map(|n| (n, format!("{sc_path}.{key}"))))
            .or_else(|| {
                pod_sc.and_then(|s| s.get(key).map(|n| (n, format!("{pod_sc_path}.{key}"))))
            })
            .filter(|(n, _)| !n.is_null())
    };
    let uid_set = pick("runAsUser");
    // With the image: its User when runAsUser is unset, and the gid and groups of
    // the uid in its /etc/passwd and /etc/group (as runc looks them up).
    let from_image = match (&uid_set, image) {
        (Some((n, path)), Some(img)) => Some(img.resolve(&r.id(n, path)?.to_string())?),
        (None, Some(img)) => Some(img.default_user()?),
        _ => None,
    };
    if let (Some(who), Some(img)) = (&from_image, image) {
        (p.uid, p.gid, p.additional_gids) = (who.uid, who.gid, who.groups.clone());
        let at = match &uid_set {
            Some((n, path)) => r.at(n, path),
            None => img.origin(),
        };
        p.origin("user.uid", at);
        p.origin("user.gid", format!("/etc/passwd{}", img.place));
    }
    match &uid_set {
        _ if from_image.is_some() => {}
        Some((n, path)) => {
            p.uid = r.id(n, path)?;
            p.origin("user.uid", r.at(n, path));
        }
        None => {
            p.origin("user.uid", "the image's USER (assumed root: no runAsUser)");
            notes.push(
                "no runAsUser: the uid is the image's USER, assumed root (0) here".to_string(),
            );
        }
    }
    if let Some((n, path)) = pick("runAsGroup") {
        p.gid = r.id(n, &path)?;
        p.origin("user.gid", r.at(n, &path));
    }
    if let Some(n) = pod_sc
        .and_then(|s| s.get("supplementalGroups"))
        .filter(|n| !n.is_null())
    {
        let path = format!("{pod_sc_path}.supplementalGroups");
        let items = n
            .as_seq()
            .ok_or_else(|| r.wrong(n, &path, "a list of gids"))?;
        for (i, g) in items.iter().enumerate() {
            let g = r.id(g, &format!("{path}[{i}]"))?;
            if !p.additional_gids.contains(&g) {
                p.additional_gids.push(g);
            }
        }
        p.origin("user.additionalGids", r.at(n, &path));
    }
    let non_root = match pick("runAsNonRoot") {
        Some((n, path)) => r.flag(n, &path)?,
        None => false,
    };
    if non_root {
        match &uid_set {
            Some(_) if p.uid == 0 => anyhow::bail!(
                "container '{}': runAsNonRoot is true and runAsUser is 0: the kubelet refuses to start it (CreateContainerConfigError)",
                f.name
            ),
            Some(_) => {}
            None => match image {
                // The kubelet's check: the image's User must be a number, not 0.
                Some(img) => {
                    let spec = img.user.as_deref().unwrap_or("0");
                    let uid = spec.split(':').next().unwrap_or(spec);
                    match uid.parse::<u32>() {
                        Ok(0) => anyhow::bail!(
                            "container '{}': runAsNonRoot and the image runs as root{}: the kubelet refuses to start it (CreateContainerConfigError)",
                            f.name,
                            img.place
                        ),
                        Ok(_) => {}
                        Err(_) => anyhow::bail!(
                            "container '{}': runAsNonRoot and the image's User '{spec}' is a name{}: the kubelet cannot verify it is not root and refuses to start it; set runAsUser",
                            f.name,
                            img.place
                        ),
                    }
                }
                None => anyhow::bail!(
                    "container '{}': runAsNonRoot without runAsUser: the kubelet takes the uid from the image's USER, which this file does not say; set runAsUser (or pass --image)",
                    f.name
                ),
            },
        }
    }
    let privileged = match sc
        .and_then(|s| s.get("privileged"))
        .filter(|n| !n.is_null())
    {
        Some(n) => r.flag(n, &format!("{sc_path}.privileged"))?,
        None => false,
    };
    let caps = sc
        .and_then(|s| s.get("capabilities"))
        .filter(|n| !n.is_null());
    let caps_path = format!("{sc_path}.capabilities");
    let (mut add, mut drop) = (Vec::new(), Vec::new());
    let mut caps_from = Vec::new();
    if let Some(c) = caps {
        for (key, list) in [("add", &mut add), ("drop", &mut drop)] {
            if let Some(n) = c.get(key) {
                let path = format!("{caps_path}.{key}");
                *list = r.names(n, &path)?;
                caps_from.push(r.at(n, &path));
            }
        }
    }
    add.extend(tweak.bare());
    let (set, unknown) = engine::resolve(e, &add, &drop, privileged, all);
    if let (Engine::CriO, false, Some(u)) = (e, privileged, unknown.first()) {
        // runtime-tools' CapValid, for an add and for a drop alike.
        anyhow::bail!(
            "container '{}': unknown capability '{u}': CRI-O refuses to create the container",
            f.name
        );
    }
    if let (Engine::Docker, false, Some(u)) = (
        e,
        privileged,
        engine::unavailable(e, &add, &drop, all).first(),
    ) {
        anyhow::bail!(
            "container '{}': capability '{u}' is not available here (not in this machine's bounding set): Docker refuses to create the container",
            f.name
        );
    }
    let prefixed: Vec<&str> = add
        .iter()
        .chain(&drop)
        .filter(|n| n.to_ascii_uppercase().starts_with("CAP_"))
        .map(String::as_str)
        .collect();
    if e == Engine::Containerd && !privileged && !prefixed.is_empty() {
        notes.push(format!(
            "containerd puts CAP_ before every name in capabilities.add and .drop, so {} reach runc as {}, which no kernel knows: runc ignores them and they add or drop nothing (a common mistake; CRI-O and Docker accept the prefix); write the names without CAP_",
            prefixed.join(", "),
            prefixed
                .iter()
                .map(|n| engine::spelled(e, n))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    p.ignored = unknown;
    engine::apply(&mut p, e, set, &add);
    let mut from = format!("{}'s default list", e.name());
    if privileged {
        from = r.at(
            sc.and_then(|s| s.get("privileged")).unwrap_or(f.container),
            &format!("{sc_path}.privileged"),
        );
    } else if !caps_from.is_empty() {
        from = format!("{from} + {}", caps_from.join(" + "));
    }
    for field in [
        "capabilities.bounding",
        "capabilities.effective",
        "capabilities.permitted",
    ] {
        p.origin(field, from.clone());
    }
    if e == Engine::Docker && p.uid != 0 {
        p.origin(
            "capabilities.effective",
            "moby: a non-root user gets the bounding set only",
        );
        p.origin(
            "capabilities.permitted",
            "moby: a non-root user gets the bounding set only",
        );
    }
    p.origin(
        "capabilities.ambient",
        format!("{} clears ambient", e.name()),
    );
    // kubelet (AddNoNewPrivileges): no_new_privs exactly when allowPrivilegeEscalation
    // is explicitly false.
    let ape_path = format!("{sc_path}.allowPrivilegeEscalation");
    let ape = match sc
        .and_then(|s| s.get("allowPrivilegeEscalation"))
        .filter(|n| !n.is_null())
    {
        // The suggested fix "allowPrivilegeEscalation: true".
        Some(_) if tweak.no_nnp => None,
        Some(n) => Some((r.flag(n, &ape_path)?, n)),
        None => None,
    };
    if let Some((false, n)) = ape {
        // ValidateSecurityContext refuses the pair only for privileged: true and for
        // the literal name "CAP_SYS_ADMIN" in add; SYS_ADMIN by any other spelling
        // (or through ALL) passes, and the kubelet sets no_new_privs.
        if privileged || add.iter().any(|a| a == "CAP_SYS_ADMIN") {
            notes.push("allowPrivilegeEscalation: false with privileged: true or capabilities.add CAP_SYS_ADMIN: the API server rejects the pod".to_string());
        } else {
            p.no_new_privs = true;
            p.origin("noNewPrivileges", r.at(n, &ape_path));
        }
    }
    // Pod Security "restricted" (check_capabilities_restricted.go): exact case.
    let mut bad = Vec::new();
    if !drop.iter().any(|d| d == "ALL") {
        bad.push("capabilities.drop must include \"ALL\"".to_string());
    }
    for a in add.iter().filter(|a| *a != "NET_BIND_SERVICE") {
        bad.push(format!(
            "capabilities.add may only hold \"NET_BIND_SERVICE\", not \"{a}\""
        ));
    }
    if !matches!(ape, Some((false, _))) {
        bad.push("allowPrivilegeEscalation must be false".to_string());
    }
    if !non_root {
        bad.push("runAsNonRoot must be true".to_string());
    }
    if privileged {
        bad.push("privileged must be false".to_string());
    }
    if bad.is_empty() {
        findings.push(
            "Pod Security \"restricted\": the capability, privilege and user checks pass"
                .to_string(),
        );
    } else {
        findings.push(format!(
            "Pod Security \"restricted\" would reject it: {}",
            bad.join("; ")
        ));
    }
    if let Some(cmd) = f.container.get("command").and_then(Node::as_seq) {
        p.args = cmd
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        p.origin(
            "args",
            r.at(
                f.container.get("command").unwrap_or(f.container),
                &format!("{}.command", f.container_path),
            ),
        );
    } else {
        notes.push(
            "no command: the entrypoint is the image's ENTRYPOINT; name the file to verify"
                .to_string(),
        );
    }
    Ok(Mapped {
        container_path: f.container_path.clone(),
        process: p,
        findings,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: CapSet = CapSet(0x1ffffffffff);
    const NBS: CapSet = CapSet(1 << 10);

    /// kubernetes/kubernetes#56374, as reported.
    const ISSUE_56374: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: test
spec:
  containers:
  - name: test
    image: nginx
    command: ["/usr/sbin/nginx"]
    securityContext:
      runAsUser: 1000
      allowPrivilegeEscalation: false
      capabilities:
        drop:
        - ALL
        add:
        - NET_BIND_SERVICE
"#;

    #[test]
    fn the_56374_pod_differs_between_containerd_and_docker() {
        let m = map(ISSUE_56374, "pod.yaml", None, Engine::Containerd, ALL, None).unwrap();
        let p = &m.process;
        assert_eq!((p.uid, p.no_new_privs), (1000, true));
        assert_eq!((p.bounding, p.effective, p.permitted), (NBS, NBS, NBS));
        assert_eq!((p.inheritable, p.ambient), (CapSet::EMPTY, CapSet::EMPTY));
        assert_eq!(
            p.origin_of("user.uid"),
            Some("pod.yaml:12 (spec.containers[0].securityContext.runAsUser)")
        );
        assert_eq!(p.args, vec!["/usr/sbin/nginx"]);
        // Not "restricted": runAsNonRoot is missing.
        assert!(
            m.findings[0].contains("runAsNonRoot must be true"),
            "{:?}",
            m.findings
        );
        let d = map(ISSUE_56374, "pod.yaml", None, Engine::Docker, ALL, None)
            .unwrap()
            .process;
        assert_eq!(
            (d.bounding, d.permitted, d.effective),
            (NBS, CapSet::EMPTY, CapSet::EMPTY)
        );
    }

    const CRONJOB: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          securityContext:
            runAsUser: 2000
            runAsGroup: 3000
            supplementalGroups: [4, 27]
          initContainers:
          - name: init
            image: busybox
          containers:
          - name: backup
            image: backup:1
            securityContext:
              runAsUser: 0
              privileged: true
              allowPrivilegeEscalation: false
          - name: side
            image: side:1
            securityContext:
              capabilities:
                add: [net_admin, SYS_TIME]
                drop: [NET_ADMIN]
"#;

    #[test]
    fn workloads_containers_and_pod_level_settings() {
        let e = |c: Option<&str>| {
            map(CRONJOB, "cj.yaml", c, Engine::Containerd, ALL, None)
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            e(None),
            "several containers: choose one with --container NAME: init (CronJob/backup), backup (CronJob/backup), side (CronJob/backup)"
        );
        assert!(e(Some("web")).starts_with("no container named 'web'; the containers are: init"));
        let b = map(
            CRONJOB,
            "cj.yaml",
            Some("backup"),
            Engine::Containerd,
            ALL,
            None,
        )
        .unwrap();
        let p = &b.process;
        assert_eq!(
            (p.uid, p.gid, p.additional_gids.clone()),
            (0, 3000, vec![4, 27])
        );
        assert_eq!(p.permitted, ALL, "privileged: every capability");
        assert!(
            !p.no_new_privs,
            "privileged voids allowPrivilegeEscalation: false"
        );
        let s = map(
            CRONJOB,
            "cj.yaml",
            Some("side"),
            Engine::Containerd,
            ALL,
            None,
        )
        .unwrap()
        .process;
        assert_eq!(s.uid, 2000);
        assert!(
            s.permitted.has(25) && !s.permitted.has(12),
            "containerd: drop wins"
        );
        let s = map(CRONJOB, "cj.yaml", Some("side"), Engine::Docker, ALL, None)
            .unwrap()
            .process;
        assert!(s.bounding.has(12), "moby: add wins");
        assert_eq!(
            s.permitted,
            CapSet::EMPTY,
            "moby: non-root gets bounding only"
        );
        let i = map(CRONJOB, "cj.yaml", Some("init"), Engine::CriO, ALL, None)
            .unwrap()
            .process;
        assert_eq!(i.permitted, engine::CRIO_DEFAULT);
    }

    #[test]
    fn cap_prefixed_names_do_nothing_on_containerd_and_unknown_ones_stop_cri_o() {
        let pod = |caps: &str| {
            format!(
                "kind: Pod\nspec:\n  containers:\n  - name: c\n    securityContext:\n      runAsUser: 0\n      capabilities:\n{caps}"
            )
        };
        let t = pod("        drop: [ALL]\n        add: [CAP_NET_BIND_SERVICE]\n");
        let m = map(&t, "p.yaml", None, Engine::Containerd, ALL, None).unwrap();
        assert_eq!(m.process.permitted, CapSet::EMPTY);
        assert_eq!(m.process.ignored, vec!["CAP_CAP_NET_BIND_SERVICE"]);
        assert!(
            m.notes
                .iter()
                .any(|n| n.contains("CAP_NET_BIND_SERVICE reach runc as CAP_CAP_NET_BIND_SERVICE")),
            "{:?}",
            m.notes
        );
        for e in [Engine::CriO, Engine::Docker] {
            let m = map(&t, "p.yaml", None, e, ALL, None).unwrap();
            assert_eq!(m.process.permitted, NBS, "{e:?}");
            assert!(m.notes.iter().all(|n| !n.contains("CAP_CAP_")), "{e:?}");
        }
        let e = map(
            &pod("        drop: [FOO]\n"),
            "p.yaml",
            None,
            Engine::CriO,
            ALL,
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(
            e,
            "container 'c': unknown capability 'CAP_FOO': CRI-O refuses to create the container"
        );
    }

    #[test]
    fn anchors_and_merge_keys_are_expanded_as_kubectl_does() {
        let text = "kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        securityContext: &sc\n          runAsUser: 1000\n          allowPrivilegeEscalation: false\n          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}\n      - name: side\n        securityContext:\n          capabilities: {drop: [ALL]}\n          <<: *sc\n";
        let side = map(text, "d.yaml", Some("side"), Engine::Containerd, ALL, None).unwrap();
        let p = &side.process;
        // go-yaml v2: the merge comes after the side's own capabilities and wins.
        assert_eq!((p.uid, p.permitted, p.no_new_privs), (1000, NBS, true));
        assert_eq!(
            p.origin_of("noNewPrivileges"),
            Some(
                "d.yaml:10 (spec.template.spec.containers[1].securityContext.allowPrivilegeEscalation)"
            )
        );
    }

    #[test]
    fn run_as_non_root_failures_and_bad_types() {
        let pod = |sc: &str| {
            format!("kind: Pod\nspec:\n  containers:\n  - name: c\n    securityContext:\n{sc}")
        };
        let e = |t: String| {
            map(&t, "p.yaml", None, Engine::Containerd, ALL, None)
                .err()
                .unwrap()
                .to_string()
        };
        assert!(
            e(pod("      runAsNonRoot: true\n      runAsUser: 0\n"))
                .contains("kubelet refuses to start it")
        );
        assert!(e(pod("      runAsNonRoot: true\n")).contains("set runAsUser"));
        assert_eq!(
            e(pod("      runAsUser: nobody\n")),
            "line 6: spec.containers[0].securityContext.runAsUser: expected a uid/gid number, found a string"
        );
        assert_eq!(
            e(pod("      capabilities:\n        add: NET_ADMIN\n")),
            "line 7: spec.containers[0].securityContext.capabilities.add: expected a list of capability names, found a string"
        );
        assert!(e("kind: Service\nspec: {}\n".into()).starts_with("no container found"));
        // The admission check is case-sensitive; containerd is not.
        let m = map(
            &pod("      runAsNonRoot: true\n      runAsUser: 5\n      allowPrivilegeEscalation: false\n      capabilities:\n        drop: [all]\n"),
            "p.yaml",
            None,
            Engine::Containerd,
            ALL,
            None,
        )
        .unwrap();
        assert_eq!(m.process.permitted, CapSet::EMPTY);
        assert_eq!(
            m.findings,
            vec![
                "Pod Security \"restricted\" would reject it: capabilities.drop must include \"ALL\""
            ]
        );
    }
}
