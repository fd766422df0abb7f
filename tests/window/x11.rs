//! Just enough of the X11 protocol to close a window the way a window
//! manager does (ICCCM 4.2.8.1): read the window's `WM_PROTOCOLS`, then send
//! it a `WM_PROTOCOLS` ClientMessage carrying `WM_DELETE_WINDOW`. The
//! xdotool of older distributions has no `windowquit`, and `windowkill`
//! cuts the client's connection instead of asking it to close; speaking the
//! protocol over the server's Unix socket needs no extra package.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The predefined atom `ATOM` (the type of `WM_PROTOCOLS`'s items).
const XA_ATOM: u32 = 4;

const INTERN_ATOM: u8 = 16;
const GET_PROPERTY: u8 = 20;
const SEND_EVENT: u8 = 25;
const GET_INPUT_FOCUS: u8 = 43;
const CLIENT_MESSAGE: u8 = 33;

/// One client connection to the X server of display `:N`.
pub struct Connection {
    stream: UnixStream,
}

impl Connection {
    /// Connect to display `:N` over its Unix socket, without authorisation
    /// (a local Xvfb started without `-auth` lets local clients in).
    pub fn open(display: u32) -> Result<Connection, String> {
        let path = format!("/tmp/.X11-unix/X{display}");
        let stream = UnixStream::connect(&path).map_err(|e| format!("connect {path}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut connection = Connection { stream };
        // Little-endian client, protocol 11.0, no authorisation name or data.
        let mut setup = vec![b'l', 0];
        setup.extend(11u16.to_le_bytes());
        setup.extend(0u16.to_le_bytes());
        setup.extend(0u16.to_le_bytes());
        setup.extend(0u16.to_le_bytes());
        setup.extend([0, 0]);
        connection.write(&setup)?;
        let head: [u8; 8] = connection.read_array()?;
        let extra = usize::from(u16::from_le_bytes([head[6], head[7]])) * 4;
        let rest = connection.read_vec(extra)?;
        match head[0] {
            1 => Ok(connection),
            status => {
                let reason_len = usize::from(head[1]).min(rest.len());
                Err(format!(
                    "the X server refused the connection (status {status}): {}",
                    String::from_utf8_lossy(&rest[..reason_len])
                ))
            }
        }
    }

    /// Ask `window` to close, as a window manager's close button does.
    /// Fails if the window does not take part in `WM_DELETE_WINDOW` (then a
    /// window manager would have to kill it) or the server reports an error.
    pub fn close_window(&mut self, window: u32) -> Result<(), String> {
        let protocols = self.intern_atom("WM_PROTOCOLS")?;
        let delete = self.intern_atom("WM_DELETE_WINDOW")?;
        let offered = self.atom_list(window, protocols)?;
        if !offered.contains(&delete) {
            return Err(format!(
                "window {window:#x} does not take WM_DELETE_WINDOW (WM_PROTOCOLS = {offered:?})"
            ));
        }
        let mut event = [0u8; 32];
        event[0] = CLIENT_MESSAGE;
        event[1] = 32; // format: data as 32-bit values
        event[4..8].copy_from_slice(&window.to_le_bytes());
        event[8..12].copy_from_slice(&protocols.to_le_bytes());
        event[12..16].copy_from_slice(&delete.to_le_bytes());
        // data[1]: the timestamp, CurrentTime (0); the rest stays zero.
        let mut request = vec![SEND_EVENT, 0];
        request.extend(11u16.to_le_bytes());
        request.extend(window.to_le_bytes());
        request.extend(0u32.to_le_bytes()); // no event mask: to the window's owner
        request.extend(event);
        self.write(&request)?;
        // SendEvent has no reply: a round trip makes its error (if any) arrive.
        self.write(&[GET_INPUT_FOCUS, 0, 1, 0])?;
        self.reply().map(|_| ())
    }

    fn intern_atom(&mut self, name: &str) -> Result<u32, String> {
        let pad = (4 - name.len() % 4) % 4;
        let units = u16::try_from((8 + name.len() + pad) / 4).map_err(|e| e.to_string())?;
        let mut request = vec![INTERN_ATOM, 0];
        request.extend(units.to_le_bytes());
        request.extend(
            u16::try_from(name.len())
                .map_err(|e| e.to_string())?
                .to_le_bytes(),
        );
        request.extend([0, 0]);
        request.extend(name.as_bytes());
        request.extend(std::iter::repeat_n(0, pad));
        self.write(&request)?;
        let (head, _) = self.reply()?;
        Ok(u32::from_le_bytes([head[8], head[9], head[10], head[11]]))
    }

    /// A property of type ATOM on `window`, as a list.
    fn atom_list(&mut self, window: u32, property: u32) -> Result<Vec<u32>, String> {
        let mut request = vec![GET_PROPERTY, 0];
        request.extend(6u16.to_le_bytes());
        request.extend(window.to_le_bytes());
        request.extend(property.to_le_bytes());
        request.extend(XA_ATOM.to_le_bytes());
        request.extend(0u32.to_le_bytes()); // long-offset
        request.extend(64u32.to_le_bytes()); // long-length
        self.write(&request)?;
        let (head, data) = self.reply()?;
        if head[1] != 32 {
            return Ok(Vec::new());
        }
        Ok(data
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The next reply, skipping events; an X error is an Err.
    fn reply(&mut self) -> Result<([u8; 32], Vec<u8>), String> {
        loop {
            let head: [u8; 32] = self.read_array()?;
            match head[0] {
                0 => {
                    return Err(format!(
                        "X error {} (request {}, value {:#x})",
                        head[1],
                        head[10],
                        u32::from_le_bytes([head[4], head[5], head[6], head[7]])
                    ))
                }
                1 => {
                    let extra = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
                    let data = self.read_vec(extra * 4)?;
                    return Ok((head, data));
                }
                _ => continue,
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("writing to the X server: {e}"))
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut buffer = [0u8; N];
        self.stream
            .read_exact(&mut buffer)
            .map_err(|e| format!("reading from the X server: {e}"))?;
        Ok(buffer)
    }

    fn read_vec(&mut self, len: usize) -> Result<Vec<u8>, String> {
        let mut buffer = vec![0u8; len];
        self.stream
            .read_exact(&mut buffer)
            .map_err(|e| format!("reading from the X server: {e}"))?;
        Ok(buffer)
    }
}
