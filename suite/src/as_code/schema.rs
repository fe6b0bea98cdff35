//! The JSON Schema of a file (a program or the referral program), generated
//! from the proto descriptors (their comments are its descriptions).
//! `docs/schemas/program.v1.json` is this output; a test fails when the
//! protos moved and it was not regenerated
//! (`boomerang schema > docs/schemas/program.v1.json`).
use std::collections::BTreeMap;

use prost_reflect::{DescriptorPool, FieldDescriptor, Kind as Type, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use boomerang_proto::campaign::v1::CampaignStatus;

use super::{API_VERSION, Kind, batches, render::Tree, spec};

/// The schema, as indented JSON.
pub fn generate(pool: &DescriptorPool) -> anyhow::Result<String> {
    let mut defs = BTreeMap::new();
    let mut kinds = Vec::new();
    for kind in Kind::ALL {
        let message = kind.message();
        define(&spec::message(pool, message)?, &mut defs);
        if let Some(Json::Object(def)) = defs.get_mut(message)
            && let Some(Json::Object(props)) = def.get_mut("properties")
        {
            for (name, _) in kind.not_in_files() {
                props.remove(*name);
            }
        }
        let id = if kind.has_id() {
            json!({"required": ["id"]})
        } else {
            json!({"not": {"required": ["id"]}})
        };
        let status = if kind.has_status() {
            json!({})
        } else {
            json!({"not": {"required": ["status"]}})
        };
        let coupons = if kind.has_batches() {
            json!({})
        } else {
            json!({"not": {"required": [batches::FIELD]}})
        };
        kinds.push(json!({
            "if": {"properties": {"kind": {"const": kind.name()}}},
            "then": {
                "allOf": [id, status, coupons],
                "properties": {"spec": {"$ref": format!("#/$defs/{message}")}},
            },
        }));
    }
    define(&spec::message(pool, batches::MESSAGE)?, &mut defs);
    if let Some(Json::Object(def)) = defs.get_mut(batches::MESSAGE)
        && let Some(Json::Object(props)) = def.get_mut("properties")
    {
        for (name, _) in batches::NOT_IN_FILES {
            props.remove(*name);
        }
    }
    let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
    let statuses: Vec<_> = (1..)
        .map_while(|n| CampaignStatus::try_from(n).ok())
        .map(|s| s.as_str_name())
        .collect();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://boomerang.dev/schemas/program.v1.json",
        "title": "Boomerang file",
        "description": "A loyalty program (kind Program), the tenant's referral program (kind ReferralProgram, no id) or a campaign (kind Campaign, with its coupon batches), as `boomerang get` writes it and `boomerang plan`/`apply` read it (docs/as-code.md). Decimals are strings (\"7.5\"); YAML may leave them unquoted.",
        "type": "object",
        "additionalProperties": false,
        "required": ["apiVersion", "kind", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"enum": names},
            "id": {"type": "string", "minLength": 1, "maxLength": 128, "description": "A program's or campaign's id (a referral program has none)."},
            "status": {"enum": statuses, "description": "A campaign's lifecycle state wanted (SCHEDULED and ACTIVE are one wish: running on its schedule); absent, its lifecycle is left as it is."},
            "spec": {"type": "object", "description": "The kind's API message in proto3 JSON names."},
            "couponBatches": {"type": "array", "items": {"$ref": format!("#/$defs/{}", batches::MESSAGE)}, "description": "A campaign's coupon batches (without idempotencyKey, campaignId and validateOnly). A batch never changes: apply creates the new ones; a live batch in no file is kept."},
        },
        "allOf": kinds,
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
        Type::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            json!({"type": "string", "format": "date-time"})
        }
        Type::Message(m) => {
            define(&m, defs);
            json!({"$ref": format!("#/$defs/{}", m.full_name())})
        }
        Type::Enum(e) => {
            let names: Vec<_> = e.values().map(|v| v.name().to_owned()).collect();
            json!({"enum": names})
        }
        // A plain scalar is read as the text written (`rate: 7.5`).
        Type::String => json!({"type": ["string", "number"]}),
        Type::Bytes => json!({"type": "string"}),
        Type::Bool => json!({"type": "boolean"}),
        Type::Float | Type::Double => json!({"type": "number"}),
        Type::Uint32 | Type::Fixed32 | Type::Uint64 | Type::Fixed64 => {
            json!({"type": "integer", "minimum": 0})
        }
        Type::Int32
        | Type::Sint32
        | Type::Sfixed32
        | Type::Int64
        | Type::Sint64
        | Type::Sfixed64 => {
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
