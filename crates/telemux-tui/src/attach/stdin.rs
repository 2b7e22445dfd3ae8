//! The terminal's input as raw bytes, read without a blocking thread: a
//! blocked `read` on a thread cannot be cancelled, and after `attach` ends
//! it would steal the next keystroke meant for the shell or the TUI.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use tokio::io::unix::AsyncFd;

struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Stdin in non-blocking mode, put back as it was when dropped.
pub struct RawStdin {
    fd: AsyncFd<Fd>,
    old_flags: libc::c_int,
}

impl RawStdin {
    /// Switches stdin to non-blocking reads.
    pub fn new() -> io::Result<RawStdin> {
        let fd = libc::STDIN_FILENO;
        // SAFETY: fcntl on fd 0 with F_GETFL/F_SETFL only reads and sets flags.
        let old_flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if old_flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, old_flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd 0 stays open for the whole process, so for the whole
        // life of this AsyncFd, and Fd always returns it.
        let fd = match unsafe { AsyncFd::register(Fd(fd)) } {
            Ok(fd) => fd,
            Err(e) => {
                // SAFETY: as above.
                unsafe { libc::fcntl(fd, libc::F_SETFL, old_flags) };
                return Err(e.into_parts().1);
            }
        };
        Ok(RawStdin { fd, old_flags })
    }

    /// Reads what was typed (at least one byte; 0 at end of input).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            let res = ready.try_io(|fd| {
                // SAFETY: buf is a valid, writable buffer of buf.len() bytes.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

impl Drop for RawStdin {
    fn drop(&mut self) {
        // SAFETY: restores the flags read in new().
        unsafe { libc::fcntl(self.fd.get_ref().0, libc::F_SETFL, self.old_flags) };
    }
}
