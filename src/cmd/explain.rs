//! `fcap explain CAP`: what one capability permits, how dangerous it is to hand out,
//! and what this machine says about it (kernel support, bounding set, and for
//! `cap_net_bind_service` the live `net.ipv4.ip_unprivileged_port_start`).

use crate::caps;
use crate::catalogue::{self, Danger};
use crate::error::Exit;
use colored::Colorize;
use std::io::Write;

/// Explain what one capability allows and how dangerous it is.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Explain what one capability allows and how dangerous it is.\n\n\
Prints what the kernel lets a holder of the capability do, its danger level \
(root-equivalent, high, moderate, low), notes on alternatives and pitfalls, and whether \
the running kernel supports it and this process's bounding set contains it. For \
cap_net_bind_service it also reads net.ipv4.ip_unprivileged_port_start, which decides \
which ports need the capability.",
    after_help = "CAP may be written cap_net_raw, CAP_NET_RAW, net_raw or as a number (13, 0xd)."
)]
pub struct ExplainArgs {
    /// The capability: a name in any spelling, or a number.
    #[arg(value_name = "CAP")]
    pub cap: String,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `explain` says about one capability, gathered once for both outputs.
struct Explanation {
    number: u32,
    name: String,
    summary: &'static str,
    danger: Option<Danger>,
    permits: String,
    notes: Vec<String>,
    kernel: bool,
    bounding: bool,
    port_start: Option<Option<u32>>,
}

fn explain(n: u32) -> anyhow::Result<Explanation> {
    let (kernel, bounding) = caps::support(n);
    let (permits, mut notes) = match catalogue::detail(n) {
        Some(d) => (
            d.permits.to_string(),
            d.notes.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(),
        ),
        None if kernel => (
            "fcap has no description of this capability, which is newer than fcap's table; the running kernel knows it. See capabilities(7) for your kernel.".to_string(),
            Vec::new(),
        ),
        None => anyhow::bail!(
            "unknown capability '{n}': neither fcap nor the running kernel (which knows {} capabilities) has it",
            caps::kernel_cap_count()
        ),
    };
    let port_start = (n == caps::CAP_NET_BIND_SERVICE).then(catalogue::unprivileged_port_start);
    if let Some(p) = port_start {
        notes.push(catalogue::port_note(p));
    }
    Ok(Explanation {
        number: n,
        name: caps::name(n),
        summary: caps::summary(n),
        danger: catalogue::danger(n),
        permits,
        notes,
        kernel,
        bounding,
        port_start,
    })
}

/// Run `fcap explain`.
pub fn run(args: &ExplainArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let n = caps::lookup(&args.cap)?;
    let e = explain(n)?;
    if args.json {
        let mut v = serde_json::json!({
            "number": e.number,
            "name": e.name,
            "summary": e.summary,
            "danger": e.danger.map(|d| d.as_str()),
            "permits": e.permits,
            "notes": e.notes,
            "kernel": e.kernel,
            "bounding": e.bounding,
        });
        if let (Some(p), Some(obj)) = (e.port_start, v.as_object_mut()) {
            obj.insert("unprivileged_port_start".into(), serde_json::json!(p));
        }
        writeln!(out, "{v}")?;
        return Ok(Exit::Success);
    }
    let title = format!("{} ({})", e.name, e.number);
    let head = format!("{}: {}", title.bold(), e.summary);
    wrap_into(out, "", &head, "  ")?;
    let danger = match e.danger {
        Some(d) => {
            let label = match d {
                Danger::RootEquivalent => d.as_str().red().bold().to_string(),
                Danger::High => d.as_str().yellow().bold().to_string(),
                _ => d.as_str().to_string(),
            };
            format!("{label} ({})", d.meaning())
        }
        None => "unknown".to_string(),
    };
    wrap_into(out, "Danger: ", &danger, "        ")?;
    let kernel = match (e.kernel, e.bounding) {
        (true, true) => "supported by the running kernel; in this process's bounding set".to_string(),
        (true, false) => "supported by the running kernel; NOT in this process's bounding set, so nothing started from here can gain it".to_string(),
        (false, _) => format!(
            "not supported by the running kernel (it knows {} capabilities)",
            caps::kernel_cap_count()
        ),
    };
    wrap_into(out, "Kernel: ", &kernel, "        ")?;
    writeln!(out)?;
    writeln!(out, "{}", "What it permits:".bold())?;
    wrap_into(out, "  ", &e.permits, "  ")?;
    if !e.notes.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", "Notes:".bold())?;
        for note in &e.notes {
            wrap_into(out, "  - ", note, "    ")?;
        }
    }
    Ok(Exit::Success)
}

/// Width the text is wrapped to: readable in a default 80-column terminal.
const WIDTH: usize = 80;

/// Write `text` word-wrapped: the first line after `first`, the rest after `rest`.
/// Widths count characters of the unstyled text, so a coloured word may make its line
/// a little shorter than it could be, never longer.
fn wrap_into(out: &mut dyn Write, first: &str, text: &str, rest: &str) -> std::io::Result<()> {
    let mut line = first.to_string();
    let mut len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let wlen = visible_len(word);
        if !empty && len + 1 + wlen > WIDTH {
            writeln!(out, "{line}")?;
            line = rest.to_string();
            len = rest.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += wlen;
        empty = false;
    }
    writeln!(out, "{line}")
}

/// Characters of `s` a terminal shows: ANSI colour sequences (`ESC [ ... m`) take no room.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let text = "word ".repeat(60);
        let mut out = Vec::new();
        wrap_into(&mut out, "  - ", &text, "    ").unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.lines().count() > 2);
        for l in s.lines() {
            assert!(l.len() <= WIDTH, "{l:?}");
            assert!(l.starts_with("  - ") || l.starts_with("    "));
        }
        assert_eq!(s.split_whitespace().filter(|w| *w == "word").count(), 60);
    }

    #[test]
    fn escapes_take_no_room() {
        assert_eq!(visible_len("\u{1b}[1;31mroot\u{1b}[0m"), 4);
    }
}
