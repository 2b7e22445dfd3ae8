//! [`StallProxy`]: a loopback TCP proxy that can freeze one client's link to
//! Redis without closing it — the network cut that hurts most in practice
//! (a Wi-Fi drop, a sleeping laptop, a NAT that forgets the flow), because
//! nothing tells either side that the peer is gone.
//!
//! While paused, bytes are still read from both sides (so the peers' writes
//! succeed, as on a real network with buffers) but nothing is passed on,
//! and new connections are accepted but not served. Resuming delivers what
//! was held, in order, like a link that comes back. Plain threads: the
//! proxy must keep working while a test's async runtime is busy.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A pausable TCP proxy from a free loopback port to `target`; stopped on drop.
pub struct StallProxy {
    addr: SocketAddr,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl StallProxy {
    /// Starts forwarding from a free loopback port to `target`.
    pub fn start(target: SocketAddr) -> StallProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let paused = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        {
            let (paused, stop, conns) = (paused.clone(), stop.clone(), conns.clone());
            thread::spawn(move || accept_loop(listener, target, paused, stop, conns));
        }
        StallProxy {
            addr,
            paused,
            stop,
            conns,
        }
    }

    /// `redis://` URL of the proxy's end.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Freezes every link (existing and new) until [`StallProxy::resume`].
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Lets held and new bytes flow again.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
        for c in self.conns.lock().expect("conns lock").drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => return,
        };
        let _ = client.set_nonblocking(false);
        let Ok(server) = TcpStream::connect(target) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        for s in [&client, &server] {
            if let Ok(c) = s.try_clone() {
                conns.lock().expect("conns lock").push(c);
            }
        }
        for (from, to) in [(&client, &server), (&server, &client)] {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                continue;
            };
            let (paused, stop) = (paused.clone(), stop.clone());
            thread::spawn(move || pump(from, to, paused, stop));
        }
    }
}

/// Copies `from` → `to`, holding each chunk while the link is paused.
fn pump(mut from: TcpStream, mut to: TcpStream, paused: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while paused.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        if stop.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
