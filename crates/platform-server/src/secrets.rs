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

/// The platform's private sealing keys (`KID=x25519:BASE64` /
/// `KID=sm2:BASE64` lines): from `file` (owner-only) when given, else from
/// `BIANMIN_PLATFORM_SEAL_KEYS` (the same lines; `;` may separate them),
/// which is then removed from the environment. `None` when neither is set.
pub fn seal_keys(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<bianmin_platform::seal::OpeningKeys>> {
    let text = match file {
        Some(path) => Some(zeroize::Zeroizing::new(read_private(path)?)),
        None => take_env("BIANMIN_PLATFORM_SEAL_KEYS")
            .map(|t| zeroize::Zeroizing::new(t.replace(';', "\n"))),
    };
    let Some(text) = text else {
        return Ok(None);
    };
    bianmin_platform::seal::OpeningKeys::parse(&text)
        .map(Some)
        .map_err(|why| anyhow::anyhow!("sealing keys: {why}"))
}

/// Write a new private sealing key of `suite` as `KID=KEY` to `path`
/// (mode 0600, never over an existing file); returns the public key the
/// kiosks are configured with.
pub fn generate_seal_key(
    path: &std::path::Path,
    suite: bianmin_platform::seal::Suite,
    kid: &str,
) -> anyhow::Result<bianmin_platform::seal::SealingKey> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let key = bianmin_platform::seal::OpeningKey::generate(suite, kid);
    let public = bianmin_platform::seal::SealingKey::parse(&key.sealing_key().to_text(), kid)
        .map_err(|why| anyhow::anyhow!("key id: {why}"))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "{} (an existing key file is never overwritten)",
                path.display()
            )
        })?;
    let line = zeroize::Zeroizing::new(format!("{kid}={}\n", &*key.to_secret_text()));
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| path.display().to_string())?;
    Ok(public)
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

    #[test]
    fn a_generated_seal_key_opens_what_its_public_key_sealed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seal-keys");
        for suite in [
            bianmin_platform::seal::Suite::Intl,
            bianmin_platform::seal::Suite::Gm,
        ] {
            let _ = std::fs::remove_file(&path);
            let public = generate_seal_key(&path, suite, "2026-01").unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(
                generate_seal_key(&path, suite, "2026-02").is_err(),
                "never overwritten"
            );
            let keys = seal_keys(Some(&path)).unwrap().unwrap();
            let env = public.seal(b"aad", b"secret");
            assert_eq!(&keys.open(&env, b"aad").unwrap()[..], b"secret");
        }
    }
}
