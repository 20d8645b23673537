//! `fcap audit`'s output formats: the human view, JSON Lines, SARIF 2.1.0 (as
//! GitHub code scanning ingests it), GitLab Code Quality and JUnit XML.

use super::{Finding, RULES, Severity};
use colored::Colorize;
use sha2::{Digest, Sha256};
use std::io::Write;

/// What was audited, for the formats that name it.
pub struct Target {
    /// The image as given, when auditing one.
    pub image: Option<String>,
    /// Each layer's digest, by index: a file's place names the layer that wrote
    /// it (as Grype does), which stays the same while that layer does.
    pub layers: Vec<Option<String>>,
    /// The paths walked.
    pub roots: Vec<String>,
    /// The profile, when one was given.
    pub profile: Option<String>,
}

impl Target {
    /// The finding's place as one string: `/path` on a host, `IMAGE@DIGEST:/path`
    /// in an image.
    pub fn logical(&self, f: &Finding) -> String {
        let p = super::shown(&f.path);
        let digest = f.layer.and_then(|i| self.layers.get(i).cloned().flatten());
        match (&self.image, digest) {
            (Some(i), Some(d)) => format!("{i}@{d}:{p}"),
            (Some(i), None) => format!("{i}:{p}"),
            _ => p,
        }
    }

    /// A relative URI: the path without its leading '/', under the image's name
    /// (with ':' and '@' replaced, which GitHub rejects in a URI) for an image.
    fn uri(&self, f: &Finding) -> String {
        let p = super::shown(&f.path);
        let rel = p.trim_start_matches('/');
        let enc: String = rel
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        match &self.image {
            Some(i) => {
                let name: String = i
                    .rsplit('/')
                    .next()
                    .unwrap_or(i)
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-._".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("{name}/{enc}")
            }
            None => enc,
        }
    }
}

/// A fingerprint that survives a re-scan: the rule and the path (and the image's
/// name, not its digest, which changes with every build).
fn fingerprint(t: &Target, f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(f.rule.as_bytes());
    h.update([0]);
    h.update(t.image.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(super::shown(&f.path).as_bytes());
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The human view: findings grouped by severity, one line per file and rule.
pub fn human(
    out: &mut dyn Write,
    findings: &[Finding],
    show_suppressed: bool,
    files: usize,
) -> anyhow::Result<()> {
    for sev in [Severity::Error, Severity::Warning, Severity::Note] {
        let these: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity == sev && f.suppressed.is_none())
            .collect();
        if these.is_empty() {
            continue;
        }
        let head = format!("{} ({})", sev.as_str(), these.len());
        let head = match sev {
            Severity::Error => head.red().bold(),
            Severity::Warning => head.yellow().bold(),
            Severity::Note => head.cyan().bold(),
        };
        writeln!(out, "{head}")?;
        for f in these {
            writeln!(
                out,
                "  {} {}  {}",
                f.rule.bold(),
                super::shown(&f.path),
                f.message
            )?;
        }
    }
    let suppressed: Vec<&Finding> = findings.iter().filter(|f| f.suppressed.is_some()).collect();
    if show_suppressed && !suppressed.is_empty() {
        writeln!(
            out,
            "{}",
            format!("suppressed ({})", suppressed.len()).dimmed()
        )?;
        for f in &suppressed {
            writeln!(
                out,
                "  {} {} [{}]  {}",
                f.rule,
                super::shown(&f.path),
                f.severity.as_str(),
                format!("reason: {}", f.suppressed.as_deref().unwrap_or("")).dimmed()
            )?;
        }
    }
    let count = |s: Severity| {
        findings
            .iter()
            .filter(|f| f.severity == s && f.suppressed.is_none())
            .count()
    };
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut tail = format!(
        "{}, {}, {} in {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note"),
        plural(files, "privileged file")
    );
    if !suppressed.is_empty() {
        tail += &format!(
            " ({} suppressed by exceptions{})",
            suppressed.len(),
            if show_suppressed {
                ""
            } else {
                "; --show-suppressed lists them"
            }
        );
    }
    writeln!(out, "{}", tail.dimmed())?;
    Ok(())
}

/// One JSON Lines record.
pub fn json(t: &Target, f: &Finding) -> serde_json::Value {
    let mut v = serde_json::json!({
        "rule": f.rule,
        "name": super::rule_of(f.rule).map(|r| r.name),
        "path": super::shown(&f.path),
        "severity": f.severity.as_str(),
        "message": f.message,
        "caps": f.caps,
        "mode": f.meta.map(|m| format!("{:04o}", m.mode & 0o7777)),
        "uid": f.meta.map(|m| m.uid),
        "gid": f.meta.map(|m| m.gid),
        "suppressed": f.suppressed.is_some(),
    });
    if let Some(r) = &f.suppressed {
        v["reason"] = r.clone().into();
    }
    if t.image.is_some() {
        v["image"] = t.image.clone().into();
        v["digest"] = f
            .layer
            .and_then(|i| t.layers.get(i).cloned().flatten())
            .into();
        v["layer"] = f.layer.into();
        v["location"] = t.logical(f).into();
    }
    v
}

fn level(s: Severity) -> &'static str {
    s.as_str()
}

/// SARIF 2.1.0: one run, every rule described, one result per finding with one
/// location.
pub fn sarif(t: &Target, findings: &[Finding]) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": { "text": r.short },
                "fullDescription": { "text": r.full },
                "help": {
                    "text": format!("{} Fix: {}", r.full, r.help),
                    "markdown": format!("{}\n\n**Fix:** {}", r.full, r.help),
                },
                "defaultConfiguration": { "level": level(r.level) },
                "properties": {
                    "security-severity": r.security,
                    "precision": "very-high",
                    "tags": ["security", "capabilities"],
                },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
            let mut v = serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{}: {}", super::shown(&f.path), f.message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": t.uri(f) },
                        "region": { "startLine": 1 },
                    },
                    "logicalLocations": [{
                        "fullyQualifiedName": t.logical(f),
                        "kind": "resource",
                    }],
                }],
                "partialFingerprints": { "primaryLocationLineHash": fingerprint(t, f) },
            });
            if let Some(r) = &f.suppressed {
                v["suppressions"] = serde_json::json!([{ "kind": "external", "justification": r }]);
            }
            v
        })
        .collect();
    // The run's category: one per image or per set of host paths, so that audits of
    // two images uploaded for one commit do not replace each other's alerts.
    let what = match &t.image {
        Some(i) => format!("image/{i}"),
        None => format!("host{}", t.roots.join(",")),
    };
    let mut run = serde_json::json!({
        "tool": { "driver": {
            "name": "fcap",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "automationDetails": { "id": format!("fcap-audit/{}/", what.trim_end_matches('/')) },
        "results": results,
        "columnKind": "unicodeCodePoints",
    });
    if t.image.is_some() || t.profile.is_some() {
        run["properties"] = serde_json::json!({
            "image": t.image,
            "profile": t.profile,
        });
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// GitLab Code Quality: an array of issues.
pub fn gitlab(t: &Target, findings: &[Finding]) -> serde_json::Value {
    let issues: Vec<serde_json::Value> = findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .map(|f| {
            serde_json::json!({
                "description": format!("{} {}: {}", f.rule, t.logical(f), f.message),
                "check_name": f.rule,
                "fingerprint": fingerprint(t, f),
                "severity": match f.severity {
                    Severity::Error => "critical",
                    Severity::Warning => "major",
                    Severity::Note => "info",
                },
                "type": "issue",
                "categories": ["Security"],
                "location": { "path": t.uri(f), "lines": { "begin": 1 } },
            })
        })
        .collect();
    serde_json::Value::Array(issues)
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 allows no other control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one test case per finding (failed when it is at or above the
/// `--fail-on` level, skipped when suppressed), or one passing case when clean.
pub fn junit(
    out: &mut dyn Write,
    t: &Target,
    findings: &[Finding],
    fail_on: Option<Severity>,
) -> anyhow::Result<()> {
    let fails = |f: &Finding| f.suppressed.is_none() && fail_on.is_some_and(|l| f.severity >= l);
    let failures = findings.iter().filter(|f| fails(f)).count();
    let skipped = findings.iter().filter(|f| f.suppressed.is_some()).count();
    let tests = findings.len().max(1);
    let name = xml(&t.image.clone().unwrap_or_else(|| t.roots.join(" ")));
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="fcap audit" tests="{tests}" failures="{failures}" skipped="{skipped}">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{name}" tests="{tests}" failures="{failures}" skipped="{skipped}" errors="0">"#
    )?;
    if findings.is_empty() {
        writeln!(
            out,
            r#"    <testcase classname="fcap.audit" name="no privileged file breaks a rule"/>"#
        )?;
    }
    for f in findings {
        let case = format!(
            r#"    <testcase classname="{}" name="[{}] {}""#,
            xml(&t.logical(f)),
            f.severity.as_str().to_uppercase(),
            f.rule
        );
        let msg = xml(&f.message);
        if fails(f) {
            writeln!(out, "{case}>")?;
            writeln!(
                out,
                r#"      <failure message="{msg}" type="{}">{}</failure>"#,
                f.rule,
                xml(&t.logical(f))
            )?;
            writeln!(out, "    </testcase>")?;
        } else if let Some(r) = &f.suppressed {
            writeln!(out, "{case}>")?;
            writeln!(out, r#"      <skipped message="{}"/>"#, xml(r))?;
            writeln!(out, "    </testcase>")?;
        } else {
            writeln!(out, "{case}>")?;
            writeln!(out, "      <system-out>{msg}</system-out>")?;
            writeln!(out, "    </testcase>")?;
        }
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")?;
    Ok(())
}
