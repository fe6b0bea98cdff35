//! JWT authentication at the gateway, with a real upstream wallet-svc, on both backends.
use base64::Engine as _;
use boomerang_common::{
    backend_tests,
    config::ServerConfig,
    testing::{TestDb, channel},
    time::now_micros,
};
use boomerang_proto::wallet::v1::{
    CreditRequest, GetBalanceRequest, wallet_service_client::WalletServiceClient,
};
use gateway::jwt::JwtConfig;
use jsonwebtoken::{EncodingKey, Header, encode};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request};

const SECRET: &[u8] = b"a shared secret of the identity provider, 256 bits!";

fn token(tenant: &str, scope: &str, exp_in_s: i64, secret: &[u8]) -> anyhow::Result<String> {
    let claims = serde_json::json!({
        "sub": "checkout-service",
        "tenant": tenant,
        "scope": scope,
        "iss": "https://idp.example",
        "exp": now_micros() / 1_000_000 + exp_in_s,
    });
    let header = Header {
        kid: Some("k1".into()),
        ..Header::new(jsonwebtoken::Algorithm::HS256)
    };
    Ok(encode(&header, &claims, &EncodingKey::from_secret(secret))?)
}

fn bearer<T>(m: T, token: &str) -> anyhow::Result<Request<T>> {
    let mut req = Request::new(m);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(req)
}

backend_tests! {
    async fn tokens_from_the_identity_provider_are_accepted_by_scope(backend) -> anyhow::Result<()> {
        let (wallet_db, gateway_db) = (TestDb::fresh(backend, "wallet").await?, TestDb::fresh(backend, "gateway").await?);
        let dir = tempfile::tempdir()?;
        let jwks = dir.path().join("jwks.json");
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
        std::fs::write(&jwks, serde_json::json!({ "keys": [{ "kty": "oct", "kid": "k1", "alg": "HS256", "k": k }] }).to_string())?;
        let wallet = wallet_svc::App::build(wallet_svc::Config {
            server: ServerConfig::on("127.0.0.1:0".parse()?),
            database: wallet_db.config.clone(),
            internal_auth: boomerang_common::testing::internal_auth(),
            ..Default::default()
        })
        .await?;
        let gw = gateway::App::build(gateway::Config {
            server: ServerConfig::on("127.0.0.1:0".parse()?),
            database: gateway_db.config.clone(),
            upstreams: gateway::config::Upstreams { wallet: format!("http://{}", wallet.local_addr()?), ..Default::default() },
            jwt: Some(JwtConfig { jwks_file: jwks.display().to_string(), issuer: "https://idp.example".into(), audience: String::new() }),
            internal_auth: boomerang_common::testing::internal_auth(),
            ..Default::default()
        })
        .await?;
        let addr = gw.local_addr()?;
        let stop = CancellationToken::new();
        let (s1, s2) = (stop.clone(), stop.clone());
        tokio::spawn(wallet.run_until(async move { s1.cancelled().await }));
        tokio::spawn(gw.run_until(async move { s2.cancelled().await }));
        let _guard = stop.drop_guard();
        let mut client = WalletServiceClient::new(channel(addr).await?);
        let balance = || GetBalanceRequest { customer_id: "c".into(), ..Default::default() };

        client.get_balance(bearer(balance(), &token("acme", "wallet:read", 60, SECRET)?)?).await?;
        let denied = client.credit(bearer(CreditRequest::default(), &token("acme", "wallet:read", 60, SECRET)?)?).await;
        assert_eq!(denied.err().map(|s| s.code()), Some(Code::PermissionDenied));
        let forged = client.get_balance(bearer(balance(), &token("acme", "wallet:read", 60, b"another secret entirely, 32+ bytes")?)?).await;
        assert_eq!(forged.err().map(|s| s.code()), Some(Code::Unauthenticated));
        let expired = client.get_balance(bearer(balance(), &token("acme", "wallet:read", -120, SECRET)?)?).await;
        assert_eq!(expired.err().map(|s| s.code()), Some(Code::Unauthenticated));
        Ok(())
    }
}
