//! The watchdog pings only while the UI event loop beats: a dead loop stops
//! the pings (systemd then restarts the kiosk), a recovered loop resumes them.
//! Messages are caught on a real notify socket, as systemd would receive them.
//!
//! One test function only: it sets NOTIFY_SOCKET for the whole process.

use bianmin_ops::{LoopHealth, Notifier, Watchdog, WatchdogDecision};
use bianmin_testkit::notify_messages;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

#[test]
fn watchdog_follows_the_event_loop_and_notify_is_a_noop_without_systemd() {
    // Without NOTIFY_SOCKET every call succeeds and does nothing.
    std::env::remove_var("NOTIFY_SOCKET");
    let notifier = Notifier;
    assert!(!notifier.is_active());
    notifier.ready().unwrap();
    notifier.watchdog().unwrap();
    notifier.status("x").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_nonblocking(true).unwrap();
    std::env::set_var("NOTIFY_SOCKET", &path);
    assert!(notifier.is_active());

    notifier.ready().unwrap();
    notifier.status("就绪\n第二行").unwrap();
    assert_eq!(
        notify_messages(&sock),
        ["READY=1\n", "STATUS=就绪 第二行\n"]
    );

    // WatchdogSec=30 as in the unit.
    let wd = Watchdog::for_timeout(Duration::from_secs(30));
    assert_eq!(wd.ping_every, Duration::from_secs(10));
    assert_eq!(wd.max_loop_stall, Duration::from_secs(20));

    let health = LoopHealth::new();
    let t0 = Instant::now();
    health.beat_at(t0);
    assert_eq!(
        wd.tick(&health, &notifier, t0 + Duration::from_secs(10)),
        WatchdogDecision::Ping
    );
    assert_eq!(notify_messages(&sock), ["WATCHDOG=1\n"]);

    // The loop freezes: after 20 s without a beat the ping is withheld and the
    // stall is reported in systemctl status.
    let frozen = t0 + Duration::from_secs(21);
    // Beats are kept at millisecond resolution, hence the tolerance.
    match wd.tick(&health, &notifier, frozen) {
        WatchdogDecision::Withhold { stalled_for } => {
            assert!(stalled_for.abs_diff(Duration::from_secs(21)) < Duration::from_millis(2))
        }
        other => panic!("{other:?}"),
    }
    let sent = notify_messages(&sock);
    assert!(!sent.iter().any(|m| m.contains("WATCHDOG=1")), "{sent:?}");
    assert!(
        sent.iter().any(|m| m.starts_with("STATUS=界面无响应")),
        "{sent:?}"
    );

    // The loop beats again (in production: systemd restarted the kiosk).
    health.beat_at(frozen + Duration::from_secs(1));
    assert_eq!(
        wd.tick(&health, &notifier, frozen + Duration::from_secs(2)),
        WatchdogDecision::Ping
    );
    assert_eq!(notify_messages(&sock), ["WATCHDOG=1\n"]);

    // WATCHDOG_USEC is how systemd passes WatchdogSec.
    std::env::set_var("WATCHDOG_USEC", "30000000");
    std::env::remove_var("WATCHDOG_PID");
    assert_eq!(Watchdog::from_env(), Some(wd));
    std::env::remove_var("WATCHDOG_USEC");
    assert_eq!(Watchdog::from_env(), None);
    std::env::remove_var("NOTIFY_SOCKET");
}
