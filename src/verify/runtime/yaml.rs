//! YAML documents as a small tree that keeps each node's line, for descriptors
//! (Kubernetes manifests, Compose files) whose settings must be traced back to the
//! line that made them.
//!
//! The parser is saphyr (YAML 1.2, pure Rust, the maintained successor of
//! yaml-rust/yaml-rust2): serde-based YAML crates give values without positions.
//! Aliases are not expanded (saphyr keeps them as references), so a crafted file
//! cannot blow up in memory.

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

/// Every document of a YAML stream.
pub fn load(text: &str) -> anyhow::Result<Vec<Node>> {
    let docs = MarkedYaml::load_from_str(text)
        .map_err(|e| anyhow::anyhow!("line {}: not YAML: {}", e.marker().line(), e.info()))?;
    docs.iter().map(|d| convert(d, 0)).collect()
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

fn convert(n: &MarkedYaml, depth: usize) -> anyhow::Result<Node> {
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
                .map(|i| convert(i, depth + 1))
                .collect::<anyhow::Result<_>>()?,
        ),
        YamlData::Mapping(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                if let Some(k) = key_text(k) {
                    out.push((k, convert(v, depth + 1)?));
                }
            }
            Value::Map(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, depth + 1),
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
        let docs = load("a: 1\n---\nb:\n  c: [x, 2]\n  d: true\n").unwrap();
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
            load("a: [1, 2\n")
                .unwrap_err()
                .to_string()
                .starts_with("line ")
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(load(&deep).is_err());
        // Aliases stay references: no exponential expansion.
        let bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n";
        assert!(load(bomb).is_ok());
    }
}
