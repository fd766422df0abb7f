//! A serial QR scanner simulator: codes are "scanned" by the test or the
//! demo and come out with the configured suffix, optionally in random chunks,
//! repeated like a continuous-mode scanner, or only when triggered.

use super::driver::{HONEYWELL_STOP, HONEYWELL_TRIGGER};
use super::framer::Suffix;
use crate::pty::{Outbox, SimDevice, SimHandle};
use std::collections::VecDeque;
use std::time::Duration;

pub struct ScannerSim {
    pub suffix: Suffix,
    /// Split output into random pieces of 1–9 bytes.
    pub fragments: bool,
    /// Send each code this many times (continuous mode keeps repeating).
    pub repeats: u32,
    /// Only emit codes after a Honeywell trigger command.
    pub trigger_mode: bool,
    triggered: bool,
    queue: VecDeque<Vec<u8>>,
    input: Vec<u8>,
    seed: u64,
    pub triggers: u32,
}

impl Default for ScannerSim {
    fn default() -> Self {
        ScannerSim::new(Suffix::Cr)
    }
}

impl ScannerSim {
    pub fn new(suffix: Suffix) -> ScannerSim {
        ScannerSim {
            suffix,
            fragments: false,
            repeats: 1,
            trigger_mode: false,
            triggered: false,
            queue: VecDeque::new(),
            input: Vec::new(),
            seed: 0x2545_F491_4F6C_DD1D,
            triggers: 0,
        }
    }

    pub fn start(self, baud: Option<u32>) -> std::io::Result<SimHandle<ScannerSim>> {
        SimHandle::start(self, "scanner", baud)
    }

    /// Scan a code (its bytes are sent as they are, then the suffix).
    pub fn scan(&mut self, code: &str) {
        self.scan_bytes(code.as_bytes());
    }

    pub fn scan_bytes(&mut self, payload: &[u8]) {
        for _ in 0..self.repeats.max(1) {
            let mut bytes = payload.to_vec();
            bytes.extend_from_slice(self.suffix.bytes());
            self.queue.push_back(bytes);
        }
    }

    /// Raw bytes straight onto the line (noise, half codes).
    pub fn inject(&mut self, bytes: &[u8]) {
        self.queue.push_back(bytes.to_vec());
    }
}

impl SimDevice for ScannerSim {
    fn on_input(&mut self, bytes: &[u8], _out: &mut Outbox) {
        self.input.extend_from_slice(bytes);
        while self.input.len() >= 3 {
            if self.input[..3] == HONEYWELL_TRIGGER {
                self.triggered = true;
                self.triggers += 1;
                self.input.drain(..3);
            } else if self.input[..3] == HONEYWELL_STOP {
                self.triggered = false;
                self.input.drain(..3);
            } else {
                self.input.remove(0);
            }
        }
    }

    fn on_tick(&mut self, out: &mut Outbox) {
        if self.trigger_mode && !self.triggered {
            return;
        }
        while let Some(bytes) = self.queue.pop_front() {
            if self.fragments {
                self.seed = self
                    .seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                out.send_fragmented(
                    Duration::ZERO,
                    &bytes,
                    Duration::from_micros(500),
                    self.seed,
                );
            } else {
                out.send(bytes);
            }
            if self.trigger_mode {
                // One code per trigger, like a real trigger-mode scanner.
                self.triggered = false;
                break;
            }
        }
    }

    fn on_unplug(&mut self) {
        self.input.clear();
        self.triggered = false;
    }
}
