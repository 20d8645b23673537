//! How `fcap verify` shows a prediction: one JSON object, or lines for people.

use super::VerifyArgs;
use crate::caps::{self, CapSet};
use crate::output::escape_path;
use crate::verify::caller::Described;
use crate::verify::chain::{self, Resolved, Step};
use crate::verify::model::{self, Node, Outcome, Prediction};
use crate::verify::runtime::descriptor::Descriptor;
use crate::verify::runtime::{Refusal, Tweak};
use colored::Colorize;
use std::io::Write;
use std::path::Path;

/// The answer, as JSON or for people, with the verified fixes for a descriptor.
#[allow(clippy::too_many_arguments)]
pub fn print(
    out: &mut dyn Write,
    args: &VerifyArgs,
    desc: Option<&Descriptor>,
    who: &Described,
    path: &Path,
    chain: &[Node],
    p: &Prediction,
    missing: CapSet,
    fixes: &[(Tweak, String)],
) -> anyhow::Result<()> {
    if args.json {
        let mut v = to_json(args, path, chain, who, desc, p, missing);
        if args.require.is_some() && desc.is_some() {
            v["fixes"] = fixes_json(fixes);
        }
        writeln!(out, "{v}")?;
    } else {
        if let Some(d) = desc {
            descriptor_lines(out, d)?;
        }
        human(
            out,
            args.image.as_deref(),
            args.require,
            path,
            chain,
            who,
            p,
            missing,
        )?;
        if !fixes.is_empty() {
            writeln!(out, "\n{}", "fix (each re-verified):".bold())?;
            for (i, (_, text)) in fixes.iter().enumerate() {
                let or = if i == 0 { "" } else { "or " };
                writeln!(out, "  - {or}{text}")?;
            }
        }
    }
    Ok(())
}

/// The process section a descriptor gave, one field a line with where it came from.
pub fn descriptor_lines(out: &mut dyn Write, d: &Descriptor) -> anyhow::Result<()> {
    let p = &d.process;
    let bold = |s: &str| s.bold().to_string();
    writeln!(
        out,
        "{}  {} ({})",
        bold("descriptor:"),
        escape_path(&d.file),
        match d.kind {
            "oci-config" => "OCI runtime config",
            "kubernetes" => "Kubernetes manifest",
            "compose" => "Docker Compose file",
            "docker-args" => "docker run flags",
            "systemd" => "systemd unit",
            k => k,
        }
    )?;
    let groups = if p.additional_gids.is_empty() {
        "none".to_string()
    } else {
        p.additional_gids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let rows: Vec<(String, &str)> = vec![
        (format!("user.uid {}", p.uid), "user.uid"),
        (format!("user.gid {}", p.gid), "user.gid"),
        (
            format!("user.additionalGids {groups}"),
            "user.additionalGids",
        ),
        (
            format!("bounding {}", set_text(p.bounding)),
            "capabilities.bounding",
        ),
        (
            format!("effective {}", set_text(p.effective)),
            "capabilities.effective",
        ),
        (
            format!("permitted {}", set_text(p.permitted)),
            "capabilities.permitted",
        ),
        (
            format!("inheritable {}", set_text(p.inheritable)),
            "capabilities.inheritable",
        ),
        (
            format!("ambient {}", set_text(p.ambient)),
            "capabilities.ambient",
        ),
        (
            format!("noNewPrivileges {}", p.no_new_privs),
            "noNewPrivileges",
        ),
        (
            format!(
                "args[0] {}",
                p.args.first().map(String::as_str).unwrap_or("(none)")
            ),
            "args",
        ),
    ];
    let width = rows
        .iter()
        .map(|(t, _)| t.chars().count())
        .max()
        .unwrap_or(0);
    for (i, (text, field)) in rows.iter().enumerate() {
        let from = p.origin_of(field).unwrap_or("(not set: empty/default)");
        let label = if i == 0 {
            bold("process:")
        } else {
            String::new()
        };
        let pad = if i == 0 { "     " } else { "             " };
        writeln!(
            out,
            "{label}{pad}{text:<width$}  {}",
            format!("<- {from}").dimmed()
        )?;
    }
    Ok(())
}

/// `--explain-caller`: the derived section and the caller runc builds from it.
pub fn explain(
    out: &mut dyn Write,
    d: &Descriptor,
    who: &Described,
    path: &Path,
) -> anyhow::Result<()> {
    descriptor_lines(out, d)?;
    writeln!(out, "{}        {}", "file:".bold(), escape_path(path))?;
    if let Some(r) = &d.refusal {
        writeln!(out, "{}      {}", "caller:".bold(), r.message().red())?;
        return Ok(());
    }
    let c = &who.caller;
    writeln!(
        out,
        "{}      uid {} gid {}{}",
        "caller:".bold(),
        c.uid,
        c.gid,
        if c.no_new_privs { ", no_new_privs" } else { "" }
    )?;
    writeln!(
        out,
        "             inheritable {}; permitted {}; effective {}; ambient {}; bounding {}",
        set_text(c.inheritable),
        set_text(c.permitted),
        set_text(c.effective),
        set_text(c.ambient),
        set_text(c.bounding)
    )?;
    Ok(())
}

/// The file whose credentials counted, when it is an interpreter.
fn interpreter<'a>(chain: &'a [Node], p: &Prediction) -> Option<&'a Node> {
    (p.final_node > 0)
        .then(|| chain.get(p.final_node))
        .flatten()
}

/// The program loader (PT_INTERP) of the final program, as the program names it.
fn loader(chain: &[Node], p: &Prediction) -> Option<String> {
    match &chain.get(p.final_node)?.elf {
        model::ElfCheck::Loader(l) => Some(escape_path(&l.path)),
        _ => None,
    }
}

fn to_json(
    args: &VerifyArgs,
    path: &Path,
    chain: &[Node],
    who: &Described,
    desc: Option<&Descriptor>,
    p: &Prediction,
    missing: CapSet,
) -> serde_json::Value {
    let mut v = exec_json(path, chain, p);
    v["image"] = args.image.as_deref().map(escape_path).into();
    v["caller"] = caller_json(who, desc);
    if let Some(r) = args.require {
        v["required"] = r.names().into();
        v["missing"] = missing.names().into();
    }
    v
}

/// What one prediction says, whatever the link: the outcome, the new sets and ids,
/// reasons and hints.
fn prediction_json(p: &Prediction) -> serde_json::Value {
    let reasons: Vec<serde_json::Value> = p
        .reasons
        .iter()
        .map(|r| {
            let mut o = serde_json::json!({ "code": r.code, "message": r.message });
            if let Some(cap) = r.cap {
                o["cap"] = caps::name(cap).into();
            }
            o
        })
        .collect();
    serde_json::json!({
        "exec": p.outcome.code(),
        "errno": match p.outcome { Outcome::Ok => None, Outcome::Fail(e) => Some(crate::error::errno_name(e)), Outcome::Unknown => None },
        "permitted": p.permitted.names(),
        "effective": p.effective.names(),
        "inheritable": p.inheritable.names(),
        "ambient": p.ambient.names(),
        "bounding": p.bounding.names(),
        "uid": p.uid, "euid": p.euid, "gid": p.gid, "egid": p.egid,
        "secure_exec": p.secure_exec,
        "reasons": reasons,
        "hints": p.hints,
    })
}

/// An exec's prediction with the files the kernel opened for it.
fn exec_json(path: &Path, chain: &[Node], p: &Prediction) -> serde_json::Value {
    let mut v = prediction_json(p);
    v["path"] = escape_path(path).into();
    v["file"] = chain[0].shown().into();
    v["symlink_target"] = chain[0].symlink_target().map(|r| escape_path(r)).into();
    v["interpreter"] = interpreter(chain, p).map(Node::shown).into();
    v["chain"] = chain
        .iter()
        .take(p.final_node + 1)
        .map(Node::shown)
        .collect::<Vec<_>>()
        .into();
    v["loader"] = loader(chain, p).into();
    v["file_caps"] = p.file_caps.map(|f| f.to_text()).into();
    v
}

/// The caller's state (and the descriptor it came from).
fn caller_json(who: &Described, desc: Option<&Descriptor>) -> serde_json::Value {
    let c = &who.caller;
    let mut v = serde_json::json!({
        "source": who.source,
        "user": who.user_name,
        "uid": c.uid, "euid": c.euid, "gid": c.gid, "egid": c.egid,
        "groups": c.groups,
        "inheritable": c.inheritable.names(),
        "permitted": c.permitted.names(),
        "effective": c.effective.names(),
        "ambient": c.ambient.names(),
        "bounding": c.bounding.names(),
        "no_new_privs": c.no_new_privs,
        "noroot": c.noroot,
        "untrusted_tracer": c.untrusted_tracer,
        "user_namespace": c.userns.as_ref().map(|ns| serde_json::json!({
            "uid_map": ns.uid_map,
            "gid_map": ns.gid_map,
        })),
        "notes": who.notes,
    });
    if let Some(d) = desc {
        let settings: Vec<serde_json::Value> = d
            .process
            .origins
            .iter()
            .map(|o| serde_json::json!({ "field": o.field, "from": o.from }))
            .collect();
        v["descriptor"] = serde_json::json!({
            "kind": d.kind,
            "file": escape_path(&d.file),
            "process": d.process.to_json(),
            "settings": settings,
            "ignored_capabilities": d.process.ignored,
            "runtime_refuses": d.refusal.as_ref().map(Refusal::message),
        });
    }
    v
}

/// A set for people: `none`, `all`, `all except cap_x`, or the list.
pub fn set_text(s: CapSet) -> String {
    let all = CapSet::all();
    if s.is_empty() {
        "none".to_string()
    } else if s == all {
        "all".to_string()
    } else if (all - s).iter().count() <= 6 && (s - all).is_empty() {
        format!("all except {}", (all - s).names().join(","))
    } else {
        s.names().join(",")
    }
}

#[allow(clippy::too_many_arguments)]
fn human(
    out: &mut dyn Write,
    image: Option<&Path>,
    require: Option<CapSet>,
    path: &Path,
    chain: &[Node],
    who: &Described,
    p: &Prediction,
    missing: CapSet,
) -> anyhow::Result<()> {
    let bold = |s: &str| s.bold().to_string();
    let dim = |s: &str| s.dimmed().to_string();
    let first = &chain[0];
    match first.symlink_target() {
        Some(r) => writeln!(
            out,
            "{}        {} -> {}",
            bold("file:"),
            escape_path(path),
            escape_path(r)
        )?,
        None => writeln!(out, "{}        {}", bold("file:"), escape_path(path))?,
    }
    if let Some(i) = image {
        writeln!(out, "{}       {}", bold("image:"), escape_path(i))?;
    }
    for n in chain.iter().take(p.final_node + 1).skip(1) {
        let target = n
            .symlink_target()
            .map(|r| format!(" -> {}", escape_path(r)))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {}{target}",
            bold("interpreter:"),
            escape_path(&n.path)
        )?;
    }
    if let Some(f) = p.file_caps {
        let of = if p.final_node > 0 {
            " (the interpreter's)"
        } else {
            ""
        };
        writeln!(out, "{}   {}{of}", bold("file caps:"), f.to_text())?;
    }
    let c = &who.caller;
    let mut flags = Vec::new();
    if c.no_new_privs {
        flags.push("no_new_privs");
    }
    if c.noroot {
        flags.push("SECBIT_NOROOT");
    }
    if c.untrusted_tracer {
        flags.push("traced");
    }
    let ids = if c.uid == c.euid && c.gid == c.egid {
        format!("uid {} gid {}", c.uid, c.gid)
    } else {
        format!(
            "uid {} euid {} gid {} egid {}",
            c.uid, c.euid, c.gid, c.egid
        )
    };
    writeln!(
        out,
        "{}      {}: {ids}{}",
        bold("caller:"),
        who.source,
        if flags.is_empty() {
            String::new()
        } else {
            format!(", {}", flags.join(", "))
        }
    )?;
    caller_sets(out, c)?;
    for n in &who.notes {
        writeln!(out, "             {}", dim(&format!("note: {n}")))?;
    }
    match p.outcome {
        Outcome::Ok => {
            let ok = "succeeds";
            writeln!(out, "{}        {}", bold("exec:"), ok.green().bold())?;
            let sets = [
                ("permitted:", p.permitted),
                ("effective:", p.effective),
                ("inheritable:", p.inheritable),
                ("ambient:", p.ambient),
            ];
            for (label, s) in sets {
                writeln!(out, "{}{}", bold(&format!("{label:<13}")), set_text(s))?;
            }
            if p.euid != c.euid || p.egid != c.egid {
                writeln!(
                    out,
                    "{}          uid {} euid {} gid {} egid {}",
                    bold("ids:"),
                    p.uid,
                    p.euid,
                    p.gid,
                    p.egid
                )?;
            }
            writeln!(
                out,
                "{} {}",
                bold("secure exec:"),
                if p.secure_exec {
                    "yes (AT_SECURE)"
                } else {
                    "no"
                }
            )?;
        }
        Outcome::Fail(e) => {
            let msg = format!(
                "fails with {} ({})",
                crate::error::errno_name(e),
                crate::error::strerror(&std::io::Error::from_raw_os_error(e))
            );
            writeln!(out, "{}        {}", bold("exec:"), msg.red().bold())?;
        }
        Outcome::Unknown => {
            let msg = "unknown: fcap cannot see what decides it (see why)";
            writeln!(out, "{}        {}", bold("exec:"), msg.yellow().bold())?;
        }
    }
    if let Some(r) = require {
        if missing.is_empty() {
            writeln!(
                out,
                "{}     met ({})",
                bold("require:"),
                r.names().join(",")
            )?;
        } else {
            let msg = format!("NOT met: {} not effective", missing.names().join(","));
            writeln!(out, "{}     {}", bold("require:"), msg.red())?;
        }
    }
    if !p.reasons.is_empty() {
        writeln!(out, "\n{}", bold("why:"))?;
        for r in &p.reasons {
            writeln!(out, "  - {} {}", r.message, dim(&format!("[{}]", r.code)))?;
        }
    }
    if !p.hints.is_empty() {
        writeln!(out, "\n{}", bold("hints:"))?;
        for h in &p.hints {
            writeln!(out, "  - {h}")?;
        }
    }
    Ok(())
}

/// What a link changed in the process: the sets and ids that differ from its
/// caller's.
fn changes(c: &model::Caller, p: &Prediction) -> Vec<String> {
    if p.outcome != Outcome::Ok {
        return Vec::new();
    }
    let mut v = Vec::new();
    for (name, before, after) in [
        ("permitted", c.permitted, p.permitted),
        ("effective", c.effective, p.effective),
        ("inheritable", c.inheritable, p.inheritable),
        ("ambient", c.ambient, p.ambient),
        ("bounding", c.bounding, p.bounding),
    ] {
        let mut d: Vec<String> = (before - after)
            .names()
            .iter()
            .map(|n| format!("-{n}"))
            .collect();
        d.extend((after - before).names().iter().map(|n| format!("+{n}")));
        if d.len() > 4 {
            // Root's whole set coming or going: the two ends say it better.
            v.push(format!(
                "{name} {} -> {}",
                set_text(before),
                set_text(after)
            ));
        } else if !d.is_empty() {
            v.push(format!("{name} {}", d.join(",")));
        }
    }
    for (name, before, after) in [
        ("uid", c.uid, p.uid),
        ("euid", c.euid, p.euid),
        ("gid", c.gid, p.gid),
        ("egid", c.egid, p.egid),
    ] {
        if before != after {
            v.push(format!("{name} {before} -> {after}"));
        }
    }
    v
}

/// A chain's steps as JSON: each with the fields of a single prediction, and what
/// the link was.
fn step_json(i: usize, s: &Step, who: &Described, desc: Option<&Descriptor>) -> serde_json::Value {
    let mut v = match &s.link {
        Resolved::Exec { path, nodes } => exec_json(path, nodes, &s.prediction),
        _ => prediction_json(&s.prediction),
    };
    v["link"] = match &s.link {
        Resolved::Exec { .. } => "exec",
        Resolved::User { .. } => "user",
        Resolved::Fork => "fork",
    }
    .into();
    if let Resolved::User { spec, user } = &s.link {
        v["user"] = serde_json::json!({
            "spec": spec,
            "name": user.name,
            "uid": user.uid,
            "gid": user.gid,
            "groups": user.groups,
        });
    }
    v["caller"] = if i == 0 {
        caller_json(who, desc)
    } else {
        caller_json(&step_caller(i, s), None)
    };
    v["changed"] = changes(&s.caller, &s.prediction).into();
    v
}

/// The caller of a later link, described.
fn step_caller(i: usize, s: &Step) -> Described {
    Described {
        caller: s.caller.clone(),
        source: format!("the process link {i} left"),
        user_name: crate::users::user_name(s.caller.uid),
        notes: Vec::new(),
    }
}

/// How to show a chain: what `fcap verify` and `fcap run --explain` set.
pub struct View<'a> {
    pub json: bool,
    pub image: Option<&'a Path>,
    /// The capabilities the last program must hold effective (or, with `ambient`,
    /// in its ambient set).
    pub require: Option<CapSet>,
    pub ambient: bool,
}

/// The answer for a chain: JSON with `steps[]`, or one block per link, then the
/// verdict at the last link and the fixes.
#[allow(clippy::too_many_arguments)]
pub fn print_chain(
    out: &mut dyn Write,
    args: &View,
    desc: Option<&Descriptor>,
    who: &Described,
    steps: &[Step],
    links: usize,
    missing: CapSet,
    fixes: &[(Tweak, String)],
    hints: &[String],
) -> anyhow::Result<()> {
    let last = steps.last().map(|s| &s.prediction);
    let reached = steps.len() == links;
    let lost: Vec<(u32, Option<(usize, model::Reason)>)> = missing
        .iter()
        .map(|cap| (cap, chain::lost_at(steps, cap, args.ambient)))
        .collect();
    if args.json {
        let mut v = match last {
            Some(p) => prediction_json(p),
            None => serde_json::json!({}),
        };
        v["image"] = args.image.map(escape_path).into();
        v["links"] = links.into();
        v["complete"] = reached.into();
        v["steps"] = steps
            .iter()
            .enumerate()
            .map(|(i, s)| step_json(i, s, who, desc))
            .collect::<Vec<_>>()
            .into();
        v["hints"] = hints.into();
        if let Some(r) = args.require {
            v["required"] = r.names().into();
            v["missing"] = missing.names().into();
            v["lost"] = lost
                .iter()
                .map(|(cap, at)| match at {
                    Some((i, r)) => serde_json::json!({
                        "cap": caps::name(*cap), "step": i, "code": r.code, "message": r.message,
                    }),
                    None => serde_json::json!({ "cap": caps::name(*cap), "step": null }),
                })
                .collect::<Vec<_>>()
                .into();
            if desc.is_some() {
                v["fixes"] = fixes_json(fixes);
            }
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let bold = |s: &str| s.bold().to_string();
    if let Some(d) = desc {
        descriptor_lines(out, d)?;
    }
    for (i, s) in steps.iter().enumerate() {
        let what = match &s.link {
            Resolved::Exec { path, .. } => format!("exec {}", escape_path(path)),
            Resolved::User { spec, user } => format!(
                "switch to user {spec} (uid {} gid {}) in user space",
                user.uid, user.gid
            ),
            Resolved::Fork => "fork".to_string(),
        };
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", bold(&format!("── link {}: {what}", i + 1)))?;
        let w = if i == 0 {
            who.clone()
        } else {
            step_caller(i, s)
        };
        match &s.link {
            Resolved::Exec { path, nodes } => {
                // A link's own hints are about that file alone; the chain's fixes
                // below replace them, except at the last link.
                let mut p = s.prediction.clone();
                if i + 1 < steps.len() {
                    p.hints.clear();
                }
                human(
                    out,
                    (i == 0).then_some(args.image).flatten(),
                    None,
                    path,
                    nodes,
                    &w,
                    &p,
                    CapSet::EMPTY,
                )?
            }
            _ => switch_lines(out, &w, &s.prediction)?,
        }
        let changed = changes(&s.caller, &s.prediction);
        if !changed.is_empty() {
            writeln!(
                out,
                "{}",
                format!("changed: {}", changed.join("; ")).dimmed()
            )?;
        }
    }
    if !reached {
        writeln!(
            out,
            "\n{} link {} fails: the {} after it never run",
            bold("chain:"),
            steps.len(),
            if links - steps.len() == 1 {
                "link".to_string()
            } else {
                format!("{} links", links - steps.len())
            }
        )?;
    }
    if let Some(r) = args.require {
        writeln!(out)?;
        if missing.is_empty() {
            writeln!(
                out,
                "{}     met at the last link ({})",
                bold("require:"),
                r.names().join(",")
            )?;
        } else {
            let msg = format!(
                "NOT met: {} not {} the last program",
                missing.names().join(","),
                if args.ambient {
                    "in the ambient set of"
                } else {
                    "effective in"
                }
            );
            writeln!(out, "{}     {}", bold("require:"), msg.red())?;
            for (cap, at) in &lost {
                let line = match at {
                    Some((i, r)) => format!(
                        "{} leaves at link {}: {} [{}]",
                        caps::name(*cap),
                        i + 1,
                        r.message,
                        r.code
                    ),
                    None => format!(
                        "{}: no link of the chain ends up holding it",
                        caps::name(*cap)
                    ),
                };
                writeln!(out, "  - {line}")?;
            }
        }
    }
    if !fixes.is_empty() || !hints.is_empty() {
        writeln!(out, "\n{}", bold("fix (each re-verified over the chain):"))?;
        let all = fixes.iter().map(|(_, t)| t).chain(hints.iter());
        for (i, text) in all.enumerate() {
            let or = if i == 0 { "" } else { "or " };
            writeln!(out, "  - {or}{text}")?;
        }
    }
    Ok(())
}

/// A user switch or a fork: who did it, and what the process holds after it.
fn switch_lines(out: &mut dyn Write, who: &Described, p: &Prediction) -> anyhow::Result<()> {
    let bold = |s: &str| s.bold().to_string();
    let c = &who.caller;
    writeln!(
        out,
        "{}      {}: uid {} gid {}{}",
        bold("caller:"),
        who.source,
        c.uid,
        c.gid,
        if c.no_new_privs { ", no_new_privs" } else { "" }
    )?;
    caller_sets(out, c)?;
    match p.outcome {
        Outcome::Ok => {
            writeln!(
                out,
                "{}      {}",
                bold("result:"),
                "succeeds".green().bold()
            )?;
            for (label, s) in [
                ("permitted:", p.permitted),
                ("effective:", p.effective),
                ("inheritable:", p.inheritable),
                ("ambient:", p.ambient),
            ] {
                writeln!(out, "{}{}", bold(&format!("{label:<13}")), set_text(s))?;
            }
        }
        _ => writeln!(
            out,
            "{}      {}",
            bold("result:"),
            "fails with EPERM".red().bold()
        )?,
    }
    writeln!(out, "{}", bold("why:"))?;
    for r in &p.reasons {
        writeln!(
            out,
            "  - {} {}",
            r.message,
            format!("[{}]", r.code).dimmed()
        )?;
    }
    Ok(())
}

/// A descriptor's re-verified fixes as `--json` lists them (one prediction or a chain).
fn fixes_json(fixes: &[(Tweak, String)]) -> serde_json::Value {
    fixes
        .iter()
        .map(|(t, text)| {
            serde_json::json!({
                "change": text,
                "add": t.add.names(),
                "allow_new_privileges": t.no_nnp,
            })
        })
        .collect::<Vec<_>>()
        .into()
}

/// The caller's four sets, the line under `caller:` (one prediction or a chain link).
fn caller_sets(out: &mut dyn Write, c: &model::Caller) -> std::io::Result<()> {
    writeln!(
        out,
        "             inheritable {}; permitted {}; ambient {}; bounding {}",
        set_text(c.inheritable),
        set_text(c.permitted),
        set_text(c.ambient),
        set_text(c.bounding)
    )
}
