//! A YAML (or JSON) document as a tree that remembers its lines and how each
//! scalar was written: `rate: 7.50` is the text "7.50", not a binary float,
//! so a decimal reads as it is spelled. One document per file; duplicate keys,
//! anchors and aliases are refused (a file is read by people and diffed).
use saphyr_parser::{Event, Parser, ScalarStyle};

/// A node and the line (1-based) it starts on.
#[derive(Debug, Clone)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    /// Entries in file order; keys are unique.
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// `plain`: written without quotes (so `null`, `true` and `7` mean what
    /// YAML says they mean; quoted, they are text).
    Scalar {
        text: String,
        plain: bool,
    },
}

impl Node {
    /// A plain `null`, `~` or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::Seq(_) => "a list",
            Value::Scalar { .. } => "a scalar",
        }
    }

    /// The scalar's text, if this is one.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Where and why a file could not be read.
#[derive(Debug)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Reads the one document of `source`.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            message: e.info().to_owned(),
        })?;
        builder.on(event, span.start.line())?;
    }
    builder.root.ok_or(SyntaxError {
        line: 1,
        message: "the file holds no document".into(),
    })
}

#[derive(Default)]
struct Builder {
    /// Open mappings and lists, innermost last, each with the key read
    /// whose value is awaited (mappings only).
    open: Vec<(Node, Option<Node>)>,
    root: Option<Node>,
    documents: usize,
}

impl Builder {
    fn on(&mut self, event: Event<'_>, line: usize) -> Result<(), SyntaxError> {
        let refuse = |message: &str| SyntaxError {
            line,
            message: message.into(),
        };
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(refuse("one document per file (found a second `---`)"));
                }
            }
            Event::Alias(_) => return Err(refuse("anchors and aliases are not supported")),
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if anchor != 0 =>
            {
                return Err(refuse("anchors and aliases are not supported"));
            }
            Event::Scalar(_, _, _, Some(_))
            | Event::SequenceStart(_, Some(_))
            | Event::MappingStart(_, Some(_)) => {
                return Err(refuse("tags (`!!str`, `!name`) are not supported"));
            }
            Event::Scalar(text, style, _, _) => {
                let value = Value::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                };
                self.close(Node { line, value })?;
            }
            Event::SequenceStart(..) => self.open.push((
                Node {
                    line,
                    value: Value::Seq(Vec::new()),
                },
                None,
            )),
            Event::MappingStart(..) => self.open.push((
                Node {
                    line,
                    value: Value::Map(Vec::new()),
                },
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, _)) = self.open.pop() {
                    self.close(node)?;
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    /// Puts a finished node into its parent: a list item, a mapping's key or
    /// the value of the key before it.
    fn close(&mut self, mut node: Node) -> Result<(), SyntaxError> {
        let Some((parent, pending)) = self.open.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match (&mut parent.value, pending.take()) {
            (Value::Seq(items), _) => items.push(node),
            (Value::Map(entries), Some(key)) => {
                // An empty value is where its key is, not at the next token.
                if node.is_null() {
                    node.line = key.line;
                }
                entries.push((key, node));
            }
            (Value::Map(entries), None) => {
                let Some(key) = node.text() else {
                    return Err(SyntaxError {
                        line: node.line,
                        message: format!("a key must be a single value, not {}", node.kind()),
                    });
                };
                if entries.iter().any(|(k, _)| k.text() == Some(key)) {
                    return Err(SyntaxError {
                        line: node.line,
                        message: format!("`{key}` appears twice"),
                    });
                }
                *pending = Some(node);
            }
            (Value::Scalar { .. }, _) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_as_spelled_with_their_lines() -> Result<(), String> {
        let doc = parse("a: 7.50\nb:\n  - \"x\"\n  - 3\n").map_err(|e| e.message)?;
        let Value::Map(entries) = &doc.value else {
            return Err("not a map".into());
        };
        assert_eq!(entries[0].1.text(), Some("7.50"));
        assert_eq!(entries[1].0.line, 2);
        let Value::Seq(items) = &entries[1].1.value else {
            return Err("not a list".into());
        };
        assert_eq!(items[1].line, 4);
        assert!(matches!(
            &items[0].value,
            Value::Scalar { plain: false, .. }
        ));
        Ok(())
    }

    #[test]
    fn duplicate_keys_second_documents_and_aliases_are_refused() {
        for (source, line) in [
            ("a: 1\nb: 2\na: 3\n", 3),
            ("a: 1\n---\nb: 2\n", 2),
            ("a: &x 1\nb: *x\n", 1),
            ("a: !!str 1\n", 1),
        ] {
            assert_eq!(parse(source).map(|_| ()).map_err(|e| e.line), Err(line));
        }
    }

    #[test]
    fn json_reads_too() {
        assert!(parse(r#"{"a": {"b": ["1", 2]}}"#).is_ok());
        assert!(parse("").is_err());
    }
}
