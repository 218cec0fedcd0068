//! Child processes that cannot outlive the test binary.
//!
//! Every server of the environment runs under a [`Supervisor`]: a temporary
//! folder for its files and logs, and a small `sh` reaper process whose
//! standard input is a pipe from the test process. The reaper learns each
//! child's pid through that pipe; when the pipe closes — because the owner was
//! dropped, or because the test process ended in any way, panics and
//! `SIGKILL` included — it stops the children (TERM, then KILL), runs the
//! folder's `cleanup.sh` if there is one (the node's: mounts, cgroups,
//! rules), and deletes the folder (never crossing into a mount). Shared environments live in statics, which Rust never drops, so
//! this is what cleans them up when the test binary exits.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result, io};

const REAPER: &str = r#"
dir=$1; pids=""
echo started
exec >/dev/null
while read -r pid; do pids="$pids $pid"; done
for p in $pids; do kill -TERM "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
i=0
while [ $i -lt 20 ]; do
  alive=""
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
  [ -z "$alive" ] && break
  sleep 0.1; i=$((i + 1))
done
for p in $pids; do kill -KILL "$p" 2>/dev/null; done
[ -f "$dir/cleanup.sh" ] && sh "$dir/cleanup.sh"
[ -n "$FLUX_TESTENV_KEEP" ] || rm -rf --one-file-system "$dir"
"#;

/// The folder holding the binaries installed by `scripts/install-deps.sh`:
/// `$FLUX_TESTENV_BIN_DIR`, else `$FLUX_RS_CACHE/bin`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/bin`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLUX_TESTENV_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(cache) = std::env::var_os("FLUX_RS_CACHE") {
        return PathBuf::from(cache).join("bin");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("flux-rs").join("bin")
}

/// The path of an installed tool (`kube-apiserver`, `helm`, `sops`, ...),
/// or an error telling how to install it.
pub fn tool(name: &str) -> Result<PathBuf> {
    let path = bin_dir().join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            name: name.to_string(),
            path,
        })
    }
}

/// Creates a fresh, uniquely named folder under the system temp folder.
pub(crate) fn unique_dir(prefix: &str) -> Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "flux-testenv-{prefix}-{}-{n}-{nanos:x}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    Ok(dir)
}

/// A temporary folder plus the processes that use it; see the module docs.
#[derive(Debug)]
pub(crate) struct Supervisor {
    dir: PathBuf,
    reaper: Child,
    reaper_stdin: Option<ChildStdin>,
    children: Vec<(String, Child)>,
}

impl Supervisor {
    /// A new supervisor with its own temporary folder.
    pub(crate) fn new(prefix: &str) -> Result<Self> {
        Self::start(prefix, None)
    }

    /// A supervisor whose reaper holds an exclusive `flock` on `lock` from
    /// before this returns until its cleanup is done: the next holder never
    /// overlaps with the previous one's stop and `cleanup.sh`, even when the
    /// test process that owned it is gone. Waits for the lock.
    pub(crate) fn new_locked(prefix: &str, lock: &Path) -> Result<Self> {
        Self::start(prefix, Some(lock))
    }

    fn start(prefix: &str, lock: Option<&Path>) -> Result<Self> {
        let dir = unique_dir(prefix)?;
        let mut command = match lock {
            Some(lock) => {
                let mut c = Command::new("flock");
                c.arg(lock).arg("sh");
                c
            }
            None => Command::new("sh"),
        };
        let mut reaper = command
            .arg("-c")
            .arg(REAPER)
            .arg("flux-testenv-reaper")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("starting the reaper (sh)"))?;
        let reaper_stdin = reaper.stdin.take();
        // The reaper says it started (with the lock, if asked) before
        // anything else; nothing follows, so the pipe can go.
        if let Some(stdout) = reaper.stdout.take() {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .map_err(io("waiting for the reaper"))?;
            if line.trim() != "started" {
                return Err(Error::Start {
                    component: "reaper".to_string(),
                    reason: format!("it did not start (locking {lock:?})"),
                    log_tail: String::new(),
                });
            }
        }
        Ok(Self {
            dir,
            reaper,
            reaper_stdin,
            children: Vec::new(),
        })
    }

    /// The temporary folder, removed when the supervisor goes.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file of component `name`.
    pub(crate) fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Starts `command` as component `name`, its stdout and stderr going to
    /// `<dir>/<name>.log`.
    pub(crate) fn spawn(&mut self, name: &str, mut command: Command) -> Result<()> {
        let log = File::create(self.log_path(name)).map_err(io(format!("creating {name}.log")))?;
        let log2 = log.try_clone().map_err(io(format!("opening {name}.log")))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Error::Start {
                component: name.to_string(),
                reason: format!("spawning {:?}: {e}", command.get_program()),
                log_tail: String::new(),
            })?;
        if let Some(stdin) = self.reaper_stdin.as_mut() {
            writeln!(stdin, "{}", child.id()).map_err(io("registering a child with the reaper"))?;
        }
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// The last `lines` lines of component `name`'s log.
    pub(crate) fn log_tail(&self, name: &str, lines: usize) -> String {
        let text = fs::read_to_string(self.log_path(name)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A start error for component `name`, with the tail of its log.
    pub(crate) fn start_error(&self, name: &str, reason: impl Into<String>) -> Error {
        Error::Start {
            component: name.to_string(),
            reason: reason.into(),
            log_tail: self.log_tail(name, 40),
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to component `name` with `kill`.
    pub(crate) fn signal(&self, name: &str, signal: &str) -> Result<()> {
        let Some((_, child)) = self.children.iter().find(|(n, _)| n == name) else {
            return Err(self.start_error(name, "no such component"));
        };
        run(Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string()))
        .map(|_| ())
    }

    /// Fails when component `name` has exited.
    pub(crate) fn check_running(&mut self, name: &str) -> Result<()> {
        let status = self
            .children
            .iter_mut()
            .find(|(n, _)| n == name)
            .and_then(|(_, child)| child.try_wait().ok().flatten());
        match status {
            Some(status) => Err(self.start_error(name, format!("exited early with {status}"))),
            None => Ok(()),
        }
    }

    /// Polls `ready` every 50 ms until it returns true, failing if component
    /// `name` exits or `timeout` passes.
    pub(crate) fn wait_until(
        &mut self,
        name: &str,
        timeout: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            if ready(self) {
                return Ok(());
            }
            self.check_running(name)?;
            if start.elapsed() > timeout {
                return Err(
                    self.start_error(name, format!("not ready after {}s", timeout.as_secs()))
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until component `name` has written a port number into `file`
    /// (the servers of this crate bind port 0 and report the port this way).
    pub(crate) fn wait_for_port_file(&mut self, name: &str, file: &Path) -> Result<u16> {
        let mut port = 0;
        self.wait_until(name, Duration::from_secs(30), |_| {
            port = fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            port != 0
        })?;
        Ok(port)
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // EOF on the reaper's stdin: it stops the children and removes the folder.
        drop(self.reaper_stdin.take());
        for (_, child) in &mut self.children {
            let _ = child.wait();
        }
        let _ = self.reaper.wait();
    }
}

/// A free TCP port on 127.0.0.1 (for servers that cannot bind port 0).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port();
    Ok(port)
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn port_open(port: u16) -> bool {
    port_open_on("127.0.0.1", port)
}

/// True when something accepts TCP connections on `host`:`port`.
pub(crate) fn port_open_on(host: &str, port: u16) -> bool {
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return false;
    };
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::new(ip, port),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Runs `command` to completion and returns its stdout, or an error with its stderr.
pub fn run(command: &mut Command) -> Result<String> {
    let line = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {line}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            command: line,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs the installed tool `name` with `args`, writes `lines` to its stdin
/// one per line, and returns its stdout lines: the shape of every
/// differential oracle (`tools/*-oracle`).
pub fn oracle_lines(name: &str, args: &[&str], lines: &[String]) -> Result<Vec<String>> {
    let mut command = Command::new(tool(name)?);
    command.args(args);
    let line = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(format!("running {line}")))?;
    // Written from a thread while the output is read: an oracle answers
    // as it reads, and a full stdout pipe would otherwise stop both sides.
    let writer = child.stdin.take().map(|mut stdin| {
        let input: Vec<String> = lines.to_vec();
        std::thread::spawn(move || -> std::io::Result<()> {
            for l in &input {
                writeln!(stdin, "{l}")?;
            }
            Ok(())
        })
    });
    let out = child
        .wait_with_output()
        .map_err(io(format!("running {line}")))?;
    if let Some(writer) = writer {
        match writer.join() {
            Ok(written) => written.map_err(io(format!("writing to {line}")))?,
            Err(_) => {
                return Err(Error::Command {
                    command: line,
                    status: "the writing thread panicked".to_string(),
                    stderr: String::new(),
                });
            }
        }
    }
    if !out.status.success() {
        return Err(Error::Command {
            command: line,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect())
}

/// The files below `dir` with their contents, by relative path (`/`
/// separated), sorted: a fixture folder to push to a Git server.
pub fn files_under(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).map_err(io("reading a fixture folder"))? {
            let path = entry.map_err(io("reading a fixture folder"))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let relative = relative.to_string_lossy().into_owned();
                let data = std::fs::read(&path).map_err(io("reading a fixture file"))?;
                files.push((relative, data));
            }
        }
    }
    files.sort();
    Ok(files)
}
