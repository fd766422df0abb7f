//! Opening serial ports with errors a technician can act on.

use std::path::Path;
use std::time::Duration;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// Why a port could not be opened; `Display` is one plain sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("serial port {0} does not exist (串口不存在：设备未接好或路径配置错误)")]
    NotFound(String),
    #[error("serial port {0} is in use by another program (串口被占用：请先关闭正在使用它的程序)")]
    Busy(String),
    #[error("no permission to open serial port {0} (没有权限：把运行用户加入 dialout 组)")]
    PermissionDenied(String),
    #[error("serial port {0} could not be opened: {1}")]
    Other(String, String),
}

/// Open `path` at `baud`, 8N1, exclusive. Must run inside a tokio runtime.
pub fn open(path: &str, baud: u32) -> Result<SerialStream, OpenError> {
    if !Path::new(path).exists() {
        return Err(OpenError::NotFound(path.into()));
    }
    let result = tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .timeout(Duration::from_millis(100))
        .open_native_async();
    result.map_err(|e| classify(path, e))
}

fn classify(path: &str, e: tokio_serial::Error) -> OpenError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    match e.kind() {
        tokio_serial::ErrorKind::Io(std::io::ErrorKind::NotFound) => {
            OpenError::NotFound(path.into())
        }
        tokio_serial::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => {
            OpenError::PermissionDenied(path.into())
        }
        _ if lower.contains("busy") => OpenError::Busy(path.into()),
        _ if lower.contains("permission") => OpenError::PermissionDenied(path.into()),
        _ if lower.contains("no such file") => OpenError::NotFound(path.into()),
        _ => OpenError::Other(path.into(), text),
    }
}

/// Wire time of `bytes` at `baud` (8N1: 10 bit times a byte).
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud.max(1)))
}

/// A serial port the system knows about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortDescription {
    pub path: String,
    /// "usb", "pci", "bluetooth" or "unknown".
    pub kind: &'static str,
    pub vid: Option<u16>,
    pub pid: Option<u16>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial_number: Option<String>,
}

/// Serial ports with their USB vendor and product ids (udev enumeration).
pub fn list_ports() -> Result<Vec<PortDescription>, String> {
    let ports = serialport::available_ports().map_err(|e| e.to_string())?;
    Ok(ports
        .into_iter()
        .map(|p| {
            let mut d = PortDescription {
                path: p.port_name,
                kind: "unknown",
                vid: None,
                pid: None,
                manufacturer: None,
                product: None,
                serial_number: None,
            };
            match p.port_type {
                serialport::SerialPortType::UsbPort(usb) => {
                    d.kind = "usb";
                    d.vid = Some(usb.vid);
                    d.pid = Some(usb.pid);
                    d.manufacturer = usb.manufacturer;
                    d.product = usb.product;
                    d.serial_number = usb.serial_number;
                }
                serialport::SerialPortType::PciPort => d.kind = "pci",
                serialport::SerialPortType::BluetoothPort => d.kind = "bluetooth",
                serialport::SerialPortType::Unknown => {}
            }
            d
        })
        .collect())
}
