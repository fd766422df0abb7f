//! Disk space: real statvfs on this machine, thresholds on simulated numbers
//! (a full disk cannot be staged safely on a shared machine), and bounded
//! directories reclaiming space.

use bianmin_ops::disk::{dir_size, Trimmed};
use bianmin_ops::{bound_dir, disk_space, DiskLevel, DiskSpace, DiskThresholds};
use std::time::{Duration, SystemTime};

const MIB: u64 = 1024 * 1024;

#[test]
fn statvfs_reports_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let space = disk_space(dir.path()).unwrap();
    assert!(space.total_bytes > 0);
    assert!(space.free_bytes <= space.total_bytes);
    assert!(disk_space(&dir.path().join("missing")).is_err());
}

#[test]
fn a_filling_disk_warns_then_turns_critical_then_recovers() {
    let t = DiskThresholds::default();
    let at = |free_mib: u64| DiskSpace {
        total_bytes: 32 * 1024 * MIB,
        free_bytes: free_mib * MIB,
    };
    assert_eq!(t.level(at(5000)), DiskLevel::Ok);
    assert_eq!(t.warning(at(5000)), None);
    assert_eq!(t.level(at(800)), DiskLevel::Low);
    let low = t.warning(at(800)).unwrap();
    assert_eq!(low.zh(), "存储空间不足：仅剩 800 MB，请尽快导出并清理");
    assert!(low.en().starts_with("Storage is low: only 800 MB left"));
    assert_eq!(t.level(at(0)), DiskLevel::Critical);
    assert!(t
        .warning(at(0))
        .unwrap()
        .zh()
        .starts_with("存储空间即将用尽"));
    assert_eq!(
        t.level(at(2000)),
        DiskLevel::Ok,
        "recovers once space is freed"
    );
}

#[test]
fn bounded_dir_deletes_oldest_first_and_spares_protected_files() {
    let dir = tempfile::tempdir().unwrap();
    let base = SystemTime::now() - Duration::from_secs(10_000);
    let mut paths = Vec::new();
    for i in 0..5u64 {
        let p = dir.path().join(format!("export-{i}.log"));
        std::fs::write(&p, vec![b'x'; 1000]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(base + Duration::from_secs(i * 100)).unwrap();
        paths.push(p);
    }
    std::fs::create_dir(dir.path().join("subdir")).unwrap();
    // The oldest file is the one being written: it must survive.
    let trimmed = bound_dir(dir.path(), 2500, &[paths[0].as_path()]).unwrap();
    assert_eq!(
        trimmed.removed,
        vec![paths[1].clone(), paths[2].clone(), paths[3].clone()]
    );
    assert_eq!(trimmed.freed_bytes, 3000);
    assert_eq!(trimmed.remaining_bytes, 2000);
    assert!(paths[0].exists() && paths[4].exists());
    assert_eq!(dir_size(dir.path()), 2000);

    // Under the limit nothing happens; a missing directory is empty.
    assert_eq!(bound_dir(dir.path(), 10_000, &[]).unwrap().removed.len(), 0);
    assert_eq!(
        bound_dir(&dir.path().join("nope"), 0, &[]).unwrap(),
        Trimmed::default()
    );
}
