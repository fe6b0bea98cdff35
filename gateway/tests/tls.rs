//! TLS on the gateway's public port and on a service's port, from PEM files
//! (a CA and a `localhost` certificate made here with openssl): a caller
//! verifying the gateway's certificate is served, the gateway verifies
//! wallet-svc's against the CA, and plaintext is refused on both ports.
use std::{path::Path, process::Command};

use boomerang_common::{
    backend_tests,
    config::ServerConfig,
    testing::{TestDb, internal_auth},
    tls::TlsConfig,
};
use boomerang_proto::wallet::v1::{GetBalanceRequest, wallet_service_client::WalletServiceClient};
use tokio_util::sync::CancellationToken;
use tonic::{
    Request,
    transport::{Certificate, Channel, ClientTlsConfig},
};

/// A CA, and a certificate for `localhost` it signed, in `dir`.
fn certificates(dir: &Path) -> anyhow::Result<TlsConfig> {
    let path = |f: &str| dir.join(f).display().to_string();
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n")?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: Vec<Vec<String>> = vec![
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &path("ca.key"),
                "-out",
                &path("ca.crt"),
                "-subj",
                "/CN=boomerang test CA",
                "-days",
                "1",
            ],
        ]
        .concat()
        .iter()
        .map(|s| s.to_string())
        .collect(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                &path("tls.key"),
                "-out",
                &path("tls.csr"),
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat()
        .iter()
        .map(|s| s.to_string())
        .collect(),
        [
            "x509",
            "-req",
            "-in",
            &path("tls.csr"),
            "-CA",
            &path("ca.crt"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("tls.crt"),
            "-days",
            "1",
            "-extfile",
            &path("san.ext"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ];
    for args in steps {
        let out = Command::new("openssl").args(&args).output()?;
        anyhow::ensure!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(TlsConfig {
        cert_file: path("tls.crt"),
        key_file: path("tls.key"),
        ca_file: path("ca.crt"),
    })
}

fn on_localhost(tls: &TlsConfig) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig {
        tls: tls.clone(),
        ..ServerConfig::on("127.0.0.1:0".parse()?)
    })
}

backend_tests! {
    async fn the_gateway_and_services_serve_tls_from_pem_files(backend) -> anyhow::Result<()> {
        let (wallet_db, gateway_db) = (TestDb::fresh(backend, "wallet").await?, TestDb::fresh(backend, "gateway").await?);
        let dir = tempfile::tempdir()?;
        let tls = certificates(dir.path())?;
        let wallet = wallet_svc::App::build(wallet_svc::Config {
            server: on_localhost(&tls)?,
            database: wallet_db.config.clone(),
            internal_auth: internal_auth(),
            ..Default::default()
        })
        .await?;
        let wallet_port = wallet.local_addr()?.port();
        let gw = gateway::App::build(gateway::Config {
            server: on_localhost(&tls)?,
            database: gateway_db.config.clone(),
            // By name: the certificate says localhost, the replicas are its addresses.
            upstreams: gateway::config::Upstreams { wallet: format!("https://localhost:{wallet_port}"), ..Default::default() },
            internal_auth: internal_auth(),
            ..Default::default()
        })
        .await?;
        let tenant = boomerang_common::tenant::TenantId::parse("acme").map_err(anyhow::Error::msg)?;
        gw.keys().ensure_tenant(&tenant, "Acme").await?;
        let (_, key) = gw.keys().create_key(&tenant, "shop", &["wallet:read".parse().map_err(anyhow::Error::msg)?]).await?;
        let port = gw.local_addr()?.port();
        let stop = CancellationToken::new();
        let (s1, s2) = (stop.clone(), stop.clone());
        tokio::spawn(wallet.run_until(async move { s1.cancelled().await }));
        tokio::spawn(gw.run_until(async move { s2.cancelled().await }));
        let _guard = stop.drop_guard();

        let ca = Certificate::from_pem(std::fs::read(&tls.ca_file)?);
        let verified = ClientTlsConfig::new().ca_certificate(ca).domain_name("localhost");
        let channel = Channel::from_shared(format!("https://localhost:{port}"))?.tls_config(verified)?.connect().await?;
        let mut client = WalletServiceClient::new(channel);
        let mut req = Request::new(GetBalanceRequest { customer_id: "c".into(), ..Default::default() });
        req.metadata_mut().insert("authorization", format!("Bearer {key}").parse()?);
        client.get_balance(req).await?;

        // Plaintext reaches neither port.
        for plain_port in [port, wallet_port] {
            let plain = Channel::from_shared(format!("http://127.0.0.1:{plain_port}"))?.connect().await;
            let answered = match plain {
                Err(_) => false,
                Ok(channel) => WalletServiceClient::new(channel).get_balance(GetBalanceRequest::default()).await.is_ok(),
            };
            assert!(!answered, "plaintext served on {plain_port}");
        }
        Ok(())
    }
}
