//! Code tables of the card text: gender (GB/T 2261.1) and ethnicity (GB 3304).

/// Ethnic groups by GB 3304 code 01–56, as printed on the card (without 族).
pub const ETHNICITIES: [&str; 56] = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
];

/// Name of an ethnicity code: 1–56, 97 其他, 98 外国血统中国籍人士.
pub fn ethnicity_name(code: u8) -> Option<&'static str> {
    match code {
        1..=56 => Some(ETHNICITIES[usize::from(code) - 1]),
        97 => Some("其他"),
        98 => Some("外国血统中国籍人士"),
        _ => None,
    }
}

/// Gender as coded on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Unknown,
    Male,
    Female,
    NotStated,
    /// A code outside the table; kept so that a strange card is visible.
    Invalid(u8),
}

impl Gender {
    pub fn from_code(code: u8) -> Gender {
        match code {
            0 => Gender::Unknown,
            1 => Gender::Male,
            2 => Gender::Female,
            9 => Gender::NotStated,
            other => Gender::Invalid(other),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Gender::Unknown => 0,
            Gender::Male => 1,
            Gender::Female => 2,
            Gender::NotStated => 9,
            Gender::Invalid(c) => c,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
            Gender::Unknown | Gender::NotStated | Gender::Invalid(_) => "未说明",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethnicity_table_ends() {
        assert_eq!(ethnicity_name(1), Some("汉"));
        assert_eq!(ethnicity_name(5), Some("维吾尔"));
        assert_eq!(ethnicity_name(56), Some("基诺"));
        assert_eq!(ethnicity_name(97), Some("其他"));
        assert_eq!(ethnicity_name(98), Some("外国血统中国籍人士"));
        assert_eq!(ethnicity_name(0), None);
        assert_eq!(ethnicity_name(57), None);
        let unique: std::collections::HashSet<_> = ETHNICITIES.iter().collect();
        assert_eq!(unique.len(), 56);
    }

    #[test]
    fn gender_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(Gender::from_code(code).code(), code);
        }
    }
}
