//! Operations on real files: disk levels and bounded directories, heartbeats.

mod disk;
mod heartbeat;
