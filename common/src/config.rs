//! Typed configuration: defaults, then a TOML file, then environment.
//!
//! A service's config is a serde struct with a `Default`. [`load`] layers on
//! top of it the `[<service>]` table of the file named by `BOOMERANG_CONFIG`
//! (if any; TOML, or JSON when it ends in `.json`, as the Helm chart renders
//! it: Helm's TOML writer turns every integer into a float), then environment variables `BOOMERANG_<SERVICE>__<FIELD>__<SUB>`,
//! e.g. `BOOMERANG_WALLET__DATABASE__URL=postgres://...`. Unknown keys and bad
//! values fail at start with the offending key in the message.
use std::{net::SocketAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Json, Serialized, Toml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Names the TOML file to read, if set.
pub const CONFIG_FILE_ENV: &str = "BOOMERANG_CONFIG";

/// Loads `T` for `service` ("wallet", "accrual", "campaign", "referral", "gateway").
pub fn load<T>(service: &str) -> anyhow::Result<T>
where
    T: Serialize + DeserializeOwned + Default,
{
    load_file(service, None)
}

/// As [`load`], reading `file` when given instead of `$BOOMERANG_CONFIG`.
pub fn load_file<T>(service: &str, file: Option<&Path>) -> anyhow::Result<T>
where
    T: Serialize + DeserializeOwned + Default,
{
    let env = std::env::var_os(CONFIG_FILE_ENV);
    let file = file.or(env.as_deref().map(Path::new));
    load_from(service, T::default(), file)
}

/// Loads `T` for `service` over explicit `defaults` and an optional file.
pub fn load_from<T>(service: &str, defaults: T, file: Option<&Path>) -> anyhow::Result<T>
where
    T: Serialize + DeserializeOwned,
{
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(path) = file {
        if !path.exists() {
            anyhow::bail!("config file {} does not exist", path.display());
        }
        let file = if path.extension().is_some_and(|e| e == "json") {
            Figment::from(Json::file(path))
        } else {
            Figment::from(Toml::file(path))
        };
        figment = figment.merge(file.focus(service));
    }
    let prefix = format!(
        "BOOMERANG_{}__",
        service.to_ascii_uppercase().replace('-', "_")
    );
    figment = figment.merge(Env::prefixed(&prefix).split("__"));
    figment
        .extract()
        .map_err(|e| anyhow::anyhow!("invalid {service} configuration: {e}"))
}

/// How a gRPC server listens and sheds load.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free one (tests).
    pub listen: SocketAddr,
    /// Deadline for calls that carry no `grpc-timeout`.
    pub default_timeout_ms: u64,
    /// Calls in flight at once; more are refused with RESOURCE_EXHAUSTED.
    pub max_concurrent_requests: usize,
    /// On shutdown, how long in-flight calls and streams may finish.
    pub drain_timeout_ms: u64,
    /// How often the readiness health status re-checks the database.
    pub readiness_interval_ms: u64,
    /// A connection older than this is asked to go away (HTTP/2 GOAWAY, in-flight
    /// calls finish), so callers reconnect and spread over replicas added since;
    /// 0 keeps connections for ever.
    pub max_connection_age_ms: u64,
    /// TLS on this port and to `https://` upstreams (off by default).
    pub tls: crate::tls::TlsConfig,
}

impl ServerConfig {
    /// The defaults, listening on `listen`.
    pub fn on(listen: SocketAddr) -> Self {
        Self {
            listen,
            ..Self::default()
        }
    }

    /// Checks the values make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.default_timeout_ms == 0 {
            return Err("server.default_timeout_ms must be > 0".into());
        }
        if self.readiness_interval_ms == 0 {
            return Err("server.readiness_interval_ms must be > 0".into());
        }
        if self.max_concurrent_requests == 0 {
            return Err("server.max_concurrent_requests must be > 0".into());
        }
        self.tls.validate()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            default_timeout_ms: 30_000,
            max_concurrent_requests: 1_024,
            drain_timeout_ms: 10_000,
            readiness_interval_ms: 5_000,
            max_connection_age_ms: 300_000,
            tls: crate::tls::TlsConfig::default(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error by value
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        server: ServerConfig,
        name: String,
    }

    #[test]
    fn file_then_env_override_defaults() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("b.toml");
        std::fs::write(
            &path,
            "[sample]\nname = \"from-file\"\n[sample.server]\ndefault_timeout_ms = 7\n",
        )?;
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOOMERANG_SAMPLE__NAME", "from-env");
            let s: Sample =
                load_from("sample", Sample::default(), Some(&path)).map_err(|e| e.to_string())?;
            assert_eq!(s.name, "from-env");
            assert_eq!(s.server.default_timeout_ms, 7);
            assert_eq!(s.server.max_concurrent_requests, 1_024);
            Ok(())
        });
        Ok(())
    }

    #[test]
    fn a_json_file_works_like_toml() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("b.json");
        std::fs::write(
            &path,
            r#"{"sample": {"server": {"default_timeout_ms": 9}}}"#,
        )?;
        let s: Sample = load_from("sample", Sample::default(), Some(&path))?;
        assert_eq!(s.server.default_timeout_ms, 9);
        Ok(())
    }

    #[test]
    fn unknown_keys_fail_with_their_name() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOOMERANG_SAMPLE__SERVER__LISTN", "1.2.3.4:5");
            let err = load_from("sample", Sample::default(), None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("listn"), "{err}");
            Ok(())
        });
    }
}
