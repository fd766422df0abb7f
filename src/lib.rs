//! Bianmin Kiosk (便民自助终端).
