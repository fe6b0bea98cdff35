//! A program file's `spec` read into the API's message, guided by the proto
//! descriptors so every field is checked where it is written (with its
//! line), and a message written back as the proto3 JSON mapping, fields in
//! the proto's order.
use std::collections::BTreeMap;

use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, Kind, MessageDescriptor};
use serde_json::{Map, Number, Value as Json};

use super::yaml::{Node, Value};

/// Where each field of a file was written: `spec.earnRules[0].rate` → line.
pub type Lines = BTreeMap<String, usize>;

/// One thing wrong with a file, at a line and a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// The Boomerang descriptors (every v1 proto).
pub fn pool() -> anyhow::Result<DescriptorPool> {
    Ok(DescriptorPool::decode(
        boomerang_proto::FILE_DESCRIPTOR_SET,
    )?)
}

/// The descriptor of a message by its full name.
pub fn message(pool: &DescriptorPool, name: &str) -> anyhow::Result<MessageDescriptor> {
    pool.get_message_by_name(name)
        .ok_or_else(|| anyhow::anyhow!("{name} is not among the protos"))
}

/// Reads `node` as a `desc` message in proto3 JSON form, noting lines and
/// problems; `None` when something in it is wrong.
pub fn read(
    desc: &MessageDescriptor,
    node: &Node,
    path: &str,
    lines: &mut Lines,
    problems: &mut Vec<Problem>,
) -> Option<Json> {
    Reader { lines, problems }.message(desc, node, path)
}

/// Decodes a proto3 JSON value read by [`read`] into the typed message.
pub fn decode<T: prost::Message + Default>(
    desc: &MessageDescriptor,
    json: &Json,
) -> Result<T, String> {
    let dynamic =
        DynamicMessage::deserialize_with_options(desc.clone(), json, &DeserializeOptions::new())
            .map_err(|e| e.to_string())?;
    dynamic.transcode_to().map_err(|e| e.to_string())
}

/// A typed message as proto3 JSON (default fields left out).
pub fn encode<T: prost::Message>(desc: &MessageDescriptor, message: &T) -> anyhow::Result<Json> {
    let mut dynamic = DynamicMessage::new(desc.clone());
    dynamic.transcode_from(message)?;
    Ok(dynamic.serialize_with_options(
        serde_json::value::Serializer,
        &prost_reflect::SerializeOptions::new(),
    )?)
}

struct Reader<'a> {
    lines: &'a mut Lines,
    problems: &'a mut Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, line: usize, field: &str, message: impl Into<String>) -> Option<Json> {
        self.problems.push(Problem {
            line,
            field: field.to_owned(),
            message: message.into(),
        });
        None
    }

    fn message(&mut self, desc: &MessageDescriptor, node: &Node, path: &str) -> Option<Json> {
        let Value::Map(entries) = &node.value else {
            return self.problem(
                node.line,
                path,
                format!("must be a mapping, not {}", node.kind()),
            );
        };
        let mut out = Map::new();
        let mut ok = true;
        for (key, value) in entries {
            let name = key.text().unwrap_or_default();
            let Some(field) = desc
                .get_field_by_json_name(name)
                .or_else(|| desc.get_field_by_name(name))
            else {
                ok = false;
                self.problem(key.line, &join(path, name), "unknown field");
                continue;
            };
            let at = join(path, field.json_name());
            if self.lines.contains_key(&at) {
                ok = false;
                self.problem(key.line, &at, "set twice");
                continue;
            }
            self.lines.insert(at.clone(), key.line);
            if value.is_null() {
                continue;
            }
            let read = if field.is_map() {
                self.map(&field, value, &at)
            } else if field.is_list() {
                self.list(&field.kind(), value, &at)
            } else {
                self.single(&field.kind(), value, &at)
            };
            match read {
                Some(read) => {
                    out.insert(field.json_name().to_owned(), read);
                }
                None => ok = false,
            }
        }
        ok.then_some(Json::Object(out))
    }

    fn list(&mut self, kind: &Kind, node: &Node, path: &str) -> Option<Json> {
        let Value::Seq(items) = &node.value else {
            return self.problem(
                node.line,
                path,
                format!("must be a list, not {}", node.kind()),
            );
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            self.lines.insert(at.clone(), item.line);
            out.push(self.single(kind, item, &at));
        }
        out.into_iter().collect::<Option<Vec<_>>>().map(Json::Array)
    }

    fn map(
        &mut self,
        field: &prost_reflect::FieldDescriptor,
        node: &Node,
        path: &str,
    ) -> Option<Json> {
        let Value::Map(entries) = &node.value else {
            return self.problem(
                node.line,
                path,
                format!("must be a mapping, not {}", node.kind()),
            );
        };
        let kind = match field.kind() {
            Kind::Message(entry) => entry.map_entry_value_field().kind(),
            other => other,
        };
        let mut out = Map::new();
        let mut ok = true;
        for (key, value) in entries {
            let name = key.text().unwrap_or_default().to_owned();
            let at = join(path, &name);
            self.lines.insert(at.clone(), key.line);
            match self.single(&kind, value, &at) {
                Some(read) => {
                    out.insert(name, read);
                }
                None => ok = false,
            }
        }
        ok.then_some(Json::Object(out))
    }

    fn single(&mut self, kind: &Kind, node: &Node, path: &str) -> Option<Json> {
        if let Kind::Message(desc) = kind
            && !desc.full_name().starts_with("google.protobuf.")
        {
            return self.message(desc, node, path);
        }
        let Value::Scalar { text, plain } = &node.value else {
            return self.problem(
                node.line,
                path,
                format!("must be a single value, not {}", node.kind()),
            );
        };
        let line = node.line;
        match kind {
            Kind::Message(m)
                if m.full_name() == "google.protobuf.Timestamp"
                    && text.parse::<prost_types::Timestamp>().is_err() =>
            {
                self.problem(
                    line,
                    path,
                    "must be an RFC 3339 instant, e.g. 2026-06-01T00:00:00Z",
                )
            }
            // Text as written: `rate: 7.50` is "7.50" (never a binary float).
            Kind::String | Kind::Bytes | Kind::Message(_) => Some(Json::String(text.clone())),
            Kind::Bool => match (text.as_str(), plain) {
                ("true", true) => Some(Json::Bool(true)),
                ("false", true) => Some(Json::Bool(false)),
                _ => self.problem(line, path, "must be true or false"),
            },
            Kind::Enum(desc) => {
                if desc.get_value_by_name(text).is_some() {
                    return Some(Json::String(text.clone()));
                }
                let names: Vec<_> = desc
                    .values()
                    .filter(|v| v.number() != 0)
                    .map(|v| v.name().to_owned())
                    .collect();
                self.problem(line, path, format!("must be one of {}", names.join(", ")))
            }
            Kind::Float | Kind::Double => match text.parse::<f64>().ok().and_then(Number::from_f64)
            {
                Some(n) => Some(Json::Number(n)),
                None => self.problem(line, path, "must be a number"),
            },
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                self.whole(text, line, path, (i32::MIN.into(), i32::MAX.into()))
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                self.whole(text, line, path, (i64::MIN.into(), i64::MAX.into()))
            }
            Kind::Uint32 | Kind::Fixed32 => self.whole(text, line, path, (0, u32::MAX.into())),
            Kind::Uint64 | Kind::Fixed64 => self.whole(text, line, path, (0, u64::MAX.into())),
        }
    }

    /// A whole number from `min` to `max`.
    fn whole(
        &mut self,
        text: &str,
        line: usize,
        path: &str,
        (min, max): (i128, i128),
    ) -> Option<Json> {
        let n = text
            .parse::<i128>()
            .ok()
            .filter(|n| (min..=max).contains(n));
        let number = n.and_then(|n| match u64::try_from(n) {
            Ok(n) => Some(Number::from(n)),
            Err(_) => i64::try_from(n).ok().map(Number::from),
        });
        match number {
            Some(number) => Some(Json::Number(number)),
            None => self.problem(
                line,
                path,
                format!("must be a whole number from {min} to {max}"),
            ),
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The file field a server's field violation names: `program.earn_rules[0].rate`
/// is `spec.earnRules[0].rate` (under `root`, the request field the file's
/// spec is), and `id_field` (`program.program_id`) is the file's `id`.
pub fn file_field(violation: &str, root: &str, id_field: Option<&str>) -> String {
    if Some(violation) == id_field {
        return "id".into();
    }
    let rest = match violation.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with(['.', '[']) => rest,
        _ => violation,
    };
    let rest = camel_path(rest.strip_prefix('.').unwrap_or(rest));
    if rest.is_empty() {
        "spec".into()
    } else {
        format!("spec.{rest}")
    }
}

/// A field violation's path in proto3 JSON names: `rules.effect.percent_off`
/// is `rules.effect.percentOff`.
pub fn camel_path(path: &str) -> String {
    let camel: Vec<String> = path
        .split('.')
        .filter(|s| !s.is_empty())
        .map(camel_case)
        .collect();
    camel.join(".")
}

fn camel_case(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut upper = false;
    for c in segment.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The line of `field`, or of the nearest enclosing field written.
pub fn line_of(lines: &Lines, field: &str) -> usize {
    let mut at = field;
    loop {
        if let Some(line) = lines.get(at) {
            return *line;
        }
        match at.rfind(['.', '[']) {
            Some(cut) => at = &at[..cut],
            None => return lines.get("spec").copied().unwrap_or(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_fields_name_file_fields() {
        assert_eq!(
            file_field(
                "program.earn_rules[0].rate",
                "program",
                Some("program.program_id")
            ),
            "spec.earnRules[0].rate"
        );
        assert_eq!(
            file_field("program.program_id", "program", Some("program.program_id")),
            "id"
        );
        assert_eq!(
            file_field("program", "program", Some("program.program_id")),
            "spec"
        );
        let lines: Lines = [("spec".to_owned(), 4), ("spec.earnRules[0]".to_owned(), 6)].into();
        assert_eq!(line_of(&lines, "spec.earnRules[0].rate"), 6);
        assert_eq!(line_of(&lines, "spec.name"), 4);
    }
}
