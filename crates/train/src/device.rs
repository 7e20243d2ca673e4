//! The `--device` flag: a backend name chosen at run time → a Burn [`Device`].

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{Result, TrainError};

/// The backends this package knows; which ones exist depends on the cargo features compiled in.
///
/// ```
/// use burn_rnn_train::Backend;
///
/// // `--device` values, case-insensitive.
/// let backend: Backend = "Flex".parse()?;
/// assert_eq!(backend, Backend::Flex);
/// assert_eq!(backend.to_string(), "flex");
/// // An unknown name is an error that lists the backends this build has.
/// let err = "tpu".parse::<Backend>().unwrap_err().to_string();
/// assert!(err.starts_with("unknown device `tpu`; this build has: "), "{err}");
/// // Opening a backend that is not compiled in is an error too, not a panic.
/// if backend.is_compiled() {
///     let device = backend.device()?;
///     # let _ = device;
/// }
/// # Ok::<(), burn_rnn_train::TrainError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Burn's default CPU backend (feature `flex`).
    Flex,
    /// The ndarray CPU backend (feature `ndarray`; deprecated upstream, still supported here).
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12; also Mesa's software Vulkan, lavapipe). Feature `wgpu`.
    Wgpu,
    /// NVIDIA GPU through CUDA (feature `cuda`).
    Cuda,
}

impl Backend {
    /// Every backend, compiled in or not, in the order `--help` lists them.
    pub const ALL: [Backend; 4] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build includes the backend (its cargo feature was enabled).
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// Whether the backend runs on a GPU (slower to start, results not bit-identical to CPU).
    pub fn is_gpu(self) -> bool {
        matches!(self, Backend::Wgpu | Backend::Cuda)
    }

    /// Opens the device (without autodiff). Errors if the backend is not compiled in or no
    /// adapter exists (e.g. `wgpu` on a machine without a Vulkan driver).
    pub fn device(self) -> Result<Device> {
        if !self.is_compiled() {
            return Err(TrainError::BackendNotCompiled {
                requested: self.name().into(),
                available: compiled_names(),
            });
        }
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => wgpu_device(),
            #[cfg(feature = "cuda")]
            Backend::Cuda => cuda_device(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by is_compiled"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|b| b.name() == wanted)
            .ok_or_else(|| TrainError::UnknownBackend {
                requested: s.to_string(),
                available: compiled_names(),
            })
    }
}

pub(crate) fn compiled_names() -> String {
    Backend::compiled()
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One entry of a device list: a backend and, for cuda, the index of its GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The backend.
    pub backend: Backend,
    /// The GPU's index (`cuda:1`); `None` for the backend's default device.
    pub index: Option<usize>,
}

impl DeviceSpec {
    /// Opens the device (without autodiff), as [`Backend::device`] does.
    pub fn device(self) -> Result<Device> {
        match (self.backend, self.index) {
            (_, None | Some(0)) => self.backend.device(),
            #[cfg(feature = "cuda")]
            (Backend::Cuda, Some(index)) => cuda_device_at(index),
            (backend, Some(index)) => Err(TrainError::InvalidConfig(format!(
                "{backend}:{index}: only cuda devices are chosen by index here ({backend} has \
                 one device per process: write `{backend}` or `{backend}:0`)"
            ))),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}:{index}", self.backend),
            None => write!(f, "{}", self.backend),
        }
    }
}

/// Checks a device name without opening it: a backend (`flex`, `ndarray`, `wgpu`, `cuda`) or a
/// remote device (`remote:ws://HOST:PORT`, see [`crate::remote`]).
pub fn check_device_name(name: &str) -> Result<()> {
    match crate::remote::remote_address(name) {
        Some(address) => address.map(|_| ()),
        None => name.parse::<Backend>().map(|_| ()),
    }
}

/// Opens a device by name (see [`check_device_name`]), without autodiff. A remote device
/// presents the token in `BURN_RNN_REMOTE_TOKEN` when that variable is set.
pub fn open_device(name: &str) -> Result<Device> {
    match crate::remote::remote_address(name) {
        Some(address) => {
            let token = std::env::var(crate::remote::TOKEN_VARIABLE).ok();
            crate::remote::connect(address?, token.as_deref())
        }
        None => name.parse::<Backend>()?.device(),
    }
}

/// Parses a comma-separated device list for data-parallel training (`--devices`): `flex,flex`,
/// `cuda:0,cuda:1`, `wgpu,wgpu`; each entry a backend name as `--device` takes it, optionally
/// with `:index`. All entries must name one backend. Opens nothing; see [`open_devices`].
pub fn parse_device_list(list: &str) -> Result<Vec<DeviceSpec>> {
    let bad = |m: String| TrainError::InvalidConfig(format!("--devices {list:?}: {m}"));
    let mut specs = Vec::new();
    for (n, entry) in list.split(',').enumerate() {
        let entry = entry.trim();
        if crate::remote::remote_address(entry).is_some() {
            return Err(bad(format!(
                "`{entry}`: a remote device trains alone (--device {entry}); several devices \
                 are local ones"
            )));
        }
        if entry.is_empty() {
            return Err(bad(format!(
                "entry {} is empty (write devices separated by commas, e.g. flex,flex or \
                 cuda:0,cuda:1)",
                n + 1
            )));
        }
        let (name, index) = match entry.split_once(':') {
            Some((name, index)) => {
                let index = index.trim().parse::<usize>().map_err(|_| {
                    bad(format!(
                        "`{entry}`: the part after `:` must be a device index (0, 1, ...)"
                    ))
                })?;
                (name, Some(index))
            }
            None => (entry, None),
        };
        let backend = name.parse::<Backend>()?;
        specs.push(DeviceSpec { backend, index });
    }
    if let Some(other) = specs.iter().find(|s| s.backend != specs[0].backend) {
        return Err(bad(format!(
            "`{}` and `{other}` are different backends; every device of a run must use the same one",
            specs[0]
        )));
    }
    if let Some(spec) = specs
        .iter()
        .find(|s| s.backend != Backend::Cuda && s.index.unwrap_or(0) != 0)
    {
        return Err(bad(format!(
            "`{spec}`: only cuda devices are chosen by index ({} has one device per process)",
            spec.backend
        )));
    }
    Ok(specs)
}

/// Parses a device list ([`parse_device_list`]) and opens its devices.
pub fn open_devices(list: &str) -> Result<Vec<Device>> {
    parse_device_list(list)?
        .into_iter()
        .map(DeviceSpec::device)
        .collect()
}

/// On headless Linux, opening wgpu probes Wayland, whose client library prints "error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment." (up to four times) when that
/// variable is unset. This points it at a private, empty directory (`/tmp/burn-rnn-xdg-<uid>`,
/// mode 0700), so the probe fails quietly; a variable already set is left alone, and so is a
/// directory that another user owns or others can read. Real wgpu errors still reach the user.
///
/// # Safety
/// It sets an environment variable: call it at the start of `main`, before any other thread
/// runs (as the examples and the `burn-rnn` command do).
pub unsafe fn quiet_headless_wgpu() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
            return;
        }
        // SAFETY: `getuid` has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("burn-rnn-xdg-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let private = std::fs::symlink_metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0);
        if private {
            // SAFETY: no other thread runs (the caller's promise).
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
        }
    }
}

/// Makes Burn's default device (`Device::default()`) the CPU's, flex, unless `BURN_DEVICE`
/// already names one. burn-optim loads a saved optimiser state (on `--resume`) onto the default
/// device and moves it to the training device at the next step; in a build with the `wgpu` or
/// `cuda` feature that default is the GPU, so resuming a run on the CPU started a GPU runtime
/// for nothing: +100 MiB resident with lavapipe in the training soak, a CUDA context on a GPU
/// machine. Nothing in this package trains on the default device. Without the `flex` feature
/// it does nothing.
///
/// # Safety
/// It sets an environment variable: call it at the start of `main`, before any other thread
/// runs (as the examples and the `burn-rnn` command do).
pub unsafe fn cpu_default_device() {
    if cfg!(feature = "flex") && std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: no other thread runs (the caller's promise).
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

/// The wgpu device, initialised once per process (the runtime refuses a second init).
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    use std::sync::OnceLock;
    static DEVICE: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options()
                .init()
                .or_else(|e| {
                    // Something in this process (e.g. a default device) already started the
                    // wgpu runtime: use that one.
                    if e.to_string().contains("already initialized") {
                        Ok(Device::wgpu(Default::default()))
                    } else {
                        Err(e.to_string())
                    }
                })
                .and_then(|device| {
                    // Initialising can succeed lazily; a first small operation proves an adapter.
                    std::panic::catch_unwind(|| {
                        let x = burn::tensor::Tensor::<1>::ones([2], &device);
                        x.into_data().try_into_vec::<f32>().map(|_| ())
                    })
                    .map_err(|_| "the first operation on the wgpu device failed".to_string())?
                    .map_err(|e| format!("{e:?}"))?;
                    Ok(device)
                })
        })
        .clone()
        .map_err(|reason| TrainError::NoAdapter {
            backend: "wgpu".into(),
            reason,
        })
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    cuda_device_at(0)
}

/// CUDA device `index`, proved by a first small operation.
#[cfg(feature = "cuda")]
fn cuda_device_at(index: usize) -> Result<Device> {
    std::panic::catch_unwind(|| {
        let device = Device::cuda(index);
        let x = burn::tensor::Tensor::<1>::ones([2], &device);
        x.into_data().try_into_vec::<f32>().map(|_| device)
    })
    .map_err(|_| TrainError::NoAdapter {
        backend: "cuda".into(),
        reason: "no CUDA device could be opened".into(),
    })?
    .map_err(|e| TrainError::NoAdapter {
        backend: "cuda".into(),
        reason: format!("{e:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("FLEX".parse::<Backend>().unwrap(), Backend::Flex);
        assert_eq!(" wgpu ".parse::<Backend>().unwrap(), Backend::Wgpu);
    }

    #[test]
    fn unknown_backend_lists_the_compiled_ones() {
        let err = "tpu".parse::<Backend>().unwrap_err().to_string();
        assert!(err.contains("tpu"), "{err}");
        for b in Backend::compiled() {
            assert!(err.contains(b.name()), "{err}");
        }
    }

    #[test]
    fn device_lists_parse_with_clear_errors() {
        let flex = DeviceSpec {
            backend: Backend::Flex,
            index: None,
        };
        assert_eq!(parse_device_list("flex, FLEX").unwrap(), [flex, flex]);
        let cuda = parse_device_list("cuda:0,cuda:1").unwrap();
        assert_eq!(cuda[1].index, Some(1));
        assert_eq!(cuda[1].to_string(), "cuda:1");
        for (list, says) in [
            ("flex,,flex", "entry 2 is empty"),
            ("", "entry 1 is empty"),
            ("cuda:x", "device index"),
            ("flex,wgpu", "different backends"),
            ("flex:1,flex", "only cuda devices are chosen by index"),
            ("tpu,tpu", "tpu"),
        ] {
            let err = parse_device_list(list).unwrap_err().to_string();
            assert!(err.contains(says), "{list}: {err}");
        }
        #[cfg(feature = "flex")]
        assert_eq!(open_devices("flex,flex").unwrap().len(), 2);
    }

    #[test]
    fn cpu_backends_open() {
        for b in Backend::compiled().into_iter().filter(|b| !b.is_gpu()) {
            b.device().expect("CPU backend opens");
        }
    }
}
