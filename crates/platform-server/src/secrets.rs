//! Secrets for the platform binaries: never from the command line (any
//! local user reads `/proc/PID/cmdline`), from files only their owner can
//! read, or from variables taken out of the environment once read.

use std::collections::HashMap;

/// Read a secret-bearing file, refusing one that others may read.
pub fn read_private(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context as _;
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).with_context(|| path.display().to_string())?;
    if meta.mode() & 0o077 != 0 {
        anyhow::bail!(
            "{} is readable by group or others (mode {:o}); chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        );
    }
    std::fs::read_to_string(path).with_context(|| path.display().to_string())
}

/// `ID=SECRET` lines; blank lines and `#` comments are skipped. Errors name
/// the line, never the secret.
pub fn parse_terminals(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut secrets = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((id, secret)) if !id.trim().is_empty() && !secret.trim().is_empty() => {
                secrets.insert(id.trim().to_string(), secret.trim().to_string());
            }
            _ => anyhow::bail!("line {}: expected ID=SECRET", n + 1),
        }
    }
    Ok(secrets)
}

/// Take a variable out of the environment (nothing started later inherits it).
pub fn take_env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|s| !s.is_empty());
    // Callers take variables in main, before any thread is started.
    std::env::remove_var(name);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_file_lines() {
        let map = parse_terminals("# fleet\nT0001=abc\n\n T0002 = d=e \n").unwrap();
        assert_eq!(map.get("T0001").map(String::as_str), Some("abc"));
        assert_eq!(map.get("T0002").map(String::as_str), Some("d=e"));
        let err = parse_terminals("T0001=abc\nT0002\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("abc"), "the error never shows a secret");
    }

    #[test]
    fn a_secrets_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminals");
        std::fs::write(&path, "T0001=abc\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&path).unwrap(), "T0001=abc\n");
    }
}
