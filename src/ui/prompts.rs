//! What the kiosk says on each screen (语音导办): one short sentence of what
//! to do, then the choices on the screen, so every button can be heard.

use super::Screen;

/// The spoken prompt for a screen, in Chinese or English.
pub fn screen_prompt(screen: Screen, english: bool) -> &'static str {
    match (screen, english) {
        (Screen::Attract, false) => "您好，欢迎使用便民自助终端。您可以选择：刷身份证、扫码、找服务、搜索、查进度、大字模式，或者呼叫工作人员。",
        (Screen::Attract, true) => "Welcome. You can choose: ID card, scan code, find a service, search, track progress, large text, or call staff.",
        (Screen::Catalogue, false) => "请选择办事类别。点上一页、下一页可以看到更多类别。",
        (Screen::Catalogue, true) => "Please choose a category. Use previous and next to see more.",
        (Screen::ServiceList, false) => "请选择要办理的事项，点事项名称查看办事指南。",
        (Screen::ServiceList, true) => "Please choose a service to read its guide.",
        (Screen::Guide, false) => "这是办事指南，列出了办理条件、所需材料、办理时限和收费标准。确认后请点我要办理。",
        (Screen::Guide, true) => "This is the service guide: conditions, materials, time limit and fee. Tap apply now when ready.",
        (Screen::Search, false) => "请用下方键盘输入事项名称的拼音首字母，例如社保卡输入 s b k。结果会显示在上方。",
        (Screen::Search, true) => "Type the pinyin initials of the service on the keyboard below. Results appear above.",
        (Screen::Identify, false) => "请将身份证放在下方感应区，不要移动，读卡约需一秒。",
        (Screen::Identify, true) => "Please place your ID card on the reader below and hold it still.",
        (Screen::Scan, false) => "请将二维码对准下方扫码口。",
        (Screen::Scan, true) => "Please hold the QR code to the scanner below.",
        (Screen::Progress, false) => "请扫描回执上的二维码，或者刷身份证，查询办理进度。",
        (Screen::Progress, true) => "Scan the QR code on your receipt, or your ID card, to track progress.",
        (Screen::OutOfService, false) => "本终端暂停服务，请到窗口办理，或者拨打服务热线一二三四五。",
        (Screen::OutOfService, true) => "This terminal is out of service. Please go to the counter or call the 12345 hotline.",
    }
}

/// Spoken when the idle countdown appears.
pub fn countdown_prompt(seconds: i32, english: bool) -> String {
    if english {
        format!(
            "Are you still there? Tap continue, or you will be signed out in {seconds} seconds."
        )
    } else {
        format!("您还在办理吗？如需继续，请点继续办理。{seconds}秒后将自动退出并清除您的信息。")
    }
}
