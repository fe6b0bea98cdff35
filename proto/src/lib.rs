//! The v1 gRPC contracts of Boomerang, generated from `proto/` at build time.
//!
//! Packages are `boomerang.<svc>.v1`; each module below re-exports one package
//! with its messages, `*_server` and `*_client` modules.
#![allow(clippy::all, missing_docs)]

/// Encoded `FileDescriptorSet` of every Boomerang proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/boomerang_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("boomerang.common.v1");

        /// The stable name of a channel enum value ("online", "store", "app"),
        /// as rules and conditions store it; None when unspecified or unknown.
        pub fn channel_name(value: i32) -> Option<&'static str> {
            match Channel::try_from(value) {
                Ok(Channel::Online) => Some("online"),
                Ok(Channel::Store) => Some("store"),
                Ok(Channel::App) => Some("app"),
                _ => None,
            }
        }
    }
}
pub mod wallet {
    pub mod v1 {
        tonic::include_proto!("boomerang.wallet.v1");
    }
}
pub mod accrual {
    pub mod v1 {
        tonic::include_proto!("boomerang.accrual.v1");
    }
}
pub mod campaign {
    pub mod v1 {
        tonic::include_proto!("boomerang.campaign.v1");
    }
}
pub mod referral {
    pub mod v1 {
        tonic::include_proto!("boomerang.referral.v1");
    }
}
pub mod notify {
    pub mod v1 {
        tonic::include_proto!("boomerang.notify.v1");
    }
}
pub mod admin {
    pub mod v1 {
        tonic::include_proto!("boomerang.admin.v1");
    }
}
