//! Free space on the file system holding a path: the one statvfs of the
//! workspace (the outbox refuses to write into a full disk, the operations
//! screen and heartbeats report it).

use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

/// Space on the file system holding a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSpace {
    pub total_bytes: u64,
    /// Available to the (unprivileged) kiosk user, i.e. without the blocks
    /// reserved for root: that is what the kiosk can actually use.
    pub free_bytes: u64,
}

/// Space on the file system holding `path` (statvfs).
// c_ulong and fsblkcnt_t are u32 on 32-bit Raspberry Pi OS, u64 here.
#[allow(clippy::useless_conversion)]
pub fn disk_space(path: &Path) -> io::Result<DiskSpace> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    // Block counts are in fragment-size units (POSIX f_frsize).
    let unit = u64::from(st.fragment_size());
    let (blocks, available) = (u64::from(st.blocks()), u64::from(st.blocks_available()));
    Ok(DiskSpace {
        total_bytes: blocks.saturating_mul(unit),
        free_bytes: available.saturating_mul(unit),
    })
}
