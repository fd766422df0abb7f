//! When a card lies on the reader, when it was lifted, and how fast to poll:
//! the decisions of the polling loop as a state machine fed with what the
//! reader answered and the time, with no I/O of its own (like the codecs).
//! [`IdCardReader::poll_cards`](super::IdCardReader::poll_cards) is the thin
//! loop that asks the reader and follows these answers.

use std::time::{Duration, Instant};

/// Pace of the polling loop.
#[derive(Debug, Clone, Copy)]
pub struct PollConfig {
    pub interval: Duration,
    pub idle_interval: Duration,
    pub idle_after: Duration,
    /// Reads tried per placement before waiting for the card to be lifted.
    pub max_attempts: u32,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            interval: Duration::from_millis(300),
            idle_interval: Duration::from_millis(1000),
            idle_after: Duration::from_secs(60),
            max_attempts: 3,
        }
    }
}

/// What lies on the reader, as far as the loop knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Empty,
    /// Read and reported; stays reported until lifted.
    Read,
    /// Failed this many times since the card was put down.
    Failed(u32),
}

/// What the loop does after a `find`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFind {
    /// Select and read the card, then report the outcome with [`CardWatch::read_done`].
    Read,
    /// The card just read was not found: some SAMs do not "find" a card they
    /// have read while it still lies there. Select it and report with
    /// [`CardWatch::still_there`].
    ConfirmLying,
    /// The card was lifted: report it.
    Lifted,
    /// Nothing to do until the next poll.
    Wait,
}

/// What the loop reports after a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRead {
    /// Report the card's identity.
    Present,
    /// Report the failure: only the first failure of a placement is shown.
    ReportFailure,
    /// A retry failed again: say nothing more.
    Quiet,
}

/// The polling loop's state.
#[derive(Debug, Clone)]
pub struct CardWatch {
    config: PollConfig,
    placement: Placement,
    last_activity: Instant,
}

impl CardWatch {
    pub fn new(config: PollConfig, now: Instant) -> CardWatch {
        CardWatch {
            config,
            placement: Placement::Empty,
            last_activity: now,
        }
    }

    /// The reader answered a `find`.
    pub fn found(&mut self, card_in_field: bool, now: Instant) -> AfterFind {
        if card_in_field {
            self.last_activity = now;
            return match self.placement {
                Placement::Empty => AfterFind::Read,
                Placement::Failed(n) if n < self.config.max_attempts => AfterFind::Read,
                _ => AfterFind::Wait,
            };
        }
        match self.placement {
            Placement::Empty => AfterFind::Wait,
            Placement::Read => AfterFind::ConfirmLying,
            Placement::Failed(_) => {
                self.placement = Placement::Empty;
                AfterFind::Lifted
            }
        }
    }

    /// The read that [`AfterFind::Read`] asked for ended (a lost link ends
    /// the loop instead and never reaches here).
    pub fn read_done(&mut self, succeeded: bool) -> AfterRead {
        if succeeded {
            self.placement = Placement::Read;
            return AfterRead::Present;
        }
        let failures = match self.placement {
            Placement::Failed(n) => n,
            _ => 0,
        };
        self.placement = Placement::Failed(failures + 1);
        if failures == 0 {
            AfterRead::ReportFailure
        } else {
            AfterRead::Quiet
        }
    }

    /// The select that [`AfterFind::ConfirmLying`] asked for ended: `true`
    /// if the card still answered. Returns whether to report it lifted.
    pub fn still_there(&mut self, answered: bool) -> bool {
        if answered {
            return false;
        }
        self.placement = Placement::Empty;
        true
    }

    /// The presence sensor saw someone: poll fast again.
    pub fn wake(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// How long to wait before the next `find`: slower once the reader has
    /// been empty and nobody came for a while.
    pub fn pace(&self, now: Instant) -> Duration {
        let idle = now.saturating_duration_since(self.last_activity) > self.config.idle_after;
        if self.placement == Placement::Empty && idle {
            self.config.idle_interval
        } else {
            self.config.interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> (CardWatch, Instant) {
        let now = Instant::now();
        (CardWatch::new(PollConfig::default(), now), now)
    }

    #[test]
    fn a_card_put_down_is_read_once_and_lifted_once() {
        let (mut w, t) = watch();
        assert_eq!(w.found(false, t), AfterFind::Wait);
        assert_eq!(w.found(true, t), AfterFind::Read);
        assert_eq!(w.read_done(true), AfterRead::Present);
        // Lying there: found again, nothing more to read or report.
        assert_eq!(w.found(true, t), AfterFind::Wait);
        // Not found but still selectable: a SAM quirk, not a lift.
        assert_eq!(w.found(false, t), AfterFind::ConfirmLying);
        assert!(!w.still_there(true));
        assert_eq!(w.found(false, t), AfterFind::ConfirmLying);
        assert!(w.still_there(false), "gone for good: report it lifted");
        assert_eq!(w.found(false, t), AfterFind::Wait);
        // The next card is read again.
        assert_eq!(w.found(true, t), AfterFind::Read);
    }

    #[test]
    fn a_card_that_cannot_be_read_is_retried_and_reported_once() {
        let (mut w, t) = watch();
        let max = PollConfig::default().max_attempts;
        for attempt in 0..max {
            assert_eq!(w.found(true, t), AfterFind::Read, "attempt {attempt}");
            let expected = if attempt == 0 {
                AfterRead::ReportFailure
            } else {
                AfterRead::Quiet
            };
            assert_eq!(w.read_done(false), expected);
        }
        // Out of attempts: wait for the card to be lifted.
        assert_eq!(w.found(true, t), AfterFind::Wait);
        assert_eq!(w.found(false, t), AfterFind::Lifted);
        assert_eq!(
            w.found(true, t),
            AfterFind::Read,
            "put down again: a fresh try"
        );
    }

    #[test]
    fn a_retry_that_succeeds_reports_the_card() {
        let (mut w, t) = watch();
        assert_eq!(w.found(true, t), AfterFind::Read);
        assert_eq!(w.read_done(false), AfterRead::ReportFailure);
        assert_eq!(w.found(true, t), AfterFind::Read);
        assert_eq!(w.read_done(true), AfterRead::Present);
        assert_eq!(w.found(true, t), AfterFind::Wait);
    }

    #[test]
    fn polling_slows_when_idle_and_a_wake_brings_the_pace_back() {
        let (mut w, t) = watch();
        let config = PollConfig::default();
        assert_eq!(w.pace(t), config.interval);
        let later = t + config.idle_after + Duration::from_secs(1);
        assert_eq!(w.pace(later), config.idle_interval);
        w.wake(later);
        assert_eq!(w.pace(later), config.interval);
        // A card on the reader keeps the fast pace however long it lies there.
        assert_eq!(w.found(true, later), AfterFind::Read);
        w.read_done(true);
        let much_later = later + config.idle_after * 10;
        assert_eq!(w.pace(much_later), config.interval);
    }
}
