//! `fcap list`: every capability the tool or the running kernel knows, with what it
//! allows, how dangerous it is, and whether this machine can hand it out at all.
//!
//! The rows are 0..=40 (libcap's table) plus any higher number the running kernel
//! reports through `cap_last_cap`, printed as a number. "kernel" says whether the
//! running kernel knows the capability; "bounding" whether it is in this process's
//! bounding set: a capability outside the bounding set can never be gained at exec,
//! whatever a file carries (capabilities(7), "Capability bounding set").

use crate::caps;
use crate::catalogue;
use crate::error::Exit;
use colored::Colorize;
use std::io::Write;

/// List every capability with what it allows.
#[derive(Debug, clap::Args)]
#[command(long_about = "List every capability with what it allows.\n\n\
Shows capabilities 0..40 and any higher number the running kernel knows, with the \
danger level of granting it, whether the running kernel supports it (KERNEL) and whether \
it is in this process's bounding set (BOUND). A capability outside the bounding set \
cannot be gained by executing a file, whatever the file carries.")]
pub struct ListArgs {
    /// Print JSON Lines: one object per capability (number, name, summary, danger,
    /// kernel, bounding).
    #[arg(long)]
    pub json: bool,
}

/// One row of the table.
struct Row {
    number: u32,
    name: String,
    summary: &'static str,
    danger: Option<catalogue::Danger>,
    kernel: bool,
    bounding: bool,
}

fn rows() -> Vec<Row> {
    let count = caps::kernel_cap_count().max(caps::NAMES.len() as u32);
    (0..count)
        .map(|n| {
            let (kernel, bounding) = caps::support(n);
            Row {
                number: n,
                name: caps::name(n),
                summary: caps::summary(n),
                danger: catalogue::danger(n),
                kernel,
                bounding,
            }
        })
        .collect()
}

/// Run `fcap list`.
pub fn run(args: &ListArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let rows = rows();
    if args.json {
        for r in &rows {
            let v = serde_json::json!({
                "number": r.number,
                "name": r.name,
                "summary": r.summary,
                "danger": r.danger.map(|d| d.as_str()),
                "kernel": r.kernel,
                "bounding": r.bounding,
            });
            writeln!(out, "{v}")?;
        }
        return Ok(Exit::Success);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4);
    let header = format!(
        "{:>3}  {:width$}  {:15}  {:6}  {:5}  DESCRIPTION",
        "NUM", "NAME", "DANGER", "KERNEL", "BOUND"
    );
    writeln!(out, "{}", header.bold())?;
    for r in &rows {
        let danger = format!("{:15}", r.danger.map_or("unknown", |d| d.as_str()));
        let danger = match r.danger {
            Some(catalogue::Danger::RootEquivalent) => danger.red().bold().to_string(),
            Some(catalogue::Danger::High) => danger.yellow().to_string(),
            _ => danger,
        };
        let yes_no = |b: bool, w: usize| {
            let s = format!("{:w$}", if b { "yes" } else { "no" });
            if b { s } else { s.dimmed().to_string() }
        };
        writeln!(
            out,
            "{:>3}  {:width$}  {}  {}  {}  {}",
            r.number,
            r.name,
            danger,
            yes_no(r.kernel, 6),
            yes_no(r.bounding, 5),
            r.summary
        )?;
    }
    Ok(Exit::Success)
}
