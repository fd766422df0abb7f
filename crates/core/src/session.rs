//! The resident session: when it starts, when it warns, when it ends.
//!
//! Pure state machine driven by whole-second ticks from the UI's timer, so it
//! behaves the same under a real clock and under the testing backend's mocked
//! time. The controller wipes every view model that held resident data when
//! this machine says the session ended.

/// What the screen should show about the session right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPhase {
    /// Nobody is using the terminal: attract screen.
    Idle,
    /// A resident is using the terminal.
    Active,
    /// The resident has not touched the screen for a while: a countdown
    /// overlay offers "继续办理"; `remaining` seconds are left.
    Warning { remaining: u32 },
}

/// Something the controller must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    Started,
    WarningShown {
        remaining: u32,
    },
    WarningTick {
        remaining: u32,
    },
    /// The session is over: wipe resident data and return to the attract screen.
    Ended(EndReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Finished,
    TimedOut,
    CardRemoved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    /// Seconds without a touch before the warning appears.
    pub idle_secs: u32,
    /// Seconds the warning lasts (≥ 20, WCAG 2.2.1).
    pub countdown_secs: u32,
}

#[derive(Debug, Clone)]
pub struct Session {
    phase: SessionPhase,
    idle_for: u32,
    policy: IdlePolicy,
}

impl Session {
    pub fn new(policy: IdlePolicy) -> Session {
        Session {
            phase: SessionPhase::Idle,
            idle_for: 0,
            policy: IdlePolicy {
                idle_secs: policy.idle_secs.max(1),
                countdown_secs: policy.countdown_secs.max(20),
            },
        }
    }

    pub fn phase(&self) -> SessionPhase {
        self.phase
    }

    pub fn is_active(&self) -> bool {
        self.phase != SessionPhase::Idle
    }

    /// Large-font mode changes the policy mid-session; the idle count so far is kept.
    pub fn set_policy(&mut self, policy: IdlePolicy) {
        self.policy = IdlePolicy {
            idle_secs: policy.idle_secs.max(1),
            countdown_secs: policy.countdown_secs.max(20),
        };
    }

    /// Any touch, key, card or scan. Starts a session from idle and cancels a warning.
    pub fn touch(&mut self) -> Option<SessionEvent> {
        self.idle_for = 0;
        match self.phase {
            SessionPhase::Idle => {
                self.phase = SessionPhase::Active;
                Some(SessionEvent::Started)
            }
            SessionPhase::Warning { .. } => {
                self.phase = SessionPhase::Active;
                None
            }
            SessionPhase::Active => None,
        }
    }

    /// One second passed without a touch.
    pub fn tick(&mut self) -> Option<SessionEvent> {
        match self.phase {
            SessionPhase::Idle => None,
            SessionPhase::Active => {
                self.idle_for = self.idle_for.saturating_add(1);
                if self.idle_for >= self.policy.idle_secs {
                    let remaining = self.policy.countdown_secs;
                    self.phase = SessionPhase::Warning { remaining };
                    Some(SessionEvent::WarningShown { remaining })
                } else {
                    None
                }
            }
            SessionPhase::Warning { remaining } => {
                let remaining = remaining.saturating_sub(1);
                if remaining == 0 {
                    Some(self.end(EndReason::TimedOut))
                } else {
                    self.phase = SessionPhase::Warning { remaining };
                    Some(SessionEvent::WarningTick { remaining })
                }
            }
        }
    }

    /// End the session now ("退出", card lifted, or time-out).
    pub fn end(&mut self, reason: EndReason) -> SessionEvent {
        self.phase = SessionPhase::Idle;
        self.idle_for = 0;
        SessionEvent::Ended(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> IdlePolicy {
        IdlePolicy {
            idle_secs: 5,
            countdown_secs: 20,
        }
    }

    #[test]
    fn idle_terminal_never_times_out() {
        let mut session = Session::new(policy());
        for _ in 0..1000 {
            assert_eq!(session.tick(), None);
        }
    }

    #[test]
    fn warning_then_end_after_idle_plus_countdown() {
        let mut session = Session::new(policy());
        assert_eq!(session.touch(), Some(SessionEvent::Started));
        let events: Vec<_> = (0..25).filter_map(|_| session.tick()).collect();
        assert_eq!(events[0], SessionEvent::WarningShown { remaining: 20 });
        assert_eq!(events[1], SessionEvent::WarningTick { remaining: 19 });
        assert_eq!(
            *events.last().unwrap(),
            SessionEvent::Ended(EndReason::TimedOut)
        );
        assert_eq!(events.len(), 21);
        assert_eq!(session.phase(), SessionPhase::Idle);
    }

    #[test]
    fn touch_during_warning_continues_the_session() {
        let mut session = Session::new(policy());
        session.touch();
        (0..7).for_each(|_| {
            session.tick();
        });
        assert!(matches!(session.phase(), SessionPhase::Warning { .. }));
        assert_eq!(session.touch(), None);
        assert_eq!(session.phase(), SessionPhase::Active);
        (0..4).for_each(|_| assert_eq!(session.tick(), None));
    }

    #[test]
    fn countdown_is_never_shorter_than_twenty_seconds() {
        let mut session = Session::new(IdlePolicy {
            idle_secs: 1,
            countdown_secs: 3,
        });
        session.touch();
        assert_eq!(
            session.tick(),
            Some(SessionEvent::WarningShown { remaining: 20 })
        );
    }
}
