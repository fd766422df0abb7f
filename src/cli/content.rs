//! `bianmin content build | check | sign`: the county's content package
//! made from sources staff can edit, checked, and signed with the
//! publisher's key (issue 14). Everything is core's (`package`); this reads
//! the files and says what is wrong, where, in plain Chinese.

use anyhow::{bail, Context};
use bianmin_core::package::{self, Sources, TrustedKey};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Build the package from a source directory (content/package.json and one
    /// JSON file each in catalogue/, forms/ and bundles/), check it, and sign
    /// it when a key is given.
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
            let texts = SourceTexts::read(sources)?;
            let built = match package::build(&texts.sources()) {
                Ok(text) => text,
                Err(err) => {
                    eprintln!("内容包有错，没有生成：{err}");
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
                None => package::check(&String::from_utf8_lossy(&bytes)),
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
                        "内容包可用：版本 {}，{} 个事项，{} 个一件事{}",
                        p.version,
                        p.catalogue.services.len(),
                        p.bundles.bundles.len(),
                        if p.demo_data {
                            "（演示数据）"
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

/// The source files' texts, read from their places in the directory.
struct SourceTexts {
    header: String,
    catalogue: String,
    forms: String,
    bundles: String,
}

impl SourceTexts {
    fn read(dir: &Path) -> anyhow::Result<SourceTexts> {
        Ok(SourceTexts {
            header: read(&dir.join("content").join("package.json"))?,
            catalogue: read(&only_json(&dir.join("catalogue"))?)?,
            forms: read(&only_json(&dir.join("forms"))?)?,
            bundles: read(&only_json(&dir.join("bundles"))?)?,
        })
    }

    fn sources(&self) -> Sources<'_> {
        Sources {
            header: &self.header,
            catalogue: &self.catalogue,
            forms: &self.forms,
            bundles: &self.bundles,
        }
    }
}

/// The one `.json` file of a source folder.
fn only_json(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("找不到源目录 {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("{} 里没有 .json 源文件", dir.display()),
        _ => bail!(
            "{} 里有多个 .json 源文件，只能有一个：{:?}",
            dir.display(),
            found
        ),
    }
}
