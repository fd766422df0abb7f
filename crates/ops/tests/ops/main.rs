//! Operations on real files: disk levels and bounded directories, heartbeats.

mod audit_head;
mod disk;
mod heartbeat;
