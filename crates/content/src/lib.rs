//! Authoring a county's content package (issue 14, point 5): county staff
//! keep the catalogue and its materials in a spreadsheet (`.xlsx`) and the
//! forms, the 一件事 bundles and the package's texts in TOML files; `build`
//! turns them into core's one canonical package document (`package::assemble`
//! checks it whole), `export` turns a published package back into those
//! sources. Every error names where it is — the sheet, row and column, or the
//! file, line and column — in plain Chinese.
//!
//! The source directory (the shipped demo sources are `config/`):
//!
//! | file | holds |
//! |---|---|
//! | `content/package.toml` | version, 告知承诺 texts, feedback topics, each station's items |
//! | `catalogue/*.xlsx` (one) | sheets 目录, 分类, 事项, 材料 (and 填写说明, which is not read) |
//! | `forms/*.toml` (one) | the field dictionary, the default form, each service's form |
//! | `bundles/*.toml` (one) | the 一件事 bundles and their questionnaires |

pub mod sheet;
mod text;

use bianmin_core::bundle::BundleCatalogue;
use bianmin_core::form::FormsSource;
use bianmin_core::package::{self, PackageDocument, PackageHeader};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a source an error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The file as a whole (missing, unreadable, or the package's consistency).
    File,
    /// A text file's line and column, both from 1.
    Text { line: usize, column: usize },
    /// A spreadsheet cell: row from 1 as the spreadsheet shows it, column
    /// from 0 (shown as its letter), and the column's header when known.
    Cell {
        sheet: String,
        row: u32,
        column: u32,
        header: Option<String>,
    },
}

/// One thing wrong in the sources, for the author who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthoringError {
    pub file: String,
    pub place: Place,
    pub message: String,
}

impl AuthoringError {
    pub fn file(file: &str, message: impl Into<String>) -> AuthoringError {
        AuthoringError {
            file: file.to_string(),
            place: Place::File,
            message: message.into(),
        }
    }
}

/// `A`, `B`, … `Z`, `AA`: a column as the spreadsheet labels it.
pub fn column_letter(mut column: u32) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

impl fmt::Display for AuthoringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::File => write!(f, "{}：{}", self.file, self.message),
            Place::Text { line, column } => write!(
                f,
                "{} 第 {line} 行第 {column} 列：{}",
                self.file, self.message
            ),
            Place::Cell {
                sheet,
                row,
                column,
                header,
            } => {
                write!(
                    f,
                    "{} 工作表「{sheet}」第 {row} 行 {} 列",
                    self.file,
                    column_letter(*column)
                )?;
                if let Some(header) = header {
                    write!(f, "（{header}）")?;
                }
                write!(f, "：{}", self.message)
            }
        }
    }
}

/// Everything wrong in one build, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthoringErrors(pub Vec<AuthoringError>);

impl fmt::Display for AuthoringErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthoringErrors {}

/// The sources' contents with the names they are reported under.
pub struct Sources<'a> {
    pub header: (&'a str, &'a str),
    pub catalogue: (&'a str, &'a [u8]),
    pub forms: (&'a str, &'a str),
    pub bundles: (&'a str, &'a str),
}

/// Build the package document (unsigned, canonical) from the sources, or say
/// everything found wrong in them.
pub fn build(sources: &Sources<'_>) -> Result<String, AuthoringErrors> {
    let mut errors = Vec::new();
    let header: Option<PackageHeader> = text::parse(sources.header.0, sources.header.1)
        .map_err(|e| errors.push(e))
        .ok();
    let catalogue = sheet::read_catalogue(sources.catalogue.0, sources.catalogue.1)
        .map_err(|e| errors.extend(e))
        .ok();
    let forms: Option<FormsSource> = text::parse(sources.forms.0, sources.forms.1)
        .map_err(|e| errors.push(e))
        .ok();
    let bundles: Option<BundleCatalogue> = text::parse(sources.bundles.0, sources.bundles.1)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(header), Some(catalogue), Some(forms), Some(bundles)) =
        (header, catalogue, forms, bundles)
    else {
        return Err(AuthoringErrors(errors));
    };
    package::assemble(header, catalogue, forms, bundles).map_err(|e| {
        AuthoringErrors(vec![AuthoringError::file(
            "内容包",
            format!("{}（{}）", e.words().zh(), e.words().en()),
        )])
    })
}

/// The four source files of a directory.
#[derive(Debug, Clone)]
pub struct SourcePaths {
    pub header: PathBuf,
    pub catalogue: PathBuf,
    pub forms: PathBuf,
    pub bundles: PathBuf,
}

impl SourcePaths {
    /// `content/package.toml` and the one source file of `catalogue/`
    /// (`.xlsx`), `forms/` and `bundles/` (`.toml`).
    pub fn find(dir: &Path) -> Result<SourcePaths, AuthoringErrors> {
        let mut errors = Vec::new();
        let header = dir.join("content").join("package.toml");
        if !header.is_file() {
            errors.push(AuthoringError::file(
                &header.display().to_string(),
                "找不到内容包说明文件",
            ));
        }
        let mut one = |folder: &str, extension: &str| {
            only_file(&dir.join(folder), extension)
                .map_err(|e| errors.push(e))
                .ok()
        };
        let catalogue = one("catalogue", "xlsx");
        let forms = one("forms", "toml");
        let bundles = one("bundles", "toml");
        match (catalogue, forms, bundles) {
            (Some(catalogue), Some(forms), Some(bundles)) if errors.is_empty() => Ok(SourcePaths {
                header,
                catalogue,
                forms,
                bundles,
            }),
            _ => Err(AuthoringErrors(errors)),
        }
    }
}

/// The one `.{extension}` file of a source folder.
fn only_file(dir: &Path, extension: &str) -> Result<PathBuf, AuthoringError> {
    let name = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| AuthoringError::file(&name, format!("找不到源目录（{e}）")))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        // Office's lock files (~$name.xlsx) are not sources.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("~$"))
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(AuthoringError::file(
            &name,
            format!("这里没有 .{extension} 源文件"),
        )),
        _ => Err(AuthoringError::file(
            &name,
            format!(
                "这里有 {} 个 .{extension} 源文件，只能有一个：{}",
                found.len(),
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        )),
    }
}

/// Read the sources of `dir` and build the package document.
pub fn build_dir(dir: &Path) -> Result<String, AuthoringErrors> {
    let paths = SourcePaths::find(dir)?;
    let read_text = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| {
            AuthoringErrors(vec![AuthoringError::file(
                &path.display().to_string(),
                format!("读不出这个文件（{e}）"),
            )])
        })
    };
    let header = read_text(&paths.header)?;
    let forms = read_text(&paths.forms)?;
    let bundles = read_text(&paths.bundles)?;
    let catalogue = std::fs::read(&paths.catalogue).map_err(|e| {
        AuthoringErrors(vec![AuthoringError::file(
            &paths.catalogue.display().to_string(),
            format!("读不出这个文件（{e}）"),
        )])
    })?;
    let names = [
        paths.header.display().to_string(),
        paths.catalogue.display().to_string(),
        paths.forms.display().to_string(),
        paths.bundles.display().to_string(),
    ];
    build(&Sources {
        header: (&names[0], &header),
        catalogue: (&names[1], &catalogue),
        forms: (&names[2], &forms),
        bundles: (&names[3], &bundles),
    })
}

const HEADER_NOTE: &str = "# 内容包说明：版本号、告知承诺文字（default 为通用文字，也可按事项代码单独写）、办不成事反映的选项、各站点提供的事项。\n# 改完后运行 bianmin content build 目录 -o 内容包.json 检查并生成。\n\n";
const FORMS_NOTE: &str = "# 表单：fields 是字段字典（标签、类型、是否必填、长度、提示、显示条件 when），default 是通用表单，services 下按事项代码写各事项的表单。\n\n";
const BUNDLES_NOTE: &str = "# 一件事：每个 [[bundles]] 是一件事，items 是包含的事项代码，questions 是居民回答的问题，选项的 adds/removes 增减事项，reveals 显示后续问题。\n\n";

/// A package's sources as files' contents.
pub struct Exported {
    pub header: String,
    pub catalogue: Vec<u8>,
    pub forms: String,
    pub bundles: String,
}

/// The sources of a package document: what `build` turns back into the same
/// document.
pub fn export(doc: PackageDocument) -> Result<Exported, String> {
    let (header, catalogue, forms, bundles) = doc.into_parts();
    // A line at the top of each file says what it is for whoever opens it.
    Ok(Exported {
        header: text::write(HEADER_NOTE, &header)?,
        catalogue: sheet::write_catalogue(&catalogue)?,
        forms: text::write(FORMS_NOTE, &forms)?,
        bundles: text::write(BUNDLES_NOTE, &bundles)?,
    })
}

/// Write `exported` into `dir` as `content/package.toml`,
/// `catalogue/{stem}catalogue.xlsx`, `forms/{stem}forms.toml` and
/// `bundles/{stem}bundles.toml`; refuses to overwrite or to add a second
/// source to a folder.
pub fn write_dir(exported: &Exported, dir: &Path, stem: &str) -> Result<(), AuthoringErrors> {
    let files: [(PathBuf, &[u8]); 4] = [
        (
            dir.join("content").join("package.toml"),
            exported.header.as_bytes(),
        ),
        (
            dir.join("catalogue").join(format!("{stem}catalogue.xlsx")),
            &exported.catalogue,
        ),
        (
            dir.join("forms").join(format!("{stem}forms.toml")),
            exported.forms.as_bytes(),
        ),
        (
            dir.join("bundles").join(format!("{stem}bundles.toml")),
            exported.bundles.as_bytes(),
        ),
    ];
    let mut errors = Vec::new();
    for (path, _) in &files {
        let folder = path.parent().expect("a file in a folder");
        let extension = path.extension().and_then(|x| x.to_str()).unwrap_or("");
        if only_file(folder, extension).is_ok() || path.exists() {
            errors.push(AuthoringError::file(
                &folder.display().to_string(),
                format!("已经有 .{extension} 源文件，不覆盖；请导出到空目录"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AuthoringErrors(errors));
    }
    for (path, bytes) in files {
        let name = path.display().to_string();
        let folder = path.parent().expect("a file in a folder");
        std::fs::create_dir_all(folder)
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|e| {
                AuthoringErrors(vec![AuthoringError::file(
                    &name,
                    format!("写不进这个文件（{e}）"),
                )])
            })?;
    }
    Ok(())
}
