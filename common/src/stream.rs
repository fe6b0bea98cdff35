//! Server-streaming responses: the type of the `WatchEvents` and
//! `FollowEvents` RPCs, and the one way a facade's receiver becomes one.
use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::AppError;

/// A boxed stream of messages or a terminal status.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// What `rx` receives as a server stream: each item made a message by
/// `render`, an error the status it maps to (and the stream's end).
pub fn of<T, R>(
    rx: mpsc::Receiver<Result<T, AppError>>,
    render: impl Fn(T) -> R + Send + 'static,
) -> BoxStream<R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    Box::pin(ReceiverStream::new(rx).map(move |e| e.map(&render).map_err(tonic::Status::from)))
}
