//! Documents written out (YAML or JSON) and compared, with a message's
//! fields in the proto's order, so an export reads like the API and a diff
//! lists changes top to bottom.
use std::fmt::Write as _;

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::Value as Json;

/// A value with its mapping entries in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Map(Vec<(String, Tree)>),
    List(Vec<Tree>),
    Text(String),
    /// Numbers and booleans, written as they are.
    Bare(String),
}

impl Tree {
    /// `json` in the order of `desc`'s fields (unknown keys last, by name).
    pub fn ordered(json: &Json, desc: Option<&MessageDescriptor>) -> Tree {
        match json {
            Json::Object(map) => {
                let field = |key: &str| desc.and_then(|d| d.get_field_by_json_name(key));
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by_key(|(key, _)| (field(key).map_or(u32::MAX, |f| f.number()), *key));
                Tree::Map(
                    entries
                        .into_iter()
                        .map(|(key, value)| {
                            let child = field(key).and_then(|f| match f.kind() {
                                Kind::Message(m) => Some(m),
                                _ => None,
                            });
                            (key.clone(), Tree::ordered(value, child.as_ref()))
                        })
                        .collect(),
                )
            }
            Json::Array(items) => {
                Tree::List(items.iter().map(|v| Tree::ordered(v, desc)).collect())
            }
            Json::String(s) => Tree::Text(s.clone()),
            Json::Null => Tree::Bare("null".into()),
            other => Tree::Bare(other.to_string()),
        }
    }

    /// Block YAML, two-space indents; text quoted unless it is a plain word.
    pub fn yaml(&self) -> String {
        let mut out = String::new();
        self.yaml_into(&mut out, 0);
        out
    }

    fn yaml_into(&self, out: &mut String, indent: usize) {
        let pad = " ".repeat(indent);
        match self {
            Tree::Map(entries) => {
                for (key, value) in entries {
                    let key = if plain_word(key) {
                        key.clone()
                    } else {
                        quote(key)
                    };
                    let _ = write!(out, "{pad}{key}:");
                    value.yaml_child(out, indent);
                }
            }
            Tree::List(items) => {
                for item in items {
                    let _ = write!(out, "{pad}-");
                    match item {
                        // The item's first entry on the dash's line.
                        Tree::Map(entries) if !entries.is_empty() => {
                            let mut nested = String::new();
                            item.yaml_into(&mut nested, indent + 2);
                            out.push(' ');
                            out.push_str(&nested[indent + 2..]);
                        }
                        _ => item.yaml_child(out, indent),
                    }
                }
            }
            scalar => {
                let _ = writeln!(out, "{pad}{}", scalar.inline());
            }
        }
    }

    /// After `key:` or `-`: a scalar on the same line, a block below it.
    fn yaml_child(&self, out: &mut String, indent: usize) {
        match self {
            Tree::Map(entries) if !entries.is_empty() => {
                out.push('\n');
                self.yaml_into(out, indent + 2);
            }
            Tree::List(items) if !items.is_empty() => {
                out.push('\n');
                self.yaml_into(out, indent + 2);
            }
            scalar => {
                let _ = writeln!(out, " {}", scalar.inline());
            }
        }
    }

    /// One line: `{}`, `[]`, a quoted or plain scalar, or compact JSON.
    pub fn inline(&self) -> String {
        match self {
            Tree::Text(s) if plain_word(s) => s.clone(),
            Tree::Bare(s) => s.clone(),
            other => other.json_compact(),
        }
    }

    fn json_compact(&self) -> String {
        match self {
            Tree::Map(entries) => {
                let inner: Vec<_> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", quote(k), v.json_compact()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            Tree::List(items) => {
                let inner: Vec<_> = items.iter().map(Tree::json_compact).collect();
                format!("[{}]", inner.join(", "))
            }
            Tree::Text(s) => quote(s),
            Tree::Bare(s) => s.clone(),
        }
    }

    /// Indented JSON.
    pub fn json(&self) -> String {
        let mut out = String::new();
        self.json_into(&mut out, 0);
        out.push('\n');
        out
    }

    fn json_into(&self, out: &mut String, indent: usize) {
        let pad = " ".repeat(indent + 2);
        let (open, close, items): (char, char, Vec<(Option<&str>, &Tree)>) = match self {
            Tree::Map(entries) if !entries.is_empty() => (
                '{',
                '}',
                entries.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
            ),
            Tree::List(items) if !items.is_empty() => {
                ('[', ']', items.iter().map(|v| (None, v)).collect())
            }
            scalar => {
                out.push_str(&scalar.json_compact());
                return;
            }
        };
        out.push(open);
        for (i, (key, value)) in items.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&pad);
            if let Some(key) = key {
                let _ = write!(out, "{}: ", quote(key));
            }
            value.json_into(out, indent + 2);
        }
        let _ = write!(out, "\n{}{close}", " ".repeat(indent));
    }

    /// The changes from `self` to `new`, one line each (`~ path: old → new`,
    /// `+ path: new`, `- path: old`), in field order.
    pub fn diff(&self, new: &Tree, path: &str, out: &mut Vec<String>) {
        match (self, new) {
            (a, b) if a == b => {}
            (Tree::Map(old), Tree::Map(new_entries)) => {
                for (key, value) in old {
                    let at = format!("{path}.{key}");
                    match new_entries.iter().find(|(k, _)| k == key) {
                        Some((_, now)) => value.diff(now, &at, out),
                        None => out.push(format!("- {at}: {}", short(value))),
                    }
                }
                for (key, value) in new_entries {
                    if !old.iter().any(|(k, _)| k == key) {
                        out.push(format!("+ {path}.{key}: {}", short(value)));
                    }
                }
            }
            (Tree::List(old), Tree::List(new_items)) => {
                for (i, value) in old.iter().enumerate() {
                    let at = format!("{path}[{i}]");
                    match new_items.get(i) {
                        Some(now) => value.diff(now, &at, out),
                        None => out.push(format!("- {at}: {}", short(value))),
                    }
                }
                for (i, value) in new_items.iter().enumerate().skip(old.len()) {
                    out.push(format!("+ {path}[{i}]: {}", short(value)));
                }
            }
            (old, now) => out.push(format!("~ {path}: {} → {}", short(old), short(now))),
        }
    }
}

/// A value on one line, cut at 100 characters.
fn short(tree: &Tree) -> String {
    let text = tree.json_compact();
    match text.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// Text YAML reads back as the same text without quotes: a word of letters,
/// digits, `_`, `-`, `.` and `/`, starting with a letter, that is not one of
/// YAML's plain booleans or nulls.
fn plain_word(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::as_code::yaml;

    #[test]
    fn yaml_reads_back_as_written() -> Result<(), String> {
        let tree = Tree::Map(vec![
            ("name".into(), Tree::Text("Summer: 10% back".into())),
            ("rate".into(), Tree::Text("7.5".into())),
            ("on".into(), Tree::Bare("true".into())),
            (
                "rules".into(),
                Tree::List(vec![
                    Tree::Map(vec![
                        ("asset".into(), Tree::Text("EUR".into())),
                        ("tiers".into(), Tree::List(vec![Tree::Text("gold".into())])),
                    ]),
                    Tree::Map(vec![]),
                ]),
            ),
        ]);
        let text = tree.yaml();
        assert_eq!(
            text,
            "name: \"Summer: 10% back\"\nrate: \"7.5\"\n\"on\": true\nrules:\n  - asset: EUR\n    tiers:\n      - gold\n  - {}\n"
        );
        yaml::parse(&text).map_err(|e| e.message)?;
        yaml::parse(&tree.json()).map_err(|e| e.message)?;
        Ok(())
    }

    #[test]
    fn diff_names_each_change() {
        let old = Tree::Map(vec![("rate".into(), Tree::Text("5".into()))]);
        let new = Tree::Map(vec![
            ("rate".into(), Tree::Text("7.5".into())),
            ("name".into(), Tree::Text("x".into())),
        ]);
        let mut out = Vec::new();
        old.diff(&new, "spec", &mut out);
        assert_eq!(out, ["~ spec.rate: \"5\" → \"7.5\"", "+ spec.name: \"x\""]);
    }
}
