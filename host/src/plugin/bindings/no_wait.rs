//! `wasi:io` (poll and streams) for plugins called without a fiber: the
//! streams and pollables of wasmtime-wasi, where a call that would wait
//! traps instead.
//!
//! wasmtime calls a component synchronously (no fiber, no stack switch)
//! only if none of the host functions it imports is asynchronous, and
//! wasmtime-wasi's waiting `wasi:io` functions (`pollable.block`,
//! `output-stream.blocking-flush`, the streams' destructors, …) are: Rust
//! plugins import some of them through std's stdout and stderr. Their
//! synchronous versions in wasmtime-wasi start a Tokio runtime to wait,
//! which panics on a Tokio worker. A hook must not wait anyway: it holds
//! its connector's instance while it waits, and its deadline counts only
//! running code. So here a waiting call whose answer is not ready at once
//! traps, the hook faults and its default applies. What a sandboxed plugin
//! has never waits: stdin is closed, stdout and stderr are discarded.
//! Sleeping (a clock's pollable) is the one thing a plugin could wait
//! for, and it is a fault now rather than a stalled connector.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::p2::bindings::io::error;
use wasmtime_wasi::p2::bindings::io::{poll as waiting_poll, streams as waiting_streams};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamError, StreamResult};

use waiting_poll::{Host as WaitingPoll, HostPollable as WaitingPollable};
use waiting_streams::{
    Host as WaitingStreams, HostInputStream as WaitingInput, HostOutputStream as WaitingOutput,
};

/// Adds `wasi:io` (error, poll, streams) to `linker`, every function synchronous.
pub fn add_to_linker<T: WasiView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    // Nothing in `error` waits: wasmtime-wasi's own serves it.
    error::add_to_linker::<T, Table>(linker, |state| state.ctx().table)?;
    poll::add_to_linker::<T, Io>(linker, |state| NoWait(state.ctx().table))?;
    streams::add_to_linker::<T, Io>(linker, |state| NoWait(state.ctx().table))?;
    Ok(())
}

/// `wasi:io/error` as wasmtime-wasi serves it, on the table.
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}

/// `wasi:io/poll` and `wasi:io/streams` through [`NoWait`].
struct Io;

impl HasData for Io {
    type Data<'a> = NoWait<'a>;
}

/// A store's resource table, answering `wasi:io` without waiting.
pub struct NoWait<'a>(&'a mut ResourceTable);

/// The output of `future` if it is ready at once, else a trap naming `call`.
///
/// Polled twice: a deadline already past (`subscribe-duration(0)`, an
/// instant gone by) is ready, but wasmtime-wasi's future for it yields to
/// the runtime once before it says so.
fn at_once<F: Future>(call: &str, future: F) -> wasmtime::Result<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..2 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Ok(output);
        }
    }
    Err(wasmtime::Error::msg(format!(
        "`{call}` would wait, and a hook may not wait (it runs to completion)"
    )))
}

/// Drops a stream with `drop`, which takes it out of the table first and
/// then cancels what it has in flight: a plugin's streams never have any,
/// and one that would wait is forgotten rather than waited for. A stream
/// that cannot leave the table (a pollable of it still lives) is the
/// plugin's error, as in wasmtime-wasi.
fn drop_stream<F>(call: &str, drop: F) -> wasmtime::Result<()>
where
    F: Future<Output = wasmtime::Result<()>>,
{
    at_once(call, drop).unwrap_or(Ok(()))
}

/// Like [`at_once`], for calls that answer with a stream result.
fn stream_at_once<T, F>(call: &str, future: F) -> StreamResult<T>
where
    F: Future<Output = StreamResult<T>>,
{
    at_once(call, future).map_err(StreamError::Trap)?
}

impl poll::Host for NoWait<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        at_once("poll", WaitingPoll::poll(self.0, pollables))?
    }
}

impl poll::HostPollable for NoWait<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // `ready` itself never waits: it looks once.
        at_once("pollable.ready", WaitingPollable::ready(self.0, pollable))?
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        at_once("pollable.block", WaitingPollable::block(self.0, pollable))?
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        WaitingPollable::drop(self.0, pollable)
    }
}

impl streams::Host for NoWait<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        Ok(WaitingStreams::convert_stream_error(self.0, err)?.into())
    }
}

impl streams::HostOutputStream for NoWait<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        drop_stream("output-stream.drop", WaitingOutput::drop(self.0, stream))
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        WaitingOutput::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        WaitingOutput::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        stream_at_once(
            "output-stream.blocking-write-and-flush",
            WaitingOutput::blocking_write_and_flush(self.0, stream, bytes),
        )
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        stream_at_once(
            "output-stream.blocking-write-zeroes-and-flush",
            WaitingOutput::blocking_write_zeroes_and_flush(self.0, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        WaitingOutput::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        WaitingOutput::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        WaitingOutput::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        stream_at_once(
            "output-stream.blocking-flush",
            WaitingOutput::blocking_flush(self.0, stream),
        )
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        WaitingOutput::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        stream_at_once(
            "output-stream.blocking-splice",
            WaitingOutput::blocking_splice(self.0, dst, src, len),
        )
    }
}

impl streams::HostInputStream for NoWait<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        drop_stream("input-stream.drop", WaitingInput::drop(self.0, stream))
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        WaitingInput::read(self.0, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        stream_at_once(
            "input-stream.blocking-read",
            WaitingInput::blocking_read(self.0, stream, len),
        )
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        WaitingInput::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        stream_at_once(
            "input-stream.blocking-skip",
            WaitingInput::blocking_skip(self.0, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        WaitingInput::subscribe(self.0, stream)
    }
}
