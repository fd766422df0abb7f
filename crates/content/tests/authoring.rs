//! Authoring end to end: the shipped sources in `config/` build the shipped
//! demo package byte for byte; a package exported to sources builds back to
//! itself; a spreadsheet or TOML file with mistakes is refused with each
//! mistake's sheet, row and column (or line and column) in plain Chinese.

use bianmin_content::{build, build_dir, export, write_dir, AuthoringErrors, Place, Sources};
use bianmin_core::package::{self, document_of, DEMO_KEY_ID, DEMO_PACKAGE_JSON};
use rust_xlsxwriter::Workbook;
use std::path::Path;

fn config_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"))
}

#[test]
fn the_shipped_sources_build_the_demo_package_byte_for_byte() {
    let built = build_dir(config_dir()).unwrap_or_else(|e| panic!("{e}"));
    let key = std::fs::read_to_string(config_dir().join("content/demo-signing.key")).unwrap();
    let signed = package::sign(&built, DEMO_KEY_ID, &key).unwrap();
    assert!(
        signed == DEMO_PACKAGE_JSON,
        "config/content/demo-package.json is not what the sources in config/ build: \
         run `bianmin content build config --key config/content/demo-signing.key -o config/content/demo-package.json`"
    );
}

#[test]
fn an_exported_package_builds_back_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let doc = document_of(DEMO_PACKAGE_JSON).unwrap();
    let text = package::document_of(DEMO_PACKAGE_JSON)
        .map(|d| serde_json::to_string_pretty(&d).unwrap() + "\n")
        .unwrap();
    write_dir(&export(doc).unwrap(), dir.path(), "").unwrap();
    assert!(dir.path().join("catalogue/catalogue.xlsx").is_file());
    assert_eq!(build_dir(dir.path()).unwrap(), text);
    // A second export into the same place would leave two sources.
    let again = export(document_of(DEMO_PACKAGE_JSON).unwrap()).unwrap();
    let refused = write_dir(&again, dir.path(), "other-").unwrap_err();
    assert!(refused.to_string().contains("不覆盖"), "{refused}");
}

/// A workbook of the given sheets, every cell text.
fn workbook(sheets: &[(&str, Vec<Vec<&str>>)]) -> Vec<u8> {
    let mut book = Workbook::new();
    for (name, rows) in sheets {
        let sheet = book.add_worksheet().set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                if !value.is_empty() {
                    sheet.write_string(r as u32, c as u16, *value).unwrap();
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn sources_with(catalogue: &[u8], forms: &str) -> Result<String, AuthoringErrors> {
    let exported = export(document_of(DEMO_PACKAGE_JSON).unwrap()).unwrap();
    build(&Sources {
        header: ("content/package.toml", &exported.header),
        catalogue: ("catalogue/县目录.xlsx", catalogue),
        forms: ("forms/forms.toml", forms),
        bundles: ("bundles/bundles.toml", &exported.bundles),
    })
}

fn demo_forms() -> String {
    export(document_of(DEMO_PACKAGE_JSON).unwrap())
        .unwrap()
        .forms
}

#[test]
fn a_spreadsheet_with_mistakes_names_each_sheet_row_and_column() {
    let info = vec![
        vec!["项目", "内容"],
        vec!["格式版本", "1"],
        vec!["目录版本", "2026.12.1"],
    ];
    let categories = vec![
        vec!["分类代码", "分类名称", "英文名称", "图标字"],
        vec!["social-security", "社会保障", "Social security", "社"],
    ];
    let mut services_header = vec![
        "事项代码",
        "分类",
        "事项名称",
        "实施部门",
        "简介",
        "承诺时限",
        "收费",
        "送达方式",
        "告知承诺",
        "热度",
    ];
    let good = vec![
        "X-001",
        "社会保障",
        "社会保障卡申领",
        "县人社局",
        "申领社保卡",
        "即时办结",
        "不收费",
        "服务站领取、邮寄",
        "否",
        "90",
    ];
    let bad = vec![
        "X-002",
        "no-such-category",
        "社保卡挂失",
        "县人社局",
        "",
        "即时办结",
        "不收费",
        "快递",
        "可以",
        "很高",
    ];
    let services = vec![services_header.clone(), good.clone(), bad];
    let materials = vec![
        vec!["事项代码", "材料名称", "份数", "关键材料", "可用电子证照"],
        vec!["X-001", "居民身份证", "原件1份", "是", "是"],
        vec!["X-404", "户口簿", "原件1份", "是", "否"],
    ];
    let book = workbook(&[
        ("目录", info.clone()),
        ("分类", categories.clone()),
        ("事项", services),
        ("材料", materials.clone()),
    ]);
    let errors = sources_with(&book, &demo_forms()).unwrap_err();
    let text = errors.to_string();
    for expected in [
        "catalogue/县目录.xlsx 工作表「事项」第 3 行 B 列（分类）：分类表里没有「no-such-category」这个分类",
        "工作表「事项」第 3 行 E 列（简介）：这一格必须填写",
        "工作表「事项」第 3 行 H 列（送达方式）：不认识「快递」，只能填：服务站领取、邮寄、电子送达",
        "工作表「事项」第 3 行 I 列（告知承诺）：应填「是」或「否」，这里是「可以」",
        "工作表「事项」第 3 行 J 列（热度）：应是0 到 100 的整数，这里是「很高」",
        "工作表「材料」第 3 行 A 列（事项代码）：事项表里没有事项代码「X-404」",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(errors
        .0
        .iter()
        .all(|e| matches!(e.place, Place::Cell { .. })));

    // An unknown column and a missing required one are named at the header.
    services_header[9] = "人气";
    services_header.remove(6);
    let book = workbook(&[
        ("目录", info.clone()),
        ("分类", categories.clone()),
        ("事项", vec![services_header]),
        ("材料", materials.clone()),
    ]);
    let text = sources_with(&book, &demo_forms()).unwrap_err().to_string();
    assert!(
        text.contains("第 1 行 I 列：不认识的列名「人气」"),
        "{text}"
    );
    assert!(text.contains("缺少列「收费」"), "{text}");

    // A missing sheet, and a file that is no spreadsheet at all.
    let book = workbook(&[("目录", info), ("分类", categories)]);
    let text = sources_with(&book, &demo_forms()).unwrap_err().to_string();
    assert!(text.contains("缺少工作表「事项」"), "{text}");
    let text = sources_with(b"not a workbook", &demo_forms())
        .unwrap_err()
        .to_string();
    assert!(text.contains("不是能读的 .xlsx 表格文件"), "{text}");
}

/// A workbook that would unpack to more than the bound is refused before
/// it is read (the demo workbook against a bound of one byte).
#[test]
fn a_workbook_that_unpacks_too_large_is_refused_unread() {
    let exported = export(document_of(DEMO_PACKAGE_JSON).unwrap()).unwrap();
    let errors =
        bianmin_content::sheet::read_catalogue_within("县目录.xlsx", &exported.catalogue, 1)
            .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("解压后"), "{}", errors[0]);
    assert!(bianmin_content::sheet::read_catalogue("县目录.xlsx", &exported.catalogue).is_ok());
}

#[test]
fn a_toml_mistake_names_its_line_and_column_and_a_consistency_error_its_reason() {
    let forms = demo_forms();
    let at = forms.find("schema = 1").unwrap();
    let line = forms[..at].matches('\n').count() + 2;
    let broken = forms.replacen("schema = 1", "schema = 1\nfields = oops", 1);
    let exported = export(document_of(DEMO_PACKAGE_JSON).unwrap()).unwrap();
    let errors = sources_with(&exported.catalogue, &broken).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert_eq!(
        errors.0[0].place,
        Place::Text { line, column: 10 },
        "{errors}"
    );
    assert!(
        errors
            .to_string()
            .starts_with(&format!("forms/forms.toml 第 {line} 行第 10 列：格式不对")),
        "{errors}"
    );

    // Well-formed, but a form for a service the catalogue does not have.
    let stray = format!("{forms}\n[[services.NO-SUCH-SERVICE]]\nkey = \"applicant.note\"\n");
    let text = sources_with(&exported.catalogue, &stray)
        .unwrap_err()
        .to_string();
    assert!(text.contains("NO-SUCH-SERVICE"), "{text}");
    assert!(text.contains("内容包不一致"), "{text}");
}
