//! The netlink process connector (cn_proc): the fallback when eBPF cannot run.
//!
//! Reduced coverage: exec, fork and exit only, each carrying pids; names, arguments and
//! cgroups are read from /proc afterwards, which loses processes that exit first. Needs
//! CAP_NET_ADMIN. Written against libc directly: the socket setup is three calls and the
//! message decoding lives, pure and tested, in [`crate::wire::decode_cn_proc`].

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::wire::{decode_cn_proc, Record};
use crate::EbpfError;

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_DONE: u16 = 3;

/// A subscribed process-connector socket.
pub struct CnProcSource {
    socket: OwnedFd,
    buf: Vec<u8>,
    /// Times the kernel reported lost messages (ENOBUFS: the socket buffer overflowed).
    pub overruns: u64,
    /// Datagrams that did not decode.
    pub decode_errors: u64,
}

fn sys_err(call: &'static str, context: &str) -> EbpfError {
    EbpfError::Sys {
        call,
        context: context.to_owned(),
        source: std::io::Error::last_os_error(),
    }
}

impl CnProcSource {
    /// Opens a NETLINK_CONNECTOR socket, joins the proc group and asks for events.
    pub fn open() -> Result<CnProcSource, EbpfError> {
        // SAFETY: plain socket(2) call with constant arguments; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_CONNECTOR,
            )
        };
        if fd < 0 {
            return Err(sys_err("socket", "AF_NETLINK/NETLINK_CONNECTOR"));
        }
        // SAFETY: `fd` is a fresh, valid descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_pid = 0; // let the kernel pick a unique port id
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(sys_err(
                "bind",
                "netlink group CN_IDX_PROC (needs CAP_NET_ADMIN)",
            ));
        }
        let msg = listen_message();
        // SAFETY: `msg` is a live buffer of `msg.len()` bytes for the duration of the call.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                msg.as_ptr().cast::<libc::c_void>(),
                msg.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(sys_err("send", "PROC_CN_MCAST_LISTEN"));
        }
        Ok(CnProcSource {
            socket,
            buf: vec![0; 64 * 1024],
            overruns: 0,
            decode_errors: 0,
        })
    }

    /// The descriptor to poll for readability.
    pub fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Reads the datagrams waiting (at most `max_datagrams`) without blocking.
    pub fn drain(&mut self, max_datagrams: usize, out: &mut Vec<Record>) -> Result<(), EbpfError> {
        for _ in 0..max_datagrams {
            // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    self.buf.as_mut_ptr().cast::<libc::c_void>(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(()),
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => {
                        self.overruns += 1;
                        continue;
                    }
                    _ => {
                        return Err(EbpfError::Sys {
                            call: "recv",
                            context: "cn_proc socket".into(),
                            source: err,
                        })
                    }
                }
            }
            let len = usize::try_from(n).unwrap_or(0);
            match decode_cn_proc(self.buf.get(..len).unwrap_or_default()) {
                Ok(records) => out.extend(records),
                Err(_) => self.decode_errors += 1,
            }
        }
        Ok(())
    }
}

/// nlmsghdr + cn_msg + the PROC_CN_MCAST_LISTEN operation.
fn listen_message() -> Vec<u8> {
    let payload = PROC_CN_MCAST_LISTEN.to_ne_bytes();
    let total = 16 + 20 + payload.len();
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&(payload.len() as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&payload);
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn listen_message_layout() {
        let m = super::listen_message();
        assert_eq!(m.len(), 40);
        assert_eq!(&m[0..4], &40u32.to_ne_bytes());
        assert_eq!(&m[16..20], &1u32.to_ne_bytes()); // CN_IDX_PROC
        assert_eq!(&m[32..34], &4u16.to_ne_bytes()); // data length
        assert_eq!(&m[36..40], &1u32.to_ne_bytes()); // LISTEN
    }
}
