//! Devices on another machine or process through burn-remote (feature `remote`): a client
//! device named `remote:ws://HOST:PORT`, and the server that hosts a local device for such
//! clients (`burn-rnn serve-device`). The transport is WebSocket: unencrypted, for a trusted
//! network, a container or the same machine; a token keeps stray clients out.
//!
//! The recurrence crosses as one custom operation per layer-direction and pass, which [`serve`]
//! registers (`burn_rnn_model::with_scan_ops`): the server runs its own fused scan (native on
//! flex, the GPU kernels on wgpu and cuda). BENCHMARKS.md has what a remote device costs.

use crate::error::{Result, TrainError};
use burn::tensor::Device;

/// The prefix of a remote device's name.
pub const REMOTE_PREFIX: &str = "remote:";

/// The environment variable a client reads the server's token from (kept out of `train.toml`
/// and the command line, where other users of the machine could read it).
pub const TOKEN_VARIABLE: &str = "BURN_RNN_REMOTE_TOKEN";

/// The server address of a device name `remote:ws://HOST:PORT`, checked; `None` for a name
/// that is not a remote device's.
pub fn remote_address(name: &str) -> Option<Result<&str>> {
    let name = name.trim();
    if name == "remote" {
        return Some(check_address("").map(|()| ""));
    }
    let address = name.strip_prefix(REMOTE_PREFIX)?;
    Some(check_address(address).map(|()| address))
}

/// `ws://HOST:PORT` with a host and a numeric port, or an error that shows the expected form.
fn check_address(address: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrainError::InvalidConfig(format!(
            "remote device `{REMOTE_PREFIX}{address}`: {why} (write remote:ws://HOST:PORT, e.g. \
             remote:ws://127.0.0.1:3000)"
        )))
    };
    let Some(rest) = address.strip_prefix("ws://") else {
        return bad("the address must start with ws://");
    };
    let Some((host, port)) = rest.trim_end_matches('/').rsplit_once(':') else {
        return bad("the address needs a port");
    };
    if host.is_empty() {
        return bad("the address needs a host");
    }
    if port.parse::<u16>().is_err() {
        return bad("the port must be a number from 0 to 65535");
    }
    Ok(())
}

/// Connects device 0 of the server at `address` (`ws://HOST:PORT`), with `token` when the
/// server asks for one. Errors when the feature is off, the address is malformed or nothing
/// answers there.
pub fn connect(address: &str, token: Option<&str>) -> Result<Device> {
    check_address(address)?;
    #[cfg(feature = "remote")]
    {
        let mut host = burn::remote::RemoteHost::websocket(address);
        if let Some(token) = token {
            host = host.with_credential(token);
        }
        Device::remote_options(&host).init().map_err(|e| {
            TrainError::InvalidConfig(format!(
                "cannot connect to the remote device at {address}: {e} (is `burn-rnn \
                 serve-device` running there, with the same --token?)"
            ))
        })
    }
    #[cfg(not(feature = "remote"))]
    {
        let _ = token;
        Err(TrainError::BackendNotCompiled {
            requested: format!("{REMOTE_PREFIX}{address}"),
            available: crate::device::compiled_names(),
        })
    }
}

/// Hosts `device` for remote clients on TCP `port` of every interface, until the process gets
/// Ctrl+C or `SIGTERM`; with `token`, only clients that present it get a session. `ready` is
/// called with the port once the server listens (the port the system chose when `port` is 0).
#[cfg(feature = "remote")]
pub fn serve(
    device: Device,
    port: u16,
    token: Option<&str>,
    ready: impl FnOnce(u16),
) -> Result<()> {
    use burn::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};
    let listener = std::net::TcpListener::bind(("0.0.0.0", port))
        .map_err(|e| TrainError::InvalidConfig(format!("cannot listen on port {port}: {e}")))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    // The fused scan's forward and backward passes, one message each (not an operation per step).
    let mut server = burn_rnn_model::with_scan_ops(RemoteServer::new([device.clone()]), &device);
    if let Some(token) = token {
        let authorizer = TokenAuthorizer::new(token)
            .map_err(|_| TrainError::InvalidConfig("--token must not be empty".into()))?;
        server = server.with_authorizer(authorizer);
    }
    ready(port);
    server
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| TrainError::InvalidConfig(format!("the remote server stopped: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            remote_address("remote:ws://127.0.0.1:3000")
                .unwrap()
                .unwrap(),
            "ws://127.0.0.1:3000"
        );
        assert!(remote_address("flex").is_none());
        for bad in [
            "remote",
            "remote:",
            "remote:127.0.0.1:3000",
            "remote:ws://127.0.0.1",
            "remote:ws://:3000",
            "remote:ws://host:port",
            "remote:ws://host:70000",
        ] {
            let error = remote_address(bad).unwrap().unwrap_err().to_string();
            assert!(error.contains("remote:ws://HOST:PORT"), "{bad}: {error}");
        }
    }
}
