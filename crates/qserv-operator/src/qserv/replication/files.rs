//! Contribution files as byte streams.

use bytes::Bytes;
use futures::Stream;

/// A file as a stream of 1 MiB pieces, read on the blocking pool (bounded memory).
pub fn file_chunks(
    path: std::path::PathBuf,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    const PIECE: usize = 1 << 20;
    futures::stream::unfold(None::<std::fs::File>, move |file| {
        let path = path.clone();
        async move {
            let result = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut file = match file {
                    Some(f) => f,
                    None => std::fs::File::open(&path)?,
                };
                let mut buf = vec![0u8; PIECE];
                let n = file.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((Bytes::from(buf), file))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match result {
                Ok((bytes, _)) if bytes.is_empty() => None,
                Ok((bytes, file)) => Some((Ok(bytes), Some(file))),
                // Ends the stream after the error: a second open would restart at byte 0.
                Err(e) => Some((Err(e), None)),
            }
        }
    })
    .take_while_ok()
}

/// Stops a stream after its first error (inclusive).
trait TakeWhileOk: Stream + Sized {
    fn take_while_ok(self) -> futures::stream::BoxStream<'static, Self::Item>;
}

impl<S, T> TakeWhileOk for S
where
    S: Stream<Item = std::io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    fn take_while_ok(self) -> futures::stream::BoxStream<'static, Self::Item> {
        use futures::StreamExt;
        let mut failed = false;
        self.take_while(move |item| {
            let keep = !failed;
            failed = item.is_err();
            futures::future::ready(keep)
        })
        .boxed()
    }
}
