//! `fcap audit`: judge every privileged file (file capabilities, set-user-ID,
//! set-group-ID) of a host tree or an image against the rules of
//! [`crate::audit`] and a policy of exceptions.
//!
//! The host scan is `read -r`'s parallel walk with one `statx` more per regular
//! file; an image goes through the same tree view as `read --image`. The rules,
//! the policy and the formats live in [`crate::audit`]; this module wires them.

use crate::audit::policy::Policy;
use crate::audit::report::{self, Target};
use crate::audit::{self, Context, Fact, Finding, Severity};
use crate::error::{self, Exit};
use crate::filecaps::FileCaps;
use crate::image::apply::{Want, clean};
use crate::image::tar::{CapRecord, Kind};
use crate::scan::{self, Found, Pattern, WalkOpts};
use crate::tree::{ImageTree, Tree};
use crate::verify::caller::{self, Profile, Request};
use crate::verify::runtime::ImageAccounts;
use crate::verify::runtime::engine::Engine;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Judge every privileged file against rules and a policy.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Rules (IDs never change): FC101 root-equivalent capability (error), FC102 capability \
rated high (warning), FC103 dangerous combination (warning), FC110 interpreter with \
capabilities (error for high ones, else warning), FC120 capability outside the \
--profile's bounding set (error), FC121 capability inert under the profile's \
no_new_privs (note), FC130 inheritable file bits (note), FC140 not allowed by --allow \
(error), FC150 set-user-ID file (error), FC151 set-group-ID file (warning; error for \
the root, shadow, disk and docker groups), FC152 set-ID interpreter or shell (error); \
images only: FC160 v3 value bound to a rootid (warning), FC161 capability the runtime \
will not apply (error).

Policy file (.fcap-policy.yaml in the working directory, or --policy FILE): \
'builtin: [debian-base]' allows Debian's stock set-ID programs; 'exceptions:' is a list \
of {rule: ID or list, path: /absolute or **/glob, reason: text, expires: YYYY-MM-DD, \
caps: the most the file may carry, image: glob of IMAGE}. Expired and unused \
exceptions are reported on stderr.

Exit status: 0 no unsuppressed finding at or above --fail-on, 1 some, 2 an error \
(in every format).")]
pub struct AuditArgs {
    /// Directories or files to audit, each on its own filesystem only (like 'read
    /// -r -x'; name other mounts to audit them too). Default: / (with --image, the
    /// whole image).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Audit a container image instead of the host (see 'fcap read --image').
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<PathBuf>,

    /// With --image, the platform to pick when the image has several.
    #[arg(long, value_name = "PLATFORM", requires = "image")]
    pub platform: Option<String>,

    /// Judge the capabilities against a deployment target (FC120, FC121) with
    /// verify's exec model; with --image the entrypoint is verified as 'verify
    /// --image' would.
    #[arg(long, value_enum, value_name = "NAME")]
    pub profile: Option<Profile>,

    /// The engine that starts the container (as for 'fcap verify').
    #[arg(long, value_enum, value_name = "ENGINE", requires = "profile")]
    pub runtime: Option<Engine>,

    /// Who runs the files under --profile (default: the image's User; on a host,
    /// root for docker and nobody (65534) for the Kubernetes profiles).
    #[arg(long, value_name = "USER", requires = "profile")]
    pub user: Option<String>,

    /// Manifests (as 'fcap read -r' prints them) of the paths that may carry
    /// capabilities and the most each may carry (FC140).
    #[arg(long, value_name = "MANIFEST")]
    pub allow: Vec<PathBuf>,

    /// The policy file (default: .fcap-policy.yaml in the working directory, if any).
    #[arg(long, value_name = "FILE", conflicts_with = "no_exceptions")]
    pub policy: Option<PathBuf>,

    /// Ignore every exception: audit everything.
    #[arg(long)]
    pub no_exceptions: bool,

    /// Also show the findings that exceptions suppress, with their reasons.
    #[arg(long)]
    pub show_suppressed: bool,

    /// Leave out entries matching this glob (as for 'fcap read -r').
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<std::ffi::OsString>,

    /// Print JSON Lines: one object per finding (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human)]
    pub format: Format,

    /// The lowest severity that fails the run (exit 1); none: never.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Gitlab,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Note,
    None,
}

impl FailOn {
    fn level(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Note => Some(Severity::Note),
            FailOn::None => None,
        }
    }
}

/// `name:x:gid:…` lines of a group file, by gid.
fn parse_groups(text: &[u8]) -> HashMap<u32, String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let gid = f.nth(1)?.parse().ok()?;
            Some((gid, name.to_string()))
        })
        .collect()
}

/// A whole small file of an image, as the scan kept it (symlinks followed inside
/// the image).
fn image_file(t: &ImageTree, path: &str) -> Option<Vec<u8>> {
    let real = t.resolve(path.as_bytes(), true).ok()?;
    let k = t.snap.files.get(&real)?;
    let k = if k.kind == Kind::HardLink || (!k.link.is_empty() && k.kind == Kind::Regular) {
        t.snap.files.get(&k.link).unwrap_or(k)
    } else {
        k
    };
    k.head.clone().filter(|h| h.len() as u64 >= k.size)
}

/// Account files kept whole for the profile's caller and group names.
const ACCOUNTS: usize = 1 << 20;

/// Run `fcap audit`.
pub fn run(args: &AuditArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut errors = false;
    let mut fail = |e: anyhow::Error| {
        error::print(&e);
        errors = true;
    };
    let format = if args.json { Format::Json } else { args.format };
    let policy = if args.no_exceptions {
        Policy::default()
    } else {
        Policy::load(args.policy.as_deref())?
    };
    let allow = if args.allow.is_empty() {
        None
    } else {
        let mut bad = false;
        let entries = crate::manifest::load_all(&args.allow, &mut |e| {
            bad = true;
            error::print(&e);
        });
        if bad {
            return Ok(Exit::Error);
        }
        Some(
            entries
                .into_iter()
                .map(|e| (e.path, e.caps))
                .collect::<HashMap<PathBuf, Option<FileCaps>>>(),
        )
    };
    let mut cx = Context {
        allow,
        image: args.image.is_some(),
        ..Context::default()
    };
    let mut extra: Vec<Finding> = Vec::new();
    let tree = match &args.image {
        Some(name) => {
            let image = crate::image::Image::open(name, args.platform.as_deref())?;
            let tree = match args.profile {
                Some(p) => {
                    let (tree, found) = image_profile(args, p, image, name, &mut cx)?;
                    extra = found;
                    tree
                }
                None => {
                    let mut want = Want {
                        setid: true,
                        ..Want::default()
                    };
                    want.heads.insert(b"/etc/group".to_vec(), ACCOUNTS);
                    let snap = image.scan(&want)?;
                    ImageTree { image, snap }
                }
            };
            if let Some(g) = image_file(&tree, "/etc/group") {
                cx.groups = parse_groups(&g);
            }
            Tree::Image(Box::new(tree))
        }
        None => {
            if let Ok(g) = std::fs::read("/etc/group") {
                cx.groups = parse_groups(&g);
            }
            if let Some(p) = args.profile {
                let user = args.user.clone().unwrap_or_else(|| {
                    if p == Profile::Docker { "0" } else { "65534" }.to_string()
                });
                let who = caller::build(&Request {
                    user: Some(user),
                    profile: Some(p),
                    runtime: args.runtime,
                    ..Request::default()
                })?;
                cx.profile = Some((who.caller, profile_name(p)));
            }
            Tree::Host
        }
    };
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from("/")]
    } else {
        args.paths.clone()
    };
    let opts = WalkOpts {
        one_file_system: matches!(tree, Tree::Host),
        exclude: args.exclude.iter().map(|p| Pattern::new(p)).collect(),
        setid: true,
        ..WalkOpts::default()
    };
    let mut entries = Vec::new();
    for root in &roots {
        tree.walk(root, &opts, &mut |e| entries.push(e), &mut fail);
    }
    scan::sort(&mut entries);
    entries.dedup_by(|a, b| a.path == b.path);
    let mut findings: Vec<Finding> = Vec::new();
    let mut files = 0;
    for e in &entries {
        let caps = match &e.found {
            Found::File(c) => c.as_ref(),
            Found::Unreadable(err) => {
                fail(anyhow::anyhow!("{err:#}"));
                continue;
            }
            Found::NotRegular => continue,
        };
        files += 1;
        let record = match &tree {
            Tree::Image(t) => t.lookup(&e.path).ok().flatten().map(|(_, k)| k.clone()),
            Tree::Host => None,
        };
        let fact = Fact {
            path: &e.path,
            caps,
            meta: e.meta,
            layer: e.layer,
            libarchive_only: record
                .as_ref()
                .is_some_and(|k| matches!(k.cap, Some(CapRecord::LibarchiveOnly(_)))),
            on_link_entry: record.as_ref().is_some_and(|k| k.lost_cap.is_some()),
        };
        findings.extend(audit::judge(&cx, &fact));
    }
    // The entrypoint's own verdict replaces the per-file one for the same rule.
    if !extra.is_empty() {
        let taken: HashSet<(&str, PathBuf)> =
            extra.iter().map(|f| (f.rule, f.path.clone())).collect();
        findings.retain(|f| !taken.contains(&(f.rule, f.path.clone())));
        findings.extend(extra);
    }
    audit::sort(&mut findings);
    let image_arg = args.image.as_ref().map(|i| audit::shown(i));
    apply_policy(
        &policy,
        &mut findings,
        args.image.as_deref(),
        image_arg.as_deref(),
    );
    let fail_on = args.fail_on.level();
    let failing = findings
        .iter()
        .any(|f| f.suppressed.is_none() && fail_on.is_some_and(|l| f.severity >= l));
    if !args.show_suppressed {
        findings.retain(|f| f.suppressed.is_none());
    }
    let target = Target {
        image: image_arg,
        layers: match &tree {
            Tree::Image(t) => t
                .image
                .resolved
                .layers
                .iter()
                .map(|l| l.digest.clone())
                .collect(),
            Tree::Host => Vec::new(),
        },
        roots: roots.iter().map(|r| audit::shown(r)).collect(),
        profile: args.profile.map(profile_name),
    };
    match format {
        Format::Human => report::human(out, &findings, args.show_suppressed, files)?,
        Format::Json => {
            for f in &findings {
                writeln!(out, "{}", report::json(&target, f))?;
            }
        }
        Format::Sarif => {
            let v = report::sarif(&target, &findings);
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Gitlab => {
            let v = report::gitlab(&target, &findings);
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Junit => report::junit(out, &target, &findings, fail_on)?,
    }
    Ok(if errors {
        Exit::Error
    } else if failing {
        Exit::Negative
    } else {
        Exit::Success
    })
}

/// Mark the findings an exception suppresses, then report the exceptions that are
/// past their date or matched nothing (on stderr: they are about the policy, not
/// the files).
fn apply_policy(
    policy: &Policy,
    findings: &mut [Finding],
    image: Option<&Path>,
    image_arg: Option<&str>,
) {
    let today = crate::audit::policy::today();
    for f in findings.iter_mut() {
        if let Some(e) = policy.matching(f.rule, &f.path, image_arg, f.held, today) {
            f.suppressed = Some(e.reason.clone());
        }
    }
    let place = image
        .map(|i| format!(" in {}", error::quote(i)))
        .unwrap_or_default();
    for e in policy.exceptions.iter().filter(|e| e.line > 0) {
        if e.expired(today) {
            let (y, m, d) = e.expires.unwrap_or_default();
            error::warn(&format!(
                "{}: the exception for {} {} expired on {y:04}-{m:02}-{d:02}{}: renew it with a new date and reason, or fix the files",
                policy.at(e),
                e.rules.join(","),
                e.path,
                if e.used.get() > 0 {
                    ": it suppresses nothing any more"
                } else {
                    " (and it matches nothing)"
                }
            ));
        } else if e.used.get() == 0 {
            error::warn(&format!(
                "{}: unused exception: {} {} matched no finding{place} (remove it, or check the path)",
                policy.at(e),
                e.rules.join(","),
                e.path,
            ));
        }
    }
}

fn profile_name(p: Profile) -> String {
    match p {
        Profile::Docker => "docker",
        Profile::K8sRestricted => "k8s-restricted",
        Profile::K8sBaseline => "k8s-baseline",
    }
    .to_string()
}

/// `--image` with `--profile`: one scan as `verify --image` makes it (the
/// entrypoint's chain, the accounts, and every set-ID file), the caller built
/// from the image's User, and the entrypoint's verdict.
fn image_profile(
    args: &AuditArgs,
    p: Profile,
    image: crate::image::Image,
    name: &Path,
    cx: &mut Context,
) -> anyhow::Result<(ImageTree, Vec<Finding>)> {
    let place = format!(" in {}", error::quote(name));
    let entry = image.resolved.entrypoint.first().cloned();
    let (tree, chain, program) = match &entry {
        Some(e) => {
            let g = crate::verify::image::gather(image, Path::new(e))?;
            (g.tree, Some(g.chain), Some(g.program))
        }
        None => {
            let mut want = Want {
                setid: true,
                ..Want::default()
            };
            for f in ["/etc/passwd", "/etc/group"] {
                want.heads.insert(f.as_bytes().to_vec(), ACCOUNTS);
            }
            let snap = image.scan(&want)?;
            error::note(&format!(
                "{}: the image config has no Entrypoint or Cmd: only its files are judged against --profile",
                error::quote(name)
            ));
            (ImageTree { image, snap }, None, None)
        }
    };
    let text =
        |f: &str| String::from_utf8_lossy(&image_file(&tree, f).unwrap_or_default()).into_owned();
    let accounts = ImageAccounts {
        user: tree.image.resolved.user.clone(),
        passwd: text("/etc/passwd"),
        group: text("/etc/group"),
        place,
    };
    let user = args.user.clone().unwrap_or_else(|| {
        tree.image
            .resolved
            .user
            .clone()
            .unwrap_or_else(|| "0".to_string())
    });
    let who = caller::build(&Request {
        user: Some(user),
        profile: Some(p),
        runtime: args.runtime,
        accounts: Some(accounts),
        ..Request::default()
    })
    .map_err(|e| anyhow::anyhow!("{}: {e:#}", error::quote(name)))?;
    let mut found = Vec::new();
    if let (Some(chain), Some(program)) = (chain, program) {
        let first = &chain[0];
        let k = clean(program.as_os_str().as_bytes()).ok().and_then(|p| {
            tree.lookup(Path::new(std::ffi::OsStr::from_bytes(&p)))
                .ok()
                .flatten()
                .map(|(_, k)| k.clone())
        });
        let caps = match &k.as_ref().and_then(|k| k.cap.clone()) {
            Some(CapRecord::Schily(v)) => FileCaps::decode(v).ok(),
            _ => None,
        };
        if first.inode.is_some() {
            found = audit::prediction_findings(
                &who.caller,
                &profile_name(p),
                &program,
                &chain,
                k.as_ref().map(|k| k.layer),
                caps.as_ref(),
                None,
            );
        }
    }
    cx.profile = Some((who.caller, profile_name(p)));
    Ok((tree, found))
}
