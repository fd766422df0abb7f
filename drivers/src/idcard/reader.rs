//! The async transport: one command/reply exchange at a time over any
//! `AsyncRead + AsyncWrite` (a tokio-serial port in production), and the
//! polling loop that turns card placement into events.

use super::error::{CardError, SamStatus};
use super::frame::{Command, FrameDecoder, FrameError, Reply};
use super::placement::{AfterFind, AfterRead, CardWatch, PollConfig};
use super::text::{decode_text_block, split_read_payload, Identity};
use crate::id_number;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use tokio::time::{timeout, Instant};

/// How long to wait for replies. The read reply is slow because the SAM
/// decrypts the card (about 1 s on real readers).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub command: Duration,
    pub read: Duration,
    /// Re-sends of a command whose reply failed the checksum.
    pub checksum_retries: u32,
}

impl Timeouts {
    /// Time-outs for a line rate: the 1295-byte read reply alone takes 1.35 s
    /// at 9600 baud, on top of the SAM's own second.
    pub fn for_baud(baud: u32) -> Timeouts {
        let wire = crate::serial::wire_time(1400, baud);
        Timeouts {
            command: Duration::from_millis(800) + crate::serial::wire_time(40, baud) * 2,
            read: Duration::from_millis(1500) + wire + wire / 2,
            checksum_retries: 2,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_millis(800),
            read: Duration::from_millis(2500),
            checksum_retries: 2,
        }
    }
}

/// A reader on one serial link.
pub struct IdCardReader<S> {
    io: S,
    decoder: FrameDecoder,
    pub timeouts: Timeouts,
    /// Send 30 10 (text + photo + fingerprint) instead of 30 01.
    pub with_fingerprint: bool,
}

impl IdCardReader<tokio_serial::SerialStream> {
    /// Open the reader's serial port (inside a tokio runtime).
    pub fn open(path: &str, baud: u32) -> Result<Self, crate::serial::OpenError> {
        let mut reader = crate::serial::open(path, baud).map(IdCardReader::new)?;
        reader.timeouts = Timeouts::for_baud(baud);
        Ok(reader)
    }
}

fn io_err(e: std::io::Error) -> CardError {
    CardError::Io(e.kind().to_string())
}

impl<S: AsyncRead + AsyncWrite + Unpin> IdCardReader<S> {
    pub fn new(io: S) -> Self {
        IdCardReader {
            io,
            decoder: FrameDecoder::new(),
            timeouts: Timeouts::default(),
            with_fingerprint: false,
        }
    }

    /// Throw away whatever is waiting: a late reply to an earlier, timed-out
    /// command would otherwise answer this one.
    async fn drain(&mut self) -> Result<(), CardError> {
        let mut buf = [0u8; 512];
        loop {
            match timeout(Duration::ZERO, self.io.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(CardError::Io("port closed".into())),
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Err(io_err(e)),
                Err(_) => break,
            }
        }
        self.decoder.clear();
        Ok(())
    }

    /// Send one command and wait for its reply frame.
    pub async fn exchange(&mut self, command: Command) -> Result<Reply, CardError> {
        let limit = match command {
            Command::ReadText | Command::ReadTextAndFingerprint => self.timeouts.read,
            _ => self.timeouts.command,
        };
        let mut checksum_failures = 0u32;
        loop {
            self.drain().await?;
            self.io.write_all(&command.encode()).await.map_err(io_err)?;
            self.io.flush().await.map_err(io_err)?;
            match self.await_reply(limit).await? {
                Some(reply) => return Ok(reply),
                None => {
                    checksum_failures += 1;
                    tracing::debug!(?command, checksum_failures, "reply failed checksum");
                    if checksum_failures > self.timeouts.checksum_retries {
                        return Err(CardError::Checksum(checksum_failures));
                    }
                }
            }
        }
    }

    /// `Some(reply)`, or `None` after a frame with a bad checksum.
    async fn await_reply(&mut self, limit: Duration) -> Result<Option<Reply>, CardError> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 2048];
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                match frame {
                    Ok(body) => {
                        return Reply::from_body(&body)
                            .map(Some)
                            .ok_or(CardError::Malformed("reply shorter than its status words"));
                    }
                    Err(FrameError::Checksum { .. }) => return Ok(None),
                }
            }
            let n = match tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await {
                Err(_) => return Err(CardError::Timeout(limit.as_millis() as u64)),
                Ok(Ok(0)) => return Err(CardError::Io("port closed".into())),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(io_err(e)),
            };
            self.decoder.push(&buf[..n]);
        }
    }

    fn check(reply: &Reply) -> Result<(), CardError> {
        match SamStatus::from_sw3(reply.sw3) {
            None => Ok(()),
            Some(status) => Err(CardError::Sam(status)),
        }
    }

    /// SAM status query: the cheap "is the reader alive" probe.
    pub async fn sam_status(&mut self) -> Result<(), CardError> {
        let reply = self.exchange(Command::SamStatus).await?;
        Self::check(&reply)
    }

    /// Whether a card is in the field.
    pub async fn find(&mut self) -> Result<bool, CardError> {
        let reply = self.exchange(Command::FindCard).await?;
        match Self::check(&reply) {
            Ok(()) => Ok(true),
            Err(CardError::Sam(SamStatus::NoCard)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn select(&mut self) -> Result<(), CardError> {
        let reply = self.exchange(Command::SelectCard).await?;
        Self::check(&reply)
    }

    /// Read and decode the selected card. A number failing GB 11643 is an
    /// error: such a card is reported, never trusted.
    pub async fn read(&mut self) -> Result<Identity, CardError> {
        let command = if self.with_fingerprint {
            Command::ReadTextAndFingerprint
        } else {
            Command::ReadText
        };
        let mut reply = self.exchange(command).await?;
        Self::check(&reply)?;
        let result = decode_payload(&reply.data);
        zeroize::Zeroize::zeroize(&mut reply.data);
        result
    }

    /// Find, select and read: one complete read of the card in the field.
    pub async fn read_card(&mut self) -> Result<Identity, CardError> {
        if !self.find().await? {
            return Err(CardError::Sam(SamStatus::NoCard));
        }
        self.select().await?;
        self.read().await
    }

    /// Watch the field and report cards put down and lifted until the link
    /// fails or the receiver goes away; returns the error that ended it.
    ///
    /// One `find` per `interval` (a 10-byte command and a 15-byte reply: a
    /// fraction of a percent of the line at 115200 baud), slowing to
    /// `idle_interval` after `idle_after` without a card; `wake` (the
    /// presence sensor) brings back the fast pace at once.
    pub async fn poll_cards(
        &mut self,
        config: PollConfig,
        events: mpsc::Sender<CardEvent>,
        wake: Option<Arc<Notify>>,
    ) -> CardError {
        let mut watch = CardWatch::new(config, Instant::now().into_std());
        loop {
            if events.is_closed() {
                return CardError::Io("event receiver closed".into());
            }
            let found = match self.find().await {
                Ok(found) => found,
                Err(e) => return e,
            };
            match watch.found(found, Instant::now().into_std()) {
                AfterFind::Read => match self.select_and_read().await {
                    Ok(identity) => {
                        watch.read_done(true);
                        let _ = events.send(CardEvent::Present(Box::new(identity))).await;
                    }
                    Err(e) if e.is_disconnect() || matches!(e, CardError::Timeout(_)) => return e,
                    Err(e) => {
                        if watch.read_done(false) == AfterRead::ReportFailure {
                            tracing::info!(detail = %e.technician_detail(), "card read failed");
                            let _ = events.send(CardEvent::ReadFailed(e)).await;
                        }
                    }
                },
                AfterFind::ConfirmLying => {
                    let answered = self.select().await.is_ok();
                    if watch.still_there(answered) {
                        let _ = events.send(CardEvent::Removed).await;
                    }
                }
                AfterFind::Lifted => {
                    let _ = events.send(CardEvent::Removed).await;
                }
                AfterFind::Wait => {}
            }
            let pace = watch.pace(Instant::now().into_std());
            match &wake {
                Some(notify) => {
                    tokio::select! {
                        _ = tokio::time::sleep(pace) => {}
                        _ = notify.notified() => watch.wake(Instant::now().into_std()),
                    }
                }
                None => tokio::time::sleep(pace).await,
            }
        }
    }

    async fn select_and_read(&mut self) -> Result<Identity, CardError> {
        self.select().await?;
        self.read().await
    }

    /// Bytes received so far that were not part of any frame: a reader that
    /// only ever produces these is not a GA/T 467 reader (wrong port or baud).
    pub fn garbage_bytes(&self) -> u64 {
        self.decoder.discarded() + self.decoder.buffered() as u64
    }

    /// The underlying stream (tests use it to close the link).
    pub fn into_inner(self) -> S {
        self.io
    }
}

/// Decode a successful read reply's data into an identity.
pub fn decode_payload(data: &[u8]) -> Result<Identity, CardError> {
    let (text, photo, fingerprint) =
        split_read_payload(data).ok_or(CardError::Malformed("read reply lengths do not add up"))?;
    let mut identity =
        decode_text_block(text).map_err(|_| CardError::Malformed("text block is not 256 bytes"))?;
    if identity.kind.has_gb11643_number() {
        id_number::validate(&identity.id_number).map_err(CardError::InvalidIdNumber)?;
    }
    identity.photo = photo.to_vec();
    identity.fingerprint = fingerprint.to_vec();
    Ok(identity)
}

/// What the polling loop reports.
#[derive(Debug)]
pub enum CardEvent {
    /// A card was put down and read. Drop the identity when the session ends:
    /// it wipes itself.
    Present(Box<Identity>),
    /// A card was put down but could not be read; shown once per placement.
    ReadFailed(CardError),
    /// The card was lifted.
    Removed,
}
