//! Server-streaming response type shared by the `WatchEvents` RPCs.
use std::pin::Pin;

use futures::Stream;

/// A boxed stream of messages or a terminal status.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;
