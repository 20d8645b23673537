//! YAML documents as a small tree that keeps each node's line, for descriptors
//! (Kubernetes manifests, Compose files) whose settings must be traced back to the
//! line that made them.
//!
//! The parser is saphyr (YAML 1.2, pure Rust, the maintained successor of
//! yaml-rust/yaml-rust2): serde-based YAML crates give values without positions.
//! saphyr resolves an alias by copying its anchor's nodes, within a budget of 100,000
//! copied nodes for the whole file, so a crafted file is an error, not a memory blow-up.
//!
//! Merge keys (`<<: *anchor`, or a list of anchors) are YAML 1.1, which the Go tools
//! that read descriptors implement and saphyr does not: they are expanded here, the way
//! [`Merge`] says.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

/// A node and the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; non-scalar keys are dropped.
    Map(Vec<(String, Node)>),
    /// An alias or a value the parser could not resolve.
    Other,
}

/// Nesting deeper than this is refused rather than walked.
const MAX_DEPTH: usize = 64;

/// Whose reading of merge keys to follow. Both copy a merged mapping's keys
/// shallowly (a merged list is replaced, never appended to), and in a list of
/// mappings the earlier one wins; they differ when a key of the mapping itself comes
/// before the `<<`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// go-yaml v2, which kubectl reads manifests with (sigs.k8s.io/yaml): keys apply
    /// in document order, so a merge overrides the keys written before it and is
    /// overridden by those after it.
    V2,
    /// go-yaml v3 and later, which Compose reads files with (compose-go): the
    /// mapping's own keys win wherever they are written.
    V3,
}

/// Every document of a YAML stream, merge keys expanded as `merge` says.
pub fn load(text: &str, merge: Merge) -> anyhow::Result<Vec<Node>> {
    let docs = MarkedYaml::load_from_str(text)
        .map_err(|e| anyhow::anyhow!("line {}: not YAML: {}", e.marker().line(), e.info()))?;
    docs.iter().map(|d| convert(d, 0, merge)).collect()
}

/// Set `key` in a mapping under construction, replacing an earlier value.
fn set(map: &mut Vec<(String, Node)>, key: String, value: Node) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => map.push((key, value)),
    }
}

/// The mappings a merge key's value names, in the order written.
fn merge_sources(v: Node) -> anyhow::Result<Vec<Vec<(String, Node)>>> {
    let wrong = |n: &Node| {
        anyhow::anyhow!(
            "line {}: a merge key (<<) takes a mapping or a list of mappings, found {}",
            n.line,
            n.kind()
        )
    };
    match v.value {
        Value::Map(m) => Ok(vec![m]),
        Value::Seq(items) => items
            .into_iter()
            .map(|i| match i.value {
                Value::Map(m) => Ok(m),
                _ => Err(wrong(&i)),
            })
            .collect(),
        _ => Err(wrong(&v)),
    }
}

fn scalar(s: &Scalar) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Int(*i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(s) => Value::Str(s.to_string()),
    }
}

fn key_text(n: &MarkedYaml) -> Option<String> {
    match &n.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Representation(s, _, _) => Some(s.to_string()),
        _ => None,
    }
}

fn convert(n: &MarkedYaml, depth: usize, merge: Merge) -> anyhow::Result<Node> {
    let line = n.span.start.line();
    anyhow::ensure!(
        depth < MAX_DEPTH,
        "line {line}: nested more than {MAX_DEPTH} levels deep"
    );
    let value = match &n.data {
        YamlData::Value(s) => scalar(s),
        YamlData::Representation(s, _, _) => Value::Str(s.to_string()),
        YamlData::Sequence(items) => Value::Seq(
            items
                .iter()
                .map(|i| convert(i, depth + 1, merge))
                .collect::<anyhow::Result<_>>()?,
        ),
        YamlData::Mapping(m) => {
            let mut out = Vec::new();
            let mut merged = Vec::new();
            for (k, v) in m {
                let Some(k) = key_text(k) else { continue };
                let v = convert(v, depth + 1, merge)?;
                if k != "<<" {
                    set(&mut out, k, v);
                    continue;
                }
                let sources = merge_sources(v)?;
                match merge {
                    // Written over what is there, the last source first so that the
                    // earlier ones win.
                    Merge::V2 => {
                        for (k, v) in sources.into_iter().rev().flatten() {
                            set(&mut out, k, v);
                        }
                    }
                    Merge::V3 => merged.extend(sources),
                }
            }
            // Only the keys nobody set yet, the earlier sources first.
            for (k, v) in merged.into_iter().flatten() {
                if !out.iter().any(|(have, _)| *have == k) {
                    out.push((k, v));
                }
            }
            Value::Map(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, depth + 1, merge),
        _ => Value::Other,
    };
    Ok(Node { line, value })
}

impl Node {
    /// The child under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Other => "an alias",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        self.value == Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_documents_are_kept() {
        let docs = load("a: 1\n---\nb:\n  c: [x, 2]\n  d: true\n", Merge::V3).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("a").unwrap().value, Value::Int(1));
        let b = docs[1].get("b").unwrap();
        assert_eq!(b.get("c").unwrap().line, 4);
        assert_eq!(b.get("d").unwrap().value, Value::Bool(true));
        assert_eq!(b.get("c").unwrap().as_seq().unwrap()[0].as_str(), Some("x"));
    }

    #[test]
    fn bad_and_hostile_input_is_an_error() {
        assert!(
            load("a: [1, 2\n", Merge::V2)
                .unwrap_err()
                .to_string()
                .starts_with("line ")
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(load(&deep, Merge::V2).is_err());
        // Aliases are copied within a budget: a "billion laughs" file is an error.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            bomb += &format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", "));
        }
        assert!(load(&bomb, Merge::V3).is_err());
        let e = load("a: &a [1]\nb:\n  <<: *a\n", Merge::V3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: a merge key (<<) takes a mapping or a list of mappings, found a number"
        );
    }

    #[test]
    fn merge_keys_follow_go_yaml() {
        let text = "base: &base {a: 1, b: 1, l: [x]}\nmore: &more {b: 2, c: 2}\n\
                    one:\n  <<: *base\n  a: 9\n\
                    list:\n  <<: [*base, *more]\n\
                    before:\n  a: 9\n  <<: *base\n\
                    nested:\n  <<: {<<: *more, c: 3}\n  l: [y]\n";
        let get = |docs: &[Node], m: &str, k: &str| {
            docs[0]
                .get(m)
                .and_then(|n| n.get(k))
                .map(|n| n.value.clone())
        };
        for merge in [Merge::V2, Merge::V3] {
            let d = load(text, merge).unwrap();
            assert_eq!(get(&d, "one", "a"), Some(Value::Int(9)), "a later key wins");
            assert_eq!(get(&d, "one", "b"), Some(Value::Int(1)));
            assert!(get(&d, "one", "<<").is_none());
            assert_eq!(
                get(&d, "list", "b"),
                Some(Value::Int(1)),
                "the earlier source wins"
            );
            assert_eq!(get(&d, "list", "c"), Some(Value::Int(2)));
            assert_eq!(get(&d, "nested", "c"), Some(Value::Int(3)));
            assert_eq!(get(&d, "nested", "b"), Some(Value::Int(2)));
            // Shallow: the list is replaced.
            let l = d[0].get("nested").and_then(|n| n.get("l")).unwrap();
            assert_eq!(l.as_seq().unwrap().len(), 1);
            // Merged nodes keep the anchor's lines.
            assert_eq!(d[0].get("one").and_then(|n| n.get("b")).unwrap().line, 1);
        }
        // A key before the merge: go-yaml v2 lets the merge override it, v3 does not.
        assert_eq!(
            get(&load(text, Merge::V2).unwrap(), "before", "a"),
            Some(Value::Int(1))
        );
        assert_eq!(
            get(&load(text, Merge::V3).unwrap(), "before", "a"),
            Some(Value::Int(9))
        );
    }
}
