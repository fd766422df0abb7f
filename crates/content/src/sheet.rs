//! The catalogue as a spreadsheet county staff edit: sheets 目录 (the
//! catalogue's version and notice), 分类, 事项 (one row a service) and 材料
//! (one row a material, in order, under its service's code). Columns are
//! found by their header, so an author may reorder them; a sheet
//! 填写说明 explains every column and is not read.
//!
//! Cells: lists of sentences (受理条件, 法定依据, 办理流程) one per line in
//! the cell; keywords and choices (送达方式, 需要的设备, 可选状态) separated
//! by 、 or a new line; yes/no as 是 or 否.

use crate::{AuthoringError, Place};
use bianmin_core::catalogue::{
    Capability, Catalogue, Category, Delivery, Material, MaterialState, Service, SCHEMA_VERSION,
};
use calamine::{Data, Reader as _};
use std::collections::BTreeMap;
use std::io::Cursor;

pub const SHEET_INFO: &str = "目录";
pub const SHEET_CATEGORIES: &str = "分类";
pub const SHEET_SERVICES: &str = "事项";
pub const SHEET_MATERIALS: &str = "材料";
pub const SHEET_HELP: &str = "填写说明";

/// A column: its header, whether a row must fill it, what goes in it.
struct Column {
    header: &'static str,
    required: bool,
    help: &'static str,
}

const fn col(header: &'static str, required: bool, help: &'static str) -> Column {
    Column {
        header,
        required,
        help,
    }
}

const INFO_KEYS: [Column; 4] = [
    col("格式版本", true, "目录格式的版本号，现在是 1"),
    col("目录版本", true, "本目录的版本，例如 2026.12.1"),
    col("演示数据", false, "是：演示用的虚构数据；正式目录填 否"),
    col("提示", false, "终端首页上方的提示语，可不填"),
];

const CATEGORY_COLUMNS: [Column; 4] = [
    col("分类代码", true, "英文小写和连字符，例如 social-security"),
    col("分类名称", true, "中文名称"),
    col("英文名称", false, "英文界面显示的名称"),
    col("图标字", true, "首页分类按钮上画的一个字"),
];

const SERVICE_COLUMNS: [Column; 25] = [
    col("事项代码", true, "本县唯一的事项代码，材料表按它对应"),
    col("分类", true, "分类表里的分类代码或分类名称"),
    col("事项名称", true, "中文名称"),
    col("英文名称", false, "英文界面显示的名称"),
    col("实施部门", true, "负责办理的部门"),
    col("简介", true, "一两句话说明这件事"),
    col("关键词", false, "居民可能搜的词，用、隔开"),
    col("受理条件", false, "每行一条"),
    col("承诺时限", true, "本县承诺的办理时限，例如 即时办结"),
    col("法定时限", false, "法律规定的时限"),
    col("收费", true, "不收费，或收费标准和依据"),
    col("法定依据", false, "每行一条，写明条款"),
    col("送达方式", true, "服务站领取、邮寄、电子送达，用、隔开"),
    col("告知承诺", false, "是：可用承诺代替部分证明；不填为 否"),
    col("容缺受理", false, "是：非关键材料可后补；不填为 否"),
    col("需要核验身份", false, "否：无需刷身份证即可办理；不填为 是"),
    col("热度", false, "0 到 100 的整数，越大越靠前"),
    col(
        "需要的设备",
        false,
        "办理需要的终端设备：身份证读卡器、扫码器、打印机、摄像头、缴费、人脸核验",
    ),
    col("国家事项编码", false, "全国一体化平台的事项编码"),
    col("办理地点", false, "办理地点和窗口"),
    col("办理时间", false, "窗口办公时间"),
    col(
        "咨询电话",
        false,
        "请把这一列设为文本格式，以免丢掉开头的 0",
    ),
    col("投诉电话", false, "监督投诉电话"),
    col("办理流程", false, "每行一步"),
    col("到现场次数", false, "0 表示零跑动；不填表示不说"),
];

const MATERIAL_COLUMNS: [Column; 8] = [
    col("事项代码", true, "这份材料属于事项表里的哪个事项"),
    col("材料名称", true, "同一事项里不能重名"),
    col("份数", true, "例如 原件1份"),
    col("关键材料", true, "是：容缺受理时也不能缺"),
    col("可用电子证照", true, "是：可调取电子证照代替"),
    col("说明", false, "给居民看的说明"),
    col(
        "可选状态",
        false,
        "居民可选的提交方式：现场提交、电子证照、待核验、容缺后补、告知承诺，用、隔开；不填按事项规则",
    ),
    col("补交天数", false, "容缺后补的材料几个工作日内补交"),
];

const DELIVERY: [(Delivery, &str); 3] = [
    (Delivery::Station, "服务站领取"),
    (Delivery::Mail, "邮寄"),
    (Delivery::Electronic, "电子送达"),
];

const STATES: [(MaterialState, &str); 5] = [
    (MaterialState::Provided, "现场提交"),
    (MaterialState::ECertFetched, "电子证照"),
    (MaterialState::PendingVerification, "待核验"),
    (MaterialState::Missing, "容缺后补"),
    (MaterialState::Committed, "告知承诺"),
];

/// Collects errors with their cell; each row reads through it.
struct Errors<'a> {
    file: &'a str,
    found: Vec<AuthoringError>,
}

impl Errors<'_> {
    fn at(&mut self, sheet: &str, row: u32, column: u32, header: Option<&str>, message: String) {
        // A broken sheet could give thousands; the first ones say enough.
        if self.found.len() < 100 {
            self.found.push(AuthoringError {
                file: self.file.to_string(),
                place: Place::Cell {
                    sheet: sheet.to_string(),
                    row,
                    column,
                    header: header.map(str::to_string),
                },
                message,
            });
        }
    }

    fn whole(&mut self, message: String) {
        self.found.push(AuthoringError::file(self.file, message));
    }
}

/// One data row of a sheet, its cells found by header.
struct Row<'a> {
    sheet: &'static str,
    number: u32,
    cells: BTreeMap<&'static str, (u32, &'a Data)>,
}

impl Row<'_> {
    fn text(&self, header: &'static str, errors: &mut Errors<'_>) -> String {
        let Some(&(column, data)) = self.cells.get(header) else {
            return String::new();
        };
        let bad = |errors: &mut Errors<'_>, why: String| {
            errors.at(self.sheet, self.number, column, Some(header), why);
            String::new()
        };
        match data {
            Data::Empty => String::new(),
            Data::String(s) => s.replace("\r\n", "\n").trim().to_string(),
            Data::Int(i) => i.to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(true) => "是".into(),
            Data::Bool(false) => "否".into(),
            Data::DateTime(_) | Data::DateTimeIso(_) | Data::DurationIso(_) => bad(
                errors,
                "这一格被表格软件当成了日期或时间，请把它设为文本格式后重新填写".into(),
            ),
            Data::Error(e) => bad(errors, format!("这一格是公式错误（{e}），请改成文字")),
        }
    }

    fn required(&self, header: &'static str, errors: &mut Errors<'_>) -> String {
        let text = self.text(header, errors);
        if text.is_empty() {
            let column = self.cells.get(header).map_or(0, |c| c.0);
            errors.at(
                self.sheet,
                self.number,
                column,
                Some(header),
                "这一格必须填写".into(),
            );
        }
        text
    }

    fn complain(&self, header: &'static str, errors: &mut Errors<'_>, message: String) {
        let column = self.cells.get(header).map_or(0, |c| c.0);
        errors.at(self.sheet, self.number, column, Some(header), message);
    }

    fn lines(&self, header: &'static str, errors: &mut Errors<'_>) -> Vec<String> {
        self.text(header, errors)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn words(&self, header: &'static str, errors: &mut Errors<'_>) -> Vec<String> {
        self.text(header, errors)
            .split(['\n', '、', ',', '，', ';', '；'])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn yes_no(&self, header: &'static str, empty: bool, errors: &mut Errors<'_>) -> bool {
        match self.text(header, errors).as_str() {
            "" => empty,
            "是" | "TRUE" | "true" | "1" => true,
            "否" | "FALSE" | "false" | "0" => false,
            other => {
                self.complain(
                    header,
                    errors,
                    format!("应填「是」或「否」，这里是「{other}」"),
                );
                empty
            }
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        header: &'static str,
        range: &str,
        errors: &mut Errors<'_>,
    ) -> Option<T> {
        let text = self.text(header, errors);
        if text.is_empty() {
            return None;
        }
        match text.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.complain(header, errors, format!("应是{range}，这里是「{text}」"));
                None
            }
        }
    }

    fn choices<T: Copy>(
        &self,
        header: &'static str,
        options: &[(T, &str)],
        errors: &mut Errors<'_>,
    ) -> Vec<T> {
        let mut chosen = Vec::new();
        for word in self.words(header, errors) {
            match options.iter().find(|(_, label)| *label == word) {
                Some(&(value, _)) => chosen.push(value),
                None => {
                    let allowed: Vec<&str> = options.iter().map(|(_, l)| *l).collect();
                    self.complain(
                        header,
                        errors,
                        format!("不认识「{word}」，只能填：{}", allowed.join("、")),
                    );
                }
            }
        }
        chosen
    }
}

/// The data rows of a sheet whose first non-empty row is its header.
fn rows<'a>(
    sheet: &'static str,
    range: &'a calamine::Range<Data>,
    columns: &[Column],
    errors: &mut Errors<'_>,
) -> Vec<Row<'a>> {
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut all = range
        .rows()
        .enumerate()
        .map(|(i, cells)| (first_row + i as u32 + 1, cells))
        .filter(|(_, cells)| cells.iter().any(|c| !matches!(c, Data::Empty)));
    let Some((header_row, header_cells)) = all.next() else {
        errors.whole(format!("工作表「{sheet}」是空的"));
        return Vec::new();
    };
    let mut by_header: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut positions: Vec<(u32, &'static str)> = Vec::new();
    for (i, cell) in header_cells.iter().enumerate() {
        let column = first_column + i as u32;
        let title = match cell {
            Data::String(s) => s.trim(),
            Data::Empty => continue,
            _ => "",
        };
        match columns.iter().find(|c| c.header == title) {
            Some(c) if by_header.contains_key(c.header) => errors.at(
                sheet,
                header_row,
                column,
                None,
                format!("列「{title}」出现了两次"),
            ),
            Some(c) => {
                by_header.insert(c.header, column);
                positions.push((column, c.header));
            }
            None => errors.at(
                sheet,
                header_row,
                column,
                None,
                format!(
                    "不认识的列名「{}」，可用的列名：{}",
                    if title.is_empty() {
                        "(不是文字)"
                    } else {
                        title
                    },
                    columns
                        .iter()
                        .map(|c| c.header)
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            ),
        }
    }
    for c in columns.iter().filter(|c| c.required) {
        if !by_header.contains_key(c.header) {
            errors.at(
                sheet,
                header_row,
                first_column,
                None,
                format!("缺少列「{}」", c.header),
            );
        }
    }
    all.map(|(number, cells)| Row {
        sheet,
        number,
        cells: positions
            .iter()
            .filter_map(|&(column, header)| {
                cells
                    .get((column - first_column) as usize)
                    .map(|data| (header, (column, data)))
            })
            .collect(),
    })
    .collect()
}

/// What a workbook may unpack to. A county's catalogue of thousands of
/// items is a few MB of sheet XML; one that says it unpacks to more is
/// refused before it is read (a "zip bomb" uploaded to the console would
/// otherwise fill its memory).
pub const MAX_UNPACKED_BYTES: u64 = 64 << 20;

/// Read the catalogue from a workbook's bytes (`file` names it in errors).
pub fn read_catalogue(file: &str, bytes: &[u8]) -> Result<Catalogue, Vec<AuthoringError>> {
    read_catalogue_within(file, bytes, MAX_UNPACKED_BYTES)
}

/// [`read_catalogue`] with the unpacked-size bound given.
pub fn read_catalogue_within(
    file: &str,
    bytes: &[u8],
    max_unpacked: u64,
) -> Result<Catalogue, Vec<AuthoringError>> {
    let mut errors = Errors {
        file,
        found: Vec::new(),
    };
    if let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(bytes)) {
        let unpacked: u64 = (0..archive.len())
            .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
            .fold(0u64, u64::saturating_add);
        if unpacked > max_unpacked {
            errors.whole(format!(
                "表格文件解压后有 {} MB，超过了 {} MB 的上限，不是正常的事项目录",
                unpacked >> 20,
                max_unpacked >> 20
            ));
            return Err(errors.found);
        }
    }
    let mut workbook = match calamine::Xlsx::new(Cursor::new(bytes)) {
        Ok(workbook) => workbook,
        Err(e) => {
            errors.whole(format!("不是能读的 .xlsx 表格文件（{e}）"));
            return Err(errors.found);
        }
    };
    let mut sheet =
        |name: &'static str, errors: &mut Errors<'_>| match workbook.worksheet_range(name) {
            Ok(range) => Some(range),
            Err(_) => {
                errors.whole(format!("缺少工作表「{name}」"));
                None
            }
        };
    let info = sheet(SHEET_INFO, &mut errors);
    let categories = sheet(SHEET_CATEGORIES, &mut errors);
    let services = sheet(SHEET_SERVICES, &mut errors);
    let materials = sheet(SHEET_MATERIALS, &mut errors);
    let (Some(info), Some(categories), Some(services), Some(materials)) =
        (info, categories, services, materials)
    else {
        return Err(errors.found);
    };

    let mut catalogue = Catalogue {
        schema: SCHEMA_VERSION,
        version: String::new(),
        demo_data: false,
        notice: String::new(),
        categories: Vec::new(),
        services: Vec::new(),
    };
    read_info(&info, &mut catalogue, &mut errors);
    for row in rows(
        SHEET_CATEGORIES,
        &categories,
        &CATEGORY_COLUMNS,
        &mut errors,
    ) {
        catalogue.categories.push(Category {
            code: row.required("分类代码", &mut errors),
            name: row.required("分类名称", &mut errors),
            name_en: row.text("英文名称", &mut errors),
            glyph: row.required("图标字", &mut errors),
        });
    }
    let mut row_of: BTreeMap<String, u32> = BTreeMap::new();
    for row in rows(SHEET_SERVICES, &services, &SERVICE_COLUMNS, &mut errors) {
        let service = read_service(&row, &catalogue.categories, &mut errors);
        if let Some(first) = row_of.insert(service.code.clone(), row.number) {
            row.complain(
                "事项代码",
                &mut errors,
                format!("事项代码「{}」和第 {first} 行重复", service.code),
            );
        }
        catalogue.services.push(service);
    }
    for row in rows(SHEET_MATERIALS, &materials, &MATERIAL_COLUMNS, &mut errors) {
        let code = row.required("事项代码", &mut errors);
        let material = read_material(&row, &mut errors);
        match catalogue.services.iter_mut().find(|s| s.code == code) {
            Some(service) => service.materials.push(material),
            None if code.is_empty() => {}
            None => row.complain(
                "事项代码",
                &mut errors,
                format!("事项表里没有事项代码「{code}」"),
            ),
        }
    }
    if errors.found.is_empty() {
        Ok(catalogue)
    } else {
        Err(errors.found)
    }
}

/// 目录: one row a setting, its name in the first column and its value in
/// the second.
fn read_info(range: &calamine::Range<Data>, catalogue: &mut Catalogue, errors: &mut Errors<'_>) {
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut seen = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        let number = first_row + i as u32 + 1;
        let key = match cells.first() {
            Some(Data::String(s)) => s.trim().to_string(),
            _ => continue,
        };
        if key == "项目" {
            continue; // the header row
        }
        let Some(column) = INFO_KEYS.iter().find(|c| c.header == key) else {
            errors.at(
                SHEET_INFO,
                number,
                first_column,
                None,
                format!(
                    "不认识的项目「{key}」，可用的项目：{}",
                    INFO_KEYS
                        .iter()
                        .map(|c| c.header)
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            );
            continue;
        };
        seen.push(column.header);
        let value = Data::Empty;
        let row = Row {
            sheet: SHEET_INFO,
            number,
            cells: [(
                column.header,
                (first_column + 1, cells.get(1).unwrap_or(&value)),
            )]
            .into_iter()
            .collect(),
        };
        match column.header {
            "格式版本" => {
                if let Some(schema) = row.number::<u32>(column.header, "整数", errors) {
                    catalogue.schema = schema;
                }
            }
            "目录版本" => catalogue.version = row.required(column.header, errors),
            "演示数据" => catalogue.demo_data = row.yes_no(column.header, false, errors),
            _ => catalogue.notice = row.text(column.header, errors),
        }
    }
    for c in INFO_KEYS.iter().filter(|c| c.required) {
        if !seen.contains(&c.header) {
            errors.whole(format!("工作表「{SHEET_INFO}」缺少项目「{}」", c.header));
        }
    }
}

fn read_service(row: &Row<'_>, categories: &[Category], errors: &mut Errors<'_>) -> Service {
    let category = row.required("分类", errors);
    // A category may be written by its code or its Chinese name.
    let category = categories
        .iter()
        .find(|c| c.code == category || c.name == category)
        .map_or(category.clone(), |c| c.code.clone());
    if !category.is_empty() && !categories.iter().any(|c| c.code == category) {
        row.complain(
            "分类",
            errors,
            format!("分类表里没有「{category}」这个分类"),
        );
    }
    let capabilities: Vec<(Capability, &str)> =
        Capability::ALL.iter().map(|&c| (c, c.label_zh())).collect();
    Service {
        code: row.required("事项代码", errors),
        category,
        name: row.required("事项名称", errors),
        name_en: row.text("英文名称", errors),
        department: row.required("实施部门", errors),
        summary: row.required("简介", errors),
        keywords: row.words("关键词", errors),
        conditions: row.lines("受理条件", errors),
        materials: Vec::new(),
        time_limit: row.required("承诺时限", errors),
        fee: row.required("收费", errors),
        basis: row.lines("法定依据", errors),
        delivery: row.choices("送达方式", &DELIVERY, errors),
        commitment: row.yes_no("告知承诺", false, errors),
        tolerant: row.yes_no("容缺受理", false, errors),
        needs_identity: row.yes_no("需要核验身份", true, errors),
        popularity: match row.number::<u8>("热度", "0 到 100 的整数", errors) {
            Some(n) if n > 100 => {
                row.complain(
                    "热度",
                    errors,
                    format!("应是 0 到 100 的整数，这里是「{n}」"),
                );
                0
            }
            n => n.unwrap_or(0),
        },
        needs: row.choices("需要的设备", &capabilities, errors),
        item_code: row.text("国家事项编码", errors),
        legal_time_limit: row.text("法定时限", errors),
        place: row.text("办理地点", errors),
        hours: row.text("办理时间", errors),
        consult_phone: row.text("咨询电话", errors),
        complaint_phone: row.text("投诉电话", errors),
        process: row.lines("办理流程", errors),
        visits: row.number("到现场次数", "0 到 255 的整数", errors),
    }
}

fn read_material(row: &Row<'_>, errors: &mut Errors<'_>) -> Material {
    Material {
        name: row.required("材料名称", errors),
        copies: row.required("份数", errors),
        key: row.yes_no("关键材料", false, errors),
        e_cert: row.yes_no("可用电子证照", false, errors),
        note: row.text("说明", errors),
        states: row.choices("可选状态", &STATES, errors),
        owed_within_days: row.number("补交天数", "整数（工作日）", errors),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "是"
    } else {
        "否"
    }
}

fn labels<T: PartialEq + Copy>(values: &[T], options: &[(T, &str)]) -> String {
    values
        .iter()
        .filter_map(|v| options.iter().find(|(o, _)| o == v).map(|(_, l)| *l))
        .collect::<Vec<_>>()
        .join("、")
}

/// The catalogue as a workbook (`content export`): what `read_catalogue`
/// reads back into the same catalogue.
pub fn write_catalogue(catalogue: &Catalogue) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook, Worksheet};
    let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let header = Format::new().set_bold().set_background_color("#DDEBF7");
    let wrapped = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    let mut workbook = Workbook::new();

    // Every cell is written as text: a phone number keeps its leading 0 and
    // a version is never read as a date.
    fn table(
        sheet: &mut Worksheet,
        columns: &[Column],
        rows: &[Vec<String>],
        header: &Format,
        wrapped: &Format,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        for (c, column) in columns.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, column.header, header)?;
            sheet.set_column_width(c as u16, 14)?;
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                sheet.write_string_with_format(r as u32 + 1, c as u16, value, wrapped)?;
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    }

    let info_rows = vec![
        vec!["格式版本".to_string(), catalogue.schema.to_string()],
        vec!["目录版本".to_string(), catalogue.version.clone()],
        vec!["演示数据".to_string(), yes_no(catalogue.demo_data).into()],
        vec!["提示".to_string(), catalogue.notice.clone()],
    ];
    let info_columns = [col("项目", true, ""), col("内容", true, "")];
    let sheet = workbook.add_worksheet().set_name(SHEET_INFO).map_err(e)?;
    table(sheet, &info_columns, &info_rows, &header, &wrapped).map_err(e)?;
    sheet.set_column_width(1, 60).map_err(e)?;

    let rows: Vec<Vec<String>> = catalogue
        .categories
        .iter()
        .map(|c| {
            vec![
                c.code.clone(),
                c.name.clone(),
                c.name_en.clone(),
                c.glyph.clone(),
            ]
        })
        .collect();
    let sheet = workbook
        .add_worksheet()
        .set_name(SHEET_CATEGORIES)
        .map_err(e)?;
    table(sheet, &CATEGORY_COLUMNS, &rows, &header, &wrapped).map_err(e)?;

    let capabilities: Vec<(Capability, &str)> =
        Capability::ALL.iter().map(|&c| (c, c.label_zh())).collect();
    let rows: Vec<Vec<String>> = catalogue
        .services
        .iter()
        .map(|s| {
            vec![
                s.code.clone(),
                s.category.clone(),
                s.name.clone(),
                s.name_en.clone(),
                s.department.clone(),
                s.summary.clone(),
                s.keywords.join("、"),
                s.conditions.join("\n"),
                s.time_limit.clone(),
                s.legal_time_limit.clone(),
                s.fee.clone(),
                s.basis.join("\n"),
                labels(&s.delivery, &DELIVERY),
                yes_no(s.commitment).into(),
                yes_no(s.tolerant).into(),
                yes_no(s.needs_identity).into(),
                s.popularity.to_string(),
                labels(&s.needs, &capabilities),
                s.item_code.clone(),
                s.place.clone(),
                s.hours.clone(),
                s.consult_phone.clone(),
                s.complaint_phone.clone(),
                s.process.join("\n"),
                s.visits.map(|v| v.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let sheet = workbook
        .add_worksheet()
        .set_name(SHEET_SERVICES)
        .map_err(e)?;
    table(sheet, &SERVICE_COLUMNS, &rows, &header, &wrapped).map_err(e)?;
    for wide in [5u16, 7, 11, 23] {
        sheet.set_column_width(wide, 36).map_err(e)?;
    }

    let rows: Vec<Vec<String>> = catalogue
        .services
        .iter()
        .flat_map(|s| {
            s.materials.iter().map(|m| {
                vec![
                    s.code.clone(),
                    m.name.clone(),
                    m.copies.clone(),
                    yes_no(m.key).into(),
                    yes_no(m.e_cert).into(),
                    m.note.clone(),
                    labels(&m.states, &STATES),
                    m.owed_within_days
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ]
            })
        })
        .collect();
    let sheet = workbook
        .add_worksheet()
        .set_name(SHEET_MATERIALS)
        .map_err(e)?;
    table(sheet, &MATERIAL_COLUMNS, &rows, &header, &wrapped).map_err(e)?;
    sheet.set_column_width(5, 40).map_err(e)?;

    let mut help_rows = Vec::new();
    for (name, columns) in [
        (SHEET_INFO, &INFO_KEYS[..]),
        (SHEET_CATEGORIES, &CATEGORY_COLUMNS[..]),
        (SHEET_SERVICES, &SERVICE_COLUMNS[..]),
        (SHEET_MATERIALS, &MATERIAL_COLUMNS[..]),
    ] {
        for c in columns {
            help_rows.push(vec![
                name.to_string(),
                c.header.to_string(),
                if c.required { "必填" } else { "可不填" }.to_string(),
                c.help.to_string(),
            ]);
        }
    }
    let help_columns = [
        col("工作表", true, ""),
        col("列", true, ""),
        col("是否必填", true, ""),
        col("怎么填", true, ""),
    ];
    let sheet = workbook.add_worksheet().set_name(SHEET_HELP).map_err(e)?;
    table(sheet, &help_columns, &help_rows, &header, &wrapped).map_err(e)?;
    sheet.set_column_width(3, 70).map_err(e)?;

    workbook.save_to_buffer().map_err(e)
}
