//! Conversions between `boomerang.admin.v1` messages and domain types. Filled in with issue #8.
