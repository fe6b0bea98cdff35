//! TLS on a process's gRPC port and to its `https://` upstreams (rustls, no
//! OpenSSL), from PEM files: what cert-manager's Secrets hold (`tls.crt`,
//! `tls.key`, `ca.crt`). Off by default (a mesh's mTLS, or plaintext inside
//! a NetworkPolicy).
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// `server.tls`: this process serves with `cert_file` and `key_file`, and
/// trusts `ca_file` for the `https://` upstreams it calls.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain to serve with; empty: plaintext.
    pub cert_file: String,
    /// PEM private key of `cert_file`.
    pub key_file: String,
    /// PEM CA certificates that sign the `https://` upstreams' certificates.
    pub ca_file: String,
}

fn read(key: &str, file: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).map_err(|e| anyhow::anyhow!("server.tls.{key} {file:?}: {e}"))
}

impl TlsConfig {
    /// Both of cert and key, or neither; the files given are readable.
    pub fn validate(&self) -> Result<(), String> {
        if self.cert_file.is_empty() != self.key_file.is_empty() {
            return Err("server.tls.cert_file and key_file go together".into());
        }
        self.server()
            .and(self.client())
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// What the server serves with, when TLS is on; files are read now.
    pub fn server(&self) -> anyhow::Result<Option<ServerTlsConfig>> {
        if self.cert_file.is_empty() {
            return Ok(None);
        }
        let identity = Identity::from_pem(
            read("cert_file", &self.cert_file)?,
            read("key_file", &self.key_file)?,
        );
        Ok(Some(ServerTlsConfig::new().identity(identity)))
    }

    /// What `https://` upstreams are verified with, when a CA is given.
    pub fn client(&self) -> anyhow::Result<Option<ClientTlsConfig>> {
        if self.ca_file.is_empty() {
            return Ok(None);
        }
        let ca = Certificate::from_pem(read("ca_file", &self.ca_file)?);
        Ok(Some(ClientTlsConfig::new().ca_certificate(ca)))
    }
}
