//! `bianmin content build | check | sign`: the county's content package
//! made from sources staff can edit, checked, and signed with the
//! publisher's key (issue 14). The sources are read by `bianmin-content`
//! (spreadsheet and TOML, errors by sheet, row and column or line and
//! column, in plain Chinese); checking and signing are core's (`package`).

use anyhow::Context;
use bianmin_core::package::{self, TrustedKey};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Build the package from a source directory (content/package.toml, the
    /// catalogue spreadsheet catalogue/*.xlsx, and one TOML file each in
    /// forms/ and bundles/), check it, and sign it when a key is given.
    Build {
        /// The source directory (the shipped demo sources are in `config/`).
        #[arg(value_name = "SRC")]
        sources: PathBuf,
        /// Where the package is written.
        #[arg(short, long, value_name = "PACKAGE")]
        out: PathBuf,
        /// Sign with this key file (`ed25519:BASE64` of the secret seed).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The key id the kiosks know the key by.
        #[arg(long, default_value = package::DEMO_KEY_ID)]
        key_id: String,
    },
    /// Check a package: a signed one against a publisher's public key, an
    /// unsigned one for consistency only.
    Check {
        #[arg(value_name = "PACKAGE")]
        package: PathBuf,
        /// The publisher's public key (`ed25519:BASE64`), as in `[content] public_key`.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Write a package's sources (the catalogue spreadsheet and the TOML
    /// files) into an empty directory, to edit and build again.
    Export {
        #[arg(value_name = "PACKAGE")]
        package: PathBuf,
        /// The directory the sources are written into.
        #[arg(short, long, value_name = "DIR")]
        out: PathBuf,
        /// Prefix of the file names (`demo-` gives demo-catalogue.xlsx …).
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Sign a built package with a key file.
    Sign {
        #[arg(value_name = "PACKAGE")]
        package: PathBuf,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, default_value = package::DEMO_KEY_ID)]
        key_id: String,
        #[arg(short, long, value_name = "SIGNED")]
        out: PathBuf,
    },
}

pub fn run(command: &ContentCommand) -> anyhow::Result<ExitCode> {
    match command {
        ContentCommand::Build {
            sources,
            out,
            key,
            key_id,
        } => {
            let built = match bianmin_content::build_dir(sources) {
                Ok(text) => text,
                Err(errors) => {
                    eprintln!("内容包有错，没有生成：\n{errors}");
                    return Ok(ExitCode::from(1));
                }
            };
            let written = match key {
                Some(key) => package::sign(&built, key_id, &read(key)?)
                    .map_err(|e| anyhow::anyhow!("签名失败 (signing failed): {e}"))?,
                None => built,
            };
            bianmin_fs::write_atomic(out, written.as_bytes(), 0o644, None)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        ContentCommand::Check {
            package: path,
            public_key,
        } => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let result = match public_key {
                Some(key) => {
                    let trusted = TrustedKey::parse(key, "")
                        .map_err(|e| anyhow::anyhow!("公钥无效 (bad public key): {e}"))?;
                    package::open(&bytes, &[trusted])
                }
                // No key: consistency only, of a signed package's document
                // or a bare build (the signature is not verified, and the
                // line printed says so).
                None => package::document_of(&String::from_utf8_lossy(&bytes))
                    .and_then(package::check_document),
            };
            // A package may not promise what this kiosk cannot do.
            let result = result.and_then(|p| {
                let promises = package::missing_capabilities(
                    &p.catalogue,
                    &bianmin_ops::devices::KIOSK_CAPABILITIES,
                );
                match promises.into_iter().next() {
                    Some(first) => Err(first),
                    None => Ok(p),
                }
            });
            match result {
                Ok(p) => {
                    println!(
                        "内容包可用：版本 {}，{} 个事项，{} 个一件事{}{}",
                        p.version,
                        p.catalogue.services.len(),
                        p.bundles.bundles.len(),
                        if p.demo_data {
                            "（演示数据）"
                        } else {
                            ""
                        },
                        if public_key.is_none() {
                            "；未核验签名（加 --public-key 核验）"
                        } else {
                            ""
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("内容包不能使用：{err}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        ContentCommand::Export {
            package: path,
            out,
            prefix,
        } => {
            let doc = package::document_of(&read(path)?)
                .map_err(|e| anyhow::anyhow!("不是内容包 (not a content package): {e}"))?;
            let exported = bianmin_content::export(doc)
                .map_err(|e| anyhow::anyhow!("导出失败 (export failed): {e}"))?;
            if let Err(errors) = bianmin_content::write_dir(&exported, out, prefix) {
                eprintln!("没有导出：\n{errors}");
                return Ok(ExitCode::from(1));
            }
            println!("{}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        ContentCommand::Sign {
            package: path,
            key,
            key_id,
            out,
        } => {
            let text = read(path)?;
            let signed = package::sign(&text, key_id, &read(key)?)
                .map_err(|e| anyhow::anyhow!("签名失败 (signing failed): {e}"))?;
            bianmin_fs::write_atomic(out, signed.as_bytes(), 0o644, None)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
