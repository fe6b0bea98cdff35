//! Replies are not held back by Nagle's algorithm waiting for the caller's
//! delayed ACK (~40 ms a call): every accepted socket has `TCP_NODELAY`.
//! (suite/tests/latency.rs catches a server that stops using [`incoming`].)
use boomerang_common::{
    config::ServerConfig,
    server::{bind, incoming},
};
use futures::StreamExt as _;

#[tokio::test]
async fn accepted_sockets_have_nodelay() -> anyhow::Result<()> {
    let listener = bind(&ServerConfig::on("127.0.0.1:0".parse()?)).await?;
    let addr = listener.local_addr()?;
    let mut accepted = incoming(listener);
    let _client = tokio::net::TcpStream::connect(addr).await?;
    let socket = accepted
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("nothing accepted"))??;
    assert!(socket.nodelay()?);
    Ok(())
}
