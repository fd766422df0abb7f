//! What the kiosk says on each screen (语音导办): one short sentence of what
//! to do, then the choices on the screen, so every button can be heard.

use crate::Screen;

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
        (Screen::Questions, false) => "请回答几个简单问题，终端会帮您找出需要一起办的事项。",
        (Screen::Questions, true) => "Answer a few short questions; the terminal works out which services you need together.",
        (Screen::Form, false) => "请核对表格信息，大部分已从身份证读取。有误的点一下修改，然后点下一步。",
        (Screen::Form, true) => "Check the form; most of it comes from your ID card. Tap a field to change it, then tap next.",
        (Screen::Materials, false) => "请说明每份材料怎么提供：已带来、电子证照、容缺后补，或告知承诺。然后点下一步。",
        (Screen::Materials, true) => "For each document, say how you provide it, then tap next.",
        (Screen::Delivery, false) => "办好后结果怎么给您：窗口领取、邮寄到家，或电子送达。请选一项，然后点下一步。",
        (Screen::Delivery, true) => "How should the result reach you: collect here, by post, or electronically? Choose one, then tap next.",
        (Screen::Review, false) => "请核对要提交的信息。都对了，就点信息无误，去签名；有错点返回修改。",
        (Screen::Review, true) => "Check what will be submitted. If it is right, tap the button to go on and sign; tap back to change anything.",
        (Screen::Commitment, false) => "请阅读承诺内容，点本人承诺，再用手指在方框里签名，最后点提交申请。",
        (Screen::Commitment, true) => "Read the commitment, tap to commit, sign in the box with your finger, then tap submit.",
        (Screen::Receipt, false) => "申请已受理。请取走打印的回执，凭回执二维码可以查询进度。",
        (Screen::Receipt, true) => "Your application is accepted. Take your printed receipt; its QR code tracks progress.",
        (Screen::Rating, false) => "请为本次服务评价：非常满意、满意、基本满意、不满意、非常不满意。也可以跳过。",
        (Screen::Rating, true) => "Please rate this service, from very satisfied to very dissatisfied, or skip.",
        (Screen::Documents, false) => "这里列出了可以打印的证明材料，点一下即可打印。",
        (Screen::Documents, true) => "These documents can be printed here. Tap one to print it.",
        (Screen::Feedback, false) => "请选择您遇到的问题，我们会转给工作人员跟进。",
        (Screen::Feedback, true) => "Choose the problem you met; staff will follow it up.",
        (Screen::OutOfService, false) => "本终端暂停服务，请到窗口办理，或者拨打服务热线一二三四五。",
        (Screen::OutOfService, true) => "This terminal is out of service. Please go to the counter or call the 12345 hotline.",
        (Screen::Station, false) => "本站今日受理：容缺材料写明了补交日期，右边是需要回访的反映。",
        (Screen::Station, true) => "Today's applications at this station: owed materials show their due day; follow-ups are on the right.",
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
