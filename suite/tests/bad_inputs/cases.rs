//! Malformed requests for any RPC, generated from its descriptor: each field
//! (nested ones too, three levels deep) gets the bad values of its kind, one
//! at a time, in an otherwise valid request.
use prost::Message as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, MethodDescriptor, Value,
};

/// One malformed request.
#[derive(Clone, Debug)]
pub struct Case {
    /// What is wrong, e.g. "unknown enum 999".
    pub label: String,
    /// The field made wrong ("" for the whole request).
    pub field: String,
    /// The encoded request.
    pub body: Vec<u8>,
}

/// Longer than any list the contract allows.
const HUGE: usize = 10_001;
/// Longer than any string the contract allows (campaign terms: 20,000).
const HUGE_STRING: usize = 100_001;
const DEPTH: usize = 3;

/// Every case for `method`, spoiling `valid` (text format).
pub fn for_method(method: &MethodDescriptor, valid: &str) -> anyhow::Result<Vec<Case>> {
    let input = method.input();
    let base = base(&input, valid)?;
    let mut cases = vec![
        raw("garbage bytes", vec![0xFF; 16]),
        // Field 1, length-delimited, claiming 5 bytes of which 1 follows.
        raw("truncated message", vec![0x0A, 0x05, b'a']),
    ];
    if let Some(f) = input
        .fields()
        .find(|f| f.kind() == Kind::String && !f.is_list())
    {
        let tag = u8::try_from((f.number() << 3) | 2).unwrap_or(0x0A);
        cases.push(raw("string that is not UTF-8", vec![tag, 0x02, 0xC3, 0x28]));
    }
    for (n, (field, label, mut msg)) in mutations(&input, &base, DEPTH, &mut Vec::new())
        .into_iter()
        .enumerate()
    {
        // Each case its own key: a refusal for the key's reuse would hide the field's.
        if field != "idempotency_key" && input.get_field_by_name("idempotency_key").is_some() {
            msg.set_field_by_name("idempotency_key", Value::String(format!("bad-{n}")));
        }
        cases.push(Case {
            label,
            field,
            body: msg.encode_to_vec(),
        });
    }
    Ok(cases)
}

fn raw(label: &str, body: Vec<u8>) -> Case {
    Case {
        label: label.into(),
        field: String::new(),
        body,
    }
}

/// The valid request a case starts from, with an idempotency key if it takes one.
fn base(input: &MessageDescriptor, valid: &str) -> anyhow::Result<DynamicMessage> {
    let mut msg = DynamicMessage::parse_text_format(input.clone(), valid)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.full_name()))?;
    if input.get_field_by_name("idempotency_key").is_some() {
        msg.set_field_by_name("idempotency_key", Value::String("bad-input".into()));
    }
    Ok(msg)
}

/// `base` with one field of `desc` (or of a message inside it) made bad.
fn mutations(
    desc: &MessageDescriptor,
    base: &DynamicMessage,
    depth: usize,
    seen: &mut Vec<String>,
) -> Vec<(String, String, DynamicMessage)> {
    let mut out = Vec::new();
    if depth == 0 || seen.contains(&desc.full_name().to_owned()) {
        return out;
    }
    seen.push(desc.full_name().to_owned());
    for field in desc.fields() {
        if OUTPUT_ONLY.contains(&(desc.full_name(), field.name())) {
            continue;
        }
        for (label, value) in bad_values(&field) {
            let mut msg = base.clone();
            msg.set_field(&field, value);
            out.push((field.name().to_owned(), label, msg));
        }
        // Inside a message field (or the first element of a list of them),
        // starting from what the valid request has there.
        if let Kind::Message(inner) = field.kind()
            && !field.is_map()
            && !is_leaf(&inner)
        {
            let current = base.get_field(&field);
            let (inner_base, rest) = match current.as_ref() {
                Value::List(items) => (
                    items.first().and_then(Value::as_message).cloned(),
                    items.iter().skip(1).cloned().collect(),
                ),
                Value::Message(m) if base.has_field(&field) => (Some(m.clone()), Vec::new()),
                _ => (None, Vec::new()),
            };
            let inner_base = inner_base.unwrap_or_else(|| DynamicMessage::new(inner.clone()));
            for (path, label, nested) in mutations(&inner, &inner_base, depth - 1, seen) {
                let mut msg = base.clone();
                let (value, name) = if field.is_list() {
                    let mut items = vec![Value::Message(nested)];
                    items.extend(rest.iter().cloned());
                    (Value::List(items), format!("{}[0]", field.name()))
                } else {
                    (Value::Message(nested), field.name().to_owned())
                };
                msg.set_field(&field, value);
                out.push((format!("{name}.{path}"), label, msg));
            }
        }
    }
    seen.pop();
    out
}

/// Fields a service fills in and ignores on input (AIP-203): the message is
/// shared by a request and a response.
const OUTPUT_ONLY: &[(&str, &str)] = &[
    ("boomerang.accrual.v1.Member", "tier"),
    ("boomerang.accrual.v1.Member", "enrolled_at"),
    ("boomerang.accrual.v1.Program", "published_at"),
    ("boomerang.referral.v1.ReferralProgram", "published_at"),
    ("boomerang.admin.v1.Tenant", "created_at"),
];

/// Messages whose bad values are listed as a whole, not field by field.
fn is_leaf(desc: &MessageDescriptor) -> bool {
    matches!(
        desc.full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | "boomerang.common.v1.Money"
    )
}

fn message(desc: &MessageDescriptor, fields: &[(&str, Value)]) -> Value {
    let mut msg = DynamicMessage::new(desc.clone());
    for (name, value) in fields {
        msg.set_field_by_name(name, value.clone());
    }
    Value::Message(msg)
}

fn money(desc: &MessageDescriptor, amount: &str, asset: &str) -> Value {
    message(
        desc,
        &[
            ("amount", Value::String(amount.into())),
            ("asset", Value::String(asset.into())),
        ],
    )
}

/// The bad values of a field's kind, labelled.
fn bad_values(field: &FieldDescriptor) -> Vec<(String, Value)> {
    let one = |label: &str, v: Value| vec![(label.to_owned(), v)];
    if field.is_map() {
        let entries = (0..HUGE)
            .map(|i| (MapKey::String(format!("k{i}")), Value::String("v".into())))
            .collect();
        return one("oversized map", Value::Map(entries));
    }
    if field.is_list() {
        let element = match field.kind() {
            Kind::String => Value::String("x".into()),
            Kind::Enum(_) => Value::EnumNumber(1),
            Kind::Message(m) => Value::Message(DynamicMessage::new(m)),
            _ => return Vec::new(),
        };
        return one("oversized list", Value::List(vec![element; HUGE]));
    }
    match field.kind() {
        Kind::String => one("oversized string", Value::String("x".repeat(HUGE_STRING))),
        Kind::Enum(_) => vec![
            ("unknown enum 999".into(), Value::EnumNumber(999)),
            ("unknown enum -1".into(), Value::EnumNumber(-1)),
        ],
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => vec![
                (
                    "timestamp nanos -1".into(),
                    message(
                        &m,
                        &[
                            ("seconds", Value::I64(1_767_225_600)),
                            ("nanos", Value::I32(-1)),
                        ],
                    ),
                ),
                (
                    "timestamp in year 10000".into(),
                    message(&m, &[("seconds", Value::I64(253_402_300_800))]),
                ),
            ],
            "google.protobuf.Duration" => one(
                "negative duration",
                message(&m, &[("seconds", Value::I64(-5))]),
            ),
            "boomerang.common.v1.Money" => {
                let mut bad = vec![
                    (
                        "more decimals than EUR has".into(),
                        money(&m, "1.001", "EUR"),
                    ),
                    (
                        "huge amount".into(),
                        money(&m, "100000000000000000000.00", "EUR"),
                    ),
                    ("not a number".into(), money(&m, "1,5", "EUR")),
                    ("unknown asset".into(), money(&m, "1.00", "XXX")),
                ];
                // A posting's leg is signed: debits are negative.
                if field.parent_message().full_name() != "boomerang.wallet.v1.Posting" {
                    bad.push(("negative amount".into(), money(&m, "-1.00", "EUR")));
                }
                bad
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
