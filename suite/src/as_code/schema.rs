//! The JSON Schema of a program file, generated from the proto descriptors
//! (their comments are its descriptions). `docs/schemas/program.v1.json` is
//! this output; a test fails when the protos moved and it was not
//! regenerated (`boomerang schema > docs/schemas/program.v1.json`).
use std::collections::BTreeMap;

use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use super::{API_VERSION, PROGRAM, render::Tree, spec};

/// Fields a file leaves to its `id` and to the service.
const NOT_IN_FILES: &[&str] = &["programId", "version", "publishedAt"];

/// The schema, as indented JSON.
pub fn generate(pool: &DescriptorPool) -> anyhow::Result<String> {
    let root = spec::message(pool, PROGRAM)?;
    let mut defs = BTreeMap::new();
    define(&root, &mut defs);
    if let Some(Json::Object(program)) = defs.get_mut(PROGRAM)
        && let Some(Json::Object(props)) = program.get_mut("properties")
    {
        for name in NOT_IN_FILES {
            props.remove(*name);
        }
    }
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://boomerang.dev/schemas/program.v1.json",
        "title": "Boomerang program file",
        "description": "One loyalty program, as `boomerang get program ID -o yaml` writes it and `boomerang plan`/`apply` read it (docs/as-code.md). Decimals are strings (\"7.5\"); YAML may leave them unquoted.",
        "type": "object",
        "additionalProperties": false,
        "required": ["apiVersion", "kind", "id", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "Program"},
            "id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "The program's id."},
            "spec": {"$ref": format!("#/$defs/{PROGRAM}")},
        },
        "$defs": defs,
    });
    Ok(Tree::ordered(&schema, None).json())
}

fn define(desc: &MessageDescriptor, defs: &mut BTreeMap<String, Json>) {
    if defs.contains_key(desc.full_name()) {
        return;
    }
    defs.insert(desc.full_name().to_owned(), Json::Null);
    let mut props = Map::new();
    for field in desc.fields() {
        let mut schema = kind(&field, defs);
        if field.is_list() {
            schema = json!({"type": "array", "items": schema});
        }
        describe(
            &mut schema,
            comment(&field.parent_message().parent_file(), field.path()),
        );
        props.insert(field.json_name().to_owned(), schema);
    }
    let mut schema = json!({"type": "object", "additionalProperties": false, "properties": props});
    describe(&mut schema, comment(&desc.parent_file(), desc.path()));
    defs.insert(desc.full_name().to_owned(), schema);
}

fn kind(field: &FieldDescriptor, defs: &mut BTreeMap<String, Json>) -> Json {
    match field.kind() {
        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            json!({"type": "string", "format": "date-time"})
        }
        Kind::Message(m) => {
            define(&m, defs);
            json!({"$ref": format!("#/$defs/{}", m.full_name())})
        }
        Kind::Enum(e) => {
            let names: Vec<_> = e.values().map(|v| v.name().to_owned()).collect();
            json!({"enum": names})
        }
        // A plain scalar is read as the text written (`rate: 7.5`).
        Kind::String => json!({"type": ["string", "number"]}),
        Kind::Bytes => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Float | Kind::Double => json!({"type": "number"}),
        Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "integer", "minimum": 0})
        }
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64 => {
            json!({"type": "integer"})
        }
    }
}

fn describe(schema: &mut Json, text: Option<String>) {
    if let (Some(text), Json::Object(map)) = (text, schema) {
        map.insert("description".into(), Json::String(text));
    }
}

/// The comment above the element at `path` of `file`, on one line.
fn comment(file: &prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_published_schema_is_the_protos_schema() -> anyhow::Result<()> {
        let fresh = super::generate(&super::spec::pool()?)?;
        let published = include_str!("../../../docs/schemas/program.v1.json");
        assert!(
            fresh == published,
            "docs/schemas/program.v1.json is stale: run `boomerang schema > docs/schemas/program.v1.json`"
        );
        Ok(())
    }
}
