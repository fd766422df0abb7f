//! The service catalogue (事项目录): the same JSON document the platform
//! publishes, whether it came from the platform or from the demo file, so the
//! guides online and offline come from one source (同源发布).

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The catalogue schema this build understands.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub schema: u32,
    pub version: String,
    #[serde(default)]
    pub demo_data: bool,
    #[serde(default)]
    pub notice: String,
    pub categories: Vec<Category>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// One character drawn as the category's icon.
    pub glyph: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub code: String,
    pub category: String,
    pub name: String,
    pub name_en: String,
    pub department: String,
    pub summary: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub conditions: Vec<String>,
    pub materials: Vec<Material>,
    pub time_limit: String,
    pub fee: String,
    #[serde(default)]
    pub basis: Vec<String>,
    pub delivery: Vec<Delivery>,
    /// 告知承诺制: the resident may commit instead of proving some conditions.
    #[serde(default)]
    pub commitment: bool,
    /// 容缺受理: may be submitted with non-key materials missing.
    #[serde(default)]
    pub tolerant: bool,
    #[serde(default = "yes")]
    pub needs_identity: bool,
    /// 1–100: how often residents use it, for "popular" lists and ranking.
    #[serde(default)]
    pub popularity: u8,
    /// What the terminal must have to complete this service here; a package
    /// promising what the terminal lacks is refused (`content check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Capability>,
    /// What a real 办事指南 carries besides (each shown only when given):
    /// the national catalogue's 事项编码.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub item_code: String,
    /// 法定时限 (`time_limit` is the 承诺时限 the county promises).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub legal_time_limit: String,
    /// 办理地点 and window, and its 办理时间.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub place: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hours: String,
    /// 咨询电话 and 监督投诉电话.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consult_phone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub complaint_phone: String,
    /// 办理流程, step by step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<String>,
    /// 到现场次数 (0: 零跑动).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visits: Option<u8>,
}

/// Something a terminal may or may not have. The content says what a service
/// needs, the terminal's configuration what it has: the guide then promises
/// only what this terminal can keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    IdCardReader,
    Scanner,
    Printer,
    Camera,
    Payment,
    FaceCheck,
}

impl Capability {
    pub const ALL: [Capability; 6] = [
        Capability::IdCardReader,
        Capability::Scanner,
        Capability::Printer,
        Capability::Camera,
        Capability::Payment,
        Capability::FaceCheck,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            Capability::IdCardReader => "身份证读卡器",
            Capability::Scanner => "扫码器",
            Capability::Printer => "打印机",
            Capability::Camera => "摄像头",
            Capability::Payment => "缴费",
            Capability::FaceCheck => "人脸核验",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Capability::IdCardReader => "ID card reader",
            Capability::Scanner => "code scanner",
            Capability::Printer => "printer",
            Capability::Camera => "camera",
            Capability::Payment => "payment",
            Capability::FaceCheck => "face check",
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub name: String,
    pub copies: String,
    /// A key material can never be missing, even under 容缺受理.
    pub key: bool,
    /// An e-certificate or shared data can replace it (免证办).
    pub e_cert: bool,
    #[serde(default)]
    pub note: String,
    /// The states the resident may choose for it; empty means the rule of
    /// the flags (key, e_cert) and of the service (commitment, tolerant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<MaterialState>,
    /// Accepted under 容缺受理, it is owed within this many working days
    /// of the application (补交时限); the receipt and the clerk's view show
    /// the date. None: the guide sets no time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owed_within_days: Option<u16>,
}

/// Where a material stands at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialState {
    /// Scanned or handed over at the station.
    Provided,
    /// Fetched from the platform as an e-certificate (免证办).
    ECertFetched,
    /// An e-certificate to fetch once online: 待核验.
    PendingVerification,
    /// Missing under 容缺受理: owed later, printed on the receipt.
    Missing,
    /// Replaced by the resident's commitment (告知承诺).
    Committed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// 窗口/驿站领取
    Station,
    /// 邮寄送达
    Mail,
    /// 电子送达 / 自助打印
    Electronic,
}

impl Delivery {
    pub fn label_zh(self) -> &'static str {
        match self {
            Delivery::Station => "到服务站领取",
            Delivery::Mail => "免费邮寄到家",
            Delivery::Electronic => "电子送达或自助打印",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Delivery::Station => "Collect at the station",
            Delivery::Mail => "Mailed to your home",
            Delivery::Electronic => "Electronic delivery or self-service printing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("the catalogue is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("catalogue schema {found} is newer than this kiosk understands ({SCHEMA_VERSION})")]
    UnsupportedSchema { found: u32 },
    #[error("catalogue is inconsistent: {0}")]
    Inconsistent(String),
}

impl Catalogue {
    /// Parse and check a catalogue document. A document that fails here is
    /// never applied: the kiosk keeps serving the one it had.
    pub fn from_json(text: &str) -> Result<Catalogue, CatalogueError> {
        let catalogue: Catalogue =
            serde_json::from_str(text).map_err(|e| CatalogueError::Malformed(e.to_string()))?;
        if catalogue.schema > SCHEMA_VERSION {
            return Err(CatalogueError::UnsupportedSchema {
                found: catalogue.schema,
            });
        }
        catalogue.check()?;
        Ok(catalogue)
    }

    /// Every consistency rule of a catalogue (also run on a content package).
    pub fn check(&self) -> Result<(), CatalogueError> {
        let mut category_codes = HashSet::new();
        for category in &self.categories {
            if !category_codes.insert(category.code.as_str()) {
                return Err(CatalogueError::Inconsistent(format!(
                    "category {} appears twice",
                    category.code
                )));
            }
        }
        let mut service_codes = HashSet::new();
        for service in &self.services {
            if !service_codes.insert(service.code.as_str()) {
                return Err(CatalogueError::Inconsistent(format!(
                    "service {} appears twice",
                    service.code
                )));
            }
            if !category_codes.contains(service.category.as_str()) {
                return Err(CatalogueError::Inconsistent(format!(
                    "service {} names unknown category {}",
                    service.code, service.category
                )));
            }
            if service.name.trim().is_empty() {
                return Err(CatalogueError::Inconsistent(format!(
                    "service {} has no name",
                    service.code
                )));
            }
        }
        Ok(())
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    pub fn service(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }

    /// Services of one category, most used first.
    pub fn services_in(&self, category: &str) -> Vec<&Service> {
        let mut list: Vec<&Service> = self
            .services
            .iter()
            .filter(|s| s.category == category)
            .collect();
        list.sort_by(|a, b| b.popularity.cmp(&a.popularity).then(a.code.cmp(&b.code)));
        list
    }

    /// The most used services across the catalogue ("常用事项").
    pub fn popular(&self, count: usize) -> Vec<&Service> {
        let mut list: Vec<&Service> = self.services.iter().collect();
        list.sort_by(|a, b| b.popularity.cmp(&a.popularity).then(a.code.cmp(&b.code)));
        list.truncate(count);
        list
    }

    pub fn service_count(&self, category: &str) -> usize {
        self.services
            .iter()
            .filter(|s| s.category == category)
            .count()
    }
}

impl Category {
    /// The name in the UI language.
    pub fn display_name(&self, english: bool) -> &str {
        if english {
            &self.name_en
        } else {
            &self.name
        }
    }
}

impl Service {
    /// The name in the UI language.
    pub fn display_name(&self, english: bool) -> &str {
        if english {
            &self.name_en
        } else {
            &self.name
        }
    }

    /// Materials that an e-certificate or shared data can replace (免证办).
    pub fn waivable_materials(&self) -> impl Iterator<Item = &Material> {
        self.materials.iter().filter(|m| m.e_cert)
    }

    /// The 办事指南 as plain text for the receipt printer (自助打印 of a
    /// guide): every part the guide gives, in Chinese, a part per paragraph.
    pub fn guide_text(&self) -> String {
        let mut out = Vec::new();
        let mut part = |title: &str, lines: Vec<String>| {
            let lines: Vec<String> = lines
                .into_iter()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            if !lines.is_empty() {
                out.push(format!("【{title}】\n{}", lines.join("\n")));
            }
        };
        part("事项", vec![self.name.clone(), self.summary.clone()]);
        part("事项编码", vec![self.item_code.clone()]);
        part("受理部门", vec![self.department.clone()]);
        part(
            "办理条件",
            self.conditions.iter().map(|c| format!("· {c}")).collect(),
        );
        part(
            "所需材料",
            self.materials
                .iter()
                .map(|m| {
                    let mut line = format!("· {}（{}）", m.name, m.copies);
                    if m.e_cert {
                        line.push_str("，可免提交（电子证照）");
                    }
                    if !m.note.trim().is_empty() {
                        line.push_str(&format!("；{}", m.note.trim()));
                    }
                    line
                })
                .collect(),
        );
        let mut limits = Vec::new();
        if !self.legal_time_limit.trim().is_empty() {
            limits.push(format!("法定时限：{}", self.legal_time_limit));
            limits.push(format!("承诺时限：{}", self.time_limit));
        } else {
            limits.push(self.time_limit.clone());
        }
        part("办理时限", limits);
        part("收费标准", vec![self.fee.clone()]);
        part(
            "办理流程",
            self.process
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {s}", i + 1))
                .collect(),
        );
        let place = match (self.place.trim(), self.hours.trim()) {
            ("", _) => String::new(),
            (place, "") => place.to_string(),
            (place, hours) => format!("{place}（{hours}）"),
        };
        part("办理地点", vec![place]);
        part(
            "到现场次数",
            self.visits
                .map(|v| {
                    if v == 0 {
                        "零跑动".to_string()
                    } else {
                        format!("{v} 次")
                    }
                })
                .into_iter()
                .collect(),
        );
        let mut phones = Vec::new();
        if !self.consult_phone.trim().is_empty() {
            phones.push(format!(
                "咨询：{}",
                crate::phone::group(&self.consult_phone)
            ));
        }
        if !self.complaint_phone.trim().is_empty() {
            phones.push(format!(
                "监督投诉：{}",
                crate::phone::group(&self.complaint_phone)
            ));
        }
        part("电话", phones);
        part("设定依据", self.basis.clone());
        part(
            "结果送达",
            self.delivery
                .iter()
                .map(|d| d.label_zh().to_string())
                .collect(),
        );
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_catalogue_is_complete_and_marked() {
        let catalogue = Catalogue::demo();
        assert!(catalogue.demo_data);
        assert!(catalogue.notice.contains("演示"));
        assert!(catalogue.services.len() >= 30);
        for category in [
            "social-security",
            "medical-insurance",
            "household",
            "civil-affairs",
            "disability",
            "housing-fund",
            "real-estate",
            "tax",
        ] {
            assert!(catalogue.service_count(category) >= 3, "{category}");
        }
    }

    #[test]
    fn services_in_a_category_are_ranked_by_use() {
        let catalogue = Catalogue::demo();
        let list = catalogue.services_in("social-security");
        assert!(list.windows(2).all(|w| w[0].popularity >= w[1].popularity));
        assert!(list.iter().all(|s| s.category == "social-security"));
    }

    #[test]
    fn inconsistent_documents_are_refused() {
        let mut catalogue = Catalogue::demo();
        catalogue.services[0].category = "nowhere".into();
        let text = serde_json::to_string(&catalogue).unwrap();
        assert!(matches!(
            Catalogue::from_json(&text),
            Err(CatalogueError::Inconsistent(_))
        ));
        assert!(matches!(
            Catalogue::from_json("{\"schema\": 1"),
            Err(CatalogueError::Malformed(_))
        ));
        let mut newer = Catalogue::demo();
        newer.schema = SCHEMA_VERSION + 1;
        let text = serde_json::to_string(&newer).unwrap();
        assert!(matches!(
            Catalogue::from_json(&text),
            Err(CatalogueError::UnsupportedSchema { .. })
        ));
    }
}
