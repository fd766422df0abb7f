//! GPIO: presence sensor, call-staff button, status LED, buzzer.
//!
//! Inputs become [`GpioEvent`]s on an mpsc channel; outputs go through the
//! [`GpioOutputs`] trait. Two backends: [`SimGpio`] (tests, demo, non-Pi
//! machines) and `RpiGpio` (rppal, BCM numbering, only with the `rpi`
//! feature). A `gpiocdev` backend for other boards would implement the same.
//!
//! **The waking touch.** When the screen is blank, the motion or touch that
//! wakes it must not also press whatever button sits under the finger.
//! [`WakeGuard`] is the rule, kept here so that every front end applies the
//! same one: presence events carry `screen_was_asleep`, and the UI asks
//! [`WakeGuard::swallow_touch`] for every touch; it answers true for the
//! first touch on a sleeping screen and for touches within a short grace
//! period after a presence-triggered wake (the hand that set off the sensor
//! is usually already on its way to the glass).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// BCM pin numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpioPins {
    pub presence: u8,
    pub call_staff: u8,
    pub led: u8,
    pub buzzer: u8,
}

impl Default for GpioPins {
    fn default() -> Self {
        GpioPins {
            presence: 17,
            call_staff: 27,
            led: 22,
            buzzer: 23,
        }
    }
}

/// Something happened on an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpioEvent {
    /// The presence sensor changed. `screen_was_asleep` is filled in by
    /// [`WakeGuard::on_presence`]; raw backends report `false`.
    Presence {
        present: bool,
        screen_was_asleep: bool,
    },
    /// The physical call-staff (帮办) button was pressed (debounced). A
    /// physical button press is deliberate, so it counts even on a blank screen.
    CallStaff,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpioError {
    #[error("GPIO not available: {0}")]
    Unavailable(String),
}

/// What the kiosk drives.
pub trait GpioOutputs: Send {
    fn set_led(&mut self, on: bool) -> Result<(), GpioError>;
    fn set_buzzer(&mut self, on: bool) -> Result<(), GpioError>;
}

/// The waking-touch rule (sans-IO; the UI owns one).
#[derive(Debug, Clone)]
pub struct WakeGuard {
    asleep: bool,
    swallow_next: bool,
    woken_at: Option<Instant>,
    pub grace: Duration,
}

impl Default for WakeGuard {
    fn default() -> Self {
        WakeGuard {
            asleep: false,
            swallow_next: false,
            woken_at: None,
            grace: Duration::from_millis(800),
        }
    }
}

impl WakeGuard {
    /// The screen went blank (idle time-out).
    pub fn on_sleep(&mut self) {
        self.asleep = true;
        self.swallow_next = true;
    }

    /// A presence edge; returns the event with `screen_was_asleep` set.
    pub fn on_presence(&mut self, present: bool, now: Instant) -> GpioEvent {
        let was_asleep = self.asleep;
        if present && was_asleep {
            self.asleep = false;
            self.woken_at = Some(now);
        }
        GpioEvent::Presence {
            present,
            screen_was_asleep: was_asleep,
        }
    }

    /// Whether this touch only wakes the screen and must not reach a button.
    pub fn swallow_touch(&mut self, now: Instant) -> bool {
        if self.asleep || self.swallow_next {
            self.asleep = false;
            if self.swallow_next {
                self.swallow_next = false;
                return true;
            }
        }
        self.woken_at
            .is_some_and(|t| now.saturating_duration_since(t) < self.grace)
    }
}

/// Simulated GPIO: tests and the demo "press" inputs; outputs are recorded.
#[derive(Clone)]
pub struct SimGpio {
    events: mpsc::Sender<GpioEvent>,
    led: Arc<AtomicBool>,
    buzzer: Arc<AtomicBool>,
}

impl SimGpio {
    pub fn new(events: mpsc::Sender<GpioEvent>) -> SimGpio {
        SimGpio {
            events,
            led: Arc::new(AtomicBool::new(false)),
            buzzer: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn presence(&self, present: bool) {
        let _ = self.events.try_send(GpioEvent::Presence {
            present,
            screen_was_asleep: false,
        });
    }

    pub fn press_call_staff(&self) {
        let _ = self.events.try_send(GpioEvent::CallStaff);
    }

    pub fn led(&self) -> bool {
        self.led.load(Ordering::SeqCst)
    }

    pub fn buzzer(&self) -> bool {
        self.buzzer.load(Ordering::SeqCst)
    }
}

impl GpioOutputs for SimGpio {
    fn set_led(&mut self, on: bool) -> Result<(), GpioError> {
        self.led.store(on, Ordering::SeqCst);
        Ok(())
    }
    fn set_buzzer(&mut self, on: bool) -> Result<(), GpioError> {
        self.buzzer.store(on, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(feature = "rpi")]
pub use rpi::RpiGpio;

/// Whether the hardware GPIO backend can claim these pins now (for `doctor`).
/// The pins are released again before this returns.
pub fn probe(pins: GpioPins) -> Result<(), GpioError> {
    #[cfg(feature = "rpi")]
    {
        let (tx, _rx) = mpsc::channel(1);
        RpiGpio::open(pins, tx).map(|_| ())
    }
    #[cfg(not(feature = "rpi"))]
    {
        let _ = pins;
        Err(GpioError::Unavailable(
            "this build has no Raspberry Pi GPIO support (cargo feature `rpi`)".into(),
        ))
    }
}

#[cfg(feature = "rpi")]
mod rpi {
    use super::{GpioError, GpioEvent, GpioOutputs, GpioPins};
    use rppal::gpio::{Gpio, InputPin, OutputPin, Trigger};
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// rppal backend. The input pins are held for the whole run: dropping
    /// one clears its interrupt.
    pub struct RpiGpio {
        _presence: InputPin,
        _call_staff: InputPin,
        led: OutputPin,
        buzzer: OutputPin,
    }

    fn err(e: rppal::gpio::Error) -> GpioError {
        GpioError::Unavailable(e.to_string())
    }

    impl RpiGpio {
        /// Claim the pins. On a non-Pi machine this fails with
        /// `Unavailable` (rppal's UnknownModel), never panics.
        pub fn open(pins: GpioPins, events: mpsc::Sender<GpioEvent>) -> Result<RpiGpio, GpioError> {
            let gpio = Gpio::new().map_err(err)?;
            let mut presence = gpio.get(pins.presence).map_err(err)?.into_input_pulldown();
            let tx = events.clone();
            presence
                .set_async_interrupt(Trigger::Both, Some(Duration::from_millis(30)), move |ev| {
                    let present = ev.trigger == Trigger::RisingEdge;
                    let _ = tx.try_send(GpioEvent::Presence {
                        present,
                        screen_was_asleep: false,
                    });
                })
                .map_err(err)?;
            // Button to ground with the internal pull-up: pressed = falling edge.
            let mut call_staff = gpio.get(pins.call_staff).map_err(err)?.into_input_pullup();
            call_staff
                .set_async_interrupt(
                    Trigger::FallingEdge,
                    Some(Duration::from_millis(50)),
                    move |_| {
                        let _ = events.try_send(GpioEvent::CallStaff);
                    },
                )
                .map_err(err)?;
            let led = gpio.get(pins.led).map_err(err)?.into_output_low();
            let buzzer = gpio.get(pins.buzzer).map_err(err)?.into_output_low();
            Ok(RpiGpio {
                _presence: presence,
                _call_staff: call_staff,
                led,
                buzzer,
            })
        }
    }

    impl GpioOutputs for RpiGpio {
        fn set_led(&mut self, on: bool) -> Result<(), GpioError> {
            if on {
                self.led.set_high()
            } else {
                self.led.set_low()
            }
            Ok(())
        }
        fn set_buzzer(&mut self, on: bool) -> Result<(), GpioError> {
            if on {
                self.buzzer.set_high()
            } else {
                self.buzzer.set_low()
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waking_touch_is_swallowed_once() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut g = WakeGuard::default();
        assert!(!g.swallow_touch(t0));
        g.on_sleep();
        // Touch wakes the screen: swallowed; the next one is real.
        assert!(g.swallow_touch(t0));
        assert!(!g.swallow_touch(t0 + ms(10)));
        // Presence wakes it: the event says so, touches in the grace period are swallowed.
        g.on_sleep();
        let ev = g.on_presence(true, t0 + ms(100));
        assert_eq!(
            ev,
            GpioEvent::Presence {
                present: true,
                screen_was_asleep: true
            }
        );
        assert!(g.swallow_touch(t0 + ms(300)));
        assert!(!g.swallow_touch(t0 + ms(1000)));
        assert_eq!(
            g.on_presence(true, t0 + ms(2000)),
            GpioEvent::Presence {
                present: true,
                screen_was_asleep: false
            }
        );
    }

    #[tokio::test]
    async fn sim_gpio_events_and_outputs() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut gpio = SimGpio::new(tx);
        gpio.press_call_staff();
        gpio.presence(true);
        assert_eq!(rx.recv().await, Some(GpioEvent::CallStaff));
        assert!(matches!(
            rx.recv().await,
            Some(GpioEvent::Presence { present: true, .. })
        ));
        gpio.set_led(true).unwrap();
        assert!(gpio.led());
        gpio.set_buzzer(true).unwrap();
        assert!(gpio.buzzer());
    }
}
