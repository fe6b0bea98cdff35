//! Conversions between `boomerang.wallet.v1` messages and domain types: the
//! only place proto types meet the domain. `TryFrom` for requests (collecting
//! field violations), `From` for responses. Filled in as RPCs land.
