use bianmin::config::Config;
use bianmin::core::catalogue::Catalogue;
use bianmin::ui::admin::AdminController;
use bianmin::ui::{Admin, AdminPage, AppWindow, KioskController};
use slint::ComponentHandle;
use std::time::Duration;

fn save(ui: &AppWindow, name: &str) {
    i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(50));
    let snap = ui.window().take_snapshot().unwrap();
    let img = image::RgbaImage::from_raw(snap.width(), snap.height(), snap.as_bytes().to_vec()).unwrap();
    img.save(format!("/tmp/admin-{name}.png")).unwrap();
}

#[test]
fn shots() {
    bianmin::ui::audit::install_backend();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    let ui = AppWindow::new().unwrap();
    ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    let _k = KioskController::new(&ui, config.clone(), Catalogue::demo());
    let admin = AdminController::new(&ui, config, dir.path().join("k.toml"));
    ui.show().unwrap();
    admin.open_pad();
    save(&ui, "pin");
    // Pretend entered: drive the global directly for the picture.
    let a = ui.global::<Admin>();
    a.set_page(AdminPage::Settings);
    a.invoke_show_group(0);
    a.invoke_select(0);
    save(&ui, "settings");
    a.invoke_show_group(2);
    a.invoke_select(3);
    save(&ui, "settings-text");
    a.set_page(AdminPage::Operations);
    save(&ui, "ops");
}
