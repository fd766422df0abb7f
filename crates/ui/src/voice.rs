//! Voice guidance (语音导办): the kiosk speaks each screen's prompt with
//! espeak-ng's Mandarin voice through ALSA. Slint's linuxkms backend has no
//! screen-reader bridge, so the kiosk brings its own voice.
//!
//! Speech never blocks the UI: each utterance runs in its own thread and a
//! new one cuts the previous one short, as a person would.

use bianmin_config::{Language, VoiceConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// Something that can say a sentence.
pub trait Speaker {
    fn speak(&self, text: &str, language: Language);
    /// Stop whatever is being said (session ended, screen wiped).
    fn hush(&self) {}
}

/// Says nothing: no sound device, voice disabled, or headless rendering.
pub struct Silent;

impl Speaker for Silent {
    fn speak(&self, _text: &str, _language: Language) {}
}

/// Whether this machine has a sound card ALSA can play to, and if not, why.
pub fn sound_device_problem() -> Option<String> {
    match std::fs::read_to_string("/proc/asound/cards") {
        Ok(cards) if cards.contains("no soundcards") || cards.trim().is_empty() => {
            Some("ALSA reports no sound cards".into())
        }
        Ok(_) => None,
        Err(_) => Some("no ALSA sound support (/proc/asound/cards is missing)".into()),
    }
}

pub fn espeak_available() -> bool {
    Command::new("espeak-ng")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The espeak-ng command that renders `text` to a WAV file.
fn synthesis(text: &str, language: Language, settings: &VoiceConfig, wav: &Path) -> Command {
    let voice = match language {
        Language::Zh => "cmn",
        Language::En => "en",
    };
    // espeak-ng's amplitude runs 0–200 with 100 as normal.
    let amplitude = settings.volume.get() * 2;
    let mut command = Command::new("espeak-ng");
    command
        .args(["-v", voice])
        .args(["-a", &amplitude.to_string()])
        .args(["-s", &settings.speed.get().to_string()])
        .arg("-w")
        .arg(wav)
        .arg("--")
        .arg(text)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Render one prompt to a WAV file (for tests, and to pre-render prompts).
pub fn render_wav(
    text: &str,
    language: Language,
    settings: &VoiceConfig,
    wav: &Path,
) -> std::io::Result<()> {
    let status = synthesis(text, language, settings, wav).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "espeak-ng exited with {status}"
        )))
    }
}

/// espeak-ng renders, aplay plays; one utterance at a time.
pub struct EspeakSpeaker {
    settings: VoiceConfig,
    scratch: PathBuf,
    current: Arc<Mutex<Option<Child>>>,
}

impl EspeakSpeaker {
    /// A speaker when voice is enabled and the machine can make sound; else
    /// the reason it stays silent (for `doctor` and the log).
    pub fn new(settings: &VoiceConfig, scratch_dir: &Path) -> Result<EspeakSpeaker, String> {
        if !settings.enabled {
            return Err("voice guidance is disabled in the configuration".into());
        }
        if !espeak_available() {
            return Err("espeak-ng is not installed".into());
        }
        if let Some(problem) = sound_device_problem() {
            return Err(problem);
        }
        Ok(EspeakSpeaker {
            settings: settings.clone(),
            scratch: scratch_dir.join("bianmin-voice.wav"),
            current: Arc::new(Mutex::new(None)),
        })
    }

    fn stop_current(current: &Mutex<Option<Child>>) {
        if let Some(mut child) = current.lock().ok().and_then(|mut c| c.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Speaker for EspeakSpeaker {
    fn speak(&self, text: &str, language: Language) {
        Self::stop_current(&self.current);
        let text = text.to_string();
        let settings = self.settings.clone();
        let wav = self.scratch.clone();
        let current = self.current.clone();
        std::thread::spawn(move || {
            if let Err(err) = render_wav(&text, language, &settings, &wav) {
                tracing::warn!(%err, "speech synthesis failed");
                return;
            }
            match Command::new("aplay")
                .arg("-q")
                .arg(&wav)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => {
                    if let Ok(mut slot) = current.lock() {
                        *slot = Some(child);
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot play speech"),
            }
        });
    }

    fn hush(&self) {
        Self::stop_current(&self.current);
    }
}
