//! The station clerk's view: after the 帮办 sign-in (staff number + PIN),
//! today's applications at this terminal — masked names only, what is owed
//! and by when, what paper to collect, a reprint each — and the 办不成事
//! reports and 差评 to call back about. Every opening and every reprint from
//! here is written to the audit log. It ends with the session, like
//! everything a resident or a clerk saw.

use super::KioskController;
use crate::{Screen, StationItem};
use bianmin_desk::{DeskRequest, StationView};
use slint::{ModelRc, SharedString, VecModel};

/// What the open view holds (dropped at the session's end).
#[derive(Default)]
pub(super) struct StationState {
    /// The clerk who signed in for it.
    clerk: String,
    view: StationView,
    page: usize,
    loaded: bool,
}

/// Applications per page, (large, standard) theme.
const PER_PAGE: (usize, usize) = (2, 3);
/// Follow-ups listed beside them; the rest are counted.
const FOLLOW_UPS_SHOWN: usize = 5;

impl KioskController {
    pub(super) fn wire_station(&self, ui: &crate::AppWindow) {
        use slint::ComponentHandle as _;
        let kiosk = ui.global::<crate::Kiosk>();
        let this = self.clone();
        kiosk.on_open_station(move || this.open_assist_for_station());
        let this = self.clone();
        kiosk.on_station_reprint(move |receipt| this.station_reprint(&receipt));
        let this = self.clone();
        kiosk.on_station_turn(move |step| this.station_turn(step));
    }

    /// Signed in: note it in the audit log, ask the desk, show the view.
    pub fn open_station(&self, clerk: &str) {
        self.audit(clerk, "打开本站今日受理（工作人员视图）");
        self.state.borrow_mut().station = Some(StationState {
            clerk: clerk.to_string(),
            ..StationState::default()
        });
        self.refresh_station();
        self.desk(DeskRequest::StationView);
        self.navigate(Screen::Station);
    }

    pub fn station_answered(&self, view: StationView) {
        {
            let mut state = self.state.borrow_mut();
            let Some(station) = state.station.as_mut() else {
                return; // closed meanwhile
            };
            station.view = view;
            station.page = 0;
            station.loaded = true;
        }
        self.refresh_station();
    }

    fn station_reprint(&self, receipt_no: &str) {
        self.activity();
        let clerk = match self.state.borrow().station.as_ref() {
            Some(station) => station.clerk.clone(),
            None => return,
        };
        self.audit(&clerk, &format!("本站视图补打回执 {receipt_no}"));
        self.show_notice(&self.tr("正在补打，请稍候……", "Reprinting…"));
        self.desk(DeskRequest::Reprint {
            receipt_no: receipt_no.to_string(),
        });
    }

    fn station_turn(&self, step: i32) {
        self.activity();
        let per_page = self.station_per_page();
        {
            let mut state = self.state.borrow_mut();
            let Some(station) = state.station.as_mut() else {
                return;
            };
            let pages = station.view.applications.len().div_ceil(per_page).max(1);
            let next = station.page as i64 + i64::from(step);
            station.page = next.clamp(0, pages as i64 - 1) as usize;
        }
        self.refresh_station();
    }

    fn station_per_page(&self) -> usize {
        if self.large() {
            PER_PAGE.0
        } else {
            PER_PAGE.1
        }
    }

    fn refresh_station(&self) {
        let english = self.english();
        let per_page = self.station_per_page();
        let (message, items, page, pages, follow_ups) = {
            let state = self.state.borrow();
            let Some(station) = state.station.as_ref() else {
                return;
            };
            let view = &station.view;
            let apps = &view.applications;
            let owed = apps.iter().filter(|a| !a.owed.is_empty()).count();
            let message = if !station.loaded {
                self.tr(
                    &format!("工作人员 {}：正在读取……", station.clerk),
                    &format!("Staff {}: loading…", station.clerk),
                )
            } else {
                let online = if view.online {
                    self.tr("回访名单来自平台。", "Follow-ups are the platform's list.")
                } else {
                    self.tr(
                        "平台连不上：回访名单暂时看不到，今日受理来自本机。",
                        "The platform is unreachable: no follow-ups now; today's applications are this terminal's.",
                    )
                };
                self.tr(
                    &format!(
                        "工作人员 {}：本机今日受理 {} 件，其中 {} 件有容缺材料待补。{online}",
                        station.clerk,
                        apps.len(),
                        owed
                    ),
                    &format!(
                        "Staff {}: {} applications here today, {} with materials owed. {online}",
                        station.clerk,
                        apps.len(),
                        owed
                    ),
                )
            };
            let pages = apps.len().div_ceil(per_page).max(1);
            let page = station.page.min(pages - 1);
            let items: Vec<StationItem> = apps
                .iter()
                .skip(page * per_page)
                .take(per_page)
                .map(|a| {
                    let colon = if english { ": " } else { "：" };
                    let mut detail = vec![format!(
                        "{}{colon}{}",
                        self.tr("回执", "Receipt"),
                        a.receipt_no
                    )];
                    if !a.owed.is_empty() {
                        let owed: Vec<String> = a
                            .owed
                            .iter()
                            .map(|o| match (&o.due, english) {
                                (Some(day), false) => {
                                    format!("{}（{}，请于{day}前补交）", o.name, o.state.zh())
                                }
                                (Some(day), true) => {
                                    format!("{} ({}, due by {day})", o.name, o.state.en())
                                }
                                (None, false) => format!("{}（{}）", o.name, o.state.zh()),
                                (None, true) => format!("{} ({})", o.name, o.state.en()),
                            })
                            .collect();
                        detail.push(format!(
                            "{}{colon}{}",
                            self.tr("待补", "Owed"),
                            owed.join(if english { "; " } else { "；" })
                        ));
                    }
                    if !a.to_collect.is_empty() {
                        detail.push(format!(
                            "{}{colon}{}",
                            self.tr("收取纸质材料", "Collect on paper"),
                            a.to_collect.join(if english { ", " } else { "、" })
                        ));
                    }
                    detail.push(if a.delivered {
                        self.tr("已送达平台", "Delivered to the platform")
                    } else {
                        self.tr("排队待上传", "Waiting to upload")
                    });
                    StationItem {
                        receipt: a.receipt_no.as_str().into(),
                        title: format!("{}  {}  {}", a.time, a.masked_name, a.service_name).into(),
                        detail: detail.join(if english { "; " } else { "；" }).into(),
                    }
                })
                .collect();
            let colon = if english { ": " } else { "：" };
            // A report's text is the topic's Chinese (what the platform's
            // staff read): shown in the screen's language when it is one.
            let topic_words = |message: &str| {
                state
                    .feedback_topics
                    .iter()
                    .find(|t| t.text.words().zh() == message)
                    .map(|t| t.text.words().pick(english).to_string())
                    .unwrap_or_else(|| message.to_string())
            };
            let mut follow_ups: Vec<SharedString> = Vec::new();
            for report in &view.reports {
                let phone = report
                    .callback_phone
                    .as_deref()
                    .map(bianmin_core::phone::group)
                    .map(|p| self.tr(&format!("，回电 {p}"), &format!(", call back on {p}")))
                    .unwrap_or_else(|| self.tr("，未留电话", ", no number left"));
                follow_ups.push(
                    format!(
                        "{} {}{colon}{}{phone}",
                        self.tr("办不成事", "Could not be done"),
                        short_time(&report.at),
                        topic_words(&report.message)
                    )
                    .into(),
                );
            }
            for rating in &view.low_ratings {
                follow_ups.push(
                    format!(
                        "{} {}{colon}{} {}{}",
                        self.tr("差评", "Poor rating"),
                        short_time(&rating.at),
                        rating.receipt_no.as_deref().unwrap_or(&rating.service_code),
                        "★".repeat(usize::from(rating.level)),
                        if rating.comment.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", rating.comment)
                        }
                    )
                    .into(),
                );
            }
            if follow_ups.len() > FOLLOW_UPS_SHOWN {
                let more = follow_ups.len() - FOLLOW_UPS_SHOWN;
                follow_ups.truncate(FOLLOW_UPS_SHOWN);
                follow_ups.push(
                    self.tr(
                        &format!("另有 {more} 条，请在工作台查看"),
                        &format!("{more} more in the back office"),
                    )
                    .into(),
                );
            }
            if station.loaded && follow_ups.is_empty() && view.online {
                follow_ups.push(
                    self.tr(
                        "近 7 天没有需要回访的反映。",
                        "Nothing to call back about in the last 7 days.",
                    )
                    .into(),
                );
            }
            (message, items, page, pages, follow_ups)
        };
        self.kiosk(|k| {
            k.set_station_message(message.into());
            k.set_station_items(ModelRc::new(VecModel::from(items)));
            k.set_station_page(page as i32);
            k.set_station_pages(pages as i32);
            k.set_station_follow_ups(ModelRc::new(VecModel::from(follow_ups)));
        });
    }

    /// The session ended: nothing of the view stays.
    pub(super) fn wipe_station(&self) {
        self.state.borrow_mut().station = None;
        self.kiosk(|k| {
            k.set_station_message(SharedString::new());
            k.set_station_items(ModelRc::default());
            k.set_station_page(0);
            k.set_station_pages(0);
            k.set_station_follow_ups(ModelRc::default());
        });
    }

    /// One line in the admin audit log (the hash chain of the configured
    /// suite); a failure to write is logged, never shown to the clerk.
    fn audit(&self, clerk: &str, action: &str) {
        use bianmin_admin::audit_log::{AuditEntry, AuditLog, ChainHash};
        let (data_dir, suite) = {
            let state = self.state.borrow();
            (
                state.config.store.data_dir.clone(),
                state.config.crypto.suite,
            )
        };
        let log = AuditLog::open(&data_dir).chained_with(ChainHash::of_suite(suite));
        let entry = AuditEntry::action(
            std::time::SystemTime::now(),
            &format!("staff:{clerk}"),
            action,
        );
        if let Err(err) = log.append(&entry) {
            tracing::error!(%err, "the audit log could not be written");
        }
    }
}

/// "12-05 10:40" of an RFC 3339 time (as it came), else the text itself.
fn short_time(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            t.with_timezone(&bianmin_core::time::station_zone())
                .format("%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| at.to_string())
}
